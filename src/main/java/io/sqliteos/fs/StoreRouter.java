package io.sqliteos.fs;

import io.sqliteos.db.Store;
import java.util.function.Function;

/**
 * Decides which database session serves a caller: the shared one, or the
 * caller's own transaction. The file system reads and writes state only
 * through this, so that transactions can stand between it and the database.
 */
public interface StoreRouter {

    /** Runs {@code work} in a consistent read of the state the caller may see. */
    <T> T read(Caller caller, Function<Store, T> work);

    /** Runs {@code work} as one atomic change on behalf of the caller. */
    <T> T write(Caller caller, Function<Store, T> work);
}
