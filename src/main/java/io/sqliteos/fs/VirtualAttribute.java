package io.sqliteos.fs;

/**
 * A control attribute in the {@code user.sqliteos.} namespace: setting or
 * reading it performs an action (begin a transaction, take a snapshot, ...)
 * instead of storing a value. Virtual attributes are never stored and never
 * listed, so copying tools do not carry them along.
 */
public interface VirtualAttribute {

    /** Performs the action named by {@code value}; failures are {@link FsException}s with their errno. */
    void set(Caller caller, String path, byte[] value);

    /** The attribute's current value for the caller. */
    byte[] get(Caller caller, String path);
}
