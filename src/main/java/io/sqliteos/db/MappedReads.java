package io.sqliteos.db;

import com.kenai.jffi.CallContext;
import com.kenai.jffi.Invoker;
import com.kenai.jffi.MemoryIO;
import com.kenai.jffi.Type;
import java.nio.file.Path;
import java.util.BitSet;

/**
 * Tells the SQLite extension's mapping of the in-memory database
 * (src/main/c/sqlite/mapped_reads.c) where pages became free or were given
 * back: the pages written there next are new content, so their reads are
 * counted afresh and the first ones go to the file, not to a fault in the
 * mapping. A plain native call, which SQL cannot make.
 */
final class MappedReads {

    private static final CallContext VOID_OF_POINTER_POINTER_INT =
            new CallContext(Type.VOID, Type.POINTER, Type.POINTER, Type.SINT32);

    private static volatile long forgetRuns;

    private MappedReads() {}

    /** Finds the function in the extension just loaded from {@code file}; without it reads are counted on. */
    static void bind(Path file) {
        long[] fns = SqliteExtension.functions(file, "sqliteos_mapped_forget_runs");
        if (fns != null) {
            forgetRuns = fns[0];
        }
    }

    /** Counts the reads of {@code length} bytes of {@code file} from {@code offset} afresh. */
    static void countAfresh(Path file, long offset, long length) {
        countAfresh(file, new long[] {offset, length}, 1);
    }

    /**
     * Counts the reads of the pages set in {@code pages} (numbered from 1, as
     * SQLite does, each {@code pageSize} bytes) afresh, in one call.
     */
    static void countAfresh(Path file, BitSet pages, int pageSize) {
        int runs = 0;
        long[] pairs = new long[16];
        for (int from = pages.nextSetBit(0); from >= 0; from = pages.nextSetBit(from)) {
            int to = pages.nextClearBit(from);
            if (2 * runs + 2 > pairs.length) {
                pairs = java.util.Arrays.copyOf(pairs, pairs.length * 2);
            }
            pairs[2 * runs] = (long) (from - 1) * pageSize;
            pairs[2 * runs + 1] = (long) (to - from) * pageSize;
            runs++;
            from = to;
        }
        countAfresh(file, pairs, runs);
    }

    private static void countAfresh(Path file, long[] pairs, int runs) {
        long fn = forgetRuns;
        if (fn == 0 || runs == 0) {
            return;
        }
        MemoryIO memory = MemoryIO.getInstance();
        long address = memory.allocateMemory(16L * runs, false);
        if (address == 0) {
            return; // the counts stay: later reads may only cost a fault
        }
        try {
            memory.putLongArray(address, pairs, 0, 2 * runs);
            SqliteExtension.withPath(file, path ->
                    Invoker.getInstance().invokeN3(VOID_OF_POINTER_POINTER_INT, fn, path, address, runs));
        } finally {
            memory.freeMemory(address);
        }
    }
}
