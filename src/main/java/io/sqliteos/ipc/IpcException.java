package io.sqliteos.ipc;

/** A refused IPC request, with the protocol's error code. */
public final class IpcException extends RuntimeException {

    /** Error codes of the protocol (docs/ipc-protocol.md). */
    public enum Code {
        BADREQUEST, NOCHANNEL, EXISTS, DENIED, TOOBIG, NOTHELD, BUSY, INTERNAL,
        /** A queue request on a pipe or a pipe request on a queue. */
        WRONGKIND,
        /** The pipe's side is held by another connection. */
        INUSE,
        /** A pipe request from a connection that has not opened that side. */
        NOTOPEN,
        /** A pipe write after the reader closed. */
        BROKEN,
        /** Something a file-system transaction cannot include (pipes), or a change in a read transaction. */
        TRANSACTION,
        /** A query that SQLite rejected or that ran out of time. */
        SQL
    }

    private final Code code;

    public IpcException(Code code, String message) {
        super(message, null, false, false);
        this.code = code;
    }

    public Code code() {
        return code;
    }
}
