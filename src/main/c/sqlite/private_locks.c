/*
 * No record-lock system calls for databases no other process opens.
 *
 * SQLite's unix VFS keeps the locks of one process's connections itself: it
 * counts, per file, which connections hold which lock, and refuses what
 * conflicts. It calls fcntl only on behalf of other processes, to take a POSIX
 * record lock when the first connection of the process takes a lock and to
 * drop it when the last one lets go; such locks never conflict within a
 * process. A read on a pooled connection, the only one reading at that
 * moment, therefore paid two fcntl calls: the log's read mark taken and
 * dropped.
 *
 * The database of an in-memory file system lives in a directory of the
 * daemon's own, which no other process opens (EphemeralDirectory). Java names
 * it here (sqliteos_private_directory) before the first connection opens it.
 * Through the unix VFS's table of system calls this file stands in for open,
 * close and fcntl: a descriptor opened under a named directory is marked
 * until closed, and on a marked descriptor fcntl's record-lock commands
 * succeed without the system call; F_GETLK answers that no other process holds
 * the lock, which is what the kernel would answer. Every other call goes
 * through unchanged, and so does every call on any other file.
 */
#include <sqlite3ext.h>
SQLITE_EXTENSION_INIT3

#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <string.h>

#include "extension.h"

/* descriptors below this are marked; any above work as before */
#define MARKED_FDS 65536
#define MAX_DIRECTORIES 64

typedef int (*open_fn)(const char *, int, int);
typedef int (*close_fn)(int);
typedef int (*fcntl_fn)(int, int, ...);

static open_fn real_open;
static close_fn real_close;
static fcntl_fn real_fcntl;

static unsigned char marked[MARKED_FDS];

static pthread_mutex_t directories_lock = PTHREAD_MUTEX_INITIALIZER;
/* each with a trailing slash; guarded by directories_lock */
static char *directories[MAX_DIRECTORIES];

static int under_private_directory(const char *path) {
    int found = 0;
    pthread_mutex_lock(&directories_lock);
    for (int i = 0; i < MAX_DIRECTORIES && !found; i++) {
        found = directories[i] != NULL && strncmp(path, directories[i], strlen(directories[i])) == 0;
    }
    pthread_mutex_unlock(&directories_lock);
    return found;
}

static int private_open(const char *path, int flags, int mode) {
    int fd = real_open(path, flags, mode);
    if (fd >= 0 && fd < MARKED_FDS) {
        __atomic_store_n(&marked[fd], (unsigned char) under_private_directory(path), __ATOMIC_RELAXED);
    }
    return fd;
}

static int private_close(int fd) {
    if (fd >= 0 && fd < MARKED_FDS) {
        /* before the close: afterwards the number may already belong to another open */
        __atomic_store_n(&marked[fd], 0, __ATOMIC_RELAXED);
    }
    return real_close(fd);
}

static int private_fcntl(int fd, int cmd, ...) {
    va_list ap;
    va_start(ap, cmd);
    void *arg = va_arg(ap, void *); /* as the C library's own fcntl takes it */
    va_end(ap);
    if ((cmd == F_SETLK || cmd == F_SETLKW || cmd == F_GETLK)
            && fd >= 0 && fd < MARKED_FDS && __atomic_load_n(&marked[fd], __ATOMIC_RELAXED)) {
        if (cmd == F_GETLK) {
            ((struct flock *) arg)->l_type = F_UNLCK;
        }
        return 0;
    }
    return real_fcntl(fd, cmd, arg);
}

/* Stands in for the unix VFS's open, close and fcntl; where it cannot, every file locks as before. */
int private_locks_install(sqlite3_vfs *unix_vfs) {
    static int tried; /* once: a second time would find our own functions in the table */
    if (tried || unix_vfs->iVersion < 3 || unix_vfs->xGetSystemCall == NULL) {
        return SQLITE_OK;
    }
    tried = 1;
    open_fn o = (open_fn) unix_vfs->xGetSystemCall(unix_vfs, "open");
    close_fn c = (close_fn) unix_vfs->xGetSystemCall(unix_vfs, "close");
    fcntl_fn f = (fcntl_fn) unix_vfs->xGetSystemCall(unix_vfs, "fcntl");
    if (o == NULL || c == NULL || f == NULL) {
        return SQLITE_OK;
    }
    real_open = o;
    real_close = c;
    /* fcntl last, and only once the other two mark descriptors */
    if (unix_vfs->xSetSystemCall(unix_vfs, "open", (sqlite3_syscall_ptr) private_open) == SQLITE_OK
            && unix_vfs->xSetSystemCall(unix_vfs, "close", (sqlite3_syscall_ptr) private_close) == SQLITE_OK) {
        real_fcntl = f;
        if (unix_vfs->xSetSystemCall(unix_vfs, "fcntl", (sqlite3_syscall_ptr) private_fcntl) != SQLITE_OK) {
            real_fcntl = NULL;
        }
    }
    return SQLITE_OK;
}

/* Names a directory whose files no other process opens: 0 if named; else its files lock as before. */
int sqliteos_private_directory(const char *path) {
    size_t n = strlen(path);
    if (n == 0 || real_fcntl == NULL) {
        return -1;
    }
    char *with_slash = sqlite3_malloc((int) n + 2);
    if (with_slash == NULL) {
        return -1;
    }
    memcpy(with_slash, path, n);
    with_slash[n] = '/';
    with_slash[n + 1] = 0;
    int done = -1;
    pthread_mutex_lock(&directories_lock);
    for (int i = 0; i < MAX_DIRECTORIES && done != 0; i++) {
        if (directories[i] == NULL) {
            directories[i] = with_slash;
            done = 0;
        }
    }
    pthread_mutex_unlock(&directories_lock);
    if (done != 0) {
        sqlite3_free(with_slash);
    }
    return done;
}

/* Whether a file lies under a directory named private (and so may be mapped: see mapped_reads.c). */
int sqliteos_under_private_directory(const char *path) {
    return real_fcntl != NULL && under_private_directory(path);
}

/* Forgets a directory named before, once its database is closed. */
void sqliteos_public_again(const char *path) {
    size_t n = strlen(path);
    pthread_mutex_lock(&directories_lock);
    for (int i = 0; i < MAX_DIRECTORIES; i++) {
        if (directories[i] != NULL && strlen(directories[i]) == n + 1 && strncmp(directories[i], path, n) == 0) {
            sqlite3_free(directories[i]);
            directories[i] = NULL;
        }
    }
    pthread_mutex_unlock(&directories_lock);
}
