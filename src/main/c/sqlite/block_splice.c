/*
 * sqliteos_splice(data, at, bytes): data with bytes written over it from byte
 * at, as a blob of data's length; NULL if data ends before at + length(bytes)
 * (the caller's WHERE rules that out; a NULL block breaks its NOT NULL).
 *
 * An overwrite inside a stored block (a database page, a random write) is an
 * UPDATE of the block to this. Built with substr() and ||, the new value took
 * four allocations and twice the block's size in copies; here it is one of
 * each. SQLite then writes only the pages of the record that changed.
 */
#include <sqlite3ext.h>
SQLITE_EXTENSION_INIT3

#include <string.h>

#include "extension.h"

static void splice(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
    (void) argc;
    const unsigned char *data = sqlite3_value_blob(argv[0]);
    sqlite3_int64 length = sqlite3_value_bytes(argv[0]);
    sqlite3_int64 at = sqlite3_value_int64(argv[1]);
    const unsigned char *bytes = sqlite3_value_blob(argv[2]);
    sqlite3_int64 n = sqlite3_value_bytes(argv[2]);
    if (at < 0 || at + n > length) {
        sqlite3_result_null(ctx);
        return;
    }
    unsigned char *out = sqlite3_malloc64((sqlite3_uint64) length);
    if (out == NULL) {
        sqlite3_result_error_nomem(ctx);
        return;
    }
    memcpy(out, data, (size_t) at);
    if (n > 0) {
        memcpy(out + at, bytes, (size_t) n);
    }
    memcpy(out + at + n, data + at + n, (size_t) (length - at - n));
    sqlite3_result_blob64(ctx, out, (sqlite3_uint64) length, sqlite3_free);
}

int block_splice_register(sqlite3 *db, char **error, const sqlite3_api_routines *api) {
    (void) error;
    (void) api; /* the pointers were set up when the extension loaded */
    return sqlite3_create_function_v2(db, "sqliteos_splice", 3, SQLITE_UTF8 | SQLITE_DIRECTONLY | SQLITE_DETERMINISTIC,
                                      NULL, splice, NULL, NULL, NULL);
}
