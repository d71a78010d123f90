package io.sqliteos.tx;

import io.sqliteos.db.Store;
import io.sqliteos.fs.Errno;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.concurrent.locks.ReentrantLock;

/** One open transaction: its owner, its own database connection, and its savepoints. */
final class Transaction {

    final long id;
    final boolean write;
    final Scope scope;
    /** A thread id for THREAD scope, else a process id. */
    final long owner;
    final long ownerStartTime;
    final long beganNanos = System.nanoTime();
    final Store store;
    /** Threads of one process or tree share the connection, one request at a time. */
    final ReentrantLock lock = new ReentrantLock();
    final Deque<String> savepoints = new ArrayDeque<>();
    boolean ended;
    /**
     * Set when SQLite undid the whole transaction by itself (it does after a
     * full disk, for one): the errno every further operation in it fails with.
     */
    Errno undoneErrno;
    /** The error that made SQLite undo it, when {@link #undoneErrno} is set. */
    String undoneBecause;

    Transaction(long id, boolean write, Scope scope, long owner, long ownerStartTime, Store store) {
        this.id = id;
        this.write = write;
        this.scope = scope;
        this.owner = owner;
        this.ownerStartTime = ownerStartTime;
        this.store = store;
    }

    String describe() {
        double age = (System.nanoTime() - beganNanos) / 1e9;
        return String.format(java.util.Locale.ROOT, "id=%d mode=%s scope=%s owner=%d age=%.3fs savepoints=%d",
                id, write ? "write" : "read", scope.word(), owner, age, savepoints.size());
    }
}
