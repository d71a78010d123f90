package io.sqliteos.db;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The SQLite database behind one mount: connections, pragmas and schema.
 *
 * <p>The database always runs in WAL mode so that readers never wait for a
 * writer. The default "in-memory" database is a WAL database in a private
 * directory on tmpfs (RAM), removed when the database closes; {@code --db FILE}
 * puts it on disk instead. Both behave the same, which is what lets an owner's
 * transaction hold its own connection while everyone else keeps reading.
 *
 * <p>Plain (non-transactional) writes share one writer connection under a lock;
 * reads use a pool of reader connections, each read in its own snapshot.
 *
 * <p>In RAM, plain writes commit in batches: each is a step of the writer's
 * open transaction, undone alone if it fails, and the batch commits when it is
 * a few milliseconds old, before any other connection begins a transaction, or
 * when the database closes. A commit costs more than most steps (the log's
 * frames, their checksums, file locks: system calls that are dear on a
 * virtual machine), so a stream of small writes shares one. Nothing is lost
 * by waiting: a crash loses the database in RAM anyway. While a batch is open,
 * reads run on the writer, which alone sees it, so every read still sees every
 * write that has returned. On disk every write commits on its own: it is
 * durable when it returns.
 */
public final class Database implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(Database.class);
    /**
     * Log pages after which a committing writer checkpoints itself: 8 MiB of
     * 8 KiB pages. The checkpointer thread copies large writes as they commit,
     * but when it falls behind (both processors busy) the log would grow to this
     * bound before it could start over. A writer that copies the log right
     * after its commit, while the write lock keeps other requests from
     * committing, lets its next transaction write from the start of the log
     * again: the log stays a few megabytes whose pages are already allocated
     * and warm in the CPU caches.
     * 128 MiB cost about a sixth more daemon CPU per GiB written.
     */
    private static final int BACKSTOP_CHECKPOINT_PAGES = 1024;
    /** How long plain writes may wait in a batch by default; 0 commits each on its own. */
    private static final long BATCH_NANOS = TimeUnit.MICROSECONDS.toNanos(Long.getLong("sqliteos.batchMicros", 2000));
    /** At most 64 MiB of data: a step writes at most one FUSE request's 1 MiB. */
    private static final int BATCH_MAX_STEPS = 64;
    /** No batch opens with less room than this under the database: a full disk may undo a whole transaction. */
    private static final long BATCH_MIN_FREE_BYTES = 256L << 20;
    /** Even at 2 GB/s a batch cannot use up that room between two checks this far apart. */
    private static final long ROOM_CHECK_NANOS = TimeUnit.MILLISECONDS.toNanos(20);
    /** How long free pages are kept for reuse before their RAM (or disk blocks) is given back, by default. */
    public static final Duration DEFAULT_KEEP_FREE = Duration.ofSeconds(60);
    /** While free pages are kept, whether room has run short is looked at this often. */
    private static final long KEPT_CHECK_NANOS = TimeUnit.SECONDS.toNanos(5);
    /** Each connection's page cache: also the most a transaction holds back from the log until it commits. */
    private static final long CACHE_BYTES = 2L << 20;
    /** How long one pass giving free pages back may hold up writers. */
    private static final long FREE_PAGES_PASS_NANOS = TimeUnit.MILLISECONDS.toNanos(10);
    /**
     * Room a write must leave under the database beyond what the pages waiting in
     * the log take when copied into the database file: more than one request's
     * 1 MiB in the log and again in the database, so that a checkpoint can
     * always finish after it. On a small disk it is an eighth of the disk.
     */
    private static final long MAX_WRITE_HEADROOM_BYTES = 3L << 20;
    /** How long a write on a nearly full disk may spend giving free pages back before it gives up. */
    private static final long RECLAIM_FOR_WRITE_NANOS = TimeUnit.MILLISECONDS.toNanos(200);
    /** SQLite's write-ahead log: a file header, then per page a frame header and the page. */
    private static final long WAL_HEADER_BYTES = 32;
    private static final long WAL_FRAME_HEADER_BYTES = 24;
    /** How long closing a database on disk may spend giving its free pages back. */
    private static final long CLOSE_GIVE_BACK_NANOS = TimeUnit.SECONDS.toNanos(2);

    private final Path file;
    /** SQLite's write-ahead log beside the database file. */
    private final Path logFile;
    private final EphemeralDirectory ephemeralDir;
    private final long busyTimeoutMs;
    private final ReentrantLock writeLock = new ReentrantLock();
    private final SqliteStore writer;
    private final DiskReserve reserve;
    private final long writeHeadroomBytes;
    private final ConcurrentLinkedQueue<SqliteStore> readers = new ConcurrentLinkedQueue<>();
    private final EntryCache entryCache = new EntryCache();
    /** Inode rows of the committed state, for reads: about 160 bytes a row bounds this near 32 MiB. */
    private final CommittedCache<Long, InodeRow> inodeCache = new CommittedCache<>(200_000);
    private final InodeCeiling inodeCeiling = new InodeCeiling();
    private final XattrHolders xattrHolders = new XattrHolders();
    private final Checkpointer checkpointer;
    /** Null where holes cannot be punched into the file: then free pages stay in it. */
    private final FreePages freePages;
    private volatile boolean closed;
    /** How long a batch may stay open; 0 where every write commits on its own (on disk). */
    private final long batchNanos;
    /** Null where batches are off. */
    private final BatchCommitter batchCommitter;
    /** The writer holds steps that have returned and not committed; changed only under the write lock. */
    private volatile boolean batchOpen;
    private long batchDueNanos;
    private int batchSteps;
    /** Connections of transactions: a batch waits for none of them, and none sees less than every returned write. */
    private final AtomicInteger batchBlockers = new AtomicInteger();
    /** Where the database lives, to see whether there is room for a batch. */
    private java.nio.file.FileStore fileStore;
    private boolean roomForBatch;
    private long roomCheckedNanos = System.nanoTime() - ROOM_CHECK_NANOS;

    private Database(Path file, EphemeralDirectory ephemeralDir, long busyTimeoutMs, long batchNanos, Duration keepFree)
            throws SQLException {
        this.file = file;
        this.logFile = Path.of(file + "-wal");
        this.batchNanos = ephemeralDir != null ? batchNanos : 0;
        this.ephemeralDir = ephemeralDir;
        this.busyTimeoutMs = busyTimeoutMs;
        Connection first = connect();
        try {
            // refuse a database from a newer build before anything (even the journal mode) is written
            SchemaMigrator.requireKnownVersion(first);
            try (Statement st = first.createStatement()) {
                // Only a new database takes this (a file keeps the page size it was made with).
                // SQLite logs and checkpoints file data a page per system call: 8 KiB pages wrote
                // 512 MiB through a mount 30% faster than 4 KiB and read it 15% faster, while
                // small operations cost the same; 16 KiB made them 10% dearer.
                st.execute("PRAGMA page_size = 8192");
                st.execute("PRAGMA journal_mode = WAL");
            }
            SchemaMigrator.migrate(first);
        } catch (SQLException | RuntimeException e) {
            first.close();
            throw e;
        }
        this.writer = new SqliteStore(sqlControlsTransactions(first), entryCache, inodeCache, inodeCeiling, xattrHolders, true);
        long diskBytes = totalSpace();
        this.writeHeadroomBytes = Math.max(512 << 10, Math.min(MAX_WRITE_HEADROOM_BYTES, diskBytes / 8));
        this.reserve = new DiskReserve(Path.of(file + "-reserve"), diskBytes);
        reserve.replenish();
        this.freePages = FreePages.open(file, keepFree.toNanos());
        try {
            this.checkpointer = new Checkpointer(sqlControlsTransactions(connect()), this::giveFreePagesBack);
        } catch (SQLException | RuntimeException e) {
            if (freePages != null) {
                freePages.close();
            }
            throw e;
        }
        this.batchCommitter = this.batchNanos > 0 ? new BatchCommitter(this::commitBatchIfDue, this.batchNanos) : null;
    }

    /** Opens (creating if needed) a durable database in {@code file}. */
    public static Database open(Path file, long busyTimeoutMs) {
        return open(file, busyTimeoutMs, DEFAULT_KEEP_FREE);
    }

    /** Like {@link #open(Path, long)}, keeping free pages for reuse {@code keepFree} before giving them back. */
    public static Database open(Path file, long busyTimeoutMs, Duration keepFree) {
        try {
            return new Database(file.toAbsolutePath(), null, busyTimeoutMs, 0, keepFree);
        } catch (SQLException e) {
            throw StoreException.wrap(e);
        }
    }

    /** Creates a fresh database in RAM that disappears when closed. */
    public static Database openEphemeral(long busyTimeoutMs) {
        return openEphemeral(busyTimeoutMs, DEFAULT_KEEP_FREE);
    }

    /** Like {@link #openEphemeral(long)}, keeping free pages for reuse {@code keepFree} before giving their RAM back. */
    public static Database openEphemeral(long busyTimeoutMs, Duration keepFree) {
        return openEphemeral(busyTimeoutMs, BATCH_NANOS, keepFree);
    }

    /** Like {@link #openEphemeral(long)}, with plain writes waiting up to {@code batchNanos} in a batch. */
    static Database openEphemeral(long busyTimeoutMs, long batchNanos) {
        return openEphemeral(busyTimeoutMs, batchNanos, DEFAULT_KEEP_FREE);
    }

    private static Database openEphemeral(long busyTimeoutMs, long batchNanos, Duration keepFree) {
        EphemeralDirectory dir;
        try {
            Path shm = Path.of("/dev/shm");
            Path base = Files.isDirectory(shm) && Files.isWritable(shm) ? shm : Path.of(System.getProperty("java.io.tmpdir"));
            dir = EphemeralDirectory.create(base);
        } catch (IOException e) {
            throw new StoreException(StoreException.Kind.IO, "cannot create the in-memory database: " + e.getMessage(), e);
        }
        try {
            return new Database(dir.path().resolve("fs.db"), dir, busyTimeoutMs, batchNanos, keepFree);
        } catch (SQLException | RuntimeException e) {
            dir.close();
            throw e instanceof SQLException sql ? StoreException.wrap(sql) : (RuntimeException) e;
        }
    }

    public boolean isEphemeral() {
        return ephemeralDir != null;
    }

    /** The database file: on tmpfs for the in-memory default. */
    public Path file() {
        return file;
    }

    private Connection connect() throws SQLException {
        org.sqlite.SQLiteConfig config = new org.sqlite.SQLiteConfig();
        // One thread at a time uses a connection (a Store's contract, and the driver
        // serializes its calls anyway): SQLite's own lock around every call is redundant.
        config.setOpenMode(org.sqlite.SQLiteOpenMode.NOMUTEX);
        java.util.Properties props = config.toProperties();
        // the driver would otherwise match every statement it runs against a pattern, looking for inserts
        props.setProperty("jdbc.get_generated_keys", "false");
        SqliteNative.load();
        Connection c = DriverManager.getConnection("jdbc:sqlite:" + file, props);
        try (Statement st = c.createStatement()) {
            st.execute("PRAGMA busy_timeout = " + busyTimeoutMs);
            // In RAM there is nothing to sync; on disk every commit is durable.
            st.execute("PRAGMA synchronous = " + (ephemeralDir != null ? "OFF" : "FULL"));
            st.execute("PRAGMA foreign_keys = OFF");
            // No memory map: SQLite drops a connection's map whenever another
            // connection has committed, and maps the file again at its next read.
            // With a commit per request that is an munmap, a TLB shootdown on
            // every core and fresh page faults for nearly every request; pread
            // from the RAM-backed file costs less, even for large sequential reads.
            st.execute("PRAGMA mmap_size = 0");
            // Every pooled connection has its own cache, and a reader's is emptied
            // whenever someone else commits, so keep it small: the file is in RAM
            // anyway. With 8 MiB each, a large read first spent its time faulting
            // in fresh cache memory on every reader it used, and read at two thirds
            // of the speed 2 MiB gives.
            st.execute("PRAGMA cache_size = -" + (CACHE_BYTES >> 10));
            // A write undone alone if it fails is a savepoint, whose journal of the
            // pages it changes SQLite keeps in one 64 KiB allocation (up to that
            // size) when temporary files may be files; with temp_store = MEMORY it
            // keeps it in 1 KiB pieces, a few dozen allocations per write (create and
            // unlink in the fs layer took a fifth longer). A larger savepoint journal
            // the extension's VFS keeps in one growing buffer (memory_subjournal.c);
            // sorts go to files in RAM (see sendTemporaryFilesToRam).
            st.execute("PRAGMA temp_store = FILE");
            sendTemporaryFilesToRam(st);
            // The checkpointer thread copies the log into the database; a writer
            // does it only past this backstop, and the log file shrinks back to
            // the limit afterwards.
            st.execute("PRAGMA wal_autocheckpoint = " + BACKSTOP_CHECKPOINT_PAGES);
            st.execute("PRAGMA journal_size_limit = " + (32L << 20));
        }
        return c;
    }

    /**
     * Writes a consistent copy of the last committed state to {@code target}, a
     * new database file, while everyone keeps working: open transactions are
     * not in it.
     */
    public void snapshotTo(Path target) {
        publish();
        try (Connection c = connect(); java.sql.PreparedStatement ps = c.prepareStatement("VACUUM INTO ?")) {
            ps.setString(1, target.toString());
            ps.execute();
        } catch (SQLException e) {
            throw StoreException.wrap(e);
        }
    }

    /** Checks the data model's invariants on the committed state (see {@link IntegrityCheck}). */
    public java.util.List<IntegrityCheck.Problem> check(int blockSize) {
        publish();
        try (Connection c = connect()) {
            return new IntegrityCheck(c, blockSize).check();
        } catch (SQLException e) {
            throw StoreException.wrap(e);
        }
    }

    /**
     * Opens a database file for inspection (fsck) without applying migrations or
     * changing its journal mode: nothing is written unless the caller repairs.
     */
    public static Connection inspect(Path file) {
        if (!Files.isRegularFile(file)) {
            throw new StoreException(StoreException.Kind.IO, "no database file at " + file, null);
        }
        try {
            SqliteNative.load();
            Connection c = DriverManager.getConnection("jdbc:sqlite:" + file.toAbsolutePath());
            try (Statement st = c.createStatement()) {
                st.execute("PRAGMA busy_timeout = 5000");
                st.executeQuery("SELECT count(*) FROM sqlite_master").close(); // fails here for a file that is not a database
            }
            return c;
        } catch (SQLException e) {
            throw StoreException.wrap(e);
        }
    }

    /**
     * A new connection for one owner (a transaction session); the caller closes
     * it. Until then plain writes commit one by one, so that it sees each
     * write that has returned and never waits for a batch.
     */
    public Store openStore() {
        batchBlockers.incrementAndGet();
        try {
            publish();
            SqliteStore store = newStore(false);
            store.onClose(() -> {
                batchBlockers.decrementAndGet();
                // what it committed waits in the log, and what it rolled back after spilling it
                // there takes room in the log file, until the checkpointer's next rounds
                checkpointer.committed();
            });
            return store;
        } catch (RuntimeException e) {
            batchBlockers.decrementAndGet();
            throw e;
        }
    }

    /** Commits the plain writes waiting in a batch, if any: then other connections see them. */
    public void publish() {
        if (batchCommitter == null) {
            return;
        }
        lockWriter();
        try {
            commitBatch();
        } finally {
            writeLock.unlock();
        }
    }

    private SqliteStore newStore(boolean shared) {
        try {
            return new SqliteStore(sqlControlsTransactions(connect()), entryCache, inodeCache, inodeCeiling, xattrHolders, shared);
        } catch (SQLException e) {
            throw StoreException.wrap(e);
        }
    }

    /**
     * Leaves transactions to the SQL that stores and the checkpointer run
     * (BEGIN, SAVEPOINT, COMMIT): the driver stops following every statement
     * with transaction statements of its own. In its auto-commit mode it steps
     * a {@code begin;} after each one, and a {@code commit;} when that works:
     * inside a transaction the begin fails, and SQLite formats the error
     * message; outside one the pair commits nothing. Either way it changes
     * nothing, for two extra statements per statement. The connection's JDBC
     * commit and rollback are not for use afterwards.
     */
    private static Connection sqlControlsTransactions(Connection c) throws SQLException {
        c.unwrap(org.sqlite.SQLiteConnection.class).getConnectionConfig().setAutoCommit(false);
        return c;
    }

    private static final AtomicBoolean temporaryFilesPlaced = new AtomicBoolean();

    /**
     * Once per process, before its connections need temporary files: they go
     * to /dev/shm (RAM), not to the disk under /var/tmp. SQLite unlinks each as
     * it opens it. The setting is global to the process and not safe to change
     * while a connection uses it, hence once, with the first connection.
     */
    private static void sendTemporaryFilesToRam(Statement st) throws SQLException {
        if (temporaryFilesPlaced.get()) {
            return; // every connection after the first, a transaction's own too: no file-system checks
        }
        Path ram = Path.of("/dev/shm");
        if (Files.isDirectory(ram) && Files.isWritable(ram) && temporaryFilesPlaced.compareAndSet(false, true)) {
            st.execute("PRAGMA temp_store_directory = '" + ram + "'");
        }
    }

    /** How many directory entries (and marks) the entry cache holds: for tests. */
    int cachedEntries() {
        return entryCache.size();
    }

    /** Runs {@code work} in a read snapshot on a pooled reader connection. */
    public <T> T read(Function<Store, T> work) {
        if (batchOpen) {
            lockWriter();
            try {
                commitBatchIfDueHoldingLock();
                if (batchOpen) {
                    // only the writer sees the batch's steps
                    return work.apply(writer);
                }
            } finally {
                writeLock.unlock();
            }
        }
        SqliteStore store = readers.poll();
        if (store == null) {
            store = newStore(true);
        }
        boolean healthy = false;
        boolean databaseFailed = false;
        try {
            store.begin(false);
            T result = work.apply(store);
            store.commit();
            healthy = true;
            return result;
        } catch (StoreException e) {
            databaseFailed = true;
            throw e;
        } finally {
            if (!healthy && !databaseFailed) {
                // A failed lookup (ENOENT and the like) is common: keep the connection
                // when it rolls back cleanly, drop it only when it is broken.
                try {
                    store.rollback();
                    healthy = true;
                } catch (RuntimeException ignored) {
                    // the connection is dropped below
                }
            }
            if (!healthy) {
                store.close();
            } else if (closed) {
                store.close();
            } else {
                readers.offer(store);
            }
        }
    }

    /**
     * Runs {@code work} as one write transaction on the shared writer connection:
     * all of it commits or none of it does. Nested calls join the outer one.
     */
    public <T> T write(Function<Store, T> work) {
        return write(work, false);
    }

    /**
     * Like {@link #write}, for a change that frees space (a deletion): on a full
     * disk it may spend the reserve kept beside the database, so that users can
     * always make room.
     */
    public <T> T writeFreeingSpace(Function<Store, T> work) {
        return write(work, true);
    }

    private <T> T write(Function<Store, T> work, boolean freesSpace) {
        lockWriter();
        try {
            if (writeLock.getHoldCount() > 1) {
                return work.apply(writer); // a write within a write (or a read on the writer) joins it
            }
            if (batchOpen && batchBlockers.get() > 0) {
                commitBatch();
            }
            if (batchOpen || openBatch()) {
                try {
                    return step(work);
                } catch (StoreException e) {
                    if (e.kind() != StoreException.Kind.FULL) {
                        throw e;
                    }
                    // the disk is full: commit what returned, then try this write on its own below
                    commitBatch();
                }
            }
            if (!freesSpace) {
                requireRoomForCheckpoint();
            }
            try {
                T result = writeOnce(work);
                reserve.replenish();
                return result;
            } catch (StoreException e) {
                if (e.kind() != StoreException.Kind.FULL || !((freesSpace && reserve.release()) || shrinkLog())) {
                    throw e;
                }
                // the disk was full: with the reserve given back there is room, e.g. for a deletion
                return writeOnce(work);
            }
        } finally {
            writeLock.unlock();
        }
    }

    private void lockWriter() {
        try {
            if (!writeLock.tryLock(busyTimeoutMs, TimeUnit.MILLISECONDS)) {
                throw new StoreException(StoreException.Kind.BUSY, "timed out waiting for the write lock", null);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new StoreException(StoreException.Kind.BUSY, "interrupted waiting for the write lock", e);
        }
    }

    // --- batches of plain writes (the caller holds the write lock) -------------------------

    /** Opens a batch if batches are on and nothing stands in the way; true if it did. */
    private boolean openBatch() {
        if (batchCommitter == null || batchBlockers.get() > 0 || closed || !roomForBatch()) {
            return false;
        }
        writer.begin(true);
        batchOpen = true;
        batchSteps = 0;
        batchDueNanos = System.nanoTime() + batchNanos;
        batchCommitter.opened(batchDueNanos);
        return true;
    }

    /** Whether the disk has room to spare for a batch: asked of the file system at most every 20 ms. */
    private boolean roomForBatch() {
        long now = System.nanoTime();
        if (now - roomCheckedNanos < ROOM_CHECK_NANOS) {
            return roomForBatch;
        }
        roomCheckedNanos = now;
        roomForBatch = usableSpace() >= BATCH_MIN_FREE_BYTES;
        return roomForBatch;
    }

    /** The bytes free for us under the database; 0 if the file system does not say. */
    private long usableSpace() {
        try {
            return fileStore().getUsableSpace();
        } catch (IOException e) {
            return 0;
        }
    }

    /** The size of the file system under the database; 0 if it does not say. */
    private long totalSpace() {
        try {
            return fileStore().getTotalSpace();
        } catch (IOException e) {
            return 0;
        }
    }

    private java.nio.file.FileStore fileStore() throws IOException {
        if (fileStore == null) {
            fileStore = Files.getFileStore(file.getParent()); // reads the mount table: once
        }
        return fileStore;
    }

    /**
     * On a nearly full disk, refuses a write ({@code ENOSPC}) that would leave
     * too little room to copy the log into the database file. The pages of a
     * deleted file stay in the log until a checkpoint has written them into
     * the database, which may have to grow for them (or fill its holes) first;
     * with the disk full that checkpoint could never finish, the log would
     * never shrink, and no deletion would ever give space back. Before it
     * refuses, the write empties the log and gives free pages back itself.
     * The caller holds the write lock and no batch is open.
     */
    private void requireRoomForCheckpoint() {
        if (roomForBatch()) {
            return; // plenty of room: the common case costs nothing
        }
        if (usableSpace() - pendingCheckpointBytes() >= writeHeadroomBytes) {
            return;
        }
        giveFreePagesBackNow(RECLAIM_FOR_WRITE_NANOS);
        long free = usableSpace();
        long pending = pendingCheckpointBytes();
        if (free - pending < writeHeadroomBytes) {
            throw new StoreException(StoreException.Kind.FULL, "the disk under the database is nearly full: "
                    + (free >> 10) + " KiB free, " + (pending >> 10) + " KiB of it needed to copy the log into the database", null);
        }
    }

    /**
     * On a nearly full disk, refuses ({@code FULL}) to commit a transaction whose
     * pages might not fit into the database file after it; the caller rolls it
     * back, so nothing is applied. At its commit a transaction's pages go into
     * the log (those it has not spilled there already), and a checkpoint must
     * then copy them, with the log's other pages, into the database file: on a
     * disk that cannot take them the log could never be emptied again (see
     * {@link #requireRoomForCheckpoint}). How many pages the transaction changed
     * is not known before its commit, so this counts every frame in the log
     * file that is not yet copied (the transaction's spilled ones included) and
     * twice the page cache it may still hold (once in the log, once in the
     * database). Called by the transaction's owner, without the write lock.
     */
    public void requireRoomToCommitTransaction() {
        if (usableSpace() >= BATCH_MIN_FREE_BYTES) {
            return; // plenty of room: the common case costs one statfs
        }
        long needed = uncopiedLogBytes() + 2 * CACHE_BYTES;
        long free = usableSpace(); // again: the checkpoint may have taken some
        if (free - needed < writeHeadroomBytes) {
            throw new StoreException(StoreException.Kind.FULL, "the disk under the database is nearly full: "
                    + (free >> 10) + " KiB free, up to " + (needed >> 10) + " KiB of it needed to copy this transaction"
                    + " and the log into the database", null);
        }
    }

    /**
     * The bytes of the log file's frames not yet copied into the database: the
     * committed ones a passive checkpoint could not copy, and any written after
     * the last commit (an open transaction's). The whole file if the writer is busy.
     */
    private long uncopiedLogBytes() {
        long fileBytes;
        try {
            fileBytes = Files.size(logFile);
        } catch (IOException e) {
            return 0; // no log file: nothing in it
        }
        if (!writeLock.tryLock()) {
            return fileBytes;
        }
        try {
            LogFrames frames = checkpointPassively();
            if (frames == null) {
                return fileBytes;
            }
            long page = pageSize();
            long committedEnd = WAL_HEADER_BYTES + frames.committed() * (page + WAL_FRAME_HEADER_BYTES);
            long framesAfter = Math.max(0, fileBytes - committedEnd) / (page + WAL_FRAME_HEADER_BYTES);
            return (frames.committed() - frames.copied() + framesAfter) * page;
        } finally {
            writeLock.unlock();
        }
    }

    /** Frames in the log: those committed, and how many of them are copied into the database. */
    private record LogFrames(long committed, long copied) {}

    /**
     * Copies what it can of the log into the database (a passive checkpoint on
     * the writer, whose caller holds the write lock); null if SQLite could not say.
     */
    private LogFrames checkpointPassively() {
        try (Statement st = writer.connection().createStatement();
                java.sql.ResultSet rs = st.executeQuery("PRAGMA wal_checkpoint(PASSIVE)")) {
            if (rs.next() && rs.getLong(2) >= 0 && rs.getLong(3) >= 0) {
                return new LogFrames(rs.getLong(2), rs.getLong(3));
            }
        } catch (SQLException e) {
            log.debug("checkpoint on a nearly full disk: {}", e.getMessage());
        }
        return null;
    }

    /**
     * Copies what it can of the log into the database (a passive checkpoint on
     * the writer) and returns the bytes of the pages still waiting, which the
     * database file may need room for.
     */
    private long pendingCheckpointBytes() {
        LogFrames frames = checkpointPassively();
        if (frames != null) {
            return (frames.committed() - frames.copied()) * pageSize();
        }
        try {
            return Files.size(logFile); // no better bound
        } catch (IOException e) {
            return 0;
        }
    }

    private long pageSize() {
        try (Statement st = writer.connection().createStatement();
                java.sql.ResultSet rs = st.executeQuery("PRAGMA page_size")) {
            return rs.next() ? rs.getLong(1) : 8192;
        } catch (SQLException e) {
            return 8192;
        }
    }

    /**
     * Empties the log and gives all free pages back now, kept ones too, taking
     * at most about {@code nanos}: for a write on a nearly full disk, and when a
     * database on disk closes. The caller holds the write lock, no batch open.
     */
    private void giveFreePagesBackNow(long nanos) {
        if (freePages == null || !emptyLogQuietly()) {
            return;
        }
        long deadline = System.nanoTime() + nanos;
        Checkpointer.AfterLogEmptied.Outcome outcome;
        do {
            outcome = punchFreePages(writer.connection(), deadline, true);
        } while (outcome == Checkpointer.AfterLogEmptied.Outcome.MORE && System.nanoTime() - deadline < 0);
    }

    /** Runs {@code work} as one step of the open batch: if it fails, its changes alone are undone. */
    private <T> T step(Function<Store, T> work) {
        writer.beginStep();
        T result;
        try {
            result = work.apply(writer);
        } catch (RuntimeException | Error e) {
            undoStep();
            throw e;
        }
        writer.endStep();
        if (++batchSteps >= BATCH_MAX_STEPS) {
            commitBatch();
        } else {
            commitBatchIfDueHoldingLock();
        }
        return result;
    }

    private void undoStep() {
        try {
            writer.undoStep();
        } catch (RuntimeException e) {
            // SQLite rolled the whole transaction back (a full disk, say): the batch is gone
            log.error("a failed write took its whole batch of {} earlier writes with it: {}", batchSteps, e.getMessage());
            abandonBatch();
        }
    }

    /** The batch is lost: ends what is left of its transaction and starts the statements afresh. */
    private void abandonBatch() {
        rollbackQuietly(writer);
        writer.resetStatements();
        endBatch();
    }

    /** Commits the open batch, if there is one. */
    private void commitBatch() {
        if (!batchOpen) {
            return;
        }
        try {
            writer.commit();
        } catch (StoreException e) {
            // rare: a batch opens only with room to spare for its few megabytes
            log.error("a batch of {} writes failed to commit: {}", batchSteps, e.getMessage());
            abandonBatch();
            throw e;
        } finally {
            endBatch();
        }
        checkpointer.committed(writer.takeDataBytesWritten());
        reserve.replenish();
    }

    private void endBatch() {
        batchOpen = false;
        batchSteps = 0;
        batchCommitter.closed();
    }

    /**
     * A request that holds the write lock commits a due batch itself: while
     * requests keep coming they commit the batches, and no request waits for
     * the lock behind the committer's thread (a sleep and a wake-up, dear on a
     * virtual machine).
     */
    private void commitBatchIfDueHoldingLock() {
        if (batchOpen && System.nanoTime() - batchDueNanos >= 0) {
            commitBatch();
        }
    }

    /**
     * The committer's round: commits a due batch unless a request holds the
     * write lock (that request commits it); false if so, to look again shortly.
     */
    private boolean commitBatchIfDue() {
        if (!writeLock.tryLock()) {
            return false;
        }
        try {
            commitBatchIfDueHoldingLock();
        } catch (RuntimeException e) {
            log.error("committing a batch of writes: {}", e.getMessage(), e);
        } finally {
            writeLock.unlock();
        }
        return true;
    }

    /** One write transaction on the writer; the caller holds the write lock. */
    private <T> T writeOnce(Function<Store, T> work) {
        writer.begin(true);
        boolean committed = false;
        boolean databaseFailed = false;
        try {
            T result = work.apply(writer);
            writer.commit();
            committed = true;
            checkpointer.committed(writer.takeDataBytesWritten());
            return result;
        } catch (StoreException e) {
            databaseFailed = true;
            throw e;
        } finally {
            if (!committed) {
                rollbackQuietly(writer);
            }
            if (databaseFailed) {
                // after SQLITE_FULL and the like SQLite has rolled back on its own and
                // the cached statements may be unusable: start them afresh
                writer.resetStatements();
            }
        }
    }

    /**
     * Gives the RAM (or disk) under SQLite's free pages back, for a while: runs
     * on the checkpointer's connection right after it emptied the log. Plain
     * writes wait on the write lock meanwhile, and SQLite's write lock keeps
     * everyone else's commits out, so the file stays what every reader sees.
     * Free pages are kept for reuse until their keep time ends, unless room
     * runs short: less than {@value #BATCH_MIN_FREE_BYTES} bytes free under the
     * database, or for a database in RAM, little memory left in the machine.
     */
    private Checkpointer.AfterLogEmptied.Outcome giveFreePagesBack(Connection connection) {
        if (freePages == null) {
            return Checkpointer.AfterLogEmptied.Outcome.DONE;
        }
        if (!writeLock.tryLock()) {
            return Checkpointer.AfterLogEmptied.Outcome.BUSY;
        }
        try {
            if (batchOpen || closed) {
                return Checkpointer.AfterLogEmptied.Outcome.BUSY; // its commit brings another round
            }
            boolean shortOfRoom = !roomForBatch() || (isEphemeral() && MemoryInfo.low());
            return punchFreePages(connection, System.nanoTime() + FREE_PAGES_PASS_NANOS, shortOfRoom);
        } finally {
            writeLock.unlock();
        }
    }

    /**
     * One pass of {@link FreePages#punch} in a write transaction of {@code
     * connection}, which must not wait for one (the checkpointer's) or must be
     * the writer; the caller holds the write lock and no batch is open.
     */
    private Checkpointer.AfterLogEmptied.Outcome punchFreePages(Connection connection, long deadlineNanos, boolean keepNone) {
        FreePages.Pass pass;
        try (Statement st = connection.createStatement()) {
            st.execute("BEGIN IMMEDIATE"); // someone else writing (a transaction's owner) fails it
        } catch (SQLException e) {
            return Checkpointer.AfterLogEmptied.Outcome.BUSY;
        }
        try {
            if (logHoldsFrames()) {
                return Checkpointer.AfterLogEmptied.Outcome.BUSY; // a commit came in after the log was emptied
            }
            pass = freePages.punch(deadlineNanos, keepNone);
        } finally {
            try (Statement st = connection.createStatement()) {
                st.execute("COMMIT");
            } catch (SQLException e) {
                log.warn("ending the transaction that gave free pages back: {}", e.getMessage());
            }
        }
        if (pass.bytesFreed() > 0) {
            log.debug("gave {} KiB of free pages back", pass.bytesFreed() >> 10);
            reserve.replenishNow(); // the disk may have room for it again
        }
        if (!pass.finished()) {
            return Checkpointer.AfterLogEmptied.Outcome.MORE;
        }
        if (pass.keptBytes() > 0) {
            log.debug("keeping {} KiB of free pages for reuse", pass.keptBytes() >> 10);
            return Checkpointer.AfterLogEmptied.Outcome.later(Math.min(pass.dueNanos() - System.nanoTime(), KEPT_CHECK_NANOS));
        }
        return Checkpointer.AfterLogEmptied.Outcome.DONE;
    }

    /** Whether the write-ahead log file holds anything: only an emptying checkpoint leaves it at zero bytes. */
    private boolean logHoldsFrames() {
        try {
            return Files.size(logFile) > 0;
        } catch (java.nio.file.NoSuchFileException e) {
            return false;
        } catch (IOException e) {
            return true;
        }
    }

    /** Checkpoints and truncates the write-ahead log on the writer; true if it did. */
    private boolean emptyLogQuietly() {
        try {
            return Checkpointer.emptyLog(writer.connection());
        } catch (SQLException e) {
            log.debug("emptying the log to give free pages back: {}", e.getMessage());
            return false;
        }
    }

    /** Checkpoints and truncates the write-ahead log to give its disk space back; true if it did. */
    private boolean shrinkLog() {
        try {
            boolean complete = Checkpointer.emptyLog(writer.connection());
            log.warn("disk full: truncated the write-ahead log ({})", complete ? "complete" : "partial");
            return complete;
        } catch (SQLException e) {
            log.warn("disk full and the write-ahead log could not be truncated: {}", e.getMessage());
            return false;
        }
    }

    private static void rollbackQuietly(Store store) {
        try {
            store.rollback();
        } catch (RuntimeException e) {
            if (String.valueOf(e.getMessage()).contains("no transaction is active")) {
                // SQLite has already rolled back on its own (it does after SQLITE_FULL, for one)
                log.debug("rollback: {}", e.getMessage());
            } else {
                log.warn("rollback failed: {}", e.getMessage());
            }
        }
    }

    @Override
    public void close() {
        closed = true;
        if (batchCommitter != null) {
            batchCommitter.close();
        }
        checkpointer.close();
        writeLock.lock();
        try {
            if (batchOpen) {
                try {
                    commitBatch();
                } catch (RuntimeException e) {
                    log.warn("closing: {}", e.getMessage());
                }
            }
            SqliteStore r;
            while ((r = readers.poll()) != null) {
                r.close();
            }
            if (ephemeralDir == null) {
                giveFreePagesBackNow(CLOSE_GIVE_BACK_NANOS); // the pages kept for reuse: the disk blocks are not needed now
            }
            writer.close();
        } finally {
            writeLock.unlock();
        }
        reserve.discard();
        if (freePages != null) {
            freePages.close(); // after SQLite's last connection: see FreePages
        }
        if (ephemeralDir != null) {
            ephemeralDir.close();
        }
    }
}
