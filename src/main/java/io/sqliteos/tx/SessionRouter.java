package io.sqliteos.tx;

import io.sqliteos.db.Database;
import io.sqliteos.db.Store;
import io.sqliteos.fs.Caller;
import io.sqliteos.fs.StoreRouter;
import java.util.function.Function;

/**
 * Routes each caller to its database session. A caller outside any transaction
 * reads the last committed state and writes through the shared writer, one
 * commit per operation.
 */
public final class SessionRouter implements StoreRouter {

    private final Database database;

    public SessionRouter(Database database) {
        this.database = database;
    }

    @Override
    public <T> T read(Caller caller, Function<Store, T> work) {
        return database.read(work);
    }

    @Override
    public <T> T write(Caller caller, Function<Store, T> work) {
        return database.write(work);
    }
}
