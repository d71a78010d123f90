package io.sqliteos.fuse;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The kernel's side of one mount, named by the mount's device number. A lazy
 * unmount only detaches the mount point: the kernel keeps the connection, and
 * so keeps the daemon serving, while any process still holds a file or a
 * memory mapping of it. To stop anyway the daemon aborts the connection
 * through fusectl, as {@code umount -f} would: those processes then get
 * ENOTCONN, and the daemon's loop ends so that it can close its database.
 */
final class KernelConnection {

    private static final Logger log = LoggerFactory.getLogger(KernelConnection.class);
    private static final Path FUSECTL = Path.of("/sys/fs/fuse/connections");

    /** major:minor, known once the mount has appeared. */
    private volatile String device;

    void found(String device) {
        this.device = device;
    }

    /**
     * Aborts the connection: the kernel fails every pending and later request of
     * the mount. False (with the reason logged) if the mount was never seen or
     * fusectl cannot be reached (it needs root).
     */
    boolean abort() {
        String dev = device;
        if (dev == null) {
            log.warn("cannot abort the FUSE connection: its device number was never found");
            return false;
        }
        Path abort = FUSECTL.resolve(dev.substring(dev.indexOf(':') + 1)).resolve("abort");
        try {
            if (!Files.exists(abort)) {
                mountFusectl();
            }
            Files.writeString(abort, "1");
            log.info("aborted FUSE connection {}", dev);
            return true;
        } catch (IOException e) {
            log.warn("cannot abort the FUSE connection {} through {}: {}", dev, abort, e.toString());
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    /** fusectl is mounted at boot on most systems, but not in every container. */
    private static void mountFusectl() throws IOException, InterruptedException {
        Process p = new ProcessBuilder("mount", "-t", "fusectl", "fusectl", FUSECTL.toString())
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes()).trim();
        if (!p.waitFor(5, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new IOException("mount -t fusectl failed: " + out);
        }
        log.info("mounted fusectl on {}", FUSECTL);
    }

    /**
     * Waits for the FUSE mount at {@code mountPoint} to appear, which happens
     * while the daemon already serves it, looking every 20 ms: its major:minor,
     * or null if it has not appeared by {@code deadlineMillis} (currentTimeMillis).
     */
    static String awaitDevice(String mountPoint, long deadlineMillis) throws IOException, InterruptedException {
        String device = deviceOf(mountPoint);
        while (device == null && System.currentTimeMillis() < deadlineMillis) {
            Thread.sleep(20);
            device = deviceOf(mountPoint);
        }
        return device;
    }

    /** The major:minor of the FUSE mount at {@code mountPoint} (/proc/self/mountinfo), or null. */
    static String deviceOf(String mountPoint) throws IOException {
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
