package io.sqliteos.db;

import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Loads the SQLite driver's native library straight from the jar. Left to
 * itself, the driver starts a process to learn which C library the system
 * has, copies the library to the temporary directory, and then compares the
 * copy with the jar's a byte at a time, still interpreted: about 0.15 s of
 * every mount. The copy made here is deleted as soon as it is loaded (the
 * mapping outlives the name), so none is left behind either. Where this does
 * not apply (not glibc Linux on x86-64 or arm64, or a library chosen with
 * org.sqlite.lib.path), the driver loads its library its own way.
 */
final class SqliteNative {

    private static final Logger log = LoggerFactory.getLogger(SqliteNative.class);
    private static boolean tried;

    private SqliteNative() {}

    /** Loads the library (and the daemon's extension) once per JVM; call before the first connection. */
    static synchronized void load() {
        if (tried) {
            return;
        }
        tried = true;
        loadDriverLibrary();
        SqliteExtension.install();
    }

    private static void loadDriverLibrary() {
        String resource = resourceForThisSystem();
        if (resource == null || System.getProperty("org.sqlite.lib.path") != null) {
            return;
        }
        try {
            withTemporaryCopy(resource, "sqliteos-sqlitejdbc-", file -> {
                try {
                    System.setProperty("org.sqlite.lib.path", file.getParent().toString());
                    System.setProperty("org.sqlite.lib.name", file.getFileName().toString());
                    org.sqlite.SQLiteJDBCLoader.initialize();
                } finally {
                    System.clearProperty("org.sqlite.lib.path");
                    System.clearProperty("org.sqlite.lib.name");
                }
            });
        } catch (Exception | LinkageError e) {
            log.debug("the SQLite driver loads its native library itself: {}", e.toString());
        }
    }

    /** What is done with a library's temporary copy. */
    interface LoadFromFile {
        void load(Path file) throws Exception;
    }

    /**
     * Copies a library from the jar to a temporary file, hands it to {@code loader}
     * and deletes the copy (the loaded mapping outlives the name). False when the
     * jar does not hold {@code resource}.
     */
    static boolean withTemporaryCopy(String resource, String prefix, LoadFromFile loader) throws Exception {
        try (InputStream in = SqliteNative.class.getResourceAsStream(resource)) {
            if (in == null) {
                return false;
            }
            Path file = Files.createTempFile(prefix, ".so");
            try {
                Files.copy(in, file, StandardCopyOption.REPLACE_EXISTING);
                loader.load(file);
                return true;
            } finally {
                Files.deleteIfExists(file);
            }
        }
    }

    /** Where the jar keeps the library for this system, or null where the driver should decide. */
    private static String resourceForThisSystem() {
        if (!"Linux".equals(System.getProperty("os.name"))) {
            return null;
        }
        String arch = switch (System.getProperty("os.arch")) {
            case "amd64", "x86_64" -> "x86_64";
            case "aarch64" -> "aarch64";
            default -> null;
        };
        // musl systems need the driver's other build, which it finds by itself
        if (arch == null || Files.exists(Path.of("/lib/ld-musl-" + arch + ".so.1"))) {
            return null;
        }
        return "/org/sqlite/native/Linux/" + arch + "/libsqlitejdbc.so";
    }
}
