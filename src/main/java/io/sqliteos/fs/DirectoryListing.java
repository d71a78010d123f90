package io.sqliteos.fs;

import io.sqliteos.db.PackedEntries;
import io.sqliteos.db.Store;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The listing of one open directory, from its opening or its last rewind: "."
 * and "..", then the entries by name, packed ({@link PackedEntries}) a page at
 * a time as the store passes them. Each entry has a position, its index in the
 * listing; the kernel resumes a listing at the position after the last entry
 * it took, and a seekdir returns to any position, as long as the handle is open.
 *
 * <p>The store may still be adding pages while requests are served from the
 * first: a request for a position not listed yet waits for it.
 */
final class DirectoryListing implements Store.EntrySink {

    private static final Logger log = LoggerFactory.getLogger(DirectoryListing.class);

    private final List<byte[]> pages = new ArrayList<>();
    /** The position of each page's first entry. */
    private final List<Long> firstPositions = new ArrayList<>();
    /** Entries accepted one at a time (".", "..", a listing without the extension), not yet a page. */
    private final ByteArrayOutputStream single = new ByteArrayOutputStream();
    private final ByteBuffer header = ByteBuffer.allocate(PackedEntries.HEADER).order(ByteOrder.nativeOrder());
    private int singleCount;
    private long size;
    private boolean complete;
    private RuntimeException failure;
    private volatile boolean abandoned;
    private volatile long lastServedNanos = System.nanoTime();

    @Override
    public void accept(byte[] name, long ino, int type) {
        if (name.length > FileSystem.NAME_MAX) { // names are checked when made: only for safety
            log.warn("readdir: left out the entry of inode {}: its name is {} bytes, more than {}",
                    ino, name.length, FileSystem.NAME_MAX);
            return;
        }
        header.clear();
        header.putLong(ino).putInt(type).putInt(name.length);
        single.write(header.array(), 0, PackedEntries.HEADER);
        single.write(name, 0, name.length);
        single.write(0);
        if (++singleCount == PackedEntries.PAGE) {
            flushSingle();
        }
    }

    @Override
    public void acceptPacked(byte[] packed) {
        flushSingle();
        ByteBuffer b = PackedEntries.view(packed);
        int count = 0;
        for (int at = 0; at < packed.length; at += PackedEntries.entryLength(b, at)) {
            if (PackedEntries.nameLength(b, at) > FileSystem.NAME_MAX) {
                PackedEntries.forEach(packed, this); // a name too long: each entry on its own, which leaves it out
                flushSingle();
                return;
            }
            count++;
        }
        add(packed, count);
    }

    /** Passes on the entries accepted one at a time as a page of their own. */
    void flushSingle() {
        if (singleCount > 0) {
            byte[] page = single.toByteArray();
            int count = singleCount;
            single.reset();
            singleCount = 0;
            add(page, count);
        }
    }

    private synchronized void add(byte[] packed, int count) {
        if (abandoned) {
            throw new AbandonedException();
        }
        if (count == 0) {
            return;
        }
        pages.add(packed);
        firstPositions.add(size);
        size += count;
        notifyAll();
    }

    /** Every entry is listed. */
    synchronized void complete() {
        flushSingle();
        complete = true;
        notifyAll();
    }

    /** The rest of the listing failed: requests for it get the failure. */
    synchronized void fail(RuntimeException e) {
        failure = e;
        complete = true;
        notifyAll();
    }

    /** No request will come for this listing: whoever still adds to it stops. */
    void abandon() {
        abandoned = true;
    }

    boolean abandoned() {
        return abandoned;
    }

    /** How many entries it holds. */
    synchronized long size() {
        return size;
    }

    /** Whether it is listed whole (or failed): nothing adds to it any more. */
    synchronized boolean listedWhole() {
        return complete;
    }

    /** When a request was last served from it ({@link System#nanoTime}). */
    long lastServedNanos() {
        return lastServedNanos;
    }

    /**
     * Passes the entries from {@code position} on to {@code sink} until it
     * takes fewer than offered or the listing ends, waiting for entries still
     * being listed. Nothing passed means the listing ends before {@code position}.
     */
    void serve(long position, ListingSink sink) {
        lastServedNanos = System.nanoTime();
        boolean passedAny = false;
        while (true) {
            byte[] page;
            long first;
            long end;
            synchronized (this) {
                while (position >= size && !complete) {
                    try {
                        wait();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        throw new FsException(Errno.EINTR, "interrupted while listing a directory");
                    }
                }
                if (position >= size) {
                    if (failure != null && !passedAny) {
                        throw failure;
                    }
                    return;
                }
                int index = pageOf(position);
                page = pages.get(index);
                first = firstPositions.get(index);
                end = index + 1 < firstPositions.size() ? firstPositions.get(index + 1) : size;
            }
            ByteBuffer b = PackedEntries.view(page);
            int from = 0;
            for (long p = first; p < position; p++) {
                from += PackedEntries.entryLength(b, from);
            }
            int offered = (int) (end - position);
            int taken = sink.take(page, from, page.length, position);
            passedAny |= taken > 0;
            if (taken < offered) {
                return;
            }
            position += taken;
        }
    }

    /** The index of the page holding {@code position}, which is listed. Lock held. */
    private int pageOf(long position) {
        int low = 0;
        int high = firstPositions.size() - 1;
        while (low < high) {
            int mid = (low + high + 1) >>> 1;
            if (firstPositions.get(mid) <= position) {
                low = mid;
            } else {
                high = mid - 1;
            }
        }
        return low;
    }

    /** Thrown into the store's listing once nobody waits for it any more, to end its read. */
    static final class AbandonedException extends RuntimeException {
        AbandonedException() {
            super("directory listing abandoned", null, false, false);
        }
    }
}
