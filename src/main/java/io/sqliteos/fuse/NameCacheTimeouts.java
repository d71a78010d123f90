package io.sqliteos.fuse;

import io.sqliteos.fs.Errno;
import io.sqliteos.tx.CacheFence;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import jnr.ffi.Pointer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * How long the kernel may cache names (positive and negative lookups) and the
 * attributes of directories and single-link files: a while when no
 * transaction is open, which spares a lookup request per path component, a
 * request per directory for the kernel's permission checks and one per stat,
 * and not at all while one is.
 *
 * <p>A transaction may only begin once nothing cached before it can still be
 * used: a rename inside it moves the kernel's cached name, and every process
 * would see the moved name while it lasts. Linux 6.16 and later drop every
 * cached name on request (an epoch notification), so a begin costs nothing
 * and names can be kept for ten seconds: every other change reaches the daemon
 * through the kernel, which updates or drops what it cached. Older kernels
 * cannot, so there a begin waits for the names to expire, and they are kept
 * only 0.2 s by default.
 * Attributes need no such step: whatever a transaction changes comes back in
 * replies with no timeout, and the kernel drops the attributes it changes
 * itself.
 *
 * <p>libfuse 2's high-level API takes the timeouts once, as mount options, and
 * copies them into every reply from its configuration record. So the mount
 * starts with zero timeouts and a marker value in {@code ac_attr_timeout}
 * (which only matters with auto_cache, never set here); at init this finds the
 * record by that marker and from then on writes the timeouts in place. If the
 * record cannot be found (another libfuse), names are simply never cached.
 * The attribute timeout is written only when {@link LibfuseShim}
 * keeps it from files with several names: each name of a hard link is its own
 * kernel inode, and a cached link count or size under one would go stale.
 */
final class NameCacheTimeouts implements CacheFence {

    private static final Logger log = LoggerFactory.getLogger(NameCacheTimeouts.class);

    /** Marker passed as ac_attr_timeout: a value no one would choose. */
    static final double MARKER = 271828.1828459045;
    /** Byte offsets from ac_attr_timeout (struct fuse_config of libfuse 2.9). */
    private static final int ENTRY = -24;
    private static final int NEGATIVE = -16;
    private static final int ATTR = -8;
    private static final int AC_SET = 8;
    /** How far into struct fuse to look for the record. */
    private static final int SEARCH_BYTES = 1024;
    /** After the last transaction, replies computed inside it may still be on their way. */
    private static final long RESUME_DELAY_MS = 50;
    /** The timeouts when none is asked for: with the epoch notification, and without it. */
    static final double DEFAULT_SECONDS = 10.0;
    static final double DEFAULT_SECONDS_WAITING = 0.2;
    /** Set to false, the daemon behaves as on a kernel without the epoch notification (for tests). */
    static final String EPOCHS_PROPERTY = "sqliteos.kernelEpochs";

    private final Double requested; // null: the defaults above
    private double seconds;
    private volatile long mountFuse; // struct fuse (for notifications), whether names are cached or not; 0 before init and after destroy
    private final java.util.concurrent.locks.ReadWriteLock mountLock = new java.util.concurrent.locks.ReentrantReadWriteLock();
    private boolean epochs; // the kernel drops every cached name on request
    private boolean attributesToo; // the reply filter is loaded: the attribute timeout may be set
    private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "sqliteos-name-cache");
        t.setDaemon(true);
        return t;
    });
    private Pointer config; // the address of ac_attr_timeout, once found
    private int open;       // transactions open or beginning
    private boolean caching;
    private long zeroSinceNanos = System.nanoTime();
    private ScheduledFuture<?> pendingResume;

    /** {@code seconds} null lets the kernel decide: {@link #DEFAULT_SECONDS} where it has epochs. */
    NameCacheTimeouts(Double seconds) {
        this.requested = seconds;
        this.seconds = seconds != null ? seconds : DEFAULT_SECONDS_WAITING;
    }

    /** Lets the attribute timeout follow the name timeouts: the reply filter keeps it where it is safe. */
    synchronized void cacheAttributesToo() {
        attributesToo = true;
    }

    /**
     * Runs {@code action} with libfuse's handle of the mount (struct fuse)
     * while the mount is up; not before it has started, nor once libfuse is
     * about to free the handle ({@link #detach}).
     */
    void withMountHandle(java.util.function.LongConsumer action) {
        // not this object's monitor: the action may wait for a process's page lock, and that
        // process for a transaction whose end needs the monitor (exit)
        mountLock.readLock().lock();
        try {
            if (mountFuse != 0) {
                action.accept(mountFuse);
            }
        } finally {
            mountLock.readLock().unlock();
        }
    }

    /**
     * The mount is ending and libfuse is about to free its handle, with the
     * configuration record in it: from now on neither is touched (transactions
     * the daemon rolls back as it stops still pass through here).
     */
    synchronized void detach() {
        mountLock.writeLock().lock();
        try {
            mountFuse = 0;
        } finally {
            mountLock.writeLock().unlock();
        }
        config = null;
        if (pendingResume != null) {
            pendingResume.cancel(false);
            pendingResume = null;
        }
    }

    /** Finds libfuse's configuration record in {@code struct fuse} and starts caching names. */
    synchronized void attach(Pointer fuse) {
        mountFuse = fuse == null ? 0 : fuse.address();
        if ((requested != null && requested <= 0) || fuse == null) {
            return;
        }
        for (int at = 0; at + AC_SET + 4 <= SEARCH_BYTES; at += 8) {
            if (at + ENTRY >= 0 && fuse.getDouble(at) == MARKER && fuse.getDouble(at + ENTRY) == 0.0
                    && fuse.getDouble(at + NEGATIVE) == 0.0 && fuse.getDouble(at + ATTR) == 0.0
                    && fuse.getInt(at + AC_SET) == 1) {
                config = fuse.slice(at);
                boolean allowed = !"false".equals(System.getProperty(EPOCHS_PROPERTY));
                long probe = allowed ? LibfuseShim.incrementEpoch(mountFuse) : 0;
                epochs = allowed && probe == 0;
                if (requested == null) {
                    seconds = epochs ? DEFAULT_SECONDS : DEFAULT_SECONDS_WAITING;
                }
                String begin = epochs ? "a transaction's begin has the kernel drop them"
                        : !allowed ? "a transaction's begin waits for them to expire (" + EPOCHS_PROPERTY + "=false)"
                        : "a transaction's begin waits for them to expire (the kernel cannot drop them: "
                                + Errno.nameOf(-probe) + "; that needs Linux 6.16)";
                log.info("names{} are cached for {} s while no transaction is open; {}",
                        attributesToo ? " and attributes" : "", seconds, begin);
                if (open == 0) {
                    setTimeouts(seconds);
                }
                return;
            }
        }
        log.warn("libfuse's configuration record was not found: names are not cached (every lookup reaches the daemon)");
    }

    private void setTimeouts(double value) {
        config.putDouble(ENTRY, value);
        config.putDouble(NEGATIVE, value);
        if (attributesToo) {
            config.putDouble(ATTR, value);
        }
        boolean wasCaching = caching;
        caching = value > 0;
        LibfuseShim.listingsCacheable(caching); // listings the kernel keeps follow the same rule
        if (wasCaching && !caching) {
            zeroSinceNanos = System.nanoTime();
        }
    }

    @Override
    public void enter() throws InterruptedException {
        long waitNanos;
        synchronized (this) {
            open++;
            if (pendingResume != null) {
                pendingResume.cancel(false);
                pendingResume = null;
            }
            if (config == null) {
                return;
            }
            if (caching) {
                setTimeouts(0);
            }
            double cachedFor = seconds; // what names cached until now were given
            if (epochs) {
                long result = LibfuseShim.incrementEpoch(mountFuse); // config is set: the mount is up
                if (result == 0) {
                    return; // every name cached so far is stale now: nothing to wait for
                }
                epochs = false;
                log.warn("the kernel refused to drop its cached names ({}): transactions now wait for them to expire",
                        Errno.nameOf(-result));
                if (requested == null) {
                    seconds = DEFAULT_SECONDS_WAITING; // this begin waits out the longer timeout, later ones not
                }
            }
            waitNanos = zeroSinceNanos + (long) (cachedFor * 1e9) - System.nanoTime();
        }
        if (waitNanos > 0) {
            TimeUnit.NANOSECONDS.sleep(waitNanos); // until every name cached before has expired
        }
    }

    @Override
    public synchronized void exit() {
        open--;
        if (open == 0 && config != null) {
            pendingResume = timer.schedule(this::resume, RESUME_DELAY_MS, TimeUnit.MILLISECONDS);
        }
    }

    private synchronized void resume() {
        if (open == 0 && config != null) {
            setTimeouts(seconds);
        }
        pendingResume = null;
    }
}
