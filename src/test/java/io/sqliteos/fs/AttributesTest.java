package io.sqliteos.fs;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** chmod, chown, utimens, and the rules for set-ID bits. */
class AttributesTest extends FsTestBase {

    @Test
    void chmodChangesPermissionsAndCtimeOnly() throws Exception {
        writeFile("/f", bytes("x"));
        ageTimes("/f");
        long ctime = stat("/f").ctimeNs();
        tick();
        fs.chmod(ROOT, "/f", 04751);
        FileAttributes a = stat("/f");
        assertThat(a.mode()).isEqualTo(Mode.S_IFREG | 04751);
        assertThat(a.ctimeNs()).isGreaterThan(ctime);
        assertThat(a.mtimeNs()).isEqualTo(AGED_NS);
        fs.chmod(ROOT, "/f", Mode.S_IFDIR | 0600);
        assertThat(stat("/f").mode()).as("chmod cannot change the type").isEqualTo(Mode.S_IFREG | 0600);
    }

    @Test
    void onlyTheOwnerOrRootMayChmod() {
        fs.mkdir(ROOT, "/pub", 0777);
        fs.release(ALICE, fs.create(ALICE, "/pub/f", 0644, O_CREAT | O_WRONLY));
        assertErrno(Errno.EPERM, () -> fs.chmod(BOB, "/pub/f", 0777));
        fs.chmod(ALICE, "/pub/f", 0600);
        assertThat(stat("/pub/f").mode() & 07777).isEqualTo(0600);
    }

    @Test
    void anyoneWhoMayWriteMayDropSetIdBitsButChangeNothingElse() {
        // the kernel clears set-ID bits on behalf of a non-owner who writes or truncates
        fs.mkdir(ROOT, "/pub", 0777);
        fs.release(ALICE, fs.create(ALICE, "/pub/f", 0666, O_CREAT | O_WRONLY));
        fs.chmod(ALICE, "/pub/f", 06776);
        fs.chmod(BOB, "/pub/f", 02776);
        assertThat(stat("/pub/f").mode() & 07777).isEqualTo(02776);
        assertErrno(Errno.EPERM, () -> fs.chmod(BOB, "/pub/f", 00777));
        assertErrno(Errno.EPERM, () -> fs.chmod(BOB, "/pub/f", 06776));
        assertErrno(Errno.EPERM, () -> fs.chmod(BOB, "/pub/f", 02776));
        fs.chmod(BOB, "/pub/f", 0776);
        assertThat(stat("/pub/f").mode() & 07777).isEqualTo(0776);
    }

    @Test
    void chmodBySomeoneOutsideTheGroupDropsSetgid() {
        fs.mkdir(ROOT, "/pub", 0777);
        fs.release(ALICE, fs.create(ALICE, "/pub/f", 0644, O_CREAT | O_WRONLY));
        fs.chown(ROOT, "/pub/f", -1, 77);
        fs.chmod(ALICE, "/pub/f", 02755);
        assertThat(stat("/pub/f").mode() & 07777).isEqualTo(0755);
        fs.chmod(ROOT, "/pub/f", 02755);
        assertThat(stat("/pub/f").mode() & 07777).isEqualTo(02755);
    }

    @Test
    void chownByRootChangesOwnerAndClearsSetIdBits() throws Exception {
        writeFile("/f", bytes("x"));
        fs.chmod(ROOT, "/f", 06755);
        long ctime = stat("/f").ctimeNs();
        tick();
        fs.chown(ROOT, "/f", 1000, 2000);
        FileAttributes a = stat("/f");
        assertThat(a.uid()).isEqualTo(1000);
        assertThat(a.gid()).isEqualTo(2000);
        assertThat(a.mode() & 07777).isEqualTo(0755);
        assertThat(a.ctimeNs()).isGreaterThan(ctime);
        fs.chown(ROOT, "/f", -1, 3000);
        assertThat(stat("/f").uid()).isEqualTo(1000);
        assertThat(stat("/f").gid()).isEqualTo(3000);
        fs.chown(ROOT, "/f", 0xFFFFFFFFL, 0xFFFFFFFFL);
        assertThat(stat("/f").uid()).isEqualTo(1000);
    }

    @Test
    void setgidWithoutGroupExecuteIsMandatoryLockingAndSurvivesChown() {
        writeFile("/f", bytes("x"));
        fs.chmod(ROOT, "/f", 02644);
        fs.chown(ROOT, "/f", 5, 5);
        assertThat(stat("/f").mode() & 07777).isEqualTo(02644);
    }

    @Test
    void directoriesKeepSetIdBitsOnChown() {
        fs.mkdir(ROOT, "/d", 0755);
        fs.chmod(ROOT, "/d", 02755);
        fs.chown(ROOT, "/d", 1000, 1000);
        assertThat(stat("/d").mode() & 07777).isEqualTo(02755);
    }

    @Test
    void anOwnerMayChangeOnlyTheGroup() {
        fs.mkdir(ROOT, "/pub", 0777);
        fs.release(ALICE, fs.create(ALICE, "/pub/f", 0644, O_CREAT | O_WRONLY));
        assertErrno(Errno.EPERM, () -> fs.chown(ALICE, "/pub/f", BOB.uid(), -1));
        assertErrno(Errno.EPERM, () -> fs.chown(BOB, "/pub/f", -1, BOB.gid()));
        fs.chown(ALICE, "/pub/f", ALICE.uid(), 1000);
        assertThat(stat("/pub/f").uid()).isEqualTo(ALICE.uid());
    }

    @Test
    void writesAndTruncatesByOthersThanRootClearSetuid() {
        fs.mkdir(ROOT, "/pub", 0777);
        fs.release(ALICE, fs.create(ALICE, "/pub/f", 0666, O_CREAT | O_WRONLY));
        fs.chmod(ALICE, "/pub/f", 06777);
        long fh = fs.open(BOB, "/pub/f", O_WRONLY);
        fs.write(BOB, fh, bytes("x"), 1, 0);
        fs.release(BOB, fh);
        assertThat(stat("/pub/f").mode() & 07777).isEqualTo(0777);
        fs.chmod(ALICE, "/pub/f", 06777);
        fs.truncate(ALICE, "/pub/f", 0);
        assertThat(stat("/pub/f").mode() & 07777).isEqualTo(0777);
        fs.chmod(ROOT, "/pub/f", 06777);
        writeAt("/pub/f", 0, bytes("root"));
        assertThat(stat("/pub/f").mode() & 07777).as("root's writes keep the bits").isEqualTo(06777);
    }

    @Test
    void utimensSetsNanosecondTimesAndCtime() throws Exception {
        writeFile("/f", bytes("x"));
        long ctime = stat("/f").ctimeNs();
        tick();
        fs.utimens(ROOT, "/f", 1_234_567_890L, 123_456_789L, 987_654_321L, 1L);
        FileAttributes a = stat("/f");
        assertThat(a.atimeNs()).isEqualTo(1_234_567_890_123_456_789L);
        assertThat(a.mtimeNs()).isEqualTo(987_654_321_000_000_001L);
        assertThat(a.ctimeNs()).isGreaterThan(ctime);
    }

    @Test
    void utimensWithNowAndOmit() throws Exception {
        writeFile("/f", bytes("x"));
        ageTimes("/f");
        tick();
        fs.utimens(ROOT, "/f", 0, FileSystem.UTIME_OMIT, 0, FileSystem.UTIME_NOW);
        assertThat(stat("/f").atimeNs()).isEqualTo(AGED_NS);
        assertThat(stat("/f").mtimeNs()).isGreaterThan(AGED_NS);
        ageTimes("/f");
        fs.utimens(ROOT, "/f", 0, FileSystem.UTIME_NOW, 0, FileSystem.UTIME_OMIT);
        assertThat(stat("/f").atimeNs()).isGreaterThan(AGED_NS);
        assertThat(stat("/f").mtimeNs()).isEqualTo(AGED_NS);
        ageTimes("/f");
        long ctime = stat("/f").ctimeNs();
        tick();
        fs.utimens(ROOT, "/f", 0, FileSystem.UTIME_OMIT, 0, FileSystem.UTIME_OMIT);
        assertThat(stat("/f").ctimeNs()).as("omitting both changes nothing").isEqualTo(ctime);
        assertThat(stat("/f").mtimeNs()).isEqualTo(AGED_NS);
    }

    @Test
    void timesBeforeTheEpochAreKept() {
        writeFile("/f", bytes("x"));
        fs.utimens(ROOT, "/f", -1, 500_000_000L, -100, 0);
        assertThat(stat("/f").atimeNs()).isEqualTo(-500_000_000L);
        assertThat(stat("/f").mtimeNs()).isEqualTo(-100_000_000_000L);
    }

    @Test
    void utimensPermissions() {
        fs.mkdir(ROOT, "/pub", 0777);
        fs.release(ALICE, fs.create(ALICE, "/pub/shared", 0666, O_CREAT | O_WRONLY));
        fs.release(ALICE, fs.create(ALICE, "/pub/private", 0644, O_CREAT | O_WRONLY));
        fs.utimens(BOB, "/pub/shared", 0, FileSystem.UTIME_NOW, 0, FileSystem.UTIME_NOW);
        assertErrno(Errno.EPERM, () -> fs.utimens(BOB, "/pub/shared", 5, 0, 5, 0));
        assertErrno(Errno.EPERM, () -> fs.utimens(BOB, "/pub/shared", 0, FileSystem.UTIME_NOW, 0, FileSystem.UTIME_OMIT));
        assertErrno(Errno.EPERM, () -> fs.utimens(BOB, "/pub/shared", 0, FileSystem.UTIME_OMIT, 0, FileSystem.UTIME_NOW));
        fs.utimens(BOB, "/pub/private", 0, FileSystem.UTIME_OMIT, 0, FileSystem.UTIME_OMIT); // changes nothing
        assertErrno(Errno.EACCES, () -> fs.utimens(BOB, "/pub/private", 0, FileSystem.UTIME_NOW, 0, FileSystem.UTIME_NOW));
        fs.utimens(ALICE, "/pub/private", 5, 0, 5, 0);
        assertThat(stat("/pub/private").mtimeNs()).isEqualTo(5_000_000_000L);
    }

    @Test
    void accessFollowsOwnerGroupOtherBits() {
        fs.mkdir(ROOT, "/pub", 0777);
        fs.release(ALICE, fs.create(ALICE, "/pub/f", 0640, O_CREAT | O_WRONLY));
        fs.access(ALICE, "/pub/f", FileSystem.R_OK | FileSystem.W_OK);
        assertErrno(Errno.EACCES, () -> fs.access(BOB, "/pub/f", FileSystem.R_OK));
        fs.access(new Caller(1002, ALICE.gid(), 1), "/pub/f", FileSystem.R_OK);
        assertErrno(Errno.EACCES, () -> fs.access(ROOT, "/pub/f", FileSystem.X_OK));
        fs.access(ROOT, "/pub/f", FileSystem.R_OK | FileSystem.W_OK);
        fs.access(BOB, "/pub/f", 0);
        assertErrno(Errno.ENOENT, () -> fs.access(BOB, "/pub/none", 0));
    }
}
