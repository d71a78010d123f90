/*
 * The daemon's own fuse_session_loop_mt: worker threads that each read a
 * request from the kernel and serve it. A worker is added whenever all are
 * busy, as libfuse does, and ends only when more than MAX_IDLE are idle
 * (libfuse: ten), so that an ordinary load keeps the same workers throughout.
 *
 * Each worker is attached to the JVM for its whole life. Otherwise the JNI
 * glue attaches a thread for every call into Java and detaches it again (for
 * its first thousand calls), and libfuse's own loop ends a worker whenever
 * more than ten are idle, so its workers rarely got past those thousand calls.
 * Making and unmaking a JVM thread costs far more than serving a request: under
 * bursts of parallel requests (git status stats files from many threads) it
 * took 45% of the daemon's CPU, and even one client's requests paid it.
 *
 * libfuse calls this function through its PLT, so the definition here (loaded
 * RTLD_GLOBAL before libfuse) replaces its own.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include <jni.h>

#include "libfuse2.h"

/* Idle workers kept: more than any client of an ordinary load runs in parallel. */
#define MAX_IDLE 64

static void *receive_buf_sym, *process_buf_sym, *exited_sym, *exit_sym, *reset_sym, *next_chan_sym,
        *bufsize_sym, *real_loop_sym;

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
    struct worker *next;
    struct pool *pool;
    void *buf;
    int number;
};

struct pool {
    struct fuse_session *se;
    struct fuse_chan *ch;
    size_t bufsize;
    session_receive_buf_fn receive;
    session_process_buf_fn process;
    session_exited_fn exited;
    session_void_fn exit_session;
    JavaVM *jvm;
    pthread_mutex_t lock;
    int idle;               /* workers waiting for a request; guarded by lock */
    int started;            /* guarded by lock */
    int stopping;           /* guarded by lock */
    int error;              /* guarded by lock */
    struct worker *workers; /* guarded by lock */
    sem_t finished;         /* posted by a worker that stops reading */
};

static void *serve(void *arg);

/* Starts one more worker, idle until it reads a request. Called with the lock held. */
static int add_worker(struct pool *p) {
    struct worker *w = calloc(1, sizeof *w);
    if (w == NULL) {
        return -1;
    }
    w->pool = p;
    w->number = p->started + 1; /* before the thread starts: it names itself after it */
    w->buf = malloc(p->bufsize);
    if (w->buf == NULL) {
        free(w);
        return -1;
    }
    /*
     * Signals go to the daemon's other threads: a worker starts with all of them
     * blocked, but for the profiling timer's, so that a sampling profiler
     * attached to the JVM sees the workers too (the JVM installs no handler for it).
     */
    sigset_t all, old;
    sigfillset(&all);
    sigdelset(&all, SIGPROF);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int res = pthread_create(&w->thread, NULL, serve, w);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (res != 0) {
        free(w->buf);
        free(w);
        return -1;
    }
    p->started++;
    w->next = p->workers;
    p->workers = w;
    p->idle++;
    return 0;
}

static int is_forget(const struct fuse_buf *buf) {
    if (buf->flags & FUSE_BUF_IS_FD) {
        return 0;
    }
    uint32_t op = ((const struct fuse_in_header *) buf->mem)->opcode;
    return op == FUSE_FORGET || op == FUSE_BATCH_FORGET;
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

/* Attaches the calling worker to the JVM until it ends. */
static void attach(struct worker *w) {
    JavaVM *vm = w->pool->jvm;
    if (vm == NULL) {
        return;
    }
    char name[32];
    snprintf(name, sizeof name, "sqliteos-fuse-%d", w->number);
    JavaVMAttachArgs args = { JNI_VERSION_1_6, name, NULL };
    void *env;
    if ((*vm)->AttachCurrentThreadAsDaemon(vm, &env, &args) == JNI_OK) {
        pthread_once(&attached_key_once, make_attached_key);
        pthread_setspecific(attached_key, vm);
    }
}

/* Takes a worker off the list and lets it go; called with the lock held, by the worker itself. */
static void retire(struct pool *p, struct worker *w) {
    for (struct worker **at = &p->workers; *at != NULL; at = &(*at)->next) {
        if (*at == w) {
            *at = w->next;
            break;
        }
    }
    p->idle--;
    pthread_detach(w->thread);
    free(w->buf);
    free(w);
}

/* Reads and serves requests until the session ends (returns 0) or the worker is retired (returns 1). */
static int serve_requests(struct worker *w) {
    struct pool *p = w->pool;
    while (!p->exited(p->se)) {
        struct fuse_chan *ch = p->ch;
        struct fuse_buf buf = { .size = p->bufsize, .mem = w->buf };
        /* only a worker waiting for the kernel may be cancelled, never one halfway through a request */
        pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, NULL);
        int res = p->receive(p->se, &buf, &ch);
        pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
        if (res == -EINTR) {
            continue;
        }
        if (res <= 0) { /* 0: unmounted */
            if (res < 0) {
                p->exit_session(p->se);
                pthread_mutex_lock(&p->lock);
                p->error = -1;
                pthread_mutex_unlock(&p->lock);
            }
            break;
        }
        /* FORGETs come in bursts and need no reply: they do not count as keeping a worker busy */
        int forget = is_forget(&buf);
        pthread_mutex_lock(&p->lock);
        if (p->stopping) {
            pthread_mutex_unlock(&p->lock);
            return 0;
        }
        if (!forget) {
            p->idle--;
        }
        if (p->idle == 0) {
            add_worker(p); /* if that fails the busy ones read the next request when done */
        }
        pthread_mutex_unlock(&p->lock);

        p->process(p->se, &buf, ch);

        pthread_mutex_lock(&p->lock);
        if (!forget) {
            p->idle++;
        }
        if (p->idle > MAX_IDLE && !p->stopping) {
            retire(p, w);
            pthread_mutex_unlock(&p->lock);
            return 1;
        }
        pthread_mutex_unlock(&p->lock);
    }
    return 0;
}

static void *serve(void *arg) {
    struct worker *w = arg;
    struct pool *p = w->pool;
    attach(w);
    if (serve_requests(w) == 0) {
        sem_post(&p->finished);
    }
    return NULL;
}

int fuse_session_loop_mt(struct fuse_session *se) {
    struct pool p = { .se = se };
    p.receive = (session_receive_buf_fn) libfuse_symbol(&receive_buf_sym, "fuse_session_receive_buf");
    p.process = (session_process_buf_fn) libfuse_symbol(&process_buf_sym, "fuse_session_process_buf");
    p.exited = (session_exited_fn) libfuse_symbol(&exited_sym, "fuse_session_exited");
    p.exit_session = (session_void_fn) libfuse_symbol(&exit_sym, "fuse_session_exit");
    session_void_fn reset = (session_void_fn) libfuse_symbol(&reset_sym, "fuse_session_reset");
    next_chan_fn next_chan = (next_chan_fn) libfuse_symbol(&next_chan_sym, "fuse_session_next_chan");
    chan_bufsize_fn bufsize = (chan_bufsize_fn) libfuse_symbol(&bufsize_sym, "fuse_chan_bufsize");
    if (!p.receive || !p.process || !p.exited || !p.exit_session || !reset || !next_chan || !bufsize) {
        session_loop_fn real = (session_loop_fn) libfuse_symbol(&real_loop_sym, "fuse_session_loop_mt");
        return real == NULL ? -1 : real(se);
    }
    p.jvm = the_jvm();
    p.ch = next_chan(se, NULL);
    p.bufsize = bufsize(p.ch);
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
            pthread_cancel(w->thread);
        }
        pthread_mutex_unlock(&p.lock);
        /* no worker is added once stopping is set: the list is final */
        for (struct worker *w = p.workers; w != NULL;) {
            struct worker *next = w->next;
            pthread_join(w->thread, NULL);
            free(w->buf);
            free(w);
            w = next;
        }
        err = p.error;
    }
    sem_destroy(&p.finished);
    pthread_mutex_destroy(&p.lock);
    reset(se);
    return err;
}
