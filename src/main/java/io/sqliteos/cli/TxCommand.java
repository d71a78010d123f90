package io.sqliteos.cli;

import java.io.IOException;
import java.nio.file.FileSystemException;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code sqliteos tx -- COMMAND ARGS}: runs a command inside one process-tree
 * transaction: everything it and its children change on the mount commits when
 * it exits 0 and is rolled back otherwise.
 */
@Command(name = "tx", mixinStandardHelpOptions = true,
        description = {"Run a command inside one file-system transaction.",
            "Commits when the command exits 0, rolls back otherwise; exits with the command's status."})
final class TxCommand implements Callable<Integer> {

    @Option(names = "--mount", paramLabel = "PATH",
            description = "Any path inside the SQLiteOS mount (default: the current directory).")
    Path mount = Path.of(".");

    @Option(names = {"-q", "--quiet"}, description = "Do not report the outcome on stderr.")
    boolean quiet;

    @Parameters(paramLabel = "COMMAND", arity = "1..*", description = "The command and its arguments (put -- before it).")
    List<String> command;

    @Override
    public Integer call() throws Exception {
        Path anchor = mount.toAbsolutePath();
        if (!MountPoints.insideSqliteos(anchor)) {
            System.err.println("sqliteos tx: " + anchor + " is not inside a SQLiteOS mount (use --mount PATH)");
            return 125;
        }
        try {
            control(anchor, "begin tree");
        } catch (FileSystemException e) {
            System.err.println("sqliteos tx: cannot begin a transaction on " + anchor + ": " + reason(e)
                    + " (is it inside a SQLiteOS mount?)");
            return 125;
        }
        int status;
        try {
            Process p = new ProcessBuilder(command).inheritIO().start();
            status = p.waitFor();
        } catch (IOException e) {
            System.err.println("sqliteos tx: cannot run " + command.get(0) + ": " + e.getMessage());
            control(anchor, "rollback");
            report("rolled back (the command could not start)");
            return 127;
        }
        if (status == 0) {
            try {
                control(anchor, "commit");
            } catch (FileSystemException e) {
                System.err.println("sqliteos tx: commit failed, nothing was applied: " + reason(e));
                return 1;
            }
            report("committed");
        } else {
            control(anchor, "rollback");
            report("rolled back (exit status " + status + ")");
        }
        return status;
    }

    private void report(String outcome) {
        if (!quiet) {
            System.err.println("sqliteos tx: " + outcome);
        }
    }

    private static String reason(FileSystemException e) {
        return e.getReason() != null ? e.getReason() : e.getMessage();
    }

    /** Sets user.sqliteos.tx on the anchor: the daemon sees this JVM as the tree's root. */
    static void control(Path anchor, String verb) throws IOException {
        ControlAttributes.set(anchor, "tx", verb);
    }
}
