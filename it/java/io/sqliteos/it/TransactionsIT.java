package io.sqliteos.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The transaction contract through the mount. This test's own thread is the
 * owner of thread-scope transactions (its system calls reach the daemon with its
 * thread id); other processes and other threads of this JVM are outsiders.
 */
class TransactionsIT {

    static final String TX = "user.sqliteos.tx";
    static final int EBUSY = 16;
    static final int EEXIST = 17;
    static final int EINVAL = 22;
    static final int EROFS = 30;

    static MountedFs fs;

    @BeforeAll
    static void mount() throws Exception {
        fs = MountedFs.start("--size", "256M", "--busy-timeout", "1000");
    }

    @AfterAll
    static void unmount() {
        fs.close();
    }

    @BeforeEach
    void cleanTree() throws Exception {
        fs.sh("rm -rf ./* && mkdir work").ok();
    }

    @AfterEach
    void noTransactionLeftOpen() {
        if (!state().equals("none")) {
            control("rollback");
        }
    }

    static int control(String verb) {
        return Sys.setxattr(fs.root(), TX, verb.getBytes(StandardCharsets.UTF_8), 0);
    }

    static int attr(String name, String value) {
        return Sys.setxattr(fs.root(), "user.sqliteos." + name, value.getBytes(StandardCharsets.UTF_8), 0);
    }

    static String state() {
        int[] errno = new int[1];
        byte[] v = Sys.getxattr(fs.root(), TX, errno);
        return v == null ? "errno " + errno[0] : new String(v, StandardCharsets.UTF_8);
    }

    /** The whole tree as an outside process sees it: names, types, modes, sizes, links, contents, xattrs. */
    static String outsideView() throws Exception {
        return fs.sh("find work -printf '%p %y %m %s %n %l\\n' | sort; "
                + "find work -type f | sort | xargs -r md5sum; "
                + "getfattr -R -d work 2>/dev/null").ok().stdout();
    }

    static void write(String relative, String text) throws Exception {
        Files.writeString(fs.path(relative), text);
    }

    @Test
    void rollbackUndoesEveryKindOfChangeAndOutsidersNeverSeeThem() throws Exception {
        write("work/keep", "kept\n");
        write("work/victim", "victim\n");
        write("work/source", "source\n");
        write("work/target", "target\n");
        Files.createDirectory(fs.path("work/empty"));
        Sys.setxattr(fs.path("work/keep"), "user.colour", "blue".getBytes(), 0);
        String before = outsideView();

        int fd = Sys.open(fs.path("work/victim"), Sys.O_RDONLY, 0);
        assertThat(control("begin")).isZero();
        assertThat(state()).startsWith("id=").contains("mode=write", "scope=thread");
        write("work/keep", "changed inside\n");
        write("work/created", "new\n");
        assertThat(Sys.unlink(fs.path("work/victim"))).isZero();
        Files.createDirectory(fs.path("work/newdir"));
        assertThat(Sys.rmdir(fs.path("work/empty"))).isZero();
        assertThat(Sys.rename(fs.path("work/source"), fs.path("work/target"))).isZero();
        assertThat(Sys.link(fs.path("work/keep"), fs.path("work/hardlink"))).isZero();
        assertThat(Sys.symlink("keep", fs.path("work/symlink"))).isZero();
        Files.setPosixFilePermissions(fs.path("work/keep"), PosixFilePermissions.fromString("rw-------"));
        Files.setLastModifiedTime(fs.path("work/keep"), FileTime.fromMillis(1_000_000));
        Sys.setxattr(fs.path("work/keep"), "user.colour", "red".getBytes(), 0);
        Sys.truncate(fs.path("work/target"), 3);

        // inside: the owner sees its own changes
        assertThat(Files.readString(fs.path("work/keep"))).isEqualTo("changed inside\n");
        assertThat(Files.exists(fs.path("work/victim"))).isFalse();
        assertThat(Files.readString(fs.path("work/target"))).isEqualTo("sou");
        // outside: nothing has happened
        assertThat(outsideView()).isEqualTo(before);

        assertThat(control("rollback")).isZero();
        assertThat(state()).isEqualTo("none");
        assertThat(outsideView()).isEqualTo(before);
        // the descriptor opened before the unlink still reads the file, which is back under its name
        assertThat(new String(Sys.pread(fd, 100, 0), StandardCharsets.UTF_8)).isEqualTo("victim\n");
        Sys.close(fd);
        assertThat(Files.readString(fs.path("work/victim"))).isEqualTo("victim\n");
    }

    @Test
    void commitPublishesAllChangesTogether() throws Exception {
        write("work/a", "old a\n");
        assertThat(control("begin")).isZero();
        write("work/a", "new a\n");
        write("work/b", "b\n");
        Files.createDirectories(fs.path("work/d/e"));
        assertThat(fs.sh("ls work").ok().stdout()).isEqualTo("a\n");
        assertThat(control("commit")).isZero();
        assertThat(fs.sh("cat work/a work/b; ls work/d").ok().stdout()).isEqualTo("new a\nb\ne\n");
        assertThat(fs.sh("getfattr -d -m - work/a").ok().stdout()).doesNotContain("sqliteos");
    }

    @Test
    void aReaderWithTheFileCachedBeforeTheTransactionNeverReadsUncommittedBytes() throws Exception {
        write("work/shared", "committed\n");
        // another thread of this process is not the owner: it opens and caches the file first
        FileChannel reader = FileChannel.open(fs.path("work/shared"), StandardOpenOption.READ);
        assertThat(readAll(reader)).isEqualTo("committed\n");

        assertThat(control("begin")).isZero();
        try (FileChannel w = FileChannel.open(fs.path("work/shared"), StandardOpenOption.WRITE)) {
            w.write(ByteBuffer.wrap("UNCOMMITTED and longer than before\n".getBytes()), 0);
        }
        String seenByThread = CompletableFuture.supplyAsync(() -> readAll(reader)).get(10, TimeUnit.SECONDS);
        assertThat(seenByThread).isEqualTo("committed\n");
        assertThat(fs.sh("cat work/shared; stat -c %s work/shared").ok().stdout()).isEqualTo("committed\n10\n");
        assertThat(control("commit")).isZero();

        assertThat(CompletableFuture.supplyAsync(() -> readAll(reader)).get(10, TimeUnit.SECONDS))
                .isEqualTo("UNCOMMITTED and longer than before\n");
        reader.close();
    }

    @Test
    void aWholePageWrittenInsideNeverReachesAReaderThatHasTheFileOpen() throws Exception {
        // A write that covers whole pages is the one the kernel would keep as cached file
        // content if it passed through the page cache: only direct I/O keeps it out.
        write("work/pages", "A".repeat(8192));
        FileChannel reader = FileChannel.open(fs.path("work/pages"), StandardOpenOption.READ);
        assertThat(runs(readAll(reader))).isEqualTo("4096 A"); // readAll reads the first page

        assertThat(control("begin")).isZero();
        try (FileChannel w = FileChannel.open(fs.path("work/pages"), StandardOpenOption.WRITE)) {
            w.write(ByteBuffer.wrap("B".repeat(4096).getBytes()), 0);
        }
        assertThat(runs(CompletableFuture.supplyAsync(() -> readAll(reader)).get(10, TimeUnit.SECONDS)))
                .as("another thread's descriptor, during the transaction").isEqualTo("4096 A");
        assertThat(control("rollback")).isZero();

        assertThat(runs(CompletableFuture.supplyAsync(() -> readAll(reader)).get(10, TimeUnit.SECONDS)))
                .as("the same descriptor, after the rollback").isEqualTo("4096 A");
        reader.close();
        assertThat(runs(Files.readString(fs.path("work/pages")))).isEqualTo("8192 A");
    }

    @Test
    void overwritesInsideStoredBlocksAreUndoneBySavepointsAndRollbacks() throws Exception {
        // Three 16 KiB blocks; 4 KiB writes inside them, which the daemon writes into the
        // stored block in place: some start inside the database's pages and cross into the
        // next one, one ends exactly where its block ends. Both descriptors are opened before
        // the transaction, so both read through the kernel's page cache, which the owner's
        // writes pass through: a rollback must leave none of their bytes there.
        int size = 3 * 16384;
        long[] offsets = {0, 1000, 5000, 9000, 12288, 16384 + 8190, 2 * 16384 + 12000};
        byte[] original = pattern(size, 1);
        Files.write(fs.path("work/blocks"), original);
        String before = md5Outside("work/blocks");
        int fd = Sys.open(fs.path("work/blocks"), Sys.O_RDWR, 0);
        int outsider = Sys.open(fs.path("work/blocks"), Sys.O_RDONLY, 0);
        try {
            assertThat(Sys.pread(outsider, size, 0)).isEqualTo(original);
            assertThat(control("begin")).isZero();
            assertThat(attr("savepoint", "first")).isZero();
            byte[] undone = overwrite(fd, original, offsets, 10);
            assertThat(Sys.pread(fd, size, 0)).as("the owner, inside").isEqualTo(undone);
            assertThat(md5Outside("work/blocks")).as("another process, inside").isEqualTo(before);
            assertThat(attr("rollback-to", "first")).isZero();
            assertThat(Sys.pread(fd, size, 0)).as("the owner, after rollback-to").isEqualTo(original);
            assertThat(readElsewhere(outsider, size)).as("another thread, after rollback-to").isEqualTo(original);

            byte[] committed = overwrite(fd, original, offsets, 20);
            assertThat(control("commit")).isZero();
            assertThat(md5Outside("work/blocks")).as("another process, after the commit").isEqualTo(md5(committed));
            assertThat(readElsewhere(outsider, size)).as("another thread, after the commit").isEqualTo(committed);

            assertThat(control("begin")).isZero();
            overwrite(fd, committed, offsets, 30);
            assertThat(control("rollback")).isZero();
            assertThat(Sys.pread(fd, size, 0)).as("the owner, after a rollback").isEqualTo(committed);
            assertThat(readElsewhere(outsider, size)).as("another thread, after a rollback").isEqualTo(committed);
            assertThat(md5Outside("work/blocks")).isEqualTo(md5(committed));
        } finally {
            Sys.close(fd);
            Sys.close(outsider);
        }
    }

    /** What a thread other than the owner reads through fd. */
    private static byte[] readElsewhere(int fd, int size) throws Exception {
        return CompletableFuture.supplyAsync(() -> Sys.pread(fd, size, 0)).get(10, TimeUnit.SECONDS);
    }

    /** Writes 4 KiB of a pattern at each offset through fd: returns what the file then holds. */
    private static byte[] overwrite(int fd, byte[] content, long[] offsets, int seed) {
        byte[] model = content.clone();
        for (int i = 0; i < offsets.length; i++) {
            byte[] bytes = pattern(4096, seed + i);
            assertThat(Sys.pwrite(fd, bytes, offsets[i])).isEqualTo(bytes.length);
            System.arraycopy(bytes, 0, model, (int) offsets[i], bytes.length);
        }
        return model;
    }

    private static byte[] pattern(int length, int seed) {
        byte[] b = new byte[length];
        for (int i = 0; i < length; i++) {
            b[i] = (byte) (i * 31 + seed * 17 + (i >> 9));
        }
        return b;
    }

    private static String md5Outside(String relative) throws Exception {
        return fs.sh("md5sum " + relative + " | cut -c1-32").ok().stdout().trim();
    }

    private static String md5(byte[] bytes) throws Exception {
        return java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("MD5").digest(bytes));
    }

    /** Text as its runs of one character ("4096 A, 4096 B"): short enough to read in a failure. */
    private static String runs(String text) {
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < text.length(); ) {
            int j = i;
            while (j < text.length() && text.charAt(j) == text.charAt(i)) {
                j++;
            }
            out.append(out.length() == 0 ? "" : ", ").append(j - i).append(' ').append(text.charAt(i));
            i = j;
        }
        return out.toString();
    }

    @Test
    void namesTheKernelCachedBeforeTheTransactionDoNotLeakItsRenames() throws Exception {
        assertThat(Sys.mkdir(fs.path("work/before"), 0755)).isZero();
        awaitCachingResumed();
        // an outsider looks the name up: the kernel may cache it (names are cached between transactions)
        assertThat(fs.sh("stat -c %F work/before").ok().stdout()).isEqualTo("directory\n");
        assertThat(control("begin")).isZero();
        assertThat(Sys.rename(fs.path("work/before"), fs.path("work/after"))).isZero();
        // ls needs only the type and cd only the permissions: a name the kernel still trusted would answer
        // both without asking the daemon
        assertThat(fs.sh("ls -d work/after").exitCode()).isNotZero();
        assertThat(fs.sh("cd work/after").exitCode()).isNotZero();
        // the kernel moved its cached name along with the rename; had it still been valid, the outsider's
        // mkdir would fail with EEXIST without asking the daemon. It must see the committed state: no
        // "after" (its mkdir meets the transaction's lock instead) and "before" still there
        MountedFs.Result mkdir = fs.sh("mkdir work/after");
        assertThat(mkdir.stderr()).doesNotContain("File exists").contains("Device or resource busy");
        assertThat(fs.sh("test -d work/before && ! test -e work/after").exitCode()).isZero();
        assertThat(control("commit")).isZero();
        assertThat(fs.sh("test -d work/after && ! test -e work/before").exitCode()).isZero();
    }

    @Test
    void attributesTheKernelCachedBeforeTheTransactionDoNotLeakItsChanges() throws Exception {
        write("work/f", "committed\n");
        assertThat(Sys.mkdir(fs.path("work/d"), 0755)).isZero();
        awaitCachingResumed();
        // an outsider looks at both: the kernel may cache the attributes of a
        // single-link file and of a directory (they are cached between transactions)
        String committed = "644 10 1\n755 0 2\n";
        assertThat(fs.sh("stat -c '%a %s %h' work/f work/d").ok().stdout()).isEqualTo(committed);
        assertThat(control("begin")).isZero();
        Files.setPosixFilePermissions(fs.path("work/f"), java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
        assertThat(Sys.truncate(fs.path("work/f"), 3)).isZero();
        assertThat(Sys.link(fs.path("work/f"), fs.path("work/f2"))).isZero();
        assertThat(Sys.mkdir(fs.path("work/d/sub"), 0755)).isZero();
        assertThat(fs.sh("stat -c '%a %s %h' work/f work/d").ok().stdout()).isEqualTo(committed);
        assertThat(control("rollback")).isZero();
        assertThat(fs.sh("stat -c '%a %s %h' work/f work/d").ok().stdout()).isEqualTo(committed);
        assertThat(Files.exists(fs.path("work/f2"))).isFalse();
    }

    @Test
    void listingsTheKernelKeepsNeverShowAnotherProcessUncommittedNames() throws Exception {
        write("work/old", "old\n");
        awaitCachingResumed();
        // another thread (an outsider to this thread's transactions) lists the directory through a
        // descriptor it keeps open: starting over on it looks up no path, so nothing has the kernel ask
        // the daemon about the directory before it answers from a listing it kept
        ExecutorService outsider = Executors.newSingleThreadExecutor();
        try (Sys.OpenDirectory held = outsider.submit(() -> new Sys.OpenDirectory(fs.path("work"))).get()) {
            assertThat(outsider.submit(() -> namesFrom(held)).get()).containsExactly("old");
            assertThat(control("begin")).isZero();
            write("work/new", "new\n");
            // the owner lists it to the end, twice: the kernel may keep such a listing between the two
            assertThat(ownerNames("work")).containsExactly("new", "old");
            assertThat(ownerNames("work")).containsExactly("new", "old");
            assertThat(outsider.submit(() -> namesFrom(held)).get()).containsExactly("old");
            assertThat(control("rollback")).isZero();
            assertThat(outsider.submit(() -> namesFrom(held)).get()).containsExactly("old");
            assertThat(ownerNames("work")).containsExactly("old");

            // and a listing an outsider made inside a transaction is not kept past its commit
            awaitCachingResumed();
            assertThat(control("begin")).isZero();
            write("work/committed", "c\n");
            assertThat(outsider.submit(() -> namesFrom(held)).get()).containsExactly("old");
            assertThat(control("commit")).isZero();
            assertThat(outsider.submit(() -> namesFrom(held)).get()).containsExactly("committed", "old");
        } finally {
            outsider.shutdownNow();
        }
    }

    /** The names in an open directory from its start, without . and .., sorted. */
    private static List<String> namesFrom(Sys.OpenDirectory dir) {
        dir.rewind();
        List<String> names = new ArrayList<>();
        for (String name = dir.next(); name != null; name = dir.next()) {
            if (!name.equals(".") && !name.equals("..")) {
                names.add(name);
            }
        }
        Collections.sort(names);
        return names;
    }

    /** The names in a directory as this thread (the owner) lists it. */
    private static List<String> ownerNames(String relative) {
        try (Sys.OpenDirectory dir = new Sys.OpenDirectory(fs.path(relative))) {
            return namesFrom(dir);
        }
    }

    /**
     * The kernel caches names again only a moment (50 ms) after the last
     * transaction ended, here the previous test's: wait that out, or nothing
     * would be cached for the test to see leak.
     */
    private static void awaitCachingResumed() throws InterruptedException {
        Thread.sleep(300);
    }

    private static String readAll(FileChannel ch) {
        try {
            ByteBuffer buf = ByteBuffer.allocate(4096);
            ch.read(buf, 0);
            return new String(buf.array(), 0, buf.position(), StandardCharsets.UTF_8);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    @Test
    void nestedSavepointsRollBackAndReleaseInOrder() throws Exception {
        assertThat(control("begin")).isZero();
        write("work/one", "1");
        assertThat(attr("savepoint", "first")).isZero();
        write("work/two", "2");
        assertThat(attr("savepoint", "second")).isZero();
        write("work/three", "3");
        assertThat(attr("rollback-to", "second")).isZero();
        assertThat(Files.exists(fs.path("work/three"))).isFalse();
        assertThat(Files.exists(fs.path("work/two"))).isTrue();
        write("work/four", "4");
        assertThat(attr("rollback-to", "first")).isZero();
        assertThat(Files.exists(fs.path("work/two"))).isFalse();
        assertThat(Files.exists(fs.path("work/four"))).isFalse();
        write("work/five", "5");
        assertThat(attr("release", "first")).isZero();
        assertThat(attr("release", "first")).isEqualTo(-Sys.ENOENT); // released means gone
        assertThat(control("commit")).isZero();
        assertThat(fs.sh("ls work").ok().stdout()).isEqualTo("five\none\n");
    }

    @Test
    void misuseGetsDocumentedErrnos() throws Exception {
        assertThat(control("commit")).isEqualTo(-Sys.ENOENT);
        assertThat(control("rollback")).isEqualTo(-Sys.ENOENT);
        assertThat(control("launch")).isEqualTo(-EINVAL);
        assertThat(control("begin galaxy")).isEqualTo(-EINVAL);
        assertThat(attr("savepoint", "x")).isEqualTo(-Sys.ENOENT);
        assertThat(control("begin")).isZero();
        assertThat(control("begin")).isEqualTo(-EEXIST);
        assertThat(attr("savepoint", "1 bad name")).isEqualTo(-EINVAL);
        assertThat(attr("release", "never_made")).isEqualTo(-Sys.ENOENT);
        assertThat(control("rollback")).isZero();

        assertThat(control("begin-read")).isZero();
        assertThat(state()).contains("mode=read");
        assertThat(Sys.open(fs.path("work/nope"), Sys.O_CREAT | Sys.O_WRONLY, 0644)).isEqualTo(-EROFS);
        assertThat(Sys.mkdir(fs.path("work/nodir"), 0755)).isEqualTo(-EROFS);
        assertThat(control("commit")).isZero();
        assertThat(Files.exists(fs.path("work/nope"))).isFalse();

        // the control names are never stored or listed
        assertThat(Sys.listxattr(fs.root())).noneMatch(n -> n.startsWith("user.sqliteos."));
        assertThat(fs.log()).contains("unknown transaction verb 'launch'").contains("transaction").contains("read-only");
    }

    @Test
    void writersOutsideWaitBoundedThenGetEbusyWhileReadersGoOn() throws Exception {
        write("work/contended", "before\n");
        write("work/other", "other\n");
        assertThat(control("begin")).isZero();
        write("work/contended", "owner\n");

        MountedFs.Result same = fs.sh("echo outsider > work/contended");
        assertThat(same.exitCode()).isNotZero();
        assertThat(same.stderr()).contains("Device or resource busy");
        MountedFs.Result different = fs.sh("echo outsider > work/other");
        assertThat(different.exitCode()).isNotZero();
        assertThat(different.stderr()).contains("Device or resource busy");
        // readers are not blocked, and see the last committed state
        assertThat(fs.sh("cat work/contended work/other; ls work").ok().stdout())
                .isEqualTo("before\nother\ncontended\nother\n");
        assertThat(control("commit")).isZero();

        fs.sh("echo outsider > work/other").ok();
        assertThat(fs.sh("cat work/contended work/other").ok().stdout()).isEqualTo("owner\noutsider\n");
    }

    @Test
    void readersAreServedWhileAnOutsideWriterWaitsInTheDaemon() throws Exception {
        write("work/contended", "before\n");
        write("work/other", "other\n");
        assertThat(control("begin")).isZero();
        write("work/contended", "owner\n");
        // the outsider's write waits in the daemon for the transaction, up to the busy timeout (1 s)
        Process writer = fs.spawn(0, 0, "echo outsider > work/contended");
        try {
            Thread.sleep(200);
            assertThat(writer.isAlive()).as("the outside writer waits").isTrue();
            assertThat(fs.sh("cat work/other; ls work").ok().stdout()).isEqualTo("other\ncontended\nother\n");
            assertThat(writer.isAlive()).as("the reader was served while the writer still waited").isTrue();
            assertThat(writer.waitFor(30, TimeUnit.SECONDS)).isTrue();
            assertThat(writer.exitValue()).isNotZero();
        } finally {
            writer.destroyForcibly();
        }
        assertThat(control("commit")).isZero();
    }

    @Test
    void processTreeCommitsOrVanishesTogether() throws Exception {
        MountedFs.Result ok = fs.sh("java -jar " + MountedFs.jar() + " tx -- sh -c "
                + "'echo parent > work/p; (echo child > work/c) & sh -c \"mkdir work/grand; echo g > work/grand/g\"; wait'");
        assertThat(ok.exitCode()).isZero();
        assertThat(ok.stderr()).contains("committed");
        assertThat(fs.sh("cat work/p work/c work/grand/g").ok().stdout()).isEqualTo("parent\nchild\ng\n");

        MountedFs.Result failed = fs.sh("java -jar " + MountedFs.jar() + " tx -- sh -c "
                + "'echo changed > work/p; rm work/c; (echo child2 > work/c2) & wait; exit 3'");
        assertThat(failed.exitCode()).isEqualTo(3);
        assertThat(failed.stderr()).contains("rolled back (exit status 3)");
        assertThat(fs.sh("cat work/p work/c; ls work").ok().stdout()).isEqualTo("parent\nchild\nc\ngrand\np\n");
    }

    @Test
    void aKilledOwnerIsRolledBackAndReleasesTheLock() throws Exception {
        Process owner = fs.spawn(0, 0, "exec java -jar " + MountedFs.jar()
                + " tx -- sh -c 'echo doomed > work/doomed; mkdir work/doomed-dir; echo ready; sleep 120'");
        try {
            String first = MountedFs.firstLine(owner, 60);
            assertThat(first).isEqualTo("ready");
            assertThat(fs.sh("ls work").ok().stdout()).isEmpty();
            owner.destroyForcibly(); // kill -9 of the transaction's owner
        } finally {
            owner.descendants().forEach(ProcessHandle::destroyForcibly);
            owner.destroyForcibly();
        }
        MountedFs.eventually("an outside writer gets the lock back",
                () -> fs.sh("echo free > work/after").exitCode() == 0);
        assertThat(fs.sh("ls work").ok().stdout()).isEqualTo("after\n");
        assertThat(fs.log()).contains("is gone; rolling back");
    }
}
