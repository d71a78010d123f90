package io.sqliteos.db;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The record locks the kernel holds for the daemon's databases, as anyone sees
 * them in /proc/locks: none on the files of an in-memory database, which no
 * other process opens, while its connections still keep out of each other's
 * way; the usual ones on a database kept on disk.
 */
class PrivateLocksTest {

    @TempDir
    Path dir;

    private static long inode(Path file) {
        try {
            return (Long) Files.getAttribute(file, "unix:ino");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The inode numbers this process holds record locks on (the third field of /proc/locks' device:inode). */
    private static Set<Long> lockedInodes() {
        String pid = Long.toString(ProcessHandle.current().pid());
        List<String> lines;
        try {
            lines = Files.readAllLines(Path.of("/proc/locks"));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return lines.stream()
                .map(line -> line.trim().split("\\s+"))
                .filter(f -> f.length >= 6 && f[1].equals("POSIX") && f[4].equals(pid))
                .map(f -> Long.parseLong(f[5].substring(f[5].lastIndexOf(':') + 1)))
                .collect(Collectors.toSet());
    }

    /** The inode numbers of the database's own files (the database, its log and its shared memory). */
    private static Set<Long> databaseFiles(Database database) throws IOException {
        Path file = database.file();
        try (Stream<Path> files = Files.list(file.getParent())) {
            return files.filter(p -> p.getFileName().toString().startsWith(file.getFileName().toString()))
                    .map(PrivateLocksTest::inode)
                    .collect(Collectors.toSet());
        }
    }

    /** Locks held on the database's files while a write transaction and a read are both open. */
    private static Set<Long> locksDuringReadAndWrite(Database database) throws IOException {
        database.write(s -> {
            InodeRow r = new InodeRow();
            r.mode = 0100644;
            r.nlink = 1;
            return s.insertInode(r);
        });
        try (Store tx = database.openStore()) {
            tx.begin(true);
            tx.insertInode(new InodeRow());
            Set<Long> held = database.read(s -> {
                s.blockLength(1, 0); // a query: a snapshot is open on a reader now
                return lockedInodes();
            });
            tx.rollback();
            held.retainAll(databaseFiles(database));
            return held;
        }
    }

    @Test
    void anInMemoryDatabaseHoldsNoRecordLocksWhileItIsReadAndWritten() throws IOException {
        Database database = Database.openEphemeral(5_000);
        try {
            assertThat(databaseFiles(database)).hasSizeGreaterThanOrEqualTo(3); // fs.db, -wal, -shm
            assertThat(locksDuringReadAndWrite(database)).isEmpty();
            // the lock that tells other daemons the directory is alive is a record lock too, and it is there
            assertThat(lockedInodes()).contains(inode(database.file().resolveSibling("owner.lock")));
        } finally {
            database.close();
        }
    }

    @Test
    void aDatabaseOnDiskHoldsTheUsualLocksForOtherProcesses() throws IOException {
        Database database = Database.open(dir.resolve("fs.db"), 5_000);
        try {
            assertThat(locksDuringReadAndWrite(database)).isNotEmpty();
        } finally {
            database.close();
        }
    }

    @Test
    void theConnectionsOfAnInMemoryDatabaseStillExcludeEachOther() {
        Database database = Database.openEphemeral(200);
        try (Store first = database.openStore(); Store second = database.openStore()) {
            first.begin(true);
            assertThatThrownBy(() -> second.begin(true))
                    .isInstanceOfSatisfying(StoreException.class, e -> assertThat(e.kind()).isEqualTo(StoreException.Kind.BUSY));
            first.rollback();
            second.begin(true); // free again once the first lets go
            second.rollback();
        } finally {
            database.close();
        }
    }
}
