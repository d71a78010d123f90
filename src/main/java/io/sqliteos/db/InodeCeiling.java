package io.sqliteos.db;

import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;

/**
 * A number that no inode of one database exceeds, shared by all its
 * connections and kept in memory: every insert raises it, and a delete or a
 * rollback leaves it an upper bound still. A create can so check the inode
 * budget without asking SQLite for {@code max(ino)} each time, and number a
 * new inode without asking SQLite for the number it chose.
 */
final class InodeCeiling {

    private final AtomicLong ceiling = new AtomicLong(-1); // -1: not read from the database yet

    /** The ceiling; the first call reads the highest number stored. */
    long get(LongSupplier highestStored) {
        long c = ceiling.get();
        if (c < 0) {
            raise(highestStored.getAsLong());
            c = ceiling.get();
        }
        return c;
    }

    /**
     * A number for a new inode: above every one stored or handed out before.
     * Numbers of inodes deleted since, or of inserts rolled back, are not
     * handed out again.
     */
    long next(LongSupplier highestStored) {
        get(highestStored);
        return ceiling.incrementAndGet();
    }

    /** Notes an inode number just inserted. */
    void raise(long ino) {
        ceiling.accumulateAndGet(ino, Math::max);
    }
}
