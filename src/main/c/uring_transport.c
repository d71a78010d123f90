/*
 * FUSE over io_uring: requests come and replies go through ring entries the
 * daemon registers with the kernel, instead of read and write on /dev/fuse.
 * Linux offers it from 6.14 when the fuse module's enable_uring is set; the
 * daemon asks for it only when mounted with --io-uring (see the README for
 * when it is the faster of the two).
 *
 * Why: through /dev/fuse each request wakes a worker, usually on the other
 * processor, and its reply wakes the client there again; on a virtual machine
 * each of those is an interprocessor interrupt, and the worker pool spins
 * between requests to spare one of them. The kernel puts a request sent
 * through io_uring on the queue of the processor its client runs on, and the
 * entries of that queue belong to workers that run on that processor: the
 * request, its service and the client's wake-up stay on one processor, which
 * the client leaves free while it waits. Large READs are the exception: a
 * reader's readahead goes on beside the reader, so they are served on another
 * processor (move_off_queue).
 *
 * Each worker here owns one entry (a header buffer and a payload buffer the
 * kernel copies a request into and takes the reply from) and its own ring. The
 * kernel hands a request to an idle entry of its queue; with none idle it
 * keeps the request until an entry of that queue commits a reply, and an
 * entry registered meanwhile does not take it. A request that waits (a writer
 * waiting for another's transaction) holds its entry. So each queue keeps
 * SPARE entries idle: a worker that takes a request and leaves fewer starts
 * another, up to MAX_PER_QUEUE.
 *
 * FORGET, INTERRUPT and the INIT still come through /dev/fuse, where the
 * worker pool reads them, and notifications are still written there.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <liburing.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include "libfuse2.h"
#include "uring_transport.h"

/* The kernel's interface (include/uapi/linux/fuse.h, protocol 7.42): not in older headers. */
#define URING_CMD_REGISTER 1
#define URING_CMD_COMMIT_AND_FETCH 2
#define URING_FLAG2 (1u << 9)   /* FUSE_OVER_IO_URING, bit 41 of the INIT flags */
#define INIT_EXT_FLAG (1u << 30) /* FUSE_INIT_EXT: the INIT carries flags2 */

struct ent_in_out {
    uint64_t flags;
    uint64_t commit_id;
    uint32_t payload_sz;
    uint32_t padding;
    uint64_t reserved;
};

struct req_header {
    unsigned char in_out[128]; /* fuse_in_header of a request, fuse_out_header of its reply */
    unsigned char op_in[128];  /* the request's first argument, its per-opcode header */
    struct ent_in_out ent;
};

struct cmd_req {
    uint64_t flags;
    uint64_t commit_id;
    uint16_t qid;
    uint8_t padding[6];
};

/* Entries a queue keeps idle, at least, and has at most. */
#define SPARE 2
#define MAX_PER_QUEUE 64
#define MAX_QUEUES 1024

/* Room before the payload for the request's headers, which are moved there to make one buffer. */
#define HEAD_ROOM 256

#define STOP_TAG 1
#define ENTRY_TAG 2

struct entry {
    struct req_header headers;
    struct transport *t;
    int qid;
    int number;
    unsigned char *base;    /* HEAD_ROOM bytes, then the payload */
    unsigned char *payload;
    struct iovec iov[2];    /* read by the kernel as the entry registers */
    struct fuse_chan *ch;   /* whose send puts the reply into this entry */
    int replied;
    int data_in_place;      /* the reply's data was written into the payload already */
    pthread_t thread;
    struct entry *next;
};

struct queue {
    int idle;   /* entries waiting for a request, or about to */
    int total;  /* entries whose worker has not ended */
};

struct transport {
    struct fuse_session *se;
    int fd;
    size_t payload_size;
    sqliteos_serve_fn serve;
    sqliteos_attach_fn attach;
    int stop_fd;            /* an eventfd that every ring polls: written to make the workers end */
    pthread_mutex_t lock;
    /* guarded by lock: */
    int stopping;
    int started;
    struct entry *entries;
    int queue_count;
    struct queue *queues;
};

static struct transport *active;
/* The entry whose READ the calling thread serves, if it is an io_uring worker serving one. */
static __thread struct entry *serving_read;
static void *chan_new_sym, *chan_data_sym;

/*
 * Whether the daemon may take io_uring when the kernel offers it: only when
 * asked (--io-uring), which the daemon says before every mount.
 */
static int allowed = 0;

void sqliteos_uring_allow(int allow) {
    allowed = allow;
}

/*
 * Whether this process may make the rings it needs: io_uring may be refused
 * (kernel.io_uring_disabled). Asked before the INIT's answer asks for
 * io_uring: once it has, the kernel holds every request until each queue has
 * an entry.
 */
static int rings_allowed(void) {
    struct io_uring probe;
    if (io_uring_queue_init(1, &probe, IORING_SETUP_SQE128) < 0) {
        return 0;
    }
    io_uring_queue_exit(&probe);
    return 1;
}

int sqliteos_uring_offered(uint32_t kernel_flags, uint32_t kernel_flags2) {
    return allowed && (kernel_flags & INIT_EXT_FLAG) && (kernel_flags2 & URING_FLAG2)
            && libfuse_versioned(&chan_new_sym, "fuse_chan_new", "FUSE_2.6") != NULL
            && libfuse_symbol(&chan_data_sym, "fuse_chan_data") != NULL && rings_allowed();
}

void sqliteos_uring_amend_init(uint32_t *flags, uint32_t *flags2) {
    *flags |= INIT_EXT_FLAG;
    *flags2 |= URING_FLAG2;
}

/*
 * The kernel takes io_uring only once every queue has an entry, and a queue
 * whose workers have all ended (io_uring refused, say) serves nothing.
 */
int sqliteos_uring_active(void) {
    struct transport *t = __atomic_load_n(&active, __ATOMIC_ACQUIRE);
    if (t == NULL) {
        return 0;
    }
    int serving = 1;
    pthread_mutex_lock(&t->lock);
    for (int q = 0; q < t->queue_count; q++) {
        serving &= t->queues[q].total > 0;
    }
    pthread_mutex_unlock(&t->lock);
    return serving;
}

/*
 * Where a READ served by this thread may put its reply's data, at most size
 * bytes: the entry's payload, which the reply then leaves as it is instead of
 * copying the data there. NULL on any other thread or request. The caller must
 * reply with exactly the bytes it put there (the data of the reply it sends is
 * not looked at), or with an error.
 */
void *sqliteos_uring_read_buffer(size_t size) {
    struct entry *e = serving_read;
    if (e == NULL || size > e->t->payload_size) {
        return NULL;
    }
    e->data_in_place = 1;
    return e->payload;
}

/*
 * The entry's channel's send: the reply into the entry's buffers, to be
 * committed after the request. The reply's bytes may be split among the
 * vectors anywhere: its header goes to the header buffer, the rest to the payload.
 */
static int send_to_entry(struct fuse_chan *ch, const struct iovec iov[], size_t count) {
    struct entry *e = ((chan_data_fn) libfuse_symbol(&chan_data_sym, "fuse_chan_data"))(ch);
    struct fuse_out_header out;
    size_t header = 0, at = 0;
    for (size_t i = 0; i < count; i++) {
        const unsigned char *from = iov[i].iov_base;
        size_t n = iov[i].iov_len;
        if (header < sizeof out) {
            size_t part = n < sizeof out - header ? n : sizeof out - header;
            memcpy((unsigned char *) &out + header, from, part);
            header += part;
            from += part;
            n -= part;
        }
        if (n > e->t->payload_size - at) {
            return -E2BIG;
        }
        if (!e->data_in_place) {
            memmove(e->payload + at, from, n);
        }
        at += n;
    }
    if (header < sizeof out) {
        return -EINVAL;
    }
    memcpy(e->headers.in_out, &out, sizeof out);
    e->headers.ent.payload_sz = (uint32_t) at;
    e->replied = 1;
    return 0;
}

static void reply_error(struct entry *e, uint64_t unique, int error) {
    struct fuse_out_header out = { sizeof out, -error, unique };
    memcpy(e->headers.in_out, &out, sizeof out);
    e->headers.ent.payload_sz = 0;
}

/*
 * Serves the request the kernel put into the entry: its headers are moved in
 * front of its payload, so that libfuse sees it as read from /dev/fuse.
 * Returns the request's unique, to commit the reply under.
 */
static uint64_t serve_entry(struct entry *e) {
    struct fuse_in_header h;
    memcpy(&h, e->headers.in_out, sizeof h);
    size_t payload = e->headers.ent.payload_sz;
    e->replied = 0;
    if (h.len < sizeof h + payload || h.len - sizeof h - payload > sizeof e->headers.op_in
            || payload > e->t->payload_size) {
        fprintf(stderr, "sqliteos: io_uring request %u of %u bytes with a payload of %zu: answered EIO\n",
                h.opcode, h.len, payload);
        reply_error(e, h.unique, EIO);
        return h.unique;
    }
    size_t op = h.len - sizeof h - payload;
    unsigned char *start = e->payload - op - sizeof h;
    memcpy(start, &h, sizeof h);
    memcpy(start + sizeof h, e->headers.op_in, op);
    struct fuse_buf buf = { .size = h.len, .mem = start };
    e->data_in_place = 0;
    serving_read = h.opcode == FUSE_READ ? e : NULL;
    e->t->serve(e->t->se, &buf, e->ch);
    serving_read = NULL;
    if (!e->replied) {
        reply_error(e, h.unique, EIO); /* the kernel waits for an answer to every request it sends here */
    }
    return h.unique;
}

/* Puts the entry's command on the ring, to be submitted. Returns 0, or -EBUSY with the ring full. */
static int prepare_cmd(struct io_uring *ring, struct entry *e, uint32_t op, uint64_t commit_id) {
    struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
    if (sqe == NULL) {
        return -EBUSY; /* not with one command and one poll on a ring of four */
    }
    memset(sqe, 0, 128); /* the ring's entries are 128 bytes (IORING_SETUP_SQE128) */
    sqe->opcode = IORING_OP_URING_CMD;
    sqe->fd = e->t->fd;
    sqe->cmd_op = op;
    if (op == URING_CMD_REGISTER) {
        sqe->addr = (uint64_t) (uintptr_t) e->iov;
        sqe->len = 2;
    }
    struct cmd_req req = { .commit_id = commit_id, .qid = (uint16_t) e->qid };
    memcpy(sqe->cmd, &req, sizeof req);
    sqe->user_data = ENTRY_TAG;
    return 0;
}

static int add_entry(struct transport *t, int qid);

/*
 * Makes the kernel give io_uring up for this connection, when a queue could
 * not get its entries: otherwise it would hold every request, waiting for
 * them. A registration the kernel refuses (here, for a queue that does not
 * exist) has it fall back to /dev/fuse.
 */
static void give_up(struct transport *t) {
    struct io_uring ring;
    if (io_uring_queue_init(1, &ring, IORING_SETUP_SQE128) < 0) {
        fprintf(stderr, "sqliteos: cannot tell the kernel to give io_uring up: requests may wait\n");
        return;
    }
    struct entry none = { .t = t, .qid = 0xffff };
    none.iov[0] = (struct iovec) { &none.headers, sizeof none.headers };
    none.iov[1] = (struct iovec) { NULL, 0 };
    struct io_uring_cqe *cqe;
    if (prepare_cmd(&ring, &none, URING_CMD_REGISTER, 0) == 0 && io_uring_submit(&ring) == 1
            && io_uring_wait_cqe(&ring, &cqe) == 0) {
        io_uring_cqe_seen(&ring, cqe);
    }
    io_uring_queue_exit(&ring);
}

/* Notes that the entry took a request, and starts another entry if its queue has too few left idle. */
static void took_request(struct entry *e) {
    struct transport *t = e->t;
    pthread_mutex_lock(&t->lock);
    struct queue *q = &t->queues[e->qid];
    q->idle--;
    if (q->idle < SPARE && q->total < MAX_PER_QUEUE && !t->stopping) {
        add_entry(t, e->qid);
    }
    pthread_mutex_unlock(&t->lock);
}

/* Keeps the calling worker on its queue's processor, where the requests it serves come from. */
static void pin_to_queue(struct entry *e) {
    cpu_set_t cpus;
    CPU_ZERO(&cpus);
    CPU_SET(e->qid, &cpus);
    pthread_setaffinity_np(pthread_self(), sizeof cpus, &cpus);
}

/*
 * Moves the calling worker to the other processors, if there are any; true if
 * it did. For a large READ: those are a reader's readahead, sent from the
 * reader's processor while the reader goes on there (copying out what the
 * previous read brought), so served on that processor they would take turns
 * with the reader while the other processors idle. A move and the move back
 * cost tens of microseconds, a large read hundreds.
 */
static int move_off_queue(struct entry *e) {
    int processors = e->t->queue_count; /* one queue per possible processor */
    if (processors < 2) {
        return 0;
    }
    cpu_set_t cpus;
    CPU_ZERO(&cpus);
    for (int cpu = 0; cpu < processors && cpu < CPU_SETSIZE; cpu++) {
        if (cpu != e->qid) {
            CPU_SET(cpu, &cpus);
        }
    }
    return pthread_setaffinity_np(pthread_self(), sizeof cpus, &cpus) == 0;
}

/* Reads from this size up are served off the queue's processor. */
#define LARGE_READ (128 * 1024)

/* Whether the entry holds a READ of at least LARGE_READ bytes. */
static int is_large_read(const struct entry *e) {
    struct fuse_in_header h;
    memcpy(&h, e->headers.in_out, sizeof h);
    struct io_in in;
    if (h.opcode != FUSE_READ || h.len < sizeof h + sizeof in) {
        return 0;
    }
    memcpy(&in, e->headers.op_in, sizeof in);
    return in.size >= LARGE_READ;
}

static void idle_again(struct entry *e) {
    pthread_mutex_lock(&e->t->lock);
    e->t->queues[e->qid].idle++;
    pthread_mutex_unlock(&e->t->lock);
}

static void *run_entry(void *arg) {
    struct entry *e = arg;
    struct transport *t = e->t;
    pin_to_queue(e);
    char name[40];
    snprintf(name, sizeof name, "sqliteos-fuse-q%d-%d", e->qid, e->number);
    t->attach(name);

    struct io_uring ring;
    int err = io_uring_queue_init(4, &ring, IORING_SETUP_SQE128);
    if (err < 0) {
        fprintf(stderr, "sqliteos: io_uring_queue_init: %s\n", strerror(-err));
        pthread_mutex_lock(&t->lock);
        t->queues[e->qid].idle--;
        int last = --t->queues[e->qid].total == 0;
        pthread_mutex_unlock(&t->lock);
        if (last) {
            give_up(t);
        }
        return NULL;
    }
    struct io_uring_sqe *stop = io_uring_get_sqe(&ring);
    if (stop != NULL) {
        io_uring_prep_poll_add(stop, t->stop_fd, POLLIN);
        stop->user_data = STOP_TAG;
    }
    err = prepare_cmd(&ring, e, URING_CMD_REGISTER, 0);
    if (err == 0) {
        err = io_uring_submit(&ring);
    }
    while (err >= 0) {
        struct io_uring_cqe *cqe;
        err = io_uring_wait_cqe(&ring, &cqe);
        if (err == -EINTR) {
            err = 0;
            continue;
        }
        if (err < 0) {
            break;
        }
        uint64_t tag = cqe->user_data;
        int res = cqe->res;
        io_uring_cqe_seen(&ring, cqe);
        if (tag == STOP_TAG) {
            break;
        }
        if (res < 0) {
            err = res;
            break;
        }
        took_request(e);
        int moved = is_large_read(e) && move_off_queue(e);
        uint64_t unique = serve_entry(e);
        if (moved) {
            pin_to_queue(e); /* back before the reply: the next request of the queue comes from there */
        }
        idle_again(e);
        err = prepare_cmd(&ring, e, URING_CMD_COMMIT_AND_FETCH, unique);
        if (err == 0) {
            /*
             * The reply, then the wait: two system calls, not
             * io_uring_submit_and_wait. The reply wakes the client, which then
             * runs at once, and the worker, still runnable, waits its turn; if the
             * client's next request is there by then, the worker takes it without
             * having slept. The single call always sleeps in the wait: it saved
             * 0.6 calls a request and cost an open + read + close 10 us more, a
             * negative lookup 6 us. Yielding the processor after the reply, so
             * that the worker never sleeps before the client has run, was worse
             * still: 3,000 small files took 826 ms to write against 541.
             */
            err = io_uring_submit(&ring);
        }
    }
    /* ENOTCONN: the file system was unmounted */
    if (err < 0 && err != -ENOTCONN && err != -ECONNABORTED) {
        fprintf(stderr, "sqliteos: io_uring entry %d of queue %d: %s\n", e->number, e->qid, strerror(-err));
    }
    pthread_mutex_lock(&t->lock);
    t->queues[e->qid].idle--;
    t->queues[e->qid].total--;
    pthread_mutex_unlock(&t->lock);
    io_uring_queue_exit(&ring); /* cancels the entry's command if the kernel still holds it */
    return NULL;
}

/* Starts one more entry's worker on queue qid. Lock held. */
static int add_entry(struct transport *t, int qid) {
    struct entry *e = calloc(1, sizeof *e);
    if (e == NULL) {
        return -1;
    }
    e->t = t;
    e->qid = qid;
    e->number = ++t->started;
    e->base = malloc(HEAD_ROOM + t->payload_size);
    chan_new_fn chan_new = (chan_new_fn) libfuse_versioned(&chan_new_sym, "fuse_chan_new", "FUSE_2.6");
    struct fuse_chan_ops ops = { receive_nothing, send_to_entry, NULL };
    e->ch = e->base == NULL ? NULL : chan_new(&ops, t->fd, t->payload_size + 4096, e);
    if (e->ch == NULL) {
        free(e->base);
        free(e);
        return -1;
    }
    e->payload = e->base + HEAD_ROOM;
    e->iov[0] = (struct iovec) { &e->headers, sizeof e->headers };
    e->iov[1] = (struct iovec) { e->payload, t->payload_size };
    int res = sqliteos_start_worker(&e->thread, run_entry, e);
    if (res != 0) {
        free(e->ch);
        free(e->base);
        free(e);
        return -1;
    }
    t->queues[qid].idle++;
    t->queues[qid].total++;
    e->next = t->entries;
    t->entries = e;
    return 0;
}

/* The kernel's number of queues: one per possible processor, numbered from 0 as they are. */
static int possible_processors(void) {
    FILE *f = fopen("/sys/devices/system/cpu/possible", "r");
    char line[256];
    int highest = -1;
    if (f != NULL && fgets(line, sizeof line, f) != NULL) {
        /* a list of ranges, such as "0-1" or "0,2-7": the last number is the highest */
        char *last = line;
        for (char *c = line; *c != '\0'; c++) {
            if (*c == '-' || *c == ',') {
                last = c + 1;
            }
        }
        highest = atoi(last);
    }
    if (f != NULL) {
        fclose(f);
    }
    return highest >= 0 ? highest + 1 : get_nprocs_conf();
}

int sqliteos_uring_start(struct fuse_session *se, int fd, size_t payload_size, sqliteos_serve_fn serve,
                         sqliteos_attach_fn attach) {
    int queues = possible_processors();
    if (queues < 1 || queues > MAX_QUEUES) {
        return -EINVAL;
    }
    struct transport *t = calloc(1, sizeof *t);
    if (t == NULL) {
        return -ENOMEM;
    }
    t->queues = calloc((size_t) queues, sizeof *t->queues);
    t->stop_fd = eventfd(0, EFD_CLOEXEC);
    if (t->queues == NULL || t->stop_fd < 0) {
        if (t->stop_fd >= 0) {
            close(t->stop_fd);
        }
        free(t->queues);
        free(t);
        return -ENOMEM;
    }
    t->se = se;
    t->fd = fd;
    t->payload_size = payload_size;
    t->serve = serve;
    t->attach = attach;
    t->queue_count = queues;
    pthread_mutex_init(&t->lock, NULL);
    pthread_mutex_lock(&t->lock);
    int err = 0;
    for (int q = 0; q < queues && err == 0; q++) {
        for (int i = 0; i < SPARE && err == 0; i++) {
            err = add_entry(t, q);
        }
    }
    pthread_mutex_unlock(&t->lock);
    __atomic_store_n(&active, t, __ATOMIC_RELEASE);
    if (err != 0) {
        fprintf(stderr, "sqliteos: could not start the io_uring workers\n");
        give_up(t);
        sqliteos_uring_stop();
        return -EAGAIN;
    }
    return 0;
}

void sqliteos_uring_stop(void) {
    struct transport *t = __atomic_exchange_n(&active, NULL, __ATOMIC_ACQ_REL);
    if (t == NULL) {
        return;
    }
    pthread_mutex_lock(&t->lock);
    t->stopping = 1; /* no entry is added from here on: the list is final */
    pthread_mutex_unlock(&t->lock);
    uint64_t one = 1;
    if (write(t->stop_fd, &one, sizeof one) != sizeof one) {
        fprintf(stderr, "sqliteos: could not tell the io_uring workers to stop: %s\n", strerror(errno));
    }
    for (struct entry *e = t->entries; e != NULL;) {
        struct entry *next = e->next;
        pthread_join(e->thread, NULL);
        free(e->ch); /* never part of the session: nothing else refers to it */
        free(e->base);
        free(e);
        e = next;
    }
    close(t->stop_fd);
    /*
     * The transport itself stays, a few hundred bytes for the daemon's life:
     * a caller of sqliteos_uring_active may still be looking at it.
     */
    t->entries = NULL;
}
