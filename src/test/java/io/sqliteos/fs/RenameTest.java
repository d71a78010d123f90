package io.sqliteos.fs;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** rename(2): replacing targets, moving across directories, and every refusal. */
class RenameTest extends FsTestBase {

    @Test
    void renameWithinADirectoryKeepsTheInode() {
        writeFile("/a", bytes("data"));
        long ino = stat("/a").ino();
        fs.rename(ROOT, "/a", "/b");
        assertErrno(Errno.ENOENT, () -> stat("/a"));
        assertThat(stat("/b").ino()).isEqualTo(ino);
        assertThat(readAll("/b")).isEqualTo(bytes("data"));
        assertErrno(Errno.ENOENT, () -> fs.rename(ROOT, "/a", "/c"));
        assertErrno(Errno.ENOENT, () -> fs.rename(ROOT, "/b", "/none/c"));
    }

    @Test
    void renameOverAnExistingFileReplacesItAndFreesItsData() {
        writeFile("/a", bytes("new"));
        writeFile("/b", new byte[100_000]);
        long ino = stat("/a").ino();
        fs.rename(ROOT, "/a", "/b");
        assertThat(stat("/b").ino()).isEqualTo(ino);
        assertThat(readAll("/b")).isEqualTo(bytes("new"));
        FsStats s = fs.statfs(ROOT);
        assertThat(s.totalBlocks() - s.freeBlocks()).isEqualTo(1);
    }

    @Test
    void renameOverAHardLinkKeepsTheOtherName() {
        writeFile("/a", bytes("a"));
        writeFile("/b", bytes("b"));
        fs.link(ROOT, "/b", "/b2");
        fs.rename(ROOT, "/a", "/b");
        assertThat(stat("/b2").nlink()).isEqualTo(1);
        assertThat(readAll("/b2")).isEqualTo(bytes("b"));
        assertThat(readAll("/b")).isEqualTo(bytes("a"));
    }

    @Test
    void renamingOneNameOfAFileOntoAnotherDoesNothing() {
        writeFile("/a", bytes("a"));
        fs.link(ROOT, "/a", "/b");
        fs.rename(ROOT, "/a", "/b");
        assertThat(stat("/a").nlink()).isEqualTo(2);
        assertThat(stat("/b").ino()).isEqualTo(stat("/a").ino());
    }

    @Test
    void movingADirectoryAcrossDirectoriesFixesLinkCountsAndDotDot() throws Exception {
        fs.mkdir(ROOT, "/src", 0755);
        fs.mkdir(ROOT, "/dst", 0755);
        fs.mkdir(ROOT, "/src/d", 0755);
        writeFile("/src/d/f", bytes("x"));
        ageTimes("/src");
        ageTimes("/dst");
        FileAttributes moving = stat("/src/d");
        tick();
        fs.rename(ROOT, "/src/d", "/dst/e");
        assertThat(stat("/src").nlink()).isEqualTo(2);
        assertThat(stat("/dst").nlink()).isEqualTo(3);
        assertThat(readAll("/dst/e/f")).isEqualTo(bytes("x"));
        assertThat(fs.readdir(ROOT, "/dst/e", 0).get(1).ino()).isEqualTo(stat("/dst").ino());
        assertThat(stat("/src").mtimeNs()).isGreaterThan(AGED_NS);
        assertThat(stat("/dst").mtimeNs()).isGreaterThan(AGED_NS);
        assertThat(stat("/dst/e").ctimeNs()).isGreaterThan(moving.ctimeNs());
        assertThat(stat("/dst/e").mtimeNs()).isEqualTo(moving.mtimeNs());
    }

    @Test
    void movingAFileAcrossDirectoriesUpdatesBothParentsAndItsCtime() throws Exception {
        fs.mkdir(ROOT, "/a", 0755);
        fs.mkdir(ROOT, "/b", 0755);
        writeFile("/a/f", bytes("x"));
        ageTimes("/a");
        ageTimes("/b");
        ageTimes("/a/f");
        FileAttributes file = stat("/a/f");
        tick();
        fs.rename(ROOT, "/a/f", "/b/g");
        assertThat(stat("/a").mtimeNs()).isGreaterThan(AGED_NS);
        assertThat(stat("/b").mtimeNs()).isGreaterThan(AGED_NS);
        assertThat(stat("/b/g").ctimeNs()).isGreaterThan(file.ctimeNs());
        assertThat(stat("/b/g").mtimeNs()).isEqualTo(AGED_NS);
        assertThat(stat("/a").nlink()).isEqualTo(2);
        assertThat(stat("/b").nlink()).isEqualTo(2);
    }

    @Test
    void aDirectoryCannotMoveIntoItsOwnSubtree() {
        fs.mkdir(ROOT, "/d", 0755);
        fs.mkdir(ROOT, "/d/e", 0755);
        fs.mkdir(ROOT, "/d/e/f", 0755);
        assertErrno(Errno.EINVAL, () -> fs.rename(ROOT, "/d", "/d/x"));
        assertErrno(Errno.EINVAL, () -> fs.rename(ROOT, "/d", "/d/e/f/x"));
        assertErrno(Errno.EINVAL, () -> fs.rename(ROOT, "/d/e", "/d/e/f/g"));
        assertThat(stat("/d/e/f").isDirectory()).isTrue();
        fs.rename(ROOT, "/d/e/f", "/f");
        assertThat(stat("/f").isDirectory()).isTrue();
    }

    @Test
    void aDirectoryReplacesOnlyAnEmptyDirectory() {
        fs.mkdir(ROOT, "/a", 0755);
        fs.mkdir(ROOT, "/full", 0755);
        writeFile("/full/f", bytes("x"));
        fs.mkdir(ROOT, "/empty", 0755);
        writeFile("/a/marker", bytes("m"));
        assertErrno(Errno.ENOTEMPTY, () -> fs.rename(ROOT, "/a", "/full"));
        assertThat(readAll("/full/f")).isEqualTo(bytes("x"));
        fs.rename(ROOT, "/a", "/empty");
        assertThat(readAll("/empty/marker")).isEqualTo(bytes("m"));
        assertThat(stat("/").nlink()).isEqualTo(4); // ".", "..", /full, /empty
    }

    @Test
    void typesMustAgreeWhenReplacing() {
        fs.mkdir(ROOT, "/dir", 0755);
        writeFile("/file", bytes("x"));
        assertErrno(Errno.ENOTDIR, () -> fs.rename(ROOT, "/dir", "/file"));
        assertErrno(Errno.EISDIR, () -> fs.rename(ROOT, "/file", "/dir"));
        assertThat(stat("/dir").isDirectory()).isTrue();
        assertThat(readAll("/file")).isEqualTo(bytes("x"));
    }

    @Test
    void renameOfSymlinksMovesTheLinkNotTheTarget() {
        writeFile("/t", bytes("x"));
        fs.symlink(ROOT, "t", "/l");
        fs.rename(ROOT, "/l", "/m");
        assertThat(fs.readlink(ROOT, "/m")).isEqualTo(bytes("t"));
        assertThat(readAll("/t")).isEqualTo(bytes("x"));
    }
}
