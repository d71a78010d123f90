package io.sqliteos.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

/** Facts about mount points, read from /proc/self/mountinfo. */
final class MountPoints {

    private MountPoints() {}

    /** True when a file system is mounted exactly at {@code dir}. */
    static boolean isMounted(Path dir) {
        String target = dir.toAbsolutePath().normalize().toString();
        try {
            List<String> lines = Files.readAllLines(Path.of("/proc/self/mountinfo"));
            for (String line : lines) {
                String[] f = line.split(" ");
                if (f.length > 4 && unescape(f[4]).equals(target)) {
                    return true;
                }
            }
        } catch (IOException e) {
            return false;
        }
        return false;
    }

    /** True when {@code path} lies inside a SQLiteOS mount (the innermost mount containing it). */
    static boolean insideSqliteos(Path path) {
        return sqliteosMountOf(path) != null;
    }

    /** The SQLiteOS mount point that holds {@code path}, or null. */
    static Path sqliteosMountOf(Path path) {
        String target = path.toAbsolutePath().normalize().toString();
        String best = null;
        String bestType = null;
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/mountinfo"))) {
                String[] f = line.split(" ");
                int dash = java.util.Arrays.asList(f).indexOf("-");
                if (f.length < 5 || dash < 0 || dash + 1 >= f.length) {
                    continue;
                }
                String mountPoint = unescape(f[4]);
                boolean contains = target.equals(mountPoint) || mountPoint.equals("/")
                        || target.startsWith(mountPoint + "/");
                if (contains && (best == null || mountPoint.length() >= best.length())) {
                    best = mountPoint;
                    bestType = f[dash + 1];
                }
            }
        } catch (IOException e) {
            return null;
        }
        return "fuse.sqliteos".equals(bestType) ? Path.of(best) : null;
    }

    private static String unescape(String s) {
        return s.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n").replace("\\134", "\\");
    }

    /** Why {@code dir} cannot be a mount point, or null when it can. */
    static String problem(Path dir, boolean allowNonEmpty) {
        if (!Files.exists(dir)) {
            return "mount point " + dir + " does not exist (create it with: mkdir -p " + dir + ")";
        }
        if (!Files.isDirectory(dir)) {
            return "mount point " + dir + " is not a directory";
        }
        if (isMounted(dir)) {
            return "something is already mounted on " + dir;
        }
        if (!allowNonEmpty) {
            try (Stream<Path> entries = Files.list(dir)) {
                if (entries.findAny().isPresent()) {
                    return "mount point " + dir + " is not empty (pass -o nonempty to mount over it anyway)";
                }
            } catch (IOException e) {
                return "cannot read mount point " + dir + ": " + e.getMessage();
            }
        }
        return null;
    }
}
