package io.sqliteos.fs;

import io.sqliteos.db.DirEntryRow;
import io.sqliteos.db.InodeRow;
import io.sqliteos.db.Store;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;

/**
 * POSIX file-system semantics over the database: every rule about names, links,
 * sizes, times, modes and space lives here. It knows nothing of FUSE; it reads
 * and writes state only through a {@link StoreRouter}, one atomic unit per
 * operation.
 */
public final class FileSystem {

    public static final long ROOT = 1;
    public static final int NAME_MAX = 255;
    public static final int PATH_MAX = 4096;
    public static final long LINK_MAX = 65000;
    public static final int XATTR_NAME_MAX = 255;
    public static final int XATTR_SIZE_MAX = 65536;
    public static final int XATTR_CREATE = 1;
    public static final int XATTR_REPLACE = 2;
    public static final int FALLOC_FL_KEEP_SIZE = 0x01;
    public static final int FALLOC_FL_PUNCH_HOLE = 0x02;
    public static final int FALLOC_FL_ZERO_RANGE = 0x10;
    public static final long UTIME_NOW = (1L << 30) - 1;
    public static final long UTIME_OMIT = (1L << 30) - 2;
    /** A block index must fit in 32 bits of the extent key. */
    public static final long MAX_FILE_SIZE = (1L << 32) * BlockLayout.BLOCK_SIZE;
    /** A rough per-inode charge used to size the inode table reported by statfs. */
    private static final long BYTES_PER_INODE = 1024;
    private static final byte[] DOT = {'.'};
    private static final byte[] DOT_DOT = {'.', '.'};
    private static final long DAY_NS = 86_400L * 1_000_000_000L;
    /** Bounds {@link #pagesStoredAtMark}: past this many files it starts afresh (an open then only stores again). */
    private static final int MAX_STORED_FILES = 100_000;

    private final StoreRouter router;
    private final long capacityBytes;
    private final OpenFiles openFiles = new OpenFiles();
    /**
     * The files whose whole content an open put in the kernel's page cache, with
     * {@link OpenFiles#changeMark} as it was then: while the mark stays, nobody
     * could have changed the content, and the next open keeps the kernel's pages
     * instead of reading and storing the same bytes again.
     */
    private final Map<Long, Long> pagesStoredAtMark = new ConcurrentHashMap<>();
    private final DirectoryListings listings;
    private final Map<String, VirtualAttribute> virtualAttributes = new ConcurrentHashMap<>();

    /** File capabilities, which the kernel looks for before each write. */
    static final String SECURITY_CAPABILITY = "security.capability";
    /** Whether any file may carry {@link #SECURITY_CAPABILITY}; false spares the lookups. */
    private volatile boolean capabilitiesStored = true;

    /** The namespace of control attributes: never stored, never listed. */
    public static final String VIRTUAL_PREFIX = "user.sqliteos.";

    public FileSystem(StoreRouter router, long capacityBytes) {
        this.router = router;
        this.capacityBytes = capacityBytes;
        this.listings = new DirectoryListings(router);
    }

    public long capacityBytes() {
        return capacityBytes;
    }

    /** Registers a control attribute, e.g. {@code user.sqliteos.tx}. */
    public void registerVirtualAttribute(String name, VirtualAttribute attribute) {
        if (!name.startsWith(VIRTUAL_PREFIX)) {
            throw new IllegalArgumentException("virtual attributes live under " + VIRTUAL_PREFIX);
        }
        virtualAttributes.put(name, attribute);
    }

    private VirtualAttribute virtualAttribute(String name) {
        VirtualAttribute a = virtualAttributes.get(name);
        if (a == null) {
            throw new FsException(Errno.EOPNOTSUPP, "unknown control attribute " + name);
        }
        return a;
    }

    /**
     * Creates the root directory of a new file system, owned by the given user,
     * and frees files that were unlinked while open when the daemon last stopped.
     */
    public void initialize(int rootUid, int rootGid) {
        router.write(Caller.ROOT, s -> {
            if (s.inode(ROOT) == null) {
                InodeRow root = newInode(Mode.S_IFDIR | 0755, rootUid, rootGid, now());
                root.ino = ROOT;
                root.nlink = 2;
                s.insertInode(root);
            }
            for (long ino : s.orphans()) {
                free(s, s.inode(ino));
            }
            capabilitiesStored = s.anyXattrNamed(SECURITY_CAPABILITY);
            return null;
        });
    }

    // --- time ------------------------------------------------------------------

    static long now() {
        java.time.Instant t = java.time.Instant.now();
        return t.getEpochSecond() * 1_000_000_000L + t.getNano();
    }

    private static InodeRow newInode(int mode, int uid, int gid, long now) {
        InodeRow r = new InodeRow();
        r.mode = mode;
        r.uid = uid;
        r.gid = gid;
        r.nlink = 1;
        r.atimeNs = now;
        r.mtimeNs = now;
        r.ctimeNs = now;
        return r;
    }

    // --- paths -------------------------------------------------------------------

    /** A path split into its parent directory's inode and its last name. */
    private record Parent(long dir, String name) {}

    private static void checkName(String name) {
        if (name.getBytes(StandardCharsets.UTF_8).length > NAME_MAX) {
            throw new FsException(Errno.ENAMETOOLONG, "name longer than " + NAME_MAX + " bytes");
        }
    }

    /**
     * The kernel limits the path a process passes to {@link #PATH_MAX}, but the
     * path FUSE hands us runs from the mount's root, so a valid name deep below
     * the caller's working directory may be longer: only names are limited here.
     */
    private static String[] components(String path) {
        if (path == null) {
            throw new FsException(Errno.ENOENT, "no path (the file was removed)");
        }
        // by hand rather than split("/+"): this runs for every request
        List<String> parts = new ArrayList<>(8);
        int at = 0;
        int n = path.length();
        while (at < n) {
            while (at < n && path.charAt(at) == '/') {
                at++;
            }
            int end = path.indexOf('/', at);
            if (end < 0) {
                end = n;
            }
            if (end > at) {
                parts.add(path.substring(at, end));
            }
            at = end;
        }
        return parts.toArray(new String[0]);
    }

    /** Where a walk ended: the inode and its type and permission bits. */
    private record Found(long ino, int mode) {}

    /**
     * Walks from the root; each step needs a directory. One query per step finds
     * the entry with its inode's mode, which the next step checks.
     */
    private static Found walk(Store s, String[] parts, int count, String path) {
        long ino = ROOT;
        int mode = Mode.S_IFDIR; // the root is always a directory
        for (int i = 0; i < count; i++) {
            String part = parts[i];
            checkName(part);
            if (!Mode.isDirectory(mode)) {
                throw new FsException(Errno.ENOTDIR, "not a directory on the way to " + path);
            }
            DirEntryRow next = s.lookupEntry(ino, part);
            if (next == null) {
                throw new FsException(Errno.ENOENT, "no such file: " + path);
            }
            ino = next.ino();
            mode = next.mode();
        }
        return new Found(ino, mode);
    }

    private static long resolve(Store s, String path) {
        String[] parts = components(path);
        return walk(s, parts, parts.length, path).ino();
    }

    private static InodeRow resolveInode(Store s, String path) {
        InodeRow r = s.inode(resolve(s, path));
        if (r == null) {
            throw new FsException(Errno.ENOENT, "no such file: " + path);
        }
        return r;
    }

    private static Parent parentOf(Store s, String path) {
        String[] parts = components(path);
        if (parts.length == 0) {
            throw new FsException(Errno.EBUSY, "the root has no parent");
        }
        Found dir = walk(s, parts, parts.length - 1, path);
        if (!Mode.isDirectory(dir.mode())) {
            throw new FsException(Errno.ENOTDIR, "parent is not a directory: " + path);
        }
        String name = parts[parts.length - 1];
        checkName(name);
        return new Parent(dir.ino(), name);
    }

    private static InodeRow existing(Store s, long ino) {
        InodeRow r = s.inode(ino);
        if (r == null) {
            throw new FsException(Errno.ENOENT, "inode " + ino + " is gone");
        }
        return r;
    }

    // --- permissions ------------------------------------------------------------------

    public static final int R_OK = 4;
    public static final int W_OK = 2;
    public static final int X_OK = 1;

    /** The classic owner/group/other check (the kernel adds supplementary groups). */
    static boolean permits(Caller c, InodeRow r, int mask) {
        if (c.isRoot()) {
            // root may do anything but execute a file that no one may execute
            return (mask & X_OK) == 0 || Mode.isDirectory(r.mode) || (r.mode & 0111) != 0;
        }
        int bits;
        if (c.uid() == r.uid) {
            bits = (r.mode >> 6) & 7;
        } else if (c.gid() == r.gid) {
            bits = (r.mode >> 3) & 7;
        } else {
            bits = r.mode & 7;
        }
        return (bits & mask) == mask;
    }

    private static void requireOwner(Caller c, InodeRow r, String what) {
        if (!c.isRoot() && c.uid() != r.uid) {
            throw new FsException(Errno.EPERM, what + " needs the owner or root");
        }
    }

    /** Files and directories made in a set-group-ID directory take its group. */
    private static InodeRow newChild(Caller c, InodeRow parent, int mode, long now) {
        boolean inheritGroup = (parent.mode & Mode.S_ISGID) != 0;
        int gid = inheritGroup ? parent.gid : c.gid();
        if (Mode.isDirectory(mode) && inheritGroup) {
            mode |= Mode.S_ISGID;
        } else if (!Mode.isDirectory(mode) && !c.isRoot() && gid != c.gid()) {
            mode &= ~Mode.S_ISGID;
        }
        return newInode(mode, c.uid(), gid, now);
    }

    private void chargeInode(Store s) {
        // Inode numbers are distinct and positive, so the count never exceeds the
        // ceiling on their numbers: the cheap bound spares counting the table on every create.
        if (s.inodeCeiling() < totalInodes()) {
            return;
        }
        if (s.inodeCount() >= totalInodes()) {
            throw new FsException(Errno.ENOSPC, "no inodes left in the budget");
        }
    }

    private long totalInodes() {
        return Math.max(1024, capacityBytes / BYTES_PER_INODE);
    }

    // --- attributes -----------------------------------------------------------------------

    public FileAttributes getattr(Caller c, String path) {
        return router.read(c, s -> FileAttributes.of(resolveInode(s, path)));
    }

    /**
     * The attributes of an open file, by its handle. The kernel's stat of a
     * file comes here too when the file is open (the libfuse shim names one of
     * its handles), so that a file without names still has attributes. That
     * handle may have been closed by the time the stat is served; the path, if
     * the file still has one, answers it then.
     */
    public FileAttributes fgetattr(Caller c, long fh, String path) {
        OpenFiles.Handle h = openFiles.find(fh);
        if (h == null) {
            if (path == null) {
                throw new FsException(Errno.ENOENT, "no open file with handle " + fh + ", and no name");
            }
            return getattr(c, path);
        }
        return router.read(c, s -> FileAttributes.of(existing(s, h.ino())));
    }

    public void access(Caller c, String path, int mask) {
        router.read(c, s -> {
            InodeRow r = resolveInode(s, path);
            if (mask != 0 && !permits(c, r, mask)) {
                throw new FsException(Errno.EACCES, "access " + mask + " denied on " + path);
            }
            return null;
        });
    }

    public void chmod(Caller c, String path, int mode) {
        router.write(c, s -> {
            InodeRow r = resolveInode(s, path);
            int perms = mode & Mode.PERMISSIONS;
            boolean dropOnly = onlyDropsSetIdBits(r.mode, perms);
            if (!dropOnly) {
                requireOwner(c, r, "chmod");
            }
            if (!dropOnly && !c.isRoot() && c.gid() != r.gid) {
                perms &= ~Mode.S_ISGID; // as the kernel does: no setgid for a group one is not in
            }
            r.mode = Mode.type(r.mode) | perms;
            r.ctimeNs = now();
            s.updateInode(r);
            return null;
        });
    }

    /**
     * Whether a mode change only clears set-user-ID or set-group-ID. The kernel
     * asks for exactly that, as the writer, when someone other than the owner
     * writes to or truncates a set-ID file; dropping those rights is always safe.
     */
    private static boolean onlyDropsSetIdBits(int oldMode, int newPerms) {
        int oldPerms = oldMode & Mode.PERMISSIONS;
        int setId = Mode.S_ISUID | Mode.S_ISGID;
        return (newPerms & ~setId) == (oldPerms & ~setId)
                && (newPerms & setId & ~oldPerms) == 0
                && (oldPerms & setId & ~newPerms) != 0;
    }

    /** Changes owner and/or group; -1 leaves one as it is. */
    public void chown(Caller c, String path, long uid, long gid) {
        router.write(c, s -> {
            InodeRow r = resolveInode(s, path);
            boolean newUid = uid != -1 && uid != 0xFFFFFFFFL;
            boolean newGid = gid != -1 && gid != 0xFFFFFFFFL;
            if (!newUid && !newGid) {
                // chown(f, -1, -1), or the kernel dropping set-ID bits before a write (set_id_bits.c):
                // either changes only a non-directory's set-ID bits. As on Linux, the owner and root
                // may; so may a writer, whose write drops them anyway, even through a descriptor
                // opened before it lost write permission.
                if (Mode.isDirectory(r.mode) || !hasSetIdBitsToDrop(r.mode)) {
                    return null;
                }
                if (!c.isRoot() && c.uid() != r.uid && !permits(c, r, W_OK) && !openFiles.hasWriters(r.ino)) {
                    throw new FsException(Errno.EPERM, "dropping set-ID bits needs the owner, root or a writer");
                }
                dropSetIdBits(r);
                r.ctimeNs = now();
                s.updateInode(r);
                return null;
            }
            if (!c.isRoot()) {
                if (c.uid() != r.uid || (newUid && (int) uid != r.uid)) {
                    throw new FsException(Errno.EPERM, "chown needs root, or the owner changing only the group");
                }
            }
            if (newUid) {
                r.uid = (int) uid;
            }
            if (newGid) {
                r.gid = (int) gid;
            }
            if (!Mode.isDirectory(r.mode)) {
                dropSetIdBits(r); // a new owner must not inherit set-ID rights
            }
            r.ctimeNs = now();
            s.updateInode(r);
            return null;
        });
    }

    /** Sets access and modification times; each may be {@link #UTIME_NOW} or {@link #UTIME_OMIT}. */
    public void utimens(Caller c, String path, long atimeSec, long atimeNsec, long mtimeSec, long mtimeNsec) {
        router.write(c, s -> {
            InodeRow r = resolveInode(s, path);
            if (atimeNsec == UTIME_OMIT && mtimeNsec == UTIME_OMIT) {
                return null; // nothing to change, so nothing to check
            }
            // as Linux: only "both to now" (touch) is open to any writer; anything else needs the owner
            boolean explicit = atimeNsec != UTIME_NOW || mtimeNsec != UTIME_NOW;
            if (!c.isRoot() && c.uid() != r.uid) {
                if (explicit) {
                    throw new FsException(Errno.EPERM, "setting explicit times needs the owner");
                }
                if (!permits(c, r, W_OK)) {
                    throw new FsException(Errno.EACCES, "setting times to now needs write access");
                }
            }
            long now = now();
            if (atimeNsec != UTIME_OMIT) {
                r.atimeNs = atimeNsec == UTIME_NOW ? now : atimeSec * 1_000_000_000L + atimeNsec;
            }
            if (mtimeNsec != UTIME_OMIT) {
                r.mtimeNs = mtimeNsec == UTIME_NOW ? now : mtimeSec * 1_000_000_000L + mtimeNsec;
            }
            r.ctimeNs = now;
            s.updateInode(r);
            return null;
        });
    }

    public FsStats statfs(Caller c) {
        return router.read(c, s -> {
            long block = 4096;
            long total = capacityBytes / block;
            long free = Math.max(0, (capacityBytes - s.usedBytes()) / block);
            long inodes = totalInodes();
            return new FsStats(block, total, free, inodes, Math.max(0, inodes - s.inodeCount()), NAME_MAX);
        });
    }

    // --- directories ---------------------------------------------------------------------------

    /** Makes a directory; returns its attributes as made. */
    public FileAttributes mkdir(Caller c, String path, int mode) {
        return router.write(c, s -> {
            Parent p = parentOf(s, path);
            requireAbsent(s, p, path);
            chargeInode(s);
            InodeRow parent = existing(s, p.dir());
            long now = now();
            InodeRow dir = newChild(c, parent, Mode.S_IFDIR | (mode & Mode.PERMISSIONS), now);
            dir.nlink = 2;
            s.insertDirent(p.dir(), p.name(), s.insertInode(dir));
            parent.nlink++;
            parent.mtimeNs = now;
            parent.ctimeNs = now;
            s.updateInode(parent);
            return FileAttributes.of(dir);
        });
    }

    public void rmdir(Caller c, String path) {
        router.writeFreeingSpace(c, s -> {
            Parent p = parentOf(s, path);
            if (p.name().equals(".")) {
                throw new FsException(Errno.EINVAL, "cannot remove '.'");
            }
            long ino = lookupExisting(s, p, path);
            InodeRow dir = existing(s, ino);
            if (!Mode.isDirectory(dir.mode)) {
                throw new FsException(Errno.ENOTDIR, "not a directory: " + path);
            }
            if (s.hasEntries(ino)) {
                throw new FsException(Errno.ENOTEMPTY, "directory not empty: " + path);
            }
            long now = now();
            s.deleteDirent(p.dir(), p.name());
            InodeRow parent = existing(s, p.dir());
            parent.nlink--;
            parent.mtimeNs = now;
            parent.ctimeNs = now;
            s.updateInode(parent);
            dir.nlink = 0;
            dropIfUnused(s, dir);
            return null;
        });
    }

    /** Opens a directory: the handle lets a removed directory still be listed and stat'ed. */
    public long opendir(Caller c, String path) {
        long ino = router.read(c, s -> {
            InodeRow r = resolveInode(s, path);
            if (!Mode.isDirectory(r.mode)) {
                throw new FsException(Errno.ENOTDIR, "not a directory: " + path);
            }
            return r.ino;
        });
        return openFiles.openDirectory(ino).fh();
    }

    public void releasedir(Caller c, long fh) {
        listings.released(fh);
        release(c, fh);
    }

    /** The entries of a directory, "." and ".." first, then by name. */
    public List<DirEntry> readdir(Caller c, String path, long fh) {
        List<DirEntry> out = new ArrayList<>();
        readdir(c, path, fh, (name, ino, mode) -> out.add(new DirEntry(new String(name, StandardCharsets.UTF_8), ino, mode)));
        return out;
    }

    /**
     * Lists a directory into {@code sink}: "." and ".." first, then by name,
     * each name as UTF-8 bytes. The sink is called inside the read, so a
     * listing of any size is never held whole.
     */
    public void readdir(Caller c, String path, long fh, Store.EntrySink sink) {
        router.read(c, s -> {
            s.listDirectory(listHead(s, path, fh, sink), sink);
            return null;
        });
    }

    /**
     * Passes the entries of the open directory {@code fh} from
     * {@code position} on to {@code sink} ("." is 0, ".." 1, then the entries
     * by name) until the sink is full or the listing ends. Position 0 lists
     * afresh (opendir, rewinddir); any other resumes the handle's listing,
     * which stays one listing until then. A directory of more than a page has
     * its first page listed here and the rest on another thread, so that the
     * first entries need not wait for the last.
     */
    public void readdir(Caller c, String path, long fh, long position, ListingSink sink) {
        DirectoryListing listing = position == 0 ? null : listings.of(fh);
        if (listing == null) {
            listing = new DirectoryListing();
            // a transaction's reads stay on its own connection: its listing is made here, whole
            boolean restElsewhere = fh > 0 && !router.inTransaction(c);
            DirectoryListing head = listing;
            long[] dir = new long[1];
            byte[] after = router.read(c, s -> {
                dir[0] = listHead(s, path, fh, head);
                return s.listDirectory(dir[0], new byte[0], restElsewhere ? 1 : Integer.MAX_VALUE, head);
            });
            listings.started(fh, listing, dir[0], after);
        }
        listing.serve(position, sink);
    }

    /** Checks that the listed inode is a directory and passes "." and "..": returns the inode. */
    private long listHead(Store s, String path, long fh, Store.EntrySink sink) {
        long ino = fh > 0 ? openFiles.get(fh).ino() : resolve(s, path);
        InodeRow dir = existing(s, ino);
        if (!Mode.isDirectory(dir.mode)) {
            throw new FsException(Errno.ENOTDIR, "not a directory: " + path);
        }
        sink.accept(DOT, ino, dir.mode);
        long parent = ino == ROOT ? ROOT : parentDirectory(s, path, ino);
        sink.accept(DOT_DOT, parent == 0 ? ino : parent, Mode.S_IFDIR);
        return ino;
    }

    /**
     * The directory holding directory {@code dir}: found by walking {@code path}
     * (names the cache knows) while the path still leads to it, else by a query.
     */
    private static long parentDirectory(Store s, String path, long dir) {
        try {
            Parent p = parentOf(s, path);
            if (s.lookup(p.dir(), p.name()) == dir) {
                return p.dir();
            }
        } catch (FsException renamedMeanwhile) {
            // the query below knows
        }
        return s.parentOf(dir);
    }

    // --- creating and removing names --------------------------------------------------------------

    private static void requireAbsent(Store s, Parent p, String path) {
        if (s.lookup(p.dir(), p.name()) != 0 || p.name().equals(".") || p.name().equals("..")) {
            throw new FsException(Errno.EEXIST, "already exists: " + path);
        }
    }

    private static long lookupExisting(Store s, Parent p, String path) {
        long ino = s.lookup(p.dir(), p.name());
        if (ino == 0) {
            throw new FsException(Errno.ENOENT, "no such file: " + path);
        }
        return ino;
    }

    private InodeRow createNode(Store s, Caller c, String path, int mode, long rdev, byte[] target) {
        Parent p = parentOf(s, path);
        requireAbsent(s, p, path);
        chargeInode(s);
        InodeRow parent = existing(s, p.dir());
        long now = now();
        InodeRow node = newChild(c, parent, mode, now);
        node.rdev = rdev;
        node.target = target;
        if (target != null) {
            node.size = target.length;
        }
        s.insertDirent(p.dir(), p.name(), s.insertInode(node));
        parent.mtimeNs = now;
        parent.ctimeNs = now;
        s.updateInode(parent);
        return node;
    }

    /** Makes a regular file, FIFO, socket or device node; returns its attributes as made. */
    public FileAttributes mknod(Caller c, String path, int mode, long rdev) {
        int type = Mode.type(mode);
        if (type == 0) {
            type = Mode.S_IFREG;
        }
        if (type == Mode.S_IFDIR || type == Mode.S_IFLNK) {
            throw new FsException(Errno.EINVAL, "mknod cannot make directories or symlinks");
        }
        int finalMode = type | (mode & Mode.PERMISSIONS);
        boolean device = type == Mode.S_IFCHR || type == Mode.S_IFBLK;
        return router.write(c, s -> FileAttributes.of(createNode(s, c, path, finalMode, device ? rdev : 0, null)));
    }

    /** Makes a symbolic link; returns its attributes as made. */
    public FileAttributes symlink(Caller c, String target, String linkPath) {
        byte[] bytes = target.getBytes(StandardCharsets.UTF_8);
        if (bytes.length == 0) {
            throw new FsException(Errno.ENOENT, "empty symlink target");
        }
        if (bytes.length >= PATH_MAX) {
            throw new FsException(Errno.ENAMETOOLONG, "symlink target longer than " + (PATH_MAX - 1));
        }
        return router.write(c, s -> FileAttributes.of(createNode(s, c, linkPath, Mode.S_IFLNK | 0777, 0, bytes)));
    }

    public byte[] readlink(Caller c, String path) {
        return router.read(c, s -> {
            InodeRow r = resolveInode(s, path);
            if (!Mode.isSymlink(r.mode)) {
                throw new FsException(Errno.EINVAL, "not a symlink: " + path);
            }
            return r.target;
        });
    }

    public void link(Caller c, String existingPath, String newPath) {
        router.write(c, s -> {
            InodeRow r = resolveInode(s, existingPath);
            if (Mode.isDirectory(r.mode)) {
                throw new FsException(Errno.EPERM, "hard links to directories are not allowed");
            }
            if (r.nlink >= LINK_MAX) {
                throw new FsException(Errno.EMLINK, "too many links to " + existingPath);
            }
            Parent p = parentOf(s, newPath);
            requireAbsent(s, p, newPath);
            long now = now();
            s.insertDirent(p.dir(), p.name(), r.ino);
            r.nlink++;
            r.ctimeNs = now;
            s.updateInode(r);
            InodeRow parent = existing(s, p.dir());
            parent.mtimeNs = now;
            parent.ctimeNs = now;
            s.updateInode(parent);
            return null;
        });
    }

    public void unlink(Caller c, String path) {
        router.writeFreeingSpace(c, s -> {
            Parent p = parentOf(s, path);
            long ino = lookupExisting(s, p, path);
            InodeRow r = existing(s, ino);
            if (Mode.isDirectory(r.mode)) {
                throw new FsException(Errno.EISDIR, "is a directory: " + path);
            }
            long now = now();
            s.deleteDirent(p.dir(), p.name());
            InodeRow parent = existing(s, p.dir());
            parent.mtimeNs = now;
            parent.ctimeNs = now;
            s.updateInode(parent);
            r.nlink--;
            r.ctimeNs = now;
            dropIfUnused(s, r);
            return null;
        });
    }

    /** Writes back an inode that lost a link, or frees it when no name and no open file holds it. */
    private void dropIfUnused(Store s, InodeRow r) {
        if (r.nlink <= 0 && !openFiles.holdUnlinked(r.ino)) {
            free(s, r);
        } else {
            s.updateInode(r);
        }
    }

    private static void free(Store s, InodeRow r) {
        long xattrBytes = s.deleteInode(r);
        s.addUsedBytes(-r.alloc - xattrBytes);
    }

    public void rename(Caller c, String from, String to) {
        router.write(c, s -> {
            Parent src = parentOf(s, from);
            Parent dst = parentOf(s, to);
            if (src.name().equals(".") || src.name().equals("..") || dst.name().equals(".") || dst.name().equals("..")) {
                throw new FsException(Errno.EINVAL, "cannot rename '.' or '..'");
            }
            long ino = lookupExisting(s, src, from);
            long replaced = s.lookup(dst.dir(), dst.name());
            if (replaced == ino) {
                return null; // two names of one file: POSIX says do nothing
            }
            InodeRow moving = existing(s, ino);
            boolean isDir = Mode.isDirectory(moving.mode);
            if (isDir) {
                for (long up = dst.dir(); up != ROOT && up != 0; up = s.parentOf(up)) {
                    if (up == ino) {
                        throw new FsException(Errno.EINVAL, "cannot move a directory into itself: " + to);
                    }
                }
            }
            long now = now();
            InodeRow srcDir = existing(s, src.dir());
            InodeRow dstDir = src.dir() == dst.dir() ? srcDir : existing(s, dst.dir());
            if (replaced != 0) {
                InodeRow victim = existing(s, replaced);
                if (isDir && !Mode.isDirectory(victim.mode)) {
                    throw new FsException(Errno.ENOTDIR, "cannot replace a non-directory with a directory: " + to);
                }
                if (!isDir && Mode.isDirectory(victim.mode)) {
                    throw new FsException(Errno.EISDIR, "cannot replace a directory with a non-directory: " + to);
                }
                if (Mode.isDirectory(victim.mode)) {
                    if (s.hasEntries(replaced)) {
                        throw new FsException(Errno.ENOTEMPTY, "directory not empty: " + to);
                    }
                    victim.nlink = 0;
                    dstDir.nlink--;
                } else {
                    victim.nlink--;
                }
                victim.ctimeNs = now;
                s.updateDirent(dst.dir(), dst.name(), ino);
                dropIfUnused(s, victim);
            } else {
                s.insertDirent(dst.dir(), dst.name(), ino);
            }
            s.deleteDirent(src.dir(), src.name());
            if (isDir && srcDir != dstDir) {
                srcDir.nlink--;
                dstDir.nlink++;
            }
            moving.ctimeNs = now;
            s.updateInode(moving);
            srcDir.mtimeNs = now;
            srcDir.ctimeNs = now;
            s.updateInode(srcDir);
            if (dstDir != srcDir) {
                dstDir.mtimeNs = now;
                dstDir.ctimeNs = now;
                s.updateInode(dstDir);
            }
            return null;
        });
    }

    // --- open files -----------------------------------------------------------------------------------

    /** A file that a create made or opened: its handle, and its attributes as of then. */
    public record Created(long fh, FileAttributes attributes) {}

    /** Creates (or, without O_EXCL, opens) a regular file and returns its handle. */
    public long create(Caller c, String path, int mode, int flags) {
        return createFile(c, path, mode, flags).fh();
    }

    /** Creates (or, without O_EXCL, opens) a regular file; returns its handle and attributes. */
    public Created createFile(Caller c, String path, int mode, int flags) {
        FileAttributes attributes = router.write(c, s -> {
            Parent p = parentOf(s, path);
            long existingIno = s.lookup(p.dir(), p.name());
            if (existingIno != 0) {
                if ((flags & OpenFiles.O_EXCL) != 0) {
                    throw new FsException(Errno.EEXIST, "already exists: " + path);
                }
                InodeRow r = existing(s, existingIno);
                if (Mode.isDirectory(r.mode)) {
                    throw new FsException(Errno.EISDIR, "is a directory: " + path);
                }
                if ((flags & OpenFiles.O_TRUNC) != 0 && Mode.isRegular(r.mode)) {
                    truncateInode(s, r, 0);
                }
                return FileAttributes.of(r);
            }
            return FileAttributes.of(createNode(s, c, path, Mode.S_IFREG | (mode & Mode.PERMISSIONS), 0, null));
        });
        return new Created(openFiles.open(attributes.ino(), flags).fh(), attributes);
    }

    public long open(Caller c, String path, int flags) {
        return open(c, path, flags, null);
    }

    /**
     * Opens a file; a read-only open outside transactions also offers the
     * file's content to {@code fill} (null: none) when it is small.
     */
    public long open(Caller c, String path, int flags, PageCacheFill fill) {
        boolean truncates = (flags & OpenFiles.O_TRUNC) != 0 && (flags & OpenFiles.O_ACCMODE) != OpenFiles.O_RDONLY;
        java.util.function.Function<Store, Long> opening = s -> {
            InodeRow r = resolveInode(s, path);
            if (Mode.isDirectory(r.mode) && (flags & OpenFiles.O_ACCMODE) != OpenFiles.O_RDONLY) {
                throw new FsException(Errno.EISDIR, "cannot open a directory for writing: " + path);
            }
            if (truncates && Mode.isRegular(r.mode)) {
                truncateInode(s, r, 0);
            }
            return r.ino;
        };
        // Only O_TRUNC changes anything; a plain open is a read and never waits for a writer.
        long ino = truncates ? router.write(c, opening) : router.read(c, opening);
        if (fill == null || (flags & (OpenFiles.O_ACCMODE | OpenFiles.O_DIRECT)) != OpenFiles.O_RDONLY
                || router.bypassPageCache(c)) {
            return openFiles.open(ino, flags).fh();
        }
        boolean[] touchAtime = {false};
        long fh = openFiles.openAlone(ino, flags, () -> touchAtime[0] = fillPageCache(c, ino, fill)).fh();
        if (touchAtime[0]) {
            touchAtime(c, ino); // outside the inode's lock: it is a write, which may wait for the writer
        }
        return fh;
    }

    /**
     * Takes a small file's whole content as an open finds it, for the kernel's
     * page cache: what the reads of the new handle would otherwise fetch.
     */
    public interface PageCacheFill {
        /** Where the content goes; larger files are not offered. */
        byte[] buffer();

        /** The first {@code length} bytes of {@link #buffer} are the whole file: true if the kernel took them. */
        boolean store(int length);

        /**
         * The kernel's pages hold the whole file as it is now (stored at an
         * earlier open, and the file has not changed since): the open keeps them.
         * Pages the kernel has dropped meanwhile it reads again.
         */
        void keep();
    }

    /**
     * Offers a single-link regular file of at most the fill's buffer to
     * {@code fill}; nobody can write it meanwhile ({@link OpenFiles#openAlone}).
     * Returns whether its access time is due, as a read would have found it:
     * the reads that the kernel now answers alone never reach the daemon.
     */
    private boolean fillPageCache(Caller c, long ino, PageCacheFill fill) {
        byte[] buffer = fill.buffer();
        long mark = openFiles.changeMark(ino);
        boolean unchanged = Long.valueOf(mark).equals(pagesStoredAtMark.remove(ino));
        boolean[] atimeDue = {false};
        int length;
        try {
            length = router.read(c, s -> {
                InodeRow r = s.inode(ino);
                // The kernel knows a hard-linked file as an inode per name, each with a size of its own that
                // a change through another name leaves stale: pages beyond the content would stay. An empty
                // file has nothing to keep.
                if (r == null || !Mode.isRegular(r.mode) || r.nlink != 1 || r.size == 0 || r.size > buffer.length) {
                    return -1;
                }
                if (!unchanged) {
                    readRange(s, ino, 0, buffer, (int) r.size);
                }
                atimeDue[0] = accessTimeDue(r);
                return (int) r.size;
            });
        } catch (io.sqliteos.db.StoreException e) {
            return false; // the open stands without the pages; a read will meet the failure and report it
        }
        if (length <= 0) {
            return false;
        }
        if (unchanged) {
            fill.keep();
        } else if (!fill.store(length)) {
            return false;
        }
        if (pagesStoredAtMark.size() >= MAX_STORED_FILES) {
            pagesStoredAtMark.clear();
        }
        pagesStoredAtMark.put(ino, mark);
        return atimeDue[0];
    }

    /** Closes a handle; the last close of an unlinked file frees it. */
    public void release(Caller c, long fh) {
        OpenFiles.Handle h = openFiles.get(fh);
        if (!openFiles.close(h)) {
            return;
        }
        // Only an unlinked file needs a write at its last close; a plain close must not wait for a writer.
        boolean orphan = router.read(c, s -> {
            InodeRow r = s.inode(h.ino());
            return r != null && r.nlink <= 0;
        });
        if (orphan) {
            router.writeFreeingSpace(c, s -> {
                freeIfOrphan(s, h.ino());
                return null;
            });
        }
    }

    /** Frees an inode that has neither a name nor an open handle left. */
    private void freeIfOrphan(Store s, long ino) {
        InodeRow r = s.inode(ino);
        if (r != null && r.nlink <= 0 && !openFiles.isOpen(ino)) {
            free(s, r);
        }
    }

    /**
     * Frees files that lost their last name while open and have since been
     * closed: needed when the unlink committed later than the close, as in a
     * transaction.
     */
    public void collectOrphans() {
        router.writeIfFree(Caller.ROOT, s -> {
            for (long ino : s.orphans()) {
                freeIfOrphan(s, ino);
            }
            return null;
        });
    }

    /** True when handles opened now by this caller must bypass the kernel page cache (direct I/O). */
    public boolean directIo(Caller c) {
        return router.bypassPageCache(c);
    }

    public int read(Caller c, long fh, byte[] dst, int length, long offset) {
        return read(c, fh, length, offset, (s, r, from, count) -> readRange(s, r.ino, from, dst, count));
    }

    /**
     * Takes the pages of a block around those a small read asks for, for the
     * kernel's page cache: a file is stored in blocks of {@link
     * BlockLayout#BLOCK_SIZE}, so a 4 KiB read loads the whole block anyway,
     * and a later read of its neighbours then costs no request.
     */
    public interface BlockPages {
        /** Bytes [from, from + length) of {@code block} are the file's from {@code fileOffset}: store them. */
        void store(byte[] block, int from, int length, long fileOffset);
    }

    /** The kernel's page size: what it locks for a read, and what {@link BlockPages} must leave out. */
    private static final int PAGE_SIZE = 4096;

    /**
     * {@link #read}, which also offers {@code pages} (null: none) the rest of
     * the block when the read lies within one block, outside transactions, of
     * a single-link file that no handle may write.
     */
    public int read(Caller c, long fh, byte[] dst, int length, long offset, BlockPages pages) {
        long index = BlockLayout.index(offset);
        if (pages == null || length <= 0 || offset < 0 || BlockLayout.index(offset + length - 1) != index
                || router.bypassPageCache(c)) {
            return read(c, fh, dst, length, offset);
        }
        long ino = openFiles.get(fh).ino();
        if (openFiles.hasWriters(ino)) {
            return read(c, fh, dst, length, offset); // the pages could not be handed over
        }
        long mark = openFiles.changeMark(ino); // before the read: a writer that opens after it voids the block
        byte[][] block = {null};
        long[] size = {0};
        int n = read(c, fh, length, offset, (s, r, from, count) -> {
            if (r.nlink != 1 || !Mode.isRegular(r.mode)) {
                readRange(s, r.ino, from, dst, count);
                return;
            }
            byte[] whole = s.block(r.ino, index);
            if (whole == null || whole.length < BlockLayout.BLOCK_SIZE) {
                // a hole, or a short block: zeros after what is stored
                whole = java.util.Arrays.copyOf(whole == null ? new byte[0] : whole, BlockLayout.BLOCK_SIZE);
            }
            System.arraycopy(whole, (int) (from - BlockLayout.start(index)), dst, 0, count);
            block[0] = whole;
            size[0] = r.size;
        });
        if (block[0] != null) {
            offerRestOfBlock(ino, mark, block[0], index, size[0], offset, length, pages);
        }
        return n;
    }

    /**
     * Hands {@code pages} the parts of the block before and after the pages the
     * read asked for (the kernel holds those locked until the reply), up to the
     * end of the file, if the content cannot have changed since the read.
     */
    private void offerRestOfBlock(long ino, long mark, byte[] block, long index, long fileSize, long offset, int length,
            BlockPages pages) {
        long blockStart = BlockLayout.start(index);
        long blockEnd = Math.min(blockStart + BlockLayout.BLOCK_SIZE, fileSize);
        long askedStart = offset / PAGE_SIZE * PAGE_SIZE;
        long askedEnd = (offset + length + PAGE_SIZE - 1) / PAGE_SIZE * PAGE_SIZE;
        boolean before = askedStart > blockStart;
        boolean after = askedEnd < blockEnd;
        if (!before && !after) {
            return;
        }
        openFiles.aloneIfUnchanged(ino, mark, () -> {
            if (before) {
                pages.store(block, 0, (int) (askedStart - blockStart), blockStart);
            }
            if (after) {
                pages.store(block, (int) (askedEnd - blockStart), (int) (blockEnd - askedEnd), askedEnd);
            }
        });
    }

    /**
     * {@link #read} into the buffer lent to SQL on this thread ({@link
     * io.sqliteos.db.LentMemory}), of at least {@code length} bytes.
     */
    public int readIntoLent(Caller c, long fh, int length, long offset) {
        return read(c, fh, length, offset, (s, r, from, count) -> s.copyOutLent(r.ino, from, count, BlockLayout.BLOCK_SIZE));
    }

    /** Where a read puts the bytes [offset, offset + count) of a file, whose row the read found. */
    @FunctionalInterface
    private interface RangeReader {
        void read(Store s, InodeRow r, long offset, int count);
    }

    private int read(Caller c, long fh, int length, long offset, RangeReader into) {
        OpenFiles.Handle h = openFiles.get(fh);
        if (offset < 0) {
            throw new FsException(Errno.EINVAL, "negative offset");
        }
        int[] needsAtime = new int[1];
        int n = router.read(c, s -> {
            InodeRow r = existing(s, h.ino());
            if (Mode.isDirectory(r.mode)) {
                throw new FsException(Errno.EISDIR, "read of a directory");
            }
            if (offset >= r.size) {
                return 0;
            }
            int count = (int) Math.min(length, r.size - offset);
            into.read(s, r, offset, count);
            if (accessTimeDue(r)) {
                needsAtime[0] = 1;
            }
            return count;
        });
        if (needsAtime[0] != 0) {
            touchAtime(c, h.ino());
        }
        return n;
    }

    /** relatime: the first read after a change (or a day later) records the access time. */
    private static boolean accessTimeDue(InodeRow r) {
        return r.atimeNs <= r.mtimeNs || r.atimeNs <= r.ctimeNs || now() - r.atimeNs > DAY_NS;
    }

    /** Records the access time that {@link #accessTimeDue} found due. */
    private void touchAtime(Caller c, long ino) {
        try {
            router.writeIfFree(c, s -> {
                InodeRow r = s.inode(ino);
                if (r != null) {
                    r.atimeNs = now();
                    s.updateInode(r);
                }
                return null;
            });
        } catch (io.sqliteos.db.StoreException e) {
            // the read itself succeeded; an access time that cannot be recorded (disk full) must not fail it
        }
    }

    /**
     * Reads [offset, offset + count) of a file into dst. What no stored block
     * covers (holes, and the tail of a short block) reads as zeros; only those
     * gaps are zeroed, not the whole range first.
     */
    private static void readRange(Store s, long ino, long offset, byte[] dst, int count) {
        long end = offset + count;
        long first = BlockLayout.index(offset);
        long last = BlockLayout.index(end - 1);
        if (first == last) {
            long blockStart = BlockLayout.start(first);
            int from = (int) (offset - blockStart);
            // a whole block comes as it is stored; of part of one, only that part leaves SQLite
            byte[] data = from == 0 && count == BlockLayout.BLOCK_SIZE
                    ? s.block(ino, first) : s.blockSlice(ino, first, from, count);
            int copied = 0; // data null: a hole
            if (data != null) {
                copied = Math.min(count, data.length);
                System.arraycopy(data, 0, dst, 0, copied);
            }
            java.util.Arrays.fill(dst, copied, count, (byte) 0);
            return;
        }
        // several blocks (a large read): one query for all of them, in order, holes absent
        int[] filled = {0}; // dst is final up to here
        s.blocks(ino, first, last + 1, (index, data) -> {
            long blockStart = BlockLayout.start(index);
            int from = (int) (Math.max(offset, blockStart) - blockStart);
            int to = (int) Math.min(Math.min(end, blockStart + BlockLayout.BLOCK_SIZE) - blockStart, data.length);
            if (to > from) {
                int at = (int) (blockStart + from - offset);
                java.util.Arrays.fill(dst, filled[0], at, (byte) 0);
                System.arraycopy(data, from, dst, at, to - from);
                filled[0] = at + to - from;
            }
        });
        java.util.Arrays.fill(dst, filled[0], count, (byte) 0);
    }

    public int write(Caller c, long fh, byte[] src, int length, long offset) {
        return write(c, fh, new WriteSource(() -> src, false), length, offset);
    }

    /**
     * {@link #write} of the {@code length} bytes in the buffer lent to SQL on this
     * thread ({@link io.sqliteos.db.LentMemory}); {@code array} gives them as an
     * array, asked only for the parts of blocks a write covers.
     */
    public int writeFromLent(Caller c, long fh, int length, long offset, Supplier<byte[]> array) {
        return write(c, fh, new WriteSource(array, true), length, offset);
    }

    /** A write's bytes: in an array made when first asked for, and maybe also in the lent buffer from 0. */
    private static final class WriteSource {
        private final Supplier<byte[]> supplier;
        final boolean lent;
        private byte[] array;

        WriteSource(Supplier<byte[]> supplier, boolean lent) {
            this.supplier = supplier;
            this.lent = lent;
        }

        byte[] array() {
            if (array == null) {
                array = supplier.get();
            }
            return array;
        }
    }

    private int write(Caller c, long fh, WriteSource src, int length, long offset) {
        OpenFiles.Handle h = openFiles.get(fh);
        if (!h.writable()) {
            throw new FsException(Errno.EBADF, "file not open for writing");
        }
        if (offset < 0) {
            throw new FsException(Errno.EINVAL, "negative offset");
        }
        return router.write(c, s -> {
            InodeRow r = existing(s, h.ino());
            long start = h.append() ? r.size : offset;
            if (start + length > MAX_FILE_SIZE) {
                throw new FsException(Errno.EFBIG, "file would exceed " + MAX_FILE_SIZE + " bytes");
            }
            if (length == 0) {
                return 0;
            }
            long grown = writeRange(s, r, start, src, length);
            long now = now();
            r.alloc += grown;
            r.size = Math.max(r.size, start + length);
            r.mtimeNs = now;
            r.ctimeNs = now;
            if (!c.isRoot()) {
                dropSetIdBits(r);
            }
            dropCapabilities(s, r);
            s.updateInode(r);
            return length;
        });
    }

    /**
     * A write or truncate takes a file's capabilities (security.capability)
     * away, whoever makes it. The mount asks the kernel to leave this, and the
     * set-ID bits, to the daemon (set_id_bits.c), so that the kernel need not
     * ask for the attribute before every write.
     */
    private void dropCapabilities(Store s, InodeRow r) {
        if (!capabilitiesStored) {
            return;
        }
        deleteXattr(s, r.ino, SECURITY_CAPABILITY);
    }

    /** Deletes an attribute and gives its bytes back to the budget; false if the inode has none of that name. */
    private static boolean deleteXattr(Store s, long ino, String name) {
        byte[] old = s.xattr(ino, name);
        if (old == null || !s.deleteXattr(ino, name)) {
            return false;
        }
        s.addUsedBytes(-xattrSize(name, old));
        return true;
    }

    /** Whether {@link #dropSetIdBits} would change this mode. */
    private static boolean hasSetIdBitsToDrop(int mode) {
        return withoutSetIdBits(mode) != mode;
    }

    /** Clears set-ID bits as a write by anyone but root, or a change of owner, does. */
    private static void dropSetIdBits(InodeRow r) {
        r.mode = withoutSetIdBits(r.mode);
    }

    /** The mode without set-user-ID, and without set-group-ID where group execute is set. */
    private static int withoutSetIdBits(int mode) {
        int dropped = mode & ~Mode.S_ISUID;
        return (dropped & Mode.S_IXGRP) != 0 ? dropped & ~Mode.S_ISGID : dropped;
    }

    /** Stores bytes into the blocks of file {@code r} (as it was before the write) and returns how many stored bytes were added. */
    private long writeRange(Store s, InodeRow r, long offset, WriteSource src, int length) {
        long ino = r.ino;
        long size = r.size;
        long end = offset + length;
        long first = BlockLayout.index(offset);
        long last = BlockLayout.index(end - 1);
        if (first == last && length < BlockLayout.BLOCK_SIZE && end <= size) {
            // A small write inside the file (a database page, a random write) mostly lands
            // on bytes already stored: one statement, and no space used. Anything else (an
            // append, a hole, growth) goes the general way below.
            int from = (int) (offset - BlockLayout.start(first));
            if (s.overwriteInBlock(ino, first, from, java.util.Arrays.copyOfRange(src.array(), 0, length))) {
                return 0;
            }
        }
        long grown = 0;
        long budgetLeft = capacityBytes - s.usedBytes();
        // A file that holds no bytes (new, or truncated to nothing) has no blocks to look up:
        // the first write of every small file skips the query.
        int[] lengths = r.alloc == 0 ? Store.holes(first, last + 1) : s.blockLengths(ino, first, last + 1);
        for (long index = first; index <= last; index++) {
            long blockStart = BlockLayout.start(index);
            int from = (int) (Math.max(offset, blockStart) - blockStart);
            int to = (int) (Math.min(end, blockStart + BlockLayout.BLOCK_SIZE) - blockStart);
            int srcPos = (int) (blockStart + from - offset);
            int stored = lengths[(int) (index - first)]; // -1: a hole
            boolean whole = from == 0 && to == BlockLayout.BLOCK_SIZE;
            // the blocks from here that the write covers whole: up to the one its end falls in
            int run = whole ? (int) (BlockLayout.index(end) - index) : 1;
            if (run > 1) {
                long delta = 0;
                for (int k = 0; k < run; k++) {
                    delta += BlockLayout.BLOCK_SIZE - Math.max(0, lengths[(int) (index + k - first)]);
                }
                if (delta > budgetLeft) {
                    throw new FsException(Errno.ENOSPC, "the file system's size budget is full");
                }
                budgetLeft -= delta;
                grown += delta;
                if (src.lent) {
                    s.putWholeLentBlocks(ino, index, run, BlockLayout.BLOCK_SIZE, srcPos);
                } else {
                    s.putWholeBlocks(ino, index, run, BlockLayout.BLOCK_SIZE, src.array(), srcPos);
                }
                index += run - 1;
                continue;
            }
            int oldLength = Math.max(0, stored);
            int newLength = whole ? to : Math.max(oldLength, to);
            long delta = newLength - oldLength;
            if (delta > budgetLeft) {
                throw new FsException(Errno.ENOSPC, "the file system's size budget is full");
            }
            budgetLeft -= delta;
            grown += delta;
            if (stored >= 0 && !whole) {
                // part of a stored block: the database splices the bytes in
                s.patchBlock(ino, index, from, java.util.Arrays.copyOfRange(src.array(), srcPos, srcPos + to - from));
            } else {
                byte[] block = new byte[newLength];
                System.arraycopy(src.array(), srcPos, block, from, to - from);
                if (stored >= 0) {
                    s.putBlock(ino, index, blockStart, block, newLength);
                } else {
                    s.insertBlock(ino, index, blockStart, block, newLength);
                }
            }
        }
        s.addUsedBytes(grown);
        return grown;
    }

    public void fsync(Caller c, long fh) {
        openFiles.get(fh);
        // Every operation commits before it returns; a durable database syncs each commit.
    }

    // --- sizes -------------------------------------------------------------------------------------------

    public void truncate(Caller c, String path, long size) {
        long ino = router.read(c, s -> resolveInode(s, path).ino);
        // as an open for writing, ftruncate and close: it counts as a writer for a page-cache fill (see open)
        long fh = openFiles.open(ino, OpenFiles.O_WRONLY).fh();
        try {
            ftruncate(c, fh, size);
        } finally {
            release(c, fh);
        }
    }

    public void ftruncate(Caller c, long fh, long size) {
        OpenFiles.Handle h = openFiles.get(fh);
        router.write(c, s -> {
            truncateChecked(c, s, existing(s, h.ino()), size);
            return null;
        });
    }

    private void truncateChecked(Caller c, Store s, InodeRow r, long size) {
        if (Mode.isDirectory(r.mode)) {
            throw new FsException(Errno.EISDIR, "cannot truncate a directory");
        }
        if (!Mode.isRegular(r.mode)) {
            throw new FsException(Errno.EINVAL, "can only truncate regular files");
        }
        if (size < 0) {
            throw new FsException(Errno.EINVAL, "negative size");
        }
        if (size > MAX_FILE_SIZE) {
            throw new FsException(Errno.EFBIG, "size above " + MAX_FILE_SIZE);
        }
        if (!c.isRoot()) {
            dropSetIdBits(r);
        }
        dropCapabilities(s, r);
        truncateInode(s, r, size);
    }

    /** Sets the size; shrinking frees whole blocks past it and zeroes the tail of the last one. */
    private static void truncateInode(Store s, InodeRow r, long size) {
        long freed = 0;
        if (size < r.size) {
            long keepBlocks = (size + BlockLayout.BLOCK_SIZE - 1) / BlockLayout.BLOCK_SIZE;
            freed += s.deleteBlocks(r.ino, keepBlocks, 1L << 32);
            int tail = (int) (size % BlockLayout.BLOCK_SIZE);
            if (tail != 0) {
                long index = BlockLayout.index(size);
                byte[] last = s.block(r.ino, index);
                if (last != null && last.length > tail) {
                    s.putBlock(r.ino, index, BlockLayout.start(index), last, tail);
                    freed += last.length - tail;
                }
            }
        }
        s.addUsedBytes(-freed);
        long now = now();
        r.alloc -= freed;
        r.size = size;
        r.mtimeNs = now;
        r.ctimeNs = now;
        s.updateInode(r);
    }

    /**
     * fallocate(2): allocate (mode 0 or KEEP_SIZE), punch a hole (PUNCH_HOLE|KEEP_SIZE),
     * or zero a range and keep it allocated (ZERO_RANGE, optionally with KEEP_SIZE).
     */
    public void fallocate(Caller c, long fh, int mode, long offset, long length) {
        OpenFiles.Handle h = openFiles.get(fh);
        if (offset < 0 || length <= 0) {
            throw new FsException(Errno.EINVAL, "bad fallocate range");
        }
        if ((mode & ~(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE)) != 0) {
            throw new FsException(Errno.EOPNOTSUPP, "fallocate mode " + mode + " is not supported");
        }
        if ((mode & FALLOC_FL_PUNCH_HOLE) != 0 && (mode & FALLOC_FL_ZERO_RANGE) != 0) {
            throw new FsException(Errno.EINVAL, "PUNCH_HOLE and ZERO_RANGE exclude each other");
        }
        if ((mode & FALLOC_FL_PUNCH_HOLE) != 0 && (mode & FALLOC_FL_KEEP_SIZE) == 0) {
            throw new FsException(Errno.EOPNOTSUPP, "PUNCH_HOLE needs KEEP_SIZE");
        }
        if (offset + length > MAX_FILE_SIZE) {
            throw new FsException(Errno.EFBIG, "range beyond the largest file size");
        }
        long end = offset + length;
        router.write(c, s -> {
            InodeRow r = existing(s, h.ino());
            if (!Mode.isRegular(r.mode)) {
                throw new FsException(Errno.ENODEV, "fallocate needs a regular file");
            }
            long now = now();
            if ((mode & FALLOC_FL_PUNCH_HOLE) != 0) {
                r.alloc -= punchHole(s, r.ino, offset, end);
                r.mtimeNs = now;
                r.ctimeNs = now;
            } else {
                boolean zero = (mode & FALLOC_FL_ZERO_RANGE) != 0;
                if (zero) {
                    // drop what is stored, then store zeros: the range stays allocated
                    r.alloc -= punchHole(s, r.ino, offset, end);
                }
                r.alloc += allocate(s, r.ino, offset, end);
                boolean grows = (mode & FALLOC_FL_KEEP_SIZE) == 0 && end > r.size;
                if (grows) {
                    r.size = end;
                }
                if (grows || zero) {
                    r.mtimeNs = now;
                    r.ctimeNs = now;
                }
            }
            s.updateInode(r);
            return null;
        });
    }

    /** Makes every block in [start, end) stored, filling with zeros; returns bytes added. */
    private long allocate(Store s, long ino, long start, long end) {
        long grown = 0;
        long budgetLeft = capacityBytes - s.usedBytes();
        for (long index = BlockLayout.index(start); index <= BlockLayout.index(end - 1); index++) {
            long blockStart = BlockLayout.start(index);
            int need = (int) (Math.min(end, blockStart + BlockLayout.BLOCK_SIZE) - blockStart);
            int have = s.blockLength(ino, index);
            if (have >= need) {
                continue;
            }
            long delta = need - Math.max(have, 0);
            if (delta > budgetLeft) {
                throw new FsException(Errno.ENOSPC, "the file system's size budget is full");
            }
            budgetLeft -= delta;
            byte[] old = have > 0 ? s.block(ino, index) : null;
            byte[] block = old == null ? new byte[need] : java.util.Arrays.copyOf(old, need);
            s.putBlock(ino, index, blockStart, block, need);
            grown += delta;
        }
        s.addUsedBytes(grown);
        return grown;
    }

    /** Zeroes [start, end): whole blocks are dropped, partial ones zeroed; returns bytes freed. */
    private static long punchHole(Store s, long ino, long start, long end) {
        long freed = 0;
        long firstWhole = (start + BlockLayout.BLOCK_SIZE - 1) / BlockLayout.BLOCK_SIZE;
        long endWhole = end / BlockLayout.BLOCK_SIZE;
        if (endWhole > firstWhole) {
            freed += s.deleteBlocks(ino, firstWhole, endWhole);
        }
        long first = BlockLayout.index(start);
        long last = BlockLayout.index(end - 1);
        for (long index : first == last ? new long[] {first} : new long[] {first, last}) {
            if (index >= firstWhole && index < endWhole) {
                continue; // already dropped whole
            }
            byte[] data = s.block(ino, index);
            if (data == null) {
                continue;
            }
            long blockStart = BlockLayout.start(index);
            int from = (int) Math.max(0, start - blockStart);
            int to = (int) Math.min(data.length, end - blockStart);
            if (to > from) {
                java.util.Arrays.fill(data, from, to, (byte) 0);
                s.putBlock(ino, index, blockStart, data, data.length);
            }
        }
        s.addUsedBytes(-freed);
        return freed;
    }

    // --- extended attributes ---------------------------------------------------------------------------------

    private static void checkXattrName(Caller c, InodeRow r, String name) {
        if (name.isEmpty() || name.getBytes(StandardCharsets.UTF_8).length > XATTR_NAME_MAX) {
            throw new FsException(Errno.ERANGE, "bad attribute name length");
        }
        if (name.startsWith("user.")) {
            if (!Mode.isRegular(r.mode) && !Mode.isDirectory(r.mode)) {
                throw new FsException(Errno.EPERM, "user attributes only on files and directories");
            }
        } else if (name.startsWith("trusted.")) {
            if (!c.isRoot()) {
                throw new FsException(Errno.EPERM, "trusted attributes need root");
            }
        } else if (!name.startsWith("security.")) {
            // system.* (ACLs and the like) and unknown namespaces
            throw new FsException(Errno.EOPNOTSUPP, "attribute namespace not supported: " + name);
        }
    }

    public void setxattr(Caller c, String path, String name, byte[] value, int flags) {
        if (value.length > XATTR_SIZE_MAX) {
            throw new FsException(Errno.E2BIG, "attribute value larger than " + XATTR_SIZE_MAX);
        }
        if (name.startsWith(VIRTUAL_PREFIX)) {
            getattr(c, path); // the path must exist
            virtualAttribute(name).set(c, path, value);
            return;
        }
        router.write(c, s -> {
            InodeRow r = resolveInode(s, path);
            checkXattrName(c, r, name);
            byte[] old = s.xattr(r.ino, name);
            boolean exists = old != null;
            if ((flags & XATTR_CREATE) != 0 && exists) {
                throw new FsException(Errno.EEXIST, "attribute exists: " + name);
            }
            if ((flags & XATTR_REPLACE) != 0 && !exists) {
                throw new FsException(Errno.ENODATA, "no attribute " + name);
            }
            // attributes are stored data too: they are charged to the --size budget
            long delta = xattrSize(name, value) - (exists ? xattrSize(name, old) : 0);
            if (delta > capacityBytes - s.usedBytes()) {
                throw new FsException(Errno.ENOSPC, "the file system's size budget is full");
            }
            if (name.equals(SECURITY_CAPABILITY)) {
                capabilitiesStored = true; // before it can be seen; never reset, so never wrong
            }
            s.putXattr(r.ino, name, value);
            s.addUsedBytes(delta);
            r.ctimeNs = now();
            s.updateInode(r);
            return null;
        });
    }

    /** What one attribute costs in the budget, as the store counts it. */
    private static long xattrSize(String name, byte[] value) {
        return name.getBytes(StandardCharsets.UTF_8).length + value.length;
    }

    public byte[] getxattr(Caller c, String path, String name) {
        if (name.startsWith(VIRTUAL_PREFIX)) {
            getattr(c, path);
            return virtualAttribute(name).get(c, path);
        }
        if (name.equals(SECURITY_CAPABILITY) && !capabilitiesStored) {
            // The kernel asks this before every write to a file (to drop file
            // capabilities). The answer is known without a walk while none is stored;
            // the kernel only asks about paths it has just resolved.
            throw new FsException(Errno.ENODATA, "no attribute " + name);
        }
        return router.read(c, s -> {
            InodeRow r = resolveInode(s, path);
            byte[] v = s.xattr(r.ino, name);
            if (v == null) {
                throw new FsException(Errno.ENODATA, "no attribute " + name);
            }
            return v;
        });
    }

    public List<String> listxattr(Caller c, String path) {
        return router.read(c, s -> s.xattrNames(resolveInode(s, path).ino));
    }

    public void removexattr(Caller c, String path, String name) {
        if (name.startsWith(VIRTUAL_PREFIX)) {
            throw new FsException(Errno.EOPNOTSUPP, "control attributes cannot be removed: " + name);
        }
        router.write(c, s -> {
            InodeRow r = resolveInode(s, path);
            checkXattrName(c, r, name);
            if (!deleteXattr(s, r.ino, name)) {
                throw new FsException(Errno.ENODATA, "no attribute " + name);
            }
            r.ctimeNs = now();
            s.updateInode(r);
            return null;
        });
    }
}
