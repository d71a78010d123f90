package io.sqliteos.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assumptions.assumeThat;

import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * How long the kernel keeps names and attributes with the default
 * {@code --name-cache}, seen in the requests that reach the daemon (its
 * {@code --debug} log names every lookup and getattr with its path). Where
 * the kernel can drop every cached name at a transaction's begin (Linux 6.16
 * and later), names are kept ten seconds rather than libfuse's one: a tree
 * walked again a few seconds later (git status, then rm -rf) is not looked up
 * a second time, and a begin still leaves nothing cached for others to see.
 */
class NameCacheIT {

    static MountedFs fs;

    @BeforeAll
    static void mount() throws Exception {
        fs = MountedFs.start("--size", "64M", "--debug");
    }

    @AfterAll
    static void unmount() {
        fs.close();
    }

    @BeforeEach
    void onlyWhereTheKernelDropsNamesAtABegin() throws Exception {
        // the daemon logs its choice as the kernel's INIT is served, which may come after the mount shows
        MountedFs.eventually("the daemon logs how long names are cached", () -> fs.log().contains("are cached for"));
        assumeThat(fs.log()).as("daemon log").contains("a transaction's begin has the kernel drop them");
    }

    @AfterEach
    void cleanTree() throws Exception {
        fs.sh("rm -rf ./*").ok();
    }

    /** How often the daemon was asked {@code request} (as libfuse logs it) for {@code path}. */
    static int requests(String request, String path) {
        return fs.logCount(request + " " + path + "\n");
    }

    @Test
    void namesAndDirectoryAttributesUsedSecondsAgoAreStillAnsweredByTheKernel() throws Exception {
        fs.sh("mkdir d && echo hello > d/f && stat d d/f > /dev/null").ok();
        int lookups = requests("LOOKUP", "/d/f");
        int directoryGetattrs = requests("getattr", "/d");
        assertThat(lookups).as("lookups of d/f so far").isPositive();
        assertThat(directoryGetattrs).as("getattrs of d so far").isPositive();

        Thread.sleep(3000); // three times what libfuse's default timeout would keep them

        assertThat(fs.sh("stat -c '%s %h' d/f; stat -c %F d").ok().stdout()).isEqualTo("6 1\ndirectory\n");
        assertThat(requests("LOOKUP", "/d/f")).as("lookups of d/f").isEqualTo(lookups);
        assertThat(requests("getattr", "/d")).as("getattrs of d").isEqualTo(directoryGetattrs);
    }

    /**
     * The kernel knows each name of a file as an inode of its own, so a new
     * link must make the first name's cached attributes stale. That holds for
     * a name the kernel dropped and looked up again since it was first cached
     * (the daemon forgets the old node with the kernel), and while the kernel
     * drops other files (forgetting their nodes, not this one's).
     */
    @Test
    void aNameLookedUpAgainAfterTheKernelDroppedItShowsWritesThroughANewLink() throws Exception {
        fs.sh("echo x > f && echo y > h && stat f h > /dev/null && echo 2 > /proc/sys/vm/drop_caches").ok();
        int lookups = requests("LOOKUP", "/f");

        String seen = fs.sh("exec 3< f; stat h > /dev/null; echo 2 > /proc/sys/vm/drop_caches;"
                + " ln f g && echo more >> g && stat -c '%s %h' f").ok().stdout();

        assertThat(requests("LOOKUP", "/f")).as("lookups of f once the kernel dropped it").isGreaterThan(lookups);
        assertThat(seen).as("size and links of f").isEqualTo("7 2\n");
    }

    /**
     * A write leaves the kernel unsure of a file's size, so the next stat asks
     * the daemon; its answer is then kept like a lookup's (a read past the end
     * of a small file, as cat makes, would otherwise ask again every time), and
     * a new link still makes it stale.
     */
    @Test
    void attributesAFileWasAskedForAreKeptUntilANewLinkChangesThem() throws Exception {
        // a second link, gone again, leaves f's kernel inode known only from the stat's answer
        fs.sh("echo x > f && ln f h && rm h && stat f > /dev/null").ok();
        int asked = requests("getattr", "/f");

        fs.sh("stat f > /dev/null && cat f > /dev/null && cat f > /dev/null && cat f > /dev/null").ok();
        assertThat(requests("getattr", "/f")).as("getattrs of f").isEqualTo(asked);

        fs.sh("ln f g && echo more >> g").ok();
        assertThat(fs.sh("stat -c '%s %h' f").ok().stdout()).as("size and links of f").isEqualTo("7 2\n");
    }

    /**
     * A listing brings the lookups of its subdirectories (READDIRPLUS), and
     * those of its files for a process that used the files of the directory it
     * listed before: a stat of such a file is then answered by the kernel. A
     * process that only lists, as find does, is not given lookups of files.
     */
    @Test
    void aListingBringsTheLookupsItsProcessUses() throws Exception {
        fs.sh("mkdir d e e/sub && for i in 1 2 3 4 5 6 7 8; do printf %0${i}d 0 > d/f$i; printf %0${i}d 0 > e/f$i;"
                + " done && echo 2 > /proc/sys/vm/drop_caches && sleep 0.5").ok(); // the kernel's forgets arrive
        int files = requests("LOOKUP", "/e/f7");
        int subdirs = requests("LOOKUP", "/e/sub");

        fs.sh("ls d e > /dev/null").ok();
        assertThat(requests("LOOKUP", "/e/sub")).as("lookups of e/sub made by listing e").isEqualTo(subdirs + 1);
        assertThat(requests("LOOKUP", "/e/f7")).as("lookups of e/f7 made by listing e").isEqualTo(files);

        fs.sh("echo 2 > /proc/sys/vm/drop_caches && sleep 0.5 && python3 -c \"import os\n"
                + "for n in os.listdir('d'): os.lstat('d/' + n)\n"
                + "os.listdir('e')\"").ok();
        int listed = requests("LOOKUP", "/e/f7");
        assertThat(listed).as("lookups of e/f7 made by listing e after using d's files").isEqualTo(files + 1);

        assertThat(fs.sh("stat -c %s e/f7 e/f3").ok().stdout()).isEqualTo("7\n3\n");
        assertThat(requests("LOOKUP", "/e/f7")).as("lookups of e/f7 made by its stat").isEqualTo(listed);
    }

    /**
     * Attributes that listings brought are each file's own, over a directory
     * whose listing takes many requests, and a new link still makes them stale.
     * The names and stats are read as a program walks a directory (scandir,
     * each entry's stat as it comes), so that the kernel keeps asking for
     * listings with lookups to the end.
     */
    @Test
    void attributesThatListingsBroughtAreEachFilesOwn() throws Exception {
        int files = 300;
        String prefix = "a-file-with-a-name-long-enough-to-fill-the-listing-sooner-";
        fs.sh("mkdir d && for i in $(seq 1 " + files + "); do printf %0${i}d 0 > d/" + prefix + "$i; done"
                + " && ln d/" + prefix + "5 d/second-name && chmod 600 d/" + prefix + "9"
                + " && echo 2 > /proc/sys/vm/drop_caches").ok();

        String walked = fs.sh("python3 -c \"import os\n"
                + "for e in os.scandir('d'):\n"
                + "    s = e.stat(follow_symlinks=False)\n"
                + "    print(e.name, s.st_size, s.st_nlink, oct(s.st_mode & 0o777))\" | sort").ok().stdout();

        java.util.List<String> expected = new java.util.ArrayList<>();
        for (int i = 1; i <= files; i++) {
            expected.add(prefix + i + " " + i + " " + (i == 5 ? 2 : 1) + " " + (i == 9 ? "0o600" : "0o644"));
        }
        expected.add("second-name 5 2 0o644");
        java.util.Collections.sort(expected);
        assertThat(walked.lines().toList()).isEqualTo(expected);

        String seen = fs.sh("ln d/" + prefix + "7 d/third-name && echo more >> d/third-name"
                + " && stat -c '%s %h' d/" + prefix + "7").ok().stdout();
        assertThat(seen).as("size and links of a listed file after a write through a new link").isEqualTo("12 2\n");
    }

    @Test
    void aTransactionsBeginMakesTheKernelAskAgainForNamesItHeld() throws Exception {
        fs.sh("mkdir d && echo hello > d/f && stat d/f > /dev/null").ok();
        int lookups = requests("LOOKUP", "/d/f");
        byte[] begin = "begin".getBytes(StandardCharsets.UTF_8);
        assertThat(Sys.setxattr(fs.root(), "user.sqliteos.tx", begin, 0)).isZero();
        try {
            fs.sh("stat d/f > /dev/null").ok();
            assertThat(requests("LOOKUP", "/d/f")).as("lookups of d/f after the begin").isGreaterThan(lookups);
        } finally {
            byte[] rollback = "rollback".getBytes(StandardCharsets.UTF_8);
            assertThat(Sys.setxattr(fs.root(), "user.sqliteos.tx", rollback, 0)).isZero();
        }
    }
}
