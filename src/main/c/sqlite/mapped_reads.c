/*
 * Reads of the in-memory database's files (the database and its write-ahead
 * log) through a mapping of each, instead of one pread per page.
 *
 * A connection's page cache is small and a reader's is emptied whenever
 * another connection commits, so SQLite reads pages from the file all the
 * time: a 4 KiB random write through the mount made about three preads of
 * 8 KiB pages, each a system call dearer on a virtual machine than the copy it
 * makes. SQLite's own memory map (PRAGMA mmap_size) is no answer: a connection
 * drops its whole map as soon as it sees another connection's commit, and
 * with a user's transaction committing on a connection of its own, the batch
 * writer then unmapped and faulted its map in again each time (a loop of small
 * transactions next to a 1 GiB file ran a fifth slower).
 *
 * So the VFS maps each file itself, once per file for the whole process,
 * and serves a read of it with a copy from the mapping while the read lies
 * inside the file's size as last seen (fstat again when it does not). Nothing
 * is ever unmapped while the file is open: one address range, reserved far
 * larger than the file may grow, stays valid as the file grows.
 *
 * Only a page read twice before is read from the mapping. The first touch of
 * a mapped page costs a fault, which on this kind of virtual machine costs
 * about twice a pread of it (4.8 against 2.5 microseconds for 8 KiB; later
 * copies from the mapping cost 0.3). Mapping every page made a 1 GiB file,
 * read once through, come at 450 MB/s instead of 1.7-1.9 GB/s; mapping a
 * page at its second read made rm -rf of a 15,000-file tree take 1.6-2.1 s
 * instead of 1.3-1.4. The pages that keep coming back (the tables' inner
 * pages, whose copies readers drop at every commit; a file's blocks under
 * random I/O) are read from the mapping; a page read once or twice costs what
 * it did. A byte per 8 KiB of the file counts the reads. Where the daemon
 * first sees free pages, and again where it gives them back (a hole punched
 * into the file), the counts start again: the pages written there next are
 * new content. Without that, a 1 GiB file written, read, deleted and written
 * again was read at 505-770 MB/s instead of 1.5-2.2 GB/s, and the daemon's
 * resident size grew by the file's size each time.
 *
 * Only a database in a private directory (see private_locks.c) on tmpfs is
 * mapped: no other process truncates it, and tmpfs has no I/O errors, which
 * through a mapping would arrive as SIGBUS instead of an error code. Within the
 * process, only SQLite changes a file's size: it grows by writes, and it
 * shrinks only where no reader can be reading (a checkpoint cuts the database
 * back to the pages of every reader's snapshot, and the log back once no
 * reader uses the frames cut off); the size seen is lowered before that
 * truncation, no read takes a newer size while it runs, and the pages cut off
 * are counted afresh when the file grows again. The mapping's own descriptor
 * is closed with the file's last handle; closing it could drop no record
 * lock, as a private database takes none.
 */
#include <sqlite3ext.h>
SQLITE_EXTENSION_INIT3

#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "extension.h"

#define TMPFS_MAGIC 0x01021994
/* address space set aside for one file: more than any in-memory database grows to */
#define RESERVED_BYTES (1LL << 40)
/* reads are counted per 8 KiB, the daemon's page size */
#define SPAN_SHIFT 13
#define READS_BYTES ((size_t) (RESERVED_BYTES >> SPAN_SHIFT))
#define READS_BEFORE_MAPPING 2

struct mapped_file {
    char *path;
    int fd;
    const char *base;
    unsigned char *reads;        /* preads per span of the file, up to READS_BEFORE_MAPPING; untouched parts cost nothing */
    sqlite3_int64 size;          /* the file's size as last seen; atomic */
    pthread_mutex_t resizing;    /* held to take a new size, and through a truncation */
    int users;                   /* open handles of the file; guarded by files_lock */
    mapped_file *next;
};

static pthread_mutex_t files_lock = PTHREAD_MUTEX_INITIALIZER;
static mapped_file *files;

/* Maps a new file, or returns NULL where reads go to the file as before. */
static mapped_file *map_file(const char *path) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return NULL;
    }
    struct statfs fs;
    struct stat st;
    mapped_file *m = NULL;
    if (fstatfs(fd, &fs) == 0 && fs.f_type == TMPFS_MAGIC && fstat(fd, &st) == 0
            && (m = sqlite3_malloc(sizeof *m)) != NULL) {
        memset(m, 0, sizeof *m);
        pthread_mutex_init(&m->resizing, NULL);
        m->path = sqlite3_mprintf("%s", path);
        void *base = mmap(NULL, RESERVED_BYTES, PROT_READ, MAP_SHARED | MAP_NORESERVE, fd, 0);
        void *reads = mmap(NULL, READS_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (m->path != NULL && base != MAP_FAILED && reads != MAP_FAILED) {
            m->fd = fd;
            m->base = base;
            m->reads = reads;
            m->size = st.st_size;
            return m;
        }
        if (base != MAP_FAILED) {
            munmap(base, RESERVED_BYTES);
        }
        if (reads != MAP_FAILED) {
            munmap(reads, READS_BYTES);
        }
        pthread_mutex_destroy(&m->resizing);
        sqlite3_free(m->path);
        sqlite3_free(m);
    }
    close(fd);
    return NULL;
}

mapped_file *mapped_reads_open(const char *path) {
    if (path == NULL || !sqliteos_under_private_directory(path)) {
        return NULL;
    }
    pthread_mutex_lock(&files_lock);
    mapped_file *m = files;
    while (m != NULL && strcmp(m->path, path) != 0) {
        m = m->next;
    }
    if (m == NULL && (m = map_file(path)) != NULL) {
        m->next = files;
        files = m;
    }
    if (m != NULL) {
        m->users++;
    }
    pthread_mutex_unlock(&files_lock);
    return m;
}

void mapped_reads_close(mapped_file *m) {
    pthread_mutex_lock(&files_lock);
    if (--m->users > 0) {
        pthread_mutex_unlock(&files_lock);
        return;
    }
    for (mapped_file **p = &files; *p != NULL; p = &(*p)->next) {
        if (*p == m) {
            *p = m->next;
            break;
        }
    }
    pthread_mutex_unlock(&files_lock);
    munmap((void *) m->base, RESERVED_BYTES);
    munmap(m->reads, READS_BYTES);
    close(m->fd);
    pthread_mutex_destroy(&m->resizing);
    sqlite3_free(m->path);
    sqlite3_free(m);
}

int mapped_reads_read(mapped_file *m, void *buf, int amt, sqlite3_int64 at) {
    if (at < 0 || amt <= 0 || at + amt > RESERVED_BYTES) {
        return 0;
    }
    unsigned char *reads = &m->reads[at >> SPAN_SHIFT];
    unsigned char n = __atomic_load_n(reads, __ATOMIC_RELAXED);
    if (n < READS_BEFORE_MAPPING) {
        /* a lost count between threads only delays the mapping */
        __atomic_store_n(reads, (unsigned char) (n + 1), __ATOMIC_RELAXED);
        return 0;
    }
    if (at + amt > __atomic_load_n(&m->size, __ATOMIC_ACQUIRE)) {
        /* the file may have grown since */
        struct stat st;
        pthread_mutex_lock(&m->resizing);
        int grown = fstat(m->fd, &st) == 0;
        if (grown) {
            __atomic_store_n(&m->size, (sqlite3_int64) st.st_size, __ATOMIC_RELEASE);
        }
        pthread_mutex_unlock(&m->resizing);
        if (!grown || at + amt > st.st_size) {
            return 0; /* past the end: a short read, which the file answers */
        }
    }
    memcpy(buf, m->base + at, (size_t) amt);
    return 1;
}

void mapped_reads_truncate_begins(mapped_file *m, sqlite3_int64 size) {
    pthread_mutex_lock(&m->resizing);
    if (size < __atomic_load_n(&m->size, __ATOMIC_ACQUIRE)) {
        __atomic_store_n(&m->size, size, __ATOMIC_RELEASE);
    }
    /* pages cut off and grown again are new: counted afresh, so that each is first read with pread */
    struct stat st;
    if (size >= 0 && fstat(m->fd, &st) == 0 && st.st_size > size && st.st_size <= RESERVED_BYTES) {
        size_t from = (size_t) (size >> SPAN_SHIFT);
        size_t to = (size_t) ((st.st_size + (1 << SPAN_SHIFT) - 1) >> SPAN_SHIFT);
        memset(m->reads + from, 0, to - from);
    }
}

void mapped_reads_truncate_ends(mapped_file *m) {
    pthread_mutex_unlock(&m->resizing);
}

/* Counts the reads of the spans wholly inside [offset, offset + length) of m afresh. */
static void forget_in(mapped_file *m, sqlite3_int64 offset, sqlite3_int64 length) {
    if (offset < 0 || length <= 0 || offset >= RESERVED_BYTES) {
        return;
    }
    sqlite3_int64 end = offset + length < RESERVED_BYTES ? offset + length : RESERVED_BYTES;
    /* only spans wholly inside: a span's other part keeps its pages */
    size_t from = (size_t) ((offset + (1 << SPAN_SHIFT) - 1) >> SPAN_SHIFT);
    size_t to = (size_t) (end >> SPAN_SHIFT);
    if (to > from) {
        memset(m->reads + from, 0, to - from);
    }
}

/*
 * Counts the reads of parts of a file afresh, `count` of them, each an offset
 * and a length in `runs`: the daemon has seen free pages there, or punched a
 * hole there (free pages given back). Either way the pages written there next
 * are new content; reads of what was there before (deleting a file reads each
 * of its pages once more, to walk its chains) say nothing of it, and the first
 * touch of a page given back would cost a fault again.
 */
void sqliteos_mapped_forget_runs(const char *path, const sqlite3_int64 *runs, int count) {
    char real[PATH_MAX];
    if (path == NULL || runs == NULL || count <= 0 || realpath(path, real) == NULL) {
        return;
    }
    pthread_mutex_lock(&files_lock);
    for (mapped_file *m = files; m != NULL; m = m->next) {
        if (strcmp(m->path, real) == 0) {
            for (int i = 0; i < count; i++) {
                forget_in(m, runs[2 * i], runs[2 * i + 1]);
            }
        }
    }
    pthread_mutex_unlock(&files_lock);
}
