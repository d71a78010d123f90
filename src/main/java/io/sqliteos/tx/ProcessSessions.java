package io.sqliteos.tx;

import io.sqliteos.db.Database;
import io.sqliteos.db.Store;
import io.sqliteos.fs.FsException;
import java.nio.file.Path;
import java.util.function.Function;

/**
 * Database sessions for a service acting for a process the kernel named (the
 * IPC service, from a socket's peer credentials): the transaction of that
 * process or its tree when it has one, else the shared committed state, one
 * commit per change, as for file operations.
 */
public final class ProcessSessions {

    /** A request the process's transaction refused (a change in a read transaction, an ended one). */
    public static final class Refused extends RuntimeException {
        Refused(String message) {
            super(message, null, false, false);
        }
    }

    private final Database database;
    private final TransactionManager transactions;

    public ProcessSessions(Database database, TransactionManager transactions) {
        this.database = database;
        this.transactions = transactions;
    }

    /** The start time of a process, to tell it later from another that reuses its id; -1 when it is gone. */
    public static long startTime(long pid) {
        return Procfs.startTime(pid);
    }

    /** The transaction process {@code pid} (started at {@code startTime}) belongs to, or 0. */
    public long transactionOf(long pid, long startTime) {
        TransactionManager.ProcessTransaction t = transactions.transactionOfProcess(pid, startTime);
        return t == null ? 0 : t.id();
    }

    /** Runs {@code work} in the process's transaction if it has one, else on the committed state. */
    public <T> T run(long pid, long startTime, boolean write, Function<Store, T> work) {
        TransactionManager.ProcessTransaction t = transactions.transactionOfProcess(pid, startTime);
        if (t == null) {
            return write ? committedWrite(work) : committedRead(work);
        }
        try {
            return t.run(write, work);
        } catch (FsException e) {
            throw new Refused("in transaction " + t.id() + ": " + e.getMessage());
        }
    }

    /** One read of the last committed state. */
    public <T> T committedRead(Function<Store, T> work) {
        return database.read(work);
    }

    /** One committed change through the shared writer (waits, bounded, while a transaction holds the lock). */
    public <T> T committedWrite(Function<Store, T> work) {
        return database.write(work);
    }

    /** True while a write transaction holds the write lock: a shared change would have to wait for it. */
    public boolean writerActive() {
        return transactions.anyWriter();
    }

    /** Runs {@code action} after every transaction ends, committed or not. */
    public void afterEachTransaction(Runnable action) {
        transactions.addListener((id, committed) -> action.run());
    }

    /**
     * The database file, for a read-only query on its own connection, with
     * every plain write that has returned committed in it.
     */
    public Path databaseFileForQuery() {
        database.publish();
        return database.file();
    }
}
