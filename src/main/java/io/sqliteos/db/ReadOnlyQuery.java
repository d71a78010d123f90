package io.sqliteos.db;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Properties;
import java.util.regex.Pattern;

/**
 * Read-only SQL over a live file system's database, from another process: a
 * read-only connection in query-only mode, one statement that must be a query,
 * a row limit and a time limit. A single statement reads one committed snapshot.
 */
public final class ReadOnlyQuery {

    private static final Pattern QUERY_START = Pattern.compile("(?is)^\\s*(SELECT|WITH|VALUES|EXPLAIN)\\b.*");
    private static final Pattern FORBIDDEN = Pattern.compile("(?i)\\b(ATTACH|DETACH|PRAGMA|VACUUM|INSERT|UPDATE|DELETE|REPLACE|CREATE|DROP|ALTER|REINDEX|ANALYZE)\\b");

    /** Column names, rows as text (null for SQL NULL), and whether the row limit cut the result. */
    public record Result(List<String> columns, List<List<String>> rows, boolean truncated) {}

    private ReadOnlyQuery() {}

    /** Why {@code sql} is refused, or null when it is a single read-only query. */
    public static String refusal(String sql) {
        String trimmed = sql.strip();
        while (trimmed.endsWith(";")) {
            trimmed = trimmed.substring(0, trimmed.length() - 1).strip();
        }
        if (trimmed.isEmpty()) {
            return "empty query";
        }
        if (stripLiterals(trimmed).contains(";")) {
            return "one statement at a time";
        }
        if (!QUERY_START.matcher(trimmed).matches()) {
            return "only queries (SELECT, WITH, VALUES, EXPLAIN) are allowed";
        }
        if (FORBIDDEN.matcher(stripLiterals(trimmed)).find()) {
            return "the query names a statement that could write (" + firstForbidden(trimmed) + ")";
        }
        return null;
    }

    private static String firstForbidden(String sql) {
        var m = FORBIDDEN.matcher(stripLiterals(sql));
        return m.find() ? m.group(1).toUpperCase(Locale.ROOT) : "?";
    }

    /** The SQL with string literals and quoted names blanked, so keywords inside them do not count. */
    private static String stripLiterals(String sql) {
        return sql.replaceAll("'(?:[^']|'')*'", "''").replaceAll("\"(?:[^\"]|\"\")*\"", "\"\"");
    }

    public static Result run(Path database, String sql, int maxRows, long timeoutMillis) {
        String refused = refusal(sql);
        if (refused != null) {
            throw new IllegalArgumentException(refused);
        }
        Properties p = new Properties();
        p.setProperty("open_mode", "1"); // SQLITE_OPEN_READONLY
        SqliteNative.load();
        try (Connection c = DriverManager.getConnection("jdbc:sqlite:file:" + database + "?mode=ro", p);
             Statement st = c.createStatement()) {
            st.execute("PRAGMA query_only = 1");
            // the time limit interrupts the statement wherever it is (sqlite3_interrupt)
            java.util.Timer timer = new java.util.Timer("sqliteos-sql-timeout", true);
            timer.schedule(new java.util.TimerTask() {
                @Override
                public void run() {
                    try {
                        st.cancel();
                    } catch (SQLException ignored) {
                        // the statement has finished
                    }
                }
            }, Math.max(1, timeoutMillis));
            try (ResultSet rs = st.executeQuery(sql)) {
                ResultSetMetaData md = rs.getMetaData();
                List<String> columns = new ArrayList<>();
                for (int i = 1; i <= md.getColumnCount(); i++) {
                    columns.add(md.getColumnLabel(i));
                }
                List<List<String>> rows = new ArrayList<>();
                boolean truncated = false;
                while (rs.next()) {
                    if (rows.size() == maxRows) {
                        truncated = true;
                        break;
                    }
                    List<String> row = new ArrayList<>(columns.size());
                    for (int i = 1; i <= columns.size(); i++) {
                        Object v = rs.getObject(i);
                        row.add(v == null ? null : v instanceof byte[] b ? "x'" + java.util.HexFormat.of().formatHex(b) + "'" : v.toString());
                    }
                    rows.add(row);
                }
                return new Result(columns, rows, truncated);
            } finally {
                timer.cancel();
            }
        } catch (SQLException e) {
            throw StoreException.wrap(e);
        }
    }
}
