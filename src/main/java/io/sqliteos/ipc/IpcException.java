package io.sqliteos.ipc;

/** A refused IPC request, with the protocol's error code. */
public final class IpcException extends RuntimeException {

    /** Error codes of the protocol (docs/ipc-protocol.md). */
    public enum Code { BADREQUEST, NOCHANNEL, EXISTS, DENIED, TOOBIG, NOTHELD, BUSY, INTERNAL }

    private final Code code;

    public IpcException(Code code, String message) {
        super(message, null, false, false);
        this.code = code;
    }

    public Code code() {
        return code;
    }
}
