package io.sqliteos.db;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Reads of the committed state, which the inode cache answers, against writes on every kind of connection. */
class CommittedReadsTest {

    /** A directory's inode number: entries here need no directory row behind them. */
    private static final long ROOT = 1;

    private final Database database = Database.openEphemeral(5_000);
    private final long ino = database.write(s -> {
        InodeRow r = new InodeRow();
        r.mode = 0100644;
        r.nlink = 1;
        return s.insertInode(r);
    });

    @AfterEach
    void close() {
        database.close();
    }

    private long sizeSeenByReaders() {
        return database.read(s -> s.inode(ino).size);
    }

    private boolean readersFindIt() {
        Boolean found = database.read(s -> s.inode(ino) != null);
        return found;
    }

    private void resize(Store s, long size) {
        InodeRow r = s.inode(ino);
        r.size = size;
        s.updateInode(r);
    }

    @Test
    void aCommittedWriteIsSeenByTheNextRead() {
        assertThat(sizeSeenByReaders()).isZero(); // now cached
        database.write(s -> {
            resize(s, 10);
            return null;
        });
        assertThat(sizeSeenByReaders()).isEqualTo(10);
    }

    @Test
    void aWriteThatRollsBackLeavesWhatReadersSee() {
        assertThat(sizeSeenByReaders()).isZero();
        try {
            database.write(s -> {
                resize(s, 10);
                throw new IllegalStateException("abandoned");
            });
        } catch (IllegalStateException expected) {
            // the write rolled back
        }
        assertThat(sizeSeenByReaders()).isZero();
        assertThat(sizeSeenByReaders()).isZero();
    }

    @Test
    void aTransactionsChangeIsSeenOnlyOnceItCommits() {
        assertThat(sizeSeenByReaders()).isZero();
        try (Store tx = database.openStore()) {
            tx.begin(true);
            resize(tx, 10);
            assertThat(tx.inode(ino).size).isEqualTo(10);
            assertThat(sizeSeenByReaders()).isZero();
            tx.commit();
        }
        assertThat(sizeSeenByReaders()).isEqualTo(10);
    }

    @Test
    void aDeletedInodeIsGoneForReaders() {
        assertThat(readersFindIt()).isTrue();
        database.write(s -> {
            s.deleteInode(s.inode(ino));
            return null;
        });
        assertThat(readersFindIt()).isFalse();
    }

    @Test
    void readersGetCopiesTheirChangesCannotLeakFrom() {
        database.read(s -> {
            s.inode(ino).size = 99; // a reader edits its row and never writes it back
            return null;
        });
        assertThat(sizeSeenByReaders()).isZero();
    }

    private long inoNamed(String name) {
        Long found = database.read(s -> s.lookup(ROOT, name));
        return found;
    }

    @Test
    void aNameFoundMissingIsFoundOnceMade() {
        assertThat(inoNamed("late")).isZero(); // now cached as missing
        database.write(s -> {
            s.insertDirent(ROOT, "late", ino);
            return null;
        });
        assertThat(inoNamed("late")).isEqualTo(ino);
        database.write(s -> {
            s.deleteDirent(ROOT, "late");
            return null;
        });
        assertThat(inoNamed("late")).isZero();
    }

    @Test
    void aNameFoundMissingIsFoundOnceATransactionMakingItCommits() {
        assertThat(inoNamed("tx-late")).isZero();
        try (Store tx = database.openStore()) {
            tx.begin(true);
            tx.insertDirent(ROOT, "tx-late", ino);
            assertThat(inoNamed("tx-late")).isZero();
            tx.commit();
        }
        assertThat(inoNamed("tx-late")).isEqualTo(ino);
    }

    @Test
    void namesMadeAndRemovedLeaveNothingInTheEntryCache() {
        long dir = database.write(s -> {
            InodeRow d = new InodeRow();
            d.mode = 040755;
            d.nlink = 2;
            long ino = s.insertInode(d);
            s.insertDirent(ROOT, "churn", ino);
            return ino;
        });
        int before = database.cachedEntries();
        for (int i = 0; i < 500; i++) {
            String name = "f" + i;
            database.write(s -> {
                s.insertDirent(dir, name, ino);
                return null;
            });
            long found = database.read(s -> s.lookup(dir, name));
            assertThat(found).isEqualTo(ino);
            database.write(s -> {
                s.deleteDirent(dir, name);
                return null;
            });
            long gone = database.read(s -> s.lookup(dir, name));
            assertThat(gone).isZero();
        }
        database.publish(); // the names of the batch still open are marked as changing until it commits
        assertThat(database.cachedEntries()).isLessThanOrEqualTo(before + 1);
    }
}
