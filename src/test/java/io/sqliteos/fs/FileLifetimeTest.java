package io.sqliteos.fs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.sqliteos.db.Database;
import io.sqliteos.tx.SessionRouter;
import java.util.Arrays;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Path resolution, the life of a file removed while open, and the inode budget,
 * on a real in-memory database.
 */
class FileLifetimeTest {

    private static final Caller ROOT = Caller.ROOT;
    private static final int O_RDWR = 2;
    private static final int O_RDONLY = 0;

    private Database database;
    private FileSystem fs;

    @BeforeEach
    void mount() {
        database = Database.openEphemeral(5000);
        fs = new FileSystem(new SessionRouter(database), 1L << 30);
        fs.initialize(0, 0);
    }

    @AfterEach
    void unmount() {
        database.close();
    }

    private static Errno errnoOf(Runnable r) {
        try {
            r.run();
        } catch (FsException e) {
            return e.errno();
        }
        return null;
    }

    private long usedBlocks() {
        FsStats s = fs.statfs(ROOT);
        return s.totalBlocks() - s.freeBlocks();
    }

    @Test
    void walksDeepPathsAndTellsMissingFromNotADirectory() {
        fs.mkdir(ROOT, "/a", 0755);
        fs.mkdir(ROOT, "/a/b", 0755);
        fs.release(ROOT, fs.create(ROOT, "/a/b/file", 0644, O_RDWR));

        assertThat(fs.getattr(ROOT, "/a/b/file").isDirectory()).isFalse();
        assertThat(fs.getattr(ROOT, "/a/b").isDirectory()).isTrue();
        assertThat(errnoOf(() -> fs.getattr(ROOT, "/a/missing/file"))).isEqualTo(Errno.ENOENT);
        assertThat(errnoOf(() -> fs.getattr(ROOT, "/a/b/file/x"))).isEqualTo(Errno.ENOTDIR);
        assertThat(errnoOf(() -> fs.mkdir(ROOT, "/a/b/file/x", 0755))).isEqualTo(Errno.ENOTDIR);
        assertThat(errnoOf(() -> fs.mkdir(ROOT, "/a/nope/x", 0755))).isEqualTo(Errno.ENOENT);
        assertThat(errnoOf(() -> fs.getattr(ROOT, "/a/" + "n".repeat(256)))).isEqualTo(Errno.ENAMETOOLONG);

        // a renamed directory is found under its new name only
        fs.rename(ROOT, "/a/b", "/a/c");
        assertThat(fs.getattr(ROOT, "/a/c/file").ino()).isPositive();
        assertThat(errnoOf(() -> fs.getattr(ROOT, "/a/b/file"))).isEqualTo(Errno.ENOENT);
    }

    @Test
    void failedLookupsLeaveTheReadersUsable() {
        for (int i = 0; i < 200; i++) {
            assertThat(errnoOf(() -> fs.getattr(ROOT, "/missing"))).isEqualTo(Errno.ENOENT);
        }
        fs.mkdir(ROOT, "/d", 0755);
        assertThat(fs.getattr(ROOT, "/d").isDirectory()).isTrue();
    }

    @Test
    void aFileRemovedWhileOpenLivesUntilItsLastClose() {
        byte[] data = new byte[300_000];
        Arrays.fill(data, (byte) 7);
        long writer = fs.create(ROOT, "/f", 0644, O_RDWR);
        fs.write(ROOT, writer, data, data.length, 0);
        long reader = fs.open(ROOT, "/f", O_RDONLY);
        long before = usedBlocks();
        assertThat(before).isPositive();

        fs.unlink(ROOT, "/f");
        assertThat(errnoOf(() -> fs.getattr(ROOT, "/f"))).isEqualTo(Errno.ENOENT);
        fs.release(ROOT, writer);

        // one handle is left: the data is still there and still counted
        byte[] back = new byte[data.length];
        assertThat(fs.read(ROOT, reader, back, back.length, 0)).isEqualTo(data.length);
        assertThat(back).isEqualTo(data);
        assertThat(usedBlocks()).isEqualTo(before);

        fs.release(ROOT, reader);
        assertThat(usedBlocks()).isZero();
    }

    @Test
    void closingAFileThatStillHasANameFreesNothing() {
        byte[] data = new byte[100_000];
        long fh = fs.create(ROOT, "/keep", 0644, O_RDWR);
        fs.write(ROOT, fh, data, data.length, 0);
        long used = usedBlocks();
        fs.release(ROOT, fh);
        assertThat(usedBlocks()).isEqualTo(used);
        assertThat(fs.getattr(ROOT, "/keep").size()).isEqualTo(data.length);
    }

    @Test
    void renamingOverAnOpenFileKeepsItsDataForTheOpenHandle() {
        byte[] old = "old contents".getBytes();
        long fh = fs.create(ROOT, "/target", 0644, O_RDWR);
        fs.write(ROOT, fh, old, old.length, 0);
        fs.release(ROOT, fs.create(ROOT, "/new", 0644, O_RDWR));

        fs.rename(ROOT, "/new", "/target");
        byte[] back = new byte[old.length];
        assertThat(fs.read(ROOT, fh, back, back.length, 0)).isEqualTo(old.length);
        assertThat(back).isEqualTo(old);
        fs.release(ROOT, fh);
        assertThat(usedBlocks()).isZero();
        assertThat(fs.getattr(ROOT, "/target").size()).isZero();
    }

    @Test
    void theInodeBudgetStillRefusesCreatesWhenFull() {
        database.close();
        database = Database.openEphemeral(5000);
        fs = new FileSystem(new SessionRouter(database), 1); // the smallest budget: 1,024 inodes
        fs.initialize(0, 0);
        long total = fs.statfs(ROOT).totalInodes();
        for (long i = 1; i < total; i++) { // the root is one of them
            fs.mknod(ROOT, "/n" + i, Mode.S_IFREG | 0644, 0);
        }
        assertThat(fs.statfs(ROOT).freeInodes()).isZero();
        assertThatThrownBy(() -> fs.mknod(ROOT, "/one-more", Mode.S_IFREG | 0644, 0))
                .isInstanceOf(FsException.class)
                .extracting(e -> ((FsException) e).errno()).isEqualTo(Errno.ENOSPC);
        // freeing one makes room again, even though inode numbers only grow
        fs.unlink(ROOT, "/n1");
        fs.mknod(ROOT, "/one-more", Mode.S_IFREG | 0644, 0);
        assertThat(fs.getattr(ROOT, "/one-more").ino()).isPositive();
    }
}
