package io.sqliteos.fs;

import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

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
    }

    static final int O_ACCMODE = 03;
    static final int O_RDONLY = 0;
    static final int O_WRONLY = 01;
    static final int O_CREAT = 0100;
    static final int O_EXCL = 0200;
    static final int O_TRUNC = 01000;
    static final int O_APPEND = 02000;

    private final AtomicLong nextFh = new AtomicLong(1);
    private final ConcurrentHashMap<Long, Handle> handles = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<Long, Integer> opensPerInode = new ConcurrentHashMap<>();
    /** Inodes without names that open handles keep alive. */
    private final java.util.Set<Long> unlinkedWhileOpen = ConcurrentHashMap.newKeySet();

    synchronized Handle open(long ino, int flags) {
        Handle h = new Handle(nextFh.getAndIncrement(), ino, flags);
        opensPerInode.merge(ino, 1, Integer::sum);
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
        if (handles.remove(h.fh()) == null) {
            return false;
        }
        boolean last = opensPerInode.compute(h.ino(), (k, n) -> n == null || n <= 1 ? null : n - 1) == null;
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

    /** Whether any handle may write the inode: a scan of every handle, for rare questions only. */
    boolean openForWriting(long ino) {
        return handles.values().stream().anyMatch(h -> h.ino() == ino && h.writable());
    }

    synchronized boolean isOpen(long ino) {
        return opensPerInode.containsKey(ino);
    }
}
