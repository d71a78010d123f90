package io.sqliteos.fuse;

import com.kenai.jffi.CallContext;
import com.kenai.jffi.Invoker;
import com.kenai.jffi.Library;
import com.kenai.jffi.Type;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Loads the small native library (src/main/c, built into the jar) that stands
 * in front of parts of libfuse. It must be loaded, globally, before libfuse,
 * so that libfuse's own calls of those functions resolve to it:
 * <ul>
 * <li>the reply functions, so that the kernel caches the attributes of
 *     directories and single-link files and of nothing else (attr_cache.c);
 * <li>the multi-threaded loop, whose workers stay for the mount's life instead
 *     of each being attached to the JVM and detached again, and the one that
 *     serves a queue of requests runs at real-time priority while it lasts
 *     (worker_pool.c); it takes FUSE over io_uring where the kernel offers it
 *     (uring_transport.c).
 * </ul>
 * Without it attributes are never cached and workers come and go, which is
 * slower and just as correct. The same library sends the kernel
 * notifications: drop every cached name ({@link #incrementEpoch}), which
 * libfuse 2 has no call for, and take the pages of a file being opened
 * ({@link #storeOpenedPages}) or the rest of a block being read ({@link
 * #storeReadPages}, page_store.c), and drop the pages of every open file
 * after a rollback ({@link #dropPagesOfOpenFiles}, undone_pages.c); it
 * hands libfuse many directory
 * entries in one call ({@link #fillDir}, dir_fill.c); it takes the attributes
 * of a node a request has just made for that request's reply, instead of
 * asking the daemon for them again ({@link #madeAttributes}, made_attrs.c);
 * it lists directories the kernel has not opened, and lets the kernel keep
 * those listings only while no transaction is open ({@link
 * #listingsCacheable}, unopened_dirs.c); and it rehearses
 * requests for the JIT warm-up ({@link RequestRehearsal}, rehearsal.c).
 */
final class LibfuseShim {

    private static final Logger log = LoggerFactory.getLogger(LibfuseShim.class);
    private static final String RESOURCE = "/native/libsqliteos-libfuse-shim.so";
    private static final String MARKER_SYMBOL = "sqliteos_libfuse_shim_version";
    private static final String EPOCH_SYMBOL = "sqliteos_increment_epoch";
    private static final String FILL_DIR_SYMBOL = "sqliteos_fill_dir";
    private static final String DISCARD_SYMBOL = "sqliteos_discard_dir_entry";
    private static final String REHEARSAL_PREFIX = "sqliteos_rehearsal_";
    private static final String NODE_PAGES_SYMBOL = "sqliteos_keep_node_pages";
    private static final String URING_ALLOW_SYMBOL = "sqliteos_uring_allow";
    private static final String PRIORITY_BOOST_SYMBOL = "sqliteos_priority_boost_allow";
    private static final String URING_ACTIVE_SYMBOL = "sqliteos_uring_active";
    private static final String URING_READ_BUFFER_SYMBOL = "sqliteos_uring_read_buffer";
    private static final String STORE_PAGES_SYMBOL = "sqliteos_store_opened_pages";
    private static final String STORE_READ_PAGES_SYMBOL = "sqliteos_store_read_pages";
    private static final String DROP_PAGES_SYMBOL = "sqliteos_drop_pages_of_open_files";
    private static final String MADE_ATTRIBUTES_SYMBOL = "sqliteos_made_attributes";
    private static final String LISTINGS_CACHEABLE_SYMBOL = "sqliteos_listings_cacheable";
    private static final CallContext VOID_OF_INT = new CallContext(Type.VOID, Type.SINT32);
    private static final CallContext LONG_OF_POINTER = new CallContext(Type.SINT64, Type.POINTER);
    private static final CallContext LONG_OF_SIZE = new CallContext(Type.SINT64, Type.UINT64);
    private static final CallContext FILL_DIR_CALL =
            new CallContext(Type.SINT64, Type.POINTER, Type.POINTER, Type.POINTER, Type.SINT64, Type.SINT64);
    private static final CallContext POINTER_OF_POINTER_AND_SIZE = new CallContext(Type.POINTER, Type.POINTER, Type.UINT64);
    private static final CallContext INT_OF_POINTER_AND_INT = new CallContext(Type.SINT32, Type.POINTER, Type.SINT32);
    private static final CallContext INT_OF_POINTER = new CallContext(Type.SINT32, Type.POINTER);
    private static final CallContext VOID_OF_POINTER = new CallContext(Type.VOID, Type.POINTER);
    private static final CallContext INT_OF_NOTHING = new CallContext(Type.SINT32);
    private static final CallContext POINTER_OF_NOTHING = new CallContext(Type.POINTER);
    private static final CallContext INT_OF_POINTER_AND_UINT = new CallContext(Type.SINT32, Type.POINTER, Type.UINT32);
    private static final CallContext INT_OF_POINTER_LONG_AND_UINT =
            new CallContext(Type.SINT32, Type.POINTER, Type.UINT64, Type.UINT32);
    /** errno's ENOSYS: what {@link #incrementEpoch} answers when the library is not loaded. */
    private static final long ENOSYS = 38;

    private static Boolean loaded;
    private static long incrementEpoch; // the function's address, 0 if absent
    private static volatile long fillDir; // the same
    private static volatile long discardingFiller; // the same
    private static volatile long rehearsalStart, rehearsalRound, rehearsalListing, rehearsalEnd; // the same
    private static volatile long keepNodePages; // the same
    private static volatile long uringAllow, uringActive, uringReadBuffer; // the same
    private static volatile long priorityBoostAllow; // the same
    private static volatile long storePages, storeReadPages; // the same
    private static volatile long dropPages; // the same
    private static volatile long madeAttributes; // the same
    private static volatile long listingsCacheable; // the same

    private LibfuseShim() {}

    /** Loads the filter once; true when libfuse's replies now pass through it. */
    static synchronized boolean load() {
        if (loaded == null) {
            loaded = tryLoad();
        }
        return loaded;
    }

    /**
     * Tells the kernel that every name it has cached for this mount is stale
     * (Linux 6.16 and later). Returns 0, or a negative errno: -EINVAL from an
     * older kernel, -ENOSYS when the library is not loaded.
     */
    static long incrementEpoch(long fuse) {
        long fn;
        synchronized (LibfuseShim.class) {
            fn = incrementEpoch;
        }
        return fn == 0 ? -ENOSYS : Invoker.getInstance().invokeL1(LONG_OF_POINTER, fn, fuse);
    }

    /** True when {@link #fillDir} is there to call. */
    static boolean fillsDirectories() {
        return fillDir != 0;
    }

    /**
     * Passes {@code length} bytes of packed entries at {@code packed} (the
     * layout dir_fill.c describes) to libfuse's directory filler {@code filler}
     * for its buffer {@code buf}, the first with offset {@code firstOffset} and
     * each next with the one after. Returns how many entries it took (none for
     * filler 0): fewer than were packed once the reply is full.
     */
    static long fillDir(long filler, long buf, long packed, long length, long firstOffset) {
        if (filler == 0) {
            return 0;
        }
        return Invoker.getInstance().invokeN5(FILL_DIR_CALL, fillDir, filler, buf, packed, length, firstOffset);
    }

    /** A filler for {@link #fillDir} that drops every entry, or 0 without the library. */
    static long discardingFiller() {
        return discardingFiller;
    }

    /** True when the rehearsal's functions (rehearsal.c) are there to call. */
    static boolean rehearses() {
        return rehearsalStart != 0 && rehearsalRound != 0 && rehearsalListing != 0 && rehearsalEnd != 0;
    }

    /** Starts a rehearsal over the fuse_operations at {@code operations}; 0 when libfuse will not have it. */
    static long startRehearsal(long operations, long size) {
        return Invoker.getInstance().invokeN2(POINTER_OF_POINTER_AND_SIZE, rehearsalStart, operations, size);
    }

    /** Rehearses round {@code round} of common requests: 0, or the first unexpected error (-errno). */
    static int rehearseRound(long rehearsal, int round) {
        return (int) Invoker.getInstance().invokeN2(INT_OF_POINTER_AND_INT, rehearsalRound, rehearsal, round);
    }

    /** Rehearses the listing of a directory of many entries: 0 or -errno. */
    static int rehearseListing(long rehearsal) {
        return (int) Invoker.getInstance().invokeN1(INT_OF_POINTER, rehearsalListing, rehearsal);
    }

    /** Ends a rehearsal and frees it. */
    static void endRehearsal(long rehearsal) {
        Invoker.getInstance().invokeN1(VOID_OF_POINTER, rehearsalEnd, rehearsal);
    }

    /**
     * Once libfuse is loaded: makes it keep the pages of its freed nodes for
     * new ones instead of unmapping them (node_pages.c). Each unmap costs an
     * interrupt of every processor the daemon runs on. Logs when it cannot.
     */
    static void keepNodePages() {
        long fn = keepNodePages;
        int pointed = fn == 0 ? 0 : (int) Invoker.getInstance().invokeI0(INT_OF_NOTHING, fn);
        if (pointed < 2) {
            log.warn("libfuse's node pages are unmapped as its nodes are freed ({} of its 2 calls redirected)", pointed);
        }
    }

    /**
     * Lets the worker loop take FUSE over io_uring when the kernel offers it
     * (uring_transport.c), or keeps requests on /dev/fuse. Call before the mount.
     */
    static void allowIoUring(boolean allow) {
        long fn = uringAllow;
        if (fn != 0) {
            Invoker.getInstance().invokeN1(VOID_OF_INT, fn, allow ? 1 : 0);
        }
    }

    /**
     * Lets a worker that serves a queue of requests run at real-time priority
     * until the queue is empty (worker_pool.c), or keeps every worker at its
     * normal priority. Call before the mount.
     */
    static void allowPriorityBoost(boolean allow) {
        long fn = priorityBoostAllow;
        if (fn != 0) {
            Invoker.getInstance().invokeN1(VOID_OF_INT, fn, allow ? 1 : 0);
        }
    }

    /**
     * Lets the kernel keep the directory listings it reads from now on, or
     * not (unopened_dirs.c): as it may cache names, so only while no
     * transaction is open.
     */
    static void listingsCacheable(boolean yes) {
        long fn = listingsCacheable;
        if (fn != 0) {
            Invoker.getInstance().invokeN1(VOID_OF_INT, fn, yes ? 1 : 0);
        }
    }

    /** Whether requests come through io_uring rather than /dev/fuse. */
    static boolean servesThroughIoUring() {
        long fn = uringActive;
        return fn != 0 && Invoker.getInstance().invokeI0(INT_OF_NOTHING, fn) != 0;
    }

    /**
     * Where the READ this thread serves may put its reply's data, at most
     * {@code size} bytes, when it came through io_uring: the ring entry's own
     * buffer, which the reply then sends as it is. 0 otherwise. Who takes it
     * must reply with just the bytes it put there, or with an error.
     */
    static long uringReadBuffer(long size) {
        long fn = uringReadBuffer;
        return fn == 0 ? 0 : Invoker.getInstance().invokeN1(LONG_OF_SIZE, fn, size);
    }

    /** True when {@link #storeOpenedPages} is there to call. */
    static boolean storesPages() {
        return storePages != 0;
    }

    /**
     * Puts {@code size} bytes at {@code address} into the kernel's page cache
     * as the start of the file that the OPEN this thread serves names
     * (page_store.c). Returns 0, or a negative errno.
     */
    static int storeOpenedPages(long address, int size) {
        return (int) Invoker.getInstance().invokeN2(INT_OF_POINTER_AND_UINT, storePages, address, size);
    }

    /** True when {@link #storeReadPages} is there to call. */
    static boolean storesReadPages() {
        return storeReadPages != 0;
    }

    /**
     * Puts {@code size} bytes at {@code address} into the kernel's page cache
     * at {@code offset} of the file that the READ this thread serves names,
     * beside the pages it asks for (page_store.c). Returns 0, or a negative errno.
     */
    static int storeReadPages(long address, long offset, int size) {
        return (int) Invoker.getInstance().invokeN3(INT_OF_POINTER_LONG_AND_UINT, storeReadPages, address, offset, size);
    }

    /**
     * Has the kernel drop every cached page of every open file of the mount
     * that {@code fuse} (libfuse's handle; 0: that of the request this thread
     * serves) serves (undone_pages.c).
     */
    static void dropPagesOfOpenFiles(long fuse) {
        long fn = dropPages;
        if (fn != 0) {
            Invoker.getInstance().invokeN1(VOID_OF_POINTER, fn, fuse);
        }
    }

    /**
     * The calling thread's slot for the attributes of the node its request has
     * just made (made_attrs.c), or 0 without the library.
     */
    static long madeAttributes() {
        long fn = madeAttributes;
        return fn == 0 ? 0 : Invoker.getInstance().invokeN0(POINTER_OF_NOTHING, fn);
    }

    private static boolean tryLoad() {
        try (InputStream in = LibfuseShim.class.getResourceAsStream(RESOURCE)) {
            if (in == null) {
                log.warn("{} is not in the jar: attributes are not cached, workers are libfuse's", RESOURCE);
                return false;
            }
            Path file = Files.createTempFile("sqliteos-libfuse-shim-", ".so");
            try {
                Files.copy(in, file, StandardCopyOption.REPLACE_EXISTING);
                Library lib = Library.getCachedInstance(file.toString(), Library.LAZY | Library.GLOBAL);
                if (lib == null || lib.getSymbolAddress(MARKER_SYMBOL) == 0) {
                    log.warn("cannot load the libfuse shim ({}): attributes are not cached, workers are libfuse's",
                            Library.getLastError());
                    return false;
                }
                incrementEpoch = lib.getSymbolAddress(EPOCH_SYMBOL);
                fillDir = lib.getSymbolAddress(FILL_DIR_SYMBOL);
                discardingFiller = lib.getSymbolAddress(DISCARD_SYMBOL);
                rehearsalStart = lib.getSymbolAddress(REHEARSAL_PREFIX + "start");
                rehearsalRound = lib.getSymbolAddress(REHEARSAL_PREFIX + "round");
                rehearsalListing = lib.getSymbolAddress(REHEARSAL_PREFIX + "listing");
                rehearsalEnd = lib.getSymbolAddress(REHEARSAL_PREFIX + "end");
                keepNodePages = lib.getSymbolAddress(NODE_PAGES_SYMBOL);
                uringAllow = lib.getSymbolAddress(URING_ALLOW_SYMBOL);
                priorityBoostAllow = lib.getSymbolAddress(PRIORITY_BOOST_SYMBOL);
                uringActive = lib.getSymbolAddress(URING_ACTIVE_SYMBOL);
                uringReadBuffer = lib.getSymbolAddress(URING_READ_BUFFER_SYMBOL);
                storePages = lib.getSymbolAddress(STORE_PAGES_SYMBOL);
                storeReadPages = lib.getSymbolAddress(STORE_READ_PAGES_SYMBOL);
                dropPages = lib.getSymbolAddress(DROP_PAGES_SYMBOL);
                madeAttributes = lib.getSymbolAddress(MADE_ATTRIBUTES_SYMBOL);
                listingsCacheable = lib.getSymbolAddress(LISTINGS_CACHEABLE_SYMBOL);
                return true;
            } finally {
                Files.deleteIfExists(file); // the loaded mapping outlives the name
            }
        } catch (IOException | RuntimeException | LinkageError e) {
            log.warn("cannot load the libfuse shim: attributes are not cached, workers are libfuse's", e);
            return false;
        }
    }
}
