package io.sqliteos.cli;

import io.sqliteos.db.ReadOnlyQuery;
import io.sqliteos.db.StoreException;
import io.sqliteos.ipc.IpcClient;
import io.sqliteos.ipc.IpcException;
import io.sqliteos.query.ResultFormat;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code sqliteos sql "SELECT ..."}: read-only SQL over a live mount's own tables. */
@Command(name = "sql", mixinStandardHelpOptions = true,
        description = {"Run a read-only SQL query on a mounted file system's database (root or the mount's owner).",
            "Tables: inode, dirent, extent, xattr, fsinfo, schema_migration. Writes are refused."})
final class SqlCommand implements Callable<Integer> {

    @Parameters(paramLabel = "QUERY", description = "One SELECT (or WITH/VALUES/EXPLAIN) statement.")
    String query;

    @Option(names = "--mount", paramLabel = "PATH", description = "A path inside the mount (default: the current directory).")
    Path mount = Path.of(".");

    @Option(names = "--max-rows", defaultValue = "10000", description = "Stop after this many rows (default ${DEFAULT-VALUE}).")
    int maxRows;

    @Option(names = "--timeout", defaultValue = "10", description = "Give up after this many seconds (default ${DEFAULT-VALUE}).")
    int timeoutSeconds;

    @Option(names = "--csv", description = "Print CSV.")
    boolean csv;

    @Option(names = "--json", description = "Print a JSON array of objects.")
    boolean json;

    @Option(names = "--socket", paramLabel = "PATH", description = "Ask the daemon over its IPC socket instead of opening the database file.")
    Path socket;

    @Override
    public Integer call() throws Exception {
        ResultFormat format = json ? ResultFormat.JSON : csv ? ResultFormat.CSV : ResultFormat.TABLE;
        if (socket != null) {
            return overSocket(format);
        }
        Path anchor = mount.toAbsolutePath();
        if (!MountPoints.insideSqliteos(anchor)) {
            System.err.println("sqliteos sql: " + anchor + " is not inside a SQLiteOS mount (use --mount PATH)");
            return 2;
        }
        String refused = ReadOnlyQuery.refusal(query);
        if (refused != null) {
            System.err.println("sqliteos sql: refused: " + refused);
            return 2;
        }
        Path database;
        try {
            database = Path.of(ControlAttributes.get(anchor, "database"));
        } catch (java.io.IOException e) {
            System.err.println("sqliteos sql: cannot reach the database: " + e.getMessage()
                    + " (only root and the mount's owner may query it)");
            return 2;
        }
        ReadOnlyQuery.Result r;
        try {
            r = ReadOnlyQuery.run(database, query, maxRows, timeoutSeconds * 1000L);
        } catch (StoreException e) {
            boolean interrupted = String.valueOf(e.getMessage()).contains("SQLITE_INTERRUPT");
            System.err.println("sqliteos sql: " + (interrupted
                    ? "stopped after " + timeoutSeconds + " s (--timeout)" : e.getMessage()));
            return 1;
        }
        System.out.print(format.render(r));
        if (r.truncated()) {
            System.err.println("sqliteos sql: stopped at " + maxRows + " rows (--max-rows)");
        }
        return 0;
    }

    private int overSocket(ResultFormat format) {
        try (IpcClient client = new IpcClient(socket)) {
            IpcClient.QueryOutput out = client.sql(query, format.word(), maxRows, timeoutSeconds * 1000L);
            System.out.print(out.text());
            if (out.truncated()) {
                System.err.println("sqliteos sql: stopped at " + maxRows + " rows (--max-rows)");
            }
            return 0;
        } catch (IpcException e) {
            System.err.println("sqliteos sql: " + e.getMessage());
            return e.code() == IpcException.Code.SQL && e.getMessage().startsWith("refused") ? 2 : 1;
        } catch (java.io.IOException e) {
            System.err.println("sqliteos sql: cannot reach " + socket + ": " + e.getMessage());
            return 2;
        }
    }
}
