package io.sqliteos.tx;

import io.sqliteos.db.Database;
import io.sqliteos.db.Store;
import io.sqliteos.fs.Caller;
import io.sqliteos.fs.StoreRouter;
import java.util.Optional;
import java.util.function.Function;

/**
 * Routes each caller to its database session: a caller inside a transaction
 * works on that transaction's connection; everyone else reads the last
 * committed state and writes through the shared writer, one commit per
 * operation (waiting, bounded, while a transaction holds the write lock).
 */
public final class SessionRouter implements StoreRouter {

    private final Database database;
    private final TransactionManager transactions;

    public SessionRouter(Database database, TransactionManager transactions) {
        this.database = database;
        this.transactions = transactions;
    }

    /** A router with its own transaction manager, reaping exited owners every 200 ms. */
    public SessionRouter(Database database) {
        this(database, new TransactionManager(database, 200));
    }

    public TransactionManager transactions() {
        return transactions;
    }

    @Override
    public <T> T read(Caller caller, Function<Store, T> work) {
        Transaction t = transactions.find(caller);
        return t != null ? transactions.run(t, false, work) : database.read(work);
    }

    @Override
    public boolean inTransaction(Caller caller) {
        return transactions.find(caller) != null;
    }

    @Override
    public <T> T readCommitted(Function<Store, T> work) {
        return database.read(work);
    }

    @Override
    public <T> T write(Caller caller, Function<Store, T> work) {
        Transaction t = transactions.find(caller);
        return t != null ? transactions.run(t, true, work) : database.write(work);
    }

    @Override
    public <T> T writeFreeingSpace(Caller caller, Function<Store, T> work) {
        Transaction t = transactions.find(caller);
        return t != null ? transactions.run(t, true, work) : database.writeFreeingSpace(work);
    }

    @Override
    public <T> Optional<T> writeIfFree(Caller caller, Function<Store, T> work) {
        Transaction t = transactions.find(caller);
        if (t != null) {
            return t.write ? Optional.ofNullable(transactions.run(t, true, work)) : Optional.empty();
        }
        return transactions.anyWriter() ? Optional.empty() : Optional.ofNullable(database.write(work));
    }

    @Override
    public boolean bypassPageCache(Caller caller) {
        return transactions.anyOpen();
    }
}
