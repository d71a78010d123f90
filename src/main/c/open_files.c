/*
 * Open files by kernel node, so that fstat works on a file that has lost its
 * name.
 *
 * The kernel asks for a file's attributes without naming an open handle even
 * when a process calls fstat(2), and libfuse 2's high-level API answers such
 * a request through the file's path. A file that is open but unlinked (a
 * temporary file, as databases make them) or replaced by a rename has no path,
 * so fstat failed with ENOENT although reads and writes through the same
 * descriptor worked. This file records which handles are open on each node
 * (from the replies to OPEN and CREATE, until their RELEASE) and, before a
 * GETATTR without a handle is processed, names one of the node's handles in
 * it, as the kernel does for a getattr during I/O. libfuse then asks the
 * daemon by handle, which finds the inode whatever its names. A RELEASE of
 * that handle waits until such a GETATTR has been served.
 *
 * Only requests of the mounted session pass here; a rehearsal's (rehearsal.c)
 * replies are ignored.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "libfuse2.h"

extern __thread int sqliteos_rehearsing;

#define FUSE_GETATTR_FH (1 << 0)

struct fuse_getattr_in {
    uint32_t getattr_flags;
    uint32_t dummy;
    uint64_t fh;
};
struct fuse_release_in {
    uint64_t fh;
    uint32_t flags;
    uint32_t release_flags;
    uint64_t lock_owner;
};

typedef int (*reply_open_fn)(fuse_req_t, const struct fuse_file_info *);

struct handle {
    uint64_t node;
    uint64_t fh;
    int users; /* GETATTRs being served through this handle */
    struct handle *next;
};

#define BUCKET_BITS 12
static struct handle *buckets[1 << BUCKET_BITS];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
/* Signalled when a handle's last GETATTR is served, for the RELEASE waiting on it. */
static pthread_cond_t unused = PTHREAD_COND_INITIALIZER;
static void *real_open;

/* The request this thread is processing: its opcode and node, and the handle it uses. */
static __thread uint32_t current_opcode;
static __thread uint64_t current_node;
static __thread struct handle *pinned;

static struct handle **bucket(uint64_t node) {
    return &buckets[(node * 0x9E3779B97F4A7C15ULL) >> (64 - BUCKET_BITS)];
}

static void add(uint64_t node, uint64_t fh) {
    struct handle *h = calloc(1, sizeof *h);
    if (h == NULL) {
        return; /* only fstat of this handle's file, once unlinked, is lost */
    }
    h->node = node;
    h->fh = fh;
    pthread_mutex_lock(&lock);
    struct handle **b = bucket(node);
    h->next = *b;
    *b = h;
    pthread_mutex_unlock(&lock);
}

/*
 * Forgets a handle that is being released. A GETATTR that named it must be
 * served first: the daemon would no longer know the handle once released.
 */
static void remove_handle(uint64_t node, uint64_t fh) {
    pthread_mutex_lock(&lock);
    for (struct handle **at = bucket(node); *at != NULL; at = &(*at)->next) {
        if ((*at)->node == node && (*at)->fh == fh) {
            struct handle *gone = *at;
            *at = gone->next;
            while (gone->users > 0) {
                pthread_cond_wait(&unused, &lock);
            }
            free(gone);
            break;
        }
    }
    pthread_mutex_unlock(&lock);
}

/* One open handle of the node (the latest), held for this thread's request; NULL if none. */
static struct handle *pin_any(uint64_t node) {
    struct handle *found = NULL;
    pthread_mutex_lock(&lock);
    for (struct handle *h = *bucket(node); h != NULL; h = h->next) {
        if (h->node == node) {
            h->users++;
            found = h;
            break;
        }
    }
    pthread_mutex_unlock(&lock);
    return found;
}

/* Called by the worker loop with each request it is about to process. */
void sqliteos_request_starting(const struct fuse_buf *buf) {
    current_opcode = 0;
    if (buf->flags & FUSE_BUF_IS_FD) {
        return;
    }
    struct fuse_in_header *in = buf->mem;
    current_opcode = in->opcode;
    current_node = in->nodeid;
    if (in->opcode == FUSE_GETATTR && in->len >= sizeof *in + sizeof(struct fuse_getattr_in)) {
        struct fuse_getattr_in *arg = (struct fuse_getattr_in *) (in + 1);
        if (!(arg->getattr_flags & FUSE_GETATTR_FH)) {
            pinned = pin_any(in->nodeid);
            if (pinned != NULL) {
                arg->getattr_flags |= FUSE_GETATTR_FH;
                arg->fh = pinned->fh;
            }
        }
    } else if (in->opcode == FUSE_RELEASE && in->len >= sizeof *in + sizeof(struct fuse_release_in)) {
        remove_handle(in->nodeid, ((struct fuse_release_in *) (in + 1))->fh);
    }
}

/* The node of the GETATTR or SETATTR this thread is serving (whose attributes a reply carries), or 0. */
uint64_t sqliteos_attr_request_node(void) {
    return current_opcode == FUSE_GETATTR || current_opcode == FUSE_SETATTR ? current_node : 0;
}

/* The node of the OPEN this thread is serving (page_store.c), or 0. */
uint64_t sqliteos_open_request_node(void) {
    return current_opcode == FUSE_OPEN ? current_node : 0;
}

/* The node of the READ this thread is serving (page_store.c), or 0. */
uint64_t sqliteos_read_request_node(void) {
    return current_opcode == FUSE_READ ? current_node : 0;
}

/* The nodes that have open handles (undone_pages.c), each once, in an array to free; NULL if none or out of memory. */
uint64_t *sqliteos_open_nodes(size_t *count) {
    *count = 0;
    pthread_mutex_lock(&lock);
    size_t handles = 0;
    for (size_t b = 0; b < sizeof buckets / sizeof buckets[0]; b++) {
        for (struct handle *h = buckets[b]; h != NULL; h = h->next) {
            handles++;
        }
    }
    uint64_t *nodes = handles == 0 ? NULL : malloc(handles * sizeof *nodes);
    if (nodes != NULL) {
        for (size_t b = 0; b < sizeof buckets / sizeof buckets[0]; b++) {
            for (struct handle *h = buckets[b]; h != NULL; h = h->next) {
                int seen = 0; /* a node's handles share its bucket: look back among this bucket's */
                for (struct handle *e = buckets[b]; e != h; e = e->next) {
                    seen |= e->node == h->node;
                }
                if (!seen) {
                    nodes[(*count)++] = h->node;
                }
            }
        }
    }
    pthread_mutex_unlock(&lock);
    return nodes;
}

/* Called by the worker loop once the request has been served. */
void sqliteos_request_finished(void) {
    current_opcode = 0;
    if (pinned != NULL) {
        pthread_mutex_lock(&lock);
        if (--pinned->users == 0) {
            pthread_cond_broadcast(&unused);
        }
        pthread_mutex_unlock(&lock);
        pinned = NULL;
    }
}

/*
 * Handles are recorded before the reply to OPEN or CREATE goes out: once it
 * has, the process may rename the file away and fstat it at once, and a worker
 * descheduled between its reply and the record made that fstat fail (ENOENT).
 * A failed reply (the open was interrupted) makes libfuse release the handle
 * itself, so its record goes again.
 */

/* Called by fuse_reply_create (attr_cache.c) before the reply: the new file's node is in it. */
void sqliteos_creating(uint64_t node, const struct fuse_file_info *fi) {
    if (!sqliteos_rehearsing && current_opcode == FUSE_CREATE) {
        add(node, fi->fh);
    }
}

/* Called by fuse_reply_create when the reply could not be sent. */
void sqliteos_create_failed(uint64_t node, const struct fuse_file_info *fi) {
    if (!sqliteos_rehearsing && current_opcode == FUSE_CREATE) {
        remove_handle(node, fi->fh);
    }
}

int fuse_reply_open(fuse_req_t req, const struct fuse_file_info *fi) {
    reply_open_fn fn = (reply_open_fn) libfuse_symbol(&real_open, "fuse_reply_open");
    int recorded = !sqliteos_rehearsing && current_opcode == FUSE_OPEN;
    if (recorded) {
        add(current_node, fi->fh);
    }
    int res = fn(req, fi);
    if (res != 0 && recorded) {
        remove_handle(current_node, fi->fh);
    }
    return res;
}
