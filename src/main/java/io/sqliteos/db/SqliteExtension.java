package io.sqliteos.db;

import com.kenai.jffi.Library;
import com.kenai.jffi.MemoryIO;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.util.function.LongConsumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Loads the daemon's SQLite extension (src/main/c/sqlite, built into the jar)
 * into the driver's library, once, before the first database opens. It stays
 * for the life of the process and brings:
 * <ul>
 * <li>the coalescing VFS, made the default for every connection: SQLite's log
 * is written a commit's frames in 64 KiB writes instead of two writes a page,
 * and read back by a checkpoint in 64 KiB pieces instead of a page each;
 * <li>{@value #PACKED_ENTRIES}, an aggregate on every connection opened
 * afterwards that packs directory entries into one blob, so that a listing
 * crosses into Java a page of entries at a time ({@link SqliteStore#listDirectory});
 * <li>functions over a request's buffer lent to SQL ({@link LentMemory});
 * <li>no record locks in the kernel for databases no other process opens
 * ({@link PrivateLocks}).
 * </ul>
 * Without the extension SQLite works as before: page-sized log I/O, and
 * listings row by row.
 */
final class SqliteExtension {

    private static final Logger log = LoggerFactory.getLogger(SqliteExtension.class);
    private static final String RESOURCE = "/native/libsqliteos-sqlite-extension.so";
    private static final String ENTRY_POINT = "sqlite3_sqliteos_init";
    /** The name of the aggregate that packs directory entries (packed_entries.c). */
    static final String PACKED_ENTRIES = "sqliteos_packed_entries";

    private static volatile boolean loaded;

    private SqliteExtension() {}

    /** Loads the extension; call once, after the driver's library and before the first database opens. */
    static void install() {
        try {
            boolean inJar = SqliteNative.withTemporaryCopy(RESOURCE, "sqliteos-sqlite-extension-", file -> {
                org.sqlite.SQLiteConfig config = new org.sqlite.SQLiteConfig();
                config.enableLoadExtension(true);
                try (Connection c = DriverManager.getConnection("jdbc:sqlite::memory:", config.toProperties());
                        PreparedStatement load = c.prepareStatement("SELECT load_extension(?, ?)")) {
                    load.setString(1, file.toString());
                    load.setString(2, ENTRY_POINT);
                    load.execute();
                }
                LentMemory.bind(file);
                PrivateLocks.bind(file);
                MappedReads.bind(file);
            });
            if (inJar) {
                loaded = true;
                log.debug("SQLite's log goes through the coalescing VFS; listings are packed in SQLite");
            } else {
                log.warn("{} is not in the jar: SQLite writes its log a page at a time, and listings go row by row", RESOURCE);
            }
        } catch (Exception | LinkageError e) {
            log.warn("cannot load the SQLite extension: SQLite writes its log a page at a time, and listings go row by row", e);
        }
    }

    /**
     * The addresses of the functions {@code names} in the extension just loaded
     * from {@code file} (the same library, opened again while its name exists),
     * for plain native calls; null if any is missing.
     */
    static long[] functions(Path file, String... names) {
        Library lib = Library.getCachedInstance(file.toString(), Library.LAZY | Library.GLOBAL);
        long[] addresses = new long[names.length];
        for (int i = 0; i < names.length; i++) {
            addresses[i] = lib == null ? 0 : lib.getSymbolAddress(names[i]);
            if (addresses[i] == 0) {
                return null;
            }
        }
        return addresses;
    }

    /** Calls {@code call} with {@code path} as a C string for a native call; the string lives only for the call. */
    static void withPath(Path path, LongConsumer call) {
        byte[] bytes = path.toString().getBytes(StandardCharsets.UTF_8);
        MemoryIO memory = MemoryIO.getInstance();
        long address = memory.allocateMemory(bytes.length + 1, true);
        if (address == 0) {
            return;
        }
        try {
            memory.putZeroTerminatedByteArray(address, bytes, 0, bytes.length);
            call.accept(address);
        } finally {
            memory.freeMemory(address);
        }
    }

    /** True when connections opened from now on have {@value #PACKED_ENTRIES}. */
    static boolean packsEntries() {
        return loaded;
    }
}
