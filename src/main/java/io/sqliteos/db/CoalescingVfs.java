package io.sqliteos.db;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Makes SQLite write and read its write-ahead log through the coalescing VFS
 * (src/main/c/sqlite/coalescing_vfs.c, built into the jar): a commit's frames
 * in 64 KiB writes instead of two writes a page, and a checkpoint's reads of
 * the log in 64 KiB pieces instead of a page each. The library is a
 * SQLite extension that makes itself the default VFS of the process, so every
 * connection opened afterwards uses it. Without it SQLite works as before.
 */
final class CoalescingVfs {

    private static final Logger log = LoggerFactory.getLogger(CoalescingVfs.class);
    private static final String RESOURCE = "/native/libsqliteos-coalescing-vfs.so";
    private static final String ENTRY_POINT = "sqlite3_coalescingvfs_init";

    private CoalescingVfs() {}

    /** Installs the VFS; call once, after the driver's library and before the first database opens. */
    static void install() {
        try {
            boolean inJar = SqliteNative.withTemporaryCopy(RESOURCE, "sqliteos-coalescing-vfs-", file -> {
                org.sqlite.SQLiteConfig config = new org.sqlite.SQLiteConfig();
                config.enableLoadExtension(true);
                try (Connection c = DriverManager.getConnection("jdbc:sqlite::memory:", config.toProperties());
                        PreparedStatement load = c.prepareStatement("SELECT load_extension(?, ?)")) {
                    load.setString(1, file.toString());
                    load.setString(2, ENTRY_POINT);
                    load.execute();
                }
            });
            if (inJar) {
                log.debug("SQLite's log goes through the coalescing VFS");
            } else {
                log.warn("{} is not in the jar: SQLite writes its log a page at a time", RESOURCE);
            }
        } catch (Exception | LinkageError e) {
            log.warn("cannot install the coalescing VFS: SQLite writes its log a page at a time", e);
        }
    }
}
