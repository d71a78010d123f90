package io.sqliteos.cli;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.stream.Collectors;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/** {@code sqliteos umount MOUNTPOINT}. */
@Command(name = "umount", aliases = "unmount", mixinStandardHelpOptions = true,
        description = "Unmount a SQLiteOS file system; its daemon then closes the database and exits.")
final class UmountCommand implements Callable<Integer> {

    @Parameters(paramLabel = "MOUNTPOINT", description = "Where the file system is mounted.")
    Path mountPoint;

    @Override
    public Integer call() throws Exception {
        Path dir = mountPoint.toAbsolutePath().normalize();
        if (!MountPoints.isMounted(dir)) {
            System.err.println("sqliteos: nothing is mounted on " + dir);
            return 1;
        }
        List<ProcessHandle> daemons = daemonsServing(dir);
        Process p = new ProcessBuilder("fusermount", "-u", dir.toString()).inheritIO().start();
        int rc = p.waitFor();
        if (rc != 0) {
            System.err.println("sqliteos: could not unmount " + dir
                    + " (is it busy? close the files and shells using it, or use: fusermount -u -z " + dir + ")");
            return 1;
        }
        // return only once the daemon has closed its database, so the file can be used right away
        for (ProcessHandle daemon : daemons) {
            try {
                daemon.onExit().get(30, TimeUnit.SECONDS);
            } catch (TimeoutException e) {
                System.err.println("sqliteos: unmounted, but daemon " + daemon.pid() + " has not exited after 30 s");
                return 1;
            }
        }
        return 0;
    }

    /** The daemon processes serving this mount point. */
    private static List<ProcessHandle> daemonsServing(Path dir) {
        return ProcessHandle.allProcesses()
                .filter(h -> h.info().arguments().map(args -> servesMountPoint(Arrays.asList(args), dir)).orElse(false))
                .collect(Collectors.toList());
    }

    /**
     * Whether a process with these arguments is a daemon serving {@code dir}: one
     * that {@code sqliteos mount} started ({@code ... io.sqliteos.cli.Daemon DIR}),
     * or {@code sqliteos mount --foreground DIR}.
     */
    static boolean servesMountPoint(List<String> args, Path dir) {
        String d = dir.toString();
        boolean background = args.size() >= 2 && args.get(args.size() - 2).equals(Daemon.class.getName())
                && args.get(args.size() - 1).equals(d);
        boolean foreground = args.contains("--foreground") && args.contains(d) && args.contains("mount");
        return background || foreground;
    }
}
