package io.sqliteos.db;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.BitSet;
import java.util.Iterator;
import java.util.concurrent.TimeUnit;
import jnr.ffi.LibraryLoader;
import jnr.ffi.annotations.Out;
import jnr.posix.FileStat;
import jnr.posix.POSIX;
import jnr.posix.POSIXFactory;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Gives the RAM (or disk blocks) under SQLite's free pages back by punching
 * holes into the database file.
 *
 * <p>SQLite keeps the pages of deleted rows on its free list for reuse and
 * never shrinks the file by itself, so without this a database in RAM would
 * hold the memory of the most it ever stored at once. A hole keeps the file's
 * size and reads as zeros; the content of a free page means nothing to SQLite
 * (it rewrites a page whole when it takes it off the list), so only the list's
 * own trunk pages are kept.
 *
 * <p>The file must be what every reader sees, and stay so while holes are
 * punched: the caller holds SQLite's write lock, and the write-ahead log is
 * empty (so no reader takes a page from it, and a checkpoint cannot copy a
 * page back into the file). The free list is then read from the file itself.
 *
 * <p>A page is given back only once it has stayed free for a while (the keep
 * time): deleted data is often followed by new data (a file rewritten, a
 * build's outputs made again), which takes the free pages, and memory (or disk
 * blocks) given back and taken again costs a fresh allocation, on a virtual
 * machine often one the host must back again. The caller gives everything
 * back at once when room runs short.
 *
 * <p>The file is opened once and closed only after SQLite has closed it:
 * closing any descriptor of a file drops the process's POSIX locks on it,
 * SQLite's included.
 */
final class FreePages implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(FreePages.class);

    private static final int O_RDWR = 2;
    private static final int O_CLOEXEC = 0x80000;
    private static final int SEEK_DATA = 3;
    private static final int FALLOC_FL_KEEP_SIZE = 1;
    private static final int FALLOC_FL_PUNCH_HOLE = 2;
    private static final int EOPNOTSUPP = 95;
    private static final int ENXIO = 6;
    /** One punch frees at most this much, so that a pass can stop when its time is up. */
    private static final long MAX_PUNCH_BYTES = 16L << 20;

    /** The libc calls needed. */
    public interface LibC {
        int open(String path, int flags);

        int close(int fd);

        long pread(int fd, @Out byte[] buffer, long count, long offset);

        int fallocate(int fd, int mode, long offset, long length);

        long lseek(int fd, long offset, int whence);
    }

    private static volatile LibC libc;
    private static volatile POSIX posix;

    /** Free pages first seen within this long of each other are kept as one group. */
    private static final long GROUP_NANOS = TimeUnit.SECONDS.toNanos(1);

    /**
     * What one pass did. {@code keptBytes} of free pages wait for their keep
     * time to end, the first of them at {@code dueNanos} (of {@link System#nanoTime}).
     */
    record Pass(long bytesFreed, boolean finished, long keptBytes, long dueNanos) {}

    /** Free pages first seen free at {@code sinceNanos}, kept for reuse until the keep time ends. */
    private record Kept(long sinceNanos, BitSet pages) {}

    private final Path file;
    private final long keepNanos;
    private int fd;
    /** Set when the file system cannot punch holes, or the free list looks wrong. */
    private boolean disabled;
    private int pageSize; // read from the file's header at each pass
    /** Free pages punched (or found to be holes): until used again, they hold no data. */
    private final BitSet holes = new BitSet();
    /** Free pages that may hold data and are kept for reuse, oldest group first. */
    private final ArrayDeque<Kept> kept = new ArrayDeque<>();
    /** The page a look for data in all free pages goes on from; -1 when none is under way. */
    private int sweepFrom = -1;
    /** {@link #surplusBytes} right after the last look through all free pages. */
    private long baseSurplus;
    private boolean surplusKnown;

    private FreePages(Path file, int fd, long keepNanos) {
        this.file = file;
        this.fd = fd;
        this.keepNanos = keepNanos;
    }

    /**
     * Opens the database file for hole punching, giving a page back once it has
     * been free for {@code keepNanos}; null where that cannot be done (then
     * nothing is given back).
     */
    static FreePages open(Path file, long keepNanos) {
        try {
            LibC c = libc();
            int fd = c.open(file.toString(), O_RDWR | O_CLOEXEC);
            if (fd < 0) {
                log.info("free pages stay in {}: cannot open it (errno {})", file, errno());
                return null;
            }
            return new FreePages(file, fd, keepNanos);
        } catch (RuntimeException | LinkageError e) {
            log.info("free pages stay in the database file: {}", e.toString());
            return null;
        }
    }

    private static LibC libc() {
        LibC c = libc;
        if (c == null) {
            c = LibraryLoader.create(LibC.class).load("c");
            libc = c;
        }
        return c;
    }

    private static POSIX posix() {
        POSIX p = posix;
        if (p == null) {
            p = POSIXFactory.getNativePOSIX();
            posix = p;
        }
        return p;
    }

    private static int errno() {
        return jnr.ffi.Runtime.getRuntime(libc).getLastError();
    }

    /**
     * Punches holes under the free pages that may hold data and have been free
     * for the keep time (all of them if {@code keepNone}), in the order of the
     * file, until {@code deadlineNanos} (of {@link System#nanoTime}) has passed;
     * an unfinished pass goes on where it stopped the next time. The caller
     * holds the write lock and has made sure the log is empty.
     *
     * <p>Pages whose keep time has ended are punched straight away. A page
     * punched before may have been used and freed again in between; whether
     * any was is told by the blocks the file takes, and only then are all free
     * pages looked at, a seek for data per run of them.
     */
    synchronized Pass punch(long deadlineNanos, boolean keepNone) {
        if (fd < 0 || disabled) {
            return new Pass(0, true, 0, 0);
        }
        int[] leaves = readFreeLeaves();
        if (leaves == null) {
            return new Pass(0, true, 0, 0);
        }
        BitSet free = new BitSet();
        for (int leaf : leaves) {
            free.set(leaf);
        }
        holes.and(free); // a page in use again holds data
        long now = System.nanoTime();
        BitSet waiting = keptUntilDue(free, now, keepNone);
        long freed = 0;

        BitSet due = (BitSet) free.clone();
        due.andNot(holes);
        due.andNot(waiting);
        for (int from = due.nextSetBit(0); from >= 0; from = due.nextSetBit(from)) {
            int to = due.nextClearBit(from);
            long got = punchRun(from, to, deadlineNanos);
            if (got < 0) {
                return new Pass(freed, true, 0, 0); // cannot punch at all
            }
            freed += got;
            if (System.nanoTime() - deadlineNanos >= 0) {
                return passOf(freed, false, waiting, now);
            }
            from = to;
        }

        if (sweepFrom < 0) {
            long surplus = surplusBytes();
            if (surplus == Long.MIN_VALUE || (surplusKnown && surplus <= baseSurplus)) {
                return passOf(freed, true, waiting, now);
            }
            sweepFrom = 0; // data in pages punched before (or a first look): seek through all free pages
        }
        BitSet sweep = (BitSet) free.clone();
        sweep.andNot(waiting);
        LibC c = libc();
        for (int from = sweep.nextSetBit(sweepFrom); from >= 0; from = sweep.nextSetBit(from)) {
            int to = sweep.nextClearBit(from);
            long at = c.lseek(fd, offset(from), SEEK_DATA);
            if (at < 0 && errno() == ENXIO) {
                break; // nothing but holes up to the end of the file
            }
            if (at < 0 || at < offset(to)) {
                int first = at < 0 ? from : (int) (at / pageSize) + 1;
                long got = punchRun(first, to, deadlineNanos);
                if (got < 0) {
                    return new Pass(freed, true, 0, 0);
                }
                freed += got;
                from = first + (int) (got / pageSize);
            } else {
                from = (int) (at / pageSize) + 1; // the free pages before the data are holes
            }
            sweepFrom = from;
            if (System.nanoTime() - deadlineNanos >= 0) {
                return passOf(freed, false, waiting, now);
            }
        }
        sweepFrom = -1;
        long surplus = surplusBytes();
        surplusKnown = surplus != Long.MIN_VALUE;
        baseSurplus = surplus;
        return passOf(freed, true, waiting, now);
    }

    /**
     * Brings the kept groups up to date with the free list, adds the pages
     * newly seen free as a group, and returns the pages still kept: none if
     * {@code keepNone}.
     */
    private BitSet keptUntilDue(BitSet free, long now, boolean keepNone) {
        BitSet known = new BitSet();
        for (Iterator<Kept> it = kept.iterator(); it.hasNext(); ) {
            Kept group = it.next();
            group.pages().and(free); // used again: no longer free
            group.pages().andNot(holes); // given back
            if (group.pages().isEmpty()) {
                it.remove();
            } else {
                known.or(group.pages());
            }
        }
        BitSet fresh = (BitSet) free.clone();
        fresh.andNot(holes);
        fresh.andNot(known);
        if (!fresh.isEmpty()) {
            // deleting read these pages once more: what is written into them next is counted afresh
            countReadsAfresh(fresh);
            Kept last = kept.peekLast();
            if (last != null && now - last.sinceNanos() < GROUP_NANOS) {
                last.pages().or(fresh);
            } else {
                kept.addLast(new Kept(now, fresh));
            }
        }
        BitSet waiting = new BitSet();
        if (!keepNone) {
            for (Kept group : kept) {
                if (now - group.sinceNanos() < keepNanos) {
                    waiting.or(group.pages());
                }
            }
        }
        return waiting;
    }

    /** Has the mapping of the file count the reads of {@code pages} afresh, in one call. */
    private void countReadsAfresh(BitSet pages) {
        long[] runs = new long[16];
        int count = 0;
        for (int from = pages.nextSetBit(0); from >= 0; from = pages.nextSetBit(from)) {
            int to = pages.nextClearBit(from);
            if (2 * count + 2 > runs.length) {
                runs = Arrays.copyOf(runs, runs.length * 2);
            }
            runs[2 * count] = offset(from);
            runs[2 * count + 1] = offset(to) - offset(from);
            count++;
            from = to;
        }
        MappedReads.countAfresh(file, runs, count);
    }

    private Pass passOf(long freed, boolean finished, BitSet waiting, long now) {
        if (waiting.isEmpty()) {
            return new Pass(freed, finished, 0, 0);
        }
        long due = now;
        for (Kept group : kept) {
            if (now - group.sinceNanos() < keepNanos) {
                due = group.sinceNanos() + keepNanos; // the groups are in the order they were seen
                break;
            }
        }
        return new Pass(freed, finished, (long) waiting.cardinality() * pageSize, due);
    }

    private long offset(int page) {
        return (long) (page - 1) * pageSize;
    }

    /**
     * Punches pages {@code [from, to)}, in pieces until the deadline; returns the
     * bytes punched, or -1 if the file cannot be punched (then this gives up).
     */
    private long punchRun(int from, int to, long deadlineNanos) {
        long at = offset(from);
        long end = offset(to);
        long done = 0;
        while (at < end) {
            long len = Math.min(end - at, MAX_PUNCH_BYTES);
            if (libc().fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, at, len) != 0) {
                int err = errno();
                if (err == EOPNOTSUPP) {
                    log.info("free pages stay in {}: its file system cannot punch holes", file);
                } else {
                    log.warn("punching a hole into {} failed (errno {}); free pages stay in it", file, err);
                }
                disabled = true; // the descriptor stays open until SQLite is done: see the class comment
                return -1;
            }
            holes.set((int) (at / pageSize) + 1, (int) ((at + len) / pageSize) + 1);
            MappedReads.countAfresh(file, at, len);
            done += len;
            at += len;
            if (System.nanoTime() - deadlineNanos >= 0) {
                break;
            }
        }
        return done;
    }

    /**
     * The bytes the file takes beyond its size less the pages known to be holes:
     * a constant (file-system overhead, SQLite's lock page) until a page known as
     * a hole holds data again. {@code Long.MIN_VALUE} if the file system does not say.
     */
    private long surplusBytes() {
        try {
            FileStat st = posix().fstat(fd);
            return st.blocks() * 512 - (st.st_size() - (long) holes.cardinality() * pageSize);
        } catch (RuntimeException | LinkageError e) {
            return Long.MIN_VALUE;
        }
    }

    /** The free list's leaf pages, sorted; null if the file does not look as it should (then nothing is punched). */
    private int[] readFreeLeaves() {
        byte[] header = new byte[100];
        if (!readFully(header, 0)) {
            return null;
        }
        ByteBuffer h = ByteBuffer.wrap(header);
        int size = Short.toUnsignedInt(h.getShort(16));
        pageSize = size == 1 ? 65536 : size;
        if (pageSize < 512 || Integer.bitCount(pageSize) != 1) {
            return bad("page size " + pageSize);
        }
        int trunk = h.getInt(32);
        int total = h.getInt(36);
        if (total <= 0 || trunk == 0) {
            return new int[0];
        }
        int pages = h.getInt(28) > 0 ? h.getInt(28) : Integer.MAX_VALUE;
        int perTrunk = pageSize / 4 - 2;
        int[] leaves = new int[total];
        int count = 0;
        int trunks = 0;
        byte[] page = new byte[pageSize];
        while (trunk != 0) {
            if (trunk < 2 || trunk > pages || ++trunks > total) {
                return bad("free-list trunk " + trunk);
            }
            if (!readFully(page, (long) (trunk - 1) * pageSize)) {
                return null;
            }
            ByteBuffer t = ByteBuffer.wrap(page);
            int n = t.getInt(4);
            if (n < 0 || n > perTrunk || count + n > total - trunks) {
                return bad("free-list trunk " + trunk + " with " + n + " leaves");
            }
            for (int k = 0; k < n; k++) {
                int leaf = t.getInt(8 + 4 * k);
                if (leaf < 2 || leaf > pages) {
                    return bad("free page " + leaf);
                }
                leaves[count++] = leaf;
            }
            trunk = t.getInt(0);
        }
        int[] sorted = Arrays.copyOf(leaves, count);
        Arrays.sort(sorted);
        return sorted;
    }

    /** The free list is not what it should be: says so once, and punches nothing from then on. */
    private int[] bad(String what) {
        log.warn("not giving free pages back: unexpected {} in {}", what, file);
        disabled = true;
        return null;
    }

    private boolean readFully(byte[] buffer, long offset) {
        long got = libc().pread(fd, buffer, buffer.length, offset);
        if (got != buffer.length) {
            log.warn("reading {} for its free pages: {}", file, got < 0 ? "errno " + errno() : "short read");
            return false;
        }
        return true;
    }

    /** Closes the descriptor: only after SQLite has closed the database (see the class comment). */
    @Override
    public synchronized void close() {
        if (fd >= 0) {
            libc().close(fd);
            fd = -1;
        }
    }
}
