package io.sqliteos.it;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The mount comes up, holds data through ordinary tools, reports its budget, and goes away cleanly. */
class SmokeIT {

    static MountedFs fs;

    @BeforeAll
    static void mount() throws Exception {
        fs = MountedFs.start("--size", "256M");
    }

    @AfterAll
    static void unmount() {
        fs.close();
        assertThat(fs.isMounted()).isFalse();
    }

    @Test
    void writesAndReadsBackThroughShellTools() throws Exception {
        fs.sh("echo hello > a.txt && mkdir -p d/e && cp a.txt d/e/b.txt").ok();
        assertThat(fs.sh("cat d/e/b.txt").ok().stdout()).isEqualTo("hello\n");
        assertThat(fs.sh("stat -c %s a.txt").ok().stdout().trim()).isEqualTo("6");
    }

    @Test
    void theWarmUpAfterMountingLeavesNoTraceAndNoOtherMountHarmed() throws Exception {
        MountedFs.eventually("the first mount's warm-up to finish", 60, () -> fs.log().contains("warm-up: "));
        // it went through libfuse and the adapter, not only the file system's own code
        assertThat(fs.log()).containsPattern("warm-up: \\d+ rounds of common requests through libfuse");
        fs.sh("echo kept > kept.txt").ok();
        try (MountedFs fresh = MountedFs.start("--size", "256M")) {
            MountedFs.eventually("the warm-up to finish", 60, () -> fresh.log().contains("warm-up: "));
            assertThat(fresh.sh("ls -A").ok().stdout()).isEmpty();
            MountedFs.Result state = MountedFs.cli("sql", "--mount", fresh.root().toString(), "--csv",
                    "SELECT (SELECT count(*) FROM inode) AS inodes, used_bytes FROM fsinfo");
            assertThat(state.ok().stdout()).isEqualTo("inodes,used_bytes\n1,0\n");
            // the new daemon swept /dev/shm for databases whose daemon is gone: the first one's must still be
            // there, which a new connection (a transaction's) finds out
            String j = "java -jar " + MountedFs.jar();
            assertThat(fs.sh(j + " tx -- cat kept.txt").ok().stdout()).isEqualTo("kept\n");
        }
    }

    @Test
    void sequentialReadersGetLargeRequestsAndAWideReadahead() throws Exception {
        String mount = java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc/self/mountinfo")).stream()
                .filter(l -> l.split(" ")[4].equals(fs.root().toString())).findFirst().orElseThrow();
        assertThat(mount).contains("max_read=1048576");
        java.nio.file.Path window = java.nio.file.Path.of("/sys/class/bdi", mount.split(" ")[2], "read_ahead_kb");
        // the kernel lowers it when the INIT exchange completes: it must have been raised after that, and hold
        MountedFs.eventually("the readahead to be raised", 30, () -> fs.log().contains("readahead of "));
        assertThat(java.nio.file.Files.readString(window).trim()).isEqualTo("2048");
        // a file written and read back in 1 MiB calls, through the cache and around it
        fs.sh("head -c 5000000 /dev/urandom > /tmp/sqliteos-smoke-seq.bin"
                + " && dd if=/tmp/sqliteos-smoke-seq.bin of=seq.bin bs=1M conv=fsync status=none"
                + " && echo 3 > /proc/sys/vm/drop_caches"
                + " && dd if=seq.bin bs=1M status=none | cmp - /tmp/sqliteos-smoke-seq.bin"
                + " && dd if=seq.bin bs=1M iflag=direct status=none | cmp - /tmp/sqliteos-smoke-seq.bin"
                + " && rm /tmp/sqliteos-smoke-seq.bin seq.bin").ok();
        assertThat(java.nio.file.Files.readString(window).trim()).isEqualTo("2048");
    }

    @Test
    void anIdleMountGivesBackTheRamOfItsLog() throws Exception {
        // the in-memory database: a file in /dev/shm that the daemon holds open (the
        // warm-up's scratch one too, until it is done)
        MountedFs.eventually("the warm-up to finish", 60, () -> fs.log().contains("warm-up: "));
        java.nio.file.Path db = null;
        try (var fds = java.nio.file.Files.list(java.nio.file.Path.of("/proc", String.valueOf(fs.daemon().pid()), "fd"))) {
            for (java.nio.file.Path fd : (Iterable<java.nio.file.Path>) fds::iterator) {
                java.nio.file.Path target = java.nio.file.Files.readSymbolicLink(fd);
                if (target.toString().startsWith("/dev/shm/sqliteos-") && target.toString().endsWith("/fs.db")) {
                    assertThat(db).as("one database file").isIn(null, target);
                    db = target;
                }
            }
        }
        assertThat(db).as("the daemon's database file").isNotNull();
        java.nio.file.Path log = java.nio.file.Path.of(db + "-wal");
        String sum = fs.sh("head -c 24M /dev/urandom > burst && sync burst && md5sum burst").ok().stdout();
        // without more writes the log kept its size until the next write (and then shrank to 32 MiB)
        MountedFs.eventually("the idle mount to empty its log", () -> java.nio.file.Files.size(log) == 0);
        assertThat(fs.sh("md5sum burst && rm burst").ok().stdout()).isEqualTo(sum);
    }

    @Test
    void statfsReportsTheSizeBudget() throws Exception {
        String blocks = fs.sh("stat -f -c '%S %b' .").ok().stdout().trim();
        assertThat(blocks).isEqualTo("4096 65536");
    }
}
