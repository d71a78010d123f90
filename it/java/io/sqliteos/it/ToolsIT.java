package io.sqliteos.it;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;

/** Real tools on the mount: cp, mv, ln, tar, find, stat, dd, sqlite3 and git behave as on a local disk. */
class ToolsIT {

    static MountedFs fs;
    String dir;

    @BeforeAll
    static void mount() throws Exception {
        fs = MountedFs.start("--size", "512M");
    }

    @AfterAll
    static void unmount() {
        fs.close();
    }

    @BeforeEach
    void ownDirectory(TestInfo test) throws Exception {
        dir = test.getTestMethod().orElseThrow().getName();
        fs.sh("mkdir " + dir).ok();
    }

    private String sh(String script) throws Exception {
        return fs.sh("set -e; cd " + dir + "; " + script).ok().stdout();
    }

    /** A small tree with modes, times, a symlink, a hard link, a FIFO, xattrs and binary data. */
    private static final String MAKE_TREE = "mkdir -p src/a/b src/empty && echo top > src/top.txt"
            + " && head -c 300000 /dev/urandom > src/a/blob.bin && printf 'x%.0s' $(seq 1 100) > src/a/b/deep"
            + " && ln -s ../top.txt src/a/up && ln src/top.txt src/hard && mkfifo src/fifo"
            + " && chmod 600 src/a/blob.bin && chmod 751 src/a && chmod 4755 src/a/b/deep"
            + " && setfattr -n user.colour -v blue src/top.txt && setfattr -n user.dir -v yes src/a"
            + " && touch -h -d '2001-01-01 01:01:01.123456789' src/a/up"
            + " && touch -d '2002-02-02 02:02:02.5' src/top.txt src/a/blob.bin src/a/b/deep src/a/b src/a src/empty";

    /** One line per entry: type, mode, size (files), times, link target and xattrs. */
    private static final String DESCRIBE = "find . -mindepth 1 | LC_ALL=C sort | while read -r p; do"
            + " stat -c '%n|%F|%a|%y' \"$p\";"
            + " if [ -f \"$p\" ] && [ ! -L \"$p\" ]; then md5sum < \"$p\"; fi;"
            + " if [ -L \"$p\" ]; then readlink \"$p\"; else getfattr -d --absolute-names \"$p\" 2>/dev/null | grep -v '^#' || true; fi;"
            + " done";

    private String describe(String tree) throws Exception {
        return sh("cd " + tree + " && " + DESCRIBE);
    }

    @Test
    void cpDashAKeepsModesTimesLinksAndXattrs() throws Exception {
        sh(MAKE_TREE);
        sh("cp -a src copy");
        String original = describe("src");
        assertThat(original).contains("user.colour=\"blue\"").contains("|4755|").contains("|fifo|").contains("../top.txt");
        assertThat(describe("copy")).isEqualTo(original);
        // times to the nanosecond, symlink times too
        assertThat(sh("stat -c %y copy/top.txt copy/a/up")).isEqualTo(
                "2002-02-02 02:02:02.500000000 +0000\n2001-01-01 01:01:01.123456789 +0000\n");
        // hard links stay linked in the copy
        assertThat(sh("stat -c %h copy/top.txt; [ copy/top.txt -ef copy/hard ] && echo same")).isEqualTo("2\nsame\n");
        // and out to the local disk and back
        String out = "/tmp/sqliteos-it-cp-" + ProcessHandle.current().pid();
        try {
            sh("cp -a src " + out + " && cp -a " + out + " back");
            assertThat(describe("back")).isEqualTo(original);
        } finally {
            fs.sh("rm -rf " + out).ok();
        }
    }

    @Test
    void tarWithXattrsRoundTrips() throws Exception {
        sh(MAKE_TREE);
        String original = describe("src");
        sh("tar --xattrs --xattrs-include='user.*' -cf archive.tar -C src . && mkdir unpacked"
                + " && tar --xattrs --xattrs-include='user.*' -xpf archive.tar -C unpacked");
        assertThat(describe("unpacked")).isEqualTo(original);
        assertThat(sh("tar -tf archive.tar | LC_ALL=C sort | head -3")).isEqualTo("./\n./a/\n./a/b/\n");
        // a compressed archive of the same tree, listed and compared with diff
        sh("tar -czf archive.tgz src && mkdir z && tar -xzf archive.tgz -C z && diff -r --no-dereference -x fifo src z/src && test -p z/src/fifo");
    }

    @Test
    void mvAndLnAcrossDirectories() throws Exception {
        sh(MAKE_TREE);
        String before = describe("src");
        sh("mkdir other && mv src other/moved && mv other/moved/top.txt other/renamed.txt");
        assertThat(sh("ls other; cat other/renamed.txt; stat -c %h other/moved/hard")).isEqualTo("moved\nrenamed.txt\ntop\n2\n");
        sh("mv other/renamed.txt other/moved/top.txt && mv other/moved src");
        assertThat(describe("src")).isEqualTo(before);
        sh("ln -s src/top.txt sym && ln -f src/top.txt hard2 && ln -sfn src/a sym && ln -sr src/a/b rel");
        assertThat(sh("readlink sym rel; stat -c %h src/top.txt; cat rel/deep | wc -c")).isEqualTo("src/a\nsrc/a/b\n3\n100\n");
        // mv over an existing file replaces it; mv -n does not
        sh("echo new > n1 && echo old > n2 && mv -n n1 n2 && cat n2 && mv n1 n2 && cat n2 && ! test -e n1");
        assertThat(sh("cat n2")).isEqualTo("new\n");
    }

    @Test
    void findAndStatSeeWhatWasMade() throws Exception {
        sh(MAKE_TREE);
        assertThat(sh("find src -type f | LC_ALL=C sort")).isEqualTo(
                "src/a/b/deep\nsrc/a/blob.bin\nsrc/hard\nsrc/top.txt\n");
        assertThat(sh("find src -type d | LC_ALL=C sort")).isEqualTo("src\nsrc/a\nsrc/a/b\nsrc/empty\n");
        assertThat(sh("find src -type l -o -type p | LC_ALL=C sort")).isEqualTo("src/a/up\nsrc/fifo\n");
        assertThat(sh("find src -perm -4000")).isEqualTo("src/a/b/deep\n");
        assertThat(sh("find src -size +100k")).isEqualTo("src/a/blob.bin\n");
        assertThat(sh("find src -samefile src/top.txt | LC_ALL=C sort")).isEqualTo("src/hard\nsrc/top.txt\n");
        assertThat(sh("find src -newermt '2010-01-01' -type f")).isEmpty(); // every file was given a 2002 time
        assertThat(sh("find src -newermt '2001-06-01' -type f | LC_ALL=C sort")).isEqualTo(
                "src/a/b/deep\nsrc/a/blob.bin\nsrc/hard\nsrc/top.txt\n");
        assertThat(sh("find src -empty")).isEqualTo("src/empty\n");
        assertThat(sh("stat -c '%n %s %F' src/a/b/deep src/a/up")).isEqualTo(
                "src/a/b/deep 100 regular file\nsrc/a/up 10 symbolic link\n");
        assertThat(sh("stat -L -c %s src/a/up")).isEqualTo("4\n");
        sh("find src -name '*.bin' -delete");
        assertThat(sh("ls src/a")).isEqualTo("b\nup\n");
    }

    @Test
    void ddWritesReadsAndSeeks() throws Exception {
        sh("head -c 5000000 /dev/urandom > /tmp/sqliteos-it-dd-$$ && dd if=/tmp/sqliteos-it-dd-$$ of=copy bs=64k status=none"
                + " && cmp /tmp/sqliteos-it-dd-$$ copy && rm /tmp/sqliteos-it-dd-$$");
        // odd block sizes, seek and skip, conv=notrunc
        sh("dd if=copy of=odd bs=777 status=none && cmp copy odd");
        sh("dd if=/dev/zero of=odd bs=1 count=10 seek=100 conv=notrunc status=none");
        assertThat(sh("stat -c %s odd")).isEqualTo("5000000\n");
        assertThat(sh("dd if=odd bs=1 skip=100 count=10 status=none | od -An -tx1 | tr -d ' \\n'")).isEqualTo("00".repeat(10));
        assertThat(sh("cmp -n 100 copy odd && echo same-prefix")).isEqualTo("same-prefix\n");
        sh("dd if=copy of=part bs=1000 skip=10 count=5 status=none");
        assertThat(sh("cmp part <(tail -c +10001 copy | head -c 5000) && echo ok")).isEqualTo("ok\n");
        // writing far out makes a sparse file
        sh("dd if=/dev/urandom of=sparse bs=4096 count=1 seek=262144 status=none");
        assertThat(sh("stat -c %s sparse")).isEqualTo((262144L * 4096 + 4096) + "\n");
        assertThat(Long.parseLong(sh("du -k sparse | cut -f1").trim())).isLessThan(1024);
    }

    @Test
    void sqlite3CreatesAndQueriesADatabase() throws Exception {
        String sql = "PRAGMA journal_mode=DELETE; CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, blob BLOB);"
                + " WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 20000)"
                + " INSERT INTO t(name, blob) SELECT 'row' || i, randomblob(100) FROM n;"
                + " CREATE INDEX t_name ON t(name);";
        sh("sqlite3 app.db \"" + sql + "\"");
        assertThat(sh("sqlite3 app.db 'SELECT count(*), max(id) FROM t; SELECT name FROM t WHERE name = \"row777\";'"))
                .isEqualTo("20000|20000\nrow777\n");
        assertThat(sh("sqlite3 app.db 'PRAGMA integrity_check;'")).isEqualTo("ok\n");
        // updates in a transaction, a rollback, and the WAL journal mode
        sh("sqlite3 app.db 'BEGIN; DELETE FROM t WHERE id > 10000; ROLLBACK; BEGIN; UPDATE t SET name = \"x\" WHERE id <= 10; COMMIT;'");
        assertThat(sh("sqlite3 app.db 'SELECT count(*) FROM t; SELECT count(*) FROM t WHERE name = \"x\";'")).isEqualTo("20000\n10\n");
        assertThat(sh("sqlite3 app.db 'PRAGMA journal_mode=WAL;' && sqlite3 app.db 'INSERT INTO t(name) VALUES (\"wal\");"
                + " SELECT count(*) FROM t;' && sqlite3 app.db 'VACUUM; PRAGMA integrity_check;'")).isEqualTo("wal\n20001\nok\n");
        assertThat(sh("ls")).contains("app.db");
    }

    @Test
    void gitInitAddCommitStatus() throws Exception {
        String git = "git -c user.name=Tester -c user.email=t@example.com -c init.defaultBranch=main ";
        sh("mkdir repo && cd repo && " + git + "init -q && mkdir -p src/lib && for i in $(seq 1 50); do echo \"line $i\" > src/f$i.txt; done"
                + " && printf '#!/bin/sh\\necho hi\\n' > run.sh && chmod 755 run.sh && ln -s run.sh link"
                + " && " + git + "add . && " + git + "commit -q -m first");
        assertThat(sh("cd repo && git status --porcelain")).isEmpty();
        assertThat(sh("cd repo && git log --oneline | wc -l")).isEqualTo("1\n");
        sh("cd repo && echo changed >> src/f1.txt && rm src/f2.txt && echo new > untracked && git mv run.sh start.sh");
        assertThat(sh("cd repo && git status --porcelain | LC_ALL=C sort")).isEqualTo(
                " D src/f2.txt\n M src/f1.txt\n?? untracked\nR  run.sh -> start.sh\n");
        sh("cd repo && " + git + "add -A && " + git + "commit -q -m second && " + git + "gc -q");
        assertThat(sh("cd repo && git status --porcelain")).isEmpty();
        assertThat(sh("cd repo && git fsck --strict 2>&1 && git log --format=%s")).endsWith("second\nfirst\n");
        assertThat(sh("cd repo && git ls-files -s start.sh link | cut -c1-6")).isEqualTo("120000\n100755\n");
        // a clone to the mount and back out checks every object
        sh("git clone -q repo clone && cd clone && git diff --stat HEAD~1 | tail -1");
        assertThat(sh("cd clone && cat src/f1.txt && ./start.sh")).isEqualTo("line 1\nchanged\nhi\n");
    }
}
