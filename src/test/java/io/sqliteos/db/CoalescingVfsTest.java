package io.sqliteos.db;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The coalescing VFS under the load it was made for: one writer committing and
 * rolling back rows of every size, readers checking each row against its hash
 * in their snapshots, and a checkpointer copying the log into the database
 * all the while.
 */
class CoalescingVfsTest {

    private static final int[] SIZES = {10, 3_000, 20_000, 200_000};

    @TempDir
    Path dir;

    @Test
    void theVfsIsInstalledWithTheDriver() throws Exception {
        SqliteNative.load();
        assertThat(Files.readString(Path.of("/proc/self/maps"))).contains("sqliteos-sqlite-extension");
    }

    @Test
    void readersAndCheckpointsSeeEveryCommitWholeWhileTheLogIsWrittenInPieces() throws Exception {
        SqliteNative.load();
        Path file = dir.resolve("t.db");
        writeReadAndCheckpointAtOnce(file, false);
        assertThat(mapped(file)).as("a database outside a private directory is read with system calls").isFalse();
    }

    /**
     * The database of an in-memory file system (in a private directory on tmpfs)
     * and its log are read through one mapping of each file while connections
     * have it open: the same load sees every commit whole while the files grow,
     * and again after a VACUUM has shrunk the database and checkpoints have
     * emptied the log, and the mappings go with the last connection.
     */
    @Test
    void aPrivateDatabaseInRamIsReadThroughAMappingThatFollowsItsSize() throws Exception {
        SqliteNative.load();
        try (EphemeralDirectory ram = EphemeralDirectory.create(Path.of("/dev/shm"))) {
            Path file = ram.path().resolve("t.db");
            writeReadAndCheckpointAtOnce(file, true);
            assertThat(mapped(file)).as("mapped once the last connection closed").isFalse();
        }
    }

    /** Whether this process maps {@code file}. */
    private static boolean mapped(Path file) throws Exception {
        String real = file.toRealPath().toString();
        return Files.readAllLines(Path.of("/proc/self/maps")).stream().anyMatch(line -> line.endsWith(" " + real));
    }

    /**
     * One writer commits and rolls back rows of every size while two readers
     * check their snapshots and a checkpointer copies the log; then (with
     * {@code shrink}) the rows are mostly deleted, a VACUUM shrinks the file,
     * and the same load runs again. Every row read matches its hash.
     */
    private static void writeReadAndCheckpointAtOnce(Path file, boolean shrink) throws Exception {
        String url = "jdbc:sqlite:" + file;
        Map<Integer, String> model = new HashMap<>();
        List<String> problems = new CopyOnWriteArrayList<>();
        try (Connection writer = DriverManager.getConnection(url)) {
            try (Statement st = writer.createStatement()) {
                st.execute("PRAGMA page_size = 8192");
                st.execute("PRAGMA journal_mode = WAL");
                st.execute("PRAGMA synchronous = OFF");
                st.execute("PRAGMA wal_autocheckpoint = 0");
                st.execute("CREATE TABLE t(k INTEGER PRIMARY KEY, v BLOB, h TEXT)");
            }
            Random random = new Random(7);
            underLoad(url, problems, () -> writeAndRollBack(writer, model, random));
            if (shrink) {
                assertThat(mapped(file)).as("mapped while connections have it open").isTrue();
                assertThat(mapped(Path.of(file + "-wal"))).as("its log mapped too").isTrue();
                long grown = Files.size(file);
                try (Statement st = writer.createStatement()) {
                    st.execute("DELETE FROM t WHERE k >= 20");
                    st.execute("PRAGMA wal_checkpoint(TRUNCATE)");
                    st.execute("VACUUM");
                    st.execute("PRAGMA wal_checkpoint(TRUNCATE)");
                }
                model.keySet().removeIf(k -> k >= 20);
                assertThat(Files.size(file)).as("the file after VACUUM").isLessThan(grown / 2);
                assertThat(hashes(writer)).isEqualTo(model);
                underLoad(url, problems, () -> writeAndRollBack(writer, model, random));
            }
            assertThat(problems).isEmpty();
            assertThat(hashes(writer)).isEqualTo(model);
            try (Statement st = writer.createStatement()) {
                st.execute("PRAGMA wal_checkpoint(TRUNCATE)");
            }
        }
        try (Connection reopened = DriverManager.getConnection(url); Statement st = reopened.createStatement();
                ResultSet rs = st.executeQuery("PRAGMA integrity_check")) {
            rs.next();
            assertThat(rs.getString(1)).isEqualTo("ok");
            assertThat(hashes(reopened)).isEqualTo(model);
        }
    }

    interface Work {
        void run() throws Exception;
    }

    /** Runs {@code work} while two readers check snapshots and a checkpointer copies the log. */
    private static void underLoad(String url, List<String> problems, Work work) throws Exception {
        AtomicBoolean stop = new AtomicBoolean();
        List<Thread> threads = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            threads.add(new Thread(() -> checkSnapshots(url, stop, problems)));
        }
        threads.add(new Thread(() -> checkpoint(url, stop, problems)));
        threads.forEach(Thread::start);
        try {
            work.run();
        } finally {
            stop.set(true);
            for (Thread t : threads) {
                t.join();
            }
        }
    }

    private static void writeAndRollBack(Connection writer, Map<Integer, String> model, Random random) throws Exception {
        writer.setAutoCommit(false);
        try (PreparedStatement put = writer.prepareStatement("INSERT OR REPLACE INTO t VALUES (?, ?, ?)");
                PreparedStatement delete = writer.prepareStatement("DELETE FROM t WHERE k = ?")) {
            for (int round = 0; round < 600; round++) {
                Map<Integer, String> changed = new HashMap<>(model);
                for (int j = random.nextInt(5); j >= 0; j--) {
                    int key = random.nextInt(300);
                    if (random.nextInt(8) == 0) {
                        delete.setInt(1, key);
                        delete.executeUpdate();
                        changed.remove(key);
                    } else {
                        byte[] value = new byte[SIZES[random.nextInt(SIZES.length)]];
                        random.nextBytes(value);
                        put.setInt(1, key);
                        put.setBytes(2, value);
                        put.setString(3, hash(value));
                        put.executeUpdate();
                        changed.put(key, hash(value));
                    }
                }
                if (random.nextInt(10) == 0) {
                    writer.rollback();
                } else {
                    writer.commit();
                    model.clear();
                    model.putAll(changed);
                }
            }
        } finally {
            writer.setAutoCommit(true);
        }
    }

    /** Every row a snapshot holds matches its hash, and the snapshot counts as many. */
    private static void checkSnapshots(String url, AtomicBoolean stop, List<String> problems) {
        try (Connection reader = DriverManager.getConnection(url)) {
            reader.setAutoCommit(false);
            try (Statement st = reader.createStatement()) {
                while (!stop.get()) {
                    int rows = 0;
                    try (ResultSet rs = st.executeQuery("SELECT k, v, h FROM t")) {
                        while (rs.next()) {
                            rows++;
                            if (!hash(rs.getBytes(2)).equals(rs.getString(3))) {
                                problems.add("row " + rs.getInt(1) + " does not match its hash");
                            }
                        }
                    }
                    try (ResultSet rs = st.executeQuery("SELECT count(*) FROM t")) {
                        rs.next();
                        if (rs.getInt(1) != rows) {
                            problems.add("a snapshot counted " + rs.getInt(1) + " rows and read " + rows);
                        }
                    }
                    reader.commit();
                }
            }
        } catch (Exception e) {
            problems.add(e.toString());
        }
    }

    /**
     * A savepoint whose journal outgrows the 64 KiB SQLite keeps in memory
     * still undoes exactly its own changes, again and again in one
     * transaction, and its journal never becomes a temporary file.
     */
    @Test
    void largeSavepointJournalsUndoTheirStepAloneWithoutATemporaryFile() throws Exception {
        SqliteNative.load();
        try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + dir.resolve("s.db"));
             Statement st = c.createStatement()) {
            st.execute("PRAGMA page_size = 8192");
            st.execute("PRAGMA journal_mode = WAL");
            st.execute("PRAGMA temp_store = FILE");
            st.execute("CREATE TABLE t(k INTEGER PRIMARY KEY, v BLOB)");
            st.execute("WITH RECURSIVE n(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM n WHERE k < 400)"
                    + " INSERT INTO t SELECT k, randomblob(3000) FROM n");
            String before = tableHash(st);
            st.execute("BEGIN");
            st.execute("UPDATE t SET v = randomblob(10) WHERE k <= 10"); // a change before the steps
            String kept = tableHash(st);
            for (int round = 0; round < 3; round++) {
                st.execute("SAVEPOINT step");
                st.execute("UPDATE t SET v = randomblob(3500) WHERE k % 2 = " + (round % 2)); // some 100 pages
                assertThat(tableHash(st)).isNotEqualTo(kept);
                assertThat(temporaryFilesOpen()).as("temporary files open during a large savepoint").isEmpty();
                st.execute("ROLLBACK TO step");
                st.execute("RELEASE step");
                assertThat(tableHash(st)).as("after undoing step %d", round).isEqualTo(kept);
            }
            st.execute("SAVEPOINT step");
            st.execute("DELETE FROM t WHERE k > 300");
            st.execute("RELEASE step");
            st.execute("COMMIT");
            assertThat(tableHash(st)).isNotEqualTo(before);
            try (ResultSet rs = st.executeQuery("SELECT count(*), sum(length(v) = 10) FROM t")) {
                assertThat(rs.next()).isTrue();
                assertThat(rs.getInt(1)).isEqualTo(300);
                assertThat(rs.getInt(2)).isEqualTo(10);
            }
            try (ResultSet rs = st.executeQuery("PRAGMA integrity_check")) {
                assertThat(rs.next()).isTrue();
                assertThat(rs.getString(1)).isEqualTo("ok");
            }
        }
    }

    private static String tableHash(Statement st) throws SQLException {
        try (ResultSet rs = st.executeQuery("SELECT group_concat(k || ':' || hex(v), ',') FROM (SELECT k, v FROM t ORDER BY k)")) {
            rs.next();
            return hash(rs.getString(1).getBytes(java.nio.charset.StandardCharsets.US_ASCII));
        }
    }

    /** SQLite's temporary files (named etilqs_*) this process holds open, deleted or not. */
    private static List<String> temporaryFilesOpen() throws java.io.IOException {
        List<String> found = new ArrayList<>();
        try (var fds = Files.list(Path.of("/proc/self/fd"))) {
            for (Path fd : (Iterable<Path>) fds::iterator) {
                try {
                    String target = Files.readSymbolicLink(fd).toString();
                    if (target.contains("etilqs_")) {
                        found.add(target);
                    }
                } catch (java.io.IOException gone) {
                    // closed meanwhile
                }
            }
        }
        return found;
    }

    private static void checkpoint(String url, AtomicBoolean stop, List<String> problems) {
        try (Connection c = DriverManager.getConnection(url); Statement st = c.createStatement()) {
            while (!stop.get()) {
                st.execute("PRAGMA wal_checkpoint(PASSIVE)");
            }
        } catch (SQLException e) {
            problems.add(e.toString());
        }
    }

    private static Map<Integer, String> hashes(Connection c) throws SQLException {
        Map<Integer, String> found = new HashMap<>();
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT k, h FROM t")) {
            while (rs.next()) {
                found.put(rs.getInt(1), rs.getString(2));
            }
        }
        return found;
    }

    private static String hash(byte[] value) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(value));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
