package io.sqliteos.it;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** {@code sqliteos sql}: read-only SQL over a live mount, with limits, formats and refusals. */
class SqlIT {

    static MountedFs fs;

    @BeforeAll
    static void mount() throws Exception {
        fs = MountedFs.start();
        fs.sh("mkdir -p src && head -c 300000 /dev/zero > src/big && head -c 2000 /dev/zero > src/mid && echo hi > small").ok();
    }

    @AfterAll
    static void unmount() {
        fs.close();
    }

    static MountedFs.Result sql(String... args) throws Exception {
        String[] all = new String[args.length + 3];
        all[0] = "sql";
        all[1] = "--mount";
        all[2] = fs.root().toString();
        System.arraycopy(args, 0, all, 3, args.length);
        return MountedFs.cli(all);
    }

    @Test
    void largestFilesAsATableCsvAndJson() throws Exception {
        String largest = "SELECT d.name, i.size FROM dirent d JOIN inode i ON i.ino = d.ino"
                + " WHERE (i.mode & 61440) = 32768 ORDER BY i.size DESC LIMIT 2";
        assertThat(sql(largest).ok().stdout()).isEqualTo("name  size\n----  ------\nbig   300000\nmid   2000\n(2 rows)\n");
        assertThat(sql("--csv", largest).ok().stdout()).isEqualTo("name,size\nbig,300000\nmid,2000\n");
        assertThat(sql("--json", largest).ok().stdout())
                .isEqualTo("[\n  {\"name\": \"big\", \"size\": \"300000\"},\n  {\"name\": \"mid\", \"size\": \"2000\"}\n]\n");
    }

    @Test
    void changesOfTheLastMinuteAreVisibleAtOnce() throws Exception {
        fs.sh("echo new > fresh").ok();
        String recent = "SELECT name FROM dirent d JOIN inode i ON i.ino = d.ino"
                + " WHERE i.mtime_ns > (strftime('%s','now') - 60) * 1000000000 AND name = 'fresh'";
        assertThat(sql("--csv", recent).ok().stdout()).isEqualTo("name\nfresh\n");
    }

    @Test
    void writesAndSecondStatementsAreRefusedAndNothingChanges() throws Exception {
        for (String bad : new String[] {"DELETE FROM inode", "UPDATE inode SET size = 0", "DROP TABLE extent",
            "SELECT 1; DELETE FROM inode", "ATTACH DATABASE '/tmp/x.db' AS x", "PRAGMA journal_mode = DELETE",
            "WITH t AS (SELECT 1) DELETE FROM dirent"}) {
            MountedFs.Result r = sql(bad);
            assertThat(r.exitCode()).as(bad).isEqualTo(2);
            assertThat(r.stderr()).as(bad).contains("refused");
        }
        assertThat(fs.sh("cat small; stat -c %s src/big").ok().stdout()).isEqualTo("hi\n300000\n");
    }

    @Test
    void theFunctionsOverARequestsBufferReachNoMemoryFromHere() throws Exception {
        // they serve only a FUSE worker that has lent its request's buffer, on its own thread
        for (String call : new String[] {"SELECT sqliteos_copy_out(x'4142', 0)", "SELECT sqliteos_lent_bytes(0, 4096)",
            "SELECT sqliteos_zero_lent()", "SELECT sqliteos_copy_out(x'41', 140000000000000)"}) {
            MountedFs.Result r = sql(call);
            assertThat(r.exitCode()).as(call).isNotZero();
            assertThat(r.stderr()).as(call).contains("no buffer is lent on this thread");
        }
        assertThat(fs.sh("cat small; cmp -n 300000 src/big /dev/zero && stat -c %s src/big").ok().stdout())
                .isEqualTo("hi\n300000\n");
    }

    @Test
    void rowAndTimeLimitsStopARunawayQuery() throws Exception {
        MountedFs.Result limited = sql("--max-rows", "3", "--csv",
                "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x FROM c");
        assertThat(limited.ok().stdout()).isEqualTo("x\n1\n2\n3\n");
        assertThat(limited.stderr()).contains("stopped at 3 rows");
        MountedFs.Result slow = sql("--timeout", "1",
                "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c");
        assertThat(slow.exitCode()).isEqualTo(1);
        assertThat(slow.stderr()).contains("stopped after 1 s");
    }

    @Test
    void onlyRootAndTheOwnerMayQuery() throws Exception {
        MountedFs.Result other = fs.shAs(2001, 2001, "java -jar " + MountedFs.jar() + " sql --mount . 'SELECT 1'");
        assertThat(other.exitCode()).isEqualTo(2);
        assertThat(other.stderr()).contains("only root and the mount's owner");
    }
}
