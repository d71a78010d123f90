package io.sqliteos.ipc;

/**
 * The process at the other end of a connection, as the kernel reported it when
 * it connected (SO_PEERCRED), and the name its held messages go by.
 */
public record Peer(int uid, long pid, long pidStartTime, String holder) {

    /** The holder name of messages leased to a user: any connection of that user may acknowledge them. */
    public String leaseHolder() {
        return "lease:" + uid;
    }
}
