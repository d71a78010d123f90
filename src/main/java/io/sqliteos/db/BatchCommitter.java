package io.sqliteos.db;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;

/**
 * Commits the writer's open batch of plain writes once it is due, on a thread
 * of its own, so that a batch never outlives its time limit by much when no
 * further request comes to close it.
 *
 * <p>While requests keep coming, the request that finds the batch due commits
 * it (see {@code Database}); this thread looks only half a period after the
 * due time, and leaves the batch to a request that holds the write lock
 * rather than make it wait.
 *
 * <p>While batches keep opening it wakes on its own for the next one, so a
 * writer opening a batch need not wake it (a system call on the path of
 * the request): only once it has found no batch for a while does it sleep
 * until {@link #opened} wakes it.
 */
final class BatchCommitter extends BackgroundLoop {

    /** Idle this long, it sleeps until woken. */
    private static final long DOZE_NANOS = TimeUnit.MILLISECONDS.toNanos(50);

    /** Commits the batch if due; false if a request held the write lock, which then commits it. */
    private final BooleanSupplier commitIfDue;
    private final long periodNanos;
    /** When the open batch is due ({@link System#nanoTime}); 0 while none is open. */
    private volatile long dueNanos;
    /** Sleeping until woken. */
    private volatile boolean asleep;
    private long idleSince = System.nanoTime();

    BatchCommitter(BooleanSupplier commitIfDue, long periodNanos) {
        super("sqliteos-batch-commit");
        this.commitIfDue = commitIfDue;
        this.periodNanos = periodNanos;
        start();
    }

    /** A batch opened, to commit at {@code due}. */
    void opened(long due) {
        dueNanos = due == 0 ? 1 : due;
        if (asleep) {
            wake();
        }
    }

    /** The open batch committed (or there was none). */
    void closed() {
        dueNanos = 0;
    }

    @Override
    void round() {
        long due = dueNanos;
        long now = System.nanoTime();
        if (due == 0) {
            if (now - idleSince < DOZE_NANOS) {
                LockSupport.parkNanos(this, periodNanos);
                return;
            }
            asleep = true;
            if (dueNanos == 0 && !stopped()) { // a batch that opened meanwhile saw asleep false and did not wake us
                LockSupport.park(this);
            }
            asleep = false;
            idleSince = System.nanoTime();
            return;
        }
        long late = due + periodNanos / 2; // a request arriving until then commits the batch itself
        if (late - now > 0) {
            LockSupport.parkNanos(this, late - now);
            return;
        }
        if (!commitIfDue.getAsBoolean()) {
            // a request holds the lock and will commit the batch if still due: look again later
            LockSupport.parkNanos(this, periodNanos / 4);
            return;
        }
        idleSince = System.nanoTime();
    }
}
