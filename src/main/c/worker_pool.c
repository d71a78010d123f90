/*
 * The daemon's own fuse_session_loop_mt: worker threads that read requests
 * from the kernel and serve them.
 *
 * One worker at a time reads from the kernel (the listener); the idle others
 * wait in a stack, the most recently idle on top. A listener that takes a
 * request serves it itself and then reads the next one, so one client's
 * requests in a row are served by the same thread. With every idle worker
 * reading, as libfuse does, the kernel hands each request to the worker that
 * has waited longest: one client's requests went round all the workers, each
 * waking a different thread, and a create or an unlink cost a quarter more
 * (10,000 creates: 1.3-1.9 s against 1.0-1.5 s for a single worker).
 *
 * A listener that has just replied watches for the next request for up to 50
 * microseconds before it blocks in read: on a VM a thread's sleep and wake-up
 * cost more than that wait, and a client's next request usually comes sooner.
 *
 * While requests queue up (several clients at work, as git status's threads
 * stat files), a listener finds the next one already waiting each time it has
 * replied. After eight such replies in a row it runs at the lowest real-time
 * priority until a read finds the queue empty: each reply wakes a client, and
 * at normal priority the woken client took the listener's processor every
 * other request, leaving the whole queue unserved meanwhile (a cold stat of
 * 15,000 files from 20 threads took a third longer). It never watches at that
 * priority: once the queue is empty it gives its processor back at once.
 * Raising the priority needs root or CAP_SYS_NICE; without it, or with
 * --no-priority-boost, workers keep their normal one.
 *
 * The worker on top of the stack (the standby) looks at the listener every
 * millisecond while requests come in, and takes over the reading when the
 * listener is serving a request and
 *  - other requests are waiting (several clients at work: they are then
 *    served in parallel), or
 *  - it has served that one request for a millisecond or more (a writer
 *    waiting for a transaction, a large write).
 * So no request waits behind another for much more than a millisecond. After
 * a tenth of a second without requests the standby stops looking until the
 * next one. A worker is added when none waits as a listener takes a request,
 * and ends only when MAX_IDLE wait, so that an ordinary load keeps the same
 * workers throughout.
 *
 * Each worker is attached to the JVM for its whole life. Otherwise the JNI
 * glue attaches a thread for every call into Java and detaches it again (for
 * its first thousand calls), and libfuse's own loop ends a worker whenever
 * more than ten are idle, so its workers rarely got past those thousand calls.
 * Making and unmaking a JVM thread costs far more than serving a request: under
 * bursts of parallel requests (git status stats files from many threads) it
 * took 45% of the daemon's CPU, and even one client's requests paid it.
 *
 * With --io-uring, where the kernel offers FUSE over io_uring, the workers of
 * uring_transport.c serve the requests once the INIT exchange is done; the
 * workers here then read only what still comes through /dev/fuse (FORGETs and
 * INTERRUPTs), and block in read without the watch.
 *
 * libfuse calls this function through its PLT, so the definition here (loaded
 * RTLD_GLOBAL before libfuse) replaces its own.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>

#include <jni.h>

#include "libfuse2.h"
#include "uring_transport.h"

/* Idle workers kept: more than any client of an ordinary load runs in parallel. */
#define MAX_IDLE 64

/* How long one request may hold the only listener before the standby reads in its place. */
#define TAKEOVER_NS 1000000L

/* How long a worker that has just replied looks for the next request before it sleeps in read. */
#define SPIN_NS 50000L

/*
 * Replies in a row after which the next request was already waiting: then the
 * listener serves a queue. One client's requests come in bursts of two or
 * three (a close's FLUSH, then its RELEASE), and are no queue.
 */
#define QUEUE_STREAK 8
/* A read that took longer than this slept: the queue was empty. */
#define SLEPT_NS 20000L

/* Checks without a new request before the standby stops checking (until the next one comes). */
#define QUIET_CHECKS 100
/*
 * Through io_uring only FORGETs (and the rare INTERRUPT) reach /dev/fuse, and
 * nobody waits for them: after serving some, the listener lets the next ones
 * gather this long, so that the kernel hands them over as one BATCH_FORGET
 * instead of waking it for each unlinked or evicted file.
 */
#define FORGET_GATHER_NS 1000000L

/*
 * The largest read or write one request may carry: 1 MiB (256 pages), the
 * kernel's limit since protocol 7.28. libfuse 2 speaks 7.19, whose limit is
 * 32 pages (128 KiB); see large_requests below.
 */
#define MAX_PAGES 256
#define REQUEST_BUFFER_BYTES (MAX_PAGES * 4096 + 4096)

static void *chan_new_sym, *chan_send_sym, *chan_data_sym;
static void *receive_buf_sym, *process_buf_sym, *exited_sym, *exit_sym, *reset_sym, *next_chan_sym,
        *bufsize_sym, *chan_fd_sym, *real_loop_sym;

typedef jint (*created_vms_fn)(JavaVM **, jsize, jsize *);

/* The JVM this library runs in, or NULL when there is none to attach to. */
static JavaVM *the_jvm(void) {
    created_vms_fn created = (created_vms_fn) dlsym(RTLD_DEFAULT, "JNI_GetCreatedJavaVMs");
    JavaVM *vm = NULL;
    jsize count = 0;
    if (created == NULL || created(&vm, 1, &count) != JNI_OK || count < 1) {
        return NULL;
    }
    return vm;
}

struct worker {
    pthread_t thread;
    struct worker *next;    /* in the pool's list of all workers */
    struct worker *below;   /* in the stack of waiting workers */
    struct pool *pool;
    void *buf;
    int number;
    pthread_cond_t wake;    /* signalled to make a waiting worker listen, or look again */
    int called;             /* told to listen; guarded by the pool's lock */
};

struct pool {
    struct fuse_session *se;
    struct fuse_chan *ch;
    int fd;
    size_t bufsize;
    session_receive_buf_fn receive;
    session_process_buf_fn process;
    session_exited_fn exited;
    session_void_fn exit_session;
    pthread_mutex_t lock;
    /* all guarded by lock: */
    int listening;          /* a worker reads from the kernel, or is about to */
    int busy;               /* workers serving a request */
    unsigned long taken;    /* requests taken so far */
    int standby_asleep;     /* the standby stopped checking for want of requests */
    struct worker *waiting; /* the stack of idle workers, most recent on top */
    int waiting_count;
    int started;
    int stopping;
    int error;
    struct worker *workers;
    sem_t finished;         /* posted by a worker that stops reading */
};

static void *serve(void *arg);

/*
 * Starts a thread that serves requests. Signals go to the daemon's other
 * threads: it starts with all of them blocked, but for the profiling timer's,
 * so that a sampling profiler attached to the JVM sees it too (the JVM
 * installs no handler for that one).
 */
int sqliteos_start_worker(pthread_t *thread, void *(*run)(void *), void *arg) {
    sigset_t all, old;
    sigfillset(&all);
    sigdelset(&all, SIGPROF);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int res = pthread_create(thread, NULL, run, arg);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return res;
}

static void serve_request(struct fuse_session *se, const struct fuse_buf *buf, struct fuse_chan *ch);
static void attach_named(const char *name);

/* Starts one more worker, which listens if nobody does and waits otherwise. Called with the lock held. */
static int add_worker(struct pool *p) {
    struct worker *w = calloc(1, sizeof *w);
    if (w == NULL) {
        return -1;
    }
    w->pool = p;
    w->number = p->started + 1; /* before the thread starts: it names itself after it */
    w->buf = malloc(p->bufsize);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    int cond = w->buf == NULL ? -1 : pthread_cond_init(&w->wake, &attr);
    pthread_condattr_destroy(&attr);
    if (cond != 0) {
        free(w->buf);
        free(w);
        return -1;
    }
    int res = sqliteos_start_worker(&w->thread, serve, w);
    if (res != 0) {
        pthread_cond_destroy(&w->wake);
        free(w->buf);
        free(w);
        return -1;
    }
    p->started++;
    w->next = p->workers;
    p->workers = w;
    return 0;
}

static void free_worker(struct worker *w) {
    pthread_cond_destroy(&w->wake);
    free(w->buf);
    free(w);
}

/*
 * Large requests. The kernel sends reads and writes of up to 1 MiB to a file
 * system that answers its INIT with protocol 7.28 or later, the flag
 * FUSE_MAX_PAGES and a max_pages; libfuse 2 answers with 7.19, and requests
 * stay at 128 KiB: eight times the round trips, each dear on a virtual
 * machine, for a large read or write. So the loop serves the INIT on a
 * channel of its own whose send amends libfuse's answer on its way to the
 * kernel: minor 28, FUSE_MAX_PAGES, max_pages 256. The channel also reports a
 * buffer of 1 MiB and more, so that libfuse offers writes of that size (the
 * max_write option permitting), and every worker reads into a buffer that
 * large. Nothing else changes with the minor: the kernel tells the formats
 * of its requests by the minor of its own INIT, which libfuse reads as ever,
 * and the features added up to 7.28 are flags libfuse does not set, or
 * requests it answers with ENOSYS, after which the kernel does without them
 * (lseek, copy_file_range), as it did before.
 */
#define FUSE_MAX_PAGES_FLAG (1u << 22)
#define LARGE_REQUESTS_MINOR 28

/* The same answer takes on clearing set-ID bits where the kernel offers it: see set_id_bits.c. */
uint32_t sqliteos_privilege_flags(uint32_t kernel_flags);
void sqliteos_amend_setattr(struct fuse_in_header *in);
static uint32_t kernel_init_flags;
/* Whether the INIT's answer asks for io_uring (uring_transport.c), and the payload it allows. */
static int uring_wanted, uring_accepted;
static size_t uring_payload;
/* READDIRPLUS, served by readdir_plus.c: the INIT flags that offer it, when it can be served. */
uint32_t sqliteos_readdirplus_flags(uint32_t kernel_flags, int fd, size_t bufsize);
int sqliteos_is_readdirplus(const struct fuse_buf *buf);
void sqliteos_serve_readdirplus(struct fuse_session *se, const struct fuse_buf *buf, struct fuse_chan *ch,
                                session_process_buf_fn process);
void sqliteos_noting_lookup(const struct fuse_buf *buf);
static uint32_t readdirplus_flags;

/* fuse_init_out as of 7.28 and later, zero past max_pages; libfuse 2 sends its first 24 bytes */
struct init_out {
    uint32_t major, minor, max_readahead, flags;
    uint16_t max_background, congestion_threshold;
    uint32_t max_write, time_gran;
    uint16_t max_pages, map_alignment;
    uint32_t unused[8];
};

static int is_init(const struct fuse_buf *buf) {
    return !(buf->flags & FUSE_BUF_IS_FD) && buf->size >= sizeof(struct fuse_in_header) + sizeof(struct fuse_init_in)
            && ((const struct fuse_in_header *) buf->mem)->opcode == FUSE_INIT;
}

/* The INIT channel's send: libfuse's answer, amended, to the kernel's channel (its data). */
static int send_large_init(struct fuse_chan *ch, const struct iovec iov[], size_t count) {
    struct fuse_chan *kernel = ((chan_data_fn) libfuse_symbol(&chan_data_sym, "fuse_chan_data"))(ch);
    chan_send_fn send = (chan_send_fn) libfuse_symbol(&chan_send_sym, "fuse_chan_send");
    struct fuse_out_header out;
    struct init_out init;
    if (count != 2 || iov[0].iov_len != sizeof out || iov[1].iov_len < 24 || iov[1].iov_len > sizeof init) {
        return send(kernel, iov, count); /* an error, or not the 7.19 answer: as it is */
    }
    memcpy(&out, iov[0].iov_base, sizeof out);
    memset(&init, 0, sizeof init);
    memcpy(&init, iov[1].iov_base, iov[1].iov_len);
    if (out.error != 0 || init.major != 7 || init.minor >= LARGE_REQUESTS_MINOR) {
        return send(kernel, iov, count);
    }
    init.minor = LARGE_REQUESTS_MINOR;
    init.flags |= FUSE_MAX_PAGES_FLAG | sqliteos_privilege_flags(kernel_init_flags) | readdirplus_flags;
    init.max_pages = MAX_PAGES;
    if (uring_wanted) {
        sqliteos_uring_amend_init(&init.flags, &init.unused[0]); /* unused[0] is flags2 since 7.36 */
        /* the kernel's largest request or reply: as its ring sizes its buffers */
        uring_payload = (size_t) MAX_PAGES * 4096;
        if (init.max_write > uring_payload) {
            uring_payload = init.max_write;
        }
    }
    out.len = sizeof out + sizeof init;
    struct iovec amended[2] = { { &out, sizeof out }, { &init, sizeof init } };
    int res = send(kernel, amended, 2);
    uring_accepted = uring_wanted && res == 0;
    return res;
}

/*
 * Serves the kernel's INIT, asking for large requests when the kernel knows
 * them (7.28 and later); otherwise, or when libfuse lacks a function, as
 * libfuse would.
 */
static void serve_init(struct pool *p, struct fuse_buf *buf, struct fuse_chan *ch) {
    const struct fuse_init_in *in = (const struct fuse_init_in *) ((const char *) buf->mem + sizeof(struct fuse_in_header));
    chan_new_fn chan_new = (chan_new_fn) libfuse_versioned(&chan_new_sym, "fuse_chan_new", "FUSE_2.6");
    struct fuse_chan *init_chan = NULL;
    if (in->major == 7 && in->minor >= LARGE_REQUESTS_MINOR && chan_new != NULL
            && libfuse_symbol(&chan_data_sym, "fuse_chan_data") != NULL
            && libfuse_symbol(&chan_send_sym, "fuse_chan_send") != NULL) {
        struct fuse_chan_ops ops = { receive_nothing, send_large_init, NULL };
        kernel_init_flags = in->flags;
        readdirplus_flags = sqliteos_readdirplus_flags(in->flags, p->fd, p->bufsize);
        sqliteos_dirs_unopened_offered(in->flags, p->fd, p->bufsize);
        /* flags2 follows flags in the INIT of 7.36 and later */
        uint32_t flags2 = 0;
        if (buf->size >= sizeof(struct fuse_in_header) + sizeof *in + sizeof flags2) {
            memcpy(&flags2, (const char *) in + sizeof *in, sizeof flags2);
        }
        uring_wanted = sqliteos_uring_offered(in->flags, flags2);
        init_chan = chan_new(&ops, p->fd, p->bufsize, ch);
    }
    p->process(p->se, buf, init_chan != NULL ? init_chan : ch);
    free(init_chan); /* never part of the session: nothing else refers to it */
    if (uring_accepted && sqliteos_uring_start(p->se, p->fd, uring_payload, serve_request, attach_named) != 0) {
        fprintf(stderr, "sqliteos: requests come through /dev/fuse, not io_uring\n");
    }
}

static session_process_buf_fn process_buf;

/* Serves a request other than INIT and FORGET, from /dev/fuse or from io_uring. */
static void serve_request(struct fuse_session *se, const struct fuse_buf *buf, struct fuse_chan *ch) {
    if (!(buf->flags & FUSE_BUF_IS_FD)) {
        sqliteos_amend_setattr(buf->mem);
    }
    sqliteos_request_starting(buf);
    if (readdirplus_flags != 0 && sqliteos_is_readdirplus(buf)) {
        sqliteos_serve_readdirplus(se, buf, ch, process_buf);
    } else if (sqliteos_serve_unopened(se, buf, ch, process_buf)) {
        /* served: a directory the kernel did not open (unopened_dirs.c) */
    } else {
        if (readdirplus_flags != 0) {
            sqliteos_noting_lookup(buf);
        }
        process_buf(se, buf, ch);
    }
    sqliteos_request_finished();
}

static int is_forget(const struct fuse_buf *buf) {
    if (buf->flags & FUSE_BUF_IS_FD) {
        return 0;
    }
    uint32_t op = ((const struct fuse_in_header *) buf->mem)->opcode;
    return op == FUSE_FORGET || op == FUSE_BATCH_FORGET;
}

/* Whether the kernel already holds another request (several clients at work). */
static int more_waiting(struct pool *p) {
    struct pollfd pfd = { .fd = p->fd, .events = POLLIN };
    return p->fd >= 0 && poll(&pfd, 1, 0) > 0 && (pfd.revents & POLLIN);
}

/*
 * Returns once a request waits, or after SPIN_NS: then the caller blocks in
 * read. Returns 1 when a request was waiting already.
 */
static int await_briefly(struct pool *p) {
    int64_t until = now_ns() + SPIN_NS;
    int at_once = 1;
    do {
        if (more_waiting(p)) {
            return at_once;
        }
        at_once = 0;
    } while (now_ns() < until);
    return 0;
}

/* Whether a listener serving a queue may raise its priority: the daemon's choice, then the kernel's. */
static int boost_allowed = 0;
static int boost_refused = 0;

void sqliteos_priority_boost_allow(int allow) {
    boost_allowed = allow;
}

/*
 * Raises the calling worker to the lowest real-time priority, or lowers it
 * back; returns whether it now is raised. A thread the raised worker starts
 * (a new worker, or one a Java pool starts on it) would inherit the priority
 * for good, so the kernel resets it in new threads (SCHED_RESET_ON_FORK).
 */
static int set_boosted(int boosted) {
    struct sched_param param = { .sched_priority = boosted ? 1 : 0 };
    int err = sched_setscheduler(0, boosted ? SCHED_FIFO | SCHED_RESET_ON_FORK : SCHED_OTHER, &param) == 0 ? 0 : errno;
    if (err == 0) {
        return boosted;
    }
    if (boosted && !__atomic_exchange_n(&boost_refused, 1, __ATOMIC_RELAXED)) {
        fprintf(stderr, "sqliteos: workers keep their normal priority under load: %s (raising it needs root or"
                " CAP_SYS_NICE)\n", strerror(err));
    }
    return !boosted;
}

/* Detaches a worker as it ends, however it ends (a cancelled one too): the destructor of attached_key. */
static void detach(void *arg) {
    JavaVM *vm = arg;
    (*vm)->DetachCurrentThread(vm);
}

static pthread_key_t attached_key;
static pthread_once_t attached_key_once = PTHREAD_ONCE_INIT;

static void make_attached_key(void) {
    pthread_key_create(&attached_key, detach);
}

/* The JVM the workers attach to, or NULL. */
static JavaVM *workers_jvm;

/* Attaches the calling worker to the JVM until it ends. */
static void attach_named(const char *name) {
    JavaVM *vm = workers_jvm;
    if (vm == NULL) {
        return;
    }
    JavaVMAttachArgs args = { JNI_VERSION_1_6, (char *) name, NULL };
    void *env;
    if ((*vm)->AttachCurrentThreadAsDaemon(vm, &env, &args) == JNI_OK) {
        pthread_once(&attached_key_once, make_attached_key);
        pthread_setspecific(attached_key, vm);
    }
}

/* Takes the top worker off the stack; the next one becomes the standby. Lock held. */
static struct worker *pop_top(struct pool *p) {
    struct worker *top = p->waiting;
    p->waiting = top->below;
    p->waiting_count--;
    if (p->waiting != NULL) {
        p->standby_asleep = 0;
        pthread_cond_signal(&p->waiting->wake); /* the new standby: to start checking */
    }
    return top;
}

/* Takes the top worker off the stack and tells it to listen. Lock held. */
static void call_top(struct pool *p) {
    struct worker *top = pop_top(p);
    top->called = 1;
    pthread_cond_signal(&top->wake);
}

/*
 * Makes another worker listen while this one serves its request: the standby,
 * or a new worker (which listens as it starts, as nobody does). Lock held.
 */
static void hand_over_listening(struct pool *p) {
    if (p->stopping) {
        return;
    }
    if (p->waiting != NULL) {
        p->listening = 1;
        call_top(p);
    } else {
        add_worker(p); /* if that fails, this worker reads the next request when done */
    }
}

static void deadline_in(struct timespec *t, long ns) {
    clock_gettime(CLOCK_MONOTONIC, t);
    t->tv_nsec += ns;
    if (t->tv_nsec >= 1000000000L) {
        t->tv_sec++;
        t->tv_nsec -= 1000000000L;
    }
}

/*
 * Waits on the stack until told to listen (returns 0, listening is set) or
 * until the pool stops (returns 1). On top of the stack it is the standby: it
 * takes over from a listener that has served one request for a millisecond.
 * Called with the lock held.
 */
static int wait_turn(struct worker *w) {
    struct pool *p = w->pool;
    w->called = 0;
    w->below = p->waiting;
    p->waiting = w;
    p->waiting_count++;
    p->standby_asleep = 0;
    unsigned long seen = p->taken;
    int quiet = 0;
    while (!w->called && !p->stopping) {
        if (p->waiting != w || p->standby_asleep) {
            pthread_cond_wait(&w->wake, &p->lock);
            seen = p->taken;
            quiet = 0;
            continue;
        }
        struct timespec until;
        deadline_in(&until, TAKEOVER_NS);
        if (pthread_cond_timedwait(&w->wake, &p->lock, &until) != ETIMEDOUT || w->called || p->waiting != w) {
            continue;
        }
        int stuck = p->taken == seen; /* the listener has served one request for a millisecond or more */
        if (!stuck) {
            seen = p->taken;
            quiet = 0;
        }
        if (!p->listening && p->busy > 0 && (stuck || more_waiting(p))) {
            pop_top(p); /* this worker is the top */
            p->listening = 1;
            return 0;
        } else if (stuck && ++quiet >= QUIET_CHECKS) {
            p->standby_asleep = 1; /* until a listener takes a request */
        }
    }
    return w->called && !p->stopping ? 0 : 1;
}

/* Takes a worker off the list and lets it go; called with the lock held, by the worker itself. */
static void retire(struct pool *p, struct worker *w) {
    for (struct worker **at = &p->workers; *at != NULL; at = &(*at)->next) {
        if (*at == w) {
            *at = w->next;
            break;
        }
    }
    pthread_detach(w->thread);
    free_worker(w);
}

/* Reads and serves requests until the session ends (returns 0) or the worker is retired (returns 1). */
static int serve_requests(struct worker *w) {
    struct pool *p = w->pool;
    pthread_mutex_lock(&p->lock);
    int listen = 0; /* whether this worker holds the listening already */
    int boosted = 0; /* at real-time priority, serving a queue */
    int queued = 0;  /* replies in a row after which a request was already waiting */
    for (;;) {
        if (p->stopping) {
            break;
        }
        int just_served = 0;
        if (!listen) {
            if (!p->listening) {
                p->listening = 1; /* nobody reads: this worker does, as it did before its request */
                just_served = 1;
            } else if (p->waiting_count >= MAX_IDLE) {
                retire(p, w);
                pthread_mutex_unlock(&p->lock);
                return 1;
            } else {
                if (boosted) { /* the queue is someone else's to serve now */
                    boosted = set_boosted(0);
                    queued = 0;
                }
                if (wait_turn(w) != 0) {
                    break;
                }
            }
        }
        pthread_mutex_unlock(&p->lock);

        struct fuse_chan *ch = p->ch;
        struct fuse_buf buf = { .size = p->bufsize, .mem = w->buf };
        int res = 0;
        if (just_served && !boosted && !sqliteos_uring_active()) { /* through io_uring, only FORGETs come here */
            queued = await_briefly(p) ? queued + 1 : 0;
            if (queued >= QUEUE_STREAK && boost_allowed && !boost_refused) {
                boosted = set_boosted(1);
            }
        }
        int64_t read_start = boosted ? now_ns() : 0;
        if (!p->exited(p->se)) {
            /* only a worker waiting for the kernel may be cancelled, never one halfway through a request */
            pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, NULL);
            res = p->receive(p->se, &buf, &ch);
            pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
        }
        if (boosted && now_ns() - read_start > SLEPT_NS) { /* the queue ran dry */
            boosted = set_boosted(0);
            queued = 0;
        }
        pthread_mutex_lock(&p->lock);
        listen = 1;
        if (res == -EINTR) {
            continue;
        }
        if (res <= 0) { /* 0: unmounted */
            if (res < 0) {
                p->exit_session(p->se);
                p->error = -1;
            }
            p->listening = 0;
            break;
        }
        if (p->stopping) {
            break;
        }
        /* FORGETs come in bursts and need no reply: the listener serves them and reads on */
        if (is_forget(&buf)) {
            pthread_mutex_unlock(&p->lock);
            sqliteos_forgetting(&buf);
            p->process(p->se, &buf, ch);
            if (sqliteos_uring_active()) {
                struct timespec gather = { 0, FORGET_GATHER_NS };
                nanosleep(&gather, NULL);
            }
            pthread_mutex_lock(&p->lock);
            continue;
        }
        p->taken++;
        p->busy++;
        p->listening = 0;
        listen = 0;
        if (p->standby_asleep && p->waiting != NULL) {
            p->standby_asleep = 0;
            pthread_cond_signal(&p->waiting->wake);
        }
        if (p->waiting == NULL && !p->listening) {
            hand_over_listening(p); /* no standby: a new worker listens, and this one waits when done */
        }
        pthread_mutex_unlock(&p->lock);

        if (is_init(&buf)) {
            serve_init(p, &buf, ch);
        } else {
            serve_request(p->se, &buf, ch);
        }

        pthread_mutex_lock(&p->lock);
        p->busy--;
    }
    pthread_mutex_unlock(&p->lock);
    return 0;
}

static void *serve(void *arg) {
    struct worker *w = arg;
    struct pool *p = w->pool;
    /* cancellable only while reading (a thread starts cancellable): never while holding the lock */
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
    char name[32];
    snprintf(name, sizeof name, "sqliteos-fuse-%d", w->number);
    attach_named(name);
    if (serve_requests(w) == 0) {
        sem_post(&p->finished);
    }
    return NULL;
}

int fuse_session_loop_mt(struct fuse_session *se) {
    struct pool p = { .se = se, .fd = -1 };
    p.receive = (session_receive_buf_fn) libfuse_symbol(&receive_buf_sym, "fuse_session_receive_buf");
    p.process = (session_process_buf_fn) libfuse_symbol(&process_buf_sym, "fuse_session_process_buf");
    p.exited = (session_exited_fn) libfuse_symbol(&exited_sym, "fuse_session_exited");
    p.exit_session = (session_void_fn) libfuse_symbol(&exit_sym, "fuse_session_exit");
    session_void_fn reset = (session_void_fn) libfuse_symbol(&reset_sym, "fuse_session_reset");
    next_chan_fn next_chan = (next_chan_fn) libfuse_symbol(&next_chan_sym, "fuse_session_next_chan");
    chan_bufsize_fn bufsize = (chan_bufsize_fn) libfuse_symbol(&bufsize_sym, "fuse_chan_bufsize");
    chan_fd_fn chan_fd = (chan_fd_fn) libfuse_symbol(&chan_fd_sym, "fuse_chan_fd");
    if (!p.receive || !p.process || !p.exited || !p.exit_session || !reset || !next_chan || !bufsize || !chan_fd) {
        session_loop_fn real = (session_loop_fn) libfuse_symbol(&real_loop_sym, "fuse_session_loop_mt");
        return real == NULL ? -1 : real(se);
    }
    workers_jvm = the_jvm();
    process_buf = p.process;
    p.ch = next_chan(se, NULL);
    p.bufsize = bufsize(p.ch);
    if (p.bufsize < REQUEST_BUFFER_BYTES) {
        p.bufsize = REQUEST_BUFFER_BYTES; /* room for the large requests serve_init asks for */
    }
    p.fd = chan_fd(p.ch);
    pthread_mutex_init(&p.lock, NULL);
    sem_init(&p.finished, 0, 0);

    pthread_mutex_lock(&p.lock);
    int err = add_worker(&p);
    pthread_mutex_unlock(&p.lock);
    if (err == 0) {
        /* a signal (the unmount handler's) interrupts the wait; the session says when it is over */
        while (!p.exited(se)) {
            sem_wait(&p.finished);
        }
        pthread_mutex_lock(&p.lock);
        p.stopping = 1;
        for (struct worker *w = p.workers; w != NULL; w = w->next) {
            pthread_cond_signal(&w->wake); /* a waiting worker sees stopping and ends */
            pthread_cancel(w->thread);     /* takes effect only for the listener, in its read */
        }
        pthread_mutex_unlock(&p.lock);
        sqliteos_uring_stop();
        /* no worker is added or retired once stopping is set: the list is final */
        for (struct worker *w = p.workers; w != NULL;) {
            struct worker *next = w->next;
            pthread_join(w->thread, NULL);
            free_worker(w);
            w = next;
        }
        err = p.error;
    }
    sem_destroy(&p.finished);
    pthread_mutex_destroy(&p.lock);
    reset(se);
    return err;
}
