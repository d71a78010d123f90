package io.sqliteos.fs;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Arrays;
import org.junit.jupiter.api.Test;

/** The --size budget: statfs, ENOSPC that loses nothing, and fallocate. */
class SpaceTest extends FsTestBase {

    @Override
    long capacity() {
        return 4 * MIB;
    }

    @Test
    void statfsReportsTheBudgetAndWhatIsUsed() {
        FsStats empty = fs.statfs(ROOT);
        assertThat(empty.blockSize() * empty.totalBlocks()).isEqualTo(4 * MIB);
        assertThat(empty.freeBlocks()).isEqualTo(empty.totalBlocks());
        assertThat(empty.nameMax()).isEqualTo(255);
        writeFile("/f", new byte[(int) MIB]);
        FsStats used = fs.statfs(ROOT);
        assertThat(used.freeBlocks()).isEqualTo(empty.totalBlocks() - 256);
        assertThat(used.freeInodes()).isEqualTo(empty.freeInodes() - 1);
        fs.unlink(ROOT, "/f");
        assertThat(fs.statfs(ROOT).freeBlocks()).isEqualTo(empty.totalBlocks());
    }

    @Test
    void aWriteBeyondTheBudgetFailsAndChangesNothing() {
        byte[] first = new byte[(int) (3 * MIB)];
        Arrays.fill(first, (byte) 1);
        writeFile("/a", first);
        FsStats before = fs.statfs(ROOT);
        long fh = fs.open(ROOT, "/a", O_RDWR);
        byte[] tooMuch = new byte[(int) (2 * MIB)];
        Arrays.fill(tooMuch, (byte) 2);
        // overwrite the tail and extend past the budget in one write
        assertErrno(Errno.ENOSPC, () -> fs.write(ROOT, fh, tooMuch, tooMuch.length, 2 * MIB + 512 * KIB));
        fs.release(ROOT, fh);
        assertThat(stat("/a").size()).isEqualTo(3 * MIB);
        assertThat(readAll("/a")).isEqualTo(first);
        assertThat(fs.statfs(ROOT).freeBlocks()).isEqualTo(before.freeBlocks());
        // a write that fits still works, and freeing space makes room again
        writeFile("/b", new byte[(int) (512 * KIB)]);
        fs.unlink(ROOT, "/a");
        writeFile("/c", tooMuch);
        assertThat(readAll("/c")).isEqualTo(tooMuch);
    }

    @Test
    void storedBytesCanBeOverwrittenWithTheBudgetFullButNotGrown() {
        byte[] content = new byte[(int) (4 * MIB - 100)];
        Arrays.fill(content, (byte) 1);
        writeFile("/a", content);
        FsStats full = fs.statfs(ROOT);
        long fh = fs.open(ROOT, "/a", O_RDWR);
        byte[] page = new byte[4096];
        Arrays.fill(page, (byte) 7);
        assertThat(fs.write(ROOT, fh, page, page.length, 8192)).isEqualTo(page.length);
        System.arraycopy(page, 0, content, 8192, page.length);
        // a write that ends past the stored bytes of its block needs room the budget lacks
        byte[] tail = new byte[200];
        Arrays.fill(tail, (byte) 9);
        assertErrno(Errno.ENOSPC, () -> fs.write(ROOT, fh, tail, tail.length, content.length - 50));
        fs.release(ROOT, fh);
        assertThat(readAll("/a")).isEqualTo(content);
        assertThat(fs.statfs(ROOT).freeBlocks()).isEqualTo(full.freeBlocks());
    }

    @Test
    void extendedAttributesAreChargedToTheBudget() {
        writeFile("/f", new byte[0]);
        byte[] value = new byte[FileSystem.XATTR_SIZE_MAX];
        int stored = 0;
        while (stored < 1000) {
            try {
                fs.setxattr(ROOT, "/f", "user.a" + stored, value, 0);
                stored++;
            } catch (FsException e) {
                assertThat(e.errno()).isEqualTo(Errno.ENOSPC);
                break;
            }
        }
        // 4 MiB holds 63 values of 64 KiB with their names; the 64th does not fit
        assertThat(stored).isEqualTo(63);
        assertThat(fs.listxattr(ROOT, "/f")).hasSize(63);
        assertThat(fs.statfs(ROOT).freeBlocks()).isLessThan(16);
        // replacing a value charges only the difference; removing one frees it
        fs.setxattr(ROOT, "/f", "user.a0", new byte[10], 0);
        fs.setxattr(ROOT, "/f", "user.a1", value, FileSystem.XATTR_REPLACE);
        fs.removexattr(ROOT, "/f", "user.a2");
        assertThat(fs.statfs(ROOT).freeBlocks()).isGreaterThanOrEqualTo(2 * FileSystem.XATTR_SIZE_MAX / 4096 - 1);
        // and freeing the file frees all of them
        fs.unlink(ROOT, "/f");
        assertThat(fs.statfs(ROOT).freeBlocks()).isEqualTo(fs.statfs(ROOT).totalBlocks());
    }

    @Test
    void sparseFilesAndTruncationCostNothing() {
        writeFile("/f", new byte[0]);
        fs.truncate(ROOT, "/f", 2 * TIB);
        assertThat(fs.statfs(ROOT).freeBlocks()).isEqualTo(fs.statfs(ROOT).totalBlocks());
        assertThat(stat("/f").blocks()).isZero();
    }

    @Test
    void fallocateDefaultModeStoresZerosAndGrowsTheFile() {
        writeFile("/f", bytes("abc"));
        long fh = fs.open(ROOT, "/f", O_RDWR);
        fs.fallocate(ROOT, fh, 0, 1, 200_000);
        fs.release(ROOT, fh);
        FileAttributes a = stat("/f");
        assertThat(a.size()).isEqualTo(200_001);
        assertThat(a.blocks() * 512).isGreaterThanOrEqualTo(200_001);
        byte[] expected = new byte[200_001];
        expected[0] = 'a';
        expected[1] = 'b';
        expected[2] = 'c';
        assertThat(readAll("/f")).isEqualTo(expected);
    }

    @Test
    void fallocateKeepSizeReservesWithoutGrowing() {
        writeFile("/f", bytes("abc"));
        long fh = fs.open(ROOT, "/f", O_RDWR);
        long freeBefore = fs.statfs(ROOT).freeBlocks();
        fs.fallocate(ROOT, fh, FileSystem.FALLOC_FL_KEEP_SIZE, 0, MIB);
        assertThat(stat("/f").size()).isEqualTo(3);
        assertThat(fs.statfs(ROOT).freeBlocks()).isLessThan(freeBefore - 200);
        assertThat(readAll("/f")).isEqualTo(bytes("abc"));
        fs.release(ROOT, fh);
    }

    @Test
    void fallocateBeyondTheBudgetIsEnospcAndChangesNothing() {
        writeFile("/f", bytes("abc"));
        long fh = fs.open(ROOT, "/f", O_RDWR);
        long freeBefore = fs.statfs(ROOT).freeBlocks();
        assertErrno(Errno.ENOSPC, () -> fs.fallocate(ROOT, fh, 0, 0, 8 * MIB));
        fs.release(ROOT, fh);
        assertThat(stat("/f").size()).isEqualTo(3);
        assertThat(fs.statfs(ROOT).freeBlocks()).isEqualTo(freeBefore);
    }

    @Test
    void punchHoleZeroesTheRangeAndFreesWholeBlocks() {
        int block = BlockLayout.BLOCK_SIZE;
        byte[] data = new byte[4 * block];
        Arrays.fill(data, (byte) 7);
        writeFile("/f", data);
        long fh = fs.open(ROOT, "/f", O_RDWR);
        long freeBefore = fs.statfs(ROOT).freeBlocks();
        int from = block / 2;
        int to = 3 * block + 10;
        fs.fallocate(ROOT, fh, FileSystem.FALLOC_FL_PUNCH_HOLE | FileSystem.FALLOC_FL_KEEP_SIZE, from, to - from);
        Arrays.fill(data, from, to, (byte) 0);
        assertThat(read(fh, 0, data.length)).isEqualTo(data);
        assertThat(stat("/f").size()).isEqualTo(4 * block);
        assertThat(fs.statfs(ROOT).freeBlocks() - freeBefore).as("two whole blocks freed").isEqualTo(2L * block / 4096);
        assertErrno(Errno.EOPNOTSUPP, () -> fs.fallocate(ROOT, fh, FileSystem.FALLOC_FL_PUNCH_HOLE, 0, 1));
        assertErrno(Errno.EOPNOTSUPP, () -> fs.fallocate(ROOT, fh, 0x08, 0, block)); // COLLAPSE_RANGE
        assertErrno(Errno.EINVAL, () -> fs.fallocate(ROOT, fh,
                FileSystem.FALLOC_FL_PUNCH_HOLE | FileSystem.FALLOC_FL_ZERO_RANGE | FileSystem.FALLOC_FL_KEEP_SIZE, 0, 1));
        assertErrno(Errno.EINVAL, () -> fs.fallocate(ROOT, fh, 0, 0, 0));
        assertErrno(Errno.EINVAL, () -> fs.fallocate(ROOT, fh, 0, -1, 10));
        fs.release(ROOT, fh);
    }

    @Test
    void zeroRangeZeroesKeepsTheRangeAllocatedAndMayGrowTheFile() throws Exception {
        int block = BlockLayout.BLOCK_SIZE;
        byte[] data = new byte[3 * block];
        Arrays.fill(data, (byte) 5);
        writeFile("/f", data);
        ageTimes("/f");
        long fh = fs.open(ROOT, "/f", O_RDWR);
        long usedBefore = fs.statfs(ROOT).totalBlocks() - fs.statfs(ROOT).freeBlocks();
        fs.fallocate(ROOT, fh, FileSystem.FALLOC_FL_ZERO_RANGE | FileSystem.FALLOC_FL_KEEP_SIZE, 10, 2 * block);
        Arrays.fill(data, 10, 10 + 2 * block, (byte) 0);
        assertThat(read(fh, 0, data.length)).isEqualTo(data);
        assertThat(stat("/f").size()).isEqualTo(3 * block);
        assertThat(stat("/f").mtimeNs()).isGreaterThan(AGED_NS);
        assertThat(fs.statfs(ROOT).totalBlocks() - fs.statfs(ROOT).freeBlocks()).as("still allocated").isEqualTo(usedBefore);
        fs.fallocate(ROOT, fh, FileSystem.FALLOC_FL_ZERO_RANGE, 2 * block, 2 * block);
        assertThat(stat("/f").size()).isEqualTo(4 * block);
        assertThat(stat("/f").blocks() * 512).isEqualTo(4L * block);
        assertThat(read(fh, 2 * block - 1, 2 * block + 1)).isEqualTo(new byte[2 * block + 1]);
        fs.release(ROOT, fh);
    }

    @Test
    void theInodeBudgetIsEnforced() {
        long free = fs.statfs(ROOT).freeInodes();
        for (long i = 0; i < free; i++) {
            fs.mknod(ROOT, "/n" + i, Mode.S_IFREG | 0644, 0);
        }
        assertThat(fs.statfs(ROOT).freeInodes()).isZero();
        assertErrno(Errno.ENOSPC, () -> fs.mkdir(ROOT, "/more", 0755));
        fs.unlink(ROOT, "/n0");
        fs.mkdir(ROOT, "/more", 0755);
    }
}
