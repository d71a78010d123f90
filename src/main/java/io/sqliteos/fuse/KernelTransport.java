package io.sqliteos.fuse;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Says in the log how requests reach the daemon: through io_uring
 * (uring_transport.c), or through /dev/fuse and why. The workers take io_uring
 * right after the INIT exchange, so a thread looks once the mount has appeared.
 */
final class KernelTransport {

    private static final Logger log = LoggerFactory.getLogger(KernelTransport.class);
    static final Path ENABLE_URING = Path.of("/sys/module/fuse/parameters/enable_uring");
    static final Path IO_URING_DISABLED = Path.of("/proc/sys/kernel/io_uring_disabled");
    private static final long WAIT_MILLIS = 30_000;
    private static final long SETTLE_MILLIS = 200;

    private KernelTransport() {}

    static void reportOnceMounted(Path mountPoint, boolean allowed) {
        Thread t = new Thread(() -> report(mountPoint.toAbsolutePath().normalize().toString(), allowed),
                "sqliteos-transport");
        t.setDaemon(true);
        t.start();
    }

    private static void report(String mountPoint, boolean allowed) {
        try {
            if (KernelConnection.awaitDevice(mountPoint, System.currentTimeMillis() + WAIT_MILLIS) == null) {
                return;
            }
            Thread.sleep(SETTLE_MILLIS); // the INIT exchange, then the workers' registration
            if (LibfuseShim.servesThroughIoUring()) {
                log.info("requests to {} come through io_uring", mountPoint);
            } else {
                log.info("requests to {} come through /dev/fuse: {}", mountPoint, whyNotIoUring(allowed));
            }
        } catch (IOException e) {
            log.debug("cannot find the mount of {}: {}", mountPoint, e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static String whyNotIoUring(boolean allowed) {
        if (!allowed) {
            return "io_uring not asked for (--io-uring)";
        }
        if (!Files.exists(ENABLE_URING)) {
            return "this kernel has no FUSE over io_uring (Linux 6.14 and later)";
        }
        try {
            if (!Files.readString(ENABLE_URING).trim().equals("Y")) {
                return "FUSE over io_uring is off; as root: echo Y > " + ENABLE_URING;
            }
            if (Files.exists(IO_URING_DISABLED) && !Files.readString(IO_URING_DISABLED).trim().equals("0")) {
                return "io_uring is refused to this process (" + IO_URING_DISABLED + " is "
                        + Files.readString(IO_URING_DISABLED).trim() + ")";
            }
        } catch (IOException e) {
            return "cannot read the kernel's settings: " + e.getMessage();
        }
        return "the kernel offered io_uring but the workers could not take it (see the daemon's standard error)";
    }
}
