/*
 * A rehearsal of a mount's common requests, for the daemon's JIT warm-up.
 *
 * The warm-up needs the very code a mount runs for each request to be
 * compiled before clients come: libfuse's request handling, jnr's native
 * entry points, the adapter, the file system. Calling the file system from
 * Java reaches only the last of them. So the rehearsal gives libfuse requests
 * in the kernel's own format, made up here, through a session of its own: a
 * libfuse instance over the adapter of a scratch file system, on a channel
 * that is no device. Its replies come back here (and tell the next requests
 * which nodes and handles to name) instead of going to a kernel; nothing of
 * it touches the mount.
 *
 * The calling thread runs each request to its end before the next: libfuse
 * serves a request on the thread that hands it over.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "libfuse2.h"

/* Set while this thread rehearses: its replies stay out of attr_cache.c's table of the mount's nodes. */
__thread int sqliteos_rehearsing;

enum { FATTR_MODE = 1, FATTR_ATIME = 1 << 4, FATTR_MTIME = 1 << 5 };
enum { ROOT = 1, SUBDIRS = 50, WRITTEN = 3000, READ_SIZE = 4096, LIST_SIZE = 65536, LISTED = 250 };
/* The protocol the requests are written in (libfuse 2 reads every request of 7.19 and later alike). */
enum { PROTOCOL_MINOR = 19 };

struct getattr_in { uint32_t flags, dummy; uint64_t fh; };
struct setattr_in {
    uint32_t valid, padding;
    uint64_t fh, size, lock_owner, atime, mtime, ctime;
    uint32_t atimensec, mtimensec, ctimensec, mode, unused4, uid, gid, unused5;
};
struct mknod_in { uint32_t mode, rdev, umask, padding; };
struct mkdir_in { uint32_t mode, umask; };
struct rename_in { uint64_t newdir; };
struct open_in { uint32_t flags, unused; };
struct create_in { uint32_t flags, mode, umask, padding; };
struct release_in { uint64_t fh; uint32_t flags, release_flags; uint64_t lock_owner; };
struct getxattr_in { uint32_t size, padding; };

struct fuse_args {
    int argc;
    char **argv;
    int allocated;
};
typedef struct fuse *(*fuse_new_fn)(struct fuse_chan *, struct fuse_args *, const void *, size_t, void *);
typedef void (*fuse_destroy_fn)(struct fuse *);
typedef void (*session_process_fn)(struct fuse_session *, const char *, size_t, struct fuse_chan *);

static void *chan_new_sym, *chan_data_sym, *fuse_new_sym, *destroy_sym, *get_session_sym, *process_sym;

struct rehearsal {
    struct fuse *fuse;
    struct fuse_session *session;
    struct fuse_chan *chan;
    session_process_fn process;
    uint64_t unique;
    uint64_t subdirs[SUBDIRS];
    uint64_t full; /* a directory of many entries, 0 until made */
    int initialized; /* libfuse took the INIT: this thread has its context, which fuse_destroy needs */
    char data[WRITTEN];
    size_t reply_length;
    unsigned char reply[OUT_HEADER + LIST_SIZE + 4096];
    unsigned char request[sizeof(struct fuse_in_header) + sizeof(struct io_in) + WRITTEN + 2 * 256];
};

/* The channel's send: keeps the reply for the request that is running. */
static int keep_reply(struct fuse_chan *ch, const struct iovec iov[], size_t count) {
    chan_data_fn data = (chan_data_fn) libfuse_symbol(&chan_data_sym, "fuse_chan_data");
    struct rehearsal *r = data(ch);
    size_t at = 0;
    for (size_t i = 0; i < count; i++) {
        size_t n = iov[i].iov_len;
        if (at + n > sizeof r->reply) {
            n = sizeof r->reply - at;
        }
        memcpy(r->reply + at, iov[i].iov_base, n);
        at += n;
    }
    r->reply_length = at;
    return 0;
}

/*
 * Serves one request: the header, the fixed-size argument, up to two names
 * (each with its NUL) and data. Returns the reply's error (0 or -errno), or
 * 1 for a request with no reply.
 */
static int request(struct rehearsal *r, uint32_t opcode, uint64_t node, const void *arg, size_t arg_size,
                   const char *name, const char *name2, const void *data, size_t data_size) {
    struct fuse_in_header h;
    memset(&h, 0, sizeof h);
    size_t at = sizeof h;
    if (arg_size > 0) {
        memcpy(r->request + at, arg, arg_size);
        at += arg_size;
    }
    if (name != NULL) {
        size_t n = strlen(name) + 1;
        memcpy(r->request + at, name, n);
        at += n;
    }
    if (name2 != NULL) {
        size_t n = strlen(name2) + 1;
        memcpy(r->request + at, name2, n);
        at += n;
    }
    if (data_size > 0) {
        memcpy(r->request + at, data, data_size);
        at += data_size;
    }
    r->unique += 2;
    h.len = (uint32_t) at;
    h.opcode = opcode;
    h.unique = r->unique;
    h.nodeid = node;
    h.pid = (uint32_t) getpid();
    memcpy(r->request, &h, sizeof h);
    r->reply_length = 0;
    r->process(r->session, (const char *) r->request, at, r->chan);
    if (r->reply_length < OUT_HEADER) {
        return 1;
    }
    struct fuse_out_header out;
    memcpy(&out, r->reply, sizeof out);
    return out.error;
}

/* The first 8 bytes of the reply's body at offset: a node id or a handle. */
static uint64_t reply_u64(const struct rehearsal *r, size_t offset) {
    uint64_t v;
    memcpy(&v, r->reply + OUT_HEADER + offset, sizeof v);
    return v;
}

static int forget(struct rehearsal *r, uint64_t node, uint64_t lookups) {
    struct forget_in in = { lookups };
    return request(r, FUSE_FORGET, node, &in, sizeof in, NULL, NULL, NULL, 0) == 1 ? 0 : -EPROTO;
}

static int mkdir_at(struct rehearsal *r, uint64_t parent, const char *name, uint64_t *node) {
    struct mkdir_in in = { 040755, 022 };
    int err = request(r, FUSE_MKDIR, parent, &in, sizeof in, name, NULL, NULL, 0);
    if (err == 0) {
        *node = reply_u64(r, 0);
    }
    return err;
}

static int release(struct rehearsal *r, uint32_t opcode, uint64_t node, uint64_t fh) {
    struct release_in in = { fh, 0, 0, 0 };
    return request(r, opcode, node, &in, sizeof in, NULL, NULL, NULL, 0);
}

/* Reads a directory to its end, as ls does. */
static int list(struct rehearsal *r, uint64_t dir) {
    struct open_in open = { O_RDONLY | O_DIRECTORY, 0 };
    int err = request(r, FUSE_OPENDIR, dir, &open, sizeof open, NULL, NULL, NULL, 0);
    if (err != 0) {
        return err;
    }
    uint64_t fh = reply_u64(r, 0);
    uint64_t offset = 0;
    for (;;) {
        struct io_in in = { fh, offset, LIST_SIZE, 0, 0, O_RDONLY, 0 };
        err = request(r, FUSE_READDIR, dir, &in, sizeof in, NULL, NULL, NULL, 0);
        if (err != 0 || r->reply_length == OUT_HEADER) {
            break;
        }
        size_t at = OUT_HEADER;
        while (at + sizeof(struct dirent_head) <= r->reply_length) {
            struct dirent_head d;
            memcpy(&d, r->reply + at, sizeof d);
            offset = d.off;
            at += (sizeof d + d.namelen + 7) & ~(size_t) 7;
        }
    }
    int closed = release(r, FUSE_RELEASEDIR, dir, fh);
    return err != 0 ? err : closed;
}

void sqliteos_rehearsal_end(struct rehearsal *r);

/*
 * Starts a rehearsal over the adapter whose fuse_operations (of op_size
 * bytes) are at ops. Returns NULL when libfuse will not have it.
 */
struct rehearsal *sqliteos_rehearsal_start(const void *ops, size_t op_size) {
    chan_new_fn chan_new = (chan_new_fn) libfuse_versioned(&chan_new_sym, "fuse_chan_new", "FUSE_2.6");
    fuse_new_fn fuse_new = (fuse_new_fn) libfuse_versioned(&fuse_new_sym, "fuse_new", "FUSE_2.6");
    get_session_fn get_session = (get_session_fn) libfuse_symbol(&get_session_sym, "fuse_get_session");
    session_process_fn process = (session_process_fn) libfuse_symbol(&process_sym, "fuse_session_process");
    if (chan_new == NULL || fuse_new == NULL || get_session == NULL || process == NULL
            || libfuse_symbol(&chan_data_sym, "fuse_chan_data") == NULL
            || libfuse_symbol(&destroy_sym, "fuse_destroy") == NULL) {
        return NULL;
    }
    struct rehearsal *r = calloc(1, sizeof *r);
    if (r == NULL) {
        return NULL;
    }
    r->process = process;
    for (size_t i = 0; i < sizeof r->data; i++) {
        r->data[i] = (char) ('a' + i % 26);
    }
    struct fuse_chan_ops chan_ops = { receive_nothing, keep_reply, NULL };
    r->chan = chan_new(&chan_ops, -1, 132 * 1024 + 4096, r);
    /* the library options of the mount (FuseMount.BASE_OPTIONS): the same request paths */
    char *argv[] = { "sqliteos-rehearsal", "-o", "use_ino,readdir_ino,hard_remove,big_writes", NULL };
    struct fuse_args args = { 3, argv, 0 };
    r->fuse = r->chan == NULL ? NULL : fuse_new(r->chan, &args, ops, op_size, NULL);
    if (r->fuse == NULL) {
        free(r); /* the channel may already be the failed session's: left to it */
        return NULL;
    }
    r->session = get_session(r->fuse);
    sqliteos_rehearsing = 1;
    struct fuse_init_in init = { 7, PROTOCOL_MINOR, 128 * 1024, 0 };
    int err = request(r, FUSE_INIT, 0, &init, sizeof init, NULL, NULL, NULL, 0);
    r->initialized = err == 0;
    uint64_t top = 0;
    if (err == 0) {
        err = mkdir_at(r, ROOT, "d", &top);
    }
    for (int i = 0; err == 0 && i < SUBDIRS; i++) {
        char name[16];
        snprintf(name, sizeof name, "s%d", i);
        err = mkdir_at(r, top, name, &r->subdirs[i]);
    }
    sqliteos_rehearsing = 0;
    if (err != 0) {
        sqliteos_rehearsal_end(r);
        return NULL;
    }
    return r;
}

/*
 * One round of what an untar, a build or git does to a file: look up a new
 * name, create it, write, close, chmod, set its times, stat it, read it, list
 * its directory, rename and remove it; make and remove a directory. Returns 0,
 * or the first unexpected error (-errno).
 */
int sqliteos_rehearsal_round(struct rehearsal *r, int round) {
    sqliteos_rehearsing = 1;
    uint64_t dir = r->subdirs[round % SUBDIRS];
    char name[32], renamed[40];
    snprintf(name, sizeof name, "f%d", round);
    snprintf(renamed, sizeof renamed, "f%d.r", round);
    int err = request(r, FUSE_LOOKUP, dir, NULL, 0, name, NULL, NULL, 0) == -ENOENT ? 0 : -EPROTO;
    struct create_in create = { O_CREAT | O_WRONLY | O_TRUNC, 0100644, 022, 0 };
    if (err == 0) {
        err = request(r, FUSE_CREATE, dir, &create, sizeof create, name, NULL, NULL, 0);
    }
    if (err != 0) {
        sqliteos_rehearsing = 0;
        return err;
    }
    uint64_t node = reply_u64(r, 0);
    uint64_t fh = reply_u64(r, ENTRY_OUT);
    struct getxattr_in xattr = { 0, 0 };
    /* the kernel asks before every write whether a capability must go */
    int none = request(r, FUSE_GETXATTR, node, &xattr, sizeof xattr, "security.capability", NULL, NULL, 0);
    err = none == -ENODATA ? 0 : -EPROTO;
    struct io_in write = { fh, 0, WRITTEN, 0, 0, O_WRONLY, 0 };
    if (err == 0) {
        err = request(r, FUSE_WRITE, node, &write, sizeof write, NULL, NULL, r->data, WRITTEN);
    }
    if (err == 0) {
        err = release(r, FUSE_RELEASE, node, fh);
    }
    struct setattr_in chmod = { .valid = FATTR_MODE, .mode = 0100640 };
    if (err == 0) {
        err = request(r, FUSE_SETATTR, node, &chmod, sizeof chmod, NULL, NULL, NULL, 0);
    }
    struct setattr_in touch = { .valid = FATTR_ATIME | FATTR_MTIME, .atime = 1, .mtime = 1 };
    if (err == 0) {
        err = request(r, FUSE_SETATTR, node, &touch, sizeof touch, NULL, NULL, NULL, 0);
    }
    struct getattr_in stat = { 0, 0, 0 };
    if (err == 0) {
        err = request(r, FUSE_GETATTR, node, &stat, sizeof stat, NULL, NULL, NULL, 0);
    }
    if (err == 0) { /* a second name lookup of the same file: a stat by path */
        err = request(r, FUSE_LOOKUP, dir, NULL, 0, name, NULL, NULL, 0);
    }
    struct open_in open = { O_RDONLY, 0 };
    if (err == 0) {
        err = request(r, FUSE_OPEN, node, &open, sizeof open, NULL, NULL, NULL, 0);
    }
    if (err == 0) {
        struct io_in read = { reply_u64(r, 0), 0, READ_SIZE, 0, 0, O_RDONLY, 0 };
        err = request(r, FUSE_READ, node, &read, sizeof read, NULL, NULL, NULL, 0);
        if (err == 0) {
            err = release(r, FUSE_RELEASE, node, read.fh);
        }
    }
    if (err == 0) {
        err = list(r, dir);
    }
    struct rename_in rename = { dir };
    if (err == 0) {
        err = request(r, FUSE_RENAME, dir, &rename, sizeof rename, name, renamed, NULL, 0);
    }
    if (err == 0) {
        err = request(r, FUSE_UNLINK, dir, NULL, 0, renamed, NULL, NULL, 0);
    }
    if (err == 0) {
        err = forget(r, node, 2); /* the create's lookup and the second one */
    }
    uint64_t sub = 0;
    snprintf(name, sizeof name, "f%d.d", round);
    if (err == 0) {
        err = mkdir_at(r, dir, name, &sub);
    }
    if (err == 0) {
        err = request(r, FUSE_RMDIR, dir, NULL, 0, name, NULL, NULL, 0);
    }
    if (err == 0) {
        err = forget(r, sub, 1);
    }
    sqliteos_rehearsing = 0;
    return err;
}

/*
 * Lists a directory of many long names, making it on the first call: a
 * listing's loop, and the buffers that carry its entries, run as they do for
 * a large source tree. Returns 0 or -errno.
 */
int sqliteos_rehearsal_listing(struct rehearsal *r) {
    sqliteos_rehearsing = 1;
    int err = 0;
    if (r->full == 0) {
        err = mkdir_at(r, r->subdirs[0], "full", &r->full);
        for (int i = 0; err == 0 && i < LISTED; i++) {
            char name[96];
            snprintf(name, sizeof name, "entry-%d-of-a-name-as-long-as-those-of-many-source-files.txt", i);
            struct mknod_in in = { 0100644, 0, 022, 0 };
            err = request(r, FUSE_MKNOD, r->full, &in, sizeof in, name, NULL, NULL, 0);
            if (err == 0) {
                err = forget(r, reply_u64(r, 0), 1);
            }
        }
    }
    if (err == 0) {
        err = list(r, r->full);
    }
    sqliteos_rehearsing = 0;
    return err;
}

/*
 * Ends the rehearsal: libfuse frees its session and channel. Called on the
 * thread that rehearsed. Without a served INIT, libfuse's teardown would
 * find no context on this thread: the session is then left as it is.
 */
void sqliteos_rehearsal_end(struct rehearsal *r) {
    if (r == NULL || !r->initialized) {
        return;
    }
    sqliteos_rehearsing = 1;
    ((fuse_destroy_fn) libfuse_symbol(&destroy_sym, "fuse_destroy"))(r->fuse);
    sqliteos_rehearsing = 0;
    free(r);
}
