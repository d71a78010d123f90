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
 * content. The requests are seen in the {@code --debug} log, which names each
 * with its opcode.
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
}
