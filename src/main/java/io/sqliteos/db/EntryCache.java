package io.sqliteos.db;

import java.util.Collection;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Directory entries of the committed state, and names known to be missing,
 * so that walking a path costs a map lookup per name instead of a query (the
 * rules that keep it true are {@link CommittedCache}'s). A transaction's own connection sees its
 * uncommitted changes and never reads or fills it; it tells the cache of the
 * entries it changed only when it commits.
 *
 * <p>It also knows some directories whole: those the shared writer made. A
 * name such a directory has always has a key here, so a name without one is
 * missing, and creating a file or directory there asks the database nothing.
 * This holds because every entry is made by a change, a change leaves
 * {@link #UNKNOWN} under its key until its value is known, and a key leaves
 * only when a commit has settled it as gone (and none settled after it), or
 * when the cache is cleared, which forgets every whole directory first.
 *
 * <p>The writer, unlike readers, must not meet an entry a moment stale: it
 * would change a name that is gone. Its own commits are settled before it
 * writes again, but a transaction commits on its own connection, so between
 * that commit and its settling the writer (which may already hold the
 * database) walks without the cache.
 */
final class EntryCache extends CommittedCache<EntryCache.Key, DirEntryRow> {

    /** About 150 bytes an entry: this bounds the cache near 40 MiB. */
    private static final int MAX_ENTRIES = 250_000;

    record Key(long parent, String name) {}

    /** Held for a name the directory does not have. */
    static final DirEntryRow ABSENT = new DirEntryRow("", 0, 0);
    /** Held for a name that changed while what it became is not known here: only the database knows. */
    private static final DirEntryRow UNKNOWN = new DirEntryRow("", 0, 0);

    /** Transactions' commits begun and not yet settled. */
    private final AtomicInteger unsettledCommits = new AtomicInteger();
    /** Directories every name of which has a key here. */
    private final Set<Long> wholeDirectories = ConcurrentHashMap.newKeySet();
    /** Counts the clears, so that directories known whole across one are not kept; guarded by itself. */
    private long clears;

    EntryCache() {
        super(MAX_ENTRIES, UNKNOWN);
    }

    /**
     * The entry for {@code key}: {@link #ABSENT} when its directory does not
     * have it, null when only the database knows.
     */
    DirEntryRow find(Key key) {
        DirEntryRow held = held(key);
        if (held == null) {
            // read after the key: a clear forgets whole directories before it drops any key
            return wholeDirectories.contains(key.parent()) ? ABSENT : null;
        }
        return held == UNKNOWN ? null : held;
    }

    /** A count to pass to {@link #holdWhole}: read before the first name of the directories is made. */
    synchronized long clears() {
        return clears;
    }

    /**
     * The directories in {@code dirs} have committed, each with every name
     * made in it since {@code clearsBefore} was read, and nothing else.
     */
    synchronized void holdWhole(Collection<Long> dirs, long clearsBefore) {
        if (clears == clearsBefore) {
            wholeDirectories.addAll(dirs);
        }
    }

    /** The directory is gone (or its names may change unseen): it is no longer known whole. */
    void forgetWhole(long dir) {
        wholeDirectories.remove(dir);
    }

    @Override
    synchronized void clear() {
        wholeDirectories.clear();
        clears++;
        super.clear();
    }

    /** A transaction's connection is about to commit changes to entries or inodes: call before its COMMIT. */
    void transactionCommitting() {
        unsettledCommits.incrementAndGet();
    }

    /** The commit announced by {@link #transactionCommitting} has settled, whether or not it succeeded. */
    void transactionSettled() {
        unsettledCommits.decrementAndGet();
    }

    /** False while a transaction's commit may have changed entries (or inode rows) the caches still hold. */
    boolean trustworthyForWriters() {
        return unsettledCommits.get() == 0;
    }
}
