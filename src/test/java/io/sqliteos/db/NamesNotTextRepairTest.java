package io.sqliteos.db;

import static org.assertj.core.api.Assertions.assertThat;

import io.sqliteos.fs.BlockLayout;
import io.sqliteos.fs.Caller;
import io.sqliteos.fs.DirEntry;
import io.sqliteos.fs.FileSystem;
import io.sqliteos.fs.Mode;
import io.sqliteos.tx.SessionRouter;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * fsck --repair on names stored as blobs (never by the daemon, only by hand):
 * they become text, so that the directory lists again with every entry in it.
 */
class NamesNotTextRepairTest {

    @TempDir
    Path dir;

    @Test
    void blobNamesBecomeTheirTextOrTheirInodeNumberAndTheDirectoryListsWhole() throws Exception {
        Path db = dir.resolve("fs.db");
        try (Database database = Database.open(db, 5000)) {
            FileSystem fs = new FileSystem(new SessionRouter(database), 1L << 30);
            fs.initialize(0, 0);
            fs.mkdir(Caller.ROOT, "/d", 0755);
            for (String name : List.of("plain", "\u00e9t\u00e9", "twin", "bad", "sub")) {
                if (name.equals("sub")) {
                    fs.mkdir(Caller.ROOT, "/d/" + name, 0755);
                } else {
                    fs.mknod(Caller.ROOT, "/d/" + name, Mode.S_IFREG | 0644, 0);
                }
            }
        }
        long twin;
        long bad;
        try (Connection c = Database.inspect(db); Statement st = c.createStatement()) {
            // names UTF-8 would spell, one of them a directory's; one whose text another entry has; bytes no name has
            st.executeUpdate("UPDATE dirent SET name = CAST(name AS BLOB) WHERE name IN ('\u00e9t\u00e9', 'sub', 'twin')");
            twin = single(c, "SELECT ino FROM dirent WHERE name = CAST('twin' AS BLOB)");
            st.executeUpdate("INSERT INTO inode (mode, uid, gid, nlink, atime_ns, mtime_ns, ctime_ns)"
                    + " SELECT mode, uid, gid, 1, 0, 0, 0 FROM inode WHERE ino = " + twin);
            long other = single(c, "SELECT last_insert_rowid()");
            st.executeUpdate("UPDATE fsinfo SET inode_count = inode_count + 1"); // as the daemon counts the inodes it adds
            st.executeUpdate("INSERT INTO dirent (parent, name, ino, type) SELECT parent, 'twin', " + other + ", type"
                    + " FROM dirent WHERE ino = " + twin);
            bad = single(c, "SELECT ino FROM dirent WHERE name = 'bad'");
            st.executeUpdate("UPDATE dirent SET name = x'ff2f00' WHERE ino = " + bad);

            IntegrityCheck fsck = new IntegrityCheck(c, BlockLayout.BLOCK_SIZE);
            List<IntegrityCheck.Problem> problems = fsck.check();
            assertThat(problems).hasSize(4).allSatisfy(p -> {
                assertThat(p.invariant()).isEqualTo("dirent");
                assertThat(p.detail()).endsWith("is stored as blob, not text");
                assertThat(p.repairable()).isTrue();
            });

            assertThat(fsck.repair()).containsExactlyInAnyOrder(
                    "stored 2 names held as blobs as text",
                    "renamed entry X'7477696e' in directory " + parentOf(c, twin) + " to '#" + twin
                            + "': its bytes are not a name, or another entry has it",
                    "renamed entry X'ff2f00' in directory " + parentOf(c, bad) + " to '#" + bad
                            + "': its bytes are not a name, or another entry has it");
            assertThat(fsck.check()).isEmpty();
        }
        try (Database database = Database.open(db, 5000)) {
            FileSystem fs = new FileSystem(new SessionRouter(database), 1L << 30);
            fs.initialize(0, 0);
            assertThat(fs.readdir(Caller.ROOT, "/d", 0)).extracting(DirEntry::name).containsExactlyInAnyOrder(
                    ".", "..", "plain", "\u00e9t\u00e9", "twin", "#" + twin, "#" + bad, "sub");
            assertThat(fs.getattr(Caller.ROOT, "/d/#" + twin).ino()).isEqualTo(twin);
            assertThat(Mode.type(fs.getattr(Caller.ROOT, "/d/sub").mode())).isEqualTo(Mode.S_IFDIR);
            assertThat(fs.readdir(Caller.ROOT, "/d/sub", 0)).hasSize(2);
        }
    }

    private static long parentOf(Connection c, long ino) throws Exception {
        return single(c, "SELECT parent FROM dirent WHERE ino = " + ino);
    }

    private static long single(Connection c, String query) throws Exception {
        try (PreparedStatement ps = c.prepareStatement(query); ResultSet rs = ps.executeQuery()) {
            assertThat(rs.next()).as(query).isTrue();
            return rs.getLong(1);
        }
    }
}
