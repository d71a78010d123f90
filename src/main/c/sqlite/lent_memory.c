/*
 * A request's buffer lent to SQL, so that file data moves between SQLite and
 * the kernel's request without crossing into Java arrays.
 *
 * A FUSE worker lends the buffer of the request it serves (sqliteos_lend, a
 * plain C call from Java, not reachable from SQL) for the length of the
 * request, and only on its own thread: what it runs there may then use
 *   sqliteos_copy_out(blob, at)  copies the blob into the buffer at byte at,
 *                                and returns its length;
 *   sqliteos_lent_bytes(at, n)   the n bytes of the buffer from byte at, as a
 *                                blob;
 *   sqliteos_zero_lent()         zeroes the whole buffer, and returns 0.
 * Anywhere else (another thread, no buffer lent, bytes outside the buffer)
 * they are errors, so SQL cannot reach any other memory of the process.
 *
 * A large read took three copies in Java (the blob into a new array, into the
 * request's array, into the request's buffer); a large write two.
 */
#include <sqlite3ext.h>
SQLITE_EXTENSION_INIT3

#include <stdint.h>
#include <string.h>

#include "extension.h"

static __thread unsigned char *lent;
static __thread size_t lent_size;

void sqliteos_lend(void *buffer, size_t size) {
    lent = buffer;
    lent_size = buffer == NULL ? 0 : size;
}

void sqliteos_unlend(void) {
    lent = NULL;
    lent_size = 0;
}

/* Whether [at, at + n) lies in the lent buffer; else the function's error is set. */
static int within(sqlite3_context *ctx, sqlite3_int64 at, sqlite3_int64 n) {
    if (lent == NULL) {
        sqlite3_result_error(ctx, "no buffer is lent on this thread", -1);
        return 0;
    }
    if (at < 0 || n < 0 || (uint64_t) at > lent_size || (uint64_t) n > lent_size - (uint64_t) at) {
        sqlite3_result_error(ctx, "bytes outside the lent buffer", -1);
        return 0;
    }
    return 1;
}

static void copy_out(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
    (void) argc;
    const void *bytes = sqlite3_value_blob(argv[0]);
    sqlite3_int64 n = sqlite3_value_bytes(argv[0]);
    sqlite3_int64 at = sqlite3_value_int64(argv[1]);
    if (!within(ctx, at, n)) {
        return;
    }
    if (n > 0) {
        memcpy(lent + at, bytes, (size_t) n);
    }
    sqlite3_result_int64(ctx, n);
}

static void lent_bytes(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
    (void) argc;
    sqlite3_int64 at = sqlite3_value_int64(argv[0]);
    sqlite3_int64 n = sqlite3_value_int64(argv[1]);
    if (!within(ctx, at, n)) {
        return;
    }
    /* copied by SQLite into the record it builds; the buffer outlives the statement */
    sqlite3_result_blob64(ctx, lent + at, (sqlite3_uint64) n, SQLITE_STATIC);
}

static void zero_lent(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
    (void) argc;
    (void) argv;
    if (!within(ctx, 0, 0)) {
        return;
    }
    memset(lent, 0, lent_size);
    sqlite3_result_int(ctx, 0);
}

int lent_memory_register(sqlite3 *db, char **error, const sqlite3_api_routines *api) {
    (void) error;
    (void) api; /* the pointers were set up when the extension loaded */
    int flags = SQLITE_UTF8 | SQLITE_DIRECTONLY;
    int rc = sqlite3_create_function_v2(db, "sqliteos_copy_out", 2, flags, NULL, copy_out, NULL, NULL, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_create_function_v2(db, "sqliteos_lent_bytes", 2, flags, NULL, lent_bytes, NULL, NULL, NULL);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_create_function_v2(db, "sqliteos_zero_lent", 0, flags, NULL, zero_lent, NULL, NULL, NULL);
    }
    return rc;
}
