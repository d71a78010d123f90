package io.sqliteos.cli;

import io.sqliteos.db.Database;
import io.sqliteos.fs.Caller;
import io.sqliteos.fs.FileSystem;
import io.sqliteos.fs.FsException;
import io.sqliteos.fuse.DirectoryFill;
import io.sqliteos.fuse.RequestRehearsal;
import io.sqliteos.tx.SessionRouter;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs the file system's common requests a few thousand times on a scratch
 * database of its own, on a background thread once the mount is up, so
 * that the JIT has compiled them before the first clients arrive. The
 * requests take the path a kernel's do, through libfuse, jnr and the adapter
 * ({@link RequestRehearsal}); without the native library that makes this
 * possible, they are calls of the file system alone. Otherwise a
 * new mount serves its first ten thousand requests or so (an untar, a clone)
 * at half speed, mostly interpreted. The mount's own database is never
 * touched; a failure here only means a colder start. Once clients keep the
 * mount busy it stops early: their own requests compile the paths they take,
 * and the warm-up would only compete with them for the CPU.
 */
final class JitWarmup {

    private static final Logger log = LoggerFactory.getLogger(JitWarmup.class);
    /** Rounds of requests: enough for the JIT to compile the paths before an untar or a clone needs them. */
    private static final int ROUNDS = 3000;
    /**
     * Listings of a directory of many entries: often enough for the JIT's
     * final tier, and of names long enough to fill the buffer that passes them
     * on to libfuse.
     */
    private static final int LISTINGS = 1000;
    private static final int LISTED_ENTRIES = 250;
    private static final int O_WRONLY = 01;
    private static final int O_CREAT = 0100;

    private final Thread thread;
    private volatile boolean stopping;

    private JitWarmup(LongSupplier requests) {
        thread = new Thread(() -> run(requests), "sqliteos-warmup");
        thread.setDaemon(true);
    }

    /**
     * Starts the warm-up on a daemon thread and returns it, unless
     * {@code -Dsqliteos.warmup=false} (then null). {@code requests}: how many
     * requests the mount has served so far.
     */
    static JitWarmup startInBackground(LongSupplier requests) {
        if (!Boolean.parseBoolean(System.getProperty("sqliteos.warmup", "true"))) {
            return null;
        }
        JitWarmup warmup = new JitWarmup(requests);
        warmup.thread.start();
        return warmup;
    }

    /**
     * Stops the warm-up at its next round and waits (seconds at most) until its
     * scratch database is closed: the JVM does not wait for a daemon thread, and
     * would leave the database's directory in RAM behind.
     */
    void stop() throws InterruptedException {
        stopping = true;
        thread.join(TimeUnit.SECONDS.toMillis(10));
    }

    private void run(LongSupplier requests) {
        long start = System.nanoTime();
        int rounds;
        boolean rehearsed;
        try (Database scratch = Database.openEphemeral(5_000)) {
            SessionRouter router = new SessionRouter(scratch);
            try {
                FileSystem fs = new FileSystem(router, 64L << 20);
                fs.initialize(0, 0);
                BusyMount mount = new BusyMount(requests, () -> stopping);
                try (RequestRehearsal rehearsal = RequestRehearsal.start(fs)) {
                    rehearsed = rehearsal != null;
                    rounds = rehearsed ? rehearse(rehearsal, mount) : exercise(fs, mount);
                }
            } finally {
                router.transactions().close();
            }
        } catch (RuntimeException e) {
            log.warn("warm-up stopped: {}", e.toString());
            return;
        }
        // only now: the scratch database and its directory are gone
        log.info("warm-up: {} rounds of common requests {} in {} ms{}", rounds,
                rehearsed ? "through libfuse" : "to the file system",
                TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start),
                rounds >= ROUNDS ? "" : stopping ? ", stopped: the mount ended" : ", stopped early: clients keep the mount busy");
    }

    /**
     * Whether clients keep the mount busy, judged every 20 ms by the requests it
     * served meanwhile; a mount that has ended counts as busy at once.
     */
    private static final class BusyMount {
        private static final long CHECK_NANOS = TimeUnit.MILLISECONDS.toNanos(20);
        private static final long BUSY_REQUESTS = 50; // that many in 20 ms: a client at work, not a glance

        private final LongSupplier requests;
        private long seen;
        private long nextCheck = System.nanoTime() + CHECK_NANOS;

        private final BooleanSupplier ended;

        BusyMount(LongSupplier requests, BooleanSupplier ended) {
            this.requests = requests;
            this.ended = ended;
            this.seen = requests.getAsLong();
        }

        boolean busy() {
            if (ended.getAsBoolean()) {
                return true;
            }
            long now = System.nanoTime();
            if (now < nextCheck) {
                return false;
            }
            nextCheck = now + CHECK_NANOS;
            long served = requests.getAsLong();
            boolean busy = served - seen >= BUSY_REQUESTS;
            seen = served;
            return busy;
        }
    }

    /**
     * Rehearses the rounds through libfuse until done or until the mount is
     * busy; returns how many ran.
     */
    private static int rehearse(RequestRehearsal rehearsal, BusyMount mount) {
        for (int i = 0; i < ROUNDS; i++) {
            if (mount.busy()) {
                return i;
            }
            rehearsal.round(i);
        }
        for (int i = 0; i < LISTINGS; i++) {
            if (mount.busy()) {
                return ROUNDS;
            }
            rehearsal.listing();
        }
        return ROUNDS;
    }

    /**
     * Without the native library to rehearse with: the same rounds as calls of
     * the file system, which leave libfuse, jnr and the adapter cold.
     */
    private static int exercise(FileSystem fs, BusyMount mount) {
        Caller c = Caller.ROOT;
        byte[] data = new byte[3000];
        byte[] buf = new byte[4096];
        fs.mkdir(c, "/d", 0755);
        for (int i = 0; i < ROUNDS; i++) {
            if (mount.busy()) {
                return i;
            }
            String dir = "/d/s" + (i % 50);
            if (i < 50) {
                fs.mkdir(c, dir, 0755);
            }
            String file = dir + "/f" + i;
            missing(fs, c, file);
            long fh = fs.create(c, file, 0644, O_CREAT | O_WRONLY);
            try {
                fs.getxattr(c, file, "security.capability"); // the kernel asks before each write
            } catch (FsException expected) {
                // none
            }
            fs.write(c, fh, data, data.length, 0);
            fs.release(c, fh);
            fs.chmod(c, file, 0640);
            fs.utimens(c, file, 1, 0, 1, 0);
            fs.getattr(c, file);
            fh = fs.open(c, file, 0);
            fs.read(c, fh, buf, buf.length, 0);
            fs.release(c, fh);
            list(fs, c, dir);
            fs.rename(c, file, file + ".r");
            fs.unlink(c, file + ".r");
            fs.mkdir(c, file + ".d", 0755);
            fs.rmdir(c, file + ".d");
        }
        // the directories above stay nearly empty: a listing's loop needs a full one
        String full = "/d/full";
        fs.mkdir(c, full, 0755);
        for (int i = 0; i < LISTED_ENTRIES; i++) {
            fs.mknod(c, full + "/entry-" + i + "-of-a-name-as-long-as-those-of-many-source-files.txt", 0100644, 0);
        }
        for (int i = 0; i < LISTINGS; i++) {
            list(fs, c, full);
        }
        return ROUNDS;
    }

    /** Lists a directory the way a mount does. */
    private static void list(FileSystem fs, Caller c, String dir) {
        long dh = fs.opendir(c, dir);
        fs.readdir(c, dir, dh, 0, DirectoryFill.discarding());
        fs.releasedir(c, dh);
    }

    /** A lookup of a name that is not there, as before every create. */
    private static void missing(FileSystem fs, Caller c, String path) {
        try {
            fs.getattr(c, path);
        } catch (FsException expected) {
            // the common case: a fresh name
        }
    }
}
