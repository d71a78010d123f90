package io.sqliteos.it;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;

/**
 * The operations as unprivileged users (no supplementary groups): what ext4
 * denies is denied with the same error, what it allows works, and set-ID bits
 * are dropped the way the kernel drops them on ext4.
 */
class PermissionsIT {

    static final int ALICE = 2001;
    static final int BOB = 2002;

    static MountedFs fs;
    String dir;

    @BeforeAll
    static void mount() throws Exception {
        fs = MountedFs.start("--size", "64M");
    }

    @AfterAll
    static void unmount() {
        fs.close();
    }

    @BeforeEach
    void ownDirectory(TestInfo test) throws Exception {
        dir = test.getTestMethod().orElseThrow().getName();
        fs.sh("mkdir -m 1777 " + dir).ok();
    }

    private MountedFs.Result alice(String script) throws Exception {
        return fs.shAs(ALICE, ALICE, "cd " + dir + " && " + script);
    }

    private MountedFs.Result bob(String script) throws Exception {
        return fs.shAs(BOB, BOB, "cd " + dir + " && " + script);
    }

    private String root(String script) throws Exception {
        return fs.sh("cd " + dir + " && " + script).ok().stdout().trim();
    }

    @Test
    void othersFilesAndDirectoriesAreProtected() throws Exception {
        root("mkdir -m 755 locked && echo secret > locked/file && chmod 644 locked/file"
                + " && echo private > mine-only && chmod 600 mine-only"
                + " && mkdir -m 700 closed && touch closed/inside");
        assertThat(alice("cat locked/file").ok().stdout()).isEqualTo("secret\n");
        assertThat(alice("echo x >> locked/file").stderr()).contains("Permission denied");
        assertThat(alice(": > locked/file").stderr()).contains("Permission denied");
        assertThat(alice("truncate -s 0 locked/file").stderr()).contains("Permission denied");
        assertThat(alice("touch locked/new").stderr()).contains("Permission denied");
        assertThat(alice("mkdir locked/sub").stderr()).contains("Permission denied");
        assertThat(alice("rm -f locked/file").stderr()).contains("Permission denied");
        assertThat(alice("mv locked/file locked/moved").stderr()).contains("Permission denied");
        assertThat(alice("mv locked/file stolen").stderr()).contains("Permission denied");
        assertThat(alice("touch own && ln own locked/hard").stderr()).contains("Permission denied");
        assertThat(alice("ln -s x locked/sym").stderr()).contains("Permission denied");
        assertThat(alice("mkfifo locked/fifo").stderr()).contains("Permission denied");
        assertThat(alice("chmod 666 locked/file").stderr()).contains("Operation not permitted");
        assertThat(alice("chown " + ALICE + " locked/file").stderr()).contains("Operation not permitted");
        assertThat(alice("chgrp " + ALICE + " locked/file").stderr()).contains("Operation not permitted");
        assertThat(alice("touch -c -d @5 locked/file").stderr()).contains("Operation not permitted");
        assertThat(alice("touch locked/file").stderr()).contains("Permission denied");
        assertThat(alice("setfattr -n user.x -v 1 locked/file").stderr()).contains("Permission denied");
        assertThat(alice("setfattr -n trusted.x -v 1 locked/file").stderr()).contains("Operation not permitted");
        assertThat(alice("cat mine-only").stderr()).contains("Permission denied");
        assertThat(alice("ls closed").stderr()).contains("Permission denied");
        assertThat(alice("stat closed/inside").stderr()).contains("Permission denied");
        assertThat(alice("cat closed/inside").stderr()).contains("Permission denied");
        assertThat(alice("rmdir closed").stderr()).contains("Operation not permitted"); // sticky parent
        // nothing changed
        assertThat(root("cat locked/file; stat -c '%a %u %g' locked/file; ls locked; ls closed"))
                .isEqualTo("secret\n644 0 0\nfile\ninside");
        assertThat(root("ls")).isEqualTo("closed\nlocked\nmine-only\nown");
    }

    @Test
    void ownFilesCanBeManagedFully() throws Exception {
        MountedFs.Result r = alice("set -e; mkdir d; echo one > d/f; echo two >> d/f; chmod 640 d/f; chgrp " + ALICE
                + " d/f; setfattr -n user.note -v hi d/f; ln d/f d/hard;"
                + " ln -s f d/sym; mkfifo d/fifo; mv d/hard d/renamed; truncate -s 3 d/f;"
                + " touch -d '2001-02-03 04:05:06.7' d/f;"
                + " mkdir d/sub; rmdir d/sub; stat -c '%a %u %g %h %s %y' d/f; getfattr --only-values -n user.note d/renamed;"
                + " echo; readlink d/sym; stat -c %F d/fifo");
        assertThat(r.ok().stdout()).isEqualTo(
                "640 2001 2001 2 3 2001-02-03 04:05:06.700000000 +0000\nhi\nf\nfifo\n");
        assertThat(root("stat -c '%u %g' d d/sym d/fifo")).isEqualTo("2001 2001\n2001 2001\n2001 2001");
        // the error cases are the same for a user as for root
        String tooLong = "n".repeat(256);
        assertThat(alice("touch d/" + tooLong).stderr()).contains("File name too long");
        assertThat(alice("mkdir d/" + tooLong).stderr()).contains("File name too long");
        assertThat(alice("getfattr -n user.none d/f").stderr()).contains("No such attribute");
        assertThat(alice("rmdir d").stderr()).contains("Directory not empty");
        assertThat(alice("mkdir d").stderr()).contains("File exists");
        assertThat(alice("perl -e 'rename(\"d\", \"d/inside\") or die \"$!\\n\"'").stderr()).contains("Invalid argument");
        assertThat(alice("cat d/missing").stderr()).contains("No such file or directory");
        assertThat(alice("head -c 100 /dev/zero > d/big && truncate -s 2M d/big && stat -c %s d/big").ok().stdout())
                .isEqualTo("2097152\n");
        assertThat(alice("rm -r d && ls").ok().stdout()).isEmpty();
    }

    @Test
    void stickyDirectoryProtectsOtherUsersNames() throws Exception {
        alice("echo a > alices && chmod 666 alices").ok();
        assertThat(bob("rm -f alices").stderr()).contains("Operation not permitted");
        assertThat(bob("mv alices bobs").stderr()).contains("Operation not permitted");
        assertThat(bob("echo b > bobs && mv bobs alices").stderr()).contains("Operation not permitted");
        // the file itself is writable by everyone: a write is not a removal
        bob("echo b >> alices").ok();
        assertThat(root("cat alices")).isEqualTo("a\nb");
        alice("rm alices").ok();
    }

    @Test
    void devicesAndTrustedAttributesNeedRoot() throws Exception {
        assertThat(alice("mknod dev c 1 3").stderr()).contains("Operation not permitted");
        assertThat(alice("mknod blk b 8 0").stderr()).contains("Operation not permitted");
        alice("touch f").ok();
        assertThat(alice("setfattr -n trusted.x -v 1 f").stderr()).contains("Operation not permitted");
        assertThat(root("ls")).isEqualTo("f");
    }

    @Test
    void writeAndTruncateByNonRootClearSetIdBits() throws Exception {
        alice("echo x > f && chmod 6755 f").ok();
        assertThat(root("stat -c %a f")).isEqualTo("6755");
        alice("echo more >> f").ok();
        assertThat(root("stat -c %a f")).isEqualTo("755");
        alice("chmod 6755 f && truncate -s 1 f").ok();
        assertThat(root("stat -c %a f")).isEqualTo("755");
        alice("chmod 6755 f && echo replaced > f").ok(); // open with O_TRUNC
        assertThat(root("stat -c %a f")).isEqualTo("755");
        alice("chmod 6755 f && fallocate -l 1M f").ok();
        assertThat(root("stat -c %a f")).isEqualTo("755");
        alice("chmod 6755 f && fallocate -p -o 0 -l 4096 f").ok();
        assertThat(root("stat -c %a f")).isEqualTo("755");
        // changing an attribute is not a change of contents
        alice("chmod 6755 f && setfattr -n user.a -v 1 f").ok();
        assertThat(root("stat -c %a f")).isEqualTo("6755");
        // set-group-ID without group execute is not a privilege: it stays
        alice("chmod 2745 f && echo again >> f").ok();
        assertThat(root("stat -c %a f")).isEqualTo("2745");
        // root keeps the bits when it writes
        root("chmod 6755 f && echo root >> f");
        assertThat(root("stat -c %a f")).isEqualTo("6755");
    }

    @Test
    void chownByNonRootClearsSetIdBits() throws Exception {
        root("echo x > f && chown " + ALICE + ":999 f && chmod 6755 f");
        alice("chgrp " + ALICE + " f").ok();
        assertThat(root("stat -c '%a %u %g' f")).isEqualTo("755 2001 2001");
        // a group the caller is not in is refused
        assertThat(alice("chgrp 999 f").stderr()).contains("Operation not permitted");
        // the owner cannot set set-group-ID for a group it is not in: the bit is dropped
        root("chgrp 999 f");
        alice("chmod 2755 f").ok();
        assertThat(root("stat -c %a f")).isEqualTo("755");
    }

    @Test
    void writeThroughDescriptorOpenedBeforeLosingWritePermissionStillWorks() throws Exception {
        root("touch f && chmod 666 f");
        // alice opens f for appending; root then takes write permission away and sets set-ID bits
        String waitFor = "for i in $(seq 200); do [ -e %s ] && break; sleep 0.05; done";
        root("true; setpriv --reuid=" + ALICE + " --regid=" + ALICE + " --clear-groups bash -c"
                + " 'exec 3>>f && touch opened && " + waitFor.formatted("go") + " && echo data >&3' & "
                + waitFor.formatted("opened") + "; chmod 6755 f && touch go && wait $!");
        assertThat(root("cat f")).isEqualTo("data");
        assertThat(root("stat -c %a f")).isEqualTo("755");
    }

    @Test
    void chownToNoOwnerAndNoGroupDropsSetIdBitsAsLinuxDoes() throws Exception {
        // "chown : f" is chown(f, -1, -1): it changes nothing but a non-directory's set-ID bits
        root("echo x > f && chown " + ALICE + " f && chmod 6755 f && mkdir -m 2755 d && chown " + ALICE + " d");
        assertThat(bob("chown : f").stderr()).contains("Operation not permitted");
        assertThat(root("stat -c %a f")).isEqualTo("6755");
        alice("chown : f && chown : d").ok();
        assertThat(root("stat -c %a f d")).isEqualTo("755\n2755");
        root("chmod 6755 f && chown : f");
        assertThat(root("stat -c %a f")).isEqualTo("755");
        // with no bits to drop it changes nothing, and anyone may call it
        bob("chown : f").ok();
        assertThat(root("stat -c '%a %u' f")).isEqualTo("755 " + ALICE);
    }

    @Test
    void writesAndTruncatesRemoveFileCapabilities() throws Exception {
        String netRaw = "0x0100000200200000000000000000000000000000"; // cap_net_raw, permitted and effective
        String absent = "cd " + dir + " && getfattr -n security.capability f";
        root("echo x > f && setfattr -n security.capability -v " + netRaw + " f && echo more >> f");
        assertThat(fs.sh(absent).stderr()).contains("No such attribute");
        root("setfattr -n security.capability -v " + netRaw + " f && echo again >> f");
        assertThat(fs.sh(absent).stderr()).contains("No such attribute");
        root("setfattr -n security.capability -v " + netRaw + " f && truncate -s 1 f");
        assertThat(fs.sh(absent).stderr()).contains("No such attribute");
        // an attribute change is not a write: it stays
        root("setfattr -n security.capability -v " + netRaw + " f && setfattr -n user.a -v 1 f");
        assertThat(root("getfattr --only-values -n user.a f")).isEqualTo("1");
        assertThat(fs.sh(absent).ok().stdout()).contains("security.capability");
    }

    @Test
    void setGroupIdDirectoryPassesItsGroupOn() throws Exception {
        root("mkdir -m 2777 shared && chgrp 777 shared");
        alice("touch shared/file && mkdir shared/sub").ok();
        assertThat(root("stat -c '%u %g %a' shared/file shared/sub"))
                .isEqualTo("2001 777 644\n2001 777 2755");
    }

    @Test
    void timesAndAccessChecksOnOthersWritableFile() throws Exception {
        root("echo x > open && chmod 666 open && touch -d @1000 open");
        // write access is enough to set the times to now, not to a chosen time
        alice("touch open").ok();
        assertThat(Long.parseLong(root("stat -c %Y open"))).isGreaterThan(1000L);
        assertThat(alice("touch -d @5 open").stderr()).contains("Operation not permitted");
        assertThat(alice("test -w open && test -r open && ! test -x open && echo ok").ok().stdout()).isEqualTo("ok\n");
        root("chmod 604 open");
        assertThat(alice("test -w open || echo ro").ok().stdout()).isEqualTo("ro\n");
        // the group class applies to members even when other would allow more
        root("chown 0:" + ALICE + " open && chmod 606 open");
        assertThat(alice("cat open").stderr()).contains("Permission denied");
        assertThat(bob("cat open").ok().stdout()).isEqualTo("x\n");
    }
}
