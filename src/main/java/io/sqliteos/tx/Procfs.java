package io.sqliteos.tx;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * What /proc says about a task: its process (thread group), its parent, and its
 * start time, which tells a live owner from a later task that reuses its id.
 */
final class Procfs {

    private Procfs() {}

    /** The fields of /proc/ID/stat after the command name, or null when the task is gone. */
    private static String[] statFields(long id) {
        try {
            String stat = Files.readString(Path.of("/proc", Long.toString(id), "stat"));
            int close = stat.lastIndexOf(')');
            return stat.substring(close + 2).split(" ");
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    /** The parent process id, or 0 when unknown. */
    static long parent(long pid) {
        String[] f = statFields(pid);
        return f == null ? 0 : Long.parseLong(f[1]);
    }

    /** The start time in clock ticks since boot, or -1 when the task is gone. */
    static long startTime(long id) {
        String[] f = statFields(id);
        return f == null ? -1 : Long.parseLong(f[19]);
    }

    /** The thread-group id (the process id) of a thread, or 0 when it is gone. */
    static long processOf(long tid) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc", Long.toString(tid), "status"))) {
                if (line.startsWith("Tgid:")) {
                    return Long.parseLong(line.substring(5).trim());
                }
            }
        } catch (IOException | RuntimeException e) {
            return 0;
        }
        return 0;
    }

    /** True while the task that started at {@code startTime} still runs (and is not a zombie). */
    static boolean alive(long id, long startTime) {
        String[] f = statFields(id);
        return f != null && !"Z".equals(f[0]) && !"X".equals(f[0]) && Long.parseLong(f[19]) == startTime;
    }
}
