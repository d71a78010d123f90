package io.sqliteos.db;

import java.sql.SQLException;
import org.sqlite.SQLiteException;

/** A database failure, classified so that callers can map it to an errno without knowing SQL. */
public final class StoreException extends RuntimeException {

    /** What went wrong, in terms a file system can report. */
    public enum Kind {
        /** The database or its disk is full. */
        FULL,
        /** Another connection holds the lock past the wait bound. */
        BUSY,
        /** The database is read-only. */
        READ_ONLY,
        /** The database file is damaged or not a database. */
        CORRUPT,
        /** An I/O error under the database. */
        IO,
        /** A constraint was violated: a bug or a race the caller should report. */
        CONSTRAINT,
        /** Anything else. */
        OTHER
    }

    private final Kind kind;

    public StoreException(Kind kind, String message, Throwable cause) {
        super(message, cause);
        this.kind = kind;
    }

    public Kind kind() {
        return kind;
    }

    /** Wraps a JDBC exception, classifying it by SQLite's primary result code. */
    public static StoreException wrap(SQLException e) {
        return new StoreException(classify(e), e.getMessage(), e);
    }

    static Kind classify(SQLException e) {
        int code = e instanceof SQLiteException se ? se.getResultCode().code : e.getErrorCode();
        switch (code & 0xff) {
            case 13: return Kind.FULL;            // SQLITE_FULL
            case 5: case 6: return Kind.BUSY;     // SQLITE_BUSY, SQLITE_LOCKED
            case 8: return Kind.READ_ONLY;        // SQLITE_READONLY
            case 11: case 26: return Kind.CORRUPT; // SQLITE_CORRUPT, SQLITE_NOTADB
            case 10: return Kind.IO;              // SQLITE_IOERR
            case 19: return Kind.CONSTRAINT;      // SQLITE_CONSTRAINT
            default: return Kind.OTHER;
        }
    }

}
