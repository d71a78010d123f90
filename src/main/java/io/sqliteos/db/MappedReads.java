package io.sqliteos.db;

import com.kenai.jffi.CallContext;
import com.kenai.jffi.Invoker;
import com.kenai.jffi.MemoryIO;
import com.kenai.jffi.Type;
import java.nio.file.Path;

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

    /** Counts the reads of {@code runs} parts of {@code file} afresh, each an offset and a length in {@code pairs}. */
    static void countAfresh(Path file, long[] pairs, int runs) {
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
