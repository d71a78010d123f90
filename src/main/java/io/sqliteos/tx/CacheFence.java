package io.sqliteos.tx;

/**
 * Keeps the kernel's shared caches out of transactions. The kernel caches
 * names for every process alike; while a transaction is open nothing may be
 * cached (one process's uncommitted names must not reach another), and a
 * transaction may only begin once whatever was cached before has expired.
 * Its file pages, too, must not keep what a transaction read or wrote once
 * that is undone.
 */
public interface CacheFence {

    /** A transaction is about to begin: stop caching and wait until earlier entries have expired. */
    void enter() throws InterruptedException;

    /** A transaction has ended (or failed to begin). */
    void exit();

    /**
     * What a transaction wrote is undone (a rollback, a rollback to a
     * savepoint), or what it read is no longer what others see (a read-only
     * transaction ended): nothing of it may stay in the kernel's caches.
     * Called with no transaction lock held, before the request returns.
     */
    default void undone() {}

    /** For a mount that caches nothing. */
    CacheFence NONE = new CacheFence() {
        @Override
        public void enter() {}

        @Override
        public void exit() {}
    };
}
