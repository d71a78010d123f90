package io.sqliteos.db;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** SQLite's sqliteos_packed_entries against the layout the daemon reads back. */
class PackedEntriesTest {

    record Entry(String name, long ino, int type) {}

    @BeforeAll
    static void loadExtension() {
        SqliteNative.load();
        assertThat(SqliteExtension.packsEntries()).as("the extension is in the build").isTrue();
    }

    @Test
    void rowsArePackedInTheirOrderWithInodeTypeAndName() throws Exception {
        byte[] packed = pack("VALUES ('b', 7, 32768), ('\u00e9t\u00e9', 4294967301, 16384), ('\ud83d\ude00', 9, 40960)");
        assertThat(unpack(packed)).containsExactly(
                new Entry("b", 7, 32768), new Entry("\u00e9t\u00e9", 4294967301L, 16384), new Entry("\ud83d\ude00", 9, 40960));
        // 16 bytes of header and a NUL around each name's UTF-8 bytes
        assertThat(packed).hasSize(3 * 17 + 1 + 5 + 4);
        assertThat(packed[16 + 1]).isZero();
    }

    @Test
    void noRowsPackIntoNothing() throws Exception {
        byte[] packed = pack("SELECT * FROM (VALUES ('x', 1, 2)) WHERE 0");
        assertThat(packed == null ? new byte[0] : packed).isEmpty();
    }

    @Test
    void aMissingNameOrANameWithANulByteIsAnError() {
        assertThatThrownBy(() -> pack("VALUES ('a', 1, 0), (NULL, 2, 0)"))
                .isInstanceOf(SQLException.class).hasMessageContaining("a name is NULL");
        assertThatThrownBy(() -> pack("VALUES (CAST(x'610062' AS TEXT), 1, 0)"))
                .isInstanceOf(SQLException.class).hasMessageContaining("a name holds a NUL byte");
    }

    @Test
    void aResultPastTheConnectionsLengthLimitIsAnErrorNotACrash() throws Exception {
        try (Connection c = DriverManager.getConnection("jdbc:sqlite::memory:");
                Statement st = c.createStatement()) {
            c.unwrap(org.sqlite.SQLiteConnection.class).setLimit(org.sqlite.SQLiteLimits.SQLITE_LIMIT_LENGTH, 10_000);
            assertThatThrownBy(() -> st.executeQuery("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000)"
                    + " SELECT sqliteos_packed_entries('entry-' || i, i, 0) FROM n"))
                    .isInstanceOf(SQLException.class).hasMessageContaining("too big");
        }
    }

    private static byte[] pack(String rows) throws SQLException {
        try (Connection c = DriverManager.getConnection("jdbc:sqlite::memory:");
                Statement st = c.createStatement();
                ResultSet rs = st.executeQuery("SELECT sqliteos_packed_entries(column1, column2, column3) FROM (" + rows + ")")) {
            rs.next();
            return rs.getBytes(1);
        }
    }

    private static List<Entry> unpack(byte[] packed) {
        List<Entry> out = new ArrayList<>();
        PackedEntries.forEach(packed, (name, ino, type) -> out.add(new Entry(new String(name, StandardCharsets.UTF_8), ino, type)));
        return out;
    }
}
