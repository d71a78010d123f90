package io.sqliteos.db;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Copies committed pages from the write-ahead log into the database file on a
 * thread of its own, shortly after writes, so that a committing writer does not
 * pay for it. It uses passive checkpoints, which never wait for and never block
 * readers or writers. Connections keep a large automatic checkpoint threshold as
 * a backstop that bounds the log when this thread falls behind.
 *
 * <p>When the mount is quiet it also gives back the pages that deleted files
 * left free: SQLite keeps them for reuse, so without this a database in RAM
 * would hold the memory of everything ever stored, and a full disk would stay
 * full after a deletion. A few megabytes at a time are moved to the end of the
 * file (an incremental vacuum, in a write transaction begun only while nobody
 * else writes) and cut off when the log is next emptied. Databases made
 * before they kept the map of their pages this needs keep their free pages.
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
    /** After this long without a commit the log file is emptied, giving its RAM (or disk) back. */
    private static final long IDLE_NANOS = TimeUnit.MILLISECONDS.toNanos(500);
    /**
     * While a reader or a transaction keeps the log busy, the tries to empty it
     * come ever further apart, up to this; the next commit resets the pace.
     */
    private static final long MAX_IDLE_NANOS = TimeUnit.SECONDS.toNanos(30);
    /** Free pages worth giving back (8 KiB each), and how many at most in one transaction. */
    private static final int MIN_FREE_PAGES = 256;
    private static final int FREE_PAGES_PER_ROUND = 1024;
    /** The pause between rounds of giving pages back, while the mount stays quiet. */
    private static final long GIVE_BACK_PAUSE_NANOS = TimeUnit.MILLISECONDS.toNanos(20);

    private final Connection connection;
    private final AtomicLong pendingCommits = new AtomicLong();

    private final boolean givesPagesBack;
    /** Requests the database has served so far: a mount that is busy reading is not idle. */
    private final LongSupplier requests;
    /** The log may hold frames, or free pages wait to be given back. This thread's own. */
    private boolean idleWorkLeft;
    private long idleNanos = IDLE_NANOS; // this thread's own

    Checkpointer(Connection connection, LongSupplier requests) throws SQLException {
        super("sqliteos-checkpoint");
        this.connection = connection;
        this.requests = requests;
        try (Statement st = connection.createStatement()) {
            // a passive checkpoint never waits anyway; an idle one that would must not either
            st.execute("PRAGMA busy_timeout = 0");
            try (ResultSet rs = st.executeQuery("PRAGMA auto_vacuum")) {
                givesPagesBack = rs.next() && rs.getInt(1) == 2; // incremental
            }
        }
        start();
    }

    /** A write transaction committed: its pages wait in the log. */
    void committed() {
        if (pendingCommits.getAndIncrement() == 0) {
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
                long requestsBefore = requests.getAsLong();
                LockSupport.parkNanos(this, idleNanos);
                if (pendingCommits.get() == 0 && !stopped()) {
                    idleRound(requests.getAsLong() == requestsBefore);
                }
            }
            return;
        }
        LockSupport.parkNanos(this, PAUSE_NANOS);
        long after = pendingCommits.get();
        if (after != before && after < MAX_COMMITS && !stopped()) {
            return; // still committing: wait for the pause
        }
        pendingCommits.set(0);
        checkpoint();
        idleWorkLeft = true;
        idleNanos = IDLE_NANOS;
    }

    /**
     * A pause in the commits: empties the log, then, if nobody used the
     * database during the pause either, gives free pages back.
     */
    private void idleRound(boolean quiet) {
        if (!emptyLog()) {
            idleWorkLeft = true;
            idleNanos = Math.min(2 * idleNanos, MAX_IDLE_NANOS);
        } else if (quiet ? givePagesBack() : freePagesToGiveBack()) {
            // given back: the moved pages wait in the log, and the file's end with them
            idleWorkLeft = true;
            idleNanos = quiet ? GIVE_BACK_PAUSE_NANOS : IDLE_NANOS;
        } else {
            idleWorkLeft = false;
            idleNanos = IDLE_NANOS;
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
        try (Statement st = connection.createStatement();
                ResultSet rs = st.executeQuery("PRAGMA wal_checkpoint(TRUNCATE)")) {
            return rs.next() && rs.getInt(1) == 0;
        } catch (SQLException e) {
            log.debug("emptying the log failed: {}", e.getMessage());
            return false;
        }
    }

    /**
     * Moves up to {@link #FREE_PAGES_PER_ROUND} free pages to the end of the
     * database, where emptying the log cuts them off; true if it did. Gives up
     * at once if anyone else is writing.
     */
    private boolean givePagesBack() {
        long free = freePages();
        if (free < MIN_FREE_PAGES) {
            return false;
        }
        try (Statement st = connection.createStatement()) {
            st.execute("BEGIN IMMEDIATE");
            boolean moved = false;
            try {
                // the driver takes a single step of a statement without result columns,
                // and the vacuum moves one page a step: so one page per execution
                try (PreparedStatement onePage = connection.prepareStatement("PRAGMA incremental_vacuum(1)")) {
                    for (long i = Math.min(free, FREE_PAGES_PER_ROUND); i > 0; i--) {
                        onePage.execute();
                    }
                }
                st.execute("COMMIT");
                moved = true;
            } finally {
                if (!moved) {
                    rollbackQuietly(st);
                }
            }
            return true;
        } catch (SQLException e) {
            log.debug("giving free pages back failed: {}", e.getMessage());
            return false;
        }
    }

    private static void rollbackQuietly(Statement st) {
        try {
            st.execute("ROLLBACK");
        } catch (SQLException e) {
            log.debug("rolling back a round of giving pages back: {}", e.getMessage());
        }
    }

    private boolean freePagesToGiveBack() {
        return freePages() >= MIN_FREE_PAGES;
    }

    /** The database's free pages, or 0 if it cannot give them back. */
    private long freePages() {
        if (!givesPagesBack) {
            return 0;
        }
        try (Statement st = connection.createStatement(); ResultSet rs = st.executeQuery("PRAGMA freelist_count")) {
            return rs.next() ? rs.getLong(1) : 0;
        } catch (SQLException e) {
            log.debug("counting free pages failed: {}", e.getMessage());
            return 0;
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
