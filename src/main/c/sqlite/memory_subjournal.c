/*
 * Savepoint journals (SQLite's sub-journals) in one growing buffer instead of
 * a file.
 *
 * Each write of a batch runs inside a savepoint, which journals the original of
 * every page the write changes. SQLite keeps that journal in memory up to
 * 64 KiB (eight 8 KiB pages); past that it moves it to a temporary file, and
 * every later savepoint of the transaction writes each page there with two
 * system calls, the page number and the page. An unlink of a file with data
 * crosses 64 KiB often enough that most writes of a batch paid a dozen pwrites,
 * and each batch a temporary file's create, unlink and close.
 *
 * Here such a file is a buffer that doubles as it grows and is freed when
 * SQLite closes the file, at the end of the transaction at the latest. The
 * journal only ever undoes a savepoint in the same process, so it never needs
 * to outlive it.
 */
#include <sqlite3ext.h>
SQLITE_EXTENSION_INIT3

#include "extension.h"

#include <stdlib.h>
#include <string.h>

typedef struct memory_file {
    sqlite3_file base;
    unsigned char *bytes;
    sqlite3_int64 size;
    sqlite3_int64 capacity;
} memory_file;

static int m_close(sqlite3_file *file) {
    memory_file *f = (memory_file *) file;
    free(f->bytes);
    f->bytes = NULL;
    f->size = f->capacity = 0;
    return SQLITE_OK;
}

static int m_read(sqlite3_file *file, void *buf, int amt, sqlite3_int64 at) {
    memory_file *f = (memory_file *) file;
    sqlite3_int64 have = at < f->size ? f->size - at : 0;
    if (have >= amt) {
        memcpy(buf, f->bytes + at, amt);
        return SQLITE_OK;
    }
    if (have > 0) {
        memcpy(buf, f->bytes + at, (size_t) have);
    }
    memset((unsigned char *) buf + have, 0, (size_t) (amt - have)); /* as SQLite asks of a short read */
    return SQLITE_IOERR_SHORT_READ;
}

static int m_write(sqlite3_file *file, const void *buf, int amt, sqlite3_int64 at) {
    memory_file *f = (memory_file *) file;
    sqlite3_int64 end = at + amt;
    if (end > f->capacity) {
        sqlite3_int64 capacity = f->capacity > 0 ? f->capacity : 128 << 10;
        while (capacity < end) {
            capacity *= 2;
        }
        unsigned char *grown = realloc(f->bytes, (size_t) capacity);
        if (grown == NULL) {
            return SQLITE_IOERR_NOMEM;
        }
        f->bytes = grown;
        f->capacity = capacity;
    }
    if (at > f->size) {
        memset(f->bytes + f->size, 0, (size_t) (at - f->size));
    }
    memcpy(f->bytes + at, buf, amt);
    if (end > f->size) {
        f->size = end;
    }
    return SQLITE_OK;
}

static int m_truncate(sqlite3_file *file, sqlite3_int64 size) {
    memory_file *f = (memory_file *) file;
    if (size < f->size) {
        f->size = size;
    }
    return SQLITE_OK;
}

static int m_file_size(sqlite3_file *file, sqlite3_int64 *size) {
    *size = ((memory_file *) file)->size;
    return SQLITE_OK;
}

/* sync, lock and unlock: a journal in this process's memory has nothing to flush and no one to share with */
static int m_nothing_to_do(sqlite3_file *file, int flags_or_level) {
    (void) file;
    (void) flags_or_level;
    return SQLITE_OK;
}

static int m_check_reserved_lock(sqlite3_file *file, int *out) {
    (void) file;
    *out = 0;
    return SQLITE_OK;
}

static int m_file_control(sqlite3_file *file, int op, void *arg) {
    (void) file;
    (void) op;
    (void) arg;
    return SQLITE_NOTFOUND;
}

static int m_sector_size(sqlite3_file *file) {
    (void) file;
    return 4096;
}

static int m_device_characteristics(sqlite3_file *file) {
    (void) file;
    return SQLITE_IOCAP_ATOMIC | SQLITE_IOCAP_SAFE_APPEND | SQLITE_IOCAP_SEQUENTIAL | SQLITE_IOCAP_POWERSAFE_OVERWRITE;
}

static const sqlite3_io_methods memory_methods = {
    1,
    m_close, m_read, m_write, m_truncate, m_nothing_to_do, m_file_size,
    m_nothing_to_do, m_nothing_to_do, m_check_reserved_lock, m_file_control,
    m_sector_size, m_device_characteristics,
    NULL, NULL, NULL, NULL, NULL, NULL,
};

size_t memory_subjournal_size(void) {
    return sizeof(memory_file);
}

int memory_subjournal_open(sqlite3_file *file, int *out_flags) {
    memory_file *f = (memory_file *) file;
    memset(f, 0, sizeof *f);
    f->base.pMethods = &memory_methods;
    if (out_flags != NULL) {
        *out_flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_SUBJOURNAL;
    }
    return SQLITE_OK;
}
