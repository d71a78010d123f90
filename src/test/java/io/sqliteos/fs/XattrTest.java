package io.sqliteos.fs;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** Extended attributes: flags, namespaces, size limits and missing names. */
class XattrTest extends FsTestBase {

    @Test
    void setGetListRemove() throws Exception {
        writeFile("/f", bytes("x"));
        ageTimes("/f");
        long ctime = stat("/f").ctimeNs();
        tick();
        fs.setxattr(ROOT, "/f", "user.colour", bytes("blue"), 0);
        fs.setxattr(ROOT, "/f", "user.empty", new byte[0], 0);
        assertThat(stat("/f").ctimeNs()).isGreaterThan(ctime);
        assertThat(stat("/f").mtimeNs()).isEqualTo(AGED_NS);
        assertThat(fs.getxattr(ROOT, "/f", "user.colour")).isEqualTo(bytes("blue"));
        assertThat(fs.getxattr(ROOT, "/f", "user.empty")).isEmpty();
        assertThat(fs.listxattr(ROOT, "/f")).containsExactlyInAnyOrder("user.colour", "user.empty");
        fs.setxattr(ROOT, "/f", "user.colour", bytes("red"), 0);
        assertThat(fs.getxattr(ROOT, "/f", "user.colour")).isEqualTo(bytes("red"));
        fs.removexattr(ROOT, "/f", "user.colour");
        assertErrno(Errno.ENODATA, () -> fs.getxattr(ROOT, "/f", "user.colour"));
        assertErrno(Errno.ENODATA, () -> fs.removexattr(ROOT, "/f", "user.colour"));
        assertThat(fs.listxattr(ROOT, "/f")).containsExactly("user.empty");
        assertErrno(Errno.ENOENT, () -> fs.getxattr(ROOT, "/none", "user.x"));
    }

    @Test
    void createAndReplaceFlags() {
        writeFile("/f", bytes("x"));
        assertErrno(Errno.ENODATA, () -> fs.setxattr(ROOT, "/f", "user.a", bytes("1"), FileSystem.XATTR_REPLACE));
        fs.setxattr(ROOT, "/f", "user.a", bytes("1"), FileSystem.XATTR_CREATE);
        assertErrno(Errno.EEXIST, () -> fs.setxattr(ROOT, "/f", "user.a", bytes("2"), FileSystem.XATTR_CREATE));
        fs.setxattr(ROOT, "/f", "user.a", bytes("3"), FileSystem.XATTR_REPLACE);
        assertThat(fs.getxattr(ROOT, "/f", "user.a")).isEqualTo(bytes("3"));
    }

    @Test
    void sizeLimits() {
        writeFile("/f", bytes("x"));
        byte[] largest = new byte[FileSystem.XATTR_SIZE_MAX];
        largest[100] = 9;
        fs.setxattr(ROOT, "/f", "user.big", largest, 0);
        assertThat(fs.getxattr(ROOT, "/f", "user.big")).isEqualTo(largest);
        assertErrno(Errno.E2BIG, () -> fs.setxattr(ROOT, "/f", "user.huge", new byte[FileSystem.XATTR_SIZE_MAX + 1], 0));
        String longest = "user." + "n".repeat(FileSystem.XATTR_NAME_MAX - 5);
        fs.setxattr(ROOT, "/f", longest, bytes("v"), 0);
        assertThat(fs.listxattr(ROOT, "/f")).contains(longest);
        assertErrno(Errno.ERANGE, () -> fs.setxattr(ROOT, "/f", longest + "n", bytes("v"), 0));
        assertErrno(Errno.ERANGE, () -> fs.setxattr(ROOT, "/f", "", bytes("v"), 0));
    }

    @Test
    void namespaces() {
        writeFile("/f", bytes("x"));
        fs.symlink(ROOT, "f", "/l");
        fs.mknod(ROOT, "/fifo", Mode.S_IFIFO | 0666, 0);
        fs.setxattr(ROOT, "/f", "trusted.t", bytes("1"), 0);
        fs.setxattr(ROOT, "/f", "security.s", bytes("2"), 0);
        fs.setxattr(ROOT, "/l", "trusted.t", bytes("on the link"), 0);
        assertThat(fs.getxattr(ROOT, "/l", "trusted.t")).isEqualTo(bytes("on the link"));
        assertErrno(Errno.EPERM, () -> fs.setxattr(ROOT, "/l", "user.u", bytes("1"), 0));
        assertErrno(Errno.EPERM, () -> fs.setxattr(ROOT, "/fifo", "user.u", bytes("1"), 0));
        assertErrno(Errno.EOPNOTSUPP, () -> fs.setxattr(ROOT, "/f", "system.posix_acl_access", bytes("1"), 0));
        assertErrno(Errno.EOPNOTSUPP, () -> fs.setxattr(ROOT, "/f", "bogus.name", bytes("1"), 0));
        fs.mkdir(ROOT, "/pub", 0777);
        fs.release(ALICE, fs.create(ALICE, "/pub/g", 0644, O_CREAT | O_WRONLY));
        assertErrno(Errno.EPERM, () -> fs.setxattr(ALICE, "/pub/g", "trusted.t", bytes("1"), 0));
        fs.setxattr(ALICE, "/pub/g", "user.mine", bytes("1"), 0);
    }

    @Test
    void attributesGoWithTheInode() {
        writeFile("/f", bytes("x"));
        fs.setxattr(ROOT, "/f", "user.k", bytes("v"), 0);
        fs.link(ROOT, "/f", "/g");
        assertThat(fs.getxattr(ROOT, "/g", "user.k")).isEqualTo(bytes("v"));
        fs.rename(ROOT, "/g", "/h");
        assertThat(fs.getxattr(ROOT, "/h", "user.k")).isEqualTo(bytes("v"));
        fs.unlink(ROOT, "/f");
        fs.unlink(ROOT, "/h");
        writeFile("/f", bytes("x"));
        assertThat(fs.listxattr(ROOT, "/f")).isEmpty();
    }

    @Test
    void controlAttributesAreNeverStoredOrListed() {
        writeFile("/f", bytes("x"));
        assertErrno(Errno.EOPNOTSUPP, () -> fs.setxattr(ROOT, "/f", "user.sqliteos.unknown", bytes("1"), 0));
        assertErrno(Errno.EOPNOTSUPP, () -> fs.removexattr(ROOT, "/f", "user.sqliteos.tx"));
        byte[][] seen = new byte[1][];
        fs.registerVirtualAttribute("user.sqliteos.echo", new VirtualAttribute() {
            @Override
            public void set(Caller caller, String path, byte[] value) {
                seen[0] = value;
            }

            @Override
            public byte[] get(Caller caller, String path) {
                return seen[0];
            }
        });
        fs.setxattr(ROOT, "/f", "user.sqliteos.echo", bytes("hi"), 0);
        assertThat(fs.getxattr(ROOT, "/f", "user.sqliteos.echo")).isEqualTo(bytes("hi"));
        assertThat(fs.listxattr(ROOT, "/f")).isEmpty();
        assertErrno(Errno.ENOENT, () -> fs.setxattr(ROOT, "/none", "user.sqliteos.echo", bytes("x"), 0));
    }
}
