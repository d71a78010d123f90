package io.sqliteos.db;

import static org.assertj.core.api.Assertions.assertThat;

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
import java.util.concurrent.TimeUnit;
import jnr.posix.FileStat;
import jnr.posix.POSIXFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Holes under SQLite's free pages, punched the way the daemon does it (log
 * emptied, write lock held): rows written, deleted and written again into the
 * punched pages keep their bytes, the database stays sound, and the free pages
 * take no space, also when every pass is cut short and goes on later. Pages
 * are kept for reuse until their keep time ends, unless the caller wants them
 * all back now.
 */
class FreePagesTest {

    private static final int PAGE = 8192;

    @TempDir
    Path dir;

    private Connection writer;
    private Connection checkpointer;
    private final Map<Integer, String> rows = new HashMap<>();
    private final Random random = new Random(11);
    private int nextKey;

    @Test
    void freePagesTakeNoSpaceAndRowsKeepTheirBytesThroughRoundsOfReuse() throws Exception {
        rounds(false);
    }

    @Test
    void passesCutShortGoOnWhereTheyStopped() throws Exception {
        rounds(true);
    }

    @Test
    void freePagesAreKeptForReuseUntilTheirKeepTimeEnds() throws Exception {
        Path file = createDatabase();
        long keepNanos = TimeUnit.MILLISECONDS.toNanos(700);
        try (FreePages pages = FreePages.open(file, keepNanos)) {
            insert(150);
            deleteAbout(0.8);
            FreePages.Pass first = punchUntilDone(pages, false, false);
            assertThat(first.bytesFreed()).isZero();
            assertThat(first.keptBytes()).isGreaterThan(100L * PAGE);
            assertThat(first.dueNanos() - System.nanoTime()).isBetween(0L, keepNanos);
            assertThat(allocated(file)).isGreaterThan(usedBytes() + 100L * PAGE);

            // new data takes kept pages: fewer are kept, and the file does not grow
            long size = java.nio.file.Files.size(file);
            insert(20);
            FreePages.Pass after = punchUntilDone(pages, false, false);
            assertThat(after.bytesFreed()).isZero();
            assertThat(after.keptBytes()).isPositive().isLessThan(first.keptBytes());
            assertThat(java.nio.file.Files.size(file)).isEqualTo(size);

            Thread.sleep(Math.max(0, TimeUnit.NANOSECONDS.toMillis(after.dueNanos() - System.nanoTime())) + 50);
            FreePages.Pass due = punchUntilDone(pages, false, false);
            assertThat(due.bytesFreed()).isEqualTo(after.keptBytes());
            assertThat(due.keptBytes()).isZero();
            assertThat(allocated(file)).isLessThanOrEqualTo(usedBytes() + 64 * 1024);

            // pages freed now are kept, unless the caller wants all back at once
            deleteAbout(0.5);
            assertThat(punchUntilDone(pages, false, false).keptBytes()).isPositive();
            FreePages.Pass now = punchUntilDone(pages, false, true);
            assertThat(now.bytesFreed()).isPositive();
            assertThat(now.keptBytes()).isZero();
            assertThat(allocated(file)).isLessThanOrEqualTo(usedBytes() + 64 * 1024);
            assertThat(integrityCheck()).isEqualTo("ok");
            assertRowsIntact();
        } finally {
            writer.close();
            checkpointer.close();
        }
    }

    /**
     * Deleting rows reads their pages once more, so a page read once, freed
     * and written again had been read twice: without counting afresh where
     * free pages are first seen, its next read went through the in-memory
     * database's mapping, each page a fault, and the process's resident size
     * grew by the data each time a file's place was reused.
     */
    @Test
    void pagesFreedAndWrittenAgainAreReadAsNewNotThroughTheMapping() throws Exception {
        try (EphemeralDirectory ram = EphemeralDirectory.create(Path.of("/dev/shm"))) {
            Path file = createDatabase(ram.path());
            try (Statement st = writer.createStatement()) {
                st.execute("PRAGMA cache_size = -64"); // reads reach the file, as a reader's do after others' commits
            }
            try (FreePages pages = FreePages.open(file, TimeUnit.MINUTES.toNanos(10))) {
                insert(60);
                punchUntilDone(pages, false, false); // in the file; nothing free yet
                assertRowsIntact(); // read once
                deleteAbout(1.0); // and once more
                punchUntilDone(pages, false, false); // the free pages are seen, and kept
                insert(60); // into the same pages
                punchUntilDone(pages, false, false);
                long before = mappedResidentBytes(file);
                assertRowsIntact(); // the new rows' first read
                assertThat(mappedResidentBytes(file) - before).as("bytes faulted into the mapping").isLessThan(512 * 1024);
                assertThat(integrityCheck()).isEqualTo("ok");
            } finally {
                writer.close();
                checkpointer.close();
            }
        }
    }

    /** The resident bytes of this process's mapping of {@code file}, from /proc/self/smaps. */
    private static long mappedResidentBytes(Path file) throws Exception {
        String real = file.toRealPath().toString();
        boolean inIt = false;
        long kib = 0;
        for (String line : java.nio.file.Files.readAllLines(Path.of("/proc/self/smaps"))) {
            if (line.matches("^[0-9a-f]+-[0-9a-f]+ .*")) {
                inIt = line.endsWith(" " + real);
            } else if (inIt && line.startsWith("Rss:")) {
                kib += Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        }
        return kib * 1024;
    }

    private void rounds(boolean cutShort) throws Exception {
        Path file = createDatabase();
        try (FreePages pages = FreePages.open(file, 0)) {
            assertThat(pages).isNotNull();
            for (int round = 0; round < 6; round++) {
                insert(150);
                deleteAbout(round % 2 == 0 ? 0.5 : 0.8);
                if (round == 3) {
                    // freed, used again and freed again before a pass: only the file's blocks tell
                    insert(60);
                    deleteAbout(1.0);
                }
                long punched = punchUntilDone(pages, cutShort, false).bytesFreed();
                if (round == 0) {
                    assertThat(punched).isGreaterThan(100L * PAGE);
                }
                assertThat(allocated(file)).as("round %d", round).isLessThanOrEqualTo(usedBytes() + 64 * 1024);
                assertThat(integrityCheck()).isEqualTo("ok");
                assertRowsIntact();
            }
        } finally {
            writer.close();
            checkpointer.close();
        }
    }

    /** A database with one table of blobs, in the log mode the daemon uses, and its two connections. */
    private Path createDatabase() throws SQLException {
        return createDatabase(dir);
    }

    private Path createDatabase(Path directory) throws SQLException {
        SqliteNative.load();
        Path file = directory.resolve("t.db");
        String url = "jdbc:sqlite:" + file;
        writer = DriverManager.getConnection(url);
        checkpointer = DriverManager.getConnection(url);
        try (Statement st = writer.createStatement()) {
            st.execute("PRAGMA page_size = " + PAGE);
            st.execute("PRAGMA journal_mode = WAL");
            st.execute("PRAGMA synchronous = OFF");
            st.execute("PRAGMA wal_autocheckpoint = 0");
            st.execute("CREATE TABLE t(k INTEGER PRIMARY KEY, v BLOB)");
        }
        return file;
    }

    /**
     * Empties the log and punches, as the daemon's checkpointer does, until a
     * pass finishes; returns the bytes all passes freed and the last one's kept bytes.
     */
    private FreePages.Pass punchUntilDone(FreePages pages, boolean cutShort, boolean keepNone) throws SQLException {
        long punched = 0;
        for (int pass = 0; pass < 100_000; pass++) {
            try (Statement st = checkpointer.createStatement();
                    ResultSet rs = st.executeQuery("PRAGMA wal_checkpoint(TRUNCATE)")) {
                assertThat(rs.next() && rs.getInt(1) == 0).isTrue();
            }
            FreePages.Pass done;
            try (Statement st = checkpointer.createStatement()) {
                st.execute("BEGIN IMMEDIATE");
                try {
                    done = pages.punch(cutShort ? System.nanoTime() : Long.MAX_VALUE, keepNone);
                } finally {
                    st.execute("COMMIT");
                }
            }
            punched += done.bytesFreed();
            if (done.finished()) {
                return new FreePages.Pass(punched, true, done.keptBytes(), done.dueNanos());
            }
        }
        throw new AssertionError("no pass finished");
    }

    private void insert(int count) throws Exception {
        try (Statement st = writer.createStatement();
                PreparedStatement ins = writer.prepareStatement("INSERT INTO t VALUES (?, ?)")) {
            st.execute("BEGIN");
            for (int i = 0; i < count; i++) {
                byte[] value = new byte[1 + random.nextInt(120_000)];
                random.nextBytes(value);
                int key = nextKey++;
                ins.setInt(1, key);
                ins.setBytes(2, value);
                ins.executeUpdate();
                rows.put(key, sha(value));
            }
            st.execute("COMMIT");
        }
    }

    private void deleteAbout(double share) throws Exception {
        List<Integer> keys = new ArrayList<>(rows.keySet());
        try (PreparedStatement del = writer.prepareStatement("DELETE FROM t WHERE k = ?")) {
            for (int key : keys) {
                if (random.nextDouble() < share) {
                    del.setInt(1, key);
                    del.executeUpdate();
                    rows.remove(key);
                }
            }
        }
    }

    private void assertRowsIntact() throws Exception {
        Map<Integer, String> seen = new HashMap<>();
        try (Statement st = writer.createStatement(); ResultSet rs = st.executeQuery("SELECT k, v FROM t")) {
            while (rs.next()) {
                seen.put(rs.getInt(1), sha(rs.getBytes(2)));
            }
        }
        assertThat(seen).isEqualTo(rows);
    }

    /** The bytes of pages in use: the whole file but the free list's leaves. */
    private long usedBytes() throws SQLException {
        try (Statement st = writer.createStatement();
                ResultSet count = st.executeQuery("PRAGMA page_count")) {
            count.next();
            long pages = count.getLong(1);
            try (ResultSet free = st.executeQuery("PRAGMA freelist_count")) {
                free.next();
                return (pages - free.getLong(1)) * PAGE;
            }
        }
    }

    private String integrityCheck() throws SQLException {
        try (Statement st = writer.createStatement(); ResultSet rs = st.executeQuery("PRAGMA integrity_check")) {
            rs.next();
            return rs.getString(1);
        }
    }

    private static long allocated(Path file) {
        FileStat st = POSIXFactory.getNativePOSIX().stat(file.toString());
        return st.blocks() * 512;
    }

    private static String sha(byte[] bytes) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    }
}
