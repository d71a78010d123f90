package io.sqliteos.fuse;

import io.sqliteos.fs.FileSystem;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/** Mounts a {@link FileSystem} with the FUSE options SQLiteOS relies on. */
public final class FuseMount {

    /**
     * The most data one read or write request carries: what the kernel allows
     * since protocol 7.28, which the libfuse shim asks for (worker_pool.c).
     * Without it libfuse 2 and the kernel keep to 128 KiB.
     */
    static final int MAX_REQUEST_BYTES = 1024 * 1024;

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
     * Starts binding a FUSE adapter to libfuse on a thread of its own. jnr
     * generates and loads classes for the library and a native entry point per
     * operation, a few hundred milliseconds of a mount's start that the
     * database can use to open meanwhile. {@code nameCacheSeconds}: how long
     * names are cached while no transaction is open; null picks a default that
     * suits the kernel.
     */
    public static Binding bindInBackground(Double nameCacheSeconds) {
        NameCacheTimeouts timeouts = new NameCacheTimeouts(nameCacheSeconds);
        CompletableFuture<SqliteosFuse> adapter = new CompletableFuture<>();
        Thread t = new Thread(() -> {
            try {
                boolean shim = LibfuseShim.load(); // before the adapter's constructor loads libfuse
                if (shim) {
                    timeouts.cacheAttributesToo();
                }
                SqliteosFuse fuse = new SqliteosFuse(timeouts);
                if (shim) {
                    LibfuseShim.keepNodePages();
                }
                adapter.complete(fuse);
            } catch (Throwable e) {
                adapter.completeExceptionally(e);
            }
        }, "sqliteos-fuse-binding");
        t.setDaemon(true);
        t.start();
        return new Binding(adapter, timeouts);
    }

    /** A FUSE adapter on its way to being bound to libfuse, and the mount's name cache policy. */
    public static final class Binding {
        private final CompletableFuture<SqliteosFuse> adapter;
        private final NameCacheTimeouts nameCache;
        private final KernelConnection connection = new KernelConnection();

        private Binding(CompletableFuture<SqliteosFuse> adapter, NameCacheTimeouts nameCache) {
            this.adapter = adapter;
            this.nameCache = nameCache;
        }

        /** How many requests the kernel has sent so far (0 before the mount). */
        public long requests() {
            return adapter.isDone() && !adapter.isCompletedExceptionally() ? adapter.join().requests() : 0;
        }

        /**
         * Ends the mount's kernel connection, for a daemon told to stop while
         * processes still use its detached mount. False if it cannot.
         */
        public boolean abortConnection() {
            return connection.abort();
        }

        /** What keeps the kernel's caches out of transactions: its names, attributes and file pages. */
        public io.sqliteos.tx.CacheFence cacheFence() {
            return new KernelCacheFence(nameCache);
        }

        /**
         * Mounts {@code fs} and blocks until it is unmounted. {@code onServing}
         * runs once the kernel's first request (FUSE's init) has arrived.
         * {@code ioUring}: take requests through io_uring if the kernel offers it.
         * {@code priorityBoost}: let the worker serving a queue of requests run at
         * real-time priority while the queue lasts.
         */
        public void mountBlocking(FileSystem fs, Path mountPoint, List<String> userOptions, boolean debug,
                                  boolean ioUring, boolean priorityBoost, Runnable onServing) {
            SqliteosFuse fuse = adapter.join();
            fuse.serve(fs, onServing);
            LibfuseShim.allowIoUring(ioUring);
            LibfuseShim.allowPriorityBoost(priorityBoost);
            Readahead.raiseOnceMounted(mountPoint, connection);
            KernelTransport.reportOnceMounted(mountPoint, ioUring);
            List<String> args = new ArrayList<>();
            args.add("-o");
            args.add(String.join(",", options(userOptions)));
            fuse.mount(mountPoint, true, debug, args.toArray(new String[0]));
        }
    }
}
