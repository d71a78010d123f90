/*
 * Directories that the kernel lists without opening them.
 *
 * Every open(2) of a directory costs a round trip for its OPENDIR, and its
 * close(2) another for RELEASEDIR: two of the five requests of each level of
 * `mkdir -p` (which opens every directory it makes to go into it), and two of
 * the four or so that find, du and rm -rf spend on a small directory. A
 * daemon that answers OPENDIR with ENOSYS (Linux 5.1 and later) is never sent
 * either again; the kernel then opens directories by itself, passes handle 0
 * with each READDIR, and keeps every listing it has read to the end in the
 * directory's page cache until the directory changes (its mtime, or any
 * change made through the kernel).
 *
 * libfuse 2's high-level API lists only through a handle of its own, so this
 * file opens one for each listing with a request made up here (an OPENDIR,
 * served like any other) and closes it once the listing has been read to its
 * end. A listing is one of the daemon's: it stays the same listing from its
 * first entry to its last however the directory changes meanwhile, as POSIX
 * asks. The kernel names where to go on only by the offset of the last entry
 * it took, so each listing gets a slot here, and the offsets handed to the
 * kernel carry the slot and its generation above the daemon's own offset. A
 * listing whose slot has been reused (abandoned, then forgotten after a
 * while or when all were taken) is listed afresh from that offset.
 *
 * Transactions: no other process may see a transaction's uncommitted names,
 * and the kernel would serve a listing it kept to anyone. A listing is kept
 * only once its last (empty) part has been read, and only the listing that
 * began it can complete it, since no other one's offsets match. So a listing
 * any part of which was read while the daemon let the kernel cache nothing
 * (a transaction open, see NameCacheTimeouts) has the directory's pages
 * dropped just before its end goes out: the kernel marks a listing kept whose
 * pages are gone, finds them missing at its next use, and lists afresh. A
 * listing kept before a transaction is dropped by the kernel at the
 * transaction's first change to that directory, which reaches it.
 *
 * Keeping a listing costs the kernel a page lookup and a copy per entry,
 * about a fifth more time for a directory of 100,000 entries, which is
 * rarely listed again whole. So a listing that needs a second reply has the
 * pages dropped as that reply goes out: the kernel then finds the page it
 * was filling gone, stops keeping that listing (the cheap check that the
 * entry follows the last one kept fails from then on) and lists the
 * directory from the daemon each time, as it did with handles.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "libfuse2.h"

/* Kernel offsets: generation (20 bits), slot (10 bits), the daemon's offset (32 bits). Below 2^62. */
#define SLOT_BITS 10
#define SLOTS (1 << SLOT_BITS)
#define POSITION_BITS 32
#define POSITION_MASK ((1ULL << POSITION_BITS) - 1)
#define GENERATION_MASK ((1U << 20) - 1)
/* A listing not read on for this long is closed the next time a slot is looked for. */
#define IDLE_NS (30LL * 1000000000LL)
/* INIT: the kernel lets a daemon go without OPENDIR. */
#define FUSE_NO_OPENDIR_SUPPORT (1u << 24)

struct listing {
    uint64_t node;
    uint64_t fh;          /* the daemon's handle, through libfuse's */
    uint32_t generation;  /* 0: free */
    int busy;             /* a request is using it */
    int seen_uncached;    /* a part of it was read while the kernel was to cache nothing */
    int too_long;         /* it took more than one reply: the kernel is not to keep it */
    int64_t used_ns;
};

static struct listing listings[SLOTS];
static pthread_mutex_t listings_lock = PTHREAD_MUTEX_INITIALIZER;
static uint32_t last_generation;
static int unopened;
/* Set from the daemon: whether the kernel may cache names now (no transaction open). */
static int cacheable;
static void *chan_send_sym, *inval_inode_sym;

int sqliteos_dirs_unopened(void) {
    return unopened;
}

/* From the daemon, whenever it starts or stops letting the kernel cache names. */
void sqliteos_listings_cacheable(int yes) {
    __atomic_store_n(&cacheable, yes, __ATOMIC_SEQ_CST);
}

/* At INIT: whether to answer OPENDIR with ENOSYS from now on. */
int sqliteos_dirs_unopened_offered(uint32_t kernel_flags, int fd, size_t bufsize) {
    unopened = (kernel_flags & FUSE_NO_OPENDIR_SUPPORT)
            && libfuse_symbol(&chan_send_sym, "fuse_chan_send") != NULL
            && libfuse_symbol(&inval_inode_sym, "fuse_lowlevel_notify_inval_inode") != NULL
            && sqliteos_internal_ready(fd, bufsize);
    return unopened;
}

static uint64_t kernel_offset(int slot, uint32_t generation, uint64_t position) {
    return ((uint64_t) generation << (POSITION_BITS + SLOT_BITS)) | ((uint64_t) slot << POSITION_BITS) | position;
}

/* The slot of the listing that handed out kernel offset off for node, now busy, or -1. */
static int resume(uint64_t node, uint64_t off) {
    int slot = (int) ((off >> POSITION_BITS) & (SLOTS - 1));
    uint32_t generation = (uint32_t) (off >> (POSITION_BITS + SLOT_BITS));
    pthread_mutex_lock(&listings_lock);
    struct listing *l = &listings[slot];
    int found = l->generation != 0 && l->generation == generation && l->node == node && !l->busy;
    if (found) {
        l->busy = 1;
    }
    pthread_mutex_unlock(&listings_lock);
    return found ? slot : -1;
}

/*
 * Takes a slot for a new listing of node, busy and without a handle yet; the
 * handles of listings it forgets land in closing (count in *n, at most SLOTS).
 */
static int take_slot(uint64_t node, uint64_t *closing, size_t *n) {
    int64_t now = now_ns();
    int chosen = -1, oldest = -1;
    pthread_mutex_lock(&listings_lock);
    for (int i = 0; i < SLOTS; i++) {
        struct listing *l = &listings[i];
        if (l->generation != 0 && !l->busy && now - l->used_ns > IDLE_NS) {
            closing[(*n)++] = l->fh; /* abandoned: its handle is closed */
            l->generation = 0;
        }
        if (l->generation == 0) {
            if (chosen < 0) {
                chosen = i;
            }
        } else if (!l->busy && (oldest < 0 || l->used_ns < listings[oldest].used_ns)) {
            oldest = i;
        }
    }
    if (chosen < 0 && oldest >= 0) {
        chosen = oldest;
        closing[(*n)++] = listings[oldest].fh;
    }
    if (chosen >= 0) {
        struct listing *l = &listings[chosen];
        last_generation = (last_generation + 1) & GENERATION_MASK;
        if (last_generation == 0) {
            last_generation = 1;
        }
        l->node = node;
        l->fh = 0;
        l->generation = last_generation;
        l->busy = 1;
        l->seen_uncached = 0;
        l->too_long = 0;
        l->used_ns = now;
    }
    pthread_mutex_unlock(&listings_lock);
    return chosen;
}

static void free_slot(int slot) {
    pthread_mutex_lock(&listings_lock);
    listings[slot].generation = 0;
    listings[slot].busy = 0;
    pthread_mutex_unlock(&listings_lock);
}

/* Opens node for h's caller through libfuse; 0 and the handle in *fh, or the error. */
static int open_dir(struct fuse_session *se, session_process_buf_fn process, const struct fuse_in_header *h,
                    uint64_t *fh) {
    struct fuse_in_header ask = *h;
    ask.opcode = FUSE_OPENDIR;
    struct { uint32_t flags, unused; } in = { O_RDONLY | O_DIRECTORY, 0 };
    unsigned char reply[OUT_HEADER + 16];
    struct capture c = { reply, sizeof reply, 0 };
    int err = sqliteos_internal(se, process, &ask, &in, sizeof in, &c);
    if (err == 0) {
        if (c.length < OUT_HEADER + sizeof *fh) {
            return -EIO;
        }
        memcpy(fh, reply + OUT_HEADER, sizeof *fh);
    }
    return err;
}

static void close_dir(struct fuse_session *se, session_process_buf_fn process, const struct fuse_in_header *h,
                      uint64_t fh) {
    if (fh == 0) {
        return;
    }
    struct fuse_in_header ask = *h;
    ask.opcode = FUSE_RELEASEDIR;
    struct { uint64_t fh; uint32_t flags, release_flags; uint64_t lock_owner; } in = { fh, 0, 0, 0 };
    unsigned char reply[OUT_HEADER];
    struct capture c = { reply, sizeof reply, 0 };
    sqliteos_internal(se, process, &ask, &in, sizeof in, &c);
}

static void close_all(struct fuse_session *se, session_process_buf_fn process, const struct fuse_in_header *h,
                      const uint64_t *fhs, size_t n) {
    for (size_t i = 0; i < n; i++) {
        close_dir(se, process, h, fhs[i]);
    }
}

/* Has the kernel drop the pages of node: a listing it keeps there goes with them. */
static void drop_kept_listing(uint64_t node) {
    inval_inode_fn inval = (inval_inode_fn) libfuse_symbol(&inval_inode_sym, "fuse_lowlevel_notify_inval_inode");
    struct fuse_chan *ch = sqliteos_channel(NULL);
    if (inval != NULL && ch != NULL) {
        inval(ch, (unsigned long) node, 0, 0);
    }
}

/*
 * Lists the part of directory h->nodeid from in->offset that the kernel asks
 * for without a handle, into c as a READDIR reply with the kernel's offsets.
 * Returns 0 or the error; a listing that has ended is closed.
 */
int sqliteos_list_unopened(struct fuse_session *se, session_process_buf_fn process, const struct fuse_in_header *h,
                           const struct io_in *in, struct capture *c) {
    int cached_before = __atomic_load_n(&cacheable, __ATOMIC_SEQ_CST);
    uint64_t position = in->offset & POSITION_MASK;
    int slot = in->offset == 0 ? -1 : resume(h->nodeid, in->offset);
    if (slot < 0) {
        uint64_t closing[SLOTS];
        size_t n = 0;
        slot = take_slot(h->nodeid, closing, &n);
        close_all(se, process, h, closing, n);
        if (slot < 0) {
            return -EBUSY; /* every slot is being read this instant */
        }
        uint64_t fh;
        int err = open_dir(se, process, h, &fh);
        if (err != 0) {
            free_slot(slot);
            return err;
        }
        pthread_mutex_lock(&listings_lock);
        listings[slot].fh = fh;
        /* taken up again in the middle: its first part was another listing's, which may have been seen uncached */
        listings[slot].seen_uncached = in->offset != 0;
        pthread_mutex_unlock(&listings_lock);
    }
    struct listing *l = &listings[slot];
    struct io_in ask_in = *in;
    ask_in.fh = l->fh;
    ask_in.offset = position;
    struct fuse_in_header ask = *h;
    ask.opcode = FUSE_READDIR;
    int err = sqliteos_internal(se, process, &ask, &ask_in, sizeof ask_in, c);

    /* the kernel's offsets */
    for (size_t at = OUT_HEADER; err == 0 && at + sizeof(struct dirent_head) <= c->length;) {
        struct dirent_head d;
        memcpy(&d, c->buf + at, sizeof d);
        if (d.off > POSITION_MASK) {
            err = -EOVERFLOW;
            break;
        }
        d.off = kernel_offset(slot, l->generation, d.off);
        memcpy(c->buf + at, &d, sizeof d);
        at += (sizeof d + d.namelen + 7) & ~(size_t) 7;
    }

    int ended = err != 0 || c->length == OUT_HEADER;
    pthread_mutex_lock(&listings_lock);
    if (!cached_before || !__atomic_load_n(&cacheable, __ATOMIC_SEQ_CST)) {
        l->seen_uncached = 1;
    }
    int drop = ended && l->seen_uncached;
    if (!ended && in->offset != 0 && !l->too_long) {
        l->too_long = 1;
        drop = 1;
    }
    uint64_t fh = l->fh;
    if (ended) {
        l->generation = 0;
    } else {
        l->used_ns = now_ns();
    }
    l->busy = 0;
    pthread_mutex_unlock(&listings_lock);
    if (ended) {
        /* now, while this request holds the node: once the reply is out the kernel may forget it, and so would
         * libfuse, which could then no longer name it */
        close_dir(se, process, h, fh);
    }
    if (drop && err == 0) {
        drop_kept_listing(h->nodeid);
    }
    return err;
}

/* A request that names a directory by handle 0, and what to do with it: 0 for none. */
static uint32_t unopened_request(const struct fuse_buf *buf) {
    if (!unopened || (buf->flags & FUSE_BUF_IS_FD) || buf->size < sizeof(struct fuse_in_header)) {
        return 0;
    }
    const struct fuse_in_header *h = buf->mem;
    const unsigned char *body = (const unsigned char *) buf->mem + sizeof *h;
    size_t body_size = buf->size - sizeof *h;
    uint64_t fh = 0;
    if (body_size >= sizeof fh) {
        memcpy(&fh, body, sizeof fh);
    }
    switch (h->opcode) {
    case FUSE_OPENDIR:
        return FUSE_OPENDIR;
    case FUSE_READDIR:
        return body_size >= sizeof(struct io_in) && fh == 0 ? FUSE_READDIR : 0;
    case FUSE_FSYNCDIR:
        return body_size >= 16 && fh == 0 ? FUSE_FSYNCDIR : 0;
    case FUSE_IOCTL: {
        uint32_t flags = 0;
        if (body_size >= 32) {
            memcpy(&flags, body + 8, sizeof flags);
        }
        return body_size >= 32 && fh == 0 && (flags & FUSE_IOCTL_DIR) ? FUSE_IOCTL : 0;
    }
    default:
        return 0;
    }
}

/* Sends the reply kept in c to the kernel, or an error if it did not fit (its header says how long it was). */
static void forward(struct fuse_chan *ch, uint64_t unique, struct capture *c) {
    chan_send_fn send = (chan_send_fn) libfuse_symbol(&chan_send_sym, "fuse_chan_send");
    struct fuse_out_header out;
    if (c->length < OUT_HEADER) {
        sqliteos_reply_error(ch, unique, -EIO);
        return;
    }
    memcpy(&out, c->buf, sizeof out);
    if (out.len != c->length) {
        sqliteos_reply_error(ch, unique, -EIO);
        return;
    }
    struct iovec iov = { c->buf, c->length };
    if (send(ch, &iov, 1) != 0 && out.error == 0) {
        sqliteos_reply_error(ch, unique, -EIO); /* too large for the kernel, say: it still gets an answer */
    }
}

/*
 * Serves a request that needs libfuse's handle of a directory the kernel did
 * not open (FSYNCDIR, IOCTL): through one opened here, and closed before the
 * reply goes out, as a listing's is.
 */
static void serve_with_handle(struct fuse_session *se, const struct fuse_buf *buf, struct fuse_chan *ch,
                              session_process_buf_fn process, size_t reply_capacity) {
    const struct fuse_in_header *h = buf->mem;
    uint64_t fh;
    int err = open_dir(se, process, h, &fh);
    if (err != 0) {
        sqliteos_reply_error(ch, h->unique, err);
        return;
    }
    unsigned char *copy = malloc(buf->size);
    struct capture c = { malloc(reply_capacity), reply_capacity, 0 };
    if (copy == NULL || c.buf == NULL) {
        close_dir(se, process, h, fh);
        sqliteos_reply_error(ch, h->unique, -ENOMEM);
    } else {
        memcpy(copy, buf->mem, buf->size);
        memcpy(copy + sizeof *h, &fh, sizeof fh);
        struct fuse_buf with_handle = { .size = buf->size, .mem = copy };
        sqliteos_internal_buf(se, process, &with_handle, &c);
        close_dir(se, process, h, fh);
        forward(ch, h->unique, &c);
    }
    free(copy);
    free(c.buf);
}

int sqliteos_serve_unopened(struct fuse_session *se, const struct fuse_buf *buf, struct fuse_chan *ch,
                            session_process_buf_fn process) {
    uint32_t what = unopened_request(buf);
    if (what == 0) {
        return 0;
    }
    const struct fuse_in_header *h = buf->mem;
    if (what == FUSE_OPENDIR) {
        sqliteos_reply_error(ch, h->unique, -ENOSYS); /* from now on the kernel opens directories itself */
    } else if (what == FUSE_READDIR) {
        struct io_in in;
        memcpy(&in, (const unsigned char *) buf->mem + sizeof *h, sizeof in);
        struct capture c = { malloc(OUT_HEADER + in.size), OUT_HEADER + in.size, 0 };
        int err = c.buf == NULL ? -ENOMEM : sqliteos_list_unopened(se, process, h, &in, &c);
        if (err != 0) {
            sqliteos_reply_error(ch, h->unique, err);
        } else {
            forward(ch, h->unique, &c); /* a process interrupted meanwhile: the listing goes on from here if asked */
        }
        free(c.buf);
    } else {
        uint32_t out_size = 0; /* an IOCTL's room for its answer, after its head */
        if (what == FUSE_IOCTL) {
            memcpy(&out_size, (const unsigned char *) buf->mem + sizeof *h + 28, sizeof out_size);
        }
        serve_with_handle(se, buf, ch, process, OUT_HEADER + 16 + (size_t) out_size + 4096);
    }
    return 1;
}
