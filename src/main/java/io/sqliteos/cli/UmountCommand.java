package io.sqliteos.cli;

import java.nio.file.Path;
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
        Process p = new ProcessBuilder("fusermount", "-u", dir.toString()).inheritIO().start();
        int rc = p.waitFor();
        if (rc != 0) {
            System.err.println("sqliteos: could not unmount " + dir
                    + " (is it busy? close the files and shells using it, or use: fusermount -u -z " + dir + ")");
            return 1;
        }
        return 0;
    }
}
