package io.sqliteos.cli;

import com.sun.security.auth.module.UnixSystem;
import io.sqliteos.db.Database;
import io.sqliteos.db.IntegrityCheck;
import io.sqliteos.fs.BlockLayout;
import io.sqliteos.fs.FileSystem;
import io.sqliteos.fuse.FuseMount;
import io.sqliteos.ipc.IpcServer;
import io.sqliteos.ipc.IpcService;
import io.sqliteos.ipc.SocketPath;
import io.sqliteos.tx.ProcessSessions;
import io.sqliteos.tx.SessionRouter;
import io.sqliteos.tx.TransactionAttributes;
import io.sqliteos.tx.TransactionManager;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** One mounted file system: database, semantics and FUSE, from start to clean stop. */
final class Daemon {

    private static final Logger log = LoggerFactory.getLogger(Daemon.class);
    /** How long a signalled daemon waits for the users of its detached mount to let go. */
    private static final int IN_USE_GRACE_SECONDS = 3;

    /**
     * What a daemon serves and how. {@code sqliteos mount} checks it, then either
     * runs the daemon in its own JVM (--foreground) or hands it to a new JVM as
     * system properties ({@link #asSystemProperties}, {@link #main}), which spares
     * that JVM building the command line's model again.
     */
    record Settings(Path mountPoint, Path dbFile, long sizeBytes, List<String> fuseOptions, long busyTimeoutMs,
                    boolean debug, boolean force, Path ipcSocket, Double nameCacheSeconds, double keepFreeSeconds,
                    boolean ioUring, boolean priorityBoost) {

        private static final String PREFIX = "sqliteos.daemon.";

        /** -D options that {@link #fromSystemProperties} reads back. */
        List<String> asSystemProperties() {
            List<String> p = new ArrayList<>();
            p.add("-D" + PREFIX + "size=" + sizeBytes);
            p.add("-D" + PREFIX + "busyTimeoutMs=" + busyTimeoutMs);
            p.add("-D" + PREFIX + "fuseOptions=" + String.join(",", fuseOptions));
            p.add("-D" + PREFIX + "debug=" + debug);
            p.add("-D" + PREFIX + "force=" + force);
            p.add("-D" + PREFIX + "keepFree=" + keepFreeSeconds);
            p.add("-D" + PREFIX + "ioUring=" + ioUring);
            p.add("-D" + PREFIX + "priorityBoost=" + priorityBoost);
            if (dbFile != null) {
                p.add("-D" + PREFIX + "db=" + dbFile.toAbsolutePath());
            }
            if (ipcSocket != null) {
                p.add("-D" + PREFIX + "ipcSocket=" + ipcSocket.toAbsolutePath());
            }
            if (nameCacheSeconds != null) {
                p.add("-D" + PREFIX + "nameCache=" + nameCacheSeconds);
            }
            return p;
        }

        static Settings fromSystemProperties(Path mountPoint) {
            String db = System.getProperty(PREFIX + "db");
            String socket = System.getProperty(PREFIX + "ipcSocket");
            String nameCache = System.getProperty(PREFIX + "nameCache");
            String fuse = System.getProperty(PREFIX + "fuseOptions", "");
            return new Settings(mountPoint, db == null ? null : Path.of(db),
                    Long.parseLong(System.getProperty(PREFIX + "size")),
                    fuse.isEmpty() ? List.of() : List.of(fuse.split(",")),
                    Long.parseLong(System.getProperty(PREFIX + "busyTimeoutMs")),
                    Boolean.getBoolean(PREFIX + "debug"), Boolean.getBoolean(PREFIX + "force"),
                    socket == null ? null : Path.of(socket),
                    nameCache == null ? null : Double.valueOf(nameCache),
                    Double.parseDouble(System.getProperty(PREFIX + "keepFree")),
                    Boolean.getBoolean(PREFIX + "ioUring"),
                    Boolean.parseBoolean(System.getProperty(PREFIX + "priorityBoost", "true")));
        }
    }

    /** A background daemon's JVM: {@code Daemon MOUNTPOINT}, with its settings as system properties. */
    public static void main(String[] args) {
        System.exit(new Daemon(Settings.fromSystemProperties(Path.of(args[0]))).run());
    }

    private final Settings settings;

    Daemon(Settings settings) {
        this.settings = settings;
    }

    int run() {
        // jnr needs longer to bind libfuse than the database needs to open: do both at once
        FuseMount.Binding fuse = FuseMount.bindInBackground(settings.nameCacheSeconds());
        // a database that already holds a file system must pass fsck; a new one is created empty
        Path dbFile = settings.dbFile(); // null: in memory
        boolean existing = dbFile != null && dbFile.toFile().length() > 0;
        if (dbFile != null) {
            String problem = unwritable(dbFile.toAbsolutePath());
            if (problem != null) {
                System.err.println("sqliteos: cannot open the database " + dbFile + ": " + problem);
                return 1;
            }
        }
        Database database;
        try {
            long busyTimeoutMs = settings.busyTimeoutMs();
            Duration keepFree = Duration.ofNanos((long) (settings.keepFreeSeconds() * 1e9));
            database = dbFile == null ? Database.openEphemeral(busyTimeoutMs, keepFree)
                    : Database.open(dbFile, busyTimeoutMs, keepFree);
        } catch (RuntimeException e) {
            System.err.println("sqliteos: cannot open the database" + (dbFile == null ? "" : " " + dbFile) + ": " + e.getMessage());
            return 1;
        }
        if (existing && !consistent(database)) {
            database.close();
            return 1;
        }
        CountDownLatch stopped = new CountDownLatch(1);
        Thread unmountOnSignal = new Thread(() -> {
            // SIGINT/SIGTERM: detach the mount so the FUSE loop ends, then let it finish.
            if (stopped.getCount() > 0) {
                log.info("signal received: unmounting {}", settings.mountPoint());
                unmount();
                try {
                    if (!stopped.await(IN_USE_GRACE_SECONDS, TimeUnit.SECONDS)) {
                        // The kernel keeps a detached mount served while anything holds a file or
                        // mapping of it; end the connection so the database closes cleanly.
                        log.warn("{} is still in use {} s after the signal (open files or memory mappings):"
                                + " ending its FUSE connection; their users get ENOTCONN",
                                settings.mountPoint(), IN_USE_GRACE_SECONDS);
                        if (!fuse.abortConnection()) {
                            // exiting now would skip closing the database: keep serving instead
                            log.warn("the daemon serves until the last user of {} lets go", settings.mountPoint());
                            stopped.await();
                        }
                    }
                    stopped.await(10, TimeUnit.SECONDS);
                } catch (InterruptedException ignored) {
                    Thread.currentThread().interrupt();
                }
            }
        }, "sqliteos-shutdown");
        Runtime.getRuntime().addShutdownHook(unmountOnSignal);
        TransactionManager transactions = new TransactionManager(database, 200);
        IpcServer ipc = null;
        var warmup = new java.util.concurrent.atomic.AtomicReference<JitWarmup>();
        try {
            var user = new UnixSystem();
            int uid = (int) user.getUid();
            FileSystem fs = new FileSystem(new SessionRouter(database, transactions), settings.sizeBytes());
            fs.initialize(uid, (int) user.getGid());
            TransactionAttributes.register(fs, transactions);
            fs.registerVirtualAttribute(FileSystem.VIRTUAL_PREFIX + "snapshot",
                    new SnapshotAttribute(database, uid, settings.mountPoint()));
            fs.registerVirtualAttribute(FileSystem.VIRTUAL_PREFIX + "database",
                    new DatabaseLocationAttribute(database, uid));
            transactions.addListener((id, committed) -> fs.collectOrphans());
            transactions.setCacheFence(fuse.cacheFence());
            ipc = IpcServer.start(new IpcService(new ProcessSessions(database, transactions), uid),
                    settings.ipcSocket() != null ? settings.ipcSocket() : SocketPath.forMount(settings.mountPoint()),
                    "rw-------");
            log.info("IPC socket: {}", ipc.socket());
            log.info("mounting {} on {} (budget {} bytes, options {})",
                    database.isEphemeral() ? "in-memory file system" : database.file(), settings.mountPoint(),
                    settings.sizeBytes(), FuseMount.options(settings.fuseOptions()));
            // the warm-up starts once the kernel talks to us, not to compete with the mount for the CPU
            fuse.mountBlocking(fs, settings.mountPoint(), settings.fuseOptions(), settings.debug(), settings.ioUring(),
                    settings.priorityBoost(),
                    () -> warmup.set(JitWarmup.startInBackground(fuse::requests)));
            log.info("unmounted {}", settings.mountPoint());
            return 0;
        } catch (RuntimeException e) {
            log.error("the file system stopped with an error", e);
            System.err.println("sqliteos: " + e.getMessage());
            return 1;
        } catch (java.io.IOException e) {
            log.error("cannot start the IPC service: {}", e.getMessage());
            System.err.println("sqliteos: cannot start the IPC service: " + e.getMessage());
            return 1;
        } finally {
            stopWarmup(warmup.get());
            if (ipc != null) {
                ipc.close();
            }
            transactions.close();
            database.close();
            stopped.countDown();
        }
    }

    private static void stopWarmup(JitWarmup warmup) {
        if (warmup == null) {
            return;
        }
        try {
            warmup.stop();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Why SQLiteOS could not write the database and the log files beside it, or null. */
    private static String unwritable(Path file) {
        Path dir = file.getParent();
        if (java.nio.file.Files.exists(file) && !java.nio.file.Files.isWritable(file)) {
            return "the file is readonly (SQLiteOS writes to it; copy it somewhere writable, or snapshot it)";
        }
        if (dir == null || !java.nio.file.Files.isWritable(dir)) {
            return "its directory " + dir + " is readonly (SQLiteOS keeps its -wal and -shm files beside the database)";
        }
        return null;
    }

    /** A durable database must pass fsck before it is mounted, unless --force says otherwise. */
    private boolean consistent(Database database) {
        List<IntegrityCheck.Problem> problems;
        try {
            problems = database.check(BlockLayout.BLOCK_SIZE);
        } catch (RuntimeException e) {
            System.err.println("sqliteos: cannot check " + settings.dbFile() + ": " + e.getMessage());
            return settings.force();
        }
        if (problems.isEmpty()) {
            return true;
        }
        for (IntegrityCheck.Problem p : problems) {
            log.error("fsck: {}", p);
        }
        String verdict = problems.size() + " problem(s) in " + settings.dbFile() + ", first: " + problems.get(0);
        if (settings.force()) {
            log.warn("mounting anyway (--force): {}", verdict);
            return true;
        }
        System.err.println("sqliteos: refusing to mount: " + verdict
                + "\nsqliteos: run 'sqliteos fsck " + settings.dbFile() + "' (and --repair), or mount with --force");
        return false;
    }

    private void unmount() {
        try {
            new ProcessBuilder("fusermount", "-u", "-z", settings.mountPoint().toString()).inheritIO().start()
                    .waitFor(5, TimeUnit.SECONDS);
        } catch (Exception e) {
            log.warn("fusermount failed: {}", e.getMessage());
        }
    }
}
