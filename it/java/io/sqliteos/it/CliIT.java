package io.sqliteos.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** The {@code sqliteos} command: refusals with clear messages, and clean unmounts by command and by signal. */
class CliIT {

    @Test
    void refusesAMissingMountPoint() throws Exception {
        Path missing = Path.of("/tmp", "sqliteos-it-missing-" + ProcessHandle.current().pid());
        MountedFs.Result r = MountedFs.cli("mount", missing.toString(), "--size", "16M");
        assertThat(r.exitCode()).isEqualTo(1);
        assertThat(r.stderr()).contains("mount point " + missing + " does not exist").contains("mkdir -p");
        assertThat(Files.exists(missing)).isFalse();
    }

    @Test
    void refusesANonEmptyMountPointAndTouchesNothing() throws Exception {
        Path dir = Files.createTempDirectory("sqliteos-it-full-");
        try {
            Files.writeString(dir.resolve("precious"), "keep me");
            MountedFs.Result r = MountedFs.cli("mount", dir.toString(), "--size", "16M");
            assertThat(r.exitCode()).isEqualTo(1);
            assertThat(r.stderr()).contains("mount point " + dir + " is not empty").contains("-o nonempty");
            assertThat(Files.readString(dir.resolve("precious"))).isEqualTo("keep me");
            assertThat(Files.readString(Path.of("/proc/self/mountinfo"))).doesNotContain(" " + dir + " ");
        } finally {
            Files.deleteIfExists(dir.resolve("precious"));
            Files.deleteIfExists(dir);
        }
    }

    @Test
    void refusesAFileAsMountPoint() throws Exception {
        Path file = Files.createTempFile("sqliteos-it-file-", ".txt");
        try {
            MountedFs.Result r = MountedFs.cli("mount", file.toString());
            assertThat(r.exitCode()).isEqualTo(1);
            assertThat(r.stderr()).contains("is not a directory");
        } finally {
            Files.deleteIfExists(file);
        }
    }

    @Test
    void umountCommandUnmountsAndTheDaemonExits() throws Exception {
        try (MountedFs fs = MountedFs.start("--size", "16M")) {
            fs.sh("echo data > f").ok();
            MountedFs.Result r = MountedFs.cli("umount", fs.root().toString());
            assertThat(r.exitCode()).as(r.stderr()).isZero();
            assertThat(fs.isMounted()).isFalse();
            assertThat(fs.daemon().waitFor(30, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
            assertThat(fs.daemon().exitValue()).isZero();
            // a second umount says there is nothing there
            MountedFs.Result again = MountedFs.cli("umount", fs.root().toString());
            assertThat(again.exitCode()).isEqualTo(1);
            assertThat(again.stderr()).contains("nothing is mounted on " + fs.root());
        }
    }

    @Test
    void sigtermUnmountsCleanly() throws Exception {
        try (MountedFs fs = MountedFs.start("--size", "16M")) {
            fs.sh("echo data > f").ok();
            // after its shutdown hook has unmounted, the JVM reports the signal as status 128 + 15
            assertThat(fs.terminate()).isIn(0, 143);
            assertThat(fs.isMounted()).isFalse();
            assertThat(fs.log()).contains("signal received: unmounting").contains("unmounted " + fs.root());
            // the mount point is an ordinary empty directory again
            try (var entries = Files.list(fs.root())) {
                assertThat(entries.count()).isZero();
            }
        }
    }

    @Test
    void backgroundMountPrintsWhereAndUnmountsByCommand() throws Exception {
        Path dir = Files.createTempDirectory("sqliteos-it-bg-");
        Path log = Files.createTempFile("sqliteos-it-bg-", ".log");
        try {
            MountedFs.Result r = MountedFs.cli("mount", dir.toString(), "--size", "16M", "--log", log.toString());
            assertThat(r.exitCode()).as(r.stderr()).isZero();
            assertThat(r.stdout()).contains("mounted an in-memory file system on " + dir).contains("sqliteos umount " + dir);
            Files.writeString(dir.resolve("f"), "in the mount");
            assertThat(Files.readString(dir.resolve("f"))).isEqualTo("in the mount");
            assertThat(MountedFs.cli("mount", dir.toString()).stderr()).contains("already mounted on " + dir);
            assertThat(MountedFs.cli("umount", dir.toString()).exitCode()).isZero();
            assertThat(Files.exists(dir.resolve("f"))).isFalse();
        } finally {
            if (Files.readString(Path.of("/proc/self/mountinfo")).contains(" " + dir + " ")) {
                new ProcessBuilder("fusermount", "-u", "-z", dir.toString()).start().waitFor();
            }
            Files.deleteIfExists(dir);
            Files.deleteIfExists(log);
        }
    }
}
