/*
 * The layout of a packed directory entry: written by the SQLite extension
 * (sqlite/packed_entries.c) and by the daemon (io.sqliteos.db.PackedEntries),
 * handed to libfuse by dir_fill.c.
 *
 * The inode number (8 bytes), the mode's type bits (4 bytes), the name's
 * length in bytes (4 bytes), the name and a NUL; native byte order, no
 * alignment. Entries follow each other.
 */
#ifndef SQLITEOS_PACKED_ENTRY_H
#define SQLITEOS_PACKED_ENTRY_H

enum {
    PACKED_INO = 0,
    PACKED_MODE = 8,
    PACKED_NAME_LENGTH = 12,
    PACKED_HEADER = 16 /* where the name starts */
};

#endif
