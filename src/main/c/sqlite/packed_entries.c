/*
 * sqliteos_packed_entries(name, ino, type): an aggregate that packs directory
 * entries into one blob, in the layout src/main/c/dir_fill.c hands to libfuse.
 *
 * Listing a directory row by row from Java costs a step, a number and a name
 * through JDBC for every entry: three native calls, each allocating or copying,
 * and about a third of the daemon's time for a large listing. Packed here, a page
 * of entries crosses into Java as one blob.
 *
 * The layout is packed_entry.h's; entries follow each other in the order the
 * rows come. With no rows
 * the result is an empty blob. A name that is NULL or holds a NUL byte is an
 * error, as is a result longer than the connection's length limit.
 */
#include <sqlite3ext.h>
SQLITE_EXTENSION_INIT3

#include <stdint.h>
#include <string.h>

#include "../packed_entry.h"
#include "extension.h"

struct packing {
    unsigned char *bytes;  /* from sqlite3_realloc64; handed to the result at the end */
    sqlite3_int64 length;
    sqlite3_int64 capacity;
};

static void pack_step(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
    (void) argc;
    struct packing *p = sqlite3_aggregate_context(ctx, sizeof *p);
    if (p == NULL) {
        sqlite3_result_error_nomem(ctx);
        return;
    }
    if (sqlite3_value_type(argv[0]) == SQLITE_NULL) {
        sqlite3_result_error(ctx, "sqliteos_packed_entries: a name is NULL", -1);
        return;
    }
    /* the bytes as stored (UTF-8): sqlite3_value_text would copy each name to end it with a NUL */
    const unsigned char *name = sqlite3_value_blob(argv[0]);
    int name_length = sqlite3_value_bytes(argv[0]);
    if (name == NULL && name_length > 0) {
        sqlite3_result_error_nomem(ctx);
        return;
    }
    if (name_length > 0 && memchr(name, 0, (size_t) name_length) != NULL) {
        sqlite3_result_error(ctx, "sqliteos_packed_entries: a name holds a NUL byte", -1);
        return;
    }
    sqlite3_int64 need = p->length + PACKED_HEADER + name_length + 1;
    if (need > p->capacity) {
        sqlite3_int64 limit = sqlite3_limit(sqlite3_context_db_handle(ctx), SQLITE_LIMIT_LENGTH, -1);
        if (need > limit) {
            sqlite3_result_error_toobig(ctx);
            return;
        }
        sqlite3_int64 capacity = p->capacity == 0 ? 4096 : p->capacity * 2;
        while (capacity < need) {
            capacity *= 2;
        }
        if (capacity > limit) {
            capacity = limit;
        }
        unsigned char *grown = sqlite3_realloc64(p->bytes, (sqlite3_uint64) capacity);
        if (grown == NULL) {
            sqlite3_result_error_nomem(ctx);
            return;
        }
        p->bytes = grown;
        p->capacity = capacity;
    }
    uint64_t ino = (uint64_t) sqlite3_value_int64(argv[1]);
    uint32_t mode = (uint32_t) sqlite3_value_int64(argv[2]);
    uint32_t length = (uint32_t) name_length;
    unsigned char *at = p->bytes + p->length;
    memcpy(at + PACKED_INO, &ino, sizeof ino);
    memcpy(at + PACKED_MODE, &mode, sizeof mode);
    memcpy(at + PACKED_NAME_LENGTH, &length, sizeof length);
    if (name_length > 0) {
        memcpy(at + PACKED_HEADER, name, (size_t) name_length);
    }
    at[PACKED_HEADER + name_length] = 0;
    p->length = need;
}

static void pack_final(sqlite3_context *ctx) {
    struct packing *p = sqlite3_aggregate_context(ctx, 0);
    if (p == NULL || p->bytes == NULL) {
        sqlite3_result_zeroblob(ctx, 0);
        return;
    }
    /* the result takes the buffer; after an error in a step SQLite discards it */
    sqlite3_result_blob64(ctx, p->bytes, (sqlite3_uint64) p->length, sqlite3_free);
    p->bytes = NULL;
}

int packed_entries_register(sqlite3 *db, char **error, const sqlite3_api_routines *api) {
    (void) error;
    (void) api; /* the pointers were set up when the extension loaded */
    return sqlite3_create_function_v2(db, "sqliteos_packed_entries", 3, SQLITE_UTF8 | SQLITE_DIRECTONLY,
                                      NULL, NULL, pack_step, pack_final, NULL);
}
