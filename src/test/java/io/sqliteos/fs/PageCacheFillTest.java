package io.sqliteos.fs;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Which opens hand a file's content over for the kernel's page cache: only
 * those that nobody could change the file during (FileSystem#open), and only
 * whole files.
 */
class PageCacheFillTest extends FsTestBase {

    /** A fill that records what it was offered, and takes it unless told to refuse. */
    static final class Recording implements FileSystem.PageCacheFill {
        final byte[] buffer;
        final List<byte[]> offered = new ArrayList<>();
        int kept;
        boolean refuse;

        Recording(int capacity) {
            buffer = new byte[capacity];
        }

        @Override
        public byte[] buffer() {
            return buffer;
        }

        @Override
        public boolean store(int length) {
            offered.add(Arrays.copyOf(buffer, length));
            return !refuse;
        }

        @Override
        public void keep() {
            kept++;
        }
    }

    final Recording fill = new Recording(64);

    long open(String path, int flags) {
        return fs.open(ROOT, path, flags, fill);
    }

    @Test
    void aReadOnlyOpenOffersTheWholeFileAsItIsNow() {
        writeFile("/f", bytes("first"));
        fs.release(ROOT, open("/f", O_RDONLY));
        writeFile("/f", bytes("second, longer"));
        fs.release(ROOT, open("/f", O_RDONLY));
        assertThat(fill.offered).map(String::new).containsExactly("first", "second, longer");
    }

    @Test
    void anUnchangedFileIsKeptWhereTheKernelHasItAndOfferedAgainOnceAnythingMayHaveChangedIt() {
        writeFile("/f", bytes("first"));
        fs.release(ROOT, open("/f", O_RDONLY));
        fs.release(ROOT, open("/f", O_RDONLY));
        fs.release(ROOT, open("/f", O_RDONLY));
        assertThat(fill.offered).map(String::new).containsExactly("first");
        assertThat(fill.kept).as("the kernel already holds it").isEqualTo(2);

        writeFile("/f", bytes("second"));
        fs.release(ROOT, open("/f", O_RDONLY));
        fs.truncate(ROOT, "/f", 3);
        fs.release(ROOT, open("/f", O_RDONLY));
        fs.release(ROOT, fs.open(ROOT, "/f", O_RDWR)); // a handle that could have written it
        fs.release(ROOT, open("/f", O_RDONLY));
        assertThat(fill.offered).map(String::new).containsExactly("first", "second", "sec", "sec");

        // a second name makes the kernel hold the file once per name: nothing is offered or kept then
        fs.link(ROOT, "/f", "/g");
        fs.release(ROOT, open("/f", O_RDONLY));
        assertThat(fill.offered).hasSize(4);
        assertThat(fill.kept).isEqualTo(2);
        fs.unlink(ROOT, "/g");
        fs.release(ROOT, open("/f", O_RDONLY));
        assertThat(fill.offered).hasSize(5);

        // what the kernel refused to take is offered again
        writeFile("/f", bytes("third"));
        fill.refuse = true;
        fs.release(ROOT, open("/f", O_RDONLY));
        fill.refuse = false;
        fs.release(ROOT, open("/f", O_RDONLY));
        assertThat(fill.offered).hasSize(7);
        fs.release(ROOT, open("/f", O_RDONLY));
        assertThat(fill.offered).hasSize(7);
        assertThat(fill.kept).isEqualTo(3);
    }

    @Test
    void opensThatMayWriteOffersNothing() {
        writeFile("/f", bytes("data"));
        fs.release(ROOT, open("/f", O_WRONLY));
        fs.release(ROOT, open("/f", O_RDWR));
        fs.release(ROOT, open("/f", O_RDONLY | 040000)); // O_DIRECT
        assertThat(fill.offered).isEmpty();
    }

    @Test
    void whileAnotherHandleMayWriteTheFileNothingIsOffered() {
        writeFile("/f", bytes("data"));
        long writer = fs.open(ROOT, "/f", O_WRONLY);
        fs.release(ROOT, open("/f", O_RDONLY));
        assertThat(fill.offered).isEmpty();
        fs.release(ROOT, writer);
        long reader = fs.open(ROOT, "/f", O_RDONLY);
        fs.release(ROOT, open("/f", O_RDONLY));
        fs.release(ROOT, reader);
        assertThat(fill.offered).as("once the writer closed; readers stand in no one's way").hasSize(1);
    }

    @Test
    void largerEmptyHardLinkedFilesAndDirectoriesAreNotOffered() {
        writeFile("/large", new byte[65]);
        writeFile("/empty", new byte[0]);
        writeFile("/linked", bytes("two names"));
        fs.link(ROOT, "/linked", "/second");
        fs.mkdir(ROOT, "/dir", 0755);
        for (String path : List.of("/large", "/empty", "/linked", "/second", "/dir")) {
            fs.release(ROOT, open(path, O_RDONLY));
        }
        writeFile("/full", new byte[64]);
        fs.release(ROOT, open("/full", O_RDONLY));
        assertThat(fill.offered).as("only the file that fits the buffer exactly").hasSize(1);
    }

    @Test
    void aReadTheKernelAnswersAloneStillRecordsTheAccessTime() throws Exception {
        writeFile("/f", bytes("data"));
        long written = stat("/f").atimeNs();
        Thread.sleep(2);
        fs.release(ROOT, open("/f", O_RDONLY));
        long afterFill = stat("/f").atimeNs();
        assertThat(afterFill).as("relatime: the first read after a change").isGreaterThan(written);

        fill.refuse = true;
        writeFile("/f", bytes("more data"));
        long rewritten = stat("/f").atimeNs();
        fs.release(ROOT, open("/f", O_RDONLY));
        assertThat(stat("/f").atimeNs()).as("when the kernel did not take the content").isEqualTo(rewritten);
    }
}
