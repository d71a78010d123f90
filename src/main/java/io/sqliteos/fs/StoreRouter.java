package io.sqliteos.fs;

import io.sqliteos.db.Store;
import java.util.Optional;
import java.util.function.Function;

/**
 * Decides which database session serves a caller: the shared one, or the
 * caller's own transaction. The file system reads and writes state only
 * through this, so that transactions can stand between it and the database.
 */
public interface StoreRouter {

    /** Runs {@code work} in a consistent read of the state the caller may see. */
    <T> T read(Caller caller, Function<Store, T> work);

    /** True when the caller's reads belong to a transaction of its own, and so to no other thread. */
    boolean inTransaction(Caller caller);

    /** Runs {@code work} in a consistent read of the last committed state, on any thread. */
    <T> T readCommitted(Function<Store, T> work);

    /** Runs {@code work} as one atomic change on behalf of the caller. */
    <T> T write(Caller caller, Function<Store, T> work);

    /** Like {@link #write}, for a change that frees space: it may draw on space held back for a full disk. */
    default <T> T writeFreeingSpace(Caller caller, Function<Store, T> work) {
        return write(caller, work);
    }

    /**
     * Like {@link #write}, but only if it need not wait for another session's
     * write lock: for housekeeping (access times) that must never block a reader.
     */
    <T> Optional<T> writeIfFree(Caller caller, Function<Store, T> work);

    /** True when files opened by this caller must bypass the kernel's shared page cache. */
    boolean bypassPageCache(Caller caller);
}
