package io.sqliteos.db;

import java.util.BitSet;
import java.util.function.Consumer;

/**
 * The inodes of one database that may hold extended attributes, shared by
 * all its connections and kept in memory, so that removing a file without
 * any (nearly every file) costs no query for them. It errs only one way: an
 * inode is added before its first attribute is written, and never taken out
 * (an attribute removed again, or written by a transaction that rolled back,
 * leaves it here, which costs that inode's removal the query it would have
 * made anyway). The attributes stored before the daemon started are read in
 * at the first question.
 */
final class XattrHolders {

    /** Inode numbers are below 2^31 (a block key keeps the block's index in the low 32 bits). */
    private static final long LARGEST_KEPT = Integer.MAX_VALUE;

    private final BitSet inodes = new BitSet();
    private boolean stored; // the inodes of attributes already stored are in

    /** Notes that {@code ino} is about to get an attribute. */
    synchronized void add(long ino) {
        if (ino >= 0 && ino <= LARGEST_KEPT) {
            inodes.set((int) ino);
        }
    }

    /**
     * False only if {@code ino} has no attribute; the first call has
     * {@code readStored} pass every inode that holds one in the database.
     */
    synchronized boolean mayHold(long ino, Consumer<Consumer<Long>> readStored) {
        if (!stored) {
            readStored.accept(this::add);
            stored = true;
        }
        return ino < 0 || ino > LARGEST_KEPT || inodes.get((int) ino);
    }
}
