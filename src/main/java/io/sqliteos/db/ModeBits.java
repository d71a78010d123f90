package io.sqliteos.db;

/**
 * The type bits of an inode's mode, as the database layer reads them: in
 * queries over {@code inode.mode} and {@code dirent.type}, and to tell a
 * directory from other inodes. (The file system's own view is
 * {@code io.sqliteos.fs.Mode}, which this layer does not depend on.)
 */
final class ModeBits {

    /** The type bits of a mode: all that an entry's {@code type} keeps. */
    static final int S_IFMT = 0170000;
    static final int S_IFDIR = 0040000;

    private ModeBits() {}

    static boolean isDirectory(int mode) {
        return (mode & S_IFMT) == S_IFDIR;
    }
}
