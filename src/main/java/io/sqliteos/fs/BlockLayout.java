package io.sqliteos.fs;

/**
 * How file data is cut into extent rows: fixed-size blocks, so a byte's block is
 * found by division. 64 KiB keeps a 128 KiB FUSE write to two whole-block
 * replacements while keeping the read-modify-write of a small write modest.
 */
public final class BlockLayout {

    public static final int BLOCK_SHIFT = 16;
    public static final int BLOCK_SIZE = 1 << BLOCK_SHIFT;

    private BlockLayout() {}

    public static long index(long offset) {
        return offset >>> BLOCK_SHIFT;
    }

    public static long start(long index) {
        return index << BLOCK_SHIFT;
    }
}
