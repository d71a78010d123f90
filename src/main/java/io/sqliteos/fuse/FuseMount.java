package io.sqliteos.fuse;

import io.sqliteos.fs.FileSystem;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Mounts a {@link FileSystem} with the FUSE options SQLiteOS relies on. */
public final class FuseMount {

    /** The most data one read or write request carries (libfuse 2 and the kernel allow no more). */
    static final int MAX_REQUEST_BYTES = 128 * 1024;

    /**
     * Options every mount gets: real inode numbers, kernel permission checks,
     * removal of open files without hidden renames, and large requests.
     * Names and attributes start uncached; {@link NameCacheTimeouts} caches
     * them while no transaction is open, and finds where to do so by the
     * marker in ac_attr_timeout. Attributes are cached only for directories
     * and single-link files ({@link LibfuseShim}): the kernel knows
     * each name of a hard link as its own inode, so a cached size, link count
     * or time under one name would go stale when the file changes through
     * another.
     */
    static final List<String> BASE_OPTIONS = List.of(
            "use_ino", "readdir_ino", "default_permissions", "hard_remove", "big_writes",
            "max_read=" + MAX_REQUEST_BYTES, "max_write=" + MAX_REQUEST_BYTES, "attr_timeout=0", "entry_timeout=0", "negative_timeout=0",
            "ac_attr_timeout=" + NameCacheTimeouts.MARKER, "fsname=sqliteos", "subtype=sqliteos");

    private FuseMount() {}

    /** The -o list: the base options followed by the user's (which may add allow_other, ro, ...). */
    public static List<String> options(List<String> userOptions) {
        List<String> all = new ArrayList<>(BASE_OPTIONS);
        all.addAll(userOptions);
        return all;
    }

    /**
     * The kernel name cache policy of a mount: names cached this long while no
     * transaction is open; null picks a default that suits the kernel.
     */
    public static io.sqliteos.tx.CacheFence nameCache(Double seconds) {
        return new NameCacheTimeouts(seconds);
    }

    /** Mounts and blocks until the file system is unmounted. */
    public static void mountBlocking(FileSystem fs, Path mountPoint, List<String> userOptions, boolean debug,
                                     io.sqliteos.tx.CacheFence nameCache) {
        NameCacheTimeouts timeouts = (NameCacheTimeouts) nameCache;
        if (LibfuseShim.load()) { // before the adapter's constructor loads libfuse
            timeouts.cacheAttributesToo();
        }
        SqliteosFuse fuse = new SqliteosFuse(fs, timeouts);
        Readahead.raiseOnceMounted(mountPoint);
        List<String> args = new ArrayList<>();
        args.add("-o");
        args.add(String.join(",", options(userOptions)));
        fuse.mount(mountPoint, true, debug, args.toArray(new String[0]));
    }
}
