package io.sqliteos.fs;

/** A file-system operation failed with an errno; the message says why, for the log. */
public final class FsException extends RuntimeException {

    private final Errno errno;

    public FsException(Errno errno, String message) {
        super(message, null, false, false);
        this.errno = errno;
    }

    public Errno errno() {
        return errno;
    }

    @Override
    public String getMessage() {
        return errno + ": " + super.getMessage();
    }
}
