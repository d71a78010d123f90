package io.sqliteos.db;

import java.util.Collection;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Values of the committed state held in memory, so that a read finds them
 * without a query.
 *
 * <p>Why it stays true: every change to a key removes it here when made, and
 * again after the change commits, with the epoch bumped first. A value read
 * from the database goes in only if the epoch is still the one seen before the
 * snapshot it was read in began: no commit has settled since, so it is not
 * older than anything settled. The check and the put are one atomic step for
 * the key, so a value that fails it is never seen, not even for a moment.
 * Only what the shared connections read or wrote (they see nothing
 * uncommitted) is ever put in.
 *
 * <p>Readers may meet a value a moment stale, as if they had read a moment
 * earlier: between a commit and its settling.
 *
 * <p>A cache may name a stand-in for "changing, ask the database": then a
 * change leaves the stand-in under its key rather than no key, and a key
 * leaves only when a commit settles it as gone ({@link #settledAbsent}), or
 * with all the others when the cache is cleared.
 */
class CommittedCache<K, V> {

    private final ConcurrentHashMap<K, V> values = new ConcurrentHashMap<>();
    private final AtomicLong epoch = new AtomicLong();
    private final int maxValues;
    /** Held for a key that changed while its value is not known; null: such keys are removed. */
    private final V unknown;

    CommittedCache(int maxValues) {
        this(maxValues, null);
    }

    CommittedCache(int maxValues, V unknown) {
        this.maxValues = maxValues;
        this.unknown = unknown;
    }

    /** The epoch to pass to {@link #fill}; read before the snapshot the value comes from begins. */
    final long epoch() {
        return epoch.get();
    }

    final V get(K key) {
        V v = values.get(key);
        return v == unknown ? null : v;
    }

    /** What is held for {@code key}: its value, the stand-in, or null for no key. */
    final V held(K key) {
        return values.get(key);
    }

    /** Keeps a value read from the database in a snapshot begun at {@code seenEpoch}. */
    final void fill(K key, V value, long seenEpoch) {
        if (values.size() >= maxValues) {
            clear(); // a read that misses is only slower
        }
        values.compute(key, (k, held) -> epoch.get() == seenEpoch ? value : held);
    }

    /** A value is about to change in an open write. */
    final void changing(K key) {
        forget(key);
    }

    private void forget(K key) {
        if (unknown == null) {
            values.remove(key);
        } else {
            values.put(key, unknown);
        }
    }

    /**
     * The key is known to hold nothing in the state a commit settled at
     * {@code settledEpoch}: drops it, unless another commit has settled since
     * (that one's change then stays marked). Keeps no key for what is gone.
     */
    final void settledAbsent(K key, long settledEpoch) {
        values.computeIfPresent(key, (k, held) -> epoch.get() == settledEpoch ? null : held);
    }

    /** How many keys are held (with a value or the stand-in). */
    final int size() {
        return values.size();
    }

    /** Drops every value. */
    void clear() {
        values.clear();
    }

    /**
     * The write that changed {@code keys} has committed (or may have). Returns
     * the epoch it moved to: the committed values can be filled in with it.
     */
    final long settled(Collection<K> keys) {
        long now = epoch.incrementAndGet();
        for (K k : keys) {
            forget(k);
        }
        return now;
    }
}
