package io.sqliteos.it;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import jnr.ffi.LibraryLoader;
import jnr.ffi.annotations.Out;
import jnr.ffi.types.off_t;
import jnr.ffi.types.size_t;
import jnr.ffi.types.ssize_t;

/**
 * Direct system calls for the mounted tests, so a test can see the exact errno
 * (Java's file API folds many into one exception) and use calls Java lacks:
 * fallocate modes, xattr create/replace flags, mknod, O_EXCL/O_APPEND opens.
 * Each wrapper returns the call's result, or minus the errno on failure.
 */
public final class Sys {

    public static final int O_RDONLY = 0;
    public static final int O_WRONLY = 1;
    public static final int O_RDWR = 2;
    public static final int O_CREAT = 0100;
    public static final int O_EXCL = 0200;
    public static final int O_TRUNC = 01000;
    public static final int O_APPEND = 02000;
    public static final int O_DIRECTORY = 0200000;

    public static final int FALLOC_FL_KEEP_SIZE = 1;
    public static final int FALLOC_FL_PUNCH_HOLE = 2;
    public static final int FALLOC_FL_ZERO_RANGE = 0x10;
    public static final int XATTR_CREATE = 1;
    public static final int XATTR_REPLACE = 2;

    public static final int S_IFIFO = 0010000;
    public static final int S_IFCHR = 0020000;
    public static final int S_IFBLK = 0060000;
    public static final int S_IFSOCK = 0140000;
    public static final int S_IFREG = 0100000;

    public static final int EPERM = 1;
    public static final int ENOENT = 2;
    public static final int EBADF = 9;
    public static final int EACCES = 13;
    public static final int EEXIST = 17;
    public static final int EXDEV = 18;
    public static final int ENOTDIR = 20;
    public static final int EISDIR = 21;
    public static final int EINVAL = 22;
    public static final int EFBIG = 27;
    public static final int ENOSPC = 28;
    public static final int ERANGE = 34;
    public static final int ENAMETOOLONG = 36;
    public static final int ENOTEMPTY = 39;
    public static final int ENODATA = 61;
    public static final int E2BIG = 7;
    public static final int EOPNOTSUPP = 95;

    /** The subset of libc the tests call. */
    public interface LibC {
        int open(String path, int flags, int mode);

        int close(int fd);

        @ssize_t long pread(int fd, @Out byte[] buf, @size_t long count, @off_t long offset);

        @ssize_t long pwrite(int fd, byte[] buf, @size_t long count, @off_t long offset);

        @ssize_t long write(int fd, byte[] buf, @size_t long count);

        int ftruncate(int fd, @off_t long length);

        int fstat(int fd, @Out byte[] stat);

        int truncate(String path, @off_t long length);

        int fallocate(int fd, int mode, @off_t long offset, @off_t long length);

        int fsync(int fd);

        int posix_fadvise(int fd, @off_t long offset, @off_t long length, int advice);

        int mkdir(String path, int mode);

        int rmdir(String path);

        int unlink(String path);

        int rename(String from, String to);

        int link(String existing, String newPath);

        int symlink(String target, String linkPath);

        @ssize_t long readlink(String path, @Out byte[] buf, @size_t long size);

        int mknod(String path, int mode, long dev);

        int setxattr(String path, String name, byte[] value, @size_t long size, int flags);

        @ssize_t long getxattr(String path, String name, @Out byte[] value, @size_t long size);

        @ssize_t long listxattr(String path, @Out byte[] list, @size_t long size);

        int removexattr(String path, String name);

        jnr.ffi.Pointer opendir(String path);

        jnr.ffi.Pointer readdir(jnr.ffi.Pointer dir);

        int closedir(jnr.ffi.Pointer dir);

        long telldir(jnr.ffi.Pointer dir);

        void seekdir(jnr.ffi.Pointer dir, long position);

        void rewinddir(jnr.ffi.Pointer dir);
    }

    private static final LibC C = LibraryLoader.create(LibC.class).load("c");
    private static final jnr.ffi.Runtime RUNTIME = jnr.ffi.Runtime.getRuntime(C);

    private Sys() {}

    private static long check(long rc) {
        return rc < 0 ? -RUNTIME.getLastError() : rc;
    }

    private static String s(Path p) {
        return p.toString();
    }

    public static int open(Path p, int flags, int mode) {
        return (int) check(C.open(s(p), flags, mode));
    }

    public static int close(int fd) {
        return (int) check(C.close(fd));
    }

    public static long pwrite(int fd, byte[] data, long offset) {
        return check(C.pwrite(fd, data, data.length, offset));
    }

    public static long write(int fd, byte[] data) {
        return check(C.write(fd, data, data.length));
    }

    /** Reads up to {@code count} bytes; a negative errno becomes an AssertionError. */
    public static byte[] pread(int fd, int count, long offset) {
        byte[] buf = new byte[count];
        long n = check(C.pread(fd, buf, count, offset));
        if (n < 0) {
            throw new AssertionError("pread failed with errno " + -n);
        }
        return java.util.Arrays.copyOf(buf, (int) n);
    }

    /** What fstat(2) reports that the tests look at (x86-64 struct stat). */
    public record Stat(long ino, long nlink, int mode, long size) {}

    /** fstat(2) of a descriptor; a negative errno becomes an AssertionError. */
    public static Stat fstat(int fd) {
        byte[] buf = new byte[144];
        long rc = check(C.fstat(fd, buf));
        if (rc < 0) {
            throw new AssertionError("fstat failed with errno " + -rc);
        }
        java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(buf).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        return new Stat(b.getLong(8), b.getLong(16), b.getInt(24), b.getLong(48));
    }

    public static int ftruncate(int fd, long length) {
        return (int) check(C.ftruncate(fd, length));
    }

    public static int truncate(Path p, long length) {
        return (int) check(C.truncate(s(p), length));
    }

    public static int fallocate(int fd, int mode, long offset, long length) {
        return (int) check(C.fallocate(fd, mode, offset, length));
    }

    /** posix_fadvise(2)'s advice that the descriptor reads at random: the kernel reads no pages ahead. */
    public static final int POSIX_FADV_RANDOM = 1;

    /** posix_fadvise(2); returns 0 or an errno (it does not set errno). */
    public static int fadvise(int fd, long offset, long length, int advice) {
        return C.posix_fadvise(fd, offset, length, advice);
    }

    public static int fsync(int fd) {
        return (int) check(C.fsync(fd));
    }

    public static int mkdir(Path p, int mode) {
        return (int) check(C.mkdir(s(p), mode));
    }

    public static int rmdir(Path p) {
        return (int) check(C.rmdir(s(p)));
    }

    public static int unlink(Path p) {
        return (int) check(C.unlink(s(p)));
    }

    public static int rename(Path from, Path to) {
        return (int) check(C.rename(s(from), s(to)));
    }

    public static int link(Path existing, Path newPath) {
        return (int) check(C.link(s(existing), s(newPath)));
    }

    public static int symlink(String target, Path linkPath) {
        return (int) check(C.symlink(target, s(linkPath)));
    }

    public static String readlink(Path p) {
        byte[] buf = new byte[8192];
        long n = check(C.readlink(s(p), buf, buf.length));
        if (n < 0) {
            throw new AssertionError("readlink failed with errno " + -n);
        }
        return new String(buf, 0, (int) n, StandardCharsets.UTF_8);
    }

    public static int mknod(Path p, int mode, long dev) {
        return (int) check(C.mknod(s(p), mode, dev));
    }

    /** makedev(3) for the glibc encoding. */
    public static long makedev(long major, long minor) {
        return ((major & 0xfffff000L) << 32) | ((major & 0xfffL) << 8)
                | ((minor & 0xffffff00L) << 12) | (minor & 0xffL);
    }

    public static int setxattr(Path p, String name, byte[] value, int flags) {
        return (int) check(C.setxattr(s(p), name, value, value.length, flags));
    }

    /** The value, or null with the errno in {@code errno[0]}. */
    public static byte[] getxattr(Path p, String name, int[] errno) {
        byte[] buf = new byte[70000];
        long n = check(C.getxattr(s(p), name, buf, buf.length));
        if (n < 0) {
            errno[0] = (int) -n;
            return null;
        }
        return java.util.Arrays.copyOf(buf, (int) n);
    }

    /** getxattr's result with a buffer of the given size (0 asks for the length). */
    public static long getxattrSize(Path p, String name, int size) {
        return check(C.getxattr(s(p), name, new byte[Math.max(size, 1)], size));
    }

    public static int removexattr(Path p, String name) {
        return (int) check(C.removexattr(s(p), name));
    }

    /**
     * Each name readdir(3) returns in {@code p} (with . and ..) and its d_type, the type
     * the file system reported with the entry itself (DT_DIR 4, DT_REG 8, DT_LNK 10, ...;
     * 0 is DT_UNKNOWN), which tools such as find rely on instead of a stat.
     */
    public static java.util.Map<String, Integer> direntTypes(Path p) {
        java.util.Map<String, Integer> types = new java.util.TreeMap<>();
        dirents(p).forEach((name, e) -> types.put(name, e.type()));
        return types;
    }

    /** One entry as readdir(3) returns it: d_ino and d_type. */
    public record Dirent(long ino, int type) {}

    /** Each name readdir(3) returns in {@code p} (with . and ..), with its entry. */
    public static java.util.Map<String, Dirent> dirents(Path p) {
        jnr.ffi.Pointer dir = C.opendir(s(p));
        if (dir == null) {
            throw new AssertionError("opendir failed with errno " + RUNTIME.getLastError());
        }
        try {
            java.util.Map<String, Dirent> entries = new java.util.TreeMap<>();
            for (jnr.ffi.Pointer e = C.readdir(dir); e != null; e = C.readdir(dir)) {
                // glibc's struct dirent on 64-bit Linux: d_ino, d_off (8 bytes each), d_reclen (2), d_type, d_name
                entries.put(e.getString(19, 256, StandardCharsets.UTF_8), new Dirent(e.getLong(0), e.getByte(18) & 0xff));
            }
            return entries;
        } finally {
            C.closedir(dir);
        }
    }

    /** A directory open for readdir(3), telldir(3) and seekdir(3). */
    public static final class OpenDirectory implements AutoCloseable {
        private final jnr.ffi.Pointer dir;

        public OpenDirectory(Path p) {
            dir = C.opendir(s(p));
            if (dir == null) {
                throw new AssertionError("opendir failed with errno " + RUNTIME.getLastError());
            }
        }

        /** The next name, or null at the end. */
        public String next() {
            jnr.ffi.Pointer e = C.readdir(dir);
            return e == null ? null : e.getString(19, 256, StandardCharsets.UTF_8);
        }

        public long tell() {
            return C.telldir(dir);
        }

        public void seek(long position) {
            C.seekdir(dir, position);
        }

        public void rewind() {
            C.rewinddir(dir);
        }

        @Override
        public void close() {
            C.closedir(dir);
        }
    }

    /** Names from listxattr, in the order returned. */
    public static java.util.List<String> listxattr(Path p) {
        byte[] buf = new byte[65536];
        long n = check(C.listxattr(s(p), buf, buf.length));
        if (n < 0) {
            throw new AssertionError("listxattr failed with errno " + -n);
        }
        java.util.List<String> names = new java.util.ArrayList<>();
        int start = 0;
        for (int i = 0; i < n; i++) {
            if (buf[i] == 0) {
                names.add(new String(buf, start, i - start, StandardCharsets.UTF_8));
                start = i + 1;
            }
        }
        return names;
    }
}
