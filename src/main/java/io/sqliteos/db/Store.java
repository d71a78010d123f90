package io.sqliteos.db;

import java.util.List;

/**
 * The one narrow interface through which the file system, transactions and IPC
 * reach the database. It speaks in rows, not SQL, so that another SQL engine
 * can stand behind it. A Store is one connection: it is used by one thread at
 * a time, and every call runs inside the transaction the owner has begun.
 */
public interface Store extends MessageStore, AutoCloseable {

    // --- transaction control -------------------------------------------------

    /** Begins a transaction; {@code write} takes the write lock up front. */
    void begin(boolean write);

    void commit();

    void rollback();

    boolean inTransaction();

    void savepoint(String name);

    void release(String name);

    void rollbackTo(String name);

    // --- inodes ----------------------------------------------------------------

    /** The inode, or null when there is none with that number. */
    InodeRow inode(long ino);

    /** Inserts the row (its ino is ignored unless positive) and returns the inode number. */
    long insertInode(InodeRow row);

    void updateInode(InodeRow row);

    /**
     * Deletes the inode with its extents and extended attributes, and returns
     * the bytes its attributes held (its extents held {@code row.alloc}).
     */
    long deleteInode(InodeRow row);

    /** Inode numbers whose link count is zero: left by a crash with files open. */
    List<Long> orphans();

    long inodeCount();

    /**
     * A number no inode in use exceeds (0 when there is none), known without a
     * query: a cheap upper bound of the count.
     */
    long inodeCeiling();

    // --- directory entries ----------------------------------------------------

    /** The inode named {@code name} in {@code parent}, or 0. */
    long lookup(long parent, String name);

    /** The entry named {@code name} in {@code parent} with its inode's mode, or null. */
    DirEntryRow lookupEntry(long parent, String name);

    void insertDirent(long parent, String name, long ino);

    void deleteDirent(long parent, String name);

    /** Points an existing entry at another inode. */
    void updateDirent(long parent, String name, long ino);

    boolean hasEntries(long dir);

    /** The directory holding {@code ino}, or 0: for directories, which have exactly one entry. */
    long parentOf(long ino);

    /** Passes each entry of {@code dir} to {@code sink}, by name, within one read. */
    default void listDirectory(long dir, EntrySink sink) {
        listDirectory(dir, new byte[0], Integer.MAX_VALUE, sink);
    }

    /**
     * Passes the entries of {@code dir} whose names sort after {@code after}
     * (all of them after an empty name) to {@code sink}, by name: about
     * {@code pages} pages of {@link PackedEntries#PAGE} entries at most.
     * Returns the last name passed while more may follow, else null.
     */
    byte[] listDirectory(long dir, byte[] after, int pages, EntrySink sink);

    /**
     * Receives one directory entry: its name as stored (UTF-8), the inode, and
     * the inode's type bits. Bytes, not strings, so that a listing of many
     * entries decodes and encodes nothing on its way to the kernel.
     */
    @FunctionalInterface
    interface EntrySink {
        void accept(byte[] name, long ino, int type);

        /**
         * Receives a run of entries packed as libfuse's filler takes them
         * ({@link PackedEntries}). A sink that hands entries on to libfuse
         * takes the run as it is; any other gets each entry by {@link #accept}.
         */
        default void acceptPacked(byte[] packed) {
            PackedEntries.forEach(packed, this);
        }
    }

    // --- file data --------------------------------------------------------------

    /** The stored bytes of one block, or null for a hole. */
    byte[] block(long ino, long index);

    /**
     * The stored bytes of one block from {@code from}, at most {@code length} of
     * them (fewer where the block ends sooner), or null for a hole.
     */
    byte[] blockSlice(long ino, long index, int from, int length);

    /**
     * Calls {@code sink} with each stored block whose index is in [from, to),
     * in order, in one query; holes are skipped.
     */
    void blocks(long ino, long from, long to, BlockSink sink);

    /** Receives a stored block: its index and its bytes. */
    @FunctionalInterface
    interface BlockSink {
        void accept(long index, byte[] data);
    }

    /** Length of the stored block, or -1 for a hole. */
    int blockLength(long ino, long index);

    /** The lengths of the blocks with index in [from, to), -1 for holes, in one query. */
    int[] blockLengths(long ino, long from, long to);

    /** What {@link #blockLengths} gives for [from, to) where no block is stored: -1 each. */
    static int[] holes(long from, long to) {
        int[] lengths = new int[Math.toIntExact(to - from)];
        java.util.Arrays.fill(lengths, -1);
        return lengths;
    }

    /** Stores the first {@code length} bytes of {@code data} as the block. */
    void putBlock(long ino, long index, long offset, byte[] data, int length);

    /** {@link #putBlock} for a block known to be a hole. */
    void insertBlock(long ino, long index, long offset, byte[] data, int length);

    /**
     * Stores {@code count} whole blocks of {@code blockSize} bytes from index
     * {@code first} on, holes or not, from {@code src} at {@code srcPos}: as
     * {@link #putBlock} of each.
     */
    void putWholeBlocks(long ino, long first, int count, int blockSize, byte[] src, int srcPos);

    /** {@link #putWholeBlocks} from the buffer lent on this thread ({@link LentMemory}) at {@code lentPos}. */
    void putWholeLentBlocks(long ino, long first, int count, int blockSize, int lentPos);

    /**
     * Copies the file's bytes [offset, offset + count), blocks of
     * {@code blockSize} bytes, into the buffer lent on this thread
     * ({@link LentMemory}) at 0, zeros where no bytes are stored.
     */
    void copyOutLent(long ino, long offset, int count, int blockSize);

    /**
     * Writes {@code bytes} into an existing block at {@code from}, zero-filling
     * any gap past its end; the block grows as needed.
     */
    void patchBlock(long ino, long index, int from, byte[] bytes);

    /**
     * Writes {@code bytes} over bytes the block already holds, at {@code from}:
     * true if it did; false, changing nothing, if the block is a hole or ends
     * before {@code from + bytes.length}. The stored size is the same after.
     */
    boolean overwriteInBlock(long ino, long index, int from, byte[] bytes);

    /** Deletes the blocks with index in [from, to) and returns the bytes they held. */
    long deleteBlocks(long ino, long from, long to);

    // --- extended attributes ------------------------------------------------------

    byte[] xattr(long ino, String name);

    void putXattr(long ino, String name, byte[] value);

    boolean deleteXattr(long ino, String name);

    List<String> xattrNames(long ino);

    /** Whether any inode has an extended attribute of this name. */
    boolean anyXattrNamed(String name);

    // --- counters --------------------------------------------------------------------

    long usedBytes();

    void addUsedBytes(long delta);

    @Override
    void close();
}
