package io.sqliteos.cli;

import io.sqliteos.db.Database;
import io.sqliteos.fs.Caller;
import io.sqliteos.fs.Errno;
import io.sqliteos.fs.FsException;
import io.sqliteos.fs.VirtualAttribute;
import java.nio.charset.StandardCharsets;

/**
 * {@code user.sqliteos.database}: where the mount's database file is, so that
 * {@code sqliteos sql} can open it read-only. Only root and the mount's owner
 * may learn it (the in-memory database's directory is theirs alone). A query
 * on its own connection follows, so plain writes still waiting in a batch
 * commit first.
 */
final class DatabaseLocationAttribute implements VirtualAttribute {

    private final Database database;
    private final int ownerUid;

    DatabaseLocationAttribute(Database database, int ownerUid) {
        this.database = database;
        this.ownerUid = ownerUid;
    }

    @Override
    public void set(Caller caller, String path, byte[] value) {
        throw new FsException(Errno.EPERM, "user.sqliteos.database is read-only");
    }

    @Override
    public byte[] get(Caller caller, String path) {
        if (!caller.isRoot() && caller.uid() != ownerUid) {
            throw new FsException(Errno.EPERM, "only root or the mount's owner may query the database");
        }
        database.publish();
        return database.file().toString().getBytes(StandardCharsets.UTF_8);
    }
}
