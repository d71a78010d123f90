package io.sqliteos.db;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;
import java.util.regex.Pattern;

/** {@link Store} on one SQLite connection, with its prepared statements cached. */
final class SqliteStore implements Store {

    private static final Pattern SAVEPOINT_NAME = Pattern.compile("[A-Za-z_][A-Za-z0-9_]{0,63}");

    private final Connection connection;
    private final Map<String, PreparedStatement> statements = new HashMap<>();
    private boolean inTransaction;
    /** Bytes of file data written since {@link #takeDataBytesWritten} last asked. */
    private long dataBytesWritten;
    private final EntryCache entryCache;
    private final CommittedCache<Long, InodeRow> inodeCache;
    private final InodeCeiling inodeCeiling;
    private final XattrHolders xattrHolders;
    /** True for the shared writer and readers, which see the committed state and use the caches; false for a transaction's own. */
    private final boolean sharesCaches;
    /** The entry cache's epoch when this connection's transaction began; -1 outside one, when nothing is kept. */
    private long seenEpoch = -1;
    /** The same for the inode cache. */
    private long seenInodeEpoch = -1;
    /**
     * A reader's BEGIN not sent yet: its snapshot starts with its first query,
     * and a read the caches answer whole needs none.
     */
    private boolean beginPending;
    /** The open transaction may write. */
    private boolean writing;
    /**
     * Entries this connection's open transaction changed, never read from the
     * cache: each with the entry it wrote ({@link EntryCache#ABSENT} when it
     * removed one) where the shared writer knows it, else null, and then only
     * the database knows.
     */
    private final Map<EntryCache.Key, DirEntryRow> touched = new HashMap<>();
    /**
     * Inodes this connection's open transaction changed, each with the row the
     * shared writer wrote (null when deleted, and always on a transaction's own
     * connection, whose savepoints may undo a row): at commit those rows are
     * the committed state and go into the cache.
     */
    private final Map<Long, InodeRow> touchedInodes = new HashMap<>();
    /**
     * Inode rows the shared writer changed in the open batch and has not
     * written yet. A directory's times change with every name made or removed
     * in it, a file's size and times with every write, so such a row is
     * written once, as the batch commits, instead of by an UPDATE (and a copy
     * of its page for the step's undo) in every step. {@link #touchedInodes}
     * holds the same rows, so this connection's reads see them.
     */
    private final Map<Long, InodeRow> unwrittenInodes = new LinkedHashMap<>();
    /**
     * For each row the open step changed in {@link #unwrittenInodes}, the row
     * there before it (null: none), which the step's undo puts back.
     */
    private final Map<Long, InodeRow> unwrittenBeforeStep = new HashMap<>();
    /**
     * Directories the shared writer made in the open transaction. Every name
     * in them was made by it too, so {@link #touched} holds them all, and at
     * commit the entry cache knows them whole.
     */
    private final Set<Long> madeDirectories = new HashSet<>();
    /** The entry cache's count of clears before the first of {@link #madeDirectories} was made. */
    private long clearsBeforeMade;
    private Runnable onClose;
    /**
     * The used bytes counter as this connection's open transaction sees it, once
     * read: a batch of writes asks for it at every write. -1 when unknown.
     */
    private long knownUsedBytes = -1;
    /**
     * The writer's changes to used_bytes during a batch, written once when the
     * batch commits rather than by an UPDATE in each step: the released
     * steps', and the open step's, which its undo drops.
     */
    private long batchUsedBytes;
    private long stepUsedBytes;
    /** Likewise the writer's changes to inode_count during a batch. */
    private long batchInodes;
    private long stepInodes;
    private boolean inStep;

    SqliteStore(Connection connection, EntryCache entryCache, CommittedCache<Long, InodeRow> inodeCache,
            InodeCeiling inodeCeiling, XattrHolders xattrHolders, boolean sharesCaches) {
        this.connection = connection;
        this.inodeCeiling = inodeCeiling;
        this.xattrHolders = xattrHolders;
        this.entryCache = entryCache;
        this.inodeCache = inodeCache;
        this.sharesCaches = sharesCaches;
    }

    Connection connection() {
        return connection;
    }

    private PreparedStatement sql(String sql) throws SQLException {
        sendPendingBegin();
        PreparedStatement ps = statements.get(sql);
        if (ps == null) {
            ps = connection.prepareStatement(sql);
            statements.put(sql, ps);
        }
        return ps;
    }

    private void exec(String sql) {
        try (Statement st = connection.createStatement()) {
            sendPendingBegin();
            st.execute(sql);
        } catch (SQLException e) {
            throw StoreException.wrap(e);
        }
    }

    static long blockKey(long ino, long index) {
        return (ino << 32) | index;
    }

    // --- transaction control ---------------------------------------------------

    /** Runs a cached statement without parameters or results (transaction control). */
    private void control(String sql) {
        try {
            sql(sql).execute();
        } catch (SQLException e) {
            throw StoreException.wrap(e);
        }
    }

    @Override
    public void begin(boolean write) {
        // before the snapshot can begin
        seenEpoch = entryCache.epoch();
        seenInodeEpoch = inodeCache.epoch();
        if (write || !sharesCaches) {
            control(write ? "BEGIN IMMEDIATE" : "BEGIN DEFERRED");
        } else {
            beginPending = true;
        }
        inTransaction = true;
        writing = write;
    }

    private void sendPendingBegin() throws SQLException {
        if (beginPending) {
            beginPending = false;
            sql("BEGIN DEFERRED").execute();
        }
    }

    @Override
    public void commit() {
        if (beginPending) {
            beginPending = false;
            endTransaction(Outcome.COMMITTED);
            return;
        }
        // a transaction's own connection: the shared writer must not trust the cache until this settles
        boolean announced = !sharesCaches && !(touched.isEmpty() && touchedInodes.isEmpty());
        if (announced) {
            entryCache.transactionCommitting();
        }
        Outcome outcome = Outcome.UNCERTAIN;
        try {
            writeUnwrittenInodes();
            writeBatchCounters();
            control("COMMIT");
            outcome = Outcome.COMMITTED;
        } finally {
            endTransaction(outcome);
            if (announced) {
                entryCache.transactionSettled();
            }
        }
    }

    @Override
    public void rollback() {
        if (beginPending) {
            beginPending = false;
            endTransaction(Outcome.ROLLED_BACK);
            return;
        }
        try {
            control("ROLLBACK");
        } finally {
            endTransaction(Outcome.ROLLED_BACK);
        }
    }

    /** How a transaction ended, for the caches. */
    private enum Outcome {
        COMMITTED,
        /** A COMMIT failed: it may have changed what it touched, or not. */
        UNCERTAIN,
        ROLLED_BACK
    }

    private void endTransaction(Outcome outcome) {
        inTransaction = false;
        knownUsedBytes = -1;
        batchUsedBytes = 0;
        stepUsedBytes = 0;
        batchInodes = 0;
        stepInodes = 0;
        inStep = false;
        writing = false;
        unwrittenInodes.clear();
        unwrittenBeforeStep.clear();
        seenEpoch = -1;
        seenInodeEpoch = -1;
        // a rollback leaves the committed state as it was: the caches still hold true
        if (!touchedInodes.isEmpty()) {
            if (outcome != Outcome.ROLLED_BACK) {
                long settledEpoch = inodeCache.settled(touchedInodes.keySet());
                if (outcome == Outcome.COMMITTED) {
                    touchedInodes.forEach((ino, row) -> {
                        if (row != null) {
                            inodeCache.fill(ino, row, settledEpoch);
                        }
                    });
                }
            }
            touchedInodes.clear();
        }
        if (!touched.isEmpty()) {
            if (outcome != Outcome.ROLLED_BACK) {
                long settledEpoch = entryCache.settled(touched.keySet());
                if (outcome == Outcome.COMMITTED) {
                    // the names the writer made are looked up next (a tar sets their modes and times);
                    // the names it removed keep no key, or every rm -rf would fill the cache up
                    touched.forEach((key, entry) -> {
                        if (entry == EntryCache.ABSENT) {
                            entryCache.settledAbsent(key, settledEpoch);
                        } else if (entry != null) {
                            entryCache.fill(key, entry, settledEpoch);
                        }
                    });
                }
            }
            touched.clear();
        }
        if (!madeDirectories.isEmpty()) {
            if (outcome == Outcome.COMMITTED) {
                entryCache.holdWhole(madeDirectories, clearsBeforeMade);
            }
            madeDirectories.clear();
        }
    }

    @Override
    public boolean inTransaction() {
        return inTransaction;
    }

    private static String checkedName(String name) {
        if (!SAVEPOINT_NAME.matcher(name).matches()) {
            throw new IllegalArgumentException("bad savepoint name: " + name);
        }
        return name;
    }

    @Override
    public void savepoint(String name) {
        exec("SAVEPOINT sp_" + checkedName(name));
    }

    @Override
    public void release(String name) {
        exec("RELEASE sp_" + checkedName(name));
    }

    @Override
    public void rollbackTo(String name) {
        knownUsedBytes = -1;
        exec("ROLLBACK TO sp_" + checkedName(name));
    }

    // --- steps of a batch: one client request each, inside the writer's open transaction

    /** Starts a step that {@link #undoStep} can take back alone. */
    void beginStep() {
        control("SAVEPOINT step");
        inStep = true;
        stepUsedBytes = 0;
        stepInodes = 0;
    }

    void endStep() {
        control("RELEASE step");
        unwrittenBeforeStep.clear();
        batchUsedBytes += stepUsedBytes;
        stepUsedBytes = 0;
        batchInodes += stepInodes;
        stepInodes = 0;
        inStep = false;
    }

    /**
     * Takes back the changes of the step begun last. Its rows are no longer
     * known, nor may they reach the cache at commit: every inode and entry
     * touched so far is forgotten instead, but for the rows earlier steps
     * changed and nobody has written, which go back to what those steps left.
     */
    void undoStep() {
        unwrittenBeforeStep.forEach((ino, before) -> {
            if (before == null) {
                unwrittenInodes.remove(ino);
            } else {
                unwrittenInodes.put(ino, before);
            }
        });
        unwrittenBeforeStep.clear();
        touchedInodes.replaceAll((ino, row) -> null);
        unwrittenInodes.forEach((ino, row) -> touchedInodes.put(ino, row.copy()));
        touched.replaceAll((key, entry) -> null);
        madeDirectories.clear();
        knownUsedBytes = -1;
        stepUsedBytes = 0;
        stepInodes = 0;
        inStep = false;
        control("ROLLBACK TO step");
        control("RELEASE step");
    }

    // --- inodes ------------------------------------------------------------------

    /**
     * Whether the inode cache holds the truth about {@code ino} for this
     * connection: for readers, and for the writer unless it changed the inode
     * itself or a transaction's commit may not have settled yet.
     */
    private boolean readsInodeCache(long ino) {
        if (!sharesCaches || seenInodeEpoch < 0) {
            return false;
        }
        return !writing || (!touchedInodes.containsKey(ino) && entryCache.trustworthyForWriters());
    }

    /** Notes that the open transaction is about to change an inode, to {@code row} (null: deletes it). */
    private void touchInode(long ino, InodeRow row) {
        touchedInodes.put(ino, sharesCaches && row != null ? row.copy() : null);
        if (sharesCaches) {
            inodeCache.changing(ino);
        }
    }

    @Override
    public InodeRow inode(long ino) {
        if (sharesCaches && writing) {
            InodeRow mine = touchedInodes.get(ino);
            if (mine != null) {
                return mine.copy(); // the row this transaction wrote last
            }
        }
        boolean cached = readsInodeCache(ino);
        if (cached) {
            InodeRow hit = inodeCache.get(ino);
            if (hit != null) {
                return hit.copy();
            }
        }
        InodeRow r = inodeFromDatabase(ino);
        if (cached && r != null) {
            inodeCache.fill(ino, r.copy(), seenInodeEpoch);
        }
        return r;
    }

    private InodeRow inodeFromDatabase(long ino) {
        try {
            PreparedStatement ps = sql("SELECT mode, uid, gid, nlink, size, alloc, atime_ns, mtime_ns, ctime_ns, rdev, target"
                    + " FROM inode WHERE ino = ?");
            ps.setLong(1, ino);
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) {
                    return null;
                }
                InodeRow r = new InodeRow();
                r.ino = ino;
                r.mode = rs.getInt(1);
                r.uid = rs.getInt(2);
                r.gid = rs.getInt(3);
                r.nlink = rs.getLong(4);
                r.size = rs.getLong(5);
                r.alloc = rs.getLong(6);
                r.atimeNs = rs.getLong(7);
                r.mtimeNs = rs.getLong(8);
                r.ctimeNs = rs.getLong(9);
                r.rdev = rs.getLong(10);
                r.target = rs.getBytes(11);
                return r;
            }
        } catch (SQLException e) {
            throw StoreException.wrap(e);
        }
    }

    @Override
    public long insertInode(InodeRow r) {
        try {
            if (r.ino <= 0) {
                // numbered here: INSERT ... RETURNING ino would build a table for its one row each time
                r.ino = inodeCeiling.next(this::highestInode);
            }
            PreparedStatement ps = sql("INSERT INTO inode (ino, mode, uid, gid, nlink, size, alloc, atime_ns, mtime_ns, ctime_ns, rdev, target)"
                    + " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
            ps.setLong(1, r.ino);
            ps.setInt(2, r.mode);
            ps.setInt(3, r.uid);
            ps.setInt(4, r.gid);
            ps.setLong(5, r.nlink);
            ps.setLong(6, r.size);
            ps.setLong(7, r.alloc);
            ps.setLong(8, r.atimeNs);
            ps.setLong(9, r.mtimeNs);
            ps.setLong(10, r.ctimeNs);
            ps.setLong(11, r.rdev);
            ps.setBytes(12, r.target);
            ps.executeUpdate();
            addInodes(1);
            inodeCeiling.raise(r.ino);
            touchInode(r.ino, r);
            if (sharesCaches && ModeBits.isDirectory(r.mode)) {
                if (madeDirectories.isEmpty()) {
                    clearsBeforeMade = entryCache.clears();
                }
                madeDirectories.add(r.ino);
            }
            return r.ino;
        } catch (SQLException e) {
            throw StoreException.wrap(e);
        } finally {
            settleIfAutocommitted();
        }
    }

    @Override
    public void updateInode(InodeRow r) {
        touchInode(r.ino, r);
        if (sharesCaches && inStep) {
            noteUnwrittenChange(r.ino);
            unwrittenInodes.put(r.ino, touchedInodes.get(r.ino)); // the copy touchInode kept; neither map changes a row
            return;
        }
        writeInode(r);
    }

    /** Remembers, before the open step first changes {@code ino}'s unwritten row, what it was. */
    private void noteUnwrittenChange(long ino) {
        if (!unwrittenBeforeStep.containsKey(ino)) {
            unwrittenBeforeStep.put(ino, unwrittenInodes.get(ino));
        }
    }

    /** The batch's unwritten rows, into its transaction just before it commits. */
    private void writeUnwrittenInodes() {
        if (unwrittenInodes.isEmpty()) {
            return;
        }
        for (InodeRow r : unwrittenInodes.values()) {
            writeInode(r);
        }
        unwrittenInodes.clear();
        unwrittenBeforeStep.clear();
    }

    private void writeInode(InodeRow r) {
        try {
            PreparedStatement ps = sql("UPDATE inode SET mode = ?, uid = ?, gid = ?, nlink = ?, size = ?, alloc = ?,"
                    + " atime_ns = ?, mtime_ns = ?, ctime_ns = ?, rdev = ?, target = ? WHERE ino = ?");
            ps.setInt(1, r.mode);
            ps.setInt(2, r.uid);
            ps.setInt(3, r.gid);
            ps.setLong(4, r.nlink);
            ps.setLong(5, r.size);
            ps.setLong(6, r.alloc);
            ps.setLong(7, r.atimeNs);
            ps.setLong(8, r.mtimeNs);
            ps.setLong(9, r.ctimeNs);
            ps.setLong(10, r.rdev);
            ps.setBytes(11, r.target);
            ps.setLong(12, r.ino);
            ps.executeUpdate();
        } catch (SQLException e) {
            throw StoreException.wrap(e);
        } finally {
            settleIfAutocommitted();
        }
    }

    @Override
    public long deleteInode(InodeRow r) {
        touchInode(r.ino, null);
        if (unwrittenInodes.containsKey(r.ino)) {
            noteUnwrittenChange(r.ino);
            unwrittenInodes.remove(r.ino);
        }
        if (ModeBits.isDirectory(r.mode)) {
            madeDirectories.remove(r.ino);
            entryCache.forgetWhole(r.ino);
        }
        try {
            if (r.alloc > 0) { // alloc counts the bytes of its blocks: without any, it has none
                PreparedStatement blocks = sql("DELETE FROM extent WHERE key >= ? AND key < ?");
                blocks.setLong(1, blockKey(r.ino, 0));
                blocks.setLong(2, blockRangeEnd(r.ino, 1L << 32));
                blocks.executeUpdate();
            }
            if (!xattrHolders.mayHold(r.ino, this::inodesWithXattrs)) {
                deleteInodeRow(r.ino);
                return 0;
            }
            // a plain query finds out what its attributes hold, where a DELETE ... RETURNING
            // builds a table for its results each time, the dearest statement of an unlink
            PreparedStatement sum = sql("SELECT sum(length(CAST(name AS BLOB)) + length(value)) FROM xattr WHERE ino = ?");
            sum.setLong(1, r.ino);
            long xattrBytes;
            boolean anyXattr;
            try (ResultSet rs = sum.executeQuery()) {
                xattrBytes = rs.next() ? rs.getLong(1) : 0;
                anyXattr = !rs.wasNull();
            }
            if (anyXattr) {
                PreparedStatement x = sql("DELETE FROM xattr WHERE ino = ?");
                x.setLong(1, r.ino);
                x.executeUpdate();
            }
            deleteInodeRow(r.ino);
            return xattrBytes;
        } catch (SQLException e) {
            throw StoreException.wrap(e);
        } finally {
            settleIfAutocommitted();
        }
    }

    private void deleteInodeRow(long ino) throws SQLException {
        PreparedStatement i = sql("DELETE FROM inode WHERE ino = ?");
        i.setLong(1, ino);
        addInodes(-i.executeUpdate());
    }

    /** Passes each inode that holds an attribute in the database, as this connection sees it. */
    private void inodesWithXattrs(Consumer<Long> sink) {
        try (ResultSet rs = sql("SELECT DISTINCT ino FROM xattr").executeQuery()) {
            while (rs.next()) {
                sink.accept(rs.getLong(1));
            }
        } catch (SQLException e) {
            throw StoreException.wrap(e);
        }
    }

    @Override
    public List<Long> orphans() {
        try (ResultSet rs = sql("SELECT ino FROM inode WHERE nlink = 0").executeQuery()) {
            List<Long> out = new ArrayList<>();
            while (rs.next()) {
                out.add(rs.getLong(1));
            }
            return out;
        } catch (SQLException e) {
            throw StoreException.wrap(e);
        }
    }

    @Override
    public long inodeCount() {
        return singleLong("SELECT inode_count FROM fsinfo WHERE id = 1") + batchInodes + stepInodes;
    }

    @Override
    public long inodeCeiling() {
        return inodeCeiling.get(this::highestInode);
    }

    private long highestInode() {
        return singleLong("SELECT coalesce(max(ino), 0) FROM inode");
    }

    private static long firstLong(PreparedStatement ps) throws SQLException {
        try (ResultSet rs = ps.executeQuery()) {
            return rs.next() ? rs.getLong(1) : 0;
        }
    }

    private long singleLong(String query, Object... params) {
        try (ResultSet rs = bound(query, params).executeQuery()) {
            return rs.next() ? rs.getLong(1) : 0;
        } catch (SQLException e) {
            throw StoreException.wrap(e);
        }
    }

    /** The cached statement with its parameters bound: String, Long, Integer, byte[], or null for NULL. */
    private PreparedStatement bound(String query, Object... params) throws SQLException {
        PreparedStatement ps = sql(query);
        for (int i = 0; i < params.length; i++) {
            Object v = params[i];
            if (v == null) {
                ps.setNull(i + 1, java.sql.Types.NULL);
            } else if (v instanceof String str) {
                ps.setString(i + 1, str);
            } else if (v instanceof byte[] bytes) {
                ps.setBytes(i + 1, bytes);
            } else if (v instanceof Long || v instanceof Integer) {
                ps.setLong(i + 1, ((Number) v).longValue());
            } else {
                throw new IllegalArgumentException("cannot bind " + v.getClass());
            }
        }
        return ps;
    }

    /** Runs a change and returns how many rows it touched. */
    private int update(String query, Object... params) {
        try {
            return bound(query, params).executeUpdate();
        } catch (SQLException e) {
            throw StoreException.wrap(e);
        }
    }

    /** Whether a query returns any row. */
    private boolean exists(String query, Object... params) {
        try (ResultSet rs = bound(query, params).executeQuery()) {
            return rs.next();
        } catch (SQLException e) {
            throw StoreException.wrap(e);
        }
    }

    // --- directory entries ------------------------------------------------------

    @Override
    public long lookup(long parent, String name) {
        DirEntryRow e = lookupEntry(parent, name);
        return e == null ? 0 : e.ino();
    }

    @Override
    public DirEntryRow lookupEntry(long parent, String name) {
        EntryCache.Key key = null;
        if (sharesCaches && seenEpoch >= 0) {
            key = new EntryCache.Key(parent, name);
            if (touched.containsKey(key)) {
                DirEntryRow mine = touched.get(key);
                if (mine != null) {
                    return mine == EntryCache.ABSENT ? null : mine; // what this transaction wrote
                }
                key = null; // this transaction changed it: only the database knows it now
            } else if (madeDirectories.contains(parent)) {
                return null; // every name it has, this transaction made
            } else {
                DirEntryRow hit = entryCache.find(key);
                if (hit != null && (!writing || entryCache.trustworthyForWriters())) {
                    return hit == EntryCache.ABSENT ? null : hit;
                }
            }
        }
        DirEntryRow row;
        try {
            PreparedStatement ps = sql("SELECT ino, type FROM dirent WHERE parent = ? AND name = ?");
            ps.setLong(1, parent);
            ps.setString(2, name);
            try (ResultSet rs = ps.executeQuery()) {
                row = rs.next() ? new DirEntryRow(name, rs.getLong(1), rs.getInt(2)) : null;
            }
        } catch (SQLException e) {
            throw StoreException.wrap(e);
        }
        if (key != null) {
            // a missing name is kept too: a create looks its name up twice before making it
            entryCache.fill(key, row != null ? row : EntryCache.ABSENT, seenEpoch);
        }
        return row;
    }

    /** Notes that the open transaction is about to change an entry; {@link #wrote} may say to what. */
    private EntryCache.Key touch(long parent, String name) {
        EntryCache.Key key = new EntryCache.Key(parent, name);
        touched.put(key, null);
        if (sharesCaches) {
            entryCache.changing(key);
        }
        return key;
    }

    /**
     * The shared writer changed an entry to {@code ino}, or removed it (0). The
     * entry carries its inode's type, which the writer knows only from an inode
     * row it wrote itself.
     */
    private void wrote(EntryCache.Key key, long ino) {
        if (!sharesCaches || !inTransaction) {
            return;
        }
        if (ino == 0) {
            touched.put(key, EntryCache.ABSENT);
            return;
        }
        InodeRow row = touchedInodes.get(ino);
        if (row != null) {
            touched.put(key, new DirEntryRow(key.name(), ino, row.mode & ModeBits.S_IFMT));
        }
    }

    /** After a change to an entry or inode: outside a transaction it has committed on its own. */
    private void settleIfAutocommitted() {
        if (!inTransaction) {
            endTransaction(Outcome.COMMITTED);
        }
    }

    // An entry copies its inode's type (see schema 005); a missing inode leaves it NULL,
    // which the column refuses, so an entry can never name an inode that does not exist.
    private static final String TYPE_OF_INO_3 = "(SELECT mode & " + ModeBits.S_IFMT + " FROM inode WHERE ino = ?3)";

    @Override
    public void insertDirent(long parent, String name, long ino) {
        direntUpdate("INSERT INTO dirent (parent, name, ino, type) VALUES (?1, ?2, ?3, " + TYPE_OF_INO_3 + ")",
                parent, name, ino);
    }

    @Override
    public void updateDirent(long parent, String name, long ino) {
        direntUpdate("UPDATE dirent SET ino = ?3, type = " + TYPE_OF_INO_3 + " WHERE parent = ?1 AND name = ?2",
                parent, name, ino);
    }

    @Override
    public void deleteDirent(long parent, String name) {
        EntryCache.Key key = touch(parent, name);
        try {
            PreparedStatement ps = sql("DELETE FROM dirent WHERE parent = ? AND name = ?");
            ps.setLong(1, parent);
            ps.setString(2, name);
            ps.executeUpdate();
            wrote(key, 0);
        } catch (SQLException e) {
            throw StoreException.wrap(e);
        } finally {
            settleIfAutocommitted();
        }
    }

    private void direntUpdate(String query, long parent, String name, long ino) {
        EntryCache.Key key = touch(parent, name);
        try {
            PreparedStatement ps = sql(query);
            ps.setLong(1, parent);
            ps.setString(2, name);
            ps.setLong(3, ino);
            if (ps.executeUpdate() == 1) {
                wrote(key, ino);
            }
        } catch (SQLException e) {
            throw StoreException.wrap(e);
        } finally {
            settleIfAutocommitted();
        }
    }

    @Override
    public boolean hasEntries(long dir) {
        return exists("SELECT 1 FROM dirent WHERE parent = ? LIMIT 1", dir);
    }

    @Override
    public long parentOf(long ino) {
        return singleLong("SELECT parent FROM dirent WHERE ino = ? LIMIT 1", ino);
    }

    @Override
    public byte[] listDirectory(long dir, byte[] after, int pages, EntrySink sink) {
        try {
            return SqliteExtension.packsEntries() ? listPacked(dir, after, pages, sink) : listRowByRow(dir, after, pages, sink);
        } catch (SQLException e) {
            throw StoreException.wrap(e);
        }
    }

    /**
     * Lists in pages of entries packed by SQLite, one native call per page
     * instead of three per entry. The first page comes from one statement that
     * packs up to one entry more than a page: most directories end within it.
     * Each further page is the names after the last one of the page before, up
     * to the {@link PackedEntries#PAGE}th, which a walk of the index finds
     * first: packed from a subquery with a LIMIT, every name would be copied
     * once more, and the listing took twice as long. All pages run in the
     * caller's read, so they see one snapshot.
     */
    byte[] listPacked(long dir, byte[] after, int pages, EntrySink sink) throws SQLException {
        byte[] last = listFirstPage(dir, after, sink);
        PreparedStatement pageEnd = sql("SELECT name FROM dirent WHERE parent = ? AND name > CAST(? AS TEXT)"
                + " ORDER BY name LIMIT 1 OFFSET " + (PackedEntries.PAGE - 1));
        PreparedStatement page = sql("SELECT " + SqliteExtension.PACKED_ENTRIES + "(name, ino, type) FROM dirent"
                + " WHERE parent = ? AND name > CAST(? AS TEXT) AND name <= CAST(? AS TEXT)");
        PreparedStatement rest = sql("SELECT " + SqliteExtension.PACKED_ENTRIES + "(name, ino, type) FROM dirent"
                + " WHERE parent = ? AND name > CAST(? AS TEXT)");
        for (int listed = 1; last != null && listed < pages; listed++) {
            after = last;
            pageEnd.setLong(1, dir);
            pageEnd.setBytes(2, after);
            try (ResultSet rs = pageEnd.executeQuery()) {
                last = rs.next() ? rs.getBytes(1) : null;
            }
            if (last != null && java.util.Arrays.compareUnsigned(last, after) <= 0) {
                // only a name stored as a blob, never written so, sorts apart from the text bounds
                throw new StoreException(StoreException.Kind.CORRUPT,
                        "directory " + dir + " holds a name that is not text: the listing stops rather than repeat", null);
            }
            PreparedStatement ps = last == null ? rest : page;
            ps.setLong(1, dir);
            ps.setBytes(2, after);
            if (last != null) {
                ps.setBytes(3, last);
            }
            try (ResultSet rs = ps.executeQuery()) {
                byte[] packed = rs.next() ? rs.getBytes(1) : null;
                if (packed != null && packed.length > 0) {
                    sink.acceptPacked(packed);
                }
            }
        }
        return last;
    }

    /**
     * Passes up to a page and one entry after {@code after} in one statement;
     * returns the last name passed when there were that many, else null.
     */
    private byte[] listFirstPage(long dir, byte[] after, EntrySink sink) throws SQLException {
        PreparedStatement ps = sql("SELECT " + SqliteExtension.PACKED_ENTRIES + "(name, ino, type), count(*) FROM"
                + " (SELECT name, ino, type FROM dirent WHERE parent = ? AND name > CAST(? AS TEXT)"
                + " ORDER BY name LIMIT " + (PackedEntries.PAGE + 1) + ")");
        ps.setLong(1, dir);
        ps.setBytes(2, after);
        try (ResultSet rs = ps.executeQuery()) {
            if (!rs.next()) {
                return null;
            }
            byte[] packed = rs.getBytes(1);
            if (packed == null || packed.length == 0) {
                return null;
            }
            sink.acceptPacked(packed);
            return rs.getInt(2) > PackedEntries.PAGE ? PackedEntries.lastName(packed) : null;
        }
    }

    /** The listing without the extension (see {@link SqliteExtension}). */
    byte[] listRowByRow(long dir, byte[] after, int pages, EntrySink sink) throws SQLException {
        // ino and type in one column: one native call fewer for each of many rows
        // (SQLite gives <<, >> and | one precedence, hence the parentheses)
        PreparedStatement ps = sql("SELECT name, (ino << 4) | (type >> 12) FROM dirent"
                + " WHERE parent = ? AND name > CAST(? AS TEXT) ORDER BY name LIMIT ?");
        long limit = pages == Integer.MAX_VALUE ? -1 : (long) pages * PackedEntries.PAGE;
        ps.setLong(1, dir);
        ps.setBytes(2, after);
        ps.setLong(3, limit);
        byte[] last = null;
        long count = 0;
        try (ResultSet rs = ps.executeQuery()) {
            while (rs.next()) {
                long inoAndType = rs.getLong(2);
                last = rs.getBytes(1);
                count++;
                sink.accept(last, inoAndType >>> 4, (int) (inoAndType & 0xF) << 12);
            }
        }
        return count == limit ? last : null;
    }

    // --- file data ------------------------------------------------------------------

    @Override
    public byte[] block(long ino, long index) {
        try {
            PreparedStatement ps = sql("SELECT data FROM extent WHERE key = ?");
            ps.setLong(1, blockKey(ino, index));
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? rs.getBytes(1) : null;
            }
        } catch (SQLException e) {
            throw StoreException.wrap(e);
        }
    }

    @Override
    public void blocks(long ino, long from, long to, BlockSink sink) {
        try {
            PreparedStatement ps = sql("SELECT key, data FROM extent WHERE key >= ? AND key < ? ORDER BY key");
            ps.setLong(1, blockKey(ino, from));
            ps.setLong(2, blockRangeEnd(ino, to));
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    sink.accept(rs.getLong(1) & 0xFFFF_FFFFL, rs.getBytes(2));
                }
            }
        } catch (SQLException e) {
            throw StoreException.wrap(e);
        }
    }

    @Override
    public int[] blockLengths(long ino, long from, long to) {
        int[] lengths = Store.holes(from, to);
        try {
            PreparedStatement ps = sql("SELECT key, length(data) FROM extent WHERE key >= ? AND key < ?");
            ps.setLong(1, blockKey(ino, from));
            ps.setLong(2, blockRangeEnd(ino, to));
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    lengths[(int) ((rs.getLong(1) & 0xFFFF_FFFFL) - from)] = rs.getInt(2);
                }
            }
        } catch (SQLException e) {
            throw StoreException.wrap(e);
        }
        return lengths;
    }

    /** The key just past block {@code to - 1} of the inode; {@code to} may be 2^32, past its last block. */
    private static long blockRangeEnd(long ino, long to) {
        return (ino << 32) + to;
    }

    @Override
    public byte[] blockSlice(long ino, long index, int from, int length) {
        try {
            PreparedStatement ps = sql("SELECT substr(data, ? + 1, ?) FROM extent WHERE key = ?");
            ps.setInt(1, from);
            ps.setInt(2, length);
            ps.setLong(3, blockKey(ino, index));
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) {
                    return null;
                }
                byte[] bytes = rs.getBytes(1);
                return bytes == null ? new byte[0] : bytes;
            }
        } catch (SQLException e) {
            throw StoreException.wrap(e);
        }
    }

    @Override
    public int blockLength(long ino, long index) {
        try {
            PreparedStatement ps = sql("SELECT length(data) FROM extent WHERE key = ?");
            ps.setLong(1, blockKey(ino, index));
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? rs.getInt(1) : -1;
            }
        } catch (SQLException e) {
            throw StoreException.wrap(e);
        }
    }

    @Override
    public void putBlock(long ino, long index, long offset, byte[] data, int length) {
        try {
            byte[] bytes = length == data.length ? data : java.util.Arrays.copyOf(data, length);
            // An UPDATE of a block that keeps its length rewrites in place only the pages whose
            // bytes changed: a 4 KiB write logs the few pages it touched, where a REPLACE
            // (delete, then insert) logs every page of the block.
            PreparedStatement update = sql("UPDATE extent SET data = ? WHERE key = ?");
            update.setBytes(1, bytes);
            update.setLong(2, blockKey(ino, index));
            if (update.executeUpdate() == 0) {
                insertBlock(ino, index, offset, bytes, length);
            } else {
                dataBytesWritten += length;
            }
        } catch (SQLException e) {
            throw StoreException.wrap(e);
        }
    }

    @Override
    public void insertBlock(long ino, long index, long offset, byte[] data, int length) {
        try {
            PreparedStatement ps = sql("INSERT INTO extent (key, ino, offset, data) VALUES (?, ?, ?, ?)");
            ps.setLong(1, blockKey(ino, index));
            ps.setLong(2, ino);
            ps.setLong(3, offset);
            ps.setBytes(4, length == data.length ? data : java.util.Arrays.copyOf(data, length));
            ps.executeUpdate();
            dataBytesWritten += length;
        } catch (SQLException e) {
            throw StoreException.wrap(e);
        }
    }

    @Override
    public void putWholeBlocks(long ino, long first, int count, int blockSize, byte[] src, int srcPos) {
        int bytes = count * blockSize;
        byte[] run = srcPos == 0 && src.length == bytes ? src : java.util.Arrays.copyOfRange(src, srcPos, srcPos + bytes);
        upsertWholeBlocks(UPSERT_BOUND_BLOCKS, ino, first, count, blockSize, ps -> ps.setBytes(6, run));
    }

    @Override
    public void putWholeLentBlocks(long ino, long first, int count, int blockSize, int lentPos) {
        upsertWholeBlocks(UPSERT_LENT_BLOCKS, ino, first, count, blockSize, ps -> ps.setInt(6, lentPos));
    }

    /** Binds the parameter a block's bytes come from (?6). */
    @FunctionalInterface
    private interface SourceBinding {
        void bind(PreparedStatement ps) throws SQLException;
    }

    /**
     * One statement for a run of whole blocks: a 1 MiB write is one execution
     * instead of 64, and Java copies no block. An existing block is updated (in
     * place, page by page), a hole inserted. {@code blockBytes} gives block i of
     * the run (counted from 0, each ?5 bytes long) from parameter ?6.
     */
    private static String upsertWholeBlocksSql(String blockBytes) {
        return "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ?1)"
                + " INSERT INTO extent (key, ino, offset, data)"
                + " SELECT ?2 + i, ?3, ?4 + i * ?5, " + blockBytes + " FROM n WHERE true"
                + " ON CONFLICT (key) DO UPDATE SET data = excluded.data";
    }

    private static final String UPSERT_BOUND_BLOCKS = upsertWholeBlocksSql("substr(?6, i * ?5 + 1, ?5)");
    private static final String UPSERT_LENT_BLOCKS = upsertWholeBlocksSql("sqliteos_lent_bytes(?6 + i * ?5, ?5)");

    private void upsertWholeBlocks(String upsert, long ino, long first, int count, int blockSize, SourceBinding source) {
        try {
            PreparedStatement ps = sql(upsert);
            ps.setInt(1, count);
            ps.setLong(2, blockKey(ino, first));
            ps.setLong(3, ino);
            ps.setLong(4, first * blockSize);
            ps.setInt(5, blockSize);
            source.bind(ps);
            ps.executeUpdate();
            dataBytesWritten += (long) count * blockSize;
        } catch (SQLException e) {
            throw StoreException.wrap(e);
        }
    }

    @Override
    public void copyOutLent(long ino, long offset, int count, int blockSize) {
        long first = offset / blockSize;
        long last = (offset + count - 1) / blockSize;
        try {
            // s: a block's start in the file; f and t: the part read, from its start
            PreparedStatement ps = sql("SELECT coalesce(sum(sqliteos_copy_out("
                    + "CASE WHEN f = 0 AND t = n THEN data ELSE substr(data, f + 1, t - f) END, s + f - ?1)), 0)"
                    + " FROM (SELECT data, length(data) AS n, s, max(?1 - s, 0) AS f, min(?2 - s, length(data)) AS t"
                    + " FROM (SELECT data, ?3 + (key - ?4) * ?5 AS s FROM extent WHERE key >= ?4 AND key < ?6))"
                    + " WHERE t > f");
            ps.setLong(1, offset);
            ps.setLong(2, offset + count);
            ps.setLong(3, first * blockSize);
            ps.setLong(4, blockKey(ino, first));
            ps.setInt(5, blockSize);
            ps.setLong(6, blockKey(ino, last + 1));
            if (firstLong(ps) < count) {
                // holes, or blocks shorter than the range: zeros first, then the bytes again
                firstLong(sql("SELECT sqliteos_zero_lent()"));
                firstLong(ps);
            }
        } catch (SQLException e) {
            throw StoreException.wrap(e);
        }
    }

    @Override
    public void patchBlock(long ino, long index, int from, byte[] bytes) {
        // spliced inside SQLite, so the block's other bytes never cross into Java and back
        int changed = splice("UPDATE extent SET data = CAST(substr(data, 1, ?1)"
                + " || zeroblob(max(?1 - length(data), 0)) || ?2 || substr(data, ?3 + 1) AS BLOB) WHERE key = ?4",
                ino, index, from, bytes);
        if (changed != 1) {
            throw new StoreException(StoreException.Kind.OTHER, "no block " + index + " of inode " + ino + " to patch", null);
        }
    }

    @Override
    public boolean overwriteInBlock(long ino, long index, int from, byte[] bytes) {
        // one statement finds the block and checks its length: an overwrite inside a
        // file's data (a database page, a random write) needs no lookup first
        return splice("UPDATE extent SET data = sqliteos_splice(data, ?1, ?2)"
                + " WHERE key = ?4 AND length(data) >= ?3", ino, index, from, bytes) == 1;
    }

    /** Runs an UPDATE that splices {@code bytes} (?2) into a block (?4) at {@code from} (?1, ending at ?3). */
    private int splice(String update, long ino, long index, int from, byte[] bytes) {
        try {
            PreparedStatement ps = sql(update);
            ps.setInt(1, from);
            ps.setBytes(2, bytes);
            ps.setInt(3, from + bytes.length);
            ps.setLong(4, blockKey(ino, index));
            int changed = ps.executeUpdate();
            dataBytesWritten += changed * (long) bytes.length;
            return changed;
        } catch (SQLException e) {
            throw StoreException.wrap(e);
        }
    }

    /** The bytes of file data written since the last call: what a commit puts in the log, roughly. */
    long takeDataBytesWritten() {
        long bytes = dataBytesWritten;
        dataBytesWritten = 0;
        return bytes;
    }

    @Override
    public long deleteBlocks(long ino, long from, long to) {
        try {
            long first = blockKey(ino, from);
            long end = blockRangeEnd(ino, to);
            PreparedStatement sum = sql("SELECT coalesce(sum(length(data)), 0) FROM extent WHERE key >= ? AND key < ?");
            sum.setLong(1, first);
            sum.setLong(2, end);
            long bytes;
            try (ResultSet rs = sum.executeQuery()) {
                rs.next();
                bytes = rs.getLong(1);
            }
            if (bytes > 0) {
                PreparedStatement del = sql("DELETE FROM extent WHERE key >= ? AND key < ?");
                del.setLong(1, first);
                del.setLong(2, end);
                del.executeUpdate();
            }
            return bytes;
        } catch (SQLException e) {
            throw StoreException.wrap(e);
        }
    }

    // --- extended attributes ----------------------------------------------------------

    @Override
    public byte[] xattr(long ino, String name) {
        try {
            PreparedStatement ps = sql("SELECT value FROM xattr WHERE ino = ? AND name = ?");
            ps.setLong(1, ino);
            ps.setString(2, name);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? rs.getBytes(1) : null;
            }
        } catch (SQLException e) {
            throw StoreException.wrap(e);
        }
    }

    @Override
    public void putXattr(long ino, String name, byte[] value) {
        xattrHolders.add(ino);
        try {
            PreparedStatement ps = sql("INSERT OR REPLACE INTO xattr (ino, name, value) VALUES (?, ?, ?)");
            ps.setLong(1, ino);
            ps.setString(2, name);
            ps.setBytes(3, value);
            ps.executeUpdate();
        } catch (SQLException e) {
            throw StoreException.wrap(e);
        }
    }

    @Override
    public boolean deleteXattr(long ino, String name) {
        try {
            PreparedStatement ps = sql("DELETE FROM xattr WHERE ino = ? AND name = ?");
            ps.setLong(1, ino);
            ps.setString(2, name);
            return ps.executeUpdate() > 0;
        } catch (SQLException e) {
            throw StoreException.wrap(e);
        }
    }

    @Override
    public List<String> xattrNames(long ino) {
        try {
            PreparedStatement ps = sql("SELECT name FROM xattr WHERE ino = ? ORDER BY name");
            ps.setLong(1, ino);
            List<String> names = new ArrayList<>();
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    names.add(rs.getString(1));
                }
            }
            return names;
        } catch (SQLException e) {
            throw StoreException.wrap(e);
        }
    }

    @Override
    public boolean anyXattrNamed(String name) {
        return exists("SELECT 1 FROM xattr WHERE name = ? LIMIT 1", name);
    }

    // --- counters -------------------------------------------------------------------------

    @Override
    public long usedBytes() {
        if (inTransaction && knownUsedBytes >= 0) {
            return knownUsedBytes;
        }
        long used = singleLong("SELECT used_bytes FROM fsinfo WHERE id = 1") + batchUsedBytes + stepUsedBytes;
        if (inTransaction) {
            knownUsedBytes = used;
        }
        return used;
    }

    @Override
    public void addUsedBytes(long delta) {
        if (delta == 0) {
            return;
        }
        addToCounters(delta, 0);
        if (knownUsedBytes >= 0) {
            knownUsedBytes += delta;
        }
    }

    /** Counts inodes added (or, negative, removed) by this connection. */
    private void addInodes(long delta) {
        if (delta != 0) {
            addToCounters(0, delta);
        }
    }

    /** Changes fsinfo's counters: in the open step, written at the batch's commit, or at once. */
    private void addToCounters(long bytes, long inodes) {
        if (inStep) {
            stepUsedBytes += bytes;
            stepInodes += inodes;
        } else {
            updateCounters(bytes, inodes);
        }
    }

    /** The batch's changes to the counters, into its transaction just before it commits. */
    private void writeBatchCounters() {
        long bytes = batchUsedBytes + stepUsedBytes;
        long inodes = batchInodes + stepInodes;
        if (bytes != 0 || inodes != 0) {
            updateCounters(bytes, inodes);
            batchUsedBytes = 0;
            stepUsedBytes = 0;
            batchInodes = 0;
            stepInodes = 0;
        }
    }

    private void updateCounters(long bytes, long inodes) {
        try {
            PreparedStatement ps = sql("UPDATE fsinfo SET used_bytes = used_bytes + ?, inode_count = inode_count + ? WHERE id = 1");
            ps.setLong(1, bytes);
            ps.setLong(2, inodes);
            ps.executeUpdate();
        } catch (SQLException e) {
            throw StoreException.wrap(e);
        }
    }

    // --- IPC channels and messages -----------------------------------------------------

    private static final String CHANNEL_COLUMNS = "SELECT c.name, c.kind, c.owner_uid, c.mode, coalesce(c.capacity, 0),"
            + " CASE c.kind WHEN 'pipe' THEN (SELECT coalesce(sum(length(m.body)), 0) FROM ipc_message m WHERE m.channel = c.name)"
            + " ELSE (SELECT count(*) FROM ipc_message m WHERE m.channel = c.name AND m.receiver IS NULL) END,"
            + " (SELECT count(*) FROM ipc_message m WHERE m.channel = c.name AND m.receiver IS NOT NULL)"
            + " FROM ipc_channel c";

    /** Puts messages back in their queues: the start of a statement whose WHERE picks which. */
    private static final String RELEASE = "UPDATE ipc_message SET receiver = NULL, received_ns = NULL, lease_until_ns = NULL";

    private static ChannelRow channelRow(ResultSet rs) throws SQLException {
        return new ChannelRow(rs.getString(1), rs.getString(2), rs.getInt(3), rs.getInt(4), rs.getLong(5),
                rs.getLong(6), rs.getLong(7));
    }

    @Override
    public boolean insertChannel(String name, String kind, int ownerUid, int mode, long capacity, long createdNs) {
        return update("INSERT OR IGNORE INTO ipc_channel (name, kind, owner_uid, mode, created_ns, capacity)"
                + " VALUES (?, ?, ?, ?, ?, ?)", name, kind, ownerUid, mode, createdNs, capacity > 0 ? capacity : null) == 1;
    }

    @Override
    public ChannelRow channel(String name) {
        try (ResultSet rs = bound("SELECT name, kind, owner_uid, mode, coalesce(capacity, 0), 0, 0"
                + " FROM ipc_channel WHERE name = ?", name).executeQuery()) {
            return rs.next() ? channelRow(rs) : null;
        } catch (SQLException e) {
            throw StoreException.wrap(e);
        }
    }

    @Override
    public List<ChannelRow> channels() {
        try (ResultSet rs = sql(CHANNEL_COLUMNS + " ORDER BY c.name").executeQuery()) {
            List<ChannelRow> out = new ArrayList<>();
            while (rs.next()) {
                out.add(channelRow(rs));
            }
            return out;
        } catch (SQLException e) {
            throw StoreException.wrap(e);
        }
    }

    @Override
    public boolean deleteChannel(String name) {
        update("DELETE FROM ipc_message WHERE channel = ?", name);
        return update("DELETE FROM ipc_channel WHERE name = ?", name) == 1;
    }

    @Override
    public long appendMessage(String channel, byte[] body, long sentNs) {
        update("INSERT INTO ipc_message (channel, body, sent_ns) VALUES (?, ?, ?)", channel, body, sentNs);
        return singleLong("SELECT last_insert_rowid()");
    }

    @Override
    public boolean anyWaiting(String channel) {
        return exists("SELECT 1 FROM ipc_message WHERE channel = ? AND receiver IS NULL LIMIT 1", channel);
    }

    @Override
    public MessageRow claimMessage(String channel, String holder, long nowNs, long leaseUntilNs) {
        try (ResultSet rs = bound("UPDATE ipc_message SET receiver = ?, received_ns = ?, lease_until_ns = ?"
                + " WHERE id = (SELECT id FROM ipc_message WHERE channel = ? AND receiver IS NULL ORDER BY id LIMIT 1)"
                + " RETURNING id, body", holder, nowNs, leaseUntilNs > 0 ? leaseUntilNs : null, channel).executeQuery()) {
            return rs.next() ? new MessageRow(rs.getLong(1), rs.getBytes(2)) : null;
        } catch (SQLException e) {
            throw StoreException.wrap(e);
        }
    }

    @Override
    public boolean deleteHeldMessage(long id, String holder) {
        return update("DELETE FROM ipc_message WHERE id = ? AND receiver = ?", id, holder) == 1;
    }

    @Override
    public int releaseHeld(String holder) {
        return update(RELEASE + " WHERE receiver = ?", holder);
    }

    @Override
    public int releaseAllHeld() {
        return update(RELEASE + " WHERE receiver IS NOT NULL");
    }

    @Override
    public int releaseExpiredLeases(long nowNs) {
        return update(RELEASE + " WHERE lease_until_ns IS NOT NULL AND lease_until_ns <= ?", nowNs);
    }

    @Override
    public long nextLeaseEnd() {
        return singleLong("SELECT coalesce(min(lease_until_ns), 0) FROM ipc_message WHERE lease_until_ns IS NOT NULL");
    }

    @Override
    public long pipeBytes(String channel) {
        return singleLong("SELECT coalesce(sum(length(body)), 0) FROM ipc_message WHERE channel = ?", channel);
    }

    @Override
    public byte[] takePipeBytes(String channel, int max) {
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream(Math.min(max, 1 << 16));
        try {
            PreparedStatement oldest = sql("SELECT id, body FROM ipc_message WHERE channel = ? ORDER BY id LIMIT 1");
            while (out.size() < max) {
                oldest.setString(1, channel);
                long id;
                byte[] chunk;
                try (ResultSet rs = oldest.executeQuery()) {
                    if (!rs.next()) {
                        break;
                    }
                    id = rs.getLong(1);
                    chunk = rs.getBytes(2);
                }
                int want = max - out.size();
                if (chunk.length <= want) {
                    out.write(chunk, 0, chunk.length);
                    update("DELETE FROM ipc_message WHERE id = ?", id);
                } else {
                    // a partial read keeps the rest of the chunk at the front of the stream
                    out.write(chunk, 0, want);
                    update("UPDATE ipc_message SET body = ? WHERE id = ?", java.util.Arrays.copyOfRange(chunk, want, chunk.length), id);
                }
            }
            return out.toByteArray();
        } catch (SQLException e) {
            throw StoreException.wrap(e);
        }
    }

    /** Drops the cached statements, e.g. after a failure that may have left them unusable. */
    void resetStatements() {
        for (PreparedStatement ps : statements.values()) {
            try {
                ps.close();
            } catch (SQLException ignored) {
                // it is being discarded
            }
        }
        statements.clear();
    }

    /** Runs {@code action} once this store has closed. */
    void onClose(Runnable action) {
        this.onClose = action;
    }

    @Override
    public void close() {
        try {
            closeConnection();
        } finally {
            Runnable action = onClose;
            onClose = null;
            if (action != null) {
                action.run();
            }
        }
    }

    private void closeConnection() {
        for (PreparedStatement ps : statements.values()) {
            try {
                ps.close();
            } catch (SQLException ignored) {
                // closing anyway
            }
        }
        statements.clear();
        try {
            connection.close();
        } catch (SQLException e) {
            throw StoreException.wrap(e);
        }
    }
}
