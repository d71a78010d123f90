package io.sqliteos.fuse;

import io.sqliteos.db.LentMemory;
import io.sqliteos.db.StoreException;
import io.sqliteos.fs.Caller;
import io.sqliteos.fs.DirEntry;
import io.sqliteos.fs.Errno;
import io.sqliteos.fs.FileAttributes;
import io.sqliteos.fs.FileSystem;
import io.sqliteos.fs.FsException;
import io.sqliteos.fs.FsStats;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.IntSupplier;
import jnr.ffi.Pointer;
import jnr.ffi.Runtime;
import jnr.ffi.Struct;
import jnr.ffi.types.dev_t;
import jnr.ffi.types.gid_t;
import jnr.ffi.types.mode_t;
import jnr.ffi.types.off_t;
import jnr.ffi.types.size_t;
import jnr.ffi.types.uid_t;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import ru.serce.jnrfuse.FuseCallbacks;
import ru.serce.jnrfuse.FuseFillDir;
import ru.serce.jnrfuse.FuseStubFS;
import ru.serce.jnrfuse.struct.FileStat;
import ru.serce.jnrfuse.struct.FuseContext;
import ru.serce.jnrfuse.struct.FuseFileInfo;
import ru.serce.jnrfuse.struct.Statvfs;
import ru.serce.jnrfuse.struct.Timespec;

/**
 * The jnr-fuse adapter: it turns each kernel request into a {@link FileSystem}
 * call and each outcome into a return code. No file-system rule lives here.
 * Every failure becomes a negative errno and a log line; nothing a client sends
 * can take the daemon down.
 */
public final class SqliteosFuse extends FuseStubFS {

    private static final Logger log = LoggerFactory.getLogger(SqliteosFuse.class);

    /** fuse_operations flag bits (a C bit-field): NULL paths for removed-but-open files, and UTIME_NOW/OMIT. */
    private static final byte FLAG_NULLPATH_OK = 1;
    private static final byte FLAG_UTIME_OMIT_OK = 1 << 2;

    /**
     * fuse_file_info's bit-field byte holding direct_io (bit 0) and keep_cache
     * (bit 1): in libfuse 2 it follows int flags, unsigned long fh_old and int
     * writepage, 4 bytes before fh. jnr-fuse's struct leaves writepage out, so
     * its direct_io member sits where writepage is; only fh is in its place.
     */
    private static final long FILE_INFO_BITS_OFFSET = memberOffset(FuseFileInfo.class, "fh") - 4;
    private static final byte DIRECT_IO_BIT = 1;
    private static final byte KEEP_CACHE_BIT = 1 << 1;

    /**
     * fuse_get_context(3) as a bare pointer. The adapter reads three fields of it
     * on every request; jnr-fuse's version builds a struct object each time.
     */
    public interface ContextCall {
        Pointer fuse_get_context();
    }

    private static final ContextCall CONTEXT = jnr.ffi.LibraryLoader.create(ContextCall.class).load("fuse");
    private static final long CONTEXT_UID = memberOffset(FuseContext.class, "uid");
    private static final long CONTEXT_GID = memberOffset(FuseContext.class, "gid");
    private static final long CONTEXT_PID = memberOffset(FuseContext.class, "pid");

    /** struct stat members, written straight into the reply buffer (x86-64 widths). */
    private static final long ST_INO = memberOffset(FileStat.class, "st_ino");
    private static final long ST_MODE = memberOffset(FileStat.class, "st_mode");
    private static final long ST_NLINK = memberOffset(FileStat.class, "st_nlink");
    private static final long ST_UID = memberOffset(FileStat.class, "st_uid");
    private static final long ST_GID = memberOffset(FileStat.class, "st_gid");
    private static final long ST_RDEV = memberOffset(FileStat.class, "st_rdev");
    private static final long ST_SIZE = memberOffset(FileStat.class, "st_size");
    private static final long ST_BLKSIZE = memberOffset(FileStat.class, "st_blksize");
    private static final long ST_BLOCKS = memberOffset(FileStat.class, "st_blocks");
    /** The three timespecs follow st_blocks, 16 bytes each. */
    private static final long ST_ATIM = ST_BLOCKS + 8;
    private static final long ST_MTIM = ST_ATIM + 16;
    private static final long ST_CTIM = ST_MTIM + 16;
    /** made_attrs.c's slot: an int32 set once the struct stat 8 bytes in is filled. */
    private static final long MADE_READY = 0;
    private static final long MADE_STAT = 8;

    private final NameCacheTimeouts nameCache;
    /** Set once, before the mount: the adapter is built while the database opens ({@link FuseMount}). */
    private volatile FileSystem fs;
    private volatile Runnable onServing;
    private final LongAdder requests = new LongAdder();

    SqliteosFuse(NameCacheTimeouts nameCache) {
        this.nameCache = nameCache;
        Struct.getMemory(fuseOperations).putByte(flagsOffset(), (byte) (FLAG_NULLPATH_OK | FLAG_UTIME_OMIT_OK));
        if (LibfuseShim.fillsDirectories()) {
            // in place of jnr-fuse's readdir callback: this one keeps the filler a bare address
            fuseOperations.readdir.set((FuseCallbacks.ReaddirCallback) (path, buf, filler, offset, fi) ->
                    readdirPacked(path, buf.address(), filler.address(), offset, FuseFileInfo.of(fi)));
        }
    }

    /** The file system to serve, and what to run once the kernel's first request has arrived. */
    void serve(FileSystem fs, Runnable onServing) {
        this.fs = fs;
        this.onServing = onServing;
    }

    /**
     * A copy of this adapter's fuse_operations in native memory, for libfuse:
     * jnr keeps the struct itself on the Java heap, and copies it likewise for
     * each call that passes it.
     */
    Pointer operationsInNativeMemory() {
        int size = Struct.size(fuseOperations);
        byte[] bytes = new byte[size];
        Struct.getMemory(fuseOperations).get(0, bytes, 0, size);
        Pointer copy = jnr.ffi.Memory.allocateDirect(Runtime.getSystemRuntime(), size);
        copy.put(0, bytes, 0, size);
        return copy;
    }

    /** Where the flag bit-field sits in fuse_operations. */
    private long flagsOffset() {
        return memberOffset(ru.serce.jnrfuse.struct.FuseOperations.class, "flag_nullpath_ok");
    }

    /** The byte offset of a jnr struct member, which jnr keeps non-public; measured on a scratch instance. */
    private static long memberOffset(Class<? extends Struct> type, String field) {
        try {
            var constructor = type.getDeclaredConstructor(Runtime.class);
            constructor.setAccessible(true);
            Struct scratch = constructor.newInstance(Runtime.getSystemRuntime());
            Object member = type.getField(field).get(scratch);
            java.lang.reflect.Method offset = Class.forName("jnr.ffi.Struct$Member").getDeclaredMethod("offset");
            offset.setAccessible(true);
            return (Long) offset.invoke(member);
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("cannot locate " + type.getSimpleName() + "." + field + " in this jnr-fuse", e);
        }
    }

    /**
     * While transactions are open, new handles use direct I/O: the kernel's page
     * cache is shared by every process, so uncommitted bytes must never enter it.
     */
    private void applyCachePolicy(Caller c, FuseFileInfo fi) {
        if (fs.directIo(c)) {
            setFileInfoBit(fi, DIRECT_IO_BIT);
        }
    }

    private static void setFileInfoBit(FuseFileInfo fi, byte bit) {
        Pointer info = Struct.getMemory(fi);
        info.putByte(FILE_INFO_BITS_OFFSET, (byte) (info.getByte(FILE_INFO_BITS_OFFSET) | bit));
    }

    @Override
    public Pointer init(Pointer conn) {
        nameCache.attach(getContext().fuse.get());
        Runnable r = onServing;
        if (r != null) {
            r.run();
        }
        return null;
    }

    @Override
    public void destroy(Pointer initResult) {
        nameCache.detach(); // libfuse frees its handle next: nothing may reach the kernel through it after this
    }

    private Caller caller() {
        Pointer ctx = CONTEXT.fuse_get_context();
        return new Caller(ctx.getInt(CONTEXT_UID), ctx.getInt(CONTEXT_GID), ctx.getInt(CONTEXT_PID));
    }

    /** How many requests the kernel has sent: how busy the mount is. */
    long requests() {
        return requests.sum();
    }

    /** Runs one request, mapping every failure to a negative errno and a log line. */
    private int run(String op, String path, IntSupplier body) {
        requests.increment();
        return answer(op, path, body);
    }

    /** EIO, looked up before any request: the answer when even reporting a failure fails. */
    private static final int EIO = Errno.EIO.number();

    /**
     * What the kernel is told: the body's result, or the negative errno of its
     * failure. Never throws: jnr answers a callback that throws with 0, which
     * for an OPEN is success with no handle, and every read through it then
     * fails with EBADF. So when the failure cannot even be logged (the logger
     * needs a class that can no longer be loaded, as when the jar was rewritten
     * under the daemon, or memory ran out) the answer is still EIO.
     */
    static int answer(String op, String path, IntSupplier body) {
        try {
            return body.getAsInt();
        } catch (Throwable failure) {
            try {
                return -reported(op, path, failure).number();
            } catch (Throwable reporting) {
                return -EIO;
            }
        }
    }

    /** The errno for a request's failure, with its log line. */
    private static Errno reported(String op, String path, Throwable failure) {
        if (failure instanceof FsException e) {
            if (log.isDebugEnabled()) {
                log.debug("{} {}: {}", op, path, e.getMessage());
            }
            return e.errno();
        }
        if (failure instanceof StoreException e) {
            Errno errno = switch (e.kind()) {
                case FULL -> Errno.ENOSPC;
                case BUSY -> Errno.EBUSY;
                case READ_ONLY -> Errno.EROFS;
                default -> Errno.EIO;
            };
            log.warn("{} {}: database {} error, returning {}: {}", op, path, e.kind(), errno, e.getMessage());
            return errno;
        }
        log.error("{} {}: internal error, returning EIO", op, path, failure);
        return Errno.EIO;
    }

    private static void fill(FileStat st, FileAttributes a) {
        fill(Struct.getMemory(st), 0, a);
    }

    /** Writes {@code a} as a struct stat at {@code base} of {@code m}. */
    private static void fill(Pointer m, long base, FileAttributes a) {
        m.putLong(base + ST_INO, a.ino());
        m.putInt(base + ST_MODE, a.mode());
        m.putLong(base + ST_NLINK, a.nlink());
        m.putInt(base + ST_UID, a.uid());
        m.putInt(base + ST_GID, a.gid());
        m.putLong(base + ST_RDEV, a.rdev());
        m.putLong(base + ST_SIZE, a.size());
        m.putLong(base + ST_BLKSIZE, 65536);
        m.putLong(base + ST_BLOCKS, a.blocks());
        putTime(m, base + ST_ATIM, a.atimeNs());
        putTime(m, base + ST_MTIM, a.mtimeNs());
        putTime(m, base + ST_CTIM, a.ctimeNs());
    }

    /**
     * Leaves the attributes of the node this thread's request has just made
     * for the getattr that libfuse runs next to answer it (made_attrs.c), so
     * that the request costs one call into the daemon instead of two. Call
     * only once the request has succeeded.
     */
    private static void leaveForReply(FileAttributes a) {
        long slot = LibfuseShim.madeAttributes();
        if (slot != 0) {
            Pointer m = Pointer.wrap(Runtime.getSystemRuntime(), slot);
            fill(m, MADE_STAT, a);
            m.putInt(MADE_READY, 1);
        }
    }

    /** A struct timespec: seconds, then nanoseconds, both 64 bits. */
    private static void putTime(Pointer m, long at, long ns) {
        m.putLong(at, Math.floorDiv(ns, 1_000_000_000L));
        m.putLong(at + 8, Math.floorMod(ns, 1_000_000_000L));
    }

    private static long fh(FuseFileInfo fi) {
        return fi == null ? 0 : fi.fh.get();
    }

    @Override
    public int getattr(String path, FileStat stat) {
        return run("getattr", path, () -> {
            fill(stat, fs.getattr(caller(), path));
            return 0;
        });
    }

    @Override
    public int fgetattr(String path, FileStat stat, FuseFileInfo fi) {
        return run("fgetattr", path, () -> {
            long fh = fh(fi);
            fill(stat, fh != 0 ? fs.fgetattr(caller(), fh, path) : fs.getattr(caller(), path));
            return 0;
        });
    }

    @Override
    public int access(String path, int mask) {
        return run("access", path, () -> {
            fs.access(caller(), path, mask);
            return 0;
        });
    }

    @Override
    public int readlink(String path, Pointer buf, @size_t long size) {
        return run("readlink", path, () -> {
            byte[] target = fs.readlink(caller(), path);
            int n = (int) Math.min(target.length, size - 1);
            buf.put(0, target, 0, n);
            buf.putByte(n, (byte) 0);
            return 0;
        });
    }

    @Override
    public int mknod(String path, @mode_t long mode, @dev_t long rdev) {
        return run("mknod", path, () -> {
            leaveForReply(fs.mknod(caller(), path, (int) mode, rdev));
            return 0;
        });
    }

    @Override
    public int mkdir(String path, @mode_t long mode) {
        return run("mkdir", path, () -> {
            leaveForReply(fs.mkdir(caller(), path, (int) mode));
            return 0;
        });
    }

    @Override
    public int unlink(String path) {
        return run("unlink", path, () -> {
            fs.unlink(caller(), path);
            return 0;
        });
    }

    @Override
    public int rmdir(String path) {
        return run("rmdir", path, () -> {
            fs.rmdir(caller(), path);
            return 0;
        });
    }

    @Override
    public int symlink(String target, String linkPath) {
        return run("symlink", linkPath, () -> {
            leaveForReply(fs.symlink(caller(), target, linkPath));
            return 0;
        });
    }

    @Override
    public int rename(String from, String to) {
        return run("rename", from, () -> {
            fs.rename(caller(), from, to);
            return 0;
        });
    }

    @Override
    public int link(String existing, String newPath) {
        return run("link", newPath, () -> {
            fs.link(caller(), existing, newPath);
            return 0;
        });
    }

    @Override
    public int chmod(String path, @mode_t long mode) {
        return run("chmod", path, () -> {
            fs.chmod(caller(), path, (int) mode);
            return 0;
        });
    }

    @Override
    public int chown(String path, @uid_t long uid, @gid_t long gid) {
        return run("chown", path, () -> {
            fs.chown(caller(), path, (int) uid, (int) gid);
            return 0;
        });
    }

    @Override
    public int truncate(String path, @off_t long size) {
        return run("truncate", path, () -> {
            fs.truncate(caller(), path, size);
            return 0;
        });
    }

    @Override
    public int ftruncate(String path, @off_t long size, FuseFileInfo fi) {
        return run("ftruncate", path, () -> {
            long fh = fh(fi);
            if (fh != 0) {
                fs.ftruncate(caller(), fh, size);
            } else {
                fs.truncate(caller(), path, size);
            }
            return 0;
        });
    }

    @Override
    public int utimens(String path, Timespec[] ts) {
        return run("utimens", path, () -> {
            fs.utimens(caller(), path, ts[0].tv_sec.get(), ts[0].tv_nsec.longValue(),
                    ts[1].tv_sec.get(), ts[1].tv_nsec.longValue());
            return 0;
        });
    }

    @Override
    public int create(String path, @mode_t long mode, FuseFileInfo fi) {
        return run("create", path, () -> {
            Caller c = caller();
            FileSystem.Created created = fs.createFile(c, path, (int) mode, fi.flags.get());
            fi.fh.set(created.fh());
            applyCachePolicy(c, fi);
            leaveForReply(created.attributes());
            return 0;
        });
    }

    @Override
    public int open(String path, FuseFileInfo fi) {
        return run("open", path, () -> {
            Caller c = caller();
            OpenedPages pages = OpenedPages.forOpen();
            fi.fh.set(fs.open(c, path, fi.flags.get(), pages));
            if (pages != null && pages.stored()) {
                setFileInfoBit(fi, KEEP_CACHE_BIT); // the kernel's pages are the whole file as of now: keep them
            } else {
                applyCachePolicy(c, fi);
            }
            return 0;
        });
    }

    @Override
    public int read(String path, Pointer buf, @size_t long size, @off_t long offset, FuseFileInfo fi) {
        return run("read", path, () -> {
            if (size >= LENT_READ_BYTES && LentMemory.available()) {
                // through io_uring, straight into the ring's buffer, which the reply then sends as it is
                long ring = LibfuseShim.uringReadBuffer(size);
                LentMemory.lend(ring != 0 ? ring : buf.address(), size);
                try {
                    return fs.readIntoLent(caller(), fh(fi), (int) size, offset);
                } finally {
                    LentMemory.takeBack();
                }
            }
            byte[] data = requestBuffer(size);
            int n = fs.read(caller(), fh(fi), data, (int) size, offset, BlockNeighbourPages.forRead());
            buf.put(0, data, 0, n);
            return n;
        });
    }

    @Override
    public int write(String path, Pointer buf, @size_t long size, @off_t long offset, FuseFileInfo fi) {
        return run("write", path, () -> {
            if (size >= LENT_WRITE_BYTES && LentMemory.available()) {
                LentMemory.lend(buf.address(), size);
                try {
                    return fs.writeFromLent(caller(), fh(fi), (int) size, offset, () -> bytesOf(buf, size));
                } finally {
                    LentMemory.takeBack();
                }
            }
            return fs.write(caller(), fh(fi), bytesOf(buf, size), (int) size, offset);
        });
    }

    /**
     * Reads from this size up go from SQLite straight into the request's buffer
     * (lent to SQL), not through arrays: a large read's bytes were copied three
     * times in Java. A small one is a block or part of one, which the array
     * path serves with a simpler query.
     */
    private static final long LENT_READ_BYTES = 32 * 1024;
    /** Writes from this size up cover whole blocks, which SQLite takes straight from the request's buffer. */
    private static final long LENT_WRITE_BYTES = 32 * 1024;

    /**
     * Each FUSE thread's buffer for the data of one read or write, which the
     * file system never keeps. It grows to the largest request the thread has
     * served, up to {@link FuseMount#MAX_REQUEST_BYTES}: a thread that serves
     * only small ones keeps a small one.
     */
    private static final ThreadLocal<byte[]> REQUEST_BUFFERS = ThreadLocal.withInitial(() -> new byte[128 * 1024]);

    /** The {@code size} bytes of a write's request, in this thread's buffer. */
    private static byte[] bytesOf(Pointer buf, long size) {
        byte[] data = requestBuffer(size);
        buf.get(0, data, 0, (int) size);
        return data;
    }

    private static byte[] requestBuffer(long size) {
        byte[] b = REQUEST_BUFFERS.get();
        if (size <= b.length) {
            return b;
        }
        b = new byte[(int) size];
        if (size <= FuseMount.MAX_REQUEST_BYTES) {
            REQUEST_BUFFERS.set(b);
        }
        return b;
    }

    @Override
    public int flush(String path, FuseFileInfo fi) {
        // Every write is already in the database; ENOSYS tells the kernel to stop sending FLUSH at each close.
        return -Errno.ENOSYS.number();
    }

    @Override
    public int release(String path, FuseFileInfo fi) {
        return run("release", path, () -> {
            fs.release(caller(), fh(fi));
            return 0;
        });
    }

    @Override
    public int fsync(String path, int isdatasync, FuseFileInfo fi) {
        return run("fsync", path, () -> {
            fs.fsync(caller(), fh(fi));
            return 0;
        });
    }

    @Override
    public int fallocate(String path, int mode, @off_t long offset, @off_t long length, FuseFileInfo fi) {
        return run("fallocate", path, () -> {
            fs.fallocate(caller(), fh(fi), mode, offset, length);
            return 0;
        });
    }

    @Override
    public int statfs(String path, Statvfs st) {
        return run("statfs", path, () -> {
            FsStats s = fs.statfs(caller());
            st.f_bsize.set(s.blockSize());
            st.f_frsize.set(s.blockSize());
            st.f_blocks.set(s.totalBlocks());
            st.f_bfree.set(s.freeBlocks());
            st.f_bavail.set(s.freeBlocks());
            st.f_files.set(s.totalInodes());
            st.f_ffree.set(s.freeInodes());
            st.f_favail.set(s.freeInodes());
            st.f_namemax.set(s.nameMax());
            return 0;
        });
    }

    @Override
    public int opendir(String path, FuseFileInfo fi) {
        return run("opendir", path, () -> {
            fi.fh.set(fs.opendir(caller(), path));
            return 0;
        });
    }

    /**
     * Lists a directory into libfuse's buffer from {@code offset} on, many
     * entries per native call ({@link DirectoryFill}), each with its offset:
     * libfuse then asks again for each next part, and an empty part ends the
     * listing.
     */
    private int readdirPacked(String path, long buf, long filler, long offset, FuseFileInfo fi) {
        return run("readdir", path, () -> {
            fs.readdir(caller(), path, fh(fi), offset, DirectoryFill.begin(filler, buf));
            return 0;
        });
    }

    /** readdir one entry per native call: where the libfuse shim is not loaded. */
    @Override
    public int readdir(String path, Pointer buf, FuseFillDir filler, @off_t long offset, FuseFileInfo fi) {
        return run("readdir", path, () -> {
            List<DirEntry> entries = fs.readdir(caller(), path, fh(fi));
            FileStat st = new FileStat(Runtime.getSystemRuntime());
            Pointer stMemory = Struct.getMemory(st);
            // direct, so jnr passes its address instead of copying each name into a temporary
            ByteBuffer cName = ByteBuffer.allocateDirect(FileSystem.NAME_MAX + 1);
            for (DirEntry e : entries) {
                stMemory.putLong(ST_INO, e.ino());
                stMemory.putInt(ST_MODE, e.mode());
                byte[] name = e.name().getBytes(StandardCharsets.UTF_8);
                if (name.length >= cName.capacity()) {
                    cName = ByteBuffer.allocateDirect(name.length + 1); // names are checked when made: only for safety
                }
                cName.clear();
                cName.put(name).put((byte) 0).flip();
                // offset 0: libfuse keeps the whole listing, so a large directory is read once
                if (filler.apply(buf, cName, stMemory, 0) != 0) {
                    break;
                }
            }
            return 0;
        });
    }

    @Override
    public int releasedir(String path, FuseFileInfo fi) {
        return run("releasedir", path, () -> {
            fs.releasedir(caller(), fh(fi));
            return 0;
        });
    }

    @Override
    public int fsyncdir(String path, FuseFileInfo fi) {
        return 0;
    }

    @Override
    public int setxattr(String path, String name, Pointer value, @size_t long size, int flags) {
        return run("setxattr", path, () -> {
            byte[] v = new byte[(int) Math.min(size, FileSystem.XATTR_SIZE_MAX + 1L)];
            value.get(0, v, 0, v.length);
            fs.setxattr(caller(), path, name, v, flags);
            return 0;
        });
    }

    @Override
    public int getxattr(String path, String name, Pointer value, @size_t long size) {
        return run("getxattr", path, () -> {
            byte[] v = fs.getxattr(caller(), path, name);
            return copyOut(v, value, size);
        });
    }

    @Override
    public int listxattr(String path, Pointer list, @size_t long size) {
        return run("listxattr", path, () -> {
            ByteBuffer names = ByteBuffer.allocate(65536);
            for (String n : fs.listxattr(caller(), path)) {
                byte[] b = n.getBytes(StandardCharsets.UTF_8);
                if (names.remaining() < b.length + 1) {
                    throw new FsException(Errno.E2BIG, "attribute list too long");
                }
                names.put(b).put((byte) 0);
            }
            byte[] out = new byte[names.position()];
            names.flip().get(out);
            return copyOut(out, list, size);
        });
    }

    /** The xattr size protocol: size 0 asks for the length; too small a buffer is ERANGE. */
    private static int copyOut(byte[] v, Pointer dst, long size) {
        if (size == 0) {
            return v.length;
        }
        if (size < v.length) {
            throw new FsException(Errno.ERANGE, "buffer of " + size + " bytes is too small for " + v.length);
        }
        dst.put(0, v, 0, v.length);
        return v.length;
    }

    @Override
    public int removexattr(String path, String name) {
        return run("removexattr", path, () -> {
            fs.removexattr(caller(), path, name);
            return 0;
        });
    }
}
