package io.sqliteos.cli;

import io.sqliteos.db.Database;
import io.sqliteos.db.StoreException;
import io.sqliteos.fs.Caller;
import io.sqliteos.fs.Errno;
import io.sqliteos.fs.FsException;
import io.sqliteos.fs.VirtualAttribute;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code user.sqliteos.snapshot}: setting it to an absolute path writes a
 * consistent copy of the committed file system there, as a database file that
 * {@code sqliteos mount --db} mounts. Only root and the mount's owner may.
 */
final class SnapshotAttribute implements VirtualAttribute {

    private static final Logger log = LoggerFactory.getLogger(SnapshotAttribute.class);

    private final Database database;
    private final int ownerUid;
    private final Path mountPoint;

    SnapshotAttribute(Database database, int ownerUid, Path mountPoint) {
        this.database = database;
        this.ownerUid = ownerUid;
        this.mountPoint = mountPoint.toAbsolutePath().normalize();
    }

    @Override
    public void set(Caller caller, String path, byte[] value) {
        if (!caller.isRoot() && caller.uid() != ownerUid) {
            throw new FsException(Errno.EPERM, "only root or the mount's owner may take a snapshot");
        }
        String text = new String(value, StandardCharsets.UTF_8).replace("\0", "").strip();
        Path target = Path.of(text);
        if (!target.isAbsolute()) {
            throw new FsException(Errno.EINVAL, "the snapshot target must be an absolute path: " + text);
        }
        target = target.normalize();
        if (target.startsWith(mountPoint)) {
            throw new FsException(Errno.EINVAL, "the snapshot target must be outside the mount: " + target);
        }
        if (Files.exists(target)) {
            throw new FsException(Errno.EEXIST, "the snapshot target exists: " + target);
        }
        try {
            long started = System.nanoTime();
            database.snapshotTo(target);
            log.info("snapshot written to {} in {} ms", target, (System.nanoTime() - started) / 1_000_000);
        } catch (StoreException e) {
            log.warn("snapshot to {} failed: {}", target, e.getMessage());
            throw new FsException(e.kind() == StoreException.Kind.FULL ? Errno.ENOSPC : Errno.EIO,
                    "snapshot to " + target + " failed: " + e.getMessage());
        }
    }

    @Override
    public byte[] get(Caller caller, String path) {
        throw new FsException(Errno.ENODATA, "user.sqliteos.snapshot is set, not read");
    }
}
