package io.sqliteos.db;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * A daemon thread that runs rounds of work until closed, parking in between;
 * {@link #wake} ends a park early, and {@link #close} stops it and waits for
 * the round under way.
 */
abstract class BackgroundLoop implements AutoCloseable {

    private final Thread thread;
    private volatile boolean stopped;

    BackgroundLoop(String name) {
        this.thread = new Thread(this::loop, name);
        thread.setDaemon(true);
    }

    /** Starts the thread: once the subclass is fully built. */
    final void start() {
        thread.start();
    }

    /** One round; it parks (with {@link LockSupport}) when there is nothing to do. */
    abstract void round();

    final boolean stopped() {
        return stopped;
    }

    final void wake() {
        LockSupport.unpark(thread);
    }

    private void loop() {
        while (!stopped) {
            round();
        }
    }

    @Override
    public void close() {
        stopped = true;
        wake();
        try {
            thread.join(TimeUnit.SECONDS.toMillis(10));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
