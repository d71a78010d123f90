package io.sqliteos.it;

import static io.sqliteos.it.Sys.*;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;

/**
 * Every file-system operation through the mount as root, by ordinary system
 * calls, with its success and its error cases (the errno a program sees).
 * Each test works in a directory of its own on one shared mount.
 */
class OperationsIT {

    static MountedFs fs;
    Path dir;

    @BeforeAll
    static void mount() throws Exception {
        fs = MountedFs.start("--size", "256M");
    }

    @AfterAll
    static void unmount() {
        fs.close();
    }

    @BeforeEach
    void ownDirectory(TestInfo test) throws Exception {
        dir = fs.path(test.getTestMethod().orElseThrow().getName());
        Files.createDirectory(dir);
    }

    private Path p(String name) {
        return dir.resolve(name);
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static byte[] random(int n, long seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    private Map<String, Object> stat(Path path) throws Exception {
        return Files.readAttributes(path, "unix:*", java.nio.file.LinkOption.NOFOLLOW_LINKS);
    }

    private static long ns(Object fileTime) {
        return ((FileTime) fileTime).to(TimeUnit.NANOSECONDS);
    }

    private int create(Path path, int mode) {
        int fd = open(path, O_RDWR | O_CREAT | O_EXCL, mode);
        assertThat(fd).as("create %s", path).isGreaterThanOrEqualTo(0);
        return fd;
    }

    // --- getattr -----------------------------------------------------------------------------

    @Test
    void getattrReportsTypeModeOwnerLinksSizeAndTimes() throws Exception {
        long before = System.currentTimeMillis() * 1_000_000L - 2_000_000_000L;
        int fd = create(p("f"), 0640);
        assertThat(write(fd, bytes("hello"))).isEqualTo(5);
        close(fd);
        Map<String, Object> st = stat(p("f"));
        assertThat((int) st.get("mode")).isEqualTo(S_IFREG | 0640);
        assertThat(st.get("uid")).isEqualTo(0);
        assertThat(st.get("gid")).isEqualTo(0);
        assertThat(st.get("nlink")).isEqualTo(1);
        assertThat(st.get("size")).isEqualTo(5L);
        assertThat(ns(st.get("lastModifiedTime"))).isGreaterThan(before);
        assertThat(ns(st.get("ctime"))).isGreaterThanOrEqualTo(ns(st.get("lastModifiedTime")));
        assertThat((long) st.get("ino")).isNotEqualTo((long) stat(dir).get("ino"));
        assertThat((int) stat(dir).get("mode") & 0170000).isEqualTo(0040000);
    }

    /**
     * The first stat of a node just made comes from the reply to the request
     * that made it (the kernel caches those attributes); once the kernel has
     * dropped them, a stat asks the daemon afresh. Both must say the same.
     */
    @Test
    void aNodeJustMadeReportsWhatALaterLookupReports() throws Exception {
        String script = "import os, socket, sys\n"
                + "os.chdir(sys.argv[1]); os.umask(0o027)\n"
                + "def show(n):\n"
                + "    st = os.stat(n, follow_symlinks=False)\n"
                + "    print(n, st.st_ino, oct(st.st_mode), st.st_nlink, st.st_uid, st.st_gid, st.st_size,"
                + " st.st_blocks, st.st_atime_ns, st.st_mtime_ns, st.st_ctime_ns)\n"
                + "makers = {'sub': lambda n: os.mkdir(n),\n"
                + "    'excl': lambda n: os.close(os.open(n, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o664)),\n"
                + "    'fifo': lambda n: os.mkfifo(n),\n"
                + "    'link': lambda n: os.symlink('excl', n),\n"
                + "    'sock': lambda n: socket.socket(socket.AF_UNIX).bind(n),\n"
                + "    'setgid/sub': lambda n: os.mkdir(n),\n"
                + "    'setgid/excl': lambda n: os.close(os.open(n, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o666))}\n"
                + "if sys.argv[2] == 'make':\n"
                + "    os.mkdir('setgid'); os.chmod('setgid', 0o2770); os.chown('setgid', -1, 7)\n"
                + "for n, make in makers.items():\n"
                + "    if sys.argv[2] == 'make':\n"
                + "        make(n)\n"
                + "    show(n)\n";
        Files.writeString(p("show.py"), script);
        String d = dir.getFileName().toString();
        String fromReplies = fs.sh("python3 " + d + "/show.py " + d + " make").ok().stdout();
        String afresh = fs.sh("echo 2 > /proc/sys/vm/drop_caches && python3 " + d + "/show.py " + d + " show")
                .ok().stdout();
        assertThat(fromReplies).isEqualTo(afresh);
        assertThat(fromReplies.lines().map(l -> l.split(" ")))
                .extracting(f -> f[0] + " " + f[2] + " " + f[3] + " " + f[5])
                .containsExactly("sub 0o40750 2 0", "excl 0o100640 1 0", "fifo 0o10640 1 0", "link 0o120777 1 0",
                        "sock 0o140750 1 0", "setgid/sub 0o42750 2 7", "setgid/excl 0o100640 1 7");
    }

    @Test
    void getattrErrors() throws Exception {
        close(create(p("file"), 0644));
        assertThat(open(p("missing"), O_RDONLY, 0)).isEqualTo(-ENOENT);
        assertThat(open(p("file/below"), O_RDONLY, 0)).isEqualTo(-ENOTDIR);
        assertThat(open(p("nodir/below"), O_RDONLY, 0)).isEqualTo(-ENOENT);
        assertThat(Files.exists(p("missing"))).isFalse();
    }

    // --- directories ---------------------------------------------------------------------------

    @Test
    void readdirListsExactlyTheEntries() throws Exception {
        for (int i = 0; i < 50; i++) {
            close(create(p("file-" + i), 0644));
            assertThat(mkdir(p("dir-" + i), 0755)).isZero();
        }
        assertThat(symlink("file-0", p("link"))).isZero();
        List<String> names;
        try (Stream<Path> s = Files.list(dir)) {
            names = s.map(x -> x.getFileName().toString()).sorted().toList();
        }
        assertThat(names).hasSize(101).contains("file-0", "file-49", "dir-0", "dir-49", "link");
        String ls = fs.sh("ls -a " + dir.getFileName()).ok().stdout();
        assertThat(ls.lines()).contains(".", "..").hasSize(103);
        assertThat(fs.sh("ls " + dir.getFileName() + "/file-0").exitCode()).isZero();
    }

    @Test
    void readdirReportsTheTypeOfEachEntry() throws Exception {
        close(create(p("file"), 0644));
        assertThat(mkdir(p("dir"), 0755)).isZero();
        assertThat(symlink("file", p("link"))).isZero();
        assertThat(mknod(p("fifo"), S_IFIFO | 0644, 0)).isZero();
        assertThat(mknod(p("sock"), S_IFSOCK | 0644, 0)).isZero();
        assertThat(link(p("file"), p("hard"))).isZero();
        // a rename over an existing name gives that name the moved inode's type
        close(create(p("was-file"), 0644));
        assertThat(symlink("dir", p("moved-link"))).isZero();
        assertThat(rename(p("moved-link"), p("was-file"))).isZero();

        int dtDir = 4, dtReg = 8, dtLnk = 10, dtFifo = 1, dtSock = 12;
        assertThat(direntTypes(dir)).containsExactlyInAnyOrderEntriesOf(Map.of(
                ".", dtDir, "..", dtDir, "file", dtReg, "hard", dtReg, "dir", dtDir,
                "link", dtLnk, "was-file", dtLnk, "fifo", dtFifo, "sock", dtSock));
        // find trusts d_type for -type, without a stat of each entry
        assertThat(fs.sh("cd " + dir.getFileName() + " && find . -type l | sort").ok().stdout())
                .isEqualTo("./link\n./was-file\n");
    }

    @Test
    void mkdirAndRmdir() throws Exception {
        assertThat(mkdir(p("a"), 0750)).isZero();
        assertThat((int) stat(p("a")).get("mode")).isEqualTo(0040750);
        assertThat(stat(p("a")).get("nlink")).isEqualTo(2);
        assertThat(mkdir(p("a"), 0755)).isEqualTo(-EEXIST);
        assertThat(mkdir(p("a/b"), 0755)).isZero();
        assertThat(mkdir(p("a/c"), 0755)).isZero();
        assertThat(stat(p("a")).get("nlink")).isEqualTo(4);
        assertThat(mkdir(p("none/b"), 0755)).isEqualTo(-ENOENT);
        close(create(p("a/b/f"), 0644));
        assertThat(rmdir(p("a/b"))).isEqualTo(-ENOTEMPTY);
        assertThat(rmdir(p("a/b/f"))).isEqualTo(-ENOTDIR);
        assertThat(rmdir(p("a/missing"))).isEqualTo(-ENOENT);
        assertThat(mkdir(p("a/b/f/x"), 0755)).isEqualTo(-ENOTDIR);
        assertThat(unlink(p("a/b"))).isEqualTo(-EISDIR);
        assertThat(unlink(p("a/b/f"))).isZero();
        assertThat(rmdir(p("a/b"))).isZero();
        assertThat(rmdir(p("a/c"))).isZero();
        assertThat(stat(p("a")).get("nlink")).isEqualTo(2);
        assertThat(rmdir(p("a"))).isZero();
        assertThat(Files.exists(p("a"))).isFalse();
    }

    // --- create and open ---------------------------------------------------------------------------------

    @Test
    void createWithExclusiveAndTruncate() throws Exception {
        int fd = create(p("f"), 0600);
        assertThat(write(fd, bytes("0123456789"))).isEqualTo(10);
        close(fd);
        assertThat(open(p("f"), O_RDWR | O_CREAT | O_EXCL, 0600)).isEqualTo(-EEXIST);
        // O_CREAT without O_EXCL opens the existing file and keeps its data
        fd = open(p("f"), O_RDWR | O_CREAT, 0600);
        assertThat(new String(pread(fd, 100, 0), StandardCharsets.UTF_8)).isEqualTo("0123456789");
        close(fd);
        fd = open(p("f"), O_WRONLY | O_TRUNC, 0);
        assertThat(fd).isNotNegative();
        close(fd);
        assertThat(Files.size(p("f"))).isZero();
        assertThat(open(p("missing"), O_RDWR, 0)).isEqualTo(-ENOENT);
        assertThat(open(dir, O_RDWR, 0)).isEqualTo(-EISDIR);
        assertThat(open(p("f"), O_RDONLY | O_DIRECTORY, 0)).isEqualTo(-ENOTDIR);
        fd = open(p("f"), O_RDONLY, 0);
        assertThat(write(fd, bytes("x"))).isEqualTo(-EBADF);
        close(fd);
    }

    @Test
    void appendWritesAlwaysGoToTheEnd() throws Exception {
        Files.writeString(p("log"), "12345");
        int a = open(p("log"), O_WRONLY | O_APPEND, 0);
        int b = open(p("log"), O_WRONLY | O_APPEND, 0);
        assertThat(write(a, bytes("ab"))).isEqualTo(2);
        assertThat(write(b, bytes("cd"))).isEqualTo(2);
        assertThat(write(a, bytes("ef"))).isEqualTo(2);
        close(a);
        close(b);
        assertThat(Files.readString(p("log"))).isEqualTo("12345abcdef");
    }

    // --- read and write --------------------------------------------------------------------------------------

    @Test
    void writesAcrossBlockBoundariesReadBack() throws Exception {
        byte[] data = random(300_000, 1);
        int fd = create(p("f"), 0644);
        assertThat(pwrite(fd, data, 65_530)).isEqualTo(data.length);
        byte[] patch = random(1000, 2);
        assertThat(pwrite(fd, patch, 131_000)).isEqualTo(1000);
        System.arraycopy(patch, 0, data, 131_000 - 65_530, 1000);
        close(fd);
        byte[] all = Files.readAllBytes(p("f"));
        assertThat(all.length).isEqualTo(65_530 + 300_000);
        assertThat(Arrays.copyOf(all, 65_530)).containsOnly(0);
        assertThat(Arrays.copyOfRange(all, 65_530, all.length)).isEqualTo(data);
    }

    @Test
    void dataPastFourGibibytes() throws Exception {
        long at = (4L << 30) + 12_345;
        byte[] data = random(200_000, 3);
        int fd = create(p("f"), 0644);
        assertThat(pwrite(fd, data, at)).isEqualTo(data.length);
        assertThat(pwrite(fd, bytes("head"), 0)).isEqualTo(4);
        close(fd);
        assertThat(Files.size(p("f"))).isEqualTo(at + data.length);
        fd = open(p("f"), O_RDONLY, 0);
        assertThat(pread(fd, data.length, at)).isEqualTo(data);
        assertThat(pread(fd, 4, 0)).isEqualTo(bytes("head"));
        assertThat(pread(fd, 4096, at - 4096)).containsOnly(0);
        assertThat(pread(fd, 10, at + data.length)).isEmpty();
        close(fd);
        // only what was written is stored: a few blocks, not 4 GiB
        assertThat((long) stat(p("f")).get("size")).isEqualTo(at + data.length);
        assertThat(Long.parseLong(fs.sh("stat -c %b " + dir.getFileName() + "/f").ok().stdout().trim()) * 512)
                .isLessThan(1L << 20);
    }

    @Test
    void sparseDataAtOneTebibyteAndHolesReadAsZeros() throws Exception {
        long tib = 1L << 40;
        int fd = create(p("sparse"), 0644);
        assertThat(pwrite(fd, bytes("far away"), tib)).isEqualTo(8);
        close(fd);
        assertThat(Files.size(p("sparse"))).isEqualTo(tib + 8);
        fd = open(p("sparse"), O_RDONLY, 0);
        assertThat(new String(pread(fd, 8, tib), StandardCharsets.UTF_8)).isEqualTo("far away");
        assertThat(pread(fd, 131_072, tib - 131_072)).hasSize(131_072).containsOnly(0);
        assertThat(pread(fd, 131_072, 1L << 35)).hasSize(131_072).containsOnly(0);
        assertThat(pread(fd, 16, 0)).hasSize(16).containsOnly(0);
        close(fd);
        String df = fs.sh("df -B1 --output=used . | tail -1").ok().stdout().trim();
        assertThat(Long.parseLong(df)).isLessThan(64L << 20);
        // dd reads through a hole the same way
        assertThat(fs.sh("dd if=" + dir.getFileName() + "/sparse bs=4096 skip=1000 count=4 status=none"
                + " | cmp -n 16384 - /dev/zero").exitCode()).isZero();
    }

    @Test
    void truncateGrowsWithZerosAndShrinks() throws Exception {
        byte[] data = random(200_000, 4);
        Files.write(p("f"), data);
        assertThat(truncate(p("f"), 100_000)).isZero();
        assertThat(Files.readAllBytes(p("f"))).isEqualTo(Arrays.copyOf(data, 100_000));
        // growing again must not bring back the old bytes
        assertThat(truncate(p("f"), 300_000)).isZero();
        byte[] grown = Files.readAllBytes(p("f"));
        assertThat(grown).hasSize(300_000);
        assertThat(Arrays.copyOf(grown, 100_000)).isEqualTo(Arrays.copyOf(data, 100_000));
        assertThat(Arrays.copyOfRange(grown, 100_000, 300_000)).containsOnly(0);
        int fd = open(p("f"), O_RDWR, 0);
        assertThat(ftruncate(fd, 3)).isZero();
        assertThat(pread(fd, 10, 0)).isEqualTo(Arrays.copyOf(data, 3));
        assertThat(ftruncate(fd, 0)).isZero();
        close(fd);
        assertThat(Files.size(p("f"))).isZero();
        assertThat(truncate(p("f"), -1)).isEqualTo(-EINVAL);
        assertThat(truncate(dir, 0)).isEqualTo(-EISDIR);
        assertThat(truncate(p("missing"), 0)).isEqualTo(-ENOENT);
        assertThat(truncate(p("f"), 1L << 50)).isEqualTo(-EFBIG);
    }

    @Test
    void truncateUpdatesModificationTime() throws Exception {
        Files.writeString(p("f"), "data");
        Files.setLastModifiedTime(p("f"), FileTime.fromMillis(1_000));
        assertThat(truncate(p("f"), 2)).isZero();
        assertThat(Files.getLastModifiedTime(p("f")).toMillis()).isGreaterThan(1_000_000L);
    }

    // --- unlink ------------------------------------------------------------------------------------------------

    @Test
    void unlinkedOpenFileStaysUsableUntilLastClose() throws Exception {
        long usedBefore = used();
        byte[] data = random(4 << 20, 5);
        int fd = create(p("doomed"), 0644);
        int other = -1;
        assertThat(pwrite(fd, data, 0)).isEqualTo(data.length);
        other = open(p("doomed"), O_RDONLY, 0);
        long ino = fstat(fd).ino();
        assertThat(unlink(p("doomed"))).isZero();
        assertThat(Files.exists(p("doomed"))).isFalse();
        // fstat still describes the file, with no links left (databases size their temporary files so)
        assertThat(fstat(other)).isEqualTo(new Stat(ino, 0, 0100644, data.length));
        assertThat(fstat(fd)).isEqualTo(new Stat(ino, 0, 0100644, data.length));
        try (Stream<Path> s = Files.list(dir)) {
            assertThat(s.count()).isZero();
        }
        // still readable and writable through both descriptors
        assertThat(pread(fd, 100, 0)).isEqualTo(Arrays.copyOf(data, 100));
        assertThat(pwrite(fd, bytes("tail"), data.length)).isEqualTo(4);
        assertThat(new String(pread(other, 4, data.length), StandardCharsets.UTF_8)).isEqualTo("tail");
        assertThat(ftruncate(fd, 10)).isZero();
        assertThat(pread(other, 100, 0)).isEqualTo(Arrays.copyOf(data, 10));
        assertThat(fstat(other).size()).isEqualTo(10);
        // a new file may take the name meanwhile
        Files.writeString(p("doomed"), "new");
        assertThat(pread(fd, 100, 0)).isEqualTo(Arrays.copyOf(data, 10));
        assertThat(pwrite(fd, data, 0)).isEqualTo(data.length);
        close(fd);
        assertThat(pread(other, 100, 0)).isEqualTo(Arrays.copyOf(data, 100));
        assertThat(used()).isGreaterThanOrEqualTo(usedBefore + data.length);
        close(other);
        assertThat(Files.readString(p("doomed"))).isEqualTo("new");
        // the last close frees the space
        MountedFs.eventually("space freed at the last close", () -> used() < usedBefore + data.length);
    }

    @Test
    void fileReplacedByRenameStaysUsableThroughItsDescriptor() throws Exception {
        Files.writeString(p("new"), "NEW");
        Files.writeString(p("old"), "OLD CONTENT");
        int fd = open(p("old"), O_RDWR, 0);
        long ino = fstat(fd).ino();
        assertThat(rename(p("new"), p("old"))).isZero();
        assertThat(Files.readString(p("old"))).isEqualTo("NEW");
        assertThat(fstat(fd).ino()).isEqualTo(ino);
        assertThat(fstat(fd).size()).isEqualTo(11);
        assertThat(fstat(fd).nlink()).isZero();
        assertThat(new String(pread(fd, 100, 0), StandardCharsets.UTF_8)).isEqualTo("OLD CONTENT");
        assertThat(pwrite(fd, bytes("old"), 0)).isEqualTo(3);
        assertThat(new String(pread(fd, 100, 0), StandardCharsets.UTF_8)).isEqualTo("old CONTENT");
        close(fd);
        assertThat(Files.readString(p("old"))).isEqualTo("NEW");
        try (Stream<Path> s = Files.list(dir)) {
            assertThat(s.map(x -> x.getFileName().toString())).containsExactly("old");
        }
    }

    @Test
    void statAndFstatHoldWhileOtherDescriptorsOpenAndClose() throws Exception {
        // a stat of an open file is served through one of its open handles, which may be closing meanwhile
        Files.writeString(p("busy"), "x".repeat(100));
        int nameless = create(p("nameless"), 0644);
        assertThat(pwrite(nameless, bytes("y".repeat(77)), 0)).isEqualTo(77);
        assertThat(unlink(p("nameless"))).isZero();
        java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
        java.util.concurrent.ConcurrentLinkedQueue<String> failures = new java.util.concurrent.ConcurrentLinkedQueue<>();
        java.util.concurrent.atomic.AtomicLong stats = new java.util.concurrent.atomic.AtomicLong();
        List<Thread> threads = new java.util.ArrayList<>();
        for (int i = 0; i < 2; i++) {
            threads.add(new Thread(() -> {
                while (!stop.get()) {
                    int fd = open(p("busy"), O_RDONLY, 0);
                    if (fd < 0) {
                        failures.add("open: errno " + -fd);
                        return;
                    }
                    close(fd);
                }
            }));
        }
        threads.add(new Thread(() -> {
            while (!stop.get()) {
                try {
                    if (Files.size(p("busy")) != 100) {
                        failures.add("stat: wrong size");
                    }
                    Stat st = fstat(nameless);
                    if (st.size() != 77 || st.nlink() != 0) {
                        failures.add("fstat: " + st);
                    }
                    stats.incrementAndGet();
                } catch (Throwable e) {
                    failures.add(e.toString());
                    return;
                }
            }
        }));
        threads.forEach(Thread::start);
        Thread.sleep(3000);
        stop.set(true);
        for (Thread t : threads) {
            t.join(10_000);
        }
        close(nameless);
        assertThat(failures).as("after %d stats", stats.get()).isEmpty();
        assertThat(stats.get()).isPositive();
    }

    private long used() throws Exception {
        return Long.parseLong(fs.sh("df -B1 --output=used . | tail -1").ok().stdout().trim());
    }

    // --- rename ---------------------------------------------------------------------------------------------------

    @Test
    void renameOverExistingAndAcrossDirectories() throws Exception {
        Files.writeString(p("a"), "A");
        Files.writeString(p("b"), "B");
        long inoA = (long) stat(p("a")).get("ino");
        assertThat(rename(p("a"), p("b"))).isZero();
        assertThat(Files.exists(p("a"))).isFalse();
        assertThat(Files.readString(p("b"))).isEqualTo("A");
        assertThat((long) stat(p("b")).get("ino")).isEqualTo(inoA);
        assertThat(mkdir(p("d1"), 0755)).isZero();
        assertThat(mkdir(p("d2"), 0755)).isZero();
        assertThat(rename(p("b"), p("d1/moved"))).isZero();
        assertThat(Files.readString(p("d1/moved"))).isEqualTo("A");
        // a directory moved across directories takes its subtree and fixes the link counts
        assertThat(mkdir(p("d1/sub"), 0755)).isZero();
        Files.writeString(p("d1/sub/inner"), "I");
        assertThat(stat(p("d1")).get("nlink")).isEqualTo(3);
        assertThat(rename(p("d1/sub"), p("d2/sub"))).isZero();
        assertThat(Files.readString(p("d2/sub/inner"))).isEqualTo("I");
        assertThat(stat(p("d1")).get("nlink")).isEqualTo(2);
        assertThat(stat(p("d2")).get("nlink")).isEqualTo(3);
        assertThat(fs.sh("cd " + dir.getFileName() + "/d2/sub && cd .. && pwd").ok().stdout().trim())
                .endsWith("/d2");
        // an empty directory may be replaced by a directory
        assertThat(mkdir(p("d1/empty"), 0755)).isZero();
        assertThat(rename(p("d2/sub"), p("d1/empty"))).isZero();
        assertThat(Files.readString(p("d1/empty/inner"))).isEqualTo("I");
        assertThat(stat(p("d2")).get("nlink")).isEqualTo(2);
        assertThat(stat(p("d1")).get("nlink")).isEqualTo(3);
    }

    @Test
    void renameErrors() throws Exception {
        assertThat(mkdir(p("top"), 0755)).isZero();
        assertThat(mkdir(p("top/child"), 0755)).isZero();
        assertThat(mkdir(p("full"), 0755)).isZero();
        Files.writeString(p("full/x"), "x");
        Files.writeString(p("file"), "f");
        assertThat(rename(p("top"), p("top/child/inside"))).isEqualTo(-EINVAL);
        assertThat(rename(p("top"), p("top/inside"))).isEqualTo(-EINVAL);
        assertThat(rename(p("top"), p("full"))).isEqualTo(-ENOTEMPTY);
        assertThat(rename(p("top"), p("file"))).isEqualTo(-ENOTDIR);
        assertThat(rename(p("file"), p("top"))).isEqualTo(-EISDIR);
        assertThat(rename(p("missing"), p("x"))).isEqualTo(-ENOENT);
        assertThat(rename(p("file"), p("nodir/x"))).isEqualTo(-ENOENT);
        assertThat(rename(p("file"), p("file/x"))).isEqualTo(-ENOTDIR);
        // nothing moved
        assertThat(Files.readString(p("full/x"))).isEqualTo("x");
        assertThat(Files.isDirectory(p("top/child"))).isTrue();
        assertThat(Files.readString(p("file"))).isEqualTo("f");
        // renaming one hard link onto another of the same file changes nothing
        assertThat(link(p("file"), p("file2"))).isZero();
        assertThat(rename(p("file"), p("file2"))).isZero();
        assertThat(Files.exists(p("file"))).isTrue();
        assertThat(Files.exists(p("file2"))).isTrue();
    }

    // --- links --------------------------------------------------------------------------------------------------------

    @Test
    void hardLinksShareDataAndCountLinks() throws Exception {
        Files.writeString(p("orig"), "shared");
        assertThat(link(p("orig"), p("second"))).isZero();
        assertThat(mkdir(p("sub"), 0755)).isZero();
        assertThat(link(p("orig"), p("sub/third"))).isZero();
        Map<String, Object> st = stat(p("sub/third"));
        assertThat(st.get("nlink")).isEqualTo(3);
        assertThat(st.get("ino")).isEqualTo(stat(p("orig")).get("ino"));
        assertThat(Files.readString(p("sub/third"))).isEqualTo("shared");
        assertThat(unlink(p("orig"))).isZero();
        assertThat(Files.readString(p("second"))).isEqualTo("shared");
        assertThat(stat(p("sub/third")).get("nlink")).isEqualTo(2);
        assertThat(stat(p("second")).get("nlink")).isEqualTo(2);
        assertThat(link(p("second"), p("sub/third"))).isEqualTo(-EEXIST);
        assertThat(link(p("sub"), p("dirlink"))).isEqualTo(-EPERM);
        assertThat(link(p("missing"), p("x"))).isEqualTo(-ENOENT);
        assertThat(link(p("second"), p("nodir/x"))).isEqualTo(-ENOENT);
    }

    @Test
    void everyNameOfAHardLinkSeesChangesMadeThroughAnother() throws Exception {
        Files.writeString(p("a"), "v1");
        assertThat(stat(p("a")).get("nlink")).isEqualTo(1);
        assertThat(link(p("a"), p("b"))).isZero();
        assertThat(stat(p("a")).get("nlink")).isEqualTo(2);
        Files.writeString(p("b"), "version two");
        assertThat(Files.size(p("a"))).isEqualTo(11);
        assertThat(Files.readString(p("a"))).isEqualTo("version two");
        fs.sh("touch -d @86400 " + dir.getFileName() + "/b && chmod 600 " + dir.getFileName() + "/b").ok();
        Map<String, Object> st = stat(p("a"));
        assertThat(Files.getLastModifiedTime(p("a")).toMillis()).isEqualTo(86_400_000L);
        assertThat((int) st.get("mode") & 07777).isEqualTo(0600);
        assertThat(truncate(p("b"), 3)).isZero();
        assertThat(Files.readString(p("a"))).isEqualTo("ver");
        assertThat(unlink(p("b"))).isZero();
        assertThat(stat(p("a")).get("nlink")).isEqualTo(1);
    }

    @Test
    void symlinksAndReadlink() throws Exception {
        Files.writeString(p("target"), "through the link");
        assertThat(symlink("target", p("rel"))).isZero();
        assertThat(symlink("/no/such/place", p("dangling"))).isZero();
        assertThat(readlink(p("rel"))).isEqualTo("target");
        assertThat(readlink(p("dangling"))).isEqualTo("/no/such/place");
        assertThat(Files.readString(p("rel"))).isEqualTo("through the link");
        assertThat(Files.isSymbolicLink(p("rel"))).isTrue();
        Map<String, Object> st = stat(p("rel"));
        assertThat((int) st.get("mode") & 0170000).isEqualTo(0120000);
        assertThat(st.get("size")).isEqualTo(6L);
        assertThat(Files.exists(p("dangling"))).isFalse();
        assertThat(open(p("dangling"), O_RDONLY, 0)).isEqualTo(-ENOENT);
        assertThat(symlink("x", p("rel"))).isEqualTo(-EEXIST);
        assertThat(fs.sh("readlink " + dir.getFileName() + "/target").exitCode()).isNotZero();
        String longTarget = "t/".repeat(2047) + "x"; // 4095 bytes, the most a target may hold
        assertThat(symlink(longTarget, p("long"))).isZero();
        assertThat(readlink(p("long"))).isEqualTo(longTarget);
        // a symlink to a directory resolves in the middle of a path
        assertThat(mkdir(p("d"), 0755)).isZero();
        Files.writeString(p("d/inner"), "in");
        assertThat(symlink("d", p("dl"))).isZero();
        assertThat(Files.readString(p("dl/inner"))).isEqualTo("in");
    }

    // --- attributes ---------------------------------------------------------------------------------------------------------

    @Test
    void chmodAndChown() throws Exception {
        Files.writeString(p("f"), "x");
        for (String mode : List.of("0", "7777", "4755", "2711", "1777", "0600")) {
            fs.sh("chmod " + mode + " " + dir.getFileName() + "/f").ok();
            assertThat((int) stat(p("f")).get("mode") & 07777).as(mode).isEqualTo(Integer.parseInt(mode, 8));
        }
        long ctimeBefore = ns(stat(p("f")).get("ctime"));
        fs.sh("chown 1234:5678 " + dir.getFileName() + "/f").ok();
        Map<String, Object> st = stat(p("f"));
        assertThat(st.get("uid")).isEqualTo(1234);
        assertThat(st.get("gid")).isEqualTo(5678);
        assertThat(ns(st.get("ctime"))).isGreaterThanOrEqualTo(ctimeBefore);
        fs.sh("chgrp 42 " + dir.getFileName() + "/f").ok();
        assertThat(stat(p("f")).get("uid")).isEqualTo(1234);
        assertThat(stat(p("f")).get("gid")).isEqualTo(42);
        // chown of a set-user-ID file drops the bit, even by root (as ext4 does)
        fs.sh("chmod 6755 " + dir.getFileName() + "/f && chown 99 " + dir.getFileName() + "/f").ok();
        assertThat((int) stat(p("f")).get("mode") & 07777).isEqualTo(0755);
        // chown -h changes the link, not its target
        assertThat(symlink("f", p("l"))).isZero();
        fs.sh("chown -h 7:8 " + dir.getFileName() + "/l").ok();
        assertThat(stat(p("l")).get("uid")).isEqualTo(7);
        assertThat(stat(p("f")).get("uid")).isEqualTo(99);
        assertThat(fs.sh("chmod 644 " + dir.getFileName() + "/missing").stderr()).contains("No such file");
    }

    @Test
    void utimensKeepsNanosecondsAndHonoursOmitAndSymlinks() throws Exception {
        Files.writeString(p("f"), "x");
        FileTime mtime = FileTime.from(1_234_567_890_123_456_789L, TimeUnit.NANOSECONDS);
        FileTime atime = FileTime.from(987_654_321_987_654_321L, TimeUnit.NANOSECONDS);
        java.nio.file.attribute.BasicFileAttributeView view =
                Files.getFileAttributeView(p("f"), java.nio.file.attribute.BasicFileAttributeView.class);
        view.setTimes(mtime, atime, null);
        assertThat(ns(stat(p("f")).get("lastModifiedTime"))).isEqualTo(1_234_567_890_123_456_789L);
        assertThat(ns(stat(p("f")).get("lastAccessTime"))).isEqualTo(987_654_321_987_654_321L);
        String d = dir.getFileName().toString();
        assertThat(fs.sh("stat -c '%y|%x' " + d + "/f").ok().stdout().trim())
                .isEqualTo("2009-02-13 23:31:30.123456789 +0000|2001-04-19 04:25:21.987654321 +0000");
        // touch -m changes only the modification time (atime is UTIME_OMIT)
        fs.sh("touch -m -d '2020-01-02 03:04:05.5' " + d + "/f").ok();
        assertThat(fs.sh("stat -c '%y|%x' " + d + "/f").ok().stdout().trim())
                .isEqualTo("2020-01-02 03:04:05.500000000 +0000|2001-04-19 04:25:21.987654321 +0000");
        fs.sh("touch -a -d '2021-01-01 00:00:00' " + d + "/f").ok();
        assertThat(fs.sh("stat -c '%x' " + d + "/f").ok().stdout().trim()).isEqualTo("2021-01-01 00:00:00.000000000 +0000");
        // touch -h sets the symlink's own times and leaves the target alone
        assertThat(symlink("f", p("l"))).isZero();
        fs.sh("touch -h -d '1999-12-31 23:59:59.25' " + d + "/l").ok();
        assertThat(fs.sh("stat -c '%y' " + d + "/l").ok().stdout().trim()).isEqualTo("1999-12-31 23:59:59.250000000 +0000");
        assertThat(fs.sh("stat -c '%y' " + d + "/f").ok().stdout().trim()).isEqualTo("2020-01-02 03:04:05.500000000 +0000");
        // plain touch sets both to now
        fs.sh("touch " + d + "/f").ok();
        assertThat(Files.getLastModifiedTime(p("f")).toMillis()).isGreaterThan(System.currentTimeMillis() - 60_000);
        // times before the epoch
        fs.sh("touch -d '1960-06-01 12:00:00.75' " + d + "/f").ok();
        assertThat(fs.sh("stat -c '%y' " + d + "/f").ok().stdout().trim()).isEqualTo("1960-06-01 12:00:00.750000000 +0000");
    }

    @Test
    void writeUpdatesModificationAndChangeTimes() throws Exception {
        Files.writeString(p("f"), "x");
        fs.sh("touch -d @1000 " + dir.getFileName() + "/f").ok();
        long ctime = ns(stat(p("f")).get("ctime"));
        Files.writeString(p("f"), "more", java.nio.file.StandardOpenOption.APPEND);
        assertThat(Files.getLastModifiedTime(p("f")).toMillis()).isGreaterThan(1_000_000L);
        assertThat(ns(stat(p("f")).get("ctime"))).isGreaterThanOrEqualTo(ctime);
        long dirMtime = ns(stat(dir).get("lastModifiedTime"));
        Files.writeString(p("g"), "new entry");
        assertThat(ns(stat(dir).get("lastModifiedTime"))).isGreaterThanOrEqualTo(dirMtime);
    }

    // --- statfs --------------------------------------------------------------------------------------------------------------

    @Test
    void statfsShowsTheBudgetAndUsage() throws Exception {
        String[] f = fs.sh("stat -f -c '%S %b %a %l' .").ok().stdout().trim().split(" ");
        assertThat(f[0]).isEqualTo("4096");
        assertThat(Long.parseLong(f[1])).isEqualTo((256L << 20) / 4096);
        assertThat(f[3]).isEqualTo("255");
        long freeBefore = Long.parseLong(f[2]);
        Files.write(p("eight"), random(8 << 20, 6));
        long freeAfter = Long.parseLong(fs.sh("stat -f -c %a .").ok().stdout().trim());
        assertThat(freeBefore - freeAfter).isBetween(2048L, 2048L + 64);
        Files.delete(p("eight"));
        MountedFs.eventually("space of a deleted file is free again",
                () -> Long.parseLong(fs.sh("stat -f -c %a .").ok().stdout().trim()) >= freeBefore);
        assertThat(fs.sh("df -h . | tail -1").ok().stdout()).startsWith("sqliteos").contains("256M");
    }

    // --- special files -----------------------------------------------------------------------------------------------------------

    @Test
    void mknodMakesFifosSocketsAndDevices() throws Exception {
        assertThat(mknod(p("fifo"), S_IFIFO | 0640, 0)).isZero();
        assertThat(mknod(p("chr"), S_IFCHR | 0600, makedev(1, 3))).isZero();
        assertThat(mknod(p("blk"), S_IFBLK | 0600, makedev(259, 7))).isZero();
        assertThat(mknod(p("plain"), S_IFREG | 0644, 0)).isZero();
        assertThat(mknod(p("fifo"), S_IFIFO | 0640, 0)).isEqualTo(-EEXIST);
        String d = dir.getFileName().toString();
        assertThat(fs.sh("stat -c '%F %a' " + d + "/fifo").ok().stdout().trim()).isEqualTo("fifo 640");
        assertThat(fs.sh("stat -c '%F %t %T' " + d + "/chr").ok().stdout().trim()).isEqualTo("character special file 1 3");
        assertThat(fs.sh("stat -c '%F %t %T' " + d + "/blk").ok().stdout().trim()).isEqualTo("block special file 103 7");
        assertThat(fs.sh("stat -c '%F %s' " + d + "/plain").ok().stdout().trim()).isEqualTo("regular empty file 0");
        // a FIFO on the mount carries data between two processes
        assertThat(fs.sh("cd " + d + " && (echo through-the-fifo > fifo &) && cat fifo").ok().stdout())
                .isEqualTo("through-the-fifo\n");
        // a Unix socket can be bound on the mount and shows as a socket
        try (var server = java.nio.channels.ServerSocketChannel.open(java.net.StandardProtocolFamily.UNIX)) {
            server.bind(java.net.UnixDomainSocketAddress.of(p("sock")));
            assertThat(fs.sh("stat -c %F " + d + "/sock").ok().stdout().trim()).isEqualTo("socket");
            try (var client = java.nio.channels.SocketChannel.open(java.net.UnixDomainSocketAddress.of(p("sock")));
                 var accepted = server.accept()) {
                client.write(java.nio.ByteBuffer.wrap(bytes("ping")));
                java.nio.ByteBuffer in = java.nio.ByteBuffer.allocate(4);
                while (in.hasRemaining()) {
                    accepted.read(in);
                }
                assertThat(new String(in.array(), StandardCharsets.UTF_8)).isEqualTo("ping");
            }
        }
        assertThat(fs.sh("mkfifo " + d + "/fifo2 && test -p " + d + "/fifo2").exitCode()).isZero();
    }

    // --- fallocate -----------------------------------------------------------------------------------------------------------------

    private long blocks(Path path) throws Exception {
        return Long.parseLong(fs.sh("stat -c %b '" + path + "'").ok().stdout().trim());
    }

    @Test
    void fallocateDefaultKeepSizeAndPunchHole() throws Exception {
        int fd = create(p("f"), 0644);
        assertThat(fallocate(fd, 0, 0, 1 << 20)).isZero();
        assertThat(Files.size(p("f"))).isEqualTo(1 << 20);
        assertThat(blocks(p("f")) * 512).isGreaterThanOrEqualTo(1 << 20);
        assertThat(pread(fd, 1 << 20, 0)).containsOnly(0);
        // KEEP_SIZE allocates past the end without changing the size
        assertThat(fallocate(fd, FALLOC_FL_KEEP_SIZE, 1 << 20, 1 << 20)).isZero();
        assertThat(Files.size(p("f"))).isEqualTo(1 << 20);
        assertThat(blocks(p("f")) * 512).isGreaterThanOrEqualTo(2 << 20);
        // allocating below the size keeps the data that is there
        byte[] data = random(1 << 20, 7);
        assertThat(pwrite(fd, data, 0)).isEqualTo(data.length);
        assertThat(fallocate(fd, 0, 0, 1 << 20)).isZero();
        assertThat(pread(fd, 1 << 20, 0)).isEqualTo(data);
        // PUNCH_HOLE zeroes the range, frees whole blocks and keeps the size
        long before = blocks(p("f"));
        assertThat(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 100_000, 500_000)).isZero();
        assertThat(Files.size(p("f"))).isEqualTo(1 << 20);
        byte[] after = pread(fd, 1 << 20, 0);
        byte[] expected = data.clone();
        Arrays.fill(expected, 100_000, 600_000, (byte) 0);
        assertThat(after).isEqualTo(expected);
        assertThat(blocks(p("f"))).isLessThan(before);
        // punching without KEEP_SIZE and unknown modes are refused
        assertThat(fallocate(fd, FALLOC_FL_PUNCH_HOLE, 0, 4096)).isEqualTo(-EOPNOTSUPP);
        assertThat(fallocate(fd, 0x08 /* COLLAPSE_RANGE */, 0, 65536)).isEqualTo(-EOPNOTSUPP);
        assertThat(fallocate(fd, 0, 0, 0)).isEqualTo(-EINVAL);
        assertThat(pread(fd, 1 << 20, 0)).isEqualTo(expected);
        // ZERO_RANGE zeroes the range, keeps it allocated, and without KEEP_SIZE grows the file
        assertThat(fallocate(fd, 0x10 /* ZERO_RANGE */, 900_000, 200_000)).isZero();
        assertThat(Files.size(p("f"))).isEqualTo(1_100_000);
        Arrays.fill(expected, 900_000, 1 << 20, (byte) 0);
        assertThat(pread(fd, 1 << 20, 0)).isEqualTo(expected);
        assertThat(pread(fd, 1_100_000 - (1 << 20), 1 << 20)).containsOnly(0);
        close(fd);
        // the fallocate tool's flags do the same
        String d = dir.getFileName().toString();
        fs.sh("cd " + d + " && fallocate -l 3M t && fallocate -n -o 3M -l 1M t && fallocate -p -o 0 -l 1M t").ok();
        assertThat(fs.sh("stat -c %s " + d + "/t").ok().stdout().trim()).isEqualTo(String.valueOf(3 << 20));
        assertThat(blocks(p("t")) * 512).isBetween(3L << 20, 3L << 20 + 65536);
    }

    @Test
    void aFirstWriteLandsInSpaceReservedPastTheEndAndInFilesEmptiedByTruncation() throws Exception {
        // empty, but with blocks reserved past its end
        int fd = create(p("reserved"), 0644);
        assertThat(fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 65536)).isZero();
        assertThat(Files.size(p("reserved"))).isZero();
        byte[] head = random(3000, 11);
        assertThat(pwrite(fd, head, 0)).isEqualTo(head.length);
        byte[] tail = random(5000, 12);
        assertThat(pwrite(fd, tail, 40_000)).isEqualTo(tail.length);
        close(fd);
        byte[] expected = new byte[45_000];
        System.arraycopy(head, 0, expected, 0, head.length);
        System.arraycopy(tail, 0, expected, 40_000, tail.length);
        assertThat(Files.readAllBytes(p("reserved"))).isEqualTo(expected);
        assertThat(blocks(p("reserved")) * 512).isGreaterThanOrEqualTo(65536);

        // once held data, then truncated to nothing: written again from scratch
        Files.write(p("emptied"), random(100_000, 13));
        fd = open(p("emptied"), O_WRONLY | O_TRUNC, 0);
        byte[] again = random(2500, 14);
        assertThat(pwrite(fd, again, 20_000)).isEqualTo(again.length);
        close(fd);
        byte[] expectedAgain = new byte[22_500];
        System.arraycopy(again, 0, expectedAgain, 20_000, again.length);
        assertThat(Files.readAllBytes(p("emptied"))).isEqualTo(expectedAgain);
        MountedFs.Result fsck = MountedFs.cli("fsck", "--mount", fs.root().toString());
        assertThat(fsck.exitCode()).as(fsck.stdout() + fsck.stderr()).isZero();
    }

    // --- extended attributes -----------------------------------------------------------------------------------------------------

    @Test
    void xattrsWithFlagsLimitsAndErrors() throws Exception {
        Files.writeString(p("f"), "x");
        Path f = p("f");
        int[] errno = new int[1];
        assertThat(getxattr(f, "user.none", errno)).isNull();
        assertThat(errno[0]).isEqualTo(ENODATA);
        assertThat(setxattr(f, "user.k", bytes("v1"), XATTR_REPLACE)).isEqualTo(-ENODATA);
        assertThat(setxattr(f, "user.k", bytes("v1"), XATTR_CREATE)).isZero();
        assertThat(setxattr(f, "user.k", bytes("v2"), XATTR_CREATE)).isEqualTo(-EEXIST);
        assertThat(getxattr(f, "user.k", errno)).isEqualTo(bytes("v1"));
        assertThat(setxattr(f, "user.k", bytes("v3"), XATTR_REPLACE)).isZero();
        assertThat(getxattr(f, "user.k", errno)).isEqualTo(bytes("v3"));
        assertThat(setxattr(f, "user.k", bytes("v4"), 0)).isZero();
        assertThat(getxattr(f, "user.k", errno)).isEqualTo(bytes("v4"));
        // an empty value is a value
        assertThat(setxattr(f, "user.empty", new byte[0], 0)).isZero();
        assertThat(getxattr(f, "user.empty", errno)).isEmpty();
        // binary values, the largest value, and size queries
        byte[] big = random(65_536, 8);
        assertThat(setxattr(f, "user.big", big, 0)).isZero();
        assertThat(getxattr(f, "user.big", errno)).isEqualTo(big);
        assertThat(getxattrSize(f, "user.big", 0)).isEqualTo(65_536);
        assertThat(getxattrSize(f, "user.big", 10)).isEqualTo(-ERANGE);
        assertThat(setxattr(f, "user.toobig", new byte[65_537], 0)).isEqualTo(-E2BIG);
        // names up to 255 bytes
        String longest = "user." + "n".repeat(250);
        assertThat(setxattr(f, longest, bytes("v"), 0)).isZero();
        assertThat(setxattr(f, longest + "n", bytes("v"), 0)).isEqualTo(-ERANGE);
        assertThat(listxattr(f)).containsExactlyInAnyOrder("user.k", "user.empty", "user.big", longest);
        assertThat(removexattr(f, "user.k")).isZero();
        assertThat(removexattr(f, "user.k")).isEqualTo(-ENODATA);
        assertThat(listxattr(f)).doesNotContain("user.k");
        // trusted.* for root; unknown namespaces refused; user.* not on symlinks
        assertThat(setxattr(f, "trusted.t", bytes("t"), 0)).isZero();
        assertThat(getxattr(f, "trusted.t", errno)).isEqualTo(bytes("t"));
        assertThat(setxattr(f, "bogus.x", bytes("v"), 0)).isEqualTo(-EOPNOTSUPP);
        assertThat(symlink("f", p("l"))).isZero();
        assertThat(fs.sh("setfattr -h -n user.x -v 1 " + dir.getFileName() + "/l").stderr()).contains("Operation not permitted");
        // directories carry attributes too, and the shell tools agree
        String d = dir.getFileName().toString();
        fs.sh("setfattr -n user.colour -v blue " + d + " && setfattr -n user.tag -v 0x00ff " + d + "/f").ok();
        assertThat(fs.sh("getfattr --only-values -n user.colour " + d).ok().stdout()).isEqualTo("blue");
        assertThat(fs.sh("getfattr -e hex -n user.tag " + d + "/f").ok().stdout()).contains("user.tag=0x00ff");
        assertThat(fs.sh("getfattr -n user.nothing " + d + "/f").stderr()).contains("No such attribute");
        // the control namespace is never listed, so copies never carry it
        assertThat(fs.sh("getfattr -d -m - " + d + "/f").ok().stdout()).doesNotContain("sqliteos");
    }

    @Test
    void xattrChangesCtimeAndSurvivesRenameAndLink() throws Exception {
        Files.writeString(p("f"), "x");
        assertThat(setxattr(p("f"), "user.a", bytes("1"), 0)).isZero();
        assertThat(rename(p("f"), p("g"))).isZero();
        assertThat(link(p("g"), p("h"))).isZero();
        int[] errno = new int[1];
        assertThat(getxattr(p("h"), "user.a", errno)).isEqualTo(bytes("1"));
        assertThat(unlink(p("g"))).isZero();
        assertThat(getxattr(p("h"), "user.a", errno)).isEqualTo(bytes("1"));
    }

    // --- names ----------------------------------------------------------------------------------------------------------------------

    @Test
    void namesLongerThan255BytesAreRefused() throws Exception {
        String max = "n".repeat(255);
        String tooLong = "n".repeat(256);
        assertThat(open(p(tooLong), O_RDWR | O_CREAT, 0644)).isEqualTo(-ENAMETOOLONG);
        assertThat(mkdir(p(tooLong), 0755)).isEqualTo(-ENAMETOOLONG);
        assertThat(mknod(p(tooLong), S_IFIFO | 0644, 0)).isEqualTo(-ENAMETOOLONG);
        assertThat(symlink("x", p(tooLong))).isEqualTo(-ENAMETOOLONG);
        close(create(p(max), 0644));
        assertThat(link(p(max), p(tooLong))).isEqualTo(-ENAMETOOLONG);
        assertThat(rename(p(max), p(tooLong))).isEqualTo(-ENAMETOOLONG);
        assertThat(open(p(tooLong), O_RDONLY, 0)).isEqualTo(-ENAMETOOLONG);
        assertThat(Files.exists(p(max))).isTrue();
        // the limit counts bytes: 85 three-byte characters fit, 86 do not
        String wide = "\u20ac".repeat(85);
        close(create(p(wide), 0644));
        assertThat(Files.exists(p(wide))).isTrue();
        assertThat(mkdir(p("\u20ac".repeat(86)), 0755)).isEqualTo(-ENAMETOOLONG);
        try (Stream<Path> s = Files.list(dir)) {
            assertThat(s.map(x -> x.getFileName().toString())).containsExactlyInAnyOrder(max, wide);
        }
        assertThat(fs.sh("touch " + dir.getFileName() + "/" + tooLong).stderr()).contains("File name too long");
    }
}
