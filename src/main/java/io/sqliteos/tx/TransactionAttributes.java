package io.sqliteos.tx;

import io.sqliteos.fs.Caller;
import io.sqliteos.fs.Errno;
import io.sqliteos.fs.FileSystem;
import io.sqliteos.fs.FsException;
import io.sqliteos.fs.VirtualAttribute;
import java.nio.charset.StandardCharsets;
import java.util.Locale;

/**
 * The transaction API as virtual extended attributes on any path of the mount:
 * <pre>
 *   user.sqliteos.tx          begin [thread|process|tree] | begin-read [scope] | commit | rollback
 *   user.sqliteos.savepoint   NAME
 *   user.sqliteos.release     NAME
 *   user.sqliteos.rollback-to NAME
 * </pre>
 * Reading {@code user.sqliteos.tx} gives the caller's state.
 */
public final class TransactionAttributes {

    private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(TransactionAttributes.class);

    private TransactionAttributes() {}

    public static void register(FileSystem fs, TransactionManager tm) {
        fs.registerVirtualAttribute(FileSystem.VIRTUAL_PREFIX + "tx", new VirtualAttribute() {
            @Override
            public void set(Caller c, String path, byte[] value) {
                String command = text(value);
                try {
                    control(tm, c, command);
                } catch (FsException e) {
                    log.info("transaction control '{}' by thread {} refused: {}", command, c.pid(), e.getMessage());
                    throw e;
                }
            }

            @Override
            public byte[] get(Caller c, String path) {
                return tm.describe(c).getBytes(StandardCharsets.UTF_8);
            }
        });
        fs.registerVirtualAttribute(FileSystem.VIRTUAL_PREFIX + "savepoint", savepointAttribute(tm, Verb.SAVEPOINT));
        fs.registerVirtualAttribute(FileSystem.VIRTUAL_PREFIX + "release", savepointAttribute(tm, Verb.RELEASE));
        fs.registerVirtualAttribute(FileSystem.VIRTUAL_PREFIX + "rollback-to", savepointAttribute(tm, Verb.ROLLBACK_TO));
    }

    private enum Verb { SAVEPOINT, RELEASE, ROLLBACK_TO }

    private static VirtualAttribute savepointAttribute(TransactionManager tm, Verb verb) {
        return new VirtualAttribute() {
            @Override
            public void set(Caller c, String path, byte[] value) {
                String name = text(value);
                try {
                    switch (verb) {
                        case SAVEPOINT -> tm.savepoint(c, name);
                        case RELEASE -> tm.release(c, name);
                        case ROLLBACK_TO -> tm.rollbackTo(c, name);
                    }
                } catch (FsException e) {
                    log.info("{} '{}' by thread {} refused: {}", verb.name().toLowerCase(Locale.ROOT), name, c.pid(),
                            e.getMessage());
                    throw e;
                }
            }

            @Override
            public byte[] get(Caller c, String path) {
                return String.join(" ", tm.savepoints(c)).getBytes(StandardCharsets.UTF_8);
            }
        };
    }

    /** The value as text, without the trailing newline or NUL some tools add. */
    private static String text(byte[] value) {
        return new String(value, StandardCharsets.UTF_8).replace("\0", "").strip();
    }

    static void control(TransactionManager tm, Caller c, String command) {
        String[] words = command.toLowerCase(Locale.ROOT).split("\\s+");
        switch (words[0]) {
            case "begin", "begin-read" -> {
                if (words.length > 2) {
                    throw new FsException(Errno.EINVAL, "usage: begin [thread|process|tree]");
                }
                Scope scope = words.length == 2 ? scope(words[1]) : Scope.THREAD;
                tm.begin(c, words[0].equals("begin"), scope);
            }
            case "commit" -> {
                noArguments(words);
                tm.commit(c);
            }
            case "rollback" -> {
                noArguments(words);
                tm.rollback(c);
            }
            default -> throw new FsException(Errno.EINVAL,
                    "unknown transaction verb '" + command + "' (begin, begin-read, commit, rollback)");
        }
    }

    private static void noArguments(String[] words) {
        if (words.length != 1) {
            throw new FsException(Errno.EINVAL, words[0] + " takes no argument");
        }
    }

    private static Scope scope(String word) {
        for (Scope s : Scope.values()) {
            if (s.word().equals(word)) {
                return s;
            }
        }
        throw new FsException(Errno.EINVAL, "unknown transaction scope '" + word + "' (thread, process, tree)");
    }
}
