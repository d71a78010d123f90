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
}
