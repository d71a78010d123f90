package io.sqliteos.db;

import com.kenai.jffi.CallContext;
import com.kenai.jffi.Invoker;
import com.kenai.jffi.Library;
import com.kenai.jffi.Type;
import java.nio.file.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A request's buffer lent to SQL on the calling thread (the daemon's SQLite
 * extension, src/main/c/sqlite/lent_memory.c): while it is lent, statements run
 * on this thread move file data between SQLite and that memory directly
 * ({@link Store#copyOutLent}, {@link Store#putWholeLentBlocks}), without Java
 * arrays between. Lending is a plain native call, which SQL cannot make.
 */
public final class LentMemory {

    private static final Logger log = LoggerFactory.getLogger(LentMemory.class);
    private static final CallContext VOID_OF_POINTER_AND_SIZE = new CallContext(Type.VOID, Type.POINTER, Type.UINT64);
    private static final CallContext VOID_OF_NOTHING = new CallContext(Type.VOID);

    private static volatile long lend;
    private static volatile long unlend;

    private LentMemory() {}

    /** Finds the lending functions in the extension just loaded from {@code file}. */
    static void bind(Path file) {
        long[] fns = SqliteExtension.functions(file, "sqliteos_lend", "sqliteos_unlend");
        if (fns == null) {
            log.warn("the SQLite extension lends no buffers ({}): file data goes through Java arrays", Library.getLastError());
            return;
        }
        unlend = fns[1];
        lend = fns[0];
    }

    /** True when buffers can be lent. */
    public static boolean available() {
        return lend != 0;
    }

    /** Lends {@code size} bytes at {@code address} to SQL on this thread, until {@link #takeBack}. */
    public static void lend(long address, long size) {
        Invoker.getInstance().invokeN2(VOID_OF_POINTER_AND_SIZE, lend, address, size);
    }

    /** Ends this thread's loan. */
    public static void takeBack() {
        Invoker.getInstance().invokeN0(VOID_OF_NOTHING, unlend);
    }
}
