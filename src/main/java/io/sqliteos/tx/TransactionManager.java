package io.sqliteos.tx;

import io.sqliteos.db.Database;
import io.sqliteos.db.Store;
import io.sqliteos.db.StoreException;
import io.sqliteos.fs.Caller;
import io.sqliteos.fs.Errno;
import io.sqliteos.fs.FsException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Open transactions and their owners. A transaction holds its own database
 * connection: a write transaction takes SQLite's write lock at begin (so other
 * writers wait, bounded by the busy timeout), a read transaction pins a
 * snapshot. Everyone else keeps reading the last committed state. A reaper
 * rolls back transactions whose owner has exited.
 *
 * <p>Errors: EEXIST nested begin; ENOENT no transaction / no such savepoint;
 * EINVAL bad verb, scope or savepoint name; EROFS a change inside a read
 * transaction; EBUSY the write lock could not be had in time.
 */
public final class TransactionManager implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(TransactionManager.class);
    private static final Pattern SAVEPOINT_NAME = Pattern.compile("[A-Za-z_][A-Za-z0-9_]{0,63}");
    /** Wraps each operation inside a transaction so that a failed one leaves no trace. */
    private static final String OPERATION_SAVEPOINT = "sqliteos_operation";
    private static final int MAX_TREE_DEPTH = 128;

    /** Told when a transaction ends, e.g. to free files unlinked inside it or to deliver messages. */
    public interface Listener {
        void ended(long transactionId, boolean committed);
    }

    private final Database database;
    private final AtomicLong nextId = new AtomicLong(1);
    private final Map<Long, Transaction> byThread = new ConcurrentHashMap<>();
    private final Map<Long, Transaction> byProcess = new ConcurrentHashMap<>();
    private final Map<Long, Transaction> byTree = new ConcurrentHashMap<>();
    private final List<Listener> listeners = new CopyOnWriteArrayList<>();
    /**
     * Which process or tree transaction a thread belongs to, learned from /proc
     * once per thread. A thread's ancestry does not change while it runs, so the
     * answer holds until a process or tree transaction begins or ends.
     */
    private volatile Map<Long, Optional<Transaction>> membership = new ConcurrentHashMap<>();
    private final ScheduledExecutorService reaper;
    private volatile CacheFence cacheFence = CacheFence.NONE;

    public TransactionManager(Database database, long reapIntervalMillis) {
        this.database = database;
        this.reaper = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "sqliteos-tx-reaper");
            t.setDaemon(true);
            return t;
        });
        reaper.scheduleWithFixedDelay(this::reapOrphans, reapIntervalMillis, reapIntervalMillis, TimeUnit.MILLISECONDS);
    }

    /** Set once at start, before any transaction: the kernel caches transactions must keep out of. */
    public void setCacheFence(CacheFence fence) {
        this.cacheFence = fence;
    }

    public void addListener(Listener listener) {
        listeners.add(listener);
    }

    /** True while any transaction is open: the kernel's page cache must then be bypassed. */
    public boolean anyOpen() {
        return !byThread.isEmpty() || !byProcess.isEmpty() || !byTree.isEmpty();
    }

    /** True while a write transaction holds the write lock. */
    public boolean anyWriter() {
        // asked by every first read after a change (its access time): without transactions, no list
        return anyOpen() && all().stream().anyMatch(t -> t.write);
    }

    private List<Transaction> all() {
        List<Transaction> out = new ArrayList<>(byThread.values());
        out.addAll(byProcess.values());
        out.addAll(byTree.values());
        return out;
    }

    /** The transaction the calling thread belongs to, or null. */
    Transaction find(Caller c) {
        if (!anyOpen()) {
            return null;
        }
        Transaction t = byThread.get(c.pid());
        if (t != null || (byProcess.isEmpty() && byTree.isEmpty())) {
            return t;
        }
        Map<Long, Optional<Transaction>> known = membership;
        Optional<Transaction> member = known.get(c.pid());
        if (member == null) {
            member = Optional.ofNullable(lookUpAncestry(c.pid()));
            known.put(c.pid(), member);
        }
        return member.filter(m -> !m.ended).orElse(null);
    }

    private Transaction lookUpAncestry(long tid) {
        long process = Procfs.processOf(tid);
        Transaction t = byProcess.get(process);
        if (t != null || byTree.isEmpty()) {
            return t;
        }
        long p = process;
        for (int depth = 0; p > 1 && depth < MAX_TREE_DEPTH; depth++, p = Procfs.parent(p)) {
            t = byTree.get(p);
            if (t != null) {
                return t;
            }
        }
        return null;
    }

    private void forgetMembership() {
        membership = new ConcurrentHashMap<>();
    }

    private Transaction required(Caller c) {
        Transaction t = find(c);
        if (t == null) {
            throw new FsException(Errno.ENOENT, "no transaction is open for this caller");
        }
        return t;
    }

    /** Begins a transaction owned by the caller's thread, process or process tree. */
    public long begin(Caller c, boolean write, Scope scope) {
        if (find(c) != null) {
            throw new FsException(Errno.EEXIST, "a transaction is already open for this caller (nest with savepoints)");
        }
        long owner = scope == Scope.THREAD ? c.pid() : Procfs.processOf(c.pid());
        long start = Procfs.startTime(owner);
        if (owner <= 0 || start < 0) {
            throw new FsException(Errno.EINVAL, "cannot identify the calling " + scope.word());
        }
        CacheFence fence = cacheFence;
        try {
            fence.enter();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new FsException(Errno.EINTR, "interrupted while the kernel's caches emptied");
        }
        Store store;
        try {
            store = database.openStore();
        } catch (RuntimeException e) {
            fence.exit();
            throw e;
        }
        try {
            store.begin(write);
            store.usedBytes(); // a first read pins the snapshot now
        } catch (StoreException e) {
            store.close();
            fence.exit();
            if (e.kind() == StoreException.Kind.BUSY) {
                throw new FsException(Errno.EBUSY, "another transaction holds the write lock");
            }
            throw e;
        }
        Transaction t = new Transaction(nextId.getAndIncrement(), write, scope, owner, start, store);
        Map<Long, Transaction> index = switch (scope) {
            case THREAD -> byThread;
            case PROCESS -> byProcess;
            case TREE -> byTree;
        };
        boolean added = index.putIfAbsent(owner, t) == null;
        if (scope != Scope.THREAD) {
            forgetMembership();
        }
        if (!added) {
            store.rollback();
            store.close();
            fence.exit();
            throw new FsException(Errno.EEXIST, "the " + scope.word() + " " + owner + " already owns a transaction");
        }
        log.info("transaction {} began: {}", t.id, t.describe());
        return t.id;
    }

    public void commit(Caller c) {
        end(required(c), true, "committed");
    }

    public void rollback(Caller c) {
        end(required(c), false, "rolled back");
    }

    private void end(Transaction t, boolean commit, String how) {
        boolean committed = false;
        t.lock.lock();
        try {
            if (t.ended) {
                throw new FsException(Errno.ENOENT, "transaction " + t.id + " has already ended");
            }
            t.ended = true;
            if (t.undoneErrno != null) {
                // nothing is left to commit or roll back: SQLite undid it all already
                if (commit) {
                    throw new FsException(t.undoneErrno, "commit failed, nothing was applied: transaction " + t.id
                            + " was undone by the database: " + t.undoneBecause);
                }
            } else if (commit) {
                try {
                    database.requireRoomToCommitTransaction();
                    t.store.commit();
                    committed = true;
                } catch (StoreException e) {
                    log.warn("transaction {} failed to commit ({}); rolling back", t.id, e.getMessage());
                    safeRollback(t);
                    throw new FsException(e.kind() == StoreException.Kind.FULL ? Errno.ENOSPC : Errno.EIO,
                            "commit failed, transaction rolled back: " + e.getMessage());
                }
            } else {
                safeRollback(t);
            }
        } finally {
            unregister(t);
            t.store.close();
            t.lock.unlock();
            cacheFence.exit();
            if (!committed || !t.write) {
                cacheFence.undone();
            }
        }
        log.info("transaction {} {}", t.id, how);
        for (Listener l : listeners) {
            try {
                l.ended(t.id, committed);
            } catch (RuntimeException e) {
                log.warn("after transaction {}: {}", t.id, e.getMessage(), e);
            }
        }
    }

    private static void safeRollback(Transaction t) {
        try {
            t.store.rollback();
        } catch (RuntimeException e) {
            log.warn("rollback of transaction {} failed: {}", t.id, e.getMessage());
        }
    }

    private void unregister(Transaction t) {
        byThread.remove(t.owner, t);
        byProcess.remove(t.owner, t);
        byTree.remove(t.owner, t);
        if (t.scope != Scope.THREAD) {
            forgetMembership();
        }
    }

    private static String checkedSavepoint(String name) {
        if (!SAVEPOINT_NAME.matcher(name).matches()) {
            throw new FsException(Errno.EINVAL, "bad savepoint name '" + name + "' (letters, digits, _; up to 64)");
        }
        return name;
    }

    public void savepoint(Caller c, String name) {
        checkedSavepoint(name);
        withLock(required(c), t -> {
            t.store.savepoint(name);
            t.savepoints.push(name);
            return null;
        });
    }

    public void release(Caller c, String name) {
        checkedSavepoint(name);
        withLock(required(c), t -> {
            requireSavepoint(t, name);
            t.store.release(name);
            while (!t.savepoints.pop().equals(name)) {
                // releasing a savepoint releases the ones opened after it too
            }
            return null;
        });
    }

    public void rollbackTo(Caller c, String name) {
        checkedSavepoint(name);
        withLock(required(c), t -> {
            requireSavepoint(t, name);
            t.store.rollbackTo(name);
            while (!t.savepoints.peek().equals(name)) {
                t.savepoints.pop(); // the named savepoint itself stays open
            }
            return null;
        });
        cacheFence.undone();
    }

    private static void requireSavepoint(Transaction t, String name) {
        if (!t.savepoints.contains(name)) {
            throw new FsException(Errno.ENOENT, "no savepoint named " + name);
        }
    }

    /** The caller's state as {@code getfattr -n user.sqliteos.tx} shows it. */
    public String describe(Caller c) {
        Transaction t = find(c);
        return t == null ? "none" : t.describe();
    }

    public List<String> savepoints(Caller c) {
        Transaction t = required(c);
        List<String> names = new ArrayList<>(t.savepoints);
        java.util.Collections.reverse(names);
        return names;
    }

    private <T> T withLock(Transaction t, Function<Transaction, T> body) {
        t.lock.lock();
        try {
            if (t.ended) {
                throw new FsException(Errno.ENOENT, "transaction " + t.id + " has ended");
            }
            if (t.undoneErrno != null) {
                // its connection is outside any transaction now: anything run on it would commit alone
                throw new FsException(t.undoneErrno, "transaction " + t.id + " was undone by the database: " + t.undoneBecause);
            }
            return body.apply(t);
        } finally {
            t.lock.unlock();
        }
    }

    /** Runs one file-system operation inside the transaction: it applies whole or not at all. */
    <T> T run(Transaction t, boolean write, Function<Store, T> work) {
        return withLock(t, tx -> {
            if (!write) {
                return work.apply(tx.store);
            }
            if (!tx.write) {
                log.info("transaction {} is read-only: a change was refused", tx.id);
                throw new FsException(Errno.EROFS, "transaction " + tx.id + " is read-only");
            }
            tx.store.savepoint(OPERATION_SAVEPOINT);
            try {
                T result = work.apply(tx.store);
                tx.store.release(OPERATION_SAVEPOINT);
                return result;
            } catch (RuntimeException e) {
                try {
                    tx.store.rollbackTo(OPERATION_SAVEPOINT);
                    tx.store.release(OPERATION_SAVEPOINT);
                } catch (RuntimeException undo) {
                    // SQLite undid the whole transaction by itself, savepoints and all
                    boolean full = e instanceof StoreException se && se.kind() == StoreException.Kind.FULL;
                    tx.undoneErrno = full ? Errno.ENOSPC : Errno.EIO;
                    tx.undoneBecause = e.getMessage();
                    log.warn("transaction {} was undone by the database ({}); every further operation in it fails"
                            + " until its owner ends it, and a commit applies nothing", tx.id, e.getMessage());
                }
                throw e;
            }
        });
    }

    /** A process's transaction as a service acting for that process (such as IPC) sees it. */
    public interface ProcessTransaction {
        long id();

        /** Runs one operation inside the transaction, whole or not at all (EROFS for a change in a read one). */
        <T> T run(boolean write, Function<Store, T> work);
    }

    /**
     * The transaction that process {@code pid} (started at {@code startTime})
     * belongs to, by its own process or its tree, or null. The pid must come from
     * the kernel (e.g. a socket's peer credentials), never from the client; a
     * process that has exited, or a later one reusing its id, has none.
     */
    public ProcessTransaction transactionOfProcess(long pid, long startTime) {
        if (!anyOpen() || !Procfs.alive(pid, startTime)) {
            return null;
        }
        // the kernel names the peer's process, not one of its threads: thread transactions are not joined
        Transaction t = byThread.isEmpty() ? find(new Caller(-1, -1, pid)) : lookUpAncestry(pid);
        if (t == null || t.ended) {
            return null;
        }
        return new ProcessTransaction() {
            @Override
            public long id() {
                return t.id;
            }

            @Override
            public <T> T run(boolean write, Function<Store, T> work) {
                return TransactionManager.this.run(t, write, work);
            }
        };
    }

    private void reapOrphans() {
        for (Transaction t : all()) {
            if (!Procfs.alive(t.owner, t.ownerStartTime)) {
                log.warn("owner {} of transaction {} is gone; rolling back", t.owner, t.id);
                try {
                    end(t, false, "rolled back (owner exited)");
                } catch (RuntimeException e) {
                    log.debug("transaction {} ended meanwhile: {}", t.id, e.getMessage());
                }
            }
        }
    }

    /** Rolls back whatever is still open: the daemon is stopping. */
    @Override
    public void close() {
        reaper.shutdownNow();
        for (Transaction t : all()) {
            try {
                end(t, false, "rolled back (daemon stopping)");
            } catch (RuntimeException e) {
                log.debug("closing transaction {}: {}", t.id, e.getMessage());
            }
        }
    }
}
