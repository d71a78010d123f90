package io.sqliteos.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A small file opened for reading is handed to the kernel whole, with the
 * reply to its open, so that reading it costs no request; and whatever
 * changed it before, through any path, an open still reads its latest
 * content. A small read of a larger file hands the kernel the rest of its
 * 16 KiB block too, never a version older than one written before. The
 * requests are seen in the {@code --debug} log, which names each with its
 * opcode.
 */
class PageCacheIT {

    static final String TX = "user.sqliteos.tx";
    static MountedFs fs;

    @BeforeAll
    static void mount() throws Exception {
        fs = MountedFs.start("--size", "64M", "--debug");
    }

    @AfterAll
    static void unmount() {
        fs.close();
    }

    @AfterEach
    void cleanTree() throws Exception {
        if (!new String(Sys.getxattr(fs.root(), TX, new int[1]), StandardCharsets.UTF_8).equals("none")) {
            Sys.setxattr(fs.root(), TX, "rollback".getBytes(), 0);
        }
        fs.sh("rm -rf ./*").ok();
    }

    /** How many READ requests the daemon has served so far. */
    static int reads() {
        return fs.logCount("opcode: READ ");
    }

    @Test
    void smallFilesAreReadWithoutAReadRequestAndLargerOnesAsBefore() throws Exception {
        fs.sh("printf 'hello\\n' > tiny; head -c 5000 /dev/urandom > page; head -c 65536 /dev/urandom > limit;"
                + " head -c 65537 /dev/urandom > over").ok();
        String small = fs.sh("md5sum tiny page limit").ok().stdout();
        String large = fs.sh("md5sum over").ok().stdout();
        int before = reads();

        // other processes, each opening every file twice: cat, then md5sum
        assertThat(fs.sh("cat tiny page limit > /dev/null; md5sum tiny page limit").ok().stdout()).isEqualTo(small);
        assertThat(reads()).as("READ requests for files of up to 64 KiB").isEqualTo(before);

        assertThat(fs.sh("md5sum over").ok().stdout()).isEqualTo(large);
        assertThat(reads()).as("READ requests for a file of 64 KiB and a byte").isGreaterThan(before);
    }

    @Test
    void anUnchangedFileKeepsTheKernelsPagesAndWhatTheKernelDroppedComesBackByRead() throws Exception {
        fs.sh("printf 'kept\\n' > k && cat k").ok();
        int before = reads();
        assertThat(fs.sh("cat k; cat k").ok().stdout()).isEqualTo("kept\nkept\n");
        assertThat(reads()).isEqualTo(before);

        // the kernel drops the file's pages (as under memory pressure): the next open keeps what the kernel
        // has, which is nothing, and the page comes back through a READ
        fs.sh("dd if=k iflag=nocache count=0 status=none").ok();
        assertThat(fs.sh("cat k").ok().stdout()).isEqualTo("kept\n");
        assertThat(reads()).as("the dropped page, read again").isGreaterThan(before);

        // changed by another process, in place: the next open hands the kernel the new content whole
        fs.sh("printf 'KEPT' | dd of=k conv=notrunc status=none").ok();
        int changed = reads();
        assertThat(fs.sh("cat k").ok().stdout()).isEqualTo("KEPT\n");
        assertThat(reads()).isEqualTo(changed);
    }

    @Test
    void anOpenReadsTheLatestContentWhateverChangedIt() throws Exception {
        fs.sh("printf 'version 1\\n' > f && cat f").ok();

        fs.sh("printf 'version 2\\n' > f").ok(); // truncated by path, then written
        assertThat(fs.sh("cat f").ok().stdout()).isEqualTo("version 2\n");
        fs.sh("printf 'VERSION' | dd of=f conv=notrunc status=none").ok(); // overwritten in place, same size
        assertThat(fs.sh("cat f").ok().stdout()).isEqualTo("VERSION 2\n");
        fs.sh("truncate -s 4 f").ok();
        assertThat(fs.sh("cat f").ok().stdout()).isEqualTo("VERS");
        fs.sh("printf 'ION 3\\n' >> f").ok();
        assertThat(fs.sh("cat f").ok().stdout()).isEqualTo("VERSION 3\n");

        // through a second name: the kernel knows it as another inode, with pages of its own
        fs.sh("ln f g && printf 'version 4\\n' | dd of=g conv=notrunc status=none").ok();
        assertThat(fs.sh("cat f").ok().stdout()).isEqualTo("version 4\n");
    }

    @Test
    void anOpenOutsideATransactionReadsWhatItCommittedAndNeverWhatItRolledBack() throws Exception {
        Files.writeString(fs.path("f"), "before\n");
        assertThat(fs.sh("cat f").ok().stdout()).isEqualTo("before\n");

        assertThat(Sys.setxattr(fs.root(), TX, "begin".getBytes(), 0)).isZero();
        Files.writeString(fs.path("f"), "rolled\n");
        assertThat(fs.sh("cat f").ok().stdout()).as("during the transaction").isEqualTo("before\n");
        assertThat(Sys.setxattr(fs.root(), TX, "rollback".getBytes(), 0)).isZero();
        assertThat(fs.sh("cat f").ok().stdout()).as("after the rollback").isEqualTo("before\n");

        assertThat(Sys.setxattr(fs.root(), TX, "begin".getBytes(), 0)).isZero();
        Files.writeString(fs.path("f"), "commit\n"); // the same size: only the content tells
        assertThat(fs.sh("cat f").ok().stdout()).as("during the transaction").isEqualTo("before\n");
        assertThat(Sys.setxattr(fs.root(), TX, "commit".getBytes(), 0)).isZero();
        assertThat(fs.sh("cat f").ok().stdout()).as("after the commit").isEqualTo("commit\n");
    }

    @Test
    void aDescriptorOpenedBeforeAWriteReadsTheWrite() throws Exception {
        Files.writeString(fs.path("f"), "old content\n");
        int reader = Sys.open(fs.path("f"), Sys.O_RDONLY, 0);
        try {
            assertThat(new String(Sys.pread(reader, 100, 0), StandardCharsets.UTF_8)).isEqualTo("old content\n");
            fs.sh("printf 'NEW' | dd of=f conv=notrunc status=none").ok();
            assertThat(new String(Sys.pread(reader, 100, 0), StandardCharsets.UTF_8)).isEqualTo("NEW content\n");
        } finally {
            Sys.close(reader);
        }
    }

    @Test
    void anOpenNeverReadsAVersionOlderThanOneWrittenAndClosedBeforeIt() throws Exception {
        // One thread writes numbered versions of a file in place, each through its own
        // descriptor; others open and read it meanwhile. An open that starts after a
        // version was written and closed must find that version or a later one.
        int versions = 2000;
        Files.writeString(fs.path("v"), String.format("%08d\n", 0));
        AtomicInteger closed = new AtomicInteger();
        CompletableFuture<Void> writer = CompletableFuture.runAsync(() -> {
            for (int v = 1; v <= versions; v++) {
                int fd = Sys.open(fs.path("v"), Sys.O_WRONLY, 0);
                Sys.pwrite(fd, String.format("%08d\n", v).getBytes(), 0);
                Sys.close(fd);
                closed.set(v);
            }
        });
        Runnable reader = () -> {
            while (closed.get() < versions) {
                int atLeast = closed.get();
                int fd = Sys.open(fs.path("v"), Sys.O_RDONLY, 0);
                String seen = new String(Sys.pread(fd, 100, 0), StandardCharsets.US_ASCII);
                Sys.close(fd);
                assertThat(Integer.parseInt(seen.trim())).as("version read after %d was closed", atLeast)
                        .isGreaterThanOrEqualTo(atLeast);
            }
        };
        CompletableFuture.allOf(writer, CompletableFuture.runAsync(reader), CompletableFuture.runAsync(reader))
                .get(120, TimeUnit.SECONDS);
        assertThat(Files.readString(fs.path("v"))).isEqualTo(String.format("%08d\n", versions));
    }

    @Test
    void readingAChangedFileStillRecordsItsAccessTime() throws Exception {
        Files.writeString(fs.path("f"), "content\n");
        Thread.sleep(20);
        fs.sh("cat f > /dev/null").ok();
        BasicFileAttributes a = Files.readAttributes(fs.path("f"), BasicFileAttributes.class);
        assertThat(a.lastAccessTime().toInstant()).as("atime, after a read that the kernel answered")
                .isAfter(a.lastModifiedTime().toInstant());
    }

    static final int PAGE = 4096;
    static final int BLOCK = 16384;

    /** A descriptor that reads at random: every read of an uncached page is a READ of that page alone. */
    static int openForRandomReads(String name) {
        int fd = Sys.open(fs.path(name), Sys.O_RDONLY, 0);
        assertThat(fd).as("open " + name).isGreaterThanOrEqualTo(0);
        assertThat(Sys.fadvise(fd, 0, 0, Sys.POSIX_FADV_RANDOM)).as("fadvise").isZero();
        return fd;
    }

    @Test
    void aReadOfOnePageBringsTheRestOfItsBlock() throws Exception {
        byte[] content = new byte[40 * BLOCK + 1000]; // over 64 KiB: the open hands over nothing
        new java.util.Random(5).nextBytes(content);
        Files.write(fs.path("big"), content);
        int fd = openForRandomReads("big");
        try {
            int before = reads();
            assertThat(Sys.pread(fd, PAGE, 7 * BLOCK + PAGE)).isEqualTo(slice(content, 7 * BLOCK + PAGE, PAGE));
            assertThat(reads()).as("READ requests for one page").isEqualTo(before + 1);
            for (int page : new int[] {0, 2, 3}) {
                long at = 7 * BLOCK + page * PAGE;
                assertThat(Sys.pread(fd, PAGE, at)).as("page %d of the block", page).isEqualTo(slice(content, at, PAGE));
            }
            assertThat(reads()).as("READ requests for the other pages of its block").isEqualTo(before + 1);
            assertThat(Sys.pread(fd, PAGE, 8 * BLOCK)).isEqualTo(slice(content, 8 * BLOCK, PAGE));
            assertThat(reads()).as("READ requests for a page of the next block").isEqualTo(before + 2);

            // the last block is short: its pages end with the file, and so does the size the kernel knows
            long last = 40 * BLOCK;
            assertThat(Sys.pread(fd, PAGE, last + 500)).isEqualTo(slice(content, last + 500, 500));
            assertThat(Sys.fstat(fd).size()).isEqualTo(content.length);
            assertThat(Sys.truncate(fs.path("big"), 3 * BLOCK + 10)).isZero();
            assertThat(Sys.pread(fd, PAGE, 3 * BLOCK + 4)).as("after a truncation by name")
                    .isEqualTo(slice(content, 3 * BLOCK + 4, 6));
            assertThat(Sys.pread(fd, PAGE, last)).as("past the new end").isEmpty();
            assertThat(Sys.fstat(fd).size()).isEqualTo(3 * BLOCK + 10);
        } finally {
            Sys.close(fd);
        }
    }

    @Test
    void pagesBroughtWithABlockAreNeverOlderThanAWriteClosedBeforeTheRead() throws Exception {
        // One thread writes numbered versions into the second page of random blocks, each
        // through a descriptor of its own. Another reads through one descriptor, opened
        // before: the first page of a block (which may bring the others), then the second.
        // A read that starts after a version was written and closed must find that version
        // or a later one, even if the page came with its block.
        int blocks = 64;
        Files.write(fs.path("v"), new byte[blocks * BLOCK]);
        java.util.concurrent.atomic.AtomicIntegerArray closed = new java.util.concurrent.atomic.AtomicIntegerArray(blocks);
        int versions = 3000;
        AtomicInteger done = new AtomicInteger();
        CompletableFuture<Void> writer = CompletableFuture.runAsync(() -> {
            java.util.Random random = new java.util.Random(11);
            for (int v = 1; v <= versions; v++) {
                int block = random.nextInt(blocks);
                int fd = Sys.open(fs.path("v"), Sys.O_WRONLY, 0);
                Sys.pwrite(fd, String.format("%08d", v).getBytes(StandardCharsets.US_ASCII), (long) block * BLOCK + PAGE);
                Sys.close(fd);
                closed.set(block, v);
            }
            done.set(1);
        });
        int fd = openForRandomReads("v");
        try {
            java.util.Random random = new java.util.Random(12);
            int checked = 0;
            while (done.get() == 0 || checked == 0) {
                int block = random.nextInt(blocks);
                int atLeast = closed.get(block);
                Sys.pread(fd, PAGE, (long) block * BLOCK);
                String seen = new String(Sys.pread(fd, 8, (long) block * BLOCK + PAGE), StandardCharsets.US_ASCII);
                int version = seen.charAt(0) == 0 ? 0 : Integer.parseInt(seen);
                assertThat(version).as("block %d, read after version %d was closed", block, atLeast)
                        .isGreaterThanOrEqualTo(atLeast);
                checked++;
            }
        } finally {
            Sys.close(fd);
        }
        writer.get(120, TimeUnit.SECONDS);
    }

    static byte[] slice(byte[] a, long from, int length) {
        return java.util.Arrays.copyOfRange(a, (int) from, (int) from + length);
    }
}
