package io.sqliteos.fs;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The listings of open directories by handle, and the threads that list the
 * rest of a large directory while its first entries are being served.
 *
 * <p>Listing the whole of a directory of 100,000 entries before the first
 * reply kept the process that lists it waiting for all of it; the kernel and
 * the process, on another processor, can take in the first part meanwhile.
 */
final class DirectoryListings {

    private static final Logger log = LoggerFactory.getLogger(DirectoryListings.class);

    /** One per processor of this machine is plenty: each lists a whole directory at a time. */
    private static final int LISTERS = 2;
    /**
     * Entries the listings of open handles may hold between them (17 bytes and
     * the name each: 30-40 MiB for names of 12 to 25 bytes)
     * before those read least recently are let go. Processes close directories
     * without telling the daemon (unopened_dirs.c), so a listing abandoned
     * halfway would otherwise stay until its handle is closed for it.
     */
    static final long HELD_ENTRIES = 1_000_000;
    /** A listing read from within this long is never let go. */
    static final long IN_USE_NANOS = 1_000_000_000L;

    private final StoreRouter router;
    private final Map<Long, DirectoryListing> byHandle = new ConcurrentHashMap<>();
    private final ThreadPoolExecutor listers;

    private final long heldEntries;
    private final long inUseNanos;

    DirectoryListings(StoreRouter router) {
        this(router, HELD_ENTRIES, IN_USE_NANOS);
    }

    DirectoryListings(StoreRouter router, long heldEntries, long inUseNanos) {
        this.router = router;
        this.heldEntries = heldEntries;
        this.inUseNanos = inUseNanos;
        AtomicInteger number = new AtomicInteger();
        this.listers = new ThreadPoolExecutor(LISTERS, LISTERS, 10, TimeUnit.SECONDS, new LinkedBlockingQueue<>(), r -> {
            Thread t = new Thread(r, "sqliteos-lister-" + number.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
        listers.allowCoreThreadTimeOut(true);
    }

    /** The listing of open directory {@code fh}, or null before its first. */
    DirectoryListing of(long fh) {
        return byHandle.get(fh);
    }

    /**
     * Keeps {@code listing} as handle {@code fh}'s (none for fh 0), in place of
     * the one before. When {@code after} is not null, the entries of
     * {@code dir} after that name are still to come: they are listed in the
     * background from the last committed state.
     */
    void started(long fh, DirectoryListing listing, long dir, byte[] after) {
        if (after == null) {
            listing.complete();
        } else {
            listing.flushSingle();
            listers.execute(() -> listRest(listing, dir, after));
        }
        if (fh > 0) {
            makeRoom();
            DirectoryListing before = byHandle.put(fh, listing);
            if (before != null) {
                before.abandon();
            }
        }
    }

    /**
     * Lets go of the listings read least recently, once all of them together
     * hold more than {@link #HELD_ENTRIES}: only whole ones (nobody waits for
     * the rest of them) not read within the last second. Its handle, read on,
     * lists the directory again (see {@link FileSystem#readdir}).
     */
    private void makeRoom() {
        long held = 0;
        for (DirectoryListing l : byHandle.values()) {
            held += l.size();
        }
        if (held <= heldEntries) {
            return;
        }
        List<Map.Entry<Long, DirectoryListing>> oldestFirst = new ArrayList<>(byHandle.entrySet());
        oldestFirst.sort(Comparator.comparingLong(e -> e.getValue().lastServedNanos()));
        long now = System.nanoTime();
        for (Map.Entry<Long, DirectoryListing> e : oldestFirst) {
            DirectoryListing l = e.getValue();
            if (held <= heldEntries / 2 || now - l.lastServedNanos() < inUseNanos) {
                break;
            }
            if (l.listedWhole() && byHandle.remove(e.getKey(), l)) {
                held -= l.size();
                log.debug("let go of the listing of handle {} ({} entries): not read for {} ms", e.getKey(), l.size(),
                        (now - l.lastServedNanos()) / 1_000_000);
            }
        }
    }

    /** Handle {@code fh} is closed: its listing goes, and stops if still being made. */
    void released(long fh) {
        DirectoryListing listing = byHandle.remove(fh);
        if (listing != null) {
            listing.abandon();
        }
    }

    private void listRest(DirectoryListing listing, long dir, byte[] after) {
        try {
            if (!listing.abandoned()) {
                router.readCommitted(s -> s.listDirectory(dir, after, Integer.MAX_VALUE, listing));
            }
            listing.complete();
        } catch (DirectoryListing.AbandonedException e) {
            log.debug("listing of directory {} stopped: its handle is closed", dir);
        } catch (RuntimeException e) {
            log.warn("listing directory {} failed: {}", dir, e.toString());
            listing.fail(e);
        } catch (Error e) {
            // the request waiting for the rest must not wait for ever
            listing.fail(new FsException(Errno.EIO, "listing directory " + dir + " failed: " + e));
            throw e;
        }
    }
}
