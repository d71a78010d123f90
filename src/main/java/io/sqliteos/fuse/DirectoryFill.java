package io.sqliteos.fuse;

import com.kenai.jffi.MemoryIO;
import io.sqliteos.db.PackedEntries;
import io.sqliteos.db.Store;
import io.sqliteos.fs.FileSystem;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Packs the entries of one listing and passes them to libfuse's filler a
 * bufferful at a time ({@link LibfuseShim#fillDir}), instead of one native call
 * per entry. One per FUSE worker thread, reused by each listing it serves, so
 * a listing of any size needs no more than one small buffer.
 */
public final class DirectoryFill implements Store.EntrySink {

    private static final Logger log = LoggerFactory.getLogger(DirectoryFill.class);

    /** Room for dozens of entries of the longest names and hundreds of common ones. */
    static final int CAPACITY = 16 * 1024;
    private static final int LARGEST_ENTRY = PackedEntries.HEADER + FileSystem.NAME_MAX + 1;

    private static final ThreadLocal<DirectoryFill> PER_THREAD = ThreadLocal.withInitial(DirectoryFill::new);

    private final ByteBuffer packed = ByteBuffer.allocateDirect(CAPACITY).order(ByteOrder.nativeOrder());
    private final long address = MemoryIO.getInstance().getDirectBufferAddress(packed);
    private long filler;
    private long fillerBuffer;
    private int pending; // entries packed and not yet passed
    private boolean refused;

    /** This thread's fill, ready for a listing into libfuse's {@code filler} and its {@code buf}. */
    static DirectoryFill begin(long filler, long buf) {
        DirectoryFill fill = PER_THREAD.get();
        fill.filler = filler;
        fill.fillerBuffer = buf;
        fill.refused = false;
        fill.packed.clear();
        fill.pending = 0;
        return fill;
    }

    /**
     * This thread's fill into a filler that drops every entry, so that the JIT
     * warm-up compiles the path a mount's listings take, native call included.
     */
    public static DirectoryFill discarding() {
        LibfuseShim.load();
        return begin(LibfuseShim.discardingFiller(), 0);
    }

    @Override
    public void accept(byte[] name, long ino, int mode) {
        if (refused) {
            return;
        }
        if (name.length > FileSystem.NAME_MAX) { // names are checked when made: only for safety
            log.warn("readdir: left out the entry of inode {}: its name is {} bytes, more than {}",
                    ino, name.length, FileSystem.NAME_MAX);
            return;
        }
        if (packed.remaining() < LARGEST_ENTRY) {
            flush();
        }
        packed.putLong(ino).putInt(mode).putInt(name.length).put(name).put((byte) 0);
        pending++;
    }

    /**
     * Takes a run of entries SQLite packed in the filler's layout: copied into
     * the buffer as whole spans of entries, with no call per entry.
     */
    @Override
    public void acceptPacked(byte[] run) {
        ByteBuffer entries = PackedEntries.view(run);
        int at = 0;
        while (at < run.length && !refused) {
            // the longest span of whole entries, of lawful names, that fits the buffer
            int end = at;
            int count = 0;
            while (end < run.length) {
                int length = PackedEntries.entryLength(entries, end);
                if (PackedEntries.nameLength(entries, end) > FileSystem.NAME_MAX || end + length - at > packed.remaining()) {
                    break;
                }
                end += length;
                count++;
            }
            if (count > 0) {
                packed.put(run, at, end - at);
                pending += count;
                at = end;
            } else if (pending > 0) {
                flush();
            } else { // a name too long to pass: accept() leaves it out, with a log line
                PackedEntries.passOne(entries, at, this);
                at += PackedEntries.entryLength(entries, at);
            }
        }
    }

    /** Passes what is still packed; call once the listing is complete. */
    public void finish() {
        flush();
    }

    private void flush() {
        if (pending == 0 || refused) {
            return;
        }
        // libfuse refuses an entry only when out of memory; the kernel then gets what it took
        refused = LibfuseShim.fillDir(filler, fillerBuffer, address, packed.position()) < pending;
        packed.clear();
        pending = 0;
    }
}
