package io.sqliteos.db;

import java.io.IOException;
import java.io.InputStream;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Applies the numbered SQL files of {@code schema/} (shipped inside the jar) that a
 * database has not seen yet, each in its own transaction, and records them in
 * {@code schema_migration}.
 */
public final class SchemaMigrator {

    private static final Logger log = LoggerFactory.getLogger(SchemaMigrator.class);
    private static final Pattern FILE_NAME = Pattern.compile("(\\d{3})-[a-z0-9-]+\\.sql");

    /** A schema file: its number, name and SQL text. */
    public record Migration(int version, String name, String sql) {}

    private SchemaMigrator() {}

    /** Read once: opening a database asks for them twice, and the jar does not change under a JVM. */
    private static List<Migration> shipped;

    /** All migrations shipped with this build, by version. */
    public static synchronized List<Migration> shipped() {
        if (shipped == null) {
            shipped = List.copyOf(readShipped());
        }
        return shipped;
    }

    private static List<Migration> readShipped() {
        Map<Integer, Migration> byVersion = new TreeMap<>();
        try {
            Path root = Path.of(SchemaMigrator.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            if (Files.isDirectory(root)) {
                collect(root.resolve("schema"), byVersion);
            } else {
                // ZipFile shares the class loader's reading of the jar's directory; a zip
                // FileSystem would read all of it again (a tenth of a second at every start)
                try (ZipFile jar = new ZipFile(root.toFile())) {
                    for (var entries = jar.entries(); entries.hasMoreElements(); ) {
                        ZipEntry e = entries.nextElement();
                        if (e.getName().startsWith("schema/") && !e.isDirectory()) {
                            try (InputStream in = jar.getInputStream(e)) {
                                add(e.getName().substring("schema/".length()), in, byVersion);
                            }
                        }
                    }
                }
            }
        } catch (IOException | URISyntaxException e) {
            throw new IllegalStateException("cannot read the schema files shipped with SQLiteOS", e);
        }
        if (byVersion.isEmpty()) {
            throw new IllegalStateException("no schema files found in the SQLiteOS build");
        }
        return new ArrayList<>(byVersion.values());
    }

    private static void collect(Path dir, Map<Integer, Migration> out) throws IOException {
        try (Stream<Path> files = Files.list(dir)) {
            for (Path file : (Iterable<Path>) files::iterator) {
                try (InputStream in = Files.newInputStream(file)) {
                    add(file.getFileName().toString(), in, out);
                }
            }
        }
    }

    /** Adds the schema file {@code name} if its name is a migration's. */
    private static void add(String name, InputStream in, Map<Integer, Migration> out) throws IOException {
        Matcher m = FILE_NAME.matcher(name);
        if (!m.matches()) {
            return;
        }
        int version = Integer.parseInt(m.group(1));
        Migration previous = out.put(version,
                new Migration(version, name, new String(in.readAllBytes(), StandardCharsets.UTF_8)));
        if (previous != null) {
            throw new IllegalStateException("two schema files share number " + version + ": "
                    + previous.name() + " and " + name);
        }
    }

    /** The newest schema version this build knows. */
    public static int latestVersion() {
        List<Migration> all = shipped();
        return all.get(all.size() - 1).version();
    }

    /** The schema version recorded in the database, 0 for a new database. */
    public static int currentVersion(Connection c) throws SQLException {
        try (Statement st = c.createStatement();
             ResultSet rs = st.executeQuery(
                     "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migration'")) {
            rs.next();
            if (rs.getInt(1) == 0) {
                return 0;
            }
        }
        try (Statement st = c.createStatement();
             ResultSet rs = st.executeQuery("SELECT coalesce(max(version), 0) FROM schema_migration")) {
            rs.next();
            return rs.getInt(1);
        }
    }

    /** Throws when the database was written by a newer SQLiteOS than this one. */
    public static void requireKnownVersion(Connection c) throws SQLException {
        int current = currentVersion(c);
        int latest = latestVersion();
        if (current > latest) {
            throw new IllegalStateException("the database has schema version " + current
                    + " but this SQLiteOS only knows up to " + latest + "; use a newer SQLiteOS");
        }
    }

    /** Brings the database up to the newest version; refuses a database newer than this build. */
    public static void migrate(Connection c) throws SQLException {
        migrate(c, shipped());
    }

    /** Applies the migrations in {@code migrations} (ordered by version) that the database lacks. */
    static void migrate(Connection c, List<Migration> migrations) throws SQLException {
        int current = currentVersion(c);
        int latest = migrations.get(migrations.size() - 1).version();
        if (current > latest) {
            throw new IllegalStateException("the database has schema version " + current
                    + " but this SQLiteOS only knows up to " + latest + "; use a newer SQLiteOS");
        }
        for (Migration m : migrations) {
            if (m.version() <= current) {
                continue;
            }
            apply(c, m);
        }
    }

    static void apply(Connection c, Migration m) throws SQLException {
        boolean auto = c.getAutoCommit();
        c.setAutoCommit(false);
        try (Statement st = c.createStatement()) {
            st.execute("CREATE TABLE IF NOT EXISTS schema_migration ("
                    + "version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_ns INTEGER NOT NULL)");
            for (String statement : statements(m.sql())) {
                st.execute(statement);
            }
            try (PreparedStatement ps = c.prepareStatement(
                    "INSERT INTO schema_migration (version, name, applied_ns) VALUES (?, ?, ?)")) {
                ps.setInt(1, m.version());
                ps.setString(2, m.name());
                ps.setLong(3, System.currentTimeMillis() * 1_000_000L);
                ps.executeUpdate();
            }
            c.commit();
            log.info("applied schema {} ({})", m.version(), m.name());
        } catch (SQLException | RuntimeException e) {
            c.rollback();
            throw e;
        } finally {
            c.setAutoCommit(auto);
        }
    }

    /**
     * Splits a schema file into statements: a statement ends with a line ending in
     * ';', except inside CREATE TRIGGER, which ends with a line 'END;'. Comment
     * lines are dropped.
     */
    static List<String> statements(String sql) {
        List<String> out = new ArrayList<>();
        StringBuilder current = new StringBuilder();
        boolean inTrigger = false;
        for (String line : sql.split("\n")) {
            String trimmed = line.strip();
            if (trimmed.isEmpty() || trimmed.startsWith("--")) {
                continue;
            }
            if (current.length() == 0 && trimmed.toUpperCase().startsWith("CREATE TRIGGER")) {
                inTrigger = true;
            }
            current.append(line).append('\n');
            boolean ends = inTrigger ? trimmed.equalsIgnoreCase("END;") : trimmed.endsWith(";");
            if (ends) {
                out.add(current.toString());
                current.setLength(0);
                inTrigger = false;
            }
        }
        if (current.toString().strip().length() > 0) {
            out.add(current.toString());
        }
        return out;
    }
}
