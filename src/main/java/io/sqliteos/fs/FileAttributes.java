package io.sqliteos.fs;

import io.sqliteos.db.InodeRow;

/** What stat(2) reports for an inode. Times are nanoseconds since the epoch. */
public record FileAttributes(long ino, int mode, long nlink, int uid, int gid, long rdev, long size,
                             long blocks, long atimeNs, long mtimeNs, long ctimeNs) {

    static FileAttributes of(InodeRow r) {
        return new FileAttributes(r.ino, r.mode, r.nlink, r.uid, r.gid, r.rdev, r.size,
                (r.alloc + 511) / 512, r.atimeNs, r.mtimeNs, r.ctimeNs);
    }

    public boolean isDirectory() {
        return Mode.isDirectory(mode);
    }
}
