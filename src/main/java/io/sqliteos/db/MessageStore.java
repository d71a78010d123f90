package io.sqliteos.db;

import java.util.List;

/**
 * The IPC tables as rows: channels, and the messages (or pipe chunks) waiting
 * in them. Part of {@link Store}, so that IPC can run in the same session, and
 * so in the same transaction, as a process's file changes.
 *
 * <p>A message is waiting while its holder is null, in flight while a receiver
 * holds it, and gone once acknowledged. Times are wall-clock nanoseconds.
 */
public interface MessageStore {

    /** A channel with its counts: for pipes, {@code waiting} counts buffered bytes. */
    record ChannelRow(String name, String kind, int ownerUid, int mode, long capacity, long waiting, long inFlight) {
        public boolean isPipe() {
            return "pipe".equals(kind);
        }
    }

    /** A message handed to a receiver. */
    record MessageRow(long id, byte[] body) {}

    /** Creates a channel ({@code capacity} 0 for a queue); false if the name is taken. */
    boolean insertChannel(String name, String kind, int ownerUid, int mode, long capacity, long createdNs);

    /**
     * The channel, or null; its counts are left at 0, because counting costs a
     * scan of its messages and every request looks its channel up.
     */
    ChannelRow channel(String name);

    /** Every channel with its counts, by name. */
    List<ChannelRow> channels();

    /** Deletes the channel and everything in it; false if there was none. */
    boolean deleteChannel(String name);

    /** Appends a message (or a pipe chunk) and returns its id. */
    long appendMessage(String channel, byte[] body, long sentNs);

    /** Whether a message waits in the channel: a read, so it never waits for the write lock. */
    boolean anyWaiting(String channel);

    /**
     * Hands the oldest waiting message to {@code holder}, until {@code leaseUntilNs}
     * when positive; null when none waits.
     */
    MessageRow claimMessage(String channel, String holder, long nowNs, long leaseUntilNs);

    /** Deletes a message {@code holder} holds; false if it holds no such message. */
    boolean deleteHeldMessage(long id, String holder);

    /** Puts back every message {@code holder} holds; returns how many. */
    int releaseHeld(String holder);

    /** Puts back every message in flight, leased or not; returns how many. */
    int releaseAllHeld();

    /** Puts back the leased messages whose lease ended before {@code nowNs}; returns how many. */
    int releaseExpiredLeases(long nowNs);

    /** The earliest end of a lease still running, or 0 when none runs. */
    long nextLeaseEnd();

    /** Bytes buffered in a pipe. */
    long pipeBytes(String channel);

    /** Removes and returns up to {@code max} bytes from the front of a pipe (empty when it is empty). */
    byte[] takePipeBytes(String channel, int max);
}
