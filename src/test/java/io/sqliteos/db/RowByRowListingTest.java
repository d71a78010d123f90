package io.sqliteos.db;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The listing a daemon falls back on when the SQLite extension cannot load:
 * row by row, it must give what the packed listing gives.
 */
class RowByRowListingTest {

    record Entry(String name, long ino, int type) {}

    private static final long ROOT = 1;
    private static final int[] MODES = {0100644, 040755, 0120777, 0010644, 0140755};

    private final Database database = Database.openEphemeral(5_000);

    @AfterEach
    void close() {
        database.close();
    }

    @Test
    void rowByRowListsEveryNameOnceInByteOrderAsThePackedListingDoes() {
        // names of one to four UTF-8 bytes a character, so that byte order and UTF-16 order differ
        String[] stems = {"z", "\u00e9t\u00e9", "\u65e5\u672c", "\ud83d\ude00", "\uffee", "a"};
        int count = 2 * PackedEntries.PAGE + 3;
        List<Entry> made = database.write(s -> {
            List<Entry> entries = new ArrayList<>();
            for (int i = 0; i < count; i++) {
                InodeRow r = new InodeRow();
                r.mode = MODES[i % MODES.length];
                r.nlink = 1;
                long ino = s.insertInode(r);
                String name = stems[i % stems.length] + "-" + i;
                s.insertDirent(ROOT, name, ino);
                entries.add(new Entry(name, ino, r.mode & 0170000));
            }
            return entries;
        });
        List<Entry> expected = made.stream()
                .sorted((x, y) -> Arrays.compareUnsigned(utf8(x.name()), utf8(y.name()))).toList();

        List<Entry> rowByRow = database.read(s -> list(s, true));
        List<Entry> packed = database.read(s -> list(s, false));

        assertThat(rowByRow).hasSize(count).containsExactlyElementsOf(expected);
        assertThat(packed).containsExactlyElementsOf(rowByRow);
        // a listing taken up a page at a time, each part after the name the part before ended with
        List<Entry> rowByRowInParts = database.read(s -> listInParts(s, true));
        List<Entry> packedInParts = database.read(s -> listInParts(s, false));
        assertThat(rowByRowInParts).containsExactlyElementsOf(expected);
        assertThat(packedInParts).containsExactlyElementsOf(expected);
    }

    @Test
    void anEmptyDirectoryListsNothing() {
        List<Entry> entries = database.read(s -> list(s, true));
        assertThat(entries).isEmpty();
    }

    private static List<Entry> list(Store s, boolean rowByRow) {
        List<Entry> entries = new ArrayList<>();
        byte[] last = part((SqliteStore) s, rowByRow, new byte[0], Integer.MAX_VALUE, entries);
        assertThat(last).as("a whole listing reaches the end").isNull();
        return entries;
    }

    private static List<Entry> listInParts(Store s, boolean rowByRow) {
        List<Entry> entries = new ArrayList<>();
        int parts = 0;
        for (byte[] after = new byte[0]; after != null; parts++) {
            int before = entries.size();
            after = part((SqliteStore) s, rowByRow, after, 1, entries);
            assertThat(entries.size() - before).isBetween(1, PackedEntries.PAGE + 1);
            if (after != null) {
                assertThat(entries.get(entries.size() - 1).name()).isEqualTo(new String(after, StandardCharsets.UTF_8));
            }
        }
        assertThat(parts).isGreaterThan(2);
        return entries;
    }

    private static byte[] part(SqliteStore store, boolean rowByRow, byte[] after, int pages, List<Entry> into) {
        Store.EntrySink sink = (name, ino, type) -> into.add(new Entry(new String(name, StandardCharsets.UTF_8), ino, type));
        try {
            return rowByRow ? store.listRowByRow(ROOT, after, pages, sink) : store.listPacked(ROOT, after, pages, sink);
        } catch (SQLException e) {
            throw new AssertionError(e);
        }
    }

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
