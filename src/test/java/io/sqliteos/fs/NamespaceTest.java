package io.sqliteos.fs;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Names: getattr, readdir, mkdir/rmdir, link, symlink, unlink, mknod and name limits. */
class NamespaceTest extends FsTestBase {

    @Test
    void rootIsADirectoryWithTwoLinks() {
        FileAttributes a = stat("/");
        assertThat(a.ino()).isEqualTo(FileSystem.ROOT);
        assertThat(a.isDirectory()).isTrue();
        assertThat(a.nlink()).isEqualTo(2);
        assertThat(a.mode() & 07777).isEqualTo(0755);
    }

    @Test
    void getattrOfMissingNamesAndThroughFiles() {
        assertErrno(Errno.ENOENT, () -> stat("/nope"));
        writeFile("/f", bytes("x"));
        assertErrno(Errno.ENOTDIR, () -> stat("/f/x"));
        assertErrno(Errno.ENOENT, () -> stat("/d/x"));
    }

    @Test
    void mkdirMakesAnEmptyDirectoryAndCountsLinks() {
        fs.mkdir(ROOT, "/d", 0750);
        FileAttributes d = stat("/d");
        assertThat(d.isDirectory()).isTrue();
        assertThat(d.mode() & 07777).isEqualTo(0750);
        assertThat(d.nlink()).isEqualTo(2);
        assertThat(stat("/").nlink()).isEqualTo(3);
        fs.mkdir(ROOT, "/d/e", 0700);
        assertThat(stat("/d").nlink()).isEqualTo(3);
        assertThat(names("/d")).containsExactly(".", "..", "e");
        assertErrno(Errno.EEXIST, () -> fs.mkdir(ROOT, "/d", 0755));
        assertErrno(Errno.ENOENT, () -> fs.mkdir(ROOT, "/x/y", 0755));
    }

    @Test
    void mkdirTakesTheCallersOwnerOrTheSetgidDirectorysGroup() {
        fs.mkdir(ROOT, "/pub", 0777);
        fs.mkdir(ALICE, "/pub/a", 0755);
        assertThat(stat("/pub/a").uid()).isEqualTo(ALICE.uid());
        assertThat(stat("/pub/a").gid()).isEqualTo(ALICE.gid());
        fs.chown(ROOT, "/pub", -1, 50);
        fs.chmod(ROOT, "/pub", 02777);
        fs.mkdir(ALICE, "/pub/b", 0755);
        fs.mknod(ALICE, "/pub/f", Mode.S_IFREG | 02755, 0);
        assertThat(stat("/pub/b").gid()).isEqualTo(50);
        assertThat(stat("/pub/b").mode() & Mode.S_ISGID).as("setgid is inherited by directories").isNotZero();
        assertThat(stat("/pub/f").gid()).isEqualTo(50);
        assertThat(stat("/pub/f").mode() & Mode.S_ISGID).as("no setgid for a group the creator is not in").isZero();
    }

    @Test
    void rmdirRemovesOnlyEmptyDirectories() {
        fs.mkdir(ROOT, "/d", 0755);
        fs.mkdir(ROOT, "/d/sub", 0755);
        assertErrno(Errno.ENOTEMPTY, () -> fs.rmdir(ROOT, "/d"));
        writeFile("/f", bytes("x"));
        assertErrno(Errno.ENOTDIR, () -> fs.rmdir(ROOT, "/f"));
        assertErrno(Errno.ENOENT, () -> fs.rmdir(ROOT, "/none"));
        fs.rmdir(ROOT, "/d/sub");
        assertThat(stat("/d").nlink()).isEqualTo(2);
        fs.rmdir(ROOT, "/d");
        assertErrno(Errno.ENOENT, () -> stat("/d"));
        assertThat(stat("/").nlink()).isEqualTo(2);
        assertThat(names("/")).containsExactly(".", "..", "f");
    }

    /**
     * The kernel lists no removed directory (its getdents answers ENOENT
     * without asking), and it need not say when it closes a directory, so an
     * open handle does not keep a removed directory's inode.
     */
    @Test
    void anOpenedDirectoryIsGoneOnceRemoved() {
        fs.mkdir(ROOT, "/d", 0755);
        long fh = fs.opendir(ROOT, "/d");
        long freeBefore = fs.statfs(ROOT).freeInodes();
        fs.rmdir(ROOT, "/d");
        assertThat(fs.statfs(ROOT).freeInodes()).isEqualTo(freeBefore + 1);
        assertErrno(Errno.ENOENT, () -> fs.readdir(ROOT, null, fh));
        fs.releasedir(ROOT, fh);
        writeFile("/f", bytes("x"));
        assertErrno(Errno.ENOTDIR, () -> fs.opendir(ROOT, "/f"));
        assertErrno(Errno.ENOENT, () -> fs.opendir(ROOT, "/nofile"));
    }

    @Test
    void readdirListsDotsThenEveryNameWithInodeAndType() {
        fs.mkdir(ROOT, "/d", 0755);
        fs.mkdir(ROOT, "/d/sub", 0755);
        writeFile("/d/file", bytes("x"));
        fs.symlink(ROOT, "file", "/d/link");
        List<DirEntry> entries = fs.readdir(ROOT, "/d", 0);
        assertThat(entries).extracting(DirEntry::name).containsExactly(".", "..", "file", "link", "sub");
        assertThat(entries.get(0).ino()).isEqualTo(stat("/d").ino());
        assertThat(entries.get(1).ino()).isEqualTo(FileSystem.ROOT);
        DirEntry file = entries.get(2);
        assertThat(file.ino()).isEqualTo(stat("/d/file").ino());
        assertThat(Mode.type(file.mode())).isEqualTo(Mode.S_IFREG);
        assertThat(Mode.type(entries.get(3).mode())).isEqualTo(Mode.S_IFLNK);
        assertThat(Mode.type(entries.get(4).mode())).isEqualTo(Mode.S_IFDIR);
        assertThat(fs.readdir(ROOT, "/d/sub", 0).get(1).ino()).isEqualTo(stat("/d").ino());
        assertErrno(Errno.ENOTDIR, () -> fs.readdir(ROOT, "/d/file", 0));
    }

    @Test
    void listingsOfSeveralPagesHaveEveryNameOnceInByteOrderWithItsInodeAndType() {
        int page = io.sqliteos.db.PackedEntries.PAGE;
        // names of one to four UTF-8 bytes a character, so that byte order and UTF-16 order differ
        String[] stems = {"a", "\u00e9t\u00e9", "\u65e5\u672c", "\ud83d\ude00", "\uffee", "z"};
        for (int count : new int[] {page - 1, page, page + 1, 2 * page + 1}) {
            String dir = "/pages-" + count;
            fs.mkdir(ROOT, dir, 0755);
            java.util.Map<String, Integer> types = new java.util.HashMap<>();
            for (int i = 0; i < count; i++) {
                String name = stems[i % stems.length] + "-" + i;
                if (i % 97 == 0) {
                    fs.mkdir(ROOT, dir + "/" + name, 0755);
                    types.put(name, Mode.S_IFDIR);
                } else if (i % 89 == 0) {
                    fs.symlink(ROOT, "target", dir + "/" + name);
                    types.put(name, Mode.S_IFLNK);
                } else {
                    fs.mknod(ROOT, dir + "/" + name, Mode.S_IFREG | 0644, 0);
                    types.put(name, Mode.S_IFREG);
                }
            }
            List<DirEntry> entries = fs.readdir(ROOT, dir, 0);
            List<DirEntry> named = entries.subList(2, entries.size());
            assertThat(named).as("%d entries", count).hasSize(count);
            List<String> expectedOrder = types.keySet().stream()
                    .sorted((x, y) -> java.util.Arrays.compareUnsigned(bytes(x), bytes(y))).toList();
            assertThat(named).extracting(DirEntry::name).containsExactlyElementsOf(expectedOrder);
            for (DirEntry e : named) {
                assertThat(Mode.type(e.mode())).as("type of %s", e.name()).isEqualTo(types.get(e.name()));
                if (e.name().endsWith("0")) {
                    assertThat(e.ino()).as("inode of %s", e.name()).isEqualTo(stat(dir + "/" + e.name()).ino());
                }
            }
        }
    }

    @Test
    void aDirectoryOfOneHundredThousandEntriesListsEveryName() {
        fs.mkdir(ROOT, "/big", 0755);
        int count = 100_000;
        for (int i = 0; i < count; i++) {
            fs.mknod(ROOT, "/big/entry-" + i, Mode.S_IFREG | 0644, 0);
        }
        List<DirEntry> entries = fs.readdir(ROOT, "/big", 0);
        assertThat(entries).hasSize(count + 2);
        java.util.Set<String> names = new java.util.HashSet<>();
        java.util.Set<Long> inodes = new java.util.HashSet<>();
        for (DirEntry e : entries.subList(2, entries.size())) {
            names.add(e.name());
            inodes.add(e.ino());
        }
        assertThat(names).hasSize(count).contains("entry-0", "entry-99999", "entry-54321");
        assertThat(inodes).as("every entry is its own inode").hasSize(count);
        assertThat(stat("/big/entry-77777").size()).isZero();
    }

    @Test
    void aListingTakenInPartsResumesAtEachPositionAndStartsAfreshAtZero() {
        fs.mkdir(ROOT, "/parts", 0755);
        int count = 3 * io.sqliteos.db.PackedEntries.PAGE + 17; // pages listed here and on a lister thread
        for (int i = 0; i < count; i++) {
            fs.mknod(ROOT, "/parts/entry-" + i, Mode.S_IFREG | 0644, 0);
        }
        long dh = fs.opendir(ROOT, "/parts");
        List<String> whole = new java.util.ArrayList<>();
        for (long position = 0; ; ) {
            List<String> part = listPart(dh, position, 100);
            if (part.isEmpty()) {
                break;
            }
            whole.addAll(part);
            position += part.size();
        }
        assertThat(whole).hasSize(count + 2).startsWith(".", "..").doesNotHaveDuplicates();
        assertThat(whole.subList(2, whole.size())).isSorted();
        // any position again, as a seekdir asks: the same entries, though the directory changed since
        fs.unlink(ROOT, "/parts/" + whole.get(1500));
        for (int position : new int[] {count + 1, 1, 1023, 1024, 1025, 2048, 2049, 1500}) {
            assertThat(listPart(dh, position, 3)).as("from position %d", position)
                    .isEqualTo(whole.subList(position, Math.min(position + 3, whole.size())));
        }
        assertThat(listPart(dh, count + 2, 3)).as("past the end").isEmpty();
        // position 0 is a rewind: a fresh listing
        List<String> afresh = listPart(dh, 0, count + 10);
        assertThat(afresh).hasSize(count + 1).doesNotContain(whole.get(1500));
        fs.releasedir(ROOT, dh);
    }

    /** The names of at most {@code room} entries of open directory {@code dh} from {@code position}. */
    private List<String> listPart(long dh, long position, int room) {
        List<String> names = new java.util.ArrayList<>();
        fs.readdir(ROOT, null, dh, position, (packed, from, to, first) -> {
            assertThat(first).isEqualTo(position + names.size());
            java.nio.ByteBuffer b = io.sqliteos.db.PackedEntries.view(packed);
            int taken = 0;
            for (int at = from; at < to && names.size() < room; at += io.sqliteos.db.PackedEntries.entryLength(b, at)) {
                names.add(new String(io.sqliteos.db.PackedEntries.name(b, at), StandardCharsets.UTF_8));
                taken++;
            }
            return taken;
        });
        return names;
    }

    @Test
    void aNewFileNeverTakesTheInodeNumberOfOneJustDeleted() {
        fs.mknod(ROOT, "/first", Mode.S_IFREG | 0644, 0);
        long first = stat("/first").ino();
        fs.unlink(ROOT, "/first");
        fs.mknod(ROOT, "/second", Mode.S_IFREG | 0644, 0);
        fs.mkdir(ROOT, "/third", 0755);
        assertThat(stat("/second").ino()).isGreaterThan(first);
        assertThat(stat("/third").ino()).isGreaterThan(stat("/second").ino());
    }

    @Test
    void namesLongerThanNameMaxAreRefused() {
        String max = "n".repeat(255);
        String tooLong = "n".repeat(256);
        writeFile("/" + max, bytes("ok"));
        assertThat(stat("/" + max).size()).isEqualTo(2);
        assertErrno(Errno.ENAMETOOLONG, () -> fs.mkdir(ROOT, "/" + tooLong, 0755));
        assertErrno(Errno.ENAMETOOLONG, () -> fs.create(ROOT, "/" + tooLong, 0644, O_CREAT | O_WRONLY));
        assertErrno(Errno.ENAMETOOLONG, () -> stat("/" + tooLong));
        assertErrno(Errno.ENAMETOOLONG, () -> fs.symlink(ROOT, "x", "/" + tooLong));
        // the limit is in bytes: 128 two-byte characters are 256 bytes
        assertErrno(Errno.ENAMETOOLONG, () -> fs.mkdir(ROOT, "/" + "é".repeat(128), 0755));
        // a path from the mount's root may exceed PATH_MAX: the kernel limits only what a process passes
        StringBuilder deep = new StringBuilder();
        for (int i = 0; i < 21; i++) {
            deep.append('/').append(String.valueOf((char) ('a' + i)).repeat(200));
            fs.mkdir(ROOT, deep.toString(), 0755);
        }
        assertThat(deep.length()).isGreaterThan(FileSystem.PATH_MAX);
        writeFile(deep + "/leaf", bytes("deep"));
        assertThat(readAll(deep + "/leaf")).isEqualTo(bytes("deep"));
        assertErrno(Errno.ENAMETOOLONG, () -> fs.symlink(ROOT, "t".repeat(4096), "/l"));
    }

    @Test
    void hardLinksShareTheInodeAndCountNames() {
        writeFile("/a", bytes("shared"));
        fs.mkdir(ROOT, "/d", 0755);
        fs.link(ROOT, "/a", "/d/b");
        assertThat(stat("/d/b").ino()).isEqualTo(stat("/a").ino());
        assertThat(stat("/a").nlink()).isEqualTo(2);
        writeAt("/d/b", 0, bytes("SH"));
        assertThat(readAll("/a")).isEqualTo(bytes("SHared"));
        fs.unlink(ROOT, "/a");
        assertThat(stat("/d/b").nlink()).isEqualTo(1);
        assertThat(readAll("/d/b")).isEqualTo(bytes("SHared"));
        assertErrno(Errno.EEXIST, () -> fs.link(ROOT, "/d/b", "/d"));
        assertErrno(Errno.EPERM, () -> fs.link(ROOT, "/d", "/d2"));
        assertErrno(Errno.ENOENT, () -> fs.link(ROOT, "/gone", "/x"));
        assertErrno(Errno.ENOENT, () -> fs.link(ROOT, "/d/b", "/none/x"));
    }

    @Test
    void linkUpdatesCtimeOfTheFileAndTimesOfTheNewParent() throws Exception {
        writeFile("/a", bytes("x"));
        fs.mkdir(ROOT, "/d", 0755);
        FileAttributes file = stat("/a");
        FileAttributes dir = stat("/d");
        tick();
        fs.link(ROOT, "/a", "/d/b");
        assertThat(stat("/a").ctimeNs()).isGreaterThan(file.ctimeNs());
        assertThat(stat("/a").mtimeNs()).isEqualTo(file.mtimeNs());
        assertThat(stat("/d").mtimeNs()).isGreaterThan(dir.mtimeNs());
        assertThat(stat("/d").ctimeNs()).isGreaterThan(dir.ctimeNs());
    }

    @Test
    void symlinkStoresTheTargetVerbatim() {
        fs.symlink(ROOT, "../some/where/ü", "/l");
        FileAttributes a = stat("/l");
        assertThat(Mode.type(a.mode())).isEqualTo(Mode.S_IFLNK);
        assertThat(a.mode() & 0777).isEqualTo(0777);
        assertThat(a.size()).isEqualTo(bytes("../some/where/ü").length);
        assertThat(fs.readlink(ROOT, "/l")).isEqualTo(bytes("../some/where/ü"));
        writeFile("/f", bytes("x"));
        assertErrno(Errno.EINVAL, () -> fs.readlink(ROOT, "/f"));
        assertErrno(Errno.EEXIST, () -> fs.symlink(ROOT, "x", "/f"));
        assertErrno(Errno.ENOENT, () -> fs.symlink(ROOT, "", "/empty"));
        fs.symlink(ROOT, "t".repeat(4095), "/longest");
        assertThat(fs.readlink(ROOT, "/longest")).hasSize(4095);
        fs.unlink(ROOT, "/l");
        assertErrno(Errno.ENOENT, () -> stat("/l"));
    }

    @Test
    void unlinkRemovesNamesButNotDirectories() throws Exception {
        fs.mkdir(ROOT, "/d", 0755);
        writeFile("/d/f", bytes("abc"));
        assertErrno(Errno.EISDIR, () -> fs.unlink(ROOT, "/d"));
        assertErrno(Errno.ENOENT, () -> fs.unlink(ROOT, "/d/none"));
        FileAttributes dir = stat("/d");
        tick();
        fs.unlink(ROOT, "/d/f");
        assertErrno(Errno.ENOENT, () -> stat("/d/f"));
        assertThat(stat("/d").mtimeNs()).isGreaterThan(dir.mtimeNs());
        assertThat(stat("/d").ctimeNs()).isGreaterThan(dir.ctimeNs());
        assertThat(fs.statfs(ROOT).freeBlocks()).isEqualTo(fs.statfs(ROOT).totalBlocks());
    }

    @Test
    void unlinkOfAHardLinkUpdatesTheSurvivorsCtime() throws Exception {
        writeFile("/a", bytes("x"));
        fs.link(ROOT, "/a", "/b");
        long before = stat("/a").ctimeNs();
        tick();
        fs.unlink(ROOT, "/b");
        assertThat(stat("/a").ctimeNs()).isGreaterThan(before);
    }

    @Test
    void mknodMakesFifosSocketsAndDevices() {
        fs.mknod(ROOT, "/fifo", Mode.S_IFIFO | 0640, 0);
        fs.mknod(ROOT, "/sock", Mode.S_IFSOCK | 0600, 0);
        fs.mknod(ROOT, "/chr", Mode.S_IFCHR | 0600, 0x0103);
        fs.mknod(ROOT, "/blk", Mode.S_IFBLK | 0600, 0x0801);
        fs.mknod(ROOT, "/plain", 0644, 0);
        assertThat(Mode.type(stat("/fifo").mode())).isEqualTo(Mode.S_IFIFO);
        assertThat(stat("/fifo").mode() & 07777).isEqualTo(0640);
        assertThat(stat("/fifo").rdev()).isZero();
        assertThat(Mode.type(stat("/sock").mode())).isEqualTo(Mode.S_IFSOCK);
        assertThat(stat("/chr").rdev()).isEqualTo(0x0103);
        assertThat(stat("/blk").rdev()).isEqualTo(0x0801);
        assertThat(Mode.type(stat("/plain").mode())).isEqualTo(Mode.S_IFREG);
        assertErrno(Errno.EEXIST, () -> fs.mknod(ROOT, "/fifo", Mode.S_IFIFO | 0640, 0));
        assertErrno(Errno.EINVAL, () -> fs.mknod(ROOT, "/dir", Mode.S_IFDIR | 0755, 0));
    }

    @Test
    void creatingANameUpdatesTheParentsMtimeAndCtimeOnly() throws Exception {
        fs.mkdir(ROOT, "/d", 0755);
        for (Runnable create : List.<Runnable>of(
                () -> fs.mkdir(ROOT, "/d/sub", 0755),
                () -> fs.release(ROOT, fs.create(ROOT, "/d/file", 0644, O_CREAT | O_WRONLY)),
                () -> fs.mknod(ROOT, "/d/fifo", Mode.S_IFIFO | 0644, 0),
                () -> fs.symlink(ROOT, "x", "/d/link"))) {
            ageTimes("/d");
            FileAttributes before = stat("/d");
            tick();
            create.run();
            FileAttributes after = stat("/d");
            assertThat(after.mtimeNs()).isGreaterThan(AGED_NS);
            assertThat(after.ctimeNs()).isGreaterThan(before.ctimeNs());
            assertThat(after.atimeNs()).isEqualTo(AGED_NS);
        }
    }

    @Test
    void aNewFileHasAllThreeTimesEqual() {
        fs.release(ROOT, fs.create(ROOT, "/f", 0644, O_CREAT | O_WRONLY));
        FileAttributes a = stat("/f");
        assertThat(a.atimeNs()).isEqualTo(a.mtimeNs()).isEqualTo(a.ctimeNs());
        assertThat(a.size()).isZero();
        assertThat(a.nlink()).isEqualTo(1);
    }

    List<String> names(String dir) {
        return fs.readdir(ROOT, dir, 0).stream().map(DirEntry::name).toList();
    }
}
