package io.sqliteos.db;

import com.kenai.jffi.CallContext;
import com.kenai.jffi.Invoker;
import com.kenai.jffi.Library;
import com.kenai.jffi.Type;
import java.nio.file.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Names the directories whose databases no other process opens, so that
 * SQLite's connections to them take no record locks in the kernel (the
 * daemon's SQLite extension, src/main/c/sqlite/private_locks.c): the
 * connections of one process already keep out of each other's way without
 * them. Naming a directory is a plain native call, which SQL cannot make.
 */
final class PrivateLocks {

    private static final Logger log = LoggerFactory.getLogger(PrivateLocks.class);
    private static final CallContext INT_OF_POINTER = new CallContext(Type.SINT32, Type.POINTER);
    private static final CallContext VOID_OF_POINTER = new CallContext(Type.VOID, Type.POINTER);

    private static volatile long name;
    private static volatile long forget;

    private PrivateLocks() {}

    /** Finds the functions in the extension just loaded from {@code file}. */
    static void bind(Path file) {
        long[] fns = SqliteExtension.functions(file, "sqliteos_private_directory", "sqliteos_public_again");
        if (fns == null) {
            log.warn("the SQLite extension cannot spare private databases their locks ({})", Library.getLastError());
            return;
        }
        forget = fns[1];
        name = fns[0];
    }

    /**
     * Declares that no other process opens the files under {@code dir} (as SQLite
     * names them: the real path); files SQLite opens there from now on take no
     * record locks. Where that cannot be arranged they lock as before.
     */
    static void name(Path dir) {
        long fn = name;
        if (fn != 0) {
            SqliteExtension.withPath(dir, path -> {
                if (Invoker.getInstance().invokeN1(INT_OF_POINTER, fn, path) != 0) {
                    log.debug("{} is not named private: its database takes record locks as before", dir);
                }
            });
        }
    }

    /** Undoes {@link #name} once no connection has the directory's files open. */
    static void forget(Path dir) {
        long fn = forget;
        if (fn != 0) {
            SqliteExtension.withPath(dir, path -> Invoker.getInstance().invokeN1(VOID_OF_POINTER, fn, path));
        }
    }
}
