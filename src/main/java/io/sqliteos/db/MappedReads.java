package io.sqliteos.db;

import com.kenai.jffi.CallContext;
import com.kenai.jffi.Invoker;
import com.kenai.jffi.Type;
import java.nio.file.Path;

/**
 * Tells the SQLite extension's mapping of the in-memory database
 * (src/main/c/sqlite/mapped_reads.c) where free pages were given back: the
 * pages written there next are new, so their reads are counted afresh and the
 * first ones go to the file, not to a fault in the mapping. A plain native
 * call, which SQL cannot make.
 */
final class MappedReads {

    private static final CallContext VOID_OF_POINTER_LONG_LONG =
            new CallContext(Type.VOID, Type.POINTER, Type.SINT64, Type.SINT64);

    private static volatile long forget;

    private MappedReads() {}

    /** Finds the function in the extension just loaded from {@code file}; without it reads are counted on. */
    static void bind(Path file) {
        long[] fns = SqliteExtension.functions(file, "sqliteos_mapped_forget");
        if (fns != null) {
            forget = fns[0];
        }
    }

    /** Counts the reads of {@code length} bytes of {@code file} from {@code offset} afresh. */
    static void holePunched(Path file, long offset, long length) {
        long fn = forget;
        if (fn == 0) {
            return;
        }
        SqliteExtension.withPath(file, path ->
                Invoker.getInstance().invokeN3(VOID_OF_POINTER_LONG_LONG, fn, path, offset, length));
    }
}
