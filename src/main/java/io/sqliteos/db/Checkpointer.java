package io.sqliteos.db;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Copies committed pages from the write-ahead log into the database file on a
 * thread of its own, shortly after writes, so that a committing writer does not
 * pay for it. It uses passive checkpoints, which never wait for and never block
 * readers or writers. Small commits are copied at a pause; large writes at
 * once, so that a stream of them is copied on another processor while the
 * writer goes on. Connections keep an automatic checkpoint threshold as a
 * backstop that bounds the log when this thread falls behind (see Database).
 *
 * <p>Once the commits pause, it empties the log and then runs the work that
 * needs an empty log ({@link AfterLogEmptied}: giving free pages back).
 */
final class Checkpointer extends BackgroundLoop {

    private static final Logger log = LoggerFactory.getLogger(Checkpointer.class);
    /**
     * A checkpoint waits for a pause this long in the commits, or for this many
     * commits: copying the pages a stream of commits rewrites (the same few
     * index pages each time) once per pause instead of once per commit.
     */
    private static final long PAUSE_NANOS = TimeUnit.MILLISECONDS.toNanos(20);
    private static final long MAX_COMMITS = 64;
    /**
     * File data committed since the last checkpoint past which the next one starts
     * at once: a stream of large writes has no pause, and a copy made while the
     * writer serves its next request, on the other processor, lets the writer's
     * next transaction start the log over instead of copying it itself.
     */
    private static final long EAGER_BYTES = 1L << 20;
    /** After this long without a commit the log file is emptied, giving its RAM (or disk) back. */
    private static final long IDLE_NANOS = TimeUnit.MILLISECONDS.toNanos(500);
    /**
     * While a reader or a transaction keeps the log busy, the tries to empty it
     * come ever further apart, up to this; the next commit resets the pace.
     */
    private static final long MAX_IDLE_NANOS = TimeUnit.SECONDS.toNanos(30);

    /** A pass of the work after the log was emptied that ran out of time goes on after this pause. */
    private static final long MORE_NANOS = TimeUnit.MILLISECONDS.toNanos(20);

    /** Work for an idle database whose log this thread has just emptied. */
    interface AfterLogEmptied {
        /** DONE: nothing left; MORE: soon again; BUSY: kept from it; LATER: again in {@code laterNanos}. */
        record Outcome(Kind kind, long laterNanos) {
            enum Kind { DONE, MORE, BUSY, LATER }

            static final Outcome DONE = new Outcome(Kind.DONE, 0);
            static final Outcome MORE = new Outcome(Kind.MORE, 0);
            static final Outcome BUSY = new Outcome(Kind.BUSY, 0);

            static Outcome later(long nanos) {
                return new Outcome(Kind.LATER, nanos);
            }
        }

        /** Runs on this thread's connection, with no transaction open on it. */
        Outcome run(Connection connection);
    }

    private final Connection connection;
    private final AfterLogEmptied afterLogEmptied;
    private final AtomicLong pendingCommits = new AtomicLong();
    private final AtomicLong pendingDataBytes = new AtomicLong();

    private boolean idleWorkLeft = true; // this thread's own: the log may hold frames, or the idle work is not done
    private long idleNanos = IDLE_NANOS; // this thread's own

    Checkpointer(Connection connection, AfterLogEmptied afterLogEmptied) throws SQLException {
        super("sqliteos-checkpoint");
        this.connection = connection;
        this.afterLogEmptied = afterLogEmptied;
        try (Statement st = connection.createStatement()) {
            // a passive checkpoint never waits anyway; an idle one that would must not either
            st.execute("PRAGMA busy_timeout = 0");
        }
        start();
    }

    /** A write transaction committed: its pages wait in the log. */
    void committed() {
        committed(0);
    }

    /** A write transaction that stored {@code dataBytes} bytes of file data committed. */
    void committed(long dataBytes) {
        long data = pendingDataBytes.addAndGet(dataBytes);
        boolean first = pendingCommits.getAndIncrement() == 0;
        if (first || (data >= EAGER_BYTES && data - dataBytes < EAGER_BYTES)) {
            wake();
        }
    }

    @Override
    void round() {
        long before = pendingCommits.get();
        if (before == 0) {
            if (!idleWorkLeft) {
                LockSupport.park(this);
            } else {
                LockSupport.parkNanos(this, idleNanos);
                if (pendingCommits.get() == 0 && !stopped()) {
                    idleRound();
                }
            }
            return;
        }
        if (pendingDataBytes.get() < EAGER_BYTES) {
            LockSupport.parkNanos(this, PAUSE_NANOS);
            long after = pendingCommits.get();
            if (after != before && after < MAX_COMMITS && pendingDataBytes.get() < EAGER_BYTES && !stopped()) {
                return; // still committing small changes: wait for the pause
            }
        }
        pendingCommits.set(0);
        pendingDataBytes.set(0);
        checkpoint();
        idleWorkLeft = true;
        idleNanos = IDLE_NANOS;
    }

    /** Empties the log and does the idle work; when either is kept from it, tries again later, ever later. */
    private void idleRound() {
        AfterLogEmptied.Outcome outcome = emptyLog() ? runAfterLogEmptied() : AfterLogEmptied.Outcome.BUSY;
        switch (outcome.kind()) {
            case DONE -> {
                idleWorkLeft = false;
                idleNanos = IDLE_NANOS;
            }
            case MORE -> idleNanos = MORE_NANOS;
            case BUSY -> idleNanos = Math.min(2 * Math.max(idleNanos, IDLE_NANOS), MAX_IDLE_NANOS);
            case LATER -> idleNanos = Math.max(outcome.laterNanos(), MORE_NANOS);
        }
    }

    private AfterLogEmptied.Outcome runAfterLogEmptied() {
        try {
            return afterLogEmptied.run(connection);
        } catch (RuntimeException e) {
            log.warn("idle work after a checkpoint failed: {}", e.toString(), e);
            return AfterLogEmptied.Outcome.DONE;
        }
    }

    /**
     * Copies what is left in the log and truncates the log file to nothing, if
     * no reader or writer is using it (else it gives up at once and a later
     * round tries again). Otherwise the file keeps the size a burst of writes
     * gave it until the next write (and then shrinks only to the journal size
     * limit).
     */
    private boolean emptyLog() {
        try {
            return emptyLog(connection);
        } catch (SQLException e) {
            log.debug("emptying the log failed: {}", e.getMessage());
            return false;
        }
    }

    /** Copies the log into the database and truncates it to nothing on {@code connection}; true if it did. */
    static boolean emptyLog(Connection connection) throws SQLException {
        try (Statement st = connection.createStatement();
                ResultSet rs = st.executeQuery("PRAGMA wal_checkpoint(TRUNCATE)")) {
            return rs.next() && rs.getInt(1) == 0;
        }
    }

    private void checkpoint() {
        try (Statement st = connection.createStatement()) {
            st.execute("PRAGMA wal_checkpoint(PASSIVE)");
        } catch (SQLException e) {
            // the backstop checkpoints of the writers still bound the log
            log.debug("background checkpoint failed: {}", e.getMessage());
        }
    }

    @Override
    public void close() {
        super.close();
        try {
            connection.close();
        } catch (SQLException e) {
            log.warn("closing the checkpoint connection: {}", e.getMessage());
        }
    }
}
