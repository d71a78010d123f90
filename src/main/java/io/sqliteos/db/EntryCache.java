package io.sqliteos.db;

import java.util.Collection;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
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
 *
 * <p>Readers may meet an entry a moment stale, as if they had read a moment
 * earlier. The writer must not: it would change a name that is gone. Its own
 * commits are settled before it writes again, but a transaction commits on its
 * own connection, so between that commit and its settling the writer (which
 * may already hold the database) walks without the cache.
 */
final class EntryCache {

    /** Type bits of a mode: the only part of an inode an entry carries. */
    static final int S_IFMT = 0170000;
    /** About 150 bytes an entry: this bounds the cache near 40 MiB. */
    private static final int MAX_ENTRIES = 250_000;

    record Key(long parent, String name) {}

    private final ConcurrentHashMap<Key, DirEntryRow> entries = new ConcurrentHashMap<>();
    private final AtomicLong epoch = new AtomicLong();
    /** Transactions' commits begun and not yet settled. */
    private final AtomicInteger unsettledCommits = new AtomicInteger();

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

    /** A transaction's connection is about to commit changes to entries: call before its COMMIT. */
    void transactionCommitting() {
        unsettledCommits.incrementAndGet();
    }

    /** The commit announced by {@link #transactionCommitting} has {@link #settled}, whether or not it succeeded. */
    void transactionSettled() {
        unsettledCommits.decrementAndGet();
    }

    /** False while a transaction's commit may have changed entries this cache still holds. */
    boolean trustworthyForWriters() {
        return unsettledCommits.get() == 0;
    }
}
