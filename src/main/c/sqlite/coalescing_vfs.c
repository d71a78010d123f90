/*
 * A SQLite VFS in front of the default one that turns SQLite's page-sized
 * system calls on the write-ahead log into few large ones.
 *
 * SQLite appends a frame to the log with two writes (its 24-byte header, then
 * the page), and a checkpoint reads each frame back with one read before it
 * writes the page into the database. Writing 1 GiB through the mount took
 * four system calls per 8 KiB page, and they were half of the daemon's time.
 *
 * - Log writes that follow each other are kept in a buffer and written as one.
 *   The buffer is written out at the page of a commit frame (a frame header
 *   whose "database size" field is set), inside that xWrite, so that a failure
 *   reaches SQLite as the commit's own error, and before anything could
 *   publish the commit. A transaction's earlier frames, which no other
 *   connection may read yet, can wait; they go out before any read, size,
 *   truncation, sync, shared-memory lock or close of the log. So every write
 *   reaches the file in SQLite's order, before SQLite could rely on it.
 * - During a checkpoint (between SQLITE_FCNTL_CKPT_START and CKPT_DONE on the
 *   database), a read of the frame right after the one read before reads
 *   ahead. The frames a checkpoint copies were committed before it began and
 *   cannot change until it ends; what was read ahead is dropped at its end.
 * - The database file itself is written through: SQLite does not look at the
 *   result of CKPT_DONE, so a failure there could not be reported.
 *
 * Savepoint journals, which SQLite would move to a temporary file past 64 KiB,
 * stay in memory (memory_subjournal.c), and the in-memory database's pages
 * and log frames that are read again and again come from a mapping of the
 * file (mapped_reads.c).
 *
 * coalescing_vfs_install registers the VFS as the process's default, wrapping
 * the default there was before (see extension.c).
 */
#include <sqlite3ext.h>
SQLITE_EXTENSION_INIT3

#include "extension.h"

#include <stdlib.h>
#include <string.h>

#define WAL_HEADER 32
/* the shared-memory lock a connection holds while it writes to the log */
#define WAL_WRITE_LOCK 0
#define FRAME_HEADER 24
/* The default VFS masks the size of one read or write to 17 bits (SQLite never
 * asks it for more than a 64 KiB page), so pieces stay at that largest page. */
#define LARGEST_IO (64 << 10)
/* a 1 MiB request's pages with their headers, written 64 KiB at a time */
#define WRITE_BUFFER (1 << 20)
#define READ_AHEAD LARGEST_IO

typedef struct coalesced_file coalesced_file;

struct coalesced_file {
    sqlite3_file base;
    sqlite3_file *real;          /* the wrapped VFS's file, allocated right after this struct */
    int is_wal;
    mapped_file *mapped;         /* a database or its log read through a mapping, or NULL */
    coalesced_file *db;          /* a log's database file, while both are open */
    coalesced_file *wal;         /* a database's log, while both are open */
    int checkpointing;           /* a database between CKPT_START and CKPT_DONE */
    /* log writes not yet made: bytes [pending_at, pending_at + pending_len) */
    char *pending;
    sqlite3_int64 pending_at;
    int pending_len;
    int commit_page_next;        /* the last write was a commit frame's header */
    /* log bytes read ahead during a checkpoint: [ahead_at, ahead_at + ahead_len) */
    char *ahead;
    sqlite3_int64 ahead_at;
    int ahead_len;
    sqlite3_int64 last_read_end;
    sqlite3_int64 wal_size;      /* the log's size when the checkpoint began */
};

static sqlite3_vfs *wrapped;
static sqlite3_vfs coalescing;

/* --- the log's write buffer and read-ahead ---------------------------------- */

/* Writes what waits; on failure it still waits, for SQLite to retry or roll back. */
static int flush(coalesced_file *f) {
    if (f->pending_len == 0) {
        return SQLITE_OK;
    }
    int done = 0;
    while (done < f->pending_len) {
        int n = f->pending_len - done < LARGEST_IO ? f->pending_len - done : LARGEST_IO;
        int rc = f->real->pMethods->xWrite(f->real, f->pending + done, n, f->pending_at + done);
        if (rc != SQLITE_OK) {
            /* what is written is written again with the rest */
            return rc;
        }
        done += n;
    }
    f->pending_len = 0;
    return SQLITE_OK;
}

static int is_commit_frame_header(const void *buf, int amt, sqlite3_int64 at) {
    if (amt != FRAME_HEADER || at < WAL_HEADER) {
        return 0;
    }
    const unsigned char *h = buf;
    return (h[4] | h[5] | h[6] | h[7]) != 0;
}

static int wal_write(coalesced_file *f, const void *buf, int amt, sqlite3_int64 at) {
    int completes_commit = f->commit_page_next;
    f->commit_page_next = is_commit_frame_header(buf, amt, at);
    f->ahead_len = 0;
    if (f->pending_len > 0 && (at != f->pending_at + f->pending_len || f->pending_len + amt > WRITE_BUFFER)) {
        int rc = flush(f);
        if (rc != SQLITE_OK) {
            return rc;
        }
    }
    if (amt > LARGEST_IO || (f->pending == NULL && (f->pending = malloc(WRITE_BUFFER)) == NULL)) {
        int rc = flush(f);
        return rc != SQLITE_OK ? rc : f->real->pMethods->xWrite(f->real, buf, amt, at);
    }
    if (f->pending_len == 0) {
        f->pending_at = at;
    }
    memcpy(f->pending + f->pending_len, buf, amt);
    f->pending_len += amt;
    return completes_commit ? flush(f) : SQLITE_OK;
}

static int wal_read(coalesced_file *f, void *buf, int amt, sqlite3_int64 at) {
    int rc = flush(f);
    if (rc != SQLITE_OK) {
        return rc;
    }
    if (f->ahead_len > 0 && at >= f->ahead_at && at + amt <= f->ahead_at + f->ahead_len) {
        memcpy(buf, f->ahead + (at - f->ahead_at), amt);
        f->last_read_end = at + amt;
        return SQLITE_OK;
    }
    if (f->mapped != NULL && mapped_reads_read(f->mapped, buf, amt, at)) {
        f->last_read_end = at + amt;
        return SQLITE_OK;
    }
    /* a checkpoint reading frame after frame: read what follows in one go */
    int sequential = f->db != NULL && f->db->checkpointing && at == f->last_read_end + FRAME_HEADER;
    f->last_read_end = at + amt;
    if (sequential && at + amt <= f->wal_size) {
        sqlite3_int64 n = f->wal_size - at;
        int len = n < READ_AHEAD ? (int) n : READ_AHEAD;
        if (f->ahead != NULL || (f->ahead = malloc(READ_AHEAD)) != NULL) {
            f->ahead_len = 0;
            if (f->real->pMethods->xRead(f->real, f->ahead, len, at) == SQLITE_OK) {
                f->ahead_at = at;
                f->ahead_len = len;
                memcpy(buf, f->ahead, amt);
                return SQLITE_OK;
            }
        }
    }
    return f->real->pMethods->xRead(f->real, buf, amt, at);
}

static void checkpoint_begins(coalesced_file *db) {
    db->checkpointing = 1;
    coalesced_file *wal = db->wal;
    if (wal != NULL) {
        wal->ahead_len = 0;
        wal->last_read_end = -1;
        if (flush(wal) != SQLITE_OK || wal->real->pMethods->xFileSize(wal->real, &wal->wal_size) != SQLITE_OK) {
            wal->wal_size = 0; /* no read-ahead, plain reads */
        }
    }
}

static void checkpoint_ends(coalesced_file *db) {
    db->checkpointing = 0;
    if (db->wal != NULL) {
        db->wal->ahead_len = 0;
        db->wal->wal_size = 0;
    }
}

/* Log writes go out before the shared memory is used (a commit is out already). */
static void flush_log_of(coalesced_file *db) {
    if (db->wal != NULL) {
        (void) flush(db->wal);
    }
}

/* --- io methods -------------------------------------------------------------- */

static int c_close(sqlite3_file *file) {
    coalesced_file *f = (coalesced_file *) file;
    int rc = f->is_wal ? flush(f) : SQLITE_OK;
    if (f->db != NULL) {
        f->db->wal = NULL;
    }
    if (f->wal != NULL) {
        f->wal->db = NULL;
    }
    free(f->pending);
    free(f->ahead);
    f->pending = f->ahead = NULL;
    if (f->mapped != NULL) {
        mapped_reads_close(f->mapped);
        f->mapped = NULL;
    }
    int rc2 = f->real->pMethods->xClose(f->real);
    return rc != SQLITE_OK ? rc : rc2;
}

static int c_read(sqlite3_file *file, void *buf, int amt, sqlite3_int64 at) {
    coalesced_file *f = (coalesced_file *) file;
    if (f->is_wal) {
        return wal_read(f, buf, amt, at);
    }
    if (f->mapped != NULL && mapped_reads_read(f->mapped, buf, amt, at)) {
        return SQLITE_OK;
    }
    return f->real->pMethods->xRead(f->real, buf, amt, at);
}

static int c_write(sqlite3_file *file, const void *buf, int amt, sqlite3_int64 at) {
    coalesced_file *f = (coalesced_file *) file;
    return f->is_wal ? wal_write(f, buf, amt, at) : f->real->pMethods->xWrite(f->real, buf, amt, at);
}

static int c_truncate(sqlite3_file *file, sqlite3_int64 size) {
    coalesced_file *f = (coalesced_file *) file;
    int rc = flush(f);
    f->ahead_len = 0;
    if (rc != SQLITE_OK || f->mapped == NULL) {
        return rc != SQLITE_OK ? rc : f->real->pMethods->xTruncate(f->real, size);
    }
    mapped_reads_truncate_begins(f->mapped, size);
    rc = f->real->pMethods->xTruncate(f->real, size);
    mapped_reads_truncate_ends(f->mapped);
    return rc;
}

static int c_sync(sqlite3_file *file, int flags) {
    coalesced_file *f = (coalesced_file *) file;
    int rc = flush(f);
    return rc != SQLITE_OK ? rc : f->real->pMethods->xSync(f->real, flags);
}

static int c_file_size(sqlite3_file *file, sqlite3_int64 *size) {
    coalesced_file *f = (coalesced_file *) file;
    int rc = flush(f);
    return rc != SQLITE_OK ? rc : f->real->pMethods->xFileSize(f->real, size);
}

static int c_lock(sqlite3_file *file, int level) {
    coalesced_file *f = (coalesced_file *) file;
    return f->real->pMethods->xLock(f->real, level);
}

static int c_unlock(sqlite3_file *file, int level) {
    coalesced_file *f = (coalesced_file *) file;
    return f->real->pMethods->xUnlock(f->real, level);
}

static int c_check_reserved_lock(sqlite3_file *file, int *out) {
    coalesced_file *f = (coalesced_file *) file;
    return f->real->pMethods->xCheckReservedLock(f->real, out);
}

static int c_file_control(sqlite3_file *file, int op, void *arg) {
    coalesced_file *f = (coalesced_file *) file;
    if (op == SQLITE_FCNTL_CKPT_START && !f->is_wal) {
        checkpoint_begins(f);
    } else if (op == SQLITE_FCNTL_CKPT_DONE && !f->is_wal) {
        checkpoint_ends(f);
    } else if (op == SQLITE_FCNTL_VFSNAME) {
        int rc = f->real->pMethods->xFileControl(f->real, op, arg);
        if (rc == SQLITE_OK && arg != NULL) {
            char *inner = *(char **) arg;
            *(char **) arg = sqlite3_mprintf("%s/%z", coalescing.zName, inner);
        }
        return rc;
    } else if (f->is_wal) {
        int rc = flush(f);
        if (rc != SQLITE_OK) {
            return rc;
        }
    }
    return f->real->pMethods->xFileControl(f->real, op, arg);
}

static int c_sector_size(sqlite3_file *file) {
    coalesced_file *f = (coalesced_file *) file;
    return f->real->pMethods->xSectorSize(f->real);
}

static int c_device_characteristics(sqlite3_file *file) {
    coalesced_file *f = (coalesced_file *) file;
    return f->real->pMethods->xDeviceCharacteristics(f->real);
}

static int c_shm_map(sqlite3_file *file, int region, int size, int extend, void volatile **p) {
    coalesced_file *f = (coalesced_file *) file;
    flush_log_of(f);
    return f->real->pMethods->xShmMap(f->real, region, size, extend, p);
}

static int c_shm_lock(sqlite3_file *file, int offset, int n, int flags) {
    coalesced_file *f = (coalesced_file *) file;
    flush_log_of(f);
    if (offset == WAL_WRITE_LOCK && flags == (SQLITE_SHM_UNLOCK | SQLITE_SHM_EXCLUSIVE) && f->wal != NULL) {
        /* The write transaction is over. A commit was written at once, so what
         * still waits (after a failed write) belongs to one rolled back, and
         * must not land later over frames of the next writer. */
        f->wal->pending_len = 0;
    }
    return f->real->pMethods->xShmLock(f->real, offset, n, flags);
}

static void c_shm_barrier(sqlite3_file *file) {
    coalesced_file *f = (coalesced_file *) file;
    flush_log_of(f);
    f->real->pMethods->xShmBarrier(f->real);
}

static int c_shm_unmap(sqlite3_file *file, int delete_flag) {
    coalesced_file *f = (coalesced_file *) file;
    flush_log_of(f);
    return f->real->pMethods->xShmUnmap(f->real, delete_flag);
}

static int c_fetch(sqlite3_file *file, sqlite3_int64 at, int amt, void **p) {
    coalesced_file *f = (coalesced_file *) file;
    int rc = flush(f);
    return rc != SQLITE_OK ? rc : f->real->pMethods->xFetch(f->real, at, amt, p);
}

static int c_unfetch(sqlite3_file *file, sqlite3_int64 at, void *p) {
    coalesced_file *f = (coalesced_file *) file;
    return f->real->pMethods->xUnfetch(f->real, at, p);
}

static const sqlite3_io_methods methods = {
    3,
    c_close, c_read, c_write, c_truncate, c_sync, c_file_size,
    c_lock, c_unlock, c_check_reserved_lock, c_file_control,
    c_sector_size, c_device_characteristics,
    c_shm_map, c_shm_lock, c_shm_barrier, c_shm_unmap,
    c_fetch, c_unfetch,
};

static const sqlite3_io_methods methods_without_shm = {
    1,
    c_close, c_read, c_write, c_truncate, c_sync, c_file_size,
    c_lock, c_unlock, c_check_reserved_lock, c_file_control,
    c_sector_size, c_device_characteristics,
    NULL, NULL, NULL, NULL, NULL, NULL,
};

/* --- the VFS ----------------------------------------------------------------- */

static int v_open(sqlite3_vfs *vfs, sqlite3_filename name, sqlite3_file *file, int flags, int *out_flags) {
    (void) vfs;
    if (flags & SQLITE_OPEN_SUBJOURNAL) {
        return memory_subjournal_open(file, out_flags);
    }
    coalesced_file *f = (coalesced_file *) file;
    memset(f, 0, sizeof *f);
    f->real = (sqlite3_file *) (f + 1);
    int rc = wrapped->xOpen(wrapped, name, f->real, flags, out_flags);
    if (f->real->pMethods == NULL) {
        return rc;
    }
    if (f->real->pMethods->iVersion < 3) {
        f->base.pMethods = &methods_without_shm; /* no log then either */
        return rc;
    }
    f->base.pMethods = &methods;
    if ((flags & (SQLITE_OPEN_MAIN_DB | SQLITE_OPEN_WAL)) && name != NULL) {
        f->mapped = mapped_reads_open(name);
    }
    if ((flags & SQLITE_OPEN_WAL) && name != NULL) {
        f->is_wal = 1;
        sqlite3_file *db = sqlite3_database_file_object(name);
        if (db != NULL && db->pMethods == &methods) {
            f->db = (coalesced_file *) db;
            f->db->wal = f;
        }
    }
    return rc;
}

static int v_delete(sqlite3_vfs *vfs, const char *name, int sync_dir) {
    (void) vfs;
    return wrapped->xDelete(wrapped, name, sync_dir);
}

static int v_access(sqlite3_vfs *vfs, const char *name, int flags, int *out) {
    (void) vfs;
    return wrapped->xAccess(wrapped, name, flags, out);
}

static int v_full_pathname(sqlite3_vfs *vfs, const char *name, int n, char *out) {
    (void) vfs;
    return wrapped->xFullPathname(wrapped, name, n, out);
}

static void *v_dl_open(sqlite3_vfs *vfs, const char *name) {
    (void) vfs;
    return wrapped->xDlOpen(wrapped, name);
}

static void v_dl_error(sqlite3_vfs *vfs, int n, char *out) {
    (void) vfs;
    wrapped->xDlError(wrapped, n, out);
}

static void (*v_dl_sym(sqlite3_vfs *vfs, void *handle, const char *symbol))(void) {
    (void) vfs;
    return wrapped->xDlSym(wrapped, handle, symbol);
}

static void v_dl_close(sqlite3_vfs *vfs, void *handle) {
    (void) vfs;
    wrapped->xDlClose(wrapped, handle);
}

static int v_randomness(sqlite3_vfs *vfs, int n, char *out) {
    (void) vfs;
    return wrapped->xRandomness(wrapped, n, out);
}

static int v_sleep(sqlite3_vfs *vfs, int micros) {
    (void) vfs;
    return wrapped->xSleep(wrapped, micros);
}

static int v_current_time(sqlite3_vfs *vfs, double *out) {
    (void) vfs;
    return wrapped->xCurrentTime(wrapped, out);
}

static int v_get_last_error(sqlite3_vfs *vfs, int n, char *out) {
    (void) vfs;
    return wrapped->xGetLastError(wrapped, n, out);
}

static int v_current_time_int64(sqlite3_vfs *vfs, sqlite3_int64 *out) {
    (void) vfs;
    return wrapped->xCurrentTimeInt64(wrapped, out);
}

int coalescing_vfs_install(char **error) {
    if (wrapped != NULL) {
        return SQLITE_OK;
    }
    sqlite3_vfs *inner = sqlite3_vfs_find(NULL);
    if (inner == NULL || inner->iVersion < 2) {
        *error = sqlite3_mprintf("no default VFS of version 2 or later to wrap");
        return SQLITE_ERROR;
    }
    wrapped = inner;
    coalescing.iVersion = 2;
    /* the wrapped file follows ours (whose size is a multiple of its pointers' alignment) */
    coalescing.szOsFile = (int) sizeof(coalesced_file) + inner->szOsFile;
    if ((size_t) coalescing.szOsFile < memory_subjournal_size()) {
        coalescing.szOsFile = (int) memory_subjournal_size();
    }
    coalescing.mxPathname = inner->mxPathname;
    coalescing.zName = "sqliteos-coalescing";
    coalescing.xOpen = v_open;
    coalescing.xDelete = v_delete;
    coalescing.xAccess = v_access;
    coalescing.xFullPathname = v_full_pathname;
    coalescing.xDlOpen = v_dl_open;
    coalescing.xDlError = v_dl_error;
    coalescing.xDlSym = v_dl_sym;
    coalescing.xDlClose = v_dl_close;
    coalescing.xRandomness = v_randomness;
    coalescing.xSleep = v_sleep;
    coalescing.xCurrentTime = v_current_time;
    coalescing.xGetLastError = v_get_last_error;
    coalescing.xCurrentTimeInt64 = v_current_time_int64;
    int rc = sqlite3_vfs_register(&coalescing, 1);
    if (rc != SQLITE_OK) {
        wrapped = NULL;
    }
    return rc;
}
