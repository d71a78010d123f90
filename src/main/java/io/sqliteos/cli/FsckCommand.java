package io.sqliteos.cli;

import io.sqliteos.db.Database;
import io.sqliteos.db.IntegrityCheck;
import io.sqliteos.db.StoreException;
import io.sqliteos.fs.BlockLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code sqliteos fsck FILE [--repair]} or {@code sqliteos fsck --mount DIR}:
 * checks every invariant of the data model. Exit 0: clean; 1: problems found
 * (or left after repair); 2: could not check.
 */
@Command(name = "fsck", mixinStandardHelpOptions = true,
        description = {"Check a SQLiteOS database (or a live mount, through a snapshot) for broken invariants.",
            "Exit status: 0 clean, 1 problems found, 2 could not check."})
final class FsckCommand implements Callable<Integer> {

    @Parameters(arity = "0..1", paramLabel = "FILE", description = "A database file that is not mounted.")
    Path file;

    @Option(names = "--mount", paramLabel = "DIR", description = "Check a live mount instead (read-only, via a snapshot).")
    Path mount;

    @Option(names = "--repair", description = "Fix what can be fixed and say what was done (not with --mount).")
    boolean repair;

    @Override
    public Integer call() throws Exception {
        if ((file == null) == (mount == null)) {
            System.err.println("sqliteos fsck: give either a database FILE or --mount DIR");
            return 2;
        }
        if (mount != null && repair) {
            System.err.println("sqliteos fsck: --repair needs the unmounted database file, not --mount");
            return 2;
        }
        Path target = file;
        Path temporary = null;
        if (mount != null) {
            temporary = Files.createTempDirectory("sqliteos-fsck-").resolve("snapshot.db");
            try {
                ControlAttributes.set(mount, "snapshot", temporary.toString());
            } catch (java.io.IOException e) {
                System.err.println("sqliteos fsck: cannot snapshot " + mount + ": " + e.getMessage());
                return 2;
            }
            target = temporary;
        }
        try (Connection c = Database.inspect(target)) {
            IntegrityCheck check = new IntegrityCheck(c, BlockLayout.BLOCK_SIZE);
            List<IntegrityCheck.Problem> problems = check.check();
            problems.forEach(p -> System.out.println("problem: " + p));
            long orphans = check.orphans();
            if (orphans > 0) {
                System.out.println("note: " + orphans + " unlinked file(s) still held open at the last stop; freed at the next mount");
            }
            if (problems.isEmpty()) {
                System.out.println("sqliteos fsck: " + (mount != null ? mount : file) + " is clean");
                return 0;
            }
            if (!repair) {
                System.out.println("sqliteos fsck: " + problems.size() + " problem(s)"
                        + (problems.stream().anyMatch(IntegrityCheck.Problem::repairable) ? "; --repair can fix some" : ""));
                return 1;
            }
            for (String done : check.repair()) {
                System.out.println("repaired: " + done);
            }
            List<IntegrityCheck.Problem> left = check.check();
            left.forEach(p -> System.out.println("still broken: " + p));
            System.out.println("sqliteos fsck: " + (left.isEmpty() ? "repaired, now clean" : left.size() + " problem(s) remain"));
            return left.isEmpty() ? 0 : 1;
        } catch (StoreException e) {
            System.err.println("sqliteos fsck: cannot check " + target + ": " + e.getMessage());
            return 2;
        } finally {
            if (temporary != null) {
                Files.deleteIfExists(temporary);
                Files.deleteIfExists(temporary.getParent());
            }
        }
    }
}
