package io.sqliteos.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Names resolve to the file they name right now, however they were looked up
 * before. The kernel's name cache is off for this mount ({@code --name-cache 0}),
 * so every lookup of every path component reaches the daemon, which keeps
 * directory entries it has read in memory: these tests change names behind
 * those remembered entries, plainly and in transactions, while others look.
 */
class NameLookupIT {

    static final String TX = "user.sqliteos.tx";

    static MountedFs fs;

    @BeforeAll
    static void mount() throws Exception {
        fs = MountedFs.start("--size", "256M", "--name-cache", "0");
    }

    @AfterAll
    static void unmount() {
        fs.close();
    }

    @BeforeEach
    void cleanTree() throws Exception {
        fs.sh("rm -rf ./*").ok();
    }

    static int control(String verb) {
        return Sys.setxattr(fs.root(), TX, verb.getBytes(StandardCharsets.UTF_8), 0);
    }

    /**
     * The file's text, or null if the name was not there. Open and pread only: libfuse 2 names
     * files by path, so a name replaced by a rename between the kernel's lookup and the open, or
     * an fstat of the open file, meets a node that has lost its name (ENOENT): a known limit.
     */
    static String readByOpenAndPread(String relative) {
        int fd = Sys.open(fs.path(relative), 0, 0);
        if (fd == -2) {
            return null;
        }
        assertThat(fd).as("open " + relative).isNotNegative();
        try {
            return new String(Sys.pread(fd, 64, 0), StandardCharsets.UTF_8);
        } finally {
            Sys.close(fd);
        }
    }

    @Test
    void aRemovedTreeRecreatedUnderTheSameNamesShowsTheNewFiles() throws Exception {
        fs.sh("mkdir -p a/b/c && echo old > a/b/c/f").ok();
        String oldIno = fs.sh("cat a/b/c/f && stat -c %i a/b/c/f a/b/c a/b").ok().stdout();
        assertThat(oldIno).startsWith("old\n");
        fs.sh("rm -rf a").ok();
        assertThat(fs.sh("stat a/b/c/f").exitCode()).isNotZero();
        assertThat(fs.sh("stat a").exitCode()).isNotZero();
        fs.sh("mkdir -p a/b/c && echo new > a/b/c/f").ok();
        assertThat(fs.sh("cat a/b/c/f").ok().stdout()).isEqualTo("new\n");
        // a file moved in under an old name, and a directory renamed over an empty one
        fs.sh("echo other > g && mv g a/b/c/f && mkdir x && echo inside > x/y && mkdir z && mv -T x z").ok();
        assertThat(fs.sh("cat a/b/c/f z/y; test -e x && echo x still there; true").ok().stdout())
                .isEqualTo("other\ninside\n");
    }

    @Test
    void aFileReplacedByRenameOverAndOverIsNeverReadOlderThanAlreadySeen() throws Exception {
        int rounds = 1500;
        Files.createDirectory(fs.path("d"));
        Files.writeString(fs.path("d/cur"), "-1");
        Files.createDirectory(fs.path("d/dir0"));
        Files.writeString(fs.path("d/dir0/inner"), "inner");
        AtomicBoolean done = new AtomicBoolean();
        List<CompletableFuture<Integer>> readers = new ArrayList<>();
        for (int r = 0; r < 3; r++) {
            readers.add(CompletableFuture.supplyAsync(() -> {
                int seen = -1;
                int reads = 0;
                try {
                    while (!done.get() || reads == 0) {
                        String text = readByOpenAndPread("d/cur");
                        if (text == null) {
                            continue;
                        }
                        int now = Integer.parseInt(text);
                        assertThat(now).as("a reader went back in time").isGreaterThanOrEqualTo(seen);
                        seen = now;
                        reads++;
                        // the directory flips between two names; whichever name holds it, its content is whole
                        for (String inner : new String[] {"d/dir0/inner", "d/dir1/inner"}) {
                            String got = readByOpenAndPread(inner);
                            assertThat(got == null || got.equals("inner")).as(inner + " read " + got).isTrue();
                        }
                    }
                    // once the writer is done, everyone sees its last file
                    return Integer.parseInt(Files.readString(fs.path("d/cur")));
                } catch (java.io.IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            }));
        }
        try {
            for (int i = 0; i < rounds; i++) {
                Files.writeString(fs.path("d/next"), Integer.toString(i));
                assertThat(Sys.rename(fs.path("d/next"), fs.path("d/cur"))).isZero();
                assertThat(Sys.rename(fs.path("d/dir" + (i % 2)), fs.path("d/dir" + ((i + 1) % 2)))).isZero();
            }
        } finally {
            done.set(true);
        }
        for (CompletableFuture<Integer> reader : readers) {
            assertThat(reader.get(60, TimeUnit.SECONDS)).isEqualTo(rounds - 1);
        }
        assertThat(fs.sh("cat d/cur; ls d").ok().stdout()).isEqualTo((rounds - 1) + "cur\ndir" + (rounds % 2) + "\n");
    }

    @Test
    void namesATransactionChangedAreSeenByOthersAfterItsCommitAndNeverAfterItsRollback() throws Exception {
        fs.sh("mkdir -p w/sub && echo a > w/a && echo b > w/b && echo s > w/sub/s").ok();
        String before = "w/a: a\nw/b: b\nw/sub/s: s\n";
        String show = "for f in w/a w/b w/c w/sub/s w/moved/s; do test -e $f && echo \"$f: $(cat $f)\"; done; true";
        assertThat(fs.sh(show).ok().stdout()).isEqualTo(before);

        renameAndUnlinkInATransactionEndedBy("rollback");
        assertThat(fs.sh(show).ok().stdout()).isEqualTo(before);
        renameAndUnlinkInATransactionEndedBy("commit");
        assertThat(fs.sh(show).ok().stdout()).isEqualTo("w/c: a\nw/moved/s: s\n");
    }

    /**
     * The daemon knows every name of a directory made by a plain mkdir, and
     * answers lookups of names it lacks without asking the database: names a
     * transaction makes there, each looked up as missing just before, must be
     * found by everyone once it commits, and never if it rolls back.
     */
    @Test
    void namesATransactionMakesInADirectoryMadeOutsideItAreFoundAfterItsCommit() throws Exception {
        String show = "for f in m/new m/dir/f m/dir m/fresh/f; do test -e $f && echo \"$f: $(cat $f 2>/dev/null)\"; done; true";
        for (String end : new String[] {"rollback", "commit"}) {
            fs.sh("rm -rf m && mkdir -p m/fresh && echo gone > m/fresh/f").ok();
            assertThat(fs.sh(show).ok().stdout()).isEqualTo("m/fresh/f: gone\n");
            assertThat(control("begin")).isZero();
            Files.writeString(fs.path("m/new"), "new");
            Files.createDirectory(fs.path("m/dir"));
            Files.writeString(fs.path("m/dir/f"), "f");
            Files.delete(fs.path("m/fresh/f"));
            assertThat(fs.sh(show).ok().stdout()).as("outside the open transaction").isEqualTo("m/fresh/f: gone\n");
            assertThat(control(end)).isZero();
            assertThat(fs.sh(show).ok().stdout()).as("after " + end).isEqualTo(end.equals("commit")
                    ? "m/new: new\nm/dir/f: f\nm/dir: \n" : "m/fresh/f: gone\n");
        }
        // and plain changes there, seen by another process at once
        fs.sh("echo again > m/fresh/f && mkdir m/fresh/sub && mv m/new m/fresh/sub/moved").ok();
        assertThat(fs.sh("cat m/fresh/f m/fresh/sub/moved; test -e m/new || echo no m/new").ok().stdout())
                .isEqualTo("again\nnewno m/new\n");
    }

    /** Renames w/a to w/c and w/sub to w/moved and unlinks w/b, all in one transaction of this thread. */
    private static void renameAndUnlinkInATransactionEndedBy(String end) {
        assertThat(control("begin")).isZero();
        assertThat(Sys.rename(fs.path("w/a"), fs.path("w/c"))).isZero();
        assertThat(Sys.unlink(fs.path("w/b"))).isZero();
        assertThat(Sys.rename(fs.path("w/sub"), fs.path("w/moved"))).isZero();
        assertThat(control(end)).isZero();
    }
}
