package io.sqliteos.fuse;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Raises the kernel's readahead for the mount. With the default 128 KiB
 * window a sequential reader sends one 128 KiB request at a time, although a
 * request may carry 1 MiB (worker_pool.c). A 2 MiB window sends 1 MiB
 * requests, two in flight, which the daemon's threads serve in parallel. The
 * window is a property of the mount's backing device in sysfs, which exists
 * once the kernel has the mount, so it is set from a thread that waits for
 * the mount to appear (only root may write it). The kernel lowers it again to
 * what the INIT exchange allows when that completes, which may be after the
 * mount appears: the thread watches it for a second after its last write.
 */
final class Readahead {

    private static final Logger log = LoggerFactory.getLogger(Readahead.class);
    static final int KIB = 2048;
    /** How long the window must keep its value before the thread leaves it. */
    private static final long SETTLE_MILLIS = 1_000;
    private static final long WAIT_MILLIS = 30_000;

    private Readahead() {}

    /** Also tells {@code connection} the mount's device number once the mount appears. */
    static void raiseOnceMounted(Path mountPoint, KernelConnection connection) {
        Thread t = new Thread(() -> raise(mountPoint.toAbsolutePath().normalize().toString(), connection),
                "sqliteos-readahead");
        t.setDaemon(true);
        t.start();
    }

    private static void raise(String mountPoint, KernelConnection connection) {
        long deadline = System.currentTimeMillis() + WAIT_MILLIS;
        try {
            String device = KernelConnection.awaitDevice(mountPoint, deadline);
            if (device == null) {
                return;
            }
            connection.found(device);
            Path setting = Path.of("/sys/class/bdi", device, "read_ahead_kb");
            long settled = 0; // when the window will have kept its value long enough
            while (System.currentTimeMillis() < deadline) {
                if (!Files.readString(setting).trim().equals(Integer.toString(KIB))) {
                    Files.writeString(setting, Integer.toString(KIB));
                    settled = System.currentTimeMillis() + SETTLE_MILLIS;
                } else if (System.currentTimeMillis() >= settled) {
                    log.info("readahead of {} raised to {} KiB", mountPoint, KIB);
                    return;
                }
                Thread.sleep(20); // the INIT exchange may still lower the window
            }
        } catch (IOException e) {
            log.debug("readahead left at the kernel's default: {}", e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
