/*
 * The daemon's SQLite extension, loaded once into the SQLite driver's library
 * before the first database opens. Loading it
 * - makes the coalescing VFS the process's default (coalescing_vfs.c),
 * - spares the record locks of databases no other process opens
 *   (private_locks.c), and
 * - gives the loading connection and every one opened afterwards the
 *   aggregate function sqliteos_packed_entries (packed_entries.c), the
 *   functions over a request's lent buffer (lent_memory.c) and
 *   sqliteos_splice, which writes bytes into a stored block (block_splice.c).
 * It stays loaded for the life of the process.
 */
#include <sqlite3ext.h>
SQLITE_EXTENSION_INIT1

#include "extension.h"

#ifdef _WIN32
__declspec(dllexport)
#endif
int sqlite3_sqliteos_init(sqlite3 *db, char **error, const sqlite3_api_routines *api) {
    SQLITE_EXTENSION_INIT2(api);
    int rc = coalescing_vfs_install(error);
    if (rc == SQLITE_OK) {
        sqlite3_vfs *unix_vfs = sqlite3_vfs_find("unix");
        if (unix_vfs != NULL) {
            rc = private_locks_install(unix_vfs);
        }
    }
    if (rc == SQLITE_OK) {
        rc = packed_entries_register(db, error, api);
    }
    if (rc == SQLITE_OK) {
        rc = lent_memory_register(db, error, api);
    }
    if (rc == SQLITE_OK) {
        rc = block_splice_register(db, error, api);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_auto_extension((void (*)(void)) packed_entries_register);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_auto_extension((void (*)(void)) lent_memory_register);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_auto_extension((void (*)(void)) block_splice_register);
    }
    return rc == SQLITE_OK ? SQLITE_OK_LOAD_PERMANENTLY : rc;
}
