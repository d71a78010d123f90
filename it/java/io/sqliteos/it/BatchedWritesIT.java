package io.sqliteos.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Plain writes to the in-memory file system commit in batches. Here a batch
 * stays open for ten minutes unless something needs it committed, so each
 * test fails if a way of reading the file system misses a write that has
 * returned: processes reading in parallel, SQL, snapshots, fsck, IPC.
 */
class BatchedWritesIT {

    /** For the daemon's JVM: batches that only close when they must. */
    static final List<String> LONG_BATCHES = List.of("-Dsqliteos.batchMicros=600000000");

    static MountedFs fs;

    @BeforeAll
    static void mount() throws Exception {
        fs = MountedFs.start(LONG_BATCHES, "--size", "256M");
    }

    @AfterAll
    static void unmount() {
        fs.close();
    }

    @Test
    void processesReadingInParallelSeeEveryWrite() throws Exception {
        fs.sh("mkdir par && for i in $(seq 1 200); do echo $i > par/f$i; done").ok();
        MountedFs.Result r = fs.sh("for k in 1 2 3 4; do (cat par/f* | wc -l; ls par | wc -l) > par.out$k & done; wait;"
                + " cat par.out1 par.out2 par.out3 par.out4 | sort -u");
        assertThat(r.ok().stdout()).isEqualTo("200\n");
    }

    @Test
    void sqlAndFsckSeeWritesAtOnce() throws Exception {
        fs.sh("echo fresh > just-written").ok();
        MountedFs.Result q = MountedFs.cli("sql", "--mount", fs.root().toString(), "--csv",
                "SELECT i.size FROM dirent d JOIN inode i ON i.ino = d.ino WHERE d.name = 'just-written'");
        assertThat(q.ok().stdout()).isEqualTo("size\n6\n");
        MountedFs.Result fsck = MountedFs.cli("fsck", "--mount", fs.root().toString());
        assertThat(fsck.exitCode()).as(fsck.stdout() + fsck.stderr()).isZero();
    }

    /**
     * The space in use, which a batch writes once as it commits, matches what
     * the files and attributes hold after writes that grow, shrink, free and
     * fail in quick succession; and it all comes back when they go.
     */
    @Test
    void theSpaceInUseMatchesTheStoredBytesAfterABurstOfChanges() throws Exception {
        long usedBefore = usedBlocks();
        fs.sh("mkdir space && cd space"
                + " && for i in $(seq 1 60); do head -c $((i * 1500)) /dev/urandom > f$i; done"
                + " && for i in $(seq 1 2 59); do rm f$i; done"
                + " && truncate -s 100 f2 && truncate -s 300000 f4 && cat f6 >> f8 && cp f10 f61"
                + " && setfattr -n user.note -v 0123456789abcdef f12"
                + " && (setfattr -n user.big -v \"$(head -c 70000 /dev/zero | tr '\\0' x)\" f14 2>/dev/null || true)"
                + " && (mkdir f16 2>/dev/null || true) && (cat /dev/null > f18/x 2>/dev/null || true)"
                + " && dd if=/dev/urandom of=f20 bs=4096 seek=100 count=3 conv=notrunc status=none").ok();
        MountedFs.Result fsck = MountedFs.cli("fsck", "--mount", fs.root().toString());
        assertThat(fsck.exitCode()).as(fsck.stdout() + fsck.stderr()).isZero();
        assertThat(usedBlocks()).isGreaterThan(usedBefore);
        fs.sh("rm -r space").ok();
        fsck = MountedFs.cli("fsck", "--mount", fs.root().toString());
        assertThat(fsck.exitCode()).as(fsck.stdout() + fsck.stderr()).isZero();
        assertThat(usedBlocks()).isEqualTo(usedBefore);
    }

    private static long usedBlocks() throws Exception {
        String[] f = fs.sh("stat -f -c '%b %f' .").ok().stdout().trim().split(" ");
        return Long.parseLong(f[0]) - Long.parseLong(f[1]);
    }

    @Test
    void aSnapshotHoldsEveryWriteThatReturned(@TempDir Path work) throws Exception {
        fs.sh("mkdir snap && echo one > snap/a && echo two > snap/b && mv snap/b snap/c").ok();
        Path copy = work.resolve("copy.db");
        MountedFs.Result snap = MountedFs.cli("snapshot", fs.root().toString(), copy.toString());
        assertThat(snap.exitCode()).as(snap.stderr()).isZero();
        try (MountedFs again = MountedFs.start("--db", copy.toString())) {
            assertThat(again.sh("cat snap/a snap/c; ls snap").ok().stdout()).isEqualTo("one\ntwo\na\nc\n");
        }
    }

    @Test
    void aTransactionSeesWritesMadeJustBeforeIt() throws Exception {
        String j = "java -jar " + MountedFs.jar();
        MountedFs.Result r = fs.sh("echo before > tx-seen && " + j + " tx -- sh -c 'cat tx-seen && echo inside >> tx-seen'"
                + " && echo after >> tx-seen && cat tx-seen");
        assertThat(r.ok().stdout()).isEqualTo("before\nbefore\ninside\nafter\n");
    }

    @Test
    void aFailedRequestLeavesTheWritesBeforeItInPlace() throws Exception {
        MountedFs.Result r = fs.sh("mkdir keep && echo a > keep/a && mkdir keep/d && echo x > keep/d/x"
                + " && (rmdir keep/d 2>/dev/null || mv -T keep/a keep/d 2>/dev/null || true) && echo b > keep/b"
                + " && ls keep && cat keep/a keep/b");
        assertThat(r.ok().stdout()).isEqualTo("a\nb\nd\na\nb\n");
    }
}
