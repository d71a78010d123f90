package io.sqliteos.it;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** A full --size budget: writes fail with ENOSPC, earlier data stays intact, freed space is usable again. */
class BudgetIT {

    static MountedFs fs;

    @BeforeAll
    static void mount() throws Exception {
        fs = MountedFs.start("--size", "24M");
    }

    @AfterAll
    static void unmount() {
        fs.close();
    }

    private long free() throws Exception {
        return Long.parseLong(fs.sh("df -B1 --output=avail . | tail -1").ok().stdout().trim());
    }

    @Test
    void fullBudgetGivesEnospcAndKeepsEarlierData() throws Exception {
        fs.sh("head -c 4M /dev/urandom > keep").ok();
        String sum = fs.sh("md5sum keep").ok().stdout();
        MountedFs.Result dd = fs.sh("dd if=/dev/zero of=fill bs=1M count=64");
        assertThat(dd.exitCode()).isNotZero();
        assertThat(dd.stderr()).contains("No space left on device");
        assertThat(free()).isLessThan(1 << 20);
        // a write through a new file also fails, and so does fallocate, and nothing half-done remains
        assertThat(fs.sh("head -c 2M /dev/zero > more").stderr()).contains("No space left on device");
        assertThat(fs.sh("fallocate -l 8M big").stderr()).contains("No space left on device");
        assertThat(fs.sh("stat -c %s big").ok().stdout().trim()).isEqualTo("0");
        // names and metadata still work when the data budget is full; attribute values are data
        fs.sh("mkdir d && touch d/empty && mv d/empty d/renamed && chmod 600 d/renamed && ln -s renamed d/link").ok();
        assertThat(fs.sh("setfattr -n user.a -v " + "x".repeat(200) + " d/renamed").stderr()).contains("No space left on device");
        assertThat(fs.sh("getfattr -d d/renamed").ok().stdout()).isEmpty();
        assertThat(fs.sh("md5sum keep").ok().stdout()).isEqualTo(sum);
        fs.sh("rm -f fill more big").ok();
        MountedFs.eventually("the removed files' space is free", () -> free() > 18L << 20);
        fs.sh("head -c 16M /dev/zero > again").ok();
        assertThat(fs.sh("stat -c %s again").ok().stdout().trim()).isEqualTo(String.valueOf(16 << 20));
        assertThat(fs.sh("md5sum keep").ok().stdout()).isEqualTo(sum);
        fs.sh("rm -f again keep").ok();
    }

    @Test
    void extendedAttributesCountAgainstTheBudget() throws Exception {
        long before = free();
        fs.sh("echo data > tagged && head -c 65536 /dev/zero | tr '\\0' v > /tmp/sqliteos-it-value-$$"
                + " && for i in $(seq 1 1000); do setfattr -n user.a$i -v \"$(cat /tmp/sqliteos-it-value-$$)\" tagged"
                + " 2> /tmp/sqliteos-it-err-$$ || break; done; cat /tmp/sqliteos-it-err-$$ > stored-error;"
                + " rm -f /tmp/sqliteos-it-value-$$ /tmp/sqliteos-it-err-$$").ok();
        assertThat(fs.sh("cat stored-error").ok().stdout()).contains("No space left on device");
        int stored = fs.sh("getfattr -d tagged | grep -c '^user.a'").ok().stdout().trim().transform(Integer::parseInt);
        assertThat((long) stored * 65_536).isBetween(before - (1 << 20), before);
        assertThat(free()).isLessThan(1 << 20);
        assertThat(fs.sh("cat tagged").ok().stdout()).isEqualTo("data\n");
        fs.sh("setfattr -x user.a1 tagged").ok();
        assertThat(free()).isGreaterThanOrEqualTo(60_000);
        fs.sh("rm tagged stored-error").ok();
        MountedFs.eventually("the attributes' space is free again", () -> free() >= before);
    }

    /** df -i's columns for the mount: inodes in total, used, free. */
    private long[] inodes() throws Exception {
        String[] f = fs.sh("df --output=itotal,iused,iavail . | tail -1").ok().stdout().trim().split("\\s+");
        return new long[] {Long.parseLong(f[0]), Long.parseLong(f[1]), Long.parseLong(f[2])};
    }

    @Test
    void theInodeBudgetIsCountedByDfAndAFullOneGivesEnospc() throws Exception {
        long[] before = inodes();
        assertThat(before[1] + before[2]).isEqualTo(before[0]);
        fs.sh("mkdir many && cd many && seq 1 500 | sed s/^/f/ | xargs touch").ok();
        MountedFs.eventually("df -i counts 500 more inodes", () -> inodes()[1] == before[1] + 501);
        assertThat(inodes()[2]).isEqualTo(before[2] - 501);

        // fill the budget: the create that finds none left fails, and the files made before stay
        MountedFs.Result full = fs.sh("cd many && seq 501 " + (before[0] + 10) + " | sed s/^/f/ | xargs touch");
        assertThat(full.exitCode()).isNotZero();
        assertThat(full.stderr()).contains("No space left on device");
        MountedFs.eventually("df -i shows no inode free", () -> inodes()[2] == 0);
        assertThat(inodes()[1]).isEqualTo(before[0]);
        assertThat(fs.sh("mkdir more").stderr()).contains("No space left on device");
        long made = Long.parseLong(fs.sh("ls many | wc -l").ok().stdout().trim());
        assertThat(made).isEqualTo(before[0] - before[1] - 1);
        assertThat(fs.sh("test -f many/f1 && test -f many/f" + made).exitCode()).isZero();

        // freed inodes are free again, though new inodes now get numbers above the budget
        fs.sh("rm -rf many").ok();
        MountedFs.eventually("df -i counts the inodes as before", () -> inodes()[1] == before[1]);
        fs.sh("mkdir again && cd again && seq 1 200 | sed s/^/g/ | xargs touch").ok();
        MountedFs.eventually("df -i counts the new files", () -> inodes()[1] == before[1] + 201);

        // a transaction's files count once it commits, and not at all when it rolls back
        String tx = "java -jar " + MountedFs.jar() + " tx -- sh -c ";
        MountedFs.Result undone = fs.sh(tx + "'mkdir undone && touch undone/a undone/b && rm again/g1 && false'");
        assertThat(undone.exitCode()).isNotZero();
        assertThat(inodes()[1]).isEqualTo(before[1] + 201);
        assertThat(fs.sh("test -e undone || test ! -e again/g1").exitCode()).isNotZero();
        fs.sh(tx + "'mkdir kept && touch kept/a kept/b && rm again/g1'").ok();
        MountedFs.eventually("df -i counts the committed transaction", () -> inodes()[1] == before[1] + 203);
        fs.sh("rm -rf again kept").ok();
        MountedFs.eventually("and the removal of it all", () -> inodes()[1] == before[1]);
    }

    @Test
    void sparseFilesAndHolesCostNothing() throws Exception {
        fs.sh("truncate -s 4T sparse && dd if=/dev/urandom of=sparse bs=4k count=1 seek=1000000 conv=notrunc status=none").ok();
        assertThat(fs.sh("stat -c %s sparse").ok().stdout().trim()).isEqualTo(String.valueOf(4L << 40));
        assertThat(free()).isGreaterThan(20L << 20);
        fs.sh("rm sparse").ok();
    }
}
