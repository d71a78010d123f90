package io.sqliteos.db;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * Directory entries of the committed state, and names known to be missing,
 * so that walking a path costs a map lookup per name instead of a query (the
 * rules that keep it true are {@link CommittedCache}'s). A transaction's own connection sees its
 * uncommitted changes and never reads or fills it; it tells the cache of the
 * entries it changed only when it commits.
 *
 * <p>The writer, unlike readers, must not meet an entry a moment stale: it
 * would change a name that is gone. Its own commits are settled before it
 * writes again, but a transaction commits on its own connection, so between
 * that commit and its settling the writer (which may already hold the
 * database) walks without the cache.
 */
final class EntryCache extends CommittedCache<EntryCache.Key, DirEntryRow> {

    /** Type bits of a mode: the only part of an inode an entry carries. */
    static final int S_IFMT = 0170000;
    /** About 150 bytes an entry: this bounds the cache near 40 MiB. */
    private static final int MAX_ENTRIES = 250_000;

    record Key(long parent, String name) {}

    /** Held for a name the directory does not have. */
    static final DirEntryRow ABSENT = new DirEntryRow("", 0, 0);

    /** Transactions' commits begun and not yet settled. */
    private final AtomicInteger unsettledCommits = new AtomicInteger();

    EntryCache() {
        super(MAX_ENTRIES);
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
