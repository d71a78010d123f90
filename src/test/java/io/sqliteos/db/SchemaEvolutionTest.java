package io.sqliteos.db;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.sqliteos.fs.BlockLayout;
import io.sqliteos.fs.Caller;
import io.sqliteos.fs.FileSystem;
import io.sqliteos.tx.SessionRouter;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A database written by schema version 1 (fixtures/schema-v1.db: made by
 * mounting with --db, creating docs/old/note.txt with a hard link docs/link, an
 * attribute user.origin=v1 and a 100,000-byte docs/big, then unmounting) is
 * opened by this build and upgraded by numbered migrations without losing anything.
 */
class SchemaEvolutionTest {

    @TempDir
    Path dir;

    Path storedVersionOne() throws Exception {
        Path copy = dir.resolve("old.db");
        try (InputStream in = getClass().getResourceAsStream("/fixtures/schema-v1.db")) {
            Files.copy(in, copy);
        }
        return copy;
    }

    static long count(Connection c, String sql) throws Exception {
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql)) {
            rs.next();
            return rs.getLong(1);
        }
    }

    @Test
    void aVersionOneDatabaseIsUpgradedByTheNextNumberedMigration() throws Exception {
        Path db = storedVersionOne();
        int latest = SchemaMigrator.latestVersion();
        List<SchemaMigrator.Migration> withNext = new ArrayList<>(SchemaMigrator.shipped());
        withNext.add(new SchemaMigrator.Migration(latest + 1, String.format("%03d-generation.sql", latest + 1),
                "-- a later version adds a column and an index\n"
                        + "ALTER TABLE inode ADD COLUMN generation INTEGER NOT NULL DEFAULT 0;\n"
                        + "CREATE INDEX inode_by_generation ON inode(generation);\n"));
        try (Connection c = Database.inspect(db)) {
            assertThat(SchemaMigrator.currentVersion(c)).isEqualTo(1);
            long inodes = count(c, "SELECT count(*) FROM inode");
            long bytes = count(c, "SELECT sum(length(data)) FROM extent");

            SchemaMigrator.migrate(c, withNext);

            assertThat(SchemaMigrator.currentVersion(c)).isEqualTo(latest + 1);
            assertThat(count(c, "SELECT count(*) FROM schema_migration")).isEqualTo(latest + 1);
            assertThat(count(c, "SELECT count(*) FROM inode")).isEqualTo(inodes);
            assertThat(count(c, "SELECT sum(length(data)) FROM extent")).isEqualTo(bytes).isGreaterThanOrEqualTo(100_000);
            assertThat(count(c, "SELECT count(*) FROM inode WHERE generation = 0")).isEqualTo(inodes);

            SchemaMigrator.migrate(c, withNext); // idempotent: nothing left to apply
            assertThat(count(c, "SELECT count(*) FROM schema_migration")).isEqualTo(latest + 1);
        }
    }

    @Test
    void thisBuildMountsTheStoredDatabaseAndReadsItsFiles() throws Exception {
        Path db = storedVersionOne();
        try (Database database = Database.open(db, 5000)) {
            FileSystem fs = new FileSystem(new SessionRouter(database), 1L << 30);
            fs.initialize(0, 0);
            Caller root = Caller.ROOT;
            assertThat(fs.getattr(root, "/docs/link").nlink()).isEqualTo(2);
            long fh = fs.open(root, "/docs/old/note.txt", 0);
            byte[] buf = new byte[100];
            int n = fs.read(root, fh, buf, buf.length, 0);
            fs.release(root, fh);
            assertThat(new String(buf, 0, n, StandardCharsets.UTF_8)).isEqualTo("written by schema version 1\n");
            assertThat(new String(fs.getxattr(root, "/docs/old/note.txt", "user.origin"), StandardCharsets.UTF_8)).isEqualTo("v1");
            assertThat(fs.getattr(root, "/docs/big").size()).isEqualTo(100_000);
            assertThat(database.check(BlockLayout.BLOCK_SIZE)).isEmpty();
        }
        try (Connection c = Database.inspect(db)) {
            assertThat(SchemaMigrator.currentVersion(c)).isEqualTo(SchemaMigrator.latestVersion());
        }
    }

    /** A file's bytes as its stored blocks hold them, holes and short blocks as zeros. */
    static byte[] storedBytes(Connection c, String name) throws Exception {
        try (Statement st = c.createStatement();
                ResultSet file = st.executeQuery("SELECT i.ino, i.size FROM inode i JOIN dirent d ON d.ino = i.ino WHERE d.name = '" + name + "'")) {
            assertThat(file.next()).isTrue();
            long ino = file.getLong(1);
            byte[] out = new byte[(int) file.getLong(2)];
            try (Statement blocks = c.createStatement();
                    ResultSet rs = blocks.executeQuery("SELECT offset, data FROM extent WHERE ino = " + ino)) {
                while (rs.next()) {
                    byte[] data = rs.getBytes(2);
                    System.arraycopy(data, 0, out, (int) rs.getLong(1), Math.min(data.length, out.length - (int) rs.getLong(1)));
                }
            }
            return out;
        }
    }

    @Test
    void version4CutsLargeBlocksWithoutChangingAByte() throws Exception {
        Path db = storedVersionOne();
        byte[] before;
        long storedBefore;
        try (Connection c = Database.inspect(db)) {
            before = storedBytes(c, "big");
            storedBefore = count(c, "SELECT sum(length(data)) FROM extent");
            assertThat(count(c, "SELECT max(length(data)) FROM extent")).as("the fixture has 64 KiB blocks").isEqualTo(65_536);
        }
        try (Database database = Database.open(db, 5000)) {
            FileSystem fs = new FileSystem(new SessionRouter(database), 1L << 30);
            fs.initialize(0, 0);
            long fh = fs.open(Caller.ROOT, "/docs/big", 0);
            byte[] read = new byte[before.length];
            byte[] chunk = new byte[4096];
            for (int at = 0; at < read.length; ) {
                int got = fs.read(Caller.ROOT, fh, chunk, chunk.length, at);
                assertThat(got).isPositive();
                System.arraycopy(chunk, 0, read, at, got);
                at += got;
            }
            assertThat(read).isEqualTo(before);
            fs.release(Caller.ROOT, fh);
            assertThat(database.check(BlockLayout.BLOCK_SIZE)).isEmpty();
        }
        try (Connection c = Database.inspect(db)) {
            assertThat(count(c, "SELECT max(length(data)) FROM extent")).isEqualTo(BlockLayout.BLOCK_SIZE);
            assertThat(count(c, "SELECT sum(length(data)) FROM extent")).isEqualTo(storedBefore);
            assertThat(count(c, "SELECT sum(alloc) FROM inode")).isEqualTo(storedBefore);
            assertThat(storedBytes(c, "big")).isEqualTo(before);
        }
    }

    @Test
    void version5GivesEveryEntryItsInodesType() throws Exception {
        Path db = storedVersionOne();
        try (Connection c = Database.inspect(db)) {
            long entries = count(c, "SELECT count(*) FROM dirent");
            assertThat(count(c, "SELECT count(DISTINCT i.mode & 61440) FROM dirent d JOIN inode i ON i.ino = d.ino"))
                    .as("the fixture names files of several types").isGreaterThanOrEqualTo(2);
            assertThat(new IntegrityCheck(c, BlockLayout.BLOCK_SIZE).check()).singleElement()
                    .hasToString("schema: schema version 1 predates this SQLiteOS's " + SchemaMigrator.latestVersion()
                            + "; mount the file once to upgrade it, then check it");

            SchemaMigrator.migrate(c);

            assertThat(count(c, "SELECT count(*) FROM dirent")).isEqualTo(entries);
            assertThat(count(c, "SELECT count(*) FROM dirent d JOIN inode i ON i.ino = d.ino"
                    + " WHERE d.type = (i.mode & 61440)")).isEqualTo(entries);
            assertThat(new IntegrityCheck(c, BlockLayout.BLOCK_SIZE).check()).isEmpty();

            // fsck finds an entry whose type disagrees with its inode, and mends it
            try (Statement st = c.createStatement()) {
                assertThat(st.executeUpdate("UPDATE dirent SET type = 16384 WHERE name = 'note.txt'")).isOne();
            }
            IntegrityCheck fsck = new IntegrityCheck(c, BlockLayout.BLOCK_SIZE);
            assertThat(fsck.check()).singleElement().hasToString(
                    "dirent: entry 'note.txt' in directory " + count(c, "SELECT parent FROM dirent WHERE name = 'note.txt'")
                            + " records type 16384 but inode " + count(c, "SELECT ino FROM dirent WHERE name = 'note.txt'")
                            + " has type 32768");
            assertThat(fsck.repair()).containsExactly("corrected the type of 1 entries");
            assertThat(fsck.check()).isEmpty();
        }
    }

    @Test
    void version6CountsTheInodesAndTheDaemonKeepsTheCount() throws Exception {
        Path db = storedVersionOne();
        long inodes;
        try (Connection c = Database.inspect(db)) {
            inodes = count(c, "SELECT count(*) FROM inode");
            assertThat(inodes).as("the fixture has several files").isGreaterThanOrEqualTo(5);
            SchemaMigrator.migrate(c);
            assertThat(count(c, "SELECT inode_count FROM fsinfo")).isEqualTo(inodes);
        }
        try (Database database = Database.open(db, 5000)) {
            FileSystem fs = new FileSystem(new SessionRouter(database), 1L << 30);
            fs.initialize(0, 0);
            long free = fs.statfs(Caller.ROOT).freeInodes();
            fs.mkdir(Caller.ROOT, "/new", 0755);
            for (int i = 0; i < 10; i++) {
                fs.release(Caller.ROOT, fs.create(Caller.ROOT, "/new/f" + i, 0644, 2));
            }
            fs.unlink(Caller.ROOT, "/new/f0");
            fs.link(Caller.ROOT, "/new/f1", "/new/f1-again");
            assertThat(fs.statfs(Caller.ROOT).freeInodes()).isEqualTo(free - 10);
            assertThat(database.check(BlockLayout.BLOCK_SIZE)).isEmpty();
        }
        try (Connection c = Database.inspect(db)) {
            assertThat(count(c, "SELECT inode_count FROM fsinfo")).isEqualTo(inodes + 10)
                    .isEqualTo(count(c, "SELECT count(*) FROM inode"));

            // fsck finds a count that disagrees with the table, and mends it
            try (Statement st = c.createStatement()) {
                st.executeUpdate("UPDATE fsinfo SET inode_count = 1");
            }
            IntegrityCheck fsck = new IntegrityCheck(c, BlockLayout.BLOCK_SIZE);
            assertThat(fsck.check()).singleElement()
                    .hasToString("inode_count: fsinfo.inode_count is 1 but the inode table holds " + (inodes + 10));
            assertThat(fsck.repair()).containsExactly("recounted the inodes (1)");
            assertThat(fsck.check()).isEmpty();
        }
    }

    @Test
    void aDatabaseFromANewerBuildIsRefusedUntouched() throws Exception {
        Path db = storedVersionOne();
        try (Connection c = Database.inspect(db); Statement st = c.createStatement()) {
            st.executeUpdate("INSERT INTO schema_migration VALUES (999, '999-future.sql', 0)");
        }
        byte[] before = Files.readAllBytes(db);
        assertThatThrownBy(() -> Database.open(db, 5000)).hasMessageContaining("schema version 999")
                .hasMessageContaining("use a newer SQLiteOS");
        assertThat(Files.readAllBytes(db)).isEqualTo(before);
    }
}
