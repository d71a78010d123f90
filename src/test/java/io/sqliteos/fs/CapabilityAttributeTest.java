package io.sqliteos.fs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.sqliteos.db.Database;
import io.sqliteos.tx.SessionRouter;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * security.capability, which the kernel asks for before a file's first write, is answered
 * right in every state, and a write or truncate takes it away.
 */
class CapabilityAttributeTest {

    private static final Caller ROOT = Caller.ROOT;
    private static final byte[] CAPS = {1, 0, 0, 2, 0, 32, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};

    private static FileSystem mount(Database db) {
        FileSystem fs = new FileSystem(new SessionRouter(db), 1L << 30);
        fs.initialize(0, 0);
        return fs;
    }

    private static void assertNoCapability(FileSystem fs, String path) {
        assertThatThrownBy(() -> fs.getxattr(ROOT, path, "security.capability"))
                .isInstanceOf(FsException.class)
                .extracting(e -> ((FsException) e).errno()).isEqualTo(Errno.ENODATA);
    }

    @Test
    void storedCapabilitiesAreFoundAndOthersAreAbsent(@TempDir Path dir) {
        Path file = dir.resolve("fs.db");
        try (Database db = Database.open(file, 5000)) {
            FileSystem fs = mount(db);
            fs.mknod(ROOT, "/plain", Mode.S_IFREG | 0755, 0);
            fs.mknod(ROOT, "/ping", Mode.S_IFREG | 0755, 0);
            assertNoCapability(fs, "/plain");

            fs.setxattr(ROOT, "/ping", "security.capability", CAPS, 0);
            assertThat(fs.getxattr(ROOT, "/ping", "security.capability")).isEqualTo(CAPS);
            assertNoCapability(fs, "/plain");
        }
        // a later mount of the same database still finds it
        try (Database db = Database.open(file, 5000)) {
            FileSystem fs = mount(db);
            assertThat(fs.getxattr(ROOT, "/ping", "security.capability")).isEqualTo(CAPS);
            assertNoCapability(fs, "/plain");
            fs.removexattr(ROOT, "/ping", "security.capability");
            assertNoCapability(fs, "/ping");
        }
        try (Database db = Database.open(file, 5000)) {
            assertNoCapability(mount(db), "/ping");
        }
    }

    @Test
    void writesAndTruncatesTakeCapabilitiesAway(@TempDir Path dir) {
        try (Database db = Database.open(dir.resolve("fs.db"), 5000)) {
            FileSystem fs = mount(db);
            long fh = fs.create(ROOT, "/tool", 0755, 02);
            fs.write(ROOT, fh, new byte[] {1, 2, 3}, 3, 0);
            fs.setxattr(ROOT, "/tool", "security.capability", CAPS, 0);
            // the write is root's: capabilities go whoever writes, set-ID bits only for others
            fs.write(ROOT, fh, new byte[] {4}, 1, 3);
            assertNoCapability(fs, "/tool");

            fs.setxattr(ROOT, "/tool", "security.capability", CAPS, 0);
            fs.ftruncate(ROOT, fh, 1);
            assertNoCapability(fs, "/tool");
            fs.setxattr(ROOT, "/tool", "security.capability", CAPS, 0);
            fs.truncate(ROOT, "/tool", 0);
            assertNoCapability(fs, "/tool");
            fs.release(ROOT, fh);
        }
    }
}
