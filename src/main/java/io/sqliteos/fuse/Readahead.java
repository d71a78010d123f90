package io.sqliteos.fuse;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Raises the kernel's readahead for the mount. FUSE requests carry at most
 * 128 KiB (libfuse 2 cannot negotiate more), and with the default 128 KiB
 * window a sequential reader has one request in flight at a time. A wider
 * window keeps several reads in flight, which the daemon's threads serve in
 * parallel. The window is a property of the mount's backing device in sysfs,
 * which exists once the kernel has the mount, so it is set from a thread that
 * waits for the mount to appear (only root may write it).
 */
final class Readahead {

    private static final Logger log = LoggerFactory.getLogger(Readahead.class);
    static final int KIB = 512;
    private static final long WAIT_MILLIS = 30_000;

    private Readahead() {}

    static void raiseOnceMounted(Path mountPoint) {
        Thread t = new Thread(() -> raise(mountPoint.toAbsolutePath().normalize().toString()), "sqliteos-readahead");
        t.setDaemon(true);
        t.start();
    }

    private static void raise(String mountPoint) {
        long deadline = System.currentTimeMillis() + WAIT_MILLIS;
        try {
            while (System.currentTimeMillis() < deadline) {
                String device = deviceOf(mountPoint);
                if (device != null) {
                    Path setting = Path.of("/sys/class/bdi", device, "read_ahead_kb");
                    Files.writeString(setting, Integer.toString(KIB));
                    log.info("readahead of {} raised to {} KiB", mountPoint, KIB);
                    return;
                }
                Thread.sleep(20); // the mount is being set up
            }
        } catch (IOException e) {
            log.debug("readahead left at the kernel's default: {}", e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** The major:minor of the FUSE mount at {@code mountPoint} (/proc/self/mountinfo), or null. */
    private static String deviceOf(String mountPoint) throws IOException {
        List<String> lines = Files.readAllLines(Path.of("/proc/self/mountinfo"));
        for (String line : lines) {
            String[] f = line.split(" ");
            // 36 35 0:39 / /mnt/x rw,... - fuse.sqliteos sqliteos rw,...
            if (f.length > 4 && f[4].equals(mountPoint.replace(" ", "\\040")) && line.contains(" - fuse")) {
                return f[2];
            }
        }
        return null;
    }
}
