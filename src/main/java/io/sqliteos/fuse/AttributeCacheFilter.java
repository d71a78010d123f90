package io.sqliteos.fuse;

import com.kenai.jffi.Library;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Loads the small native library (src/main/c/attr_cache.c, built into the jar)
 * that lets libfuse's replies cache the attributes of directories and
 * single-link files and of nothing else. It must be loaded, globally, before
 * libfuse, so that libfuse's calls of its reply functions resolve to it.
 * Without it attributes are never cached, which is slower and just as correct.
 */
final class AttributeCacheFilter {

    private static final Logger log = LoggerFactory.getLogger(AttributeCacheFilter.class);
    private static final String RESOURCE = "/native/libsqliteos-attr-cache.so";
    private static final String MARKER_SYMBOL = "sqliteos_attr_cache_version";

    private static Boolean loaded;

    private AttributeCacheFilter() {}

    /** Loads the filter once; true when libfuse's replies now pass through it. */
    static synchronized boolean load() {
        if (loaded == null) {
            loaded = tryLoad();
        }
        return loaded;
    }

    private static boolean tryLoad() {
        try (InputStream in = AttributeCacheFilter.class.getResourceAsStream(RESOURCE)) {
            if (in == null) {
                log.warn("{} is not in the jar: attributes are not cached", RESOURCE);
                return false;
            }
            Path file = Files.createTempFile("sqliteos-attr-cache-", ".so");
            try {
                Files.copy(in, file, StandardCopyOption.REPLACE_EXISTING);
                Library lib = Library.getCachedInstance(file.toString(), Library.LAZY | Library.GLOBAL);
                if (lib == null || lib.getSymbolAddress(MARKER_SYMBOL) == 0) {
                    log.warn("cannot load the attribute cache filter ({}): attributes are not cached",
                            Library.getLastError());
                    return false;
                }
                return true;
            } finally {
                Files.deleteIfExists(file); // the loaded mapping outlives the name
            }
        } catch (IOException | RuntimeException | LinkageError e) {
            log.warn("cannot load the attribute cache filter: attributes are not cached", e);
            return false;
        }
    }
}
