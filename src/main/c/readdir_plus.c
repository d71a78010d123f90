/*
 * READDIRPLUS: a directory listing that brings each entry's lookup with it.
 *
 * libfuse 2 predates READDIRPLUS (protocol 7.21). Without it the kernel sends
 * a LOOKUP for every name a process uses after listing a directory, so du,
 * grep -r and rm -rf each cost a round trip per file for the lookup alone,
 * and on a VM a round trip (two system calls, a wake-up and usually two
 * context switches) costs more than the lookup itself.
 *
 * The daemon offers the kernel READDIRPLUS in its automatic form: the kernel
 * asks for it at the start of a listing, and further on only while the
 * entries it brought are being used. This file serves it out of requests that
 * libfuse knows, processed by the mounted session on a channel that keeps
 * their replies here: a READDIR of the same part of the directory, then a
 * LOOKUP of each name that fits in the reply. Each LOOKUP is a real one:
 * libfuse counts it on the node, attr_cache.c records the node's attributes,
 * and the kernel forgets it in due course as it forgets any lookup. The
 * kernel skips "." and "..", so they go without one, as do files whose
 * lookup the kernel still holds (git status lists directories after it has
 * looked up every file in them).
 *
 * A walk that needs only names and types (find) would pay for lookups it
 * never uses, about as much as the round trips saved elsewhere. So a listing
 * brings the lookups of subdirectories always (a walk goes into them), and
 * those of other files only for a process that has shown it uses them: one
 * that looked up a file in the directory it listed last, as du, grep -r and
 * ls -l do after their first listing. A process that lists nothing for a
 * second starts afresh, so a new process that gets an old one's number is not
 * taken for it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "libfuse2.h"

#define DT_DIR 4
#define WALKER_SLOTS 256
#define WALKER_IDLE_NS 1000000000LL

/* A process (the kernel names the calling thread) that lists directories: what it listed last, and whether
 * it went on to use the files in it. */
struct walker {
    uint32_t pid;
    int uses_files;
    uint64_t listed_dir;
    int64_t last_listing_ns;
};

static struct walker walkers[WALKER_SLOTS];
static pthread_mutex_t walkers_lock = PTHREAD_MUTEX_INITIALIZER;

/* The slot of a process that has listed within the last second, or NULL. Lock held. */
static struct walker *walker_of(uint32_t pid, int64_t now) {
    struct walker *w = &walkers[pid % WALKER_SLOTS];
    return w->pid == pid && now - w->last_listing_ns < WALKER_IDLE_NS ? w : NULL;
}

/* Notes a process's listing of dir; returns whether its files should come with lookups. */
static int listing_by(uint32_t pid, uint64_t dir) {
    int64_t now = now_ns();
    pthread_mutex_lock(&walkers_lock);
    struct walker *w = walker_of(pid, now);
    if (w == NULL) {
        w = &walkers[pid % WALKER_SLOTS];
        w->pid = pid;
        w->uses_files = 0;
    }
    w->listed_dir = dir;
    w->last_listing_ns = now;
    int files_too = w->uses_files;
    pthread_mutex_unlock(&walkers_lock);
    return files_too;
}

/* Called by the worker loop with each request: a LOOKUP in the directory its process listed last shows it uses files. */
void sqliteos_noting_lookup(const struct fuse_buf *buf) {
    const struct fuse_in_header *in = buf->mem;
    if ((buf->flags & FUSE_BUF_IS_FD) || in->opcode != FUSE_LOOKUP) {
        return;
    }
    pthread_mutex_lock(&walkers_lock);
    struct walker *w = walker_of(in->pid, now_ns());
    if (w != NULL && w->listed_dir == in->nodeid) {
        w->uses_files = 1;
    }
    pthread_mutex_unlock(&walkers_lock);
}

/* The protocol's flags that offer READDIRPLUS, and its automatic form. */
#define FUSE_DO_READDIRPLUS (1u << 13)
#define FUSE_READDIRPLUS_AUTO (1u << 14)

/* Where a direntplus's name starts: after its entry (ENTRY_OUT) and the dirent's head. */
#define PLUS_NAME_OFFSET (ENTRY_OUT + sizeof(struct dirent_head))
#define ALIGNED8(n) (((n) + 7) & ~(size_t) 7)

static __thread struct capture *capturing;
static struct fuse_chan *keeping_chan;
static void *chan_new_sym, *chan_send_sym;

/* The keeping channel's send: the reply of this thread's request, as much as fits. */
static int keep(struct fuse_chan *ch, const struct iovec iov[], size_t count) {
    (void) ch;
    struct capture *c = capturing;
    if (c == NULL) {
        return -EIO;
    }
    size_t at = 0;
    for (size_t i = 0; i < count; i++) {
        size_t n = iov[i].iov_len;
        if (at + n > c->capacity) {
            n = c->capacity - at;
        }
        memcpy(c->buf + at, iov[i].iov_base, n);
        at += n;
    }
    c->length = at;
    return 0;
}

/*
 * The INIT flags to add to the reply when the kernel offered kernel_flags:
 * READDIRPLUS in its automatic form, if this file can serve it.
 */
uint32_t sqliteos_readdirplus_flags(uint32_t kernel_flags, int fd, size_t bufsize) {
    uint32_t wanted = FUSE_DO_READDIRPLUS | FUSE_READDIRPLUS_AUTO;
    if ((kernel_flags & wanted) != wanted) {
        return 0;
    }
    return sqliteos_internal_ready(fd, bufsize) ? wanted : 0;
}

/* Makes the channel that keeps the replies of requests made up here; whether it is there. */
int sqliteos_internal_ready(int fd, size_t bufsize) {
    chan_new_fn chan_new = (chan_new_fn) libfuse_versioned(&chan_new_sym, "fuse_chan_new", "FUSE_2.6");
    if (chan_new == NULL || libfuse_symbol(&chan_send_sym, "fuse_chan_send") == NULL) {
        return 0;
    }
    if (keeping_chan == NULL) {
        struct fuse_chan_ops ops = { receive_nothing, keep, NULL };
        keeping_chan = chan_new(&ops, fd, bufsize, NULL); /* kept for the mount's life */
    }
    return keeping_chan != NULL;
}

int sqliteos_is_readdirplus(const struct fuse_buf *buf) {
    return !(buf->flags & FUSE_BUF_IS_FD) && buf->size >= sizeof(struct fuse_in_header) + sizeof(struct io_in)
            && ((const struct fuse_in_header *) buf->mem)->opcode == FUSE_READDIRPLUS;
}

/* Processes a request of the caller's made up here; its reply lands in c. Returns its error, or -EIO. */
int sqliteos_internal(struct fuse_session *se, session_process_buf_fn process, const struct fuse_in_header *h,
                      const void *body, size_t body_size, struct capture *c) {
    unsigned char request[sizeof *h + sizeof(struct io_in) + 256 + 1];
    if (body_size > sizeof request - sizeof *h) {
        return -EIO;
    }
    memcpy(request, h, sizeof *h);
    memcpy(request + sizeof *h, body, body_size);
    ((struct fuse_in_header *) request)->len = (uint32_t) (sizeof *h + body_size);
    struct fuse_buf buf = { .size = sizeof *h + body_size, .mem = request };
    return sqliteos_internal_buf(se, process, &buf, c);
}

/* Processes a whole request made up here, header and body in buf; as sqliteos_internal. */
int sqliteos_internal_buf(struct fuse_session *se, session_process_buf_fn process, const struct fuse_buf *buf,
                          struct capture *c) {
    c->length = 0;
    capturing = c;
    process(se, buf, keeping_chan);
    capturing = NULL;
    if (c->length < OUT_HEADER) {
        return -EIO;
    }
    struct fuse_out_header out;
    memcpy(&out, c->buf, sizeof out);
    return out.error;
}

/* Takes back lookups the kernel will not hold (its reply failed): as a FORGET of each would. */
static void forget_all(struct fuse_session *se, session_process_buf_fn process, const struct fuse_in_header *h,
                       const uint64_t *nodes, uint32_t count) {
    size_t size = sizeof *h + sizeof(struct batch_forget_in) + count * sizeof(struct forget_one);
    unsigned char *request = malloc(size);
    if (request == NULL) {
        return; /* those nodes stay in libfuse's table until unmount */
    }
    struct fuse_in_header head = *h;
    head.len = (uint32_t) size;
    head.opcode = FUSE_BATCH_FORGET;
    head.nodeid = 0;
    struct batch_forget_in batch = { count, 0 };
    memcpy(request, &head, sizeof head);
    memcpy(request + sizeof head, &batch, sizeof batch);
    struct forget_one *ones = (struct forget_one *) (request + sizeof head + sizeof batch);
    for (uint32_t i = 0; i < count; i++) {
        ones[i].nodeid = nodes[i];
        ones[i].nlookup = 1;
    }
    struct fuse_buf buf = { .size = size, .mem = request };
    sqliteos_forgetting(&buf);
    process(se, &buf, keeping_chan); /* no reply */
    free(request);
}

void sqliteos_reply_error(struct fuse_chan *ch, uint64_t unique, int error) {
    chan_send_fn send = (chan_send_fn) libfuse_symbol(&chan_send_sym, "fuse_chan_send");
    struct fuse_out_header out = { sizeof out, error, unique };
    struct iovec iov = { &out, sizeof out };
    send(ch, &iov, 1);
}

/* Serves a READDIRPLUS that the worker loop read from the kernel's channel ch. */
void sqliteos_serve_readdirplus(struct fuse_session *se, const struct fuse_buf *kernel_buf, struct fuse_chan *ch,
                                session_process_buf_fn process) {
    struct fuse_in_header h;
    struct io_in in;
    memcpy(&h, kernel_buf->mem, sizeof h);
    memcpy(&in, (const char *) kernel_buf->mem + sizeof h, sizeof in);
    size_t size = in.size;
    unsigned char *listing = malloc(OUT_HEADER + size);
    unsigned char *plus = malloc(OUT_HEADER + size);
    uint64_t *looked_up = malloc((size / PLUS_NAME_OFFSET + 1) * sizeof *looked_up);
    unsigned char entry[OUT_HEADER + ENTRY_OUT];
    if (listing == NULL || plus == NULL || looked_up == NULL) {
        free(listing);
        free(plus);
        free(looked_up);
        sqliteos_reply_error(ch, h.unique, -ENOMEM);
        return;
    }

    struct fuse_in_header ask = h;
    ask.opcode = FUSE_READDIR;
    struct capture list_reply = { listing, OUT_HEADER + size, 0 };
    int err = in.fh == 0 && sqliteos_dirs_unopened()
            ? sqliteos_list_unopened(se, process, &ask, &in, &list_reply)
            : sqliteos_internal(se, process, &ask, &in, sizeof in, &list_reply);

    size_t used = OUT_HEADER;
    uint32_t count = 0;
    int files_too = listing_by(h.pid, h.nodeid);
    if (err == 0) {
        /* as many entries as fit, each with its lookup; the kernel asks again from the last one's offset */
        ask.opcode = FUSE_LOOKUP;
        size_t at = OUT_HEADER;
        while (at + sizeof(struct dirent_head) <= list_reply.length) {
            struct dirent_head d;
            memcpy(&d, listing + at, sizeof d);
            size_t length = ALIGNED8(sizeof d + d.namelen);
            size_t plus_length = ALIGNED8(PLUS_NAME_OFFSET + d.namelen);
            if (d.namelen == 0 || d.namelen > 255 || at + sizeof d + d.namelen > list_reply.length
                    || used + plus_length > OUT_HEADER + size) {
                break;
            }
            const char *name = (const char *) listing + at + sizeof d;
            unsigned char *out = plus + used;
            memset(out, 0, plus_length);
            int dots = (d.namelen == 1 && name[0] == '.') || (d.namelen == 2 && name[0] == '.' && name[1] == '.');
            if (!dots && (d.type == DT_DIR || files_too) && !sqliteos_kernel_holds(d.ino)) {
                char lookup[256];
                memcpy(lookup, name, d.namelen);
                lookup[d.namelen] = '\0';
                struct capture entry_reply = { entry, sizeof entry, 0 };
                /* a name that is gone, or fails, goes without: node 0 tells the kernel to look it up itself */
                if (sqliteos_internal(se, process, &ask, lookup, d.namelen + 1, &entry_reply) == 0
                        && entry_reply.length == sizeof entry) {
                    memcpy(out, entry + OUT_HEADER, ENTRY_OUT);
                    memcpy(&looked_up[count], out, sizeof looked_up[count]);
                    if (looked_up[count] != 0) {
                        count++;
                    }
                }
            }
            memcpy(out + ENTRY_OUT, listing + at, sizeof d + d.namelen);
            used += plus_length;
            at += length;
        }
    }

    if (err != 0) {
        sqliteos_reply_error(ch, h.unique, err);
    } else {
        chan_send_fn send = (chan_send_fn) libfuse_symbol(&chan_send_sym, "fuse_chan_send");
        struct fuse_out_header out = { (uint32_t) used, 0, h.unique };
        memcpy(plus, &out, sizeof out);
        struct iovec iov = { plus, used };
        if (send(ch, &iov, 1) != 0 && count > 0) {
            forget_all(se, process, &h, looked_up, count); /* interrupted: the kernel holds none of them */
        }
    }
    free(listing);
    free(plus);
    free(looked_up);
}
