package io.sqliteos.fuse;

import com.kenai.jffi.MemoryIO;
import io.sqliteos.db.PackedEntries;
import io.sqliteos.fs.ListingSink;
import java.nio.ByteBuffer;

/**
 * Passes a listing's packed entries to libfuse's filler a bufferful at a time
 * ({@link LibfuseShim#fillDir}), each with its offset, instead of one native
 * call per entry. One per FUSE worker thread, reused by each listing it
 * serves, so a reply of any size needs no more than one small buffer.
 */
public final class DirectoryFill implements ListingSink {

    /** Room for dozens of entries of the longest names and hundreds of common ones. */
    static final int CAPACITY = 16 * 1024;

    private static final ThreadLocal<DirectoryFill> PER_THREAD = ThreadLocal.withInitial(DirectoryFill::new);

    private final ByteBuffer packed = ByteBuffer.allocateDirect(CAPACITY);
    private final long address = MemoryIO.getInstance().getDirectBufferAddress(packed);
    private long filler;
    private long fillerBuffer;

    /** This thread's fill, ready for a reply through libfuse's {@code filler} into its {@code buf}. */
    static DirectoryFill begin(long filler, long buf) {
        DirectoryFill fill = PER_THREAD.get();
        fill.filler = filler;
        fill.fillerBuffer = buf;
        return fill;
    }

    /**
     * This thread's fill into a filler that takes every entry and keeps none,
     * so that the JIT warm-up compiles the path a mount's listings take,
     * native call included.
     */
    public static DirectoryFill discarding() {
        LibfuseShim.load();
        return begin(LibfuseShim.discardingFiller(), 0);
    }

    /**
     * Copies the longest spans of whole entries that fit the buffer and passes
     * each to the filler. An entry's offset for the kernel is the position
     * after it, where the listing resumes.
     */
    @Override
    public int take(byte[] run, int from, int to, long position) {
        ByteBuffer entries = PackedEntries.view(run);
        int taken = 0;
        int at = from;
        while (at < to) {
            int end = at;
            int count = 0;
            while (end < to) {
                int length = PackedEntries.entryLength(entries, end);
                if (end + length - at > CAPACITY) {
                    break;
                }
                end += length;
                count++;
            }
            MemoryIO.getInstance().putByteArray(address, run, at, end - at);
            long took = LibfuseShim.fillDir(filler, fillerBuffer, address, end - at, position + taken + 1);
            taken += (int) took;
            if (took < count) {
                return taken;
            }
            at = end;
        }
        return taken;
    }
}
