package io.sqliteos.db;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Directory entries packed one after the other, as SQLite's
 * {@code sqliteos_packed_entries} makes them and libfuse's filler takes them
 * (src/main/c/dir_fill.c), in the layout src/main/c/packed_entry.h defines:
 * the inode number (8 bytes), the type bits (4), the name's length in bytes
 * (4), the name and a NUL, in native byte order.
 */
public final class PackedEntries {

    /** Entries a listing packs at a time: a bounded blob (under 300 KiB even with the longest names). */
    public static final int PAGE = 1024;

    /** Offsets in an entry, as in packed_entry.h. */
    private static final int INO = 0, TYPE = 8, NAME_LENGTH = 12;
    /** The bytes before an entry's name. */
    public static final int HEADER = 16;

    private PackedEntries() {}

    /** The length in bytes of the entry that starts at {@code at}. */
    public static int entryLength(ByteBuffer packed, int at) {
        return HEADER + nameLength(packed, at) + 1;
    }

    /** The length in bytes of the name of the entry at {@code at}. */
    public static int nameLength(ByteBuffer packed, int at) {
        return packed.getInt(at + NAME_LENGTH);
    }

    /** The name of the entry at {@code at}. */
    public static byte[] name(ByteBuffer packed, int at) {
        byte[] name = new byte[nameLength(packed, at)];
        packed.get(at + HEADER, name);
        return name;
    }

    /** The name of the last entry of {@code packed}, which holds at least one. */
    public static byte[] lastName(byte[] packed) {
        ByteBuffer b = view(packed);
        int at = 0;
        for (int next = entryLength(b, 0); next < packed.length; next += entryLength(b, next)) {
            at = next;
        }
        return name(b, at);
    }

    /** Passes the entry at {@code at} to {@code sink} on its own. */
    public static void passOne(ByteBuffer packed, int at, Store.EntrySink sink) {
        sink.accept(name(packed, at), packed.getLong(at + INO), packed.getInt(at + TYPE));
    }

    /** A view of {@code packed} in the layout's byte order. */
    public static ByteBuffer view(byte[] packed) {
        return ByteBuffer.wrap(packed).order(ByteOrder.nativeOrder());
    }

    /** Passes each packed entry to {@code sink} on its own. */
    public static void forEach(byte[] packed, Store.EntrySink sink) {
        ByteBuffer b = view(packed);
        for (int at = 0; at < packed.length; at += entryLength(b, at)) {
            passOne(b, at, sink);
        }
    }
}
