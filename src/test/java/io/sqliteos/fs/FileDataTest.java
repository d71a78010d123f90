package io.sqliteos.fs;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Open flags, reads and writes at 64-bit offsets, holes, truncation and open-but-unlinked files. */
class FileDataTest extends FsTestBase {

    @Test
    void createWithExclusiveFailsOnAnExistingName() {
        long fh = fs.create(ROOT, "/f", 0640, O_CREAT | O_EXCL | O_WRONLY);
        fs.release(ROOT, fh);
        assertThat(stat("/f").mode()).isEqualTo(Mode.S_IFREG | 0640);
        assertErrno(Errno.EEXIST, () -> fs.create(ROOT, "/f", 0644, O_CREAT | O_EXCL | O_WRONLY));
        fs.mkdir(ROOT, "/d", 0755);
        assertErrno(Errno.EEXIST, () -> fs.create(ROOT, "/d", 0644, O_CREAT | O_EXCL | O_WRONLY));
        assertErrno(Errno.EISDIR, () -> fs.create(ROOT, "/d", 0644, O_CREAT | O_WRONLY));
        assertErrno(Errno.ENOENT, () -> fs.create(ROOT, "/none/f", 0644, O_CREAT | O_WRONLY));
    }

    @Test
    void createWithoutExclusiveOpensTheExistingFileAndTruncTruncates() {
        writeFile("/f", bytes("hello"));
        fs.release(ROOT, fs.create(ROOT, "/f", 0600, O_CREAT | O_WRONLY));
        assertThat(readAll("/f")).isEqualTo(bytes("hello"));
        assertThat(stat("/f").mode() & 0777).as("an existing file keeps its mode").isEqualTo(0644);
        fs.release(ROOT, fs.create(ROOT, "/f", 0600, O_CREAT | O_TRUNC | O_WRONLY));
        assertThat(stat("/f").size()).isZero();
    }

    @Test
    void openWithTruncEmptiesOnlyWhenWriting() {
        writeFile("/f", bytes("hello"));
        fs.release(ROOT, fs.open(ROOT, "/f", O_RDONLY | O_TRUNC));
        assertThat(stat("/f").size()).isEqualTo(5);
        fs.release(ROOT, fs.open(ROOT, "/f", O_RDWR | O_TRUNC));
        assertThat(stat("/f").size()).isZero();
        assertThat(stat("/f").blocks()).isZero();
        assertErrno(Errno.ENOENT, () -> fs.open(ROOT, "/none", O_RDONLY));
        fs.mkdir(ROOT, "/d", 0755);
        assertErrno(Errno.EISDIR, () -> fs.open(ROOT, "/d", O_WRONLY));
    }

    @Test
    void appendWritesAlwaysGoToTheEnd() {
        writeFile("/log", bytes("one\n"));
        long fh = fs.open(ROOT, "/log", O_WRONLY | O_APPEND);
        fs.write(ROOT, fh, bytes("two\n"), 4, 0);
        fs.write(ROOT, fh, bytes("three\n"), 6, 1);
        fs.release(ROOT, fh);
        assertThat(new String(readAll("/log"))).isEqualTo("one\ntwo\nthree\n");
    }

    @Test
    void handlesEnforceTheirAccessMode() {
        writeFile("/f", bytes("x"));
        long ro = fs.open(ROOT, "/f", O_RDONLY);
        assertErrno(Errno.EBADF, () -> fs.write(ROOT, ro, bytes("y"), 1, 0));
        fs.release(ROOT, ro);
        assertErrno(Errno.EBADF, () -> fs.read(ROOT, ro, new byte[1], 1, 0));
        assertErrno(Errno.EBADF, () -> fs.release(ROOT, 987654));
    }

    @Test
    void writesAcrossBlockBoundariesReadBackExactly() {
        byte[] data = new byte[3 * BlockLayout.BLOCK_SIZE + 123];
        new Random(7).nextBytes(data);
        writeFile("/f", data);
        assertThat(readAll("/f")).isEqualTo(data);
        byte[] patch = bytes("PATCH");
        writeAt("/f", BlockLayout.BLOCK_SIZE - 2, patch);
        System.arraycopy(patch, 0, data, BlockLayout.BLOCK_SIZE - 2, patch.length);
        assertThat(readAll("/f")).isEqualTo(data);
        assertThat(readAt("/f", data.length - 3, 100)).as("a read past the end is short").hasSize(3);
        assertThat(readAt("/f", data.length + 10, 100)).isEmpty();
    }

    @Test
    void dataPastFourGibibytesAndHolesReadAsZeros() {
        long offset = 5 * GIB + 17;
        writeFile("/big", new byte[0]);
        writeAt("/big", offset, bytes("far away"));
        FileAttributes a = stat("/big");
        assertThat(a.size()).isEqualTo(offset + 8);
        assertThat(a.blocks() * 512).as("only the written block is stored").isLessThanOrEqualTo(BlockLayout.BLOCK_SIZE);
        assertThat(readAt("/big", offset, 8)).isEqualTo(bytes("far away"));
        assertThat(readAt("/big", offset - 4, 6)).isEqualTo(new byte[] {0, 0, 0, 0, 'f', 'a'});
        assertThat(readAt("/big", 4 * GIB - 10, 20)).isEqualTo(new byte[20]);
        assertThat(readAt("/big", 0, 100)).isEqualTo(new byte[100]);
    }

    @Test
    void aSparseFileWithDataAtOneTebibyte() {
        writeFile("/sparse", bytes("head"));
        writeAt("/sparse", TIB, bytes("tail"));
        assertThat(stat("/sparse").size()).isEqualTo(TIB + 4);
        assertThat(readAt("/sparse", TIB - 2, 6)).isEqualTo(new byte[] {0, 0, 't', 'a', 'i', 'l'});
        assertThat(readAt("/sparse", TIB / 2, 4096)).isEqualTo(new byte[4096]);
        assertThat(readAt("/sparse", 0, 4)).isEqualTo(bytes("head"));
        assertThat(fs.statfs(ROOT).totalBlocks() - fs.statfs(ROOT).freeBlocks())
                .as("a 1 TiB file costs only its stored blocks").isLessThan(64);
    }

    @Test
    void writesBeyondTheLargestFileSizeAreEfbig() {
        writeFile("/f", new byte[0]);
        long fh = fs.open(ROOT, "/f", O_WRONLY);
        assertErrno(Errno.EFBIG, () -> fs.write(ROOT, fh, bytes("x"), 1, FileSystem.MAX_FILE_SIZE));
        assertErrno(Errno.EINVAL, () -> fs.write(ROOT, fh, bytes("x"), 1, -1));
        fs.release(ROOT, fh);
        assertErrno(Errno.EFBIG, () -> fs.truncate(ROOT, "/f", FileSystem.MAX_FILE_SIZE + 1));
        assertErrno(Errno.EINVAL, () -> fs.truncate(ROOT, "/f", -1));
    }

    @Test
    void truncateGrowsWithZerosAndShrinksFreeingSpace() {
        byte[] data = new byte[200_000];
        Arrays.fill(data, (byte) 'a');
        writeFile("/f", data);
        long usedFull = usedBlocks();
        fs.truncate(ROOT, "/f", 70_000);
        assertThat(stat("/f").size()).isEqualTo(70_000);
        assertThat(usedBlocks()).isLessThan(usedFull);
        fs.truncate(ROOT, "/f", 2 * TIB);
        assertThat(stat("/f").size()).isEqualTo(2 * TIB);
        assertThat(readAt("/f", 69_998, 4)).isEqualTo(new byte[] {'a', 'a', 0, 0});
        assertThat(readAt("/f", TIB, 10)).isEqualTo(new byte[10]);
        // shrinking inside a block, then growing, must not resurrect the old bytes
        fs.truncate(ROOT, "/f", 10);
        fs.truncate(ROOT, "/f", 100);
        byte[] expected = new byte[100];
        Arrays.fill(expected, 0, 10, (byte) 'a');
        assertThat(readAll("/f")).isEqualTo(expected);
        fs.truncate(ROOT, "/f", 0);
        assertThat(stat("/f").blocks()).isZero();
        assertThat(usedBlocks()).isZero();
        fs.mkdir(ROOT, "/d", 0755);
        assertErrno(Errno.EISDIR, () -> fs.truncate(ROOT, "/d", 0));
        fs.mknod(ROOT, "/fifo", Mode.S_IFIFO | 0644, 0);
        assertErrno(Errno.EINVAL, () -> fs.truncate(ROOT, "/fifo", 0));
    }

    @Test
    void ftruncateWorksOnTheOpenHandle() {
        writeFile("/f", bytes("0123456789"));
        long fh = fs.open(ROOT, "/f", O_RDWR);
        fs.ftruncate(ROOT, fh, 4);
        assertThat(fs.fgetattr(ROOT, fh, null).size()).isEqualTo(4);
        fs.ftruncate(ROOT, fh, 6);
        assertThat(read(fh, 0, 10)).isEqualTo(new byte[] {'0', '1', '2', '3', 0, 0});
        fs.release(ROOT, fh);
    }

    @Test
    void writeAndTruncateUpdateMtimeAndCtime() throws Exception {
        writeFile("/f", bytes("x"));
        ageTimes("/f");
        FileAttributes before = stat("/f");
        tick();
        writeAt("/f", 0, bytes("y"));
        FileAttributes written = stat("/f");
        assertThat(written.mtimeNs()).isGreaterThan(AGED_NS);
        assertThat(written.ctimeNs()).isGreaterThan(before.ctimeNs());
        ageTimes("/f");
        before = stat("/f");
        tick();
        fs.truncate(ROOT, "/f", 100);
        assertThat(stat("/f").mtimeNs()).isGreaterThan(AGED_NS);
        assertThat(stat("/f").ctimeNs()).isGreaterThan(before.ctimeNs());
    }

    @Test
    void readRecordsAccessTimeOnlyAfterAChange() throws Exception {
        writeFile("/f", bytes("x"));
        fs.utimens(ROOT, "/f", 1_000_000, 0, 2_000_000, 0);
        readAll("/f");
        long atime = stat("/f").atimeNs();
        assertThat(atime).as("relatime: atime older than mtime is refreshed").isGreaterThan(2_000_000L * 1_000_000_000L);
        tick();
        readAll("/f");
        assertThat(stat("/f").atimeNs()).as("no second update until the file changes").isEqualTo(atime);
        assertThat(stat("/f").mtimeNs()).isEqualTo(2_000_000L * 1_000_000_000L);
    }

    @Test
    void anUnlinkedOpenFileLivesUntilItsLastClose() {
        byte[] data = new byte[300_000];
        new Random(3).nextBytes(data);
        writeFile("/f", data);
        long used = usedBlocks();
        long reader = fs.open(ROOT, "/f", O_RDONLY);
        long writer = fs.open(ROOT, "/f", O_RDWR);
        fs.unlink(ROOT, "/f");
        assertErrno(Errno.ENOENT, () -> stat("/f"));
        assertThat(fs.fgetattr(ROOT, reader, null).nlink()).isZero();
        assertThat(read(reader, 0, data.length)).isEqualTo(data);
        fs.write(ROOT, writer, bytes("still here"), 10, data.length);
        assertThat(read(reader, data.length, 10)).isEqualTo(bytes("still here"));
        fs.ftruncate(ROOT, writer, 1000);
        assertThat(fs.fgetattr(ROOT, reader, null).size()).isEqualTo(1000);
        assertThat(usedBlocks()).as("space is held while open").isGreaterThan(0);
        fs.release(ROOT, writer);
        assertThat(read(reader, 0, 10)).isEqualTo(Arrays.copyOf(data, 10));
        fs.release(ROOT, reader);
        // a stat routed to a handle that has just been closed: the name answers, or ENOENT without one
        assertErrno(Errno.ENOENT, () -> fs.fgetattr(ROOT, reader, null));
        assertThat(usedBlocks()).as("the last close frees the space").isZero();
        assertThat(used).isGreaterThan(0);
        // a new file with the same name is a new, empty file
        writeFile("/f", new byte[0]);
        assertThat(stat("/f").size()).isZero();
        assertThat(fs.fgetattr(ROOT, reader, "/f").size()).isZero();
    }

    @Test
    void anOpenFileSurvivesBeingReplacedByRename() {
        writeFile("/old", bytes("old data"));
        writeFile("/new", bytes("new data"));
        long fh = fs.open(ROOT, "/old", O_RDONLY);
        fs.rename(ROOT, "/new", "/old");
        assertThat(read(fh, 0, 8)).isEqualTo(bytes("old data"));
        assertThat(readAll("/old")).isEqualTo(bytes("new data"));
        fs.release(ROOT, fh);
        assertThat(fs.statfs(ROOT).totalBlocks() - fs.statfs(ROOT).freeBlocks()).isEqualTo(usedBlocks());
        assertThat(usedBlocks()).isEqualTo(1);
    }

    @Test
    void fsyncAcceptsOpenHandles() {
        long fh = fs.create(ROOT, "/f", 0644, O_CREAT | O_WRONLY);
        fs.fsync(ROOT, fh);
        fs.release(ROOT, fh);
        assertErrno(Errno.EBADF, () -> fs.fsync(ROOT, fh));
    }

    /** Stored data in statfs blocks of 4 KiB, rounded up. */
    long usedBlocks() {
        FsStats s = fs.statfs(ROOT);
        return s.totalBlocks() - s.freeBlocks();
    }
}
