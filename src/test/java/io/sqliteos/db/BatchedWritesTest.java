package io.sqliteos.db;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Plain writes to the database in RAM commit in batches. Every write that has
 * returned must stay and be seen, whatever fails after it in the same batch;
 * a batch here stays open for a minute unless something commits it.
 */
class BatchedWritesTest {

    private final Database database = Database.openEphemeral(5_000, TimeUnit.MINUTES.toNanos(1));

    @AfterEach
    void close() {
        database.close();
    }

    private long newInode(long size) {
        return database.write(s -> insert(s, size));
    }

    private static long insert(Store s, long size) {
        InodeRow r = new InodeRow();
        r.mode = 0100644;
        r.nlink = 1;
        r.size = size;
        return s.insertInode(r);
    }

    private long sizeOf(long ino) {
        Long size = database.read(s -> s.inode(ino).size);
        return size;
    }

    /** Inode sizes as a connection of its own sees them, outside the database's pool. */
    private List<Long> sizesSeenFromOutside() throws SQLException {
        return sizes(database.file());
    }

    private static List<Long> sizes(Path file) throws SQLException {
        try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + file);
             Statement st = c.createStatement();
             ResultSet rs = st.executeQuery("SELECT size FROM inode WHERE size > 0 ORDER BY size")) {
            List<Long> sizes = new ArrayList<>();
            while (rs.next()) {
                sizes.add(rs.getLong(1));
            }
            return sizes;
        }
    }

    @Test
    void aFailedWriteTakesBackOnlyItsOwnChanges() throws SQLException {
        long first = newInode(1);
        assertThatThrownBy(() -> database.write(s -> {
            insert(s, 2);
            InodeRow r = s.inode(first);
            r.size = 20;
            s.updateInode(r);
            throw new IllegalStateException("fails after changing two rows");
        })).isInstanceOf(IllegalStateException.class);
        long third = newInode(3);

        assertThat(sizesSeenFromOutside()).as("still in the open batch").isEmpty();
        assertThat(sizeOf(first)).isEqualTo(1);
        assertThat(sizeOf(third)).isEqualTo(3);

        database.publish();
        assertThat(sizesSeenFromOutside()).containsExactly(1L, 3L);
        assertThat(sizeOf(first)).as("from the cache after the commit").isEqualTo(1);
    }

    private void resize(long ino, long size) {
        database.write(s -> {
            InodeRow r = s.inode(ino);
            r.size = size;
            s.updateInode(r);
            return null;
        });
    }

    /**
     * A batch writes the rows it changed as it commits (a directory's times
     * change with every name made in it): until then the batch's own reads
     * see them, a failed write takes back only its own change to such a row,
     * and the commit writes each as the last write that returned left it.
     */
    @Test
    void rowsChangedInABatchAreWrittenAsTheLastWriteThatReturnedLeftThem() throws SQLException {
        long first = newInode(1);
        long second = newInode(2);
        resize(first, 10);
        assertThatThrownBy(() -> database.write(s -> {
            InodeRow r = s.inode(first);
            r.size = 20;
            s.updateInode(r);
            InodeRow other = s.inode(second);
            other.size = 21;
            s.updateInode(other);
            throw new IllegalStateException("fails after changing a row changed before, and a fresh one");
        })).isInstanceOf(IllegalStateException.class);
        assertThat(sizeOf(first)).as("the earlier write's change stays").isEqualTo(10);
        assertThat(sizeOf(second)).isEqualTo(2);
        resize(second, 12);
        resize(second, 13);

        assertThat(sizesSeenFromOutside()).as("still in the open batch").isEmpty();
        database.publish();
        assertThat(sizesSeenFromOutside()).containsExactly(10L, 13L);
        assertThat(sizeOf(first)).as("from the cache after the commit").isEqualTo(10);
        assertThat(sizeOf(second)).isEqualTo(13);
    }

    @Test
    void aRowChangedAndThenRemovedInOneBatchIsGoneAndAFailedRemovalKeepsTheChange() throws SQLException {
        long kept = newInode(1);
        long removed = newInode(2);
        resize(kept, 30);
        resize(removed, 40);
        assertThatThrownBy(() -> database.write(s -> {
            s.deleteInode(s.inode(kept));
            throw new IllegalStateException("fails after removing a changed row");
        })).isInstanceOf(IllegalStateException.class);
        database.write(s -> s.deleteInode(s.inode(removed)));
        assertThat(sizeOf(kept)).isEqualTo(30);
        InodeRow gone = database.read(s -> s.inode(removed));
        assertThat(gone).isNull();

        database.publish();
        assertThat(sizesSeenFromOutside()).containsExactly(30L);
    }

    @Test
    void aWriteThatFindsItsBatchDueCommitsItWithItself() throws Exception {
        // the committer's thread would look only half a period after the batch is due
        try (Database db = Database.openEphemeral(5_000, TimeUnit.SECONDS.toNanos(1))) {
            db.write(s -> insert(s, 1));
            assertThat(sizes(db.file())).as("in the open batch").isEmpty();
            Thread.sleep(1_100);
            db.write(s -> insert(s, 2));
            assertThat(sizes(db.file())).as("committed by the second write, with it").containsExactly(1L, 2L);
        }
    }

    @Test
    void anIdleBatchCommitsOnItsOwn() throws Exception {
        try (Database db = Database.openEphemeral(5_000, TimeUnit.MILLISECONDS.toNanos(100))) {
            db.write(s -> insert(s, 3));
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (sizes(db.file()).isEmpty() && System.nanoTime() - deadline < 0) {
                Thread.sleep(10);
            }
            assertThat(sizes(db.file())).as("committed with no further request").containsExactly(3L);
        }
    }

    @Test
    void aTransactionBeginsWithEveryWriteThatReturned() {
        long ino = newInode(7);
        try (Store tx = database.openStore()) {
            tx.begin(false);
            assertThat(tx.inode(ino).size).isEqualTo(7);
            tx.commit();
        }
    }

    @Test
    void whileATransactionIsOpenPlainWritesCommitAtOnce() throws SQLException {
        try (Store tx = database.openStore()) {
            newInode(5);
            assertThat(sizesSeenFromOutside()).containsExactly(5L);
        }
        newInode(6);
        assertThat(sizesSeenFromOutside()).as("batches again once it closed").containsExactly(5L);
    }

    @Test
    void aSnapshotHoldsEveryWriteThatReturned(@TempDir Path dir) throws SQLException {
        newInode(9);
        Path copy = dir.resolve("copy.db");
        database.snapshotTo(copy);
        assertThat(sizes(copy)).containsExactly(9L);
    }

    @Test
    void onDiskEveryWriteCommitsOnItsOwn(@TempDir Path dir) throws SQLException {
        Path file = dir.resolve("fs.db");
        try (Database durable = Database.open(file, 5_000)) {
            durable.write(s -> insert(s, 4));
            assertThat(sizes(file)).containsExactly(4L);
        }
    }
}
