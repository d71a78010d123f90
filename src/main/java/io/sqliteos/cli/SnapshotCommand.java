package io.sqliteos.cli;

import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/** {@code sqliteos snapshot MOUNTPOINT FILE}: an online, consistent copy of a live file system. */
@Command(name = "snapshot", mixinStandardHelpOptions = true,
        description = {"Copy a mounted file system, consistently, into a new database file while it stays in use.",
            "Open transactions are not included. Mount the copy with: sqliteos mount --db FILE DIR"})
final class SnapshotCommand implements Callable<Integer> {

    @Parameters(index = "0", paramLabel = "MOUNTPOINT", description = "A mounted SQLiteOS file system.")
    Path mountPoint;

    @Parameters(index = "1", paramLabel = "FILE", description = "The new database file (must not exist).")
    Path file;

    @Override
    public Integer call() throws Exception {
        Path target = file.toAbsolutePath().normalize();
        if (!MountPoints.insideSqliteos(mountPoint)) {
            System.err.println("sqliteos snapshot: " + mountPoint + " is not a SQLiteOS mount");
            return 1;
        }
        if (Files.exists(target)) {
            System.err.println("sqliteos snapshot: " + target + " exists; choose a new file");
            return 1;
        }
        try {
            ControlAttributes.set(mountPoint, "snapshot", target.toString());
        } catch (FileSystemException e) {
            System.err.println("sqliteos snapshot: failed: " + (e.getReason() != null ? e.getReason() : e.getMessage())
                    + " (see the daemon's log)");
            return 1;
        }
        System.out.println("sqliteos snapshot: wrote " + target + " (" + Files.size(target) + " bytes)");
        return 0;
    }
}
