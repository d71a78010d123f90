package io.sqliteos.cli;

import io.sqliteos.db.Database;
import io.sqliteos.fs.FileSystem;
import io.sqliteos.fuse.FuseMount;
import io.sqliteos.tx.SessionRouter;
import io.sqliteos.tx.TransactionAttributes;
import io.sqliteos.tx.TransactionManager;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import jnr.posix.POSIXFactory;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** One mounted file system: database, semantics and FUSE, from start to clean stop. */
final class Daemon {

    private static final Logger log = LoggerFactory.getLogger(Daemon.class);

    private final Path mountPoint;
    private final Path dbFile;
    private final long sizeBytes;
    private final List<String> fuseOptions;
    private final long busyTimeoutMs;
    private final boolean debug;

    Daemon(Path mountPoint, Path dbFile, long sizeBytes, List<String> fuseOptions, long busyTimeoutMs, boolean debug) {
        this.mountPoint = mountPoint;
        this.dbFile = dbFile;
        this.sizeBytes = sizeBytes;
        this.fuseOptions = fuseOptions;
        this.busyTimeoutMs = busyTimeoutMs;
        this.debug = debug;
    }

    int run() {
        Database database;
        try {
            database = dbFile == null ? Database.openEphemeral(busyTimeoutMs) : Database.open(dbFile, busyTimeoutMs);
        } catch (RuntimeException e) {
            System.err.println("sqliteos: cannot open the database" + (dbFile == null ? "" : " " + dbFile) + ": " + e.getMessage());
            return 1;
        }
        CountDownLatch stopped = new CountDownLatch(1);
        Thread unmountOnSignal = new Thread(() -> {
            // SIGINT/SIGTERM: detach the mount so the FUSE loop ends, then let it finish.
            if (stopped.getCount() > 0) {
                log.info("signal received: unmounting {}", mountPoint);
                unmount();
                try {
                    stopped.await(10, TimeUnit.SECONDS);
                } catch (InterruptedException ignored) {
                    Thread.currentThread().interrupt();
                }
            }
        }, "sqliteos-shutdown");
        Runtime.getRuntime().addShutdownHook(unmountOnSignal);
        TransactionManager transactions = new TransactionManager(database, 200);
        try {
            var posix = POSIXFactory.getPOSIX();
            FileSystem fs = new FileSystem(new SessionRouter(database, transactions), sizeBytes);
            fs.initialize(posix.getuid(), posix.getgid());
            TransactionAttributes.register(fs, transactions);
            transactions.addListener((id, committed) -> fs.collectOrphans());
            log.info("mounting {} on {} (budget {} bytes, options {})",
                    database.isEphemeral() ? "in-memory file system" : database.file(), mountPoint, sizeBytes,
                    FuseMount.options(fuseOptions));
            FuseMount.mountBlocking(fs, mountPoint, fuseOptions, debug);
            log.info("unmounted {}", mountPoint);
            return 0;
        } catch (RuntimeException e) {
            log.error("the file system stopped with an error", e);
            System.err.println("sqliteos: " + e.getMessage());
            return 1;
        } finally {
            transactions.close();
            database.close();
            stopped.countDown();
        }
    }

    private void unmount() {
        try {
            new ProcessBuilder("fusermount", "-u", "-z", mountPoint.toString()).inheritIO().start().waitFor(5, TimeUnit.SECONDS);
        } catch (Exception e) {
            log.warn("fusermount failed: {}", e.getMessage());
        }
    }
}
