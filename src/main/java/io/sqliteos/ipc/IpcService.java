package io.sqliteos.ipc;

import io.sqliteos.db.IpcStore;
import io.sqliteos.db.StoreException;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Named queues in the file system's database: many producers, many consumers,
 * each message delivered to one consumer and deleted when it acknowledges. A
 * consumer that goes away puts its unacknowledged messages back. A waiting
 * receiver is woken by the sender's commit, not by polling.
 */
public final class IpcService implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(IpcService.class);
    public static final int MAX_MESSAGE = 16 << 20;
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9._-]{1,128}");

    /** Per channel: a counter bumped by every send, and the monitor receivers wait on. */
    private static final class Signal {
        long sends;
    }

    private final IpcStore store;
    private final Map<String, Signal> signals = new ConcurrentHashMap<>();

    public IpcService(IpcStore store) {
        this.store = store;
        int redelivered = store.releaseAll();
        if (redelivered > 0) {
            log.info("{} message(s) in flight at the last stop will be delivered again", redelivered);
        }
    }

    private static String checkedName(String name) {
        if (name == null || !NAME.matcher(name).matches()) {
            throw new IpcException(IpcException.Code.BADREQUEST, "bad channel name (letters, digits, . _ -; up to 128)");
        }
        return name;
    }

    private IpcStore.Channel existing(String name) {
        IpcStore.Channel ch = store.channel(checkedName(name));
        if (ch == null) {
            throw new IpcException(IpcException.Code.NOCHANNEL, "no channel " + name);
        }
        return ch;
    }

    /** Owner and root may do anything; others need the mode's "other" bits (4 = receive, 2 = send). */
    private static void requireAccess(IpcStore.Channel ch, int uid, int bit, String what) {
        if (uid == 0 || uid == ch.ownerUid()) {
            return;
        }
        if ((ch.mode() & bit) == 0) {
            throw new IpcException(IpcException.Code.DENIED, what + " on " + ch.name() + " is not permitted");
        }
    }

    private Signal signal(String channel) {
        return signals.computeIfAbsent(channel, k -> new Signal());
    }

    public void create(int uid, String name, int mode) {
        if (mode < 0 || mode > 0777) {
            throw new IpcException(IpcException.Code.BADREQUEST, "mode must be octal 000..777");
        }
        if (!store.create(checkedName(name), uid, mode)) {
            throw new IpcException(IpcException.Code.EXISTS, "channel " + name + " exists");
        }
    }

    public void delete(int uid, String name) {
        IpcStore.Channel ch = existing(name);
        if (uid != 0 && uid != ch.ownerUid()) {
            throw new IpcException(IpcException.Code.DENIED, "only the owner or root may delete " + name);
        }
        store.delete(name);
        Signal s = signal(name);
        synchronized (s) {
            s.sends++;
            s.notifyAll();
        }
    }

    public List<IpcStore.Channel> list() {
        return store.channels(null);
    }

    public long send(int uid, String name, byte[] body) {
        if (body.length > MAX_MESSAGE) {
            throw new IpcException(IpcException.Code.TOOBIG, "messages are limited to " + MAX_MESSAGE + " bytes");
        }
        requireAccess(existing(name), uid, 2, "send");
        long id = store.send(name, body);
        Signal s = signal(name);
        synchronized (s) {
            s.sends++;
            s.notifyAll();
        }
        return id;
    }

    /** The oldest waiting message, held for {@code receiver} until acknowledged; null after the timeout. */
    public IpcStore.Message receive(int uid, String name, String receiver, long timeoutMillis) throws InterruptedException {
        requireAccess(existing(name), uid, 4, "receive");
        long deadline = System.nanoTime() + Math.max(0, timeoutMillis) * 1_000_000L;
        Signal s = signal(name);
        while (true) {
            long seen;
            synchronized (s) {
                seen = s.sends;
            }
            IpcStore.Message m = store.claim(name, receiver);
            if (m != null) {
                return m;
            }
            synchronized (s) {
                while (s.sends == seen) {
                    long left = (deadline - System.nanoTime()) / 1_000_000L;
                    if (left <= 0) {
                        return null;
                    }
                    s.wait(left);
                }
            }
            if (store.channel(name) == null) {
                throw new IpcException(IpcException.Code.NOCHANNEL, "channel " + name + " was deleted");
            }
        }
    }

    public void ack(String receiver, long id) {
        if (!store.ack(id, receiver)) {
            throw new IpcException(IpcException.Code.NOTHELD, "message " + id + " is not held by this connection");
        }
    }

    /** A receiver went away: its unacknowledged messages go back to their queues. */
    public void release(String receiver) {
        try {
            int n = store.release(receiver);
            if (n > 0) {
                log.info("{} unacknowledged message(s) of {} returned to their queues", n, receiver);
                for (Signal s : signals.values()) {
                    synchronized (s) {
                        s.sends++;
                        s.notifyAll();
                    }
                }
            }
        } catch (StoreException e) {
            log.warn("could not return the messages of {}: {}", receiver, e.getMessage());
        }
    }

    @Override
    public void close() {
        store.close();
    }
}
