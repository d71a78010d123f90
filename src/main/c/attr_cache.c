/*
 * Which attributes the kernel may cache, decided per reply.
 *
 * libfuse 2's high-level API sends one attribute timeout with every reply.
 * The kernel knows each name of a hard link as an inode of its own, so an
 * attribute cached under one name would go stale when the file changes
 * through another. Two kinds of node are safe to cache:
 *
 *  - directories: they have exactly one name, and the kernel refreshes their
 *    attributes itself when something changes in them; with them cached the
 *    kernel no longer asks for every directory on a path to check permissions;
 *  - other files with a single link, as a lookup, create, getattr or setattr
 *    reports them: all their changes pass through that one kernel inode. Only
 *    link(2) can give them a second name, and its reply (two links) tells the
 *    old kernel inode to drop its cached attributes before the reply goes out.
 *
 * Files with several links get a zero timeout. The timeout itself (zero while
 * a transaction is open) is the daemon's to set in libfuse's configuration.
 *
 * To tell which kernel inode holds a file's attributes, the table below
 * remembers, for each single-link file, the node of the last reply that
 * carried them. When the kernel forgets that node (FORGET, as it evicts the
 * inode), the entry goes too: otherwise every file looked up again after the
 * kernel dropped its inodes would cost a notification about a node the kernel
 * no longer has.
 *
 * It also lets the daemon tell the kernel to drop every name it has cached
 * (sqliteos_increment_epoch), which libfuse 2 has no call for.
 *
 * The daemon loads this library with RTLD_GLOBAL before libfuse, so libfuse's
 * own calls of the three reply functions land here (and of its worker loop:
 * worker_pool.c). Everything of libfuse's is looked up at run time through its
 * handle: it may be loaded RTLD_LOCAL.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "libfuse2.h"

/* Tells the daemon that this library is loaded (and replies and workers pass through it). */
const int sqliteos_libfuse_shim_version = 3;

/* Set on a thread that rehearses requests (rehearsal.c). */
extern __thread int sqliteos_rehearsing;

static void *real_attr, *real_entry, *real_create, *get_context, *get_session, *next_chan, *inval_inode, *chan_fd;

/*
 * The single-link files whose attributes the kernel may hold, by inode
 * number: which kernel node holds them, and until when. A slot is reused only
 * once its entry has expired or its node was forgotten; when none is free the
 * reply is not cached.
 */
#define SLOTS 65536
#define PROBES 8
#define MARGIN_NS 50000000LL /* the kernel rounds timeouts up to whole clock ticks */

struct cached {
    uint64_t ino;
    unsigned long node;
    int64_t until_ns;
    /*
     * Entry replies naming the node since it was recorded, less the lookups the
     * kernel has forgotten. The kernel forgets a node's lookups all at once as
     * it evicts the inode; a node looked up again meanwhile keeps its entry.
     */
    uint64_t lookups;
};

/* Where each recorded node's entry is, so that a FORGET finds it; stale once that slot holds another node. */
struct by_node {
    unsigned long node;
    uint32_t slot;
};

static struct cached table[SLOTS];
static struct by_node nodes[SLOTS];
static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;

static size_t slot_of(uint64_t key) {
    return (size_t) ((key * 0x9E3779B97F4A7C15ULL) >> 48) % SLOTS;
}

static int holds(const struct by_node *n, int64_t now) {
    const struct cached *c = &table[n->slot];
    return n->node != 0 && c->node == n->node && c->until_ns > now;
}

/* Notes where a node's entry is; without room (all probes in use) a FORGET will not find it. Lock held. */
static void note_node(const struct cached *c, int64_t now) {
    size_t base = slot_of(c->node);
    struct by_node *free_slot = NULL;
    for (int i = 0; i < PROBES; i++) {
        struct by_node *n = &nodes[(base + i) % SLOTS];
        if (n->node == c->node) {
            free_slot = n;
            break;
        }
        if (free_slot == NULL && !holds(n, now)) {
            free_slot = n;
        }
    }
    if (free_slot != NULL) {
        free_slot->node = c->node;
        free_slot->slot = (uint32_t) (c - table);
    }
}

/* The entry of a node, if recorded. Lock held. */
static struct cached *entry_of_node(unsigned long node, int64_t now) {
    size_t base = slot_of(node);
    for (int i = 0; i < PROBES; i++) {
        struct by_node *n = &nodes[(base + i) % SLOTS];
        if (n->node == node) {
            return holds(n, now) ? &table[n->slot] : NULL;
        }
    }
    return NULL;
}

/*
 * The channel to the kernel of the session that f (libfuse's handle) serves;
 * for f NULL, of the session whose request this thread serves. NULL if none.
 */
struct fuse_chan *sqliteos_channel(struct fuse *f) {
    get_session_fn session = (get_session_fn) libfuse_symbol(&get_session, "fuse_get_session");
    next_chan_fn chan = (next_chan_fn) libfuse_symbol(&next_chan, "fuse_session_next_chan");
    if (f == NULL) {
        get_context_fn context = (get_context_fn) libfuse_symbol(&get_context, "fuse_get_context");
        struct fuse_context *ctx = context == NULL ? NULL : context();
        f = ctx == NULL ? NULL : ctx->fuse;
    }
    if (f == NULL || session == NULL || chan == NULL) {
        return NULL;
    }
    struct fuse_session *se = session(f);
    return se == NULL ? NULL : chan(se, NULL);
}

/* The descriptor of that channel, for the notifications written to it directly; -1 if none. */
int sqliteos_channel_fd(struct fuse *f) {
    chan_fd_fn fd_of = (chan_fd_fn) libfuse_symbol(&chan_fd, "fuse_chan_fd");
    struct fuse_chan *ch = sqliteos_channel(f);
    return ch == NULL || fd_of == NULL ? -1 : fd_of(ch);
}

/* Tells the kernel that the attributes it holds for a node are stale (no page cache change). */
static void invalidate(unsigned long node) {
    inval_inode_fn inval = (inval_inode_fn) libfuse_symbol(&inval_inode, "fuse_lowlevel_notify_inval_inode");
    struct fuse_chan *ch = sqliteos_channel(NULL);
    if (ch != NULL && inval != NULL) {
        inval(ch, node, -1, 0); /* a node the kernel has already forgotten answers ENOENT: fine */
    }
}

/*
 * The timeout a reply carrying the attributes st to the kernel node `node` may
 * give them; invalidates what a new link made stale. A lookup (an entry reply)
 * adds one to the lookups the kernel holds on the node; a getattr does not.
 */
static double timeout_for(unsigned long node, const struct stat *st, double configured, int lookup) {
    if (sqliteos_rehearsing) {
        return 0.0; /* a rehearsal's node (rehearsal.c), not the mount's */
    }
    if (S_ISDIR(st->st_mode)) {
        return configured;
    }
    int cacheable = st->st_nlink == 1 && configured > 0;
    unsigned long stale = 0;
    int64_t now = now_ns();
    pthread_mutex_lock(&table_lock);
    size_t base = slot_of((uint64_t) st->st_ino);
    struct cached *mine = NULL, *free_slot = NULL;
    for (int i = 0; i < PROBES; i++) {
        struct cached *c = &table[(base + i) % SLOTS];
        if (c->until_ns > now && c->ino == (uint64_t) st->st_ino) {
            mine = c;
            break;
        }
        if (free_slot == NULL && c->until_ns <= now) {
            free_slot = c;
        }
    }
    if (mine != NULL && mine->node != node) {
        stale = mine->node; /* another kernel inode of this file holds attributes */
    }
    if (cacheable) {
        struct cached *c = mine != NULL ? mine : free_slot;
        if (c != NULL) {
            int same_node = c == mine && c->node == node;
            c->ino = (uint64_t) st->st_ino;
            c->node = node;
            c->until_ns = now + (int64_t) (configured * 1e9) + MARGIN_NS;
            c->lookups = same_node ? c->lookups + (lookup ? 1 : 0) : 1;
            if (!same_node) {
                note_node(c, now);
            }
        } else {
            cacheable = 0; /* no room to remember it: do not cache */
        }
    } else if (mine != NULL) {
        mine->until_ns = 0;
    }
    pthread_mutex_unlock(&table_lock);
    if (stale != 0) {
        invalidate(stale);
    }
    return cacheable ? configured : 0.0;
}

/*
 * Whether the kernel holds a lookup of the single-link file ino whose
 * attributes have not timed out: then it still has the name too, and a
 * listing (readdir_plus.c) need not bring another lookup of it.
 */
int sqliteos_kernel_holds(uint64_t ino) {
    int held = 0;
    int64_t now = now_ns();
    pthread_mutex_lock(&table_lock);
    size_t base = slot_of(ino);
    for (int i = 0; i < PROBES; i++) {
        const struct cached *c = &table[(base + i) % SLOTS];
        if (c->until_ns > now && c->ino == ino) {
            held = c->lookups > 0;
            break;
        }
    }
    pthread_mutex_unlock(&table_lock);
    return held;
}

/* The kernel forgets lookups of a node; lock held. */
static void forget_node(unsigned long node, uint64_t lookups, int64_t now) {
    struct cached *c = entry_of_node(node, now);
    if (c == NULL) {
        return;
    }
    if (c->lookups <= lookups) {
        c->until_ns = 0; /* the kernel no longer holds the node: nothing to invalidate later */
    } else {
        c->lookups -= lookups;
    }
}

/* Called with every FORGET and BATCH_FORGET before libfuse serves it. */
void sqliteos_forgetting(const struct fuse_buf *buf) {
    const struct fuse_in_header *in = buf->mem;
    const char *body = (const char *) buf->mem + sizeof *in;
    size_t length = in->len < buf->size ? in->len : buf->size;
    if (length < sizeof *in) {
        return;
    }
    size_t left = length - sizeof *in;
    int64_t now = now_ns();
    pthread_mutex_lock(&table_lock);
    if (in->opcode == FUSE_FORGET && left >= sizeof(struct forget_in)) {
        struct forget_in f;
        memcpy(&f, body, sizeof f);
        forget_node(in->nodeid, f.nlookup, now);
    } else if (in->opcode == FUSE_BATCH_FORGET && left >= sizeof(struct batch_forget_in)) {
        struct batch_forget_in batch;
        memcpy(&batch, body, sizeof batch);
        left -= sizeof batch;
        const char *at = body + sizeof batch;
        for (uint32_t i = 0; i < batch.count && left >= sizeof(struct forget_one); i++) {
            struct forget_one one;
            memcpy(&one, at, sizeof one);
            forget_node(one.nodeid, one.nlookup, now);
            at += sizeof one;
            left -= sizeof one;
        }
    }
    pthread_mutex_unlock(&table_lock);
}

int fuse_reply_attr(fuse_req_t req, const struct stat *attr, double attr_timeout) {
    reply_attr_fn fn = (reply_attr_fn) libfuse_symbol(&real_attr, "fuse_reply_attr");
    /* The reply goes to the node the request named (open_files.c notes it as the request starts). */
    unsigned long node = (unsigned long) sqliteos_attr_request_node();
    double timeout = S_ISDIR(attr->st_mode) ? attr_timeout
            : node != 0 ? timeout_for(node, attr, attr_timeout, 0) : 0.0;
    return fn(req, attr, timeout);
}

int fuse_reply_entry(fuse_req_t req, const struct fuse_entry_param *e) {
    reply_entry_fn fn = (reply_entry_fn) libfuse_symbol(&real_entry, "fuse_reply_entry");
    struct fuse_entry_param copy = *e;
    if (e->ino != 0) { /* node 0 is a negative entry: no attributes */
        copy.attr_timeout = timeout_for(e->ino, &e->attr, e->attr_timeout, 1);
    }
    return fn(req, &copy);
}

int fuse_reply_create(fuse_req_t req, const struct fuse_entry_param *e, const struct fuse_file_info *fi) {
    reply_create_fn fn = (reply_create_fn) libfuse_symbol(&real_create, "fuse_reply_create");
    struct fuse_entry_param copy = *e;
    copy.attr_timeout = timeout_for(e->ino, &e->attr, e->attr_timeout, 1);
    sqliteos_creating(e->ino, fi);
    int res = fn(req, &copy, fi);
    if (res != 0) {
        sqliteos_create_failed(e->ino, fi);
    }
    return res;
}

/*
 * Makes every name the kernel has cached for this mount stale at once, along
 * with any lookup reply still on its way (the kernel notes the epoch when it
 * sends a lookup). Returns 0, or -errno: EINVAL from a kernel older than 6.16,
 * which does not know the notification.
 */
long sqliteos_increment_epoch(struct fuse *f) {
    if (f == NULL) {
        return -ENOSYS;
    }
    int fd = sqliteos_channel_fd(f);
    if (fd < 0) {
        return -EBADF;
    }
    struct fuse_out_header notice = { sizeof notice, FUSE_NOTIFY_INC_EPOCH, 0 };
    ssize_t n = write(fd, &notice, sizeof notice);
    if (n < 0) {
        return -errno;
    }
    return n == (ssize_t) sizeof notice ? 0 : -EIO;
}
