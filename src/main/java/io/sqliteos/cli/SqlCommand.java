package io.sqliteos.cli;

import io.sqliteos.db.ReadOnlyQuery;
import io.sqliteos.db.StoreException;
import java.nio.file.Path;
import java.util.List;
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

    @Override
    public Integer call() throws Exception {
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
            r = ReadOnlyQuery.run(database, query, maxRows, timeoutSeconds);
        } catch (StoreException e) {
            boolean interrupted = String.valueOf(e.getMessage()).contains("SQLITE_INTERRUPT");
            System.err.println("sqliteos sql: " + (interrupted
                    ? "stopped after " + timeoutSeconds + " s (--timeout)" : e.getMessage()));
            return 1;
        }
        if (json) {
            printJson(r);
        } else if (csv) {
            System.out.println(String.join(",", r.columns().stream().map(SqlCommand::csvField).toList()));
            r.rows().forEach(row -> System.out.println(String.join(",", row.stream().map(SqlCommand::csvField).toList())));
        } else {
            printTable(r);
        }
        if (r.truncated()) {
            System.err.println("sqliteos sql: stopped at " + maxRows + " rows (--max-rows)");
        }
        return 0;
    }

    private static String csvField(String v) {
        if (v == null) {
            return "";
        }
        return v.matches("[^,\"\\r\\n]*") ? v : "\"" + v.replace("\"", "\"\"") + "\"";
    }

    private static String jsonString(String v) {
        if (v == null) {
            return "null";
        }
        StringBuilder sb = new StringBuilder("\"");
        for (char ch : v.toCharArray()) {
            switch (ch) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '\t' -> sb.append("\\t");
                default -> sb.append(ch < 0x20 ? String.format("\\u%04x", (int) ch) : String.valueOf(ch));
            }
        }
        return sb.append('"').toString();
    }

    private static void printJson(ReadOnlyQuery.Result r) {
        StringBuilder out = new StringBuilder("[");
        for (int i = 0; i < r.rows().size(); i++) {
            out.append(i == 0 ? "\n  {" : ",\n  {");
            List<String> row = r.rows().get(i);
            for (int c = 0; c < row.size(); c++) {
                out.append(c == 0 ? "" : ", ").append(jsonString(r.columns().get(c))).append(": ").append(jsonString(row.get(c)));
            }
            out.append('}');
        }
        System.out.println(out.append(r.rows().isEmpty() ? "]" : "\n]"));
    }

    private static void printTable(ReadOnlyQuery.Result r) {
        int[] width = new int[r.columns().size()];
        for (int c = 0; c < width.length; c++) {
            width[c] = r.columns().get(c).length();
            for (List<String> row : r.rows()) {
                width[c] = Math.max(width[c], String.valueOf(row.get(c)).length());
            }
        }
        StringBuilder line = new StringBuilder();
        StringBuilder rule = new StringBuilder();
        for (int c = 0; c < width.length; c++) {
            line.append(c == 0 ? "" : "  ").append(pad(r.columns().get(c), width[c]));
            rule.append(c == 0 ? "" : "  ").append("-".repeat(width[c]));
        }
        System.out.println(line.toString().stripTrailing());
        System.out.println(rule);
        for (List<String> row : r.rows()) {
            line.setLength(0);
            for (int c = 0; c < width.length; c++) {
                line.append(c == 0 ? "" : "  ").append(pad(String.valueOf(row.get(c)), width[c]));
            }
            System.out.println(line.toString().stripTrailing());
        }
        System.out.println("(" + r.rows().size() + " row" + (r.rows().size() == 1 ? ")" : "s)"));
    }

    private static String pad(String s, int width) {
        return s + " ".repeat(Math.max(0, width - s.length()));
    }
}
