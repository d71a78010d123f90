package io.sqliteos.cli;

import io.sqliteos.fs.Caller;
import io.sqliteos.fs.Errno;
import io.sqliteos.fs.FsException;
import io.sqliteos.fs.VirtualAttribute;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * {@code user.sqliteos.database}: where the mount's database file is, so that
 * {@code sqliteos sql} can open it read-only. Only root and the mount's owner
 * may learn it (the in-memory database's directory is theirs alone).
 */
final class DatabaseLocationAttribute implements VirtualAttribute {

    private final Path file;
    private final int ownerUid;

    DatabaseLocationAttribute(Path file, int ownerUid) {
        this.file = file;
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
        return file.toString().getBytes(StandardCharsets.UTF_8);
    }
}
