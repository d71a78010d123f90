package io.sqliteos.db;

import static io.sqliteos.db.ModeBits.S_IFDIR;
import static io.sqliteos.db.ModeBits.S_IFMT;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * fsck for a SQLiteOS database: checks every invariant of the data model and,
 * when asked, repairs what can be repaired. Works on a connection of its own,
 * never on a mounted file system's live connections.
 */
public final class IntegrityCheck {

    private static final long ROOT = 1;

    /** One broken invariant, and whether {@link #repair} can mend it. */
    public record Problem(String invariant, String detail, boolean repairable) {
        @Override
        public String toString() {
            return invariant + ": " + detail;
        }
    }

    private final Connection c;
    private final int blockSize;

    public IntegrityCheck(Connection connection, int blockSize) {
        this.c = connection;
        this.blockSize = blockSize;
    }

    /** All problems found; empty for a consistent file system. */
    public List<Problem> check() throws SQLException {
        List<Problem> out = new ArrayList<>();
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("PRAGMA quick_check")) {
            while (rs.next()) {
                if (!"ok".equals(rs.getString(1))) {
                    out.add(new Problem("sqlite", rs.getString(1), false));
                }
            }
        }
        int version = SchemaMigrator.currentVersion(c);
        int latest = SchemaMigrator.latestVersion();
        if (version == 0 || version > latest) {
            out.add(new Problem("schema", "schema version " + version + " is not one this SQLiteOS knows (1.." + latest + ")", false));
            return out;
        }
        if (version < latest) {
            // the checks below read the newest layout; a mount migrates the file first
            out.add(new Problem("schema", "schema version " + version + " predates this SQLiteOS's " + latest
                    + "; mount the file once to upgrade it, then check it", false));
            return out;
        }
        rows(out, "root", false, "SELECT 'the root directory (inode 1) is missing or not a directory'"
                + " WHERE NOT EXISTS (SELECT 1 FROM inode WHERE ino = 1 AND (mode & " + S_IFMT + ") = " + S_IFDIR + ")");
        rows(out, "dirent", true, "SELECT 'entry ' || quote(d.name) || ' in directory ' || d.parent || ' names missing inode ' || d.ino"
                + " FROM dirent d LEFT JOIN inode i ON i.ino = d.ino WHERE i.ino IS NULL");
        rows(out, "dirent", true, "SELECT 'entry ' || quote(d.name) || ' (inode ' || d.ino || ') is in ' || d.parent"
                + " || ', which is missing or not a directory' FROM dirent d LEFT JOIN inode p ON p.ino = d.parent"
                + " WHERE p.ino IS NULL OR (p.mode & " + S_IFMT + ") != " + S_IFDIR);
        rows(out, "dirent", true, "SELECT 'entry ' || quote(d.name) || ' in directory ' || d.parent || ' records type ' || d.type"
                + " || ' but inode ' || d.ino || ' has type ' || (i.mode & " + S_IFMT + ")"
                + " FROM dirent d JOIN inode i ON i.ino = d.ino WHERE d.type != (i.mode & " + S_IFMT + ")");
        // the daemon writes names as text; a listing cannot page past a name stored otherwise
        rows(out, "dirent", true, "SELECT 'entry ' || quote(name) || ' in directory ' || parent || ' is stored as '"
                + " || typeof(name) || ', not text' FROM dirent WHERE typeof(name) != 'text'");
        rows(out, "extent", true, "SELECT 'extent ' || e.key || ' belongs to missing inode ' || e.ino"
                + " FROM extent e LEFT JOIN inode i ON i.ino = e.ino WHERE i.ino IS NULL");
        rows(out, "extent", true, "SELECT 'extent ' || key || ' of inode ' || ino || ' at offset ' || offset"
                + " || ' does not match its key or holds ' || length(data) || ' bytes' FROM extent"
                + " WHERE (key >> 32) != ino OR (key & 4294967295) * " + blockSize + " != offset OR length(data) > " + blockSize);
        rows(out, "xattr", true, "SELECT 'attribute ' || quote(x.name) || ' belongs to missing inode ' || x.ino"
                + " FROM xattr x LEFT JOIN inode i ON i.ino = x.ino WHERE i.ino IS NULL");
        rows(out, "alloc", true, "SELECT 'inode ' || i.ino || ' records ' || i.alloc || ' allocated bytes but its extents hold '"
                + " || coalesce(e.bytes, 0) FROM inode i LEFT JOIN (SELECT ino, sum(length(data)) AS bytes FROM extent GROUP BY ino) e"
                + " ON e.ino = i.ino WHERE i.alloc != coalesce(e.bytes, 0)");
        rows(out, "nlink", true, "SELECT 'inode ' || i.ino || ' has nlink ' || i.nlink || ' but ' || coalesce(d.n, 0) || ' names'"
                + " FROM inode i LEFT JOIN (SELECT ino, count(*) AS n FROM dirent GROUP BY ino) d ON d.ino = i.ino"
                + " WHERE (i.mode & " + S_IFMT + ") != " + S_IFDIR + " AND i.nlink != coalesce(d.n, 0)");
        rows(out, "nlink", true, "SELECT 'directory ' || i.ino || ' has nlink ' || i.nlink || ' but 2 + ' || coalesce(s.n, 0)"
                + " || ' subdirectories' FROM inode i LEFT JOIN (SELECT d.parent, count(*) AS n FROM dirent d JOIN inode c"
                + " ON c.ino = d.ino WHERE (c.mode & " + S_IFMT + ") = " + S_IFDIR + " GROUP BY d.parent) s ON s.parent = i.ino"
                + " WHERE (i.mode & " + S_IFMT + ") = " + S_IFDIR + " AND i.nlink > 0 AND i.nlink != 2 + coalesce(s.n, 0)");
        rows(out, "tree", false, "SELECT 'directory ' || ino || ' has ' || count(*) || ' names (a directory has exactly one)'"
                + " FROM dirent WHERE ino IN (SELECT ino FROM inode WHERE (mode & " + S_IFMT + ") = " + S_IFDIR + ")"
                + " GROUP BY ino HAVING count(*) > 1");
        rows(out, "tree", false, "SELECT 'the root directory has a name in directory ' || parent FROM dirent WHERE ino = 1");
        rows(out, "used_bytes", true, "SELECT 'fsinfo.used_bytes is ' || f.used_bytes || ' but extents and attributes hold ' || t.bytes"
                + " FROM fsinfo f, (SELECT (SELECT coalesce(sum(length(data)), 0) FROM extent)"
                + " + (SELECT coalesce(sum(length(CAST(name AS BLOB)) + length(value)), 0) FROM xattr) AS bytes) t"
                + " WHERE f.id = 1 AND f.used_bytes != t.bytes");
        rows(out, "used_bytes", true, "SELECT 'the fsinfo row is missing' WHERE NOT EXISTS (SELECT 1 FROM fsinfo WHERE id = 1)");
        rows(out, "inode_count", true, "SELECT 'fsinfo.inode_count is ' || f.inode_count || ' but the inode table holds ' || n.c"
                + " FROM fsinfo f, (SELECT count(*) AS c FROM inode) n WHERE f.id = 1 AND f.inode_count != n.c");
        for (long ino : disconnected()) {
            out.add(new Problem("tree", "inode " + ino + " has a link count but cannot be reached from the root", true));
        }
        return out;
    }

    /** Orphans: inodes with no name left, from files that were open when the daemon stopped. Freed at mount. */
    public long orphans() throws SQLException {
        try (Statement st = c.createStatement();
             ResultSet rs = st.executeQuery("SELECT count(*) FROM inode WHERE nlink = 0")) {
            rs.next();
            return rs.getLong(1);
        }
    }

    private void rows(List<Problem> out, String invariant, boolean repairable, String query) throws SQLException {
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery(query)) {
            while (rs.next()) {
                out.add(new Problem(invariant, rs.getString(1), repairable));
            }
        }
    }

    /** Inodes with links that no path from the root reaches (a cut-off subtree or a cycle). */
    private Set<Long> disconnected() throws SQLException {
        Map<Long, List<Long>> children = new HashMap<>();
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT parent, ino FROM dirent")) {
            while (rs.next()) {
                children.computeIfAbsent(rs.getLong(1), k -> new ArrayList<>()).add(rs.getLong(2));
            }
        }
        Set<Long> seen = new HashSet<>();
        Deque<Long> todo = new ArrayDeque<>(List.of(ROOT));
        while (!todo.isEmpty()) {
            long ino = todo.pop();
            if (seen.add(ino)) {
                todo.addAll(children.getOrDefault(ino, List.of()));
            }
        }
        Set<Long> lost = new HashSet<>();
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT ino FROM inode WHERE nlink > 0")) {
            while (rs.next()) {
                if (!seen.contains(rs.getLong(1))) {
                    lost.add(rs.getLong(1));
                }
            }
        }
        return lost;
    }

    /**
     * Mends what can be mended, in one transaction, and returns what it did:
     * dangling rows are dropped, names stored as blobs become text (or, when
     * their bytes are no name, {@code #INODE}), disconnected inodes are moved
     * into /lost+found, and link counts and byte counters are recomputed.
     */
    public List<String> repair() throws SQLException {
        List<String> done = new ArrayList<>();
        boolean auto = c.getAutoCommit();
        c.setAutoCommit(false);
        try {
            done.addAll(update("dropped %d entries naming missing inodes",
                    "DELETE FROM dirent WHERE ino NOT IN (SELECT ino FROM inode)"));
            done.addAll(update("dropped %d entries in missing or non-directory parents",
                    "DELETE FROM dirent WHERE parent NOT IN (SELECT ino FROM inode WHERE (mode & " + S_IFMT + ") = " + S_IFDIR + ")"));
            done.addAll(update("corrected the type of %d entries",
                    "UPDATE dirent SET type = (SELECT mode & " + S_IFMT + " FROM inode WHERE inode.ino = dirent.ino)"
                            + " WHERE type != (SELECT mode & " + S_IFMT + " FROM inode WHERE inode.ino = dirent.ino)"));
            done.addAll(update("dropped %d extents of missing inodes", "DELETE FROM extent WHERE ino NOT IN (SELECT ino FROM inode)"));
            done.addAll(update("dropped %d extents whose key does not match their inode and offset",
                    "DELETE FROM extent WHERE (key >> 32) != ino OR (key & 4294967295) * " + blockSize + " != offset"
                            + " OR length(data) > " + blockSize));
            done.addAll(update("dropped %d attributes of missing inodes", "DELETE FROM xattr WHERE ino NOT IN (SELECT ino FROM inode)"));
            done.addAll(storeNamesAsText());
            Set<Long> lost = disconnected();
            if (!lost.isEmpty()) {
                long lostFound = lostAndFound();
                for (long ino : lost) {
                    // only the top of a cut-off subtree needs a new name; its children come along
                    if (isTopOfLostSubtree(ino, lost)) {
                        try (PreparedStatement ps = c.prepareStatement(
                                "DELETE FROM dirent WHERE ino = ?1 AND (SELECT mode & " + S_IFMT + " FROM inode WHERE ino = ?1) = " + S_IFDIR)) {
                            ps.setLong(1, ino);
                            ps.executeUpdate();
                        }
                        try (PreparedStatement ps = c.prepareStatement("INSERT OR REPLACE INTO dirent (parent, name, ino, type)"
                                + " VALUES (?1, ?2, ?3, (SELECT mode & " + S_IFMT + " FROM inode WHERE ino = ?3))")) {
                            ps.setLong(1, lostFound);
                            ps.setString(2, "#" + ino);
                            ps.setLong(3, ino);
                            ps.executeUpdate();
                        }
                        done.add("moved disconnected inode " + ino + " to /lost+found/#" + ino);
                    }
                }
            }
            done.addAll(update("recomputed the link count of %d files",
                    "UPDATE inode SET nlink = (SELECT count(*) FROM dirent WHERE dirent.ino = inode.ino)"
                            + " WHERE (mode & " + S_IFMT + ") != " + S_IFDIR
                            + " AND nlink != (SELECT count(*) FROM dirent WHERE dirent.ino = inode.ino)"));
            done.addAll(update("recomputed the link count of %d directories",
                    "UPDATE inode SET nlink = 2 + (SELECT count(*) FROM dirent d JOIN inode c ON c.ino = d.ino"
                            + " WHERE d.parent = inode.ino AND (c.mode & " + S_IFMT + ") = " + S_IFDIR + ")"
                            + " WHERE (mode & " + S_IFMT + ") = " + S_IFDIR + " AND nlink > 0 AND nlink != 2 + (SELECT count(*)"
                            + " FROM dirent d JOIN inode c ON c.ino = d.ino WHERE d.parent = inode.ino AND (c.mode & " + S_IFMT + ") = " + S_IFDIR + ")"));
            done.addAll(update("recomputed the allocated bytes of %d inodes",
                    "UPDATE inode SET alloc = (SELECT coalesce(sum(length(data)), 0) FROM extent WHERE extent.ino = inode.ino)"
                            + " WHERE alloc != (SELECT coalesce(sum(length(data)), 0) FROM extent WHERE extent.ino = inode.ino)"));
            done.addAll(update("recreated the fsinfo row (%d)",
                    "INSERT INTO fsinfo (id, used_bytes, created_ns) SELECT 1, 0, 0 WHERE NOT EXISTS (SELECT 1 FROM fsinfo WHERE id = 1)"));
            done.addAll(update("recounted the inodes (%d)",
                    "UPDATE fsinfo SET inode_count = (SELECT count(*) FROM inode)"
                            + " WHERE id = 1 AND inode_count != (SELECT count(*) FROM inode)"));
            done.addAll(update("recomputed the used bytes (%d)",
                    "UPDATE fsinfo SET used_bytes = (SELECT coalesce(sum(length(data)), 0) FROM extent)"
                            + " + (SELECT coalesce(sum(length(CAST(name AS BLOB)) + length(value)), 0) FROM xattr)"
                            + " WHERE id = 1 AND used_bytes != (SELECT coalesce(sum(length(data)), 0) FROM extent)"
                            + " + (SELECT coalesce(sum(length(CAST(name AS BLOB)) + length(value)), 0) FROM xattr)"));
            c.commit();
        } catch (SQLException | RuntimeException e) {
            c.rollback();
            throw e;
        } finally {
            c.setAutoCommit(auto);
        }
        return done;
    }

    /**
     * Stores each name held as a blob as text: its own bytes when they are a
     * name the daemon could have written (UTF-8, 1 to 255 bytes, no '/' or NUL,
     * not "." or "..") that no other entry of its directory has; otherwise
     * {@code #INODE} (with a number after it if that is taken too).
     */
    private List<String> storeNamesAsText() throws SQLException {
        record Stored(long parent, byte[] name, long ino) {}
        List<Stored> blobs = new ArrayList<>();
        try (Statement st = c.createStatement();
                ResultSet rs = st.executeQuery("SELECT parent, name, ino FROM dirent WHERE typeof(name) != 'text'")) {
            while (rs.next()) {
                blobs.add(new Stored(rs.getLong(1), rs.getBytes(2), rs.getLong(3)));
            }
        }
        List<String> done = new ArrayList<>();
        int asTheyWere = 0;
        try (PreparedStatement rename = c.prepareStatement("UPDATE dirent SET name = ? WHERE parent = ? AND name = ?")) {
            for (Stored b : blobs) {
                String name = asName(b.name());
                if (name == null || hasEntry(b.parent(), name)) {
                    name = freeName(b.parent(), "#" + b.ino());
                    done.add("renamed entry X'" + java.util.HexFormat.of().formatHex(b.name()) + "' in directory "
                            + b.parent() + " to '" + name + "': its bytes are not a name, or another entry has it");
                } else {
                    asTheyWere++;
                }
                rename.setString(1, name);
                rename.setLong(2, b.parent());
                rename.setBytes(3, b.name());
                rename.executeUpdate();
            }
        }
        if (asTheyWere > 0) {
            done.add(0, "stored " + asTheyWere + " names held as blobs as text");
        }
        return done;
    }

    /** The name these bytes spell, or null if the daemon could not have written them as one. */
    private static String asName(byte[] bytes) {
        if (bytes.length == 0 || bytes.length > 255) {
            return null;
        }
        for (byte b : bytes) {
            if (b == '/' || b == 0) {
                return null;
            }
        }
        try {
            String name = java.nio.charset.StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(java.nio.charset.CodingErrorAction.REPORT)
                    .onUnmappableCharacter(java.nio.charset.CodingErrorAction.REPORT)
                    .decode(java.nio.ByteBuffer.wrap(bytes)).toString();
            return name.equals(".") || name.equals("..") ? null : name;
        } catch (java.nio.charset.CharacterCodingException e) {
            return null;
        }
    }

    private boolean hasEntry(long parent, String name) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT 1 FROM dirent WHERE parent = ? AND name = ?")) {
            ps.setLong(1, parent);
            ps.setString(2, name);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next();
            }
        }
    }

    /** {@code base}, or {@code base.N} for the first N that {@code parent} has no entry of. */
    private String freeName(long parent, String base) throws SQLException {
        String name = base;
        for (int n = 1; hasEntry(parent, name); n++) {
            name = base + "." + n;
        }
        return name;
    }

    private boolean isTopOfLostSubtree(long ino, Set<Long> lost) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT parent FROM dirent WHERE ino = ?")) {
            ps.setLong(1, ino);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    if (lost.contains(rs.getLong(1)) && rs.getLong(1) != ino) {
                        return false;
                    }
                }
            }
        }
        return true;
    }

    private long lostAndFound() throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT ino FROM dirent WHERE parent = 1 AND name = 'lost+found'")) {
            try (ResultSet rs = ps.executeQuery()) {
                if (rs.next()) {
                    return rs.getLong(1);
                }
            }
        }
        long now = System.currentTimeMillis() * 1_000_000L;
        try (Statement st = c.createStatement()) {
            st.executeUpdate("INSERT INTO inode (mode, uid, gid, nlink, atime_ns, mtime_ns, ctime_ns) VALUES ("
                    + (S_IFDIR | 0700) + ", 0, 0, 2, " + now + ", " + now + ", " + now + ")");
            long ino;
            try (ResultSet rs = st.executeQuery("SELECT last_insert_rowid()")) {
                rs.next();
                ino = rs.getLong(1);
            }
            st.executeUpdate("INSERT INTO dirent (parent, name, ino, type) VALUES (1, 'lost+found', " + ino + ", " + S_IFDIR + ")");
            return ino;
        }
    }

    private List<String> update(String format, String sql) throws SQLException {
        try (Statement st = c.createStatement()) {
            int n = st.executeUpdate(sql);
            return n == 0 ? List.of() : List.of(String.format(format, n));
        }
    }
}
