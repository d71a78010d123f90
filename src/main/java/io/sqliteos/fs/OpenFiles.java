package io.sqliteos.fs;

import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The table of open file handles. It also counts opens per inode, because an
 * unlinked file keeps its data until its last handle closes.
 */
final class OpenFiles {

    /** One open(2) of an inode. */
    record Handle(long fh, long ino, int flags) {
        boolean append() {
            return (flags & O_APPEND) != 0;
        }

        boolean writable() {
            return (flags & O_ACCMODE) != O_RDONLY;
        }

        boolean readable() {
            return (flags & O_ACCMODE) != O_WRONLY;
        }

        boolean directory() {
            return (flags & O_DIRECTORY) != 0;
        }
    }

    static final int O_ACCMODE = 03;
    static final int O_RDONLY = 0;
    static final int O_WRONLY = 01;
    static final int O_CREAT = 0100;
    static final int O_EXCL = 0200;
    static final int O_TRUNC = 01000;
    static final int O_APPEND = 02000;
    static final int O_DIRECT = 040000;
    static final int O_DIRECTORY = 0200000;

    private final AtomicLong nextFh = new AtomicLong(1);
    private final ConcurrentHashMap<Long, Handle> handles = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<Long, Integer> opensPerInode = new ConcurrentHashMap<>();
    /** Of those, the handles that may write. */
    private final ConcurrentHashMap<Long, Integer> writersPerInode = new ConcurrentHashMap<>();
    /** Orders the opens of one inode (by hash) against {@link #openAlone}'s and {@link #aloneIfUnchanged}'s work. */
    private final ReentrantLock[] inodeLocks = new ReentrantLock[64];
    /**
     * Per lock, how many writable opens it has seen: a content change needs
     * one (a truncation by name opens the file for writing too), so an
     * unchanged count means the inodes behind the lock kept their content.
     */
    private final AtomicLongArray writableOpens = new AtomicLongArray(64);
    /** Inodes without names that open handles keep alive. */
    private final java.util.Set<Long> unlinkedWhileOpen = ConcurrentHashMap.newKeySet();

    OpenFiles() {
        for (int i = 0; i < inodeLocks.length; i++) {
            inodeLocks[i] = new ReentrantLock();
        }
    }

    Handle open(long ino, int flags) {
        ReentrantLock lock = inodeLock(ino);
        lock.lock();
        try {
            return register(ino, flags);
        } finally {
            lock.unlock();
        }
    }

    /**
     * Opens a directory. Its handle does not keep the directory alive once
     * removed: the kernel refuses to list a removed directory by itself, and
     * it does not tell the daemon when it closes a directory it opened without
     * asking (unopened_dirs.c), so such a handle may stay open a while.
     */
    Handle openDirectory(long ino) {
        Handle h = new Handle(nextFh.getAndIncrement(), ino, O_RDONLY | O_DIRECTORY);
        handles.put(h.fh(), h);
        return h;
    }

    /**
     * Opens, and if no handle of the inode may write it, runs {@code alone}
     * before any other open of the inode can return: while it runs, nobody can
     * change the file's content (a write needs a writable handle).
     */
    Handle openAlone(long ino, int flags, Runnable alone) {
        ReentrantLock lock = inodeLock(ino);
        lock.lock();
        try {
            Handle h = register(ino, flags);
            if (!hasWriters(ino)) {
                alone.run();
            }
            return h;
        } finally {
            lock.unlock();
        }
    }

    /**
     * Whether a handle may write the inode now. For a store of pages only a
     * hint, which {@link #aloneIfUnchanged} settles under the inode's lock.
     */
    boolean hasWriters(long ino) {
        return writersPerInode.containsKey(ino);
    }

    /**
     * A mark to hand to {@link #aloneIfUnchanged} later: take it before
     * reading content that is to reach the kernel's page cache.
     */
    long changeMark(long ino) {
        return writableOpens.get(lockIndex(ino));
    }

    /**
     * Runs {@code alone} if no handle of the inode may write it and none could
     * since {@link #changeMark} gave {@code mark}: the content read since then
     * is still the file's, and stays so while {@code alone} runs (an open
     * waits). Skips it (false) too when another thread holds the inode's lock:
     * the caller may be storing pages that the kernel holds locked for a read
     * that the other thread serves, and the other thread the reverse.
     */
    boolean aloneIfUnchanged(long ino, long mark, Runnable alone) {
        ReentrantLock lock = inodeLock(ino);
        if (!lock.tryLock()) {
            return false;
        }
        try {
            if (hasWriters(ino) || writableOpens.get(lockIndex(ino)) != mark) {
                return false;
            }
            alone.run();
            return true;
        } finally {
            lock.unlock();
        }
    }

    private ReentrantLock inodeLock(long ino) {
        return inodeLocks[lockIndex(ino)];
    }

    private static int lockIndex(long ino) {
        return (int) ((ino * 0x9E3779B97F4A7C15L) >>> 58);
    }

    private synchronized Handle register(long ino, int flags) {
        Handle h = new Handle(nextFh.getAndIncrement(), ino, flags);
        opensPerInode.merge(ino, 1, Integer::sum);
        if (h.writable()) {
            writersPerInode.merge(ino, 1, Integer::sum);
            writableOpens.incrementAndGet(lockIndex(ino)); // the caller holds the inode's lock
        }
        handles.put(h.fh(), h);
        return h;
    }

    /** The open handle, or null if it is closed (or never was). */
    Handle find(long fh) {
        return handles.get(fh);
    }

    Handle get(long fh) {
        Handle h = handles.get(fh);
        if (h == null) {
            throw new FsException(Errno.EBADF, "no open file with handle " + fh);
        }
        return h;
    }

    /**
     * Closes the handle. Returns true when it was the inode's last one and the
     * inode lost its last name while open: only then must the caller free it.
     */
    synchronized boolean close(Handle h) {
        if (handles.remove(h.fh()) == null || h.directory()) {
            return false;
        }
        boolean last = opensPerInode.compute(h.ino(), (k, n) -> n == null || n <= 1 ? null : n - 1) == null;
        if (h.writable()) {
            writersPerInode.compute(h.ino(), (k, n) -> n == null || n <= 1 ? null : n - 1);
        }
        return last && unlinkedWhileOpen.remove(h.ino());
    }

    /**
     * Called when an inode has lost its last name. Returns true when a handle
     * still holds it: then it is remembered, and its last close frees it.
     * Synchronized with {@link #close} so that no last close slips between.
     */
    synchronized boolean holdUnlinked(long ino) {
        if (!opensPerInode.containsKey(ino)) {
            return false;
        }
        unlinkedWhileOpen.add(ino);
        return true;
    }

    synchronized boolean isOpen(long ino) {
        return opensPerInode.containsKey(ino);
    }
}
