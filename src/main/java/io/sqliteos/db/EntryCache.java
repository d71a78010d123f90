package io.sqliteos.db;

import java.util.Collection;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Directory entries of the committed state, held in memory so that walking a
 * path costs a map lookup per name instead of a query. Only the shared
 * connections (the plain writer and the readers) use it; a transaction's own
 * connection sees its uncommitted changes and never reads or fills it.
 *
 * <p>Why it stays true: every change to an entry removes it here, and removes it
 * again after the change commits or rolls back, with the epoch bumped in
 * between. A reader keeps what it read from the database only if the epoch is
 * still the one it saw before its snapshot began, and it checks that after
 * putting the entry in, so a racing removal always wins. A transaction's own
 * connection tells the cache of the entries it changed only when it commits.
 */
final class EntryCache {

    /** Type bits of a mode: the only part of an inode an entry carries. */
    static final int S_IFMT = 0170000;
    /** About 150 bytes an entry: this bounds the cache near 40 MiB. */
    private static final int MAX_ENTRIES = 250_000;

    record Key(long parent, String name) {}

    private final ConcurrentHashMap<Key, DirEntryRow> entries = new ConcurrentHashMap<>();
    private final AtomicLong epoch = new AtomicLong();

    /** The epoch to pass to {@link #fill}; read before the snapshot the value comes from begins. */
    long epoch() {
        return epoch.get();
    }

    DirEntryRow get(Key key) {
        return entries.get(key);
    }

    /** Keeps an entry read from the database in a snapshot begun at {@code seenEpoch}. */
    void fill(Key key, DirEntryRow entry, long seenEpoch) {
        if (entries.size() >= MAX_ENTRIES) {
            entries.clear(); // the walk of a path that misses is only slower
        }
        entries.put(key, entry);
        if (epoch.get() != seenEpoch) {
            entries.remove(key, entry);
        }
    }

    /** An entry is about to change in an open write. */
    void changing(Key key) {
        entries.remove(key);
    }

    /** The write that changed {@code keys} has committed or rolled back. */
    void settled(Collection<Key> keys) {
        epoch.incrementAndGet();
        for (Key k : keys) {
            entries.remove(k);
        }
    }

    int size() {
        return entries.size();
    }
}
