package io.sqliteos.db;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * Commits the writer's open batch of plain writes once it is due, on a thread
 * of its own, so that a batch never outlives its time limit when no further
 * write comes to close it.
 */
final class BatchCommitter implements AutoCloseable {

    private final Runnable commitIfDue;
    private final Thread thread;
    /** When the open batch is due ({@link System#nanoTime}); 0 while none is open. */
    private volatile long dueNanos;
    private volatile boolean stopped;

    BatchCommitter(Runnable commitIfDue) {
        this.commitIfDue = commitIfDue;
        this.thread = new Thread(this::run, "sqliteos-batch-commit");
        thread.setDaemon(true);
        thread.start();
    }

    /** A batch opened, to commit at {@code due}. */
    void opened(long due) {
        dueNanos = due == 0 ? 1 : due;
        LockSupport.unpark(thread);
    }

    /** The open batch committed (or there was none). */
    void closed() {
        dueNanos = 0;
    }

    private void run() {
        while (!stopped) {
            long due = dueNanos;
            if (due == 0) {
                LockSupport.park(this);
                continue;
            }
            long wait = due - System.nanoTime();
            if (wait > 0) {
                LockSupport.parkNanos(this, wait);
                continue;
            }
            commitIfDue.run();
        }
    }

    @Override
    public void close() {
        stopped = true;
        LockSupport.unpark(thread);
        try {
            thread.join(TimeUnit.SECONDS.toMillis(10));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
