package io.sqliteos.fs;

/**
 * How file data is cut into extent rows: fixed-size blocks, so a byte's block is
 * found by division. A small write or read makes SQLite walk the whole block's
 * chain of overflow pages, so blocks are kept small: 16 KiB made random 4 KiB
 * writes and reads about half again as fast as 64 KiB, while a 128 KiB FUSE
 * write (eight whole-block replacements) ran as fast as with two. Schema
 * migration 004 cut the blocks of databases made with 64 KiB.
 */
public final class BlockLayout {

    public static final int BLOCK_SHIFT = 14;
    public static final int BLOCK_SIZE = 1 << BLOCK_SHIFT;

    private BlockLayout() {}

    public static long index(long offset) {
        return offset >>> BLOCK_SHIFT;
    }

    public static long start(long index) {
        return index << BLOCK_SHIFT;
    }
}
