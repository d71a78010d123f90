package io.sqliteos.ipc;

import io.sqliteos.db.MessageStore;
import io.sqliteos.db.MessageStore.ChannelRow;
import io.sqliteos.db.MessageStore.MessageRow;
import io.sqliteos.db.StoreException;
import io.sqliteos.tx.ProcessSessions;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Channels in the file system's database. A queue passes messages from many
 * producers to many consumers, each message to one consumer, deleted when it
 * acknowledges; a consumer that goes away puts its unacknowledged messages
 * back. A pipe is a byte stream from one writer to one reader with a bounded
 * capacity. Waiting receivers are woken by commits, never by polling.
 *
 * <p>A request from a process inside a file-system transaction runs in that
 * transaction: its sends are delivered when it commits, its receives and
 * acknowledgements are undone if it rolls back.
 */
public final class IpcService implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(IpcService.class);
    public static final int MAX_MESSAGE = 16 << 20;
    public static final int DEFAULT_PIPE_CAPACITY = 64 << 10;
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9._-]{1,128}");

    /** Per channel: a counter bumped by every change a waiter may care about, and the monitor they wait on. */
    private static final class Signal {
        long changes;
    }

    /** Who holds the two ends of a pipe. Connections, not the database, hold them. */
    private static final class PipeEnds {
        String reader;
        String writer;
        /** A writer was attached and has gone: once drained, the reader sees end of file. */
        volatile boolean writerClosed;
        /** A reader was attached and has gone: writes fail. */
        volatile boolean readerClosed;
    }

    private final ProcessSessions sessions;
    private final int daemonUid;
    private final Map<String, Signal> signals = new ConcurrentHashMap<>();
    private final Map<String, PipeEnds> pipes = new ConcurrentHashMap<>();
    /** Holders whose messages could not be put back while a transaction held the write lock. */
    private final Set<String> pendingReleases = ConcurrentHashMap.newKeySet();
    private final ScheduledExecutorService leases = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "sqliteos-ipc-leases");
        t.setDaemon(true);
        return t;
    });
    private volatile boolean closed;

    public IpcService(ProcessSessions sessions, int daemonUid) {
        this.sessions = sessions;
        this.daemonUid = daemonUid;
        int redelivered = sessions.committedWrite(MessageStore::releaseAllHeld);
        if (redelivered > 0) {
            log.info("{} message(s) in flight at the last stop will be delivered again", redelivered);
        }
        // no writer survives a restart: a reader gets what was buffered, then end of file
        for (ChannelRow ch : sessions.committedRead(MessageStore::channels)) {
            if (ch.isPipe()) {
                ends(ch.name()).writerClosed = true;
            }
        }
        sessions.afterEachTransaction(this::afterTransaction);
    }

    // --- sessions -------------------------------------------------------------------------

    /** Runs {@code work} in the peer's transaction if it has one, else committed on its own. */
    private <T> T inSession(Peer p, boolean write, Function<MessageStore, T> work) {
        try {
            return sessions.run(p.pid(), p.pidStartTime(), write, work::apply);
        } catch (ProcessSessions.Refused e) {
            throw new IpcException(IpcException.Code.TRANSACTION, e.getMessage());
        }
    }

    /** The file-system transaction the peer's requests join, or 0. */
    public long transactionId(Peer p) {
        return sessions.transactionOf(p.pid(), p.pidStartTime());
    }

    private void requireNoTransaction(Peer p, String what) {
        long t = transactionId(p);
        if (t != 0) {
            throw new IpcException(IpcException.Code.TRANSACTION, what + " cannot be part of transaction " + t
                    + " (pipes stream bytes as they are written; send queue messages to commit them with files)");
        }
    }

    /** A transaction ended: what it sent is now visible, what it received may be back; wake everyone. */
    private void afterTransaction() {
        List<String> due = new java.util.ArrayList<>(pendingReleases);
        pendingReleases.removeAll(due);
        due.forEach(this::release); // each goes back to pending if yet another transaction holds the lock
        wakeAll();
    }

    // --- channels ---------------------------------------------------------------------------

    private static String checkedName(String name) {
        if (name == null || !NAME.matcher(name).matches()) {
            throw new IpcException(IpcException.Code.BADREQUEST, "bad channel name (letters, digits, . _ -; up to 128)");
        }
        return name;
    }

    private ChannelRow existing(Peer p, String name) {
        checkedName(name);
        ChannelRow ch = inSession(p, false, s -> s.channel(name));
        if (ch == null) {
            throw new IpcException(IpcException.Code.NOCHANNEL, "no channel " + name);
        }
        return ch;
    }

    /** Owner and root may do anything; others need the mode's "other" bits (4 = receive/read, 2 = send/write). */
    private static void requireAccess(ChannelRow ch, int uid, int bit, String what) {
        if (uid == 0 || uid == ch.ownerUid()) {
            return;
        }
        if ((ch.mode() & bit) == 0) {
            throw new IpcException(IpcException.Code.DENIED, what + " on " + ch.name() + " is not permitted");
        }
    }

    private static void requireKind(ChannelRow ch, boolean pipe) {
        if (ch.isPipe() != pipe) {
            throw new IpcException(IpcException.Code.WRONGKIND, ch.name() + " is a " + ch.kind()
                    + (pipe ? "; READ and WRITE are for pipes" : "; SEND and RECV are for queues"));
        }
    }

    private Signal signal(String channel) {
        return signals.computeIfAbsent(channel, k -> new Signal());
    }

    private void wake(String channel) {
        Signal s = signal(channel);
        synchronized (s) {
            s.changes++;
            s.notifyAll();
        }
    }

    private void wakeAll() {
        for (Signal s : signals.values()) {
            synchronized (s) {
                s.changes++;
                s.notifyAll();
            }
        }
    }

    private static long changes(Signal s) {
        synchronized (s) {
            return s.changes;
        }
    }

    /** Waits until the channel changes after {@code seen} or the deadline passes; false at the deadline. */
    private boolean awaitChange(Signal s, long seen, long deadlineNanos) throws InterruptedException {
        synchronized (s) {
            while (s.changes == seen) {
                long left = (deadlineNanos - System.nanoTime()) / 1_000_000L;
                if (left <= 0 || closed) {
                    return false;
                }
                s.wait(left);
            }
            return true;
        }
    }

    /** Creates a queue ({@code capacity} 0) or a pipe. */
    public void create(Peer p, String name, int mode, boolean pipe, long capacity) {
        checkedName(name);
        if (mode < 0 || mode > 0777) {
            throw new IpcException(IpcException.Code.BADREQUEST, "mode must be octal 000..777");
        }
        if (pipe && (capacity < 1 || capacity > MAX_MESSAGE)) {
            throw new IpcException(IpcException.Code.BADREQUEST, "a pipe's capacity is 1 to " + MAX_MESSAGE + " bytes");
        }
        long cap = pipe ? capacity : 0;
        if (!inSession(p, true, s -> s.insertChannel(name, pipe ? "pipe" : "queue", p.uid(), mode, cap, nowNanos()))) {
            throw new IpcException(IpcException.Code.EXISTS, "channel " + name + " exists");
        }
    }

    public void delete(Peer p, String name) {
        ChannelRow ch = existing(p, name);
        if (p.uid() != 0 && p.uid() != ch.ownerUid()) {
            throw new IpcException(IpcException.Code.DENIED, "only the owner or root may delete " + name);
        }
        inSession(p, true, s -> s.deleteChannel(name));
        pipes.remove(name);
        wake(name);
    }

    public List<ChannelRow> list(Peer p) {
        return inSession(p, false, MessageStore::channels);
    }

    // --- queues -----------------------------------------------------------------------------

    public long send(Peer p, String name, byte[] body) {
        if (body.length > MAX_MESSAGE) {
            throw new IpcException(IpcException.Code.TOOBIG, "messages are limited to " + MAX_MESSAGE + " bytes");
        }
        ChannelRow ch = existing(p, name);
        requireKind(ch, false);
        requireAccess(ch, p.uid(), 2, "send");
        long id = inSession(p, true, s -> s.appendMessage(name, body, nowNanos()));
        wake(name); // in a transaction this wakes no one early: its commit wakes everyone again
        return id;
    }

    /**
     * The oldest waiting message, held for the peer's connection (or, with a
     * lease, for its user until the lease ends) until acknowledged; null after
     * the timeout. Inside a transaction it does not wait: nobody else can commit
     * a message while the transaction holds the write lock.
     */
    public MessageRow receive(Peer p, String name, long timeoutMillis, long leaseMillis) throws InterruptedException {
        ChannelRow ch = existing(p, name);
        requireKind(ch, false);
        requireAccess(ch, p.uid(), 4, "receive");
        if (leaseMillis < 0) {
            throw new IpcException(IpcException.Code.BADREQUEST, "a lease is 0 (none) or more milliseconds");
        }
        String holder = leaseMillis > 0 ? p.leaseHolder() : p.holder();
        if (transactionId(p) != 0) {
            MessageRow m = inSession(p, true, s -> s.claimMessage(name, holder, nowNanos(), leaseEnd(leaseMillis)));
            if (m != null && leaseMillis > 0) {
                scheduleLeaseSweep(leaseMillis);
            }
            return m;
        }
        long deadline = System.nanoTime() + Math.max(0, timeoutMillis) * 1_000_000L;
        Signal s = signal(name);
        while (true) {
            long seen = changes(s);
            MessageRow m = tryClaim(name, holder, leaseMillis);
            if (m != null) {
                return m;
            }
            if (!awaitChange(s, seen, deadline)) {
                return null;
            }
            if (sessions.committedRead(st -> st.channel(name)) == null) {
                throw new IpcException(IpcException.Code.NOCHANNEL, "channel " + name + " was deleted");
            }
        }
    }

    /** Claims a waiting message outside any transaction; null when none waits or a transaction holds the lock. */
    private MessageRow tryClaim(String name, String holder, long leaseMillis) {
        if (sessions.writerActive() || !sessions.committedRead(st -> st.anyWaiting(name))) {
            return null; // a writing transaction ends with a wake-up: try again then
        }
        try {
            MessageRow m = sessions.committedWrite(st -> st.claimMessage(name, holder, nowNanos(), leaseEnd(leaseMillis)));
            if (m != null && leaseMillis > 0) {
                scheduleLeaseSweep(leaseMillis);
            }
            return m;
        } catch (StoreException e) {
            if (e.kind() == StoreException.Kind.BUSY) {
                return null;
            }
            throw e;
        }
    }

    /** Acknowledges a message held by this connection, or leased to this user. */
    public void ack(Peer p, long id) {
        boolean done = inSession(p, true, s -> s.deleteHeldMessage(id, p.holder()) || s.deleteHeldMessage(id, p.leaseHolder()));
        if (!done) {
            throw new IpcException(IpcException.Code.NOTHELD,
                    "message " + id + " is not held by this connection nor leased to uid " + p.uid());
        }
    }

    private static long leaseEnd(long leaseMillis) {
        return leaseMillis > 0 ? nowNanos() + leaseMillis * 1_000_000L : 0;
    }

    private void scheduleLeaseSweep(long afterMillis) {
        if (!closed) {
            leases.schedule(this::sweepLeases, afterMillis + 1, TimeUnit.MILLISECONDS);
        }
    }

    /** Puts back the messages whose lease ran out; retried after the transaction that stands in the way. */
    private void sweepLeases() {
        try {
            if (sessions.writerActive()) {
                leases.schedule(this::sweepLeases, 200, TimeUnit.MILLISECONDS);
                return;
            }
            int n = sessions.committedWrite(s -> s.releaseExpiredLeases(nowNanos()));
            if (n > 0) {
                log.info("{} leased message(s) were not acknowledged in time and will be delivered again", n);
                wakeAll();
            }
        } catch (RuntimeException e) {
            log.warn("returning expired leases failed ({}); retrying", e.getMessage());
            leases.schedule(this::sweepLeases, 1, TimeUnit.SECONDS);
        }
    }

    // --- pipes ------------------------------------------------------------------------------

    private PipeEnds ends(String name) {
        return pipes.computeIfAbsent(name, k -> new PipeEnds());
    }

    /** Attaches the peer's connection as the pipe's reader or writer; one of each at a time. */
    public void open(Peer p, String name, boolean writer) {
        requireNoTransaction(p, "a pipe");
        ChannelRow ch = existing(p, name);
        requireKind(ch, true);
        requireAccess(ch, p.uid(), writer ? 2 : 4, writer ? "write" : "read");
        PipeEnds e = ends(name);
        synchronized (e) {
            String current = writer ? e.writer : e.reader;
            if (current != null && !current.equals(p.holder())) {
                throw new IpcException(IpcException.Code.INUSE, "pipe " + name + " already has a "
                        + (writer ? "writer" : "reader"));
            }
            if (writer) {
                e.writer = p.holder();
                e.writerClosed = false;
            } else {
                e.reader = p.holder();
                e.readerClosed = false;
            }
        }
        wake(name);
    }

    /** Detaches the peer from the pipe: a writer's close is the reader's end of file. */
    public void closePipe(Peer p, String name) {
        checkedName(name);
        PipeEnds e = pipes.get(name);
        if (e == null || !detach(e, p.holder())) {
            throw new IpcException(IpcException.Code.NOTOPEN, "this connection has not opened pipe " + name);
        }
        wake(name);
    }

    private static boolean detach(PipeEnds e, String holder) {
        synchronized (e) {
            boolean found = false;
            if (holder.equals(e.writer)) {
                e.writer = null;
                e.writerClosed = true;
                found = true;
            }
            if (holder.equals(e.reader)) {
                e.reader = null;
                e.readerClosed = true;
                found = true;
            }
            return found;
        }
    }

    private PipeEnds attached(Peer p, String name, boolean writer) {
        requireNoTransaction(p, "a pipe");
        checkedName(name);
        PipeEnds e = pipes.get(name);
        String holder = e == null ? null : writer ? e.writer : e.reader;
        if (!p.holder().equals(holder)) {
            throw new IpcException(IpcException.Code.NOTOPEN, "open pipe " + name + " for "
                    + (writer ? "writing" : "reading") + " first");
        }
        return e;
    }

    /** Appends all of {@code data}, waiting while the pipe is full (back-pressure). */
    public void write(Peer p, String name, byte[] data) throws InterruptedException {
        PipeEnds e = attached(p, name, true);
        ChannelRow ch = existing(p, name);
        Signal s = signal(name);
        int done = 0;
        while (done < data.length) {
            if (e.readerClosed) {
                throw new IpcException(IpcException.Code.BROKEN, "the reader of pipe " + name + " has closed it"
                        + (done > 0 ? " (" + done + " of " + data.length + " bytes were written)" : ""));
            }
            long seen = changes(s);
            long free = ch.capacity() - sessions.committedRead(st -> st.pipeBytes(name));
            if (free <= 0) {
                if (pipes.get(name) != e) {
                    throw new IpcException(IpcException.Code.NOCHANNEL, "pipe " + name + " was deleted");
                }
                awaitChange(s, seen, System.nanoTime() + TimeUnit.SECONDS.toNanos(1));
                continue;
            }
            int n = (int) Math.min(free, data.length - done);
            byte[] chunk = java.util.Arrays.copyOfRange(data, done, done + n);
            sessions.committedWrite(st -> st.appendMessage(name, chunk, nowNanos()));
            done += n;
            wake(name);
        }
    }

    /**
     * Up to {@code max} bytes from the pipe; an empty array at end of file (the
     * writer closed and everything it wrote has been read); null after the timeout.
     */
    public byte[] read(Peer p, String name, int max, long timeoutMillis) throws InterruptedException {
        if (max < 1 || max > MAX_MESSAGE) {
            throw new IpcException(IpcException.Code.BADREQUEST, "read 1 to " + MAX_MESSAGE + " bytes");
        }
        PipeEnds e = attached(p, name, false);
        long deadline = System.nanoTime() + Math.max(0, timeoutMillis) * 1_000_000L;
        Signal s = signal(name);
        while (true) {
            long seen = changes(s);
            boolean writerGone = e.writerClosed; // read before taking: whatever it wrote is visible then
            byte[] got = sessions.committedRead(st -> st.pipeBytes(name)) > 0
                    ? sessions.committedWrite(st -> st.takePipeBytes(name, max)) : new byte[0];
            if (got.length > 0) {
                wake(name); // room for the writer
                return got;
            }
            if (writerGone) {
                return new byte[0];
            }
            if (!awaitChange(s, seen, deadline)) {
                return null;
            }
            if (pipes.get(name) != e) {
                throw new IpcException(IpcException.Code.NOCHANNEL, "pipe " + name + " was deleted");
            }
        }
    }

    // --- SQL --------------------------------------------------------------------------------

    /** Only root and the daemon's user may read the whole database: it holds every file. */
    public void requireDatabaseReader(Peer p) {
        if (p.uid() != 0 && p.uid() != daemonUid) {
            throw new IpcException(IpcException.Code.DENIED, "only root and the mount's owner may run SQL");
        }
    }

    /** See {@link ProcessSessions#databaseFileForQuery}. */
    public java.nio.file.Path databaseFileForQuery() {
        return sessions.databaseFileForQuery();
    }

    // --- connections --------------------------------------------------------------------

    /** A connection went away: its unacknowledged messages go back, its pipe ends close. */
    public void disconnected(Peer p) {
        for (Map.Entry<String, PipeEnds> entry : pipes.entrySet()) {
            if (detach(entry.getValue(), p.holder())) {
                wake(entry.getKey());
            }
        }
        release(p.holder());
    }

    private void release(String holder) {
        if (sessions.writerActive()) {
            pendingReleases.add(holder); // after the transaction ends
            return;
        }
        try {
            int n = sessions.committedWrite(s -> s.releaseHeld(holder));
            if (n > 0) {
                log.info("{} unacknowledged message(s) of {} returned to their queues", n, holder);
                wakeAll();
            }
        } catch (StoreException e) {
            log.warn("could not yet return the messages of {} ({}); will retry after the next transaction",
                    holder, e.getMessage());
            pendingReleases.add(holder);
        }
    }

    private static long nowNanos() {
        java.time.Instant t = java.time.Instant.now();
        return t.getEpochSecond() * 1_000_000_000L + t.getNano();
    }

    @Override
    public void close() {
        closed = true;
        leases.shutdownNow();
        wakeAll();
    }
}
