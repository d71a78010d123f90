package io.sqliteos.db;

/** One row of the inode table. Mutable: the file-system layer edits it and writes it back. */
public final class InodeRow {
    public long ino;
    public int mode;
    public int uid;
    public int gid;
    public long nlink;
    public long size;
    public long alloc;
    public long atimeNs;
    public long mtimeNs;
    public long ctimeNs;
    public long rdev;
    public byte[] target;

    /** A copy that shares nothing mutable with this row (the target's bytes are never changed in place). */
    public InodeRow copy() {
        InodeRow c = new InodeRow();
        c.ino = ino;
        c.mode = mode;
        c.uid = uid;
        c.gid = gid;
        c.nlink = nlink;
        c.size = size;
        c.alloc = alloc;
        c.atimeNs = atimeNs;
        c.mtimeNs = mtimeNs;
        c.ctimeNs = ctimeNs;
        c.rdev = rdev;
        c.target = target;
        return c;
    }
}
