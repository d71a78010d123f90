package io.sqliteos.db;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** What the kernel says about the machine's memory ({@code /proc/meminfo}). */
final class MemoryInfo {

    private static final Path MEMINFO = Path.of("/proc/meminfo");
    /** Memory is low when less than an eighth of it is available, and always when less than this much is. */
    private static final long LOW_BYTES = 256L << 20;

    private MemoryInfo() {
    }

    /**
     * Whether the machine is low on memory: less than an eighth of it, or less
     * than 256 MiB, available without swapping. False if the kernel does not say.
     */
    static boolean low() {
        try {
            String info = Files.readString(MEMINFO);
            long total = kibibytes(info, "MemTotal:");
            long available = kibibytes(info, "MemAvailable:");
            if (total < 0 || available < 0) {
                return false;
            }
            return available << 10 < Math.max(LOW_BYTES, (total << 10) / 8);
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }

    /** The figure on the line starting with {@code key} (in KiB), or -1. */
    private static long kibibytes(String meminfo, String key) {
        for (String line : meminfo.split("\n")) {
            if (line.startsWith(key)) {
                String[] parts = line.substring(key.length()).trim().split("\\s+");
                return Long.parseLong(parts[0]);
            }
        }
        return -1;
    }
}
