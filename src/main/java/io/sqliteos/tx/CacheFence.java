package io.sqliteos.tx;

/**
 * Keeps the kernel's shared caches out of transactions. The kernel caches
 * names for every process alike; while a transaction is open nothing may be
 * cached (one process's uncommitted names must not reach another), and a
 * transaction may only begin once whatever was cached before has expired.
 */
public interface CacheFence {

    /** A transaction is about to begin: stop caching and wait until earlier entries have expired. */
    void enter() throws InterruptedException;

    /** A transaction has ended (or failed to begin). */
    void exit();

    /** For a mount that caches nothing. */
    CacheFence NONE = new CacheFence() {
        @Override
        public void enter() {}

        @Override
        public void exit() {}
    };
}
