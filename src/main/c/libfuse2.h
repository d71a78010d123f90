/*
 * The parts of the libfuse 2 ABI (fuse.h, fuse_lowlevel.h, fuse_common.h,
 * fuse_kernel.h) that the daemon's native library uses, declared here so that
 * no development headers are needed to build it.
 */
#ifndef SQLITEOS_LIBFUSE2_H
#define SQLITEOS_LIBFUSE2_H

#include <dlfcn.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>

typedef struct fuse_req *fuse_req_t;
struct fuse;
struct fuse_session;
struct fuse_chan;
struct fuse_file_info {
    int flags;
    unsigned long fh_old;
    int writepage;
    unsigned int direct_io : 1;
    unsigned int keep_cache : 1;
    unsigned int flush : 1;
    unsigned int nonseekable : 1;
    unsigned int flock_release : 1;
    unsigned int padding : 27;
    uint64_t fh;
    uint64_t lock_owner;
};
struct fuse_entry_param {
    unsigned long ino; /* the kernel's node id */
    unsigned long generation;
    struct stat attr;
    double attr_timeout;
    double entry_timeout;
};
struct fuse_context {
    struct fuse *fuse;
    uid_t uid;
    gid_t gid;
    pid_t pid;
    void *private_data;
    mode_t umask;
};

/* A request as read from the kernel: in memory, or (spliced) in a pipe. */
enum fuse_buf_flags { FUSE_BUF_IS_FD = 1 << 1 };
struct fuse_buf {
    size_t size;
    enum fuse_buf_flags flags;
    void *mem;
    int fd;
    off_t pos;
};

/* The kernel's headers of a request and of a reply; a reply with unique 0 is a notification, error its code. */
struct fuse_in_header {
    uint32_t len;
    uint32_t opcode;
    uint64_t unique;
    uint64_t nodeid;
    uint32_t uid;
    uint32_t gid;
    uint32_t pid;
    uint32_t padding;
};
struct fuse_out_header {
    uint32_t len;
    int32_t error;
    uint64_t unique;
};
/* The kernel's request opcodes this library reads, or writes (rehearsal.c). */
enum {
    FUSE_LOOKUP = 1, FUSE_FORGET = 2, FUSE_GETATTR = 3, FUSE_SETATTR = 4, FUSE_MKNOD = 8, FUSE_MKDIR = 9,
    FUSE_UNLINK = 10, FUSE_RMDIR = 11, FUSE_RENAME = 12, FUSE_OPEN = 14, FUSE_READ = 15, FUSE_WRITE = 16,
    FUSE_RELEASE = 18, FUSE_GETXATTR = 22, FUSE_INIT = 26, FUSE_OPENDIR = 27, FUSE_READDIR = 28,
    FUSE_RELEASEDIR = 29, FUSE_FSYNCDIR = 30, FUSE_CREATE = 35, FUSE_IOCTL = 39, FUSE_BATCH_FORGET = 42,
    FUSE_READDIRPLUS = 44
};
/* IOCTL's flags: the request is on a directory. */
#define FUSE_IOCTL_DIR (1u << 4)
/* A reply's header, and the entry of a lookup's reply (protocol 7.9 on): a creation's handle follows it. */
enum { OUT_HEADER = 16, ENTRY_OUT = 128 };

/* The body of READ, WRITE, READDIR and READDIRPLUS (protocol 7.9 on). */
struct io_in { uint64_t fh, offset; uint32_t size, io_flags; uint64_t lock_owner; uint32_t flags, padding; };
/* An entry of a READDIR reply: this head, the name, zeros up to a multiple of 8 bytes. */
struct dirent_head { uint64_t ino, off; uint32_t namelen, type; };
#define FUSE_NOTIFY_INC_EPOCH 8 /* protocol 7.44, Linux 6.16 */

/* The bodies of FORGET, and of BATCH_FORGET: a count followed by that many (node, lookups) pairs. */
struct forget_in {
    uint64_t nlookup;
};
struct batch_forget_in {
    uint32_t count, dummy;
};
struct forget_one {
    uint64_t nodeid, nlookup;
};

typedef int (*reply_attr_fn)(fuse_req_t, const struct stat *, double);
typedef int (*reply_entry_fn)(fuse_req_t, const struct fuse_entry_param *);
/* open_files.c: a request about to be processed and once served, a file being created, and the node a
 * GETATTR or SETATTR being served names. */
void sqliteos_request_starting(const struct fuse_buf *buf);
void sqliteos_request_finished(void);
void sqliteos_creating(uint64_t node, const struct fuse_file_info *fi);
void sqliteos_create_failed(uint64_t node, const struct fuse_file_info *fi);
uint64_t sqliteos_attr_request_node(void);
/* The node of the OPEN, or of the READ, this thread is serving, or 0. */
uint64_t sqliteos_open_request_node(void);
uint64_t sqliteos_read_request_node(void);
/* open_files.c: the nodes with open handles, each once, in an array to free. */
uint64_t *sqliteos_open_nodes(size_t *count);
/* attr_cache.c: a FORGET or BATCH_FORGET about to be served; whether the kernel holds a file's lookup. */
void sqliteos_forgetting(const struct fuse_buf *buf);
int sqliteos_kernel_holds(uint64_t ino);
/* attr_cache.c: the channel to the kernel of f's session (NULL: the session of the request being served), and
 * its descriptor. */
struct fuse_chan *sqliteos_channel(struct fuse *f);
int sqliteos_channel_fd(struct fuse *f);
typedef int (*reply_create_fn)(fuse_req_t, const struct fuse_entry_param *, const struct fuse_file_info *);
typedef struct fuse_context *(*get_context_fn)(void);
typedef struct fuse_session *(*get_session_fn)(struct fuse *);
typedef struct fuse_chan *(*next_chan_fn)(struct fuse_session *, struct fuse_chan *);
typedef int (*inval_inode_fn)(struct fuse_chan *, unsigned long, off_t, off_t);
typedef int (*chan_fd_fn)(struct fuse_chan *);
typedef size_t (*chan_bufsize_fn)(struct fuse_chan *);
typedef int (*session_receive_buf_fn)(struct fuse_session *, struct fuse_buf *, struct fuse_chan **);
typedef void (*session_process_buf_fn)(struct fuse_session *, const struct fuse_buf *, struct fuse_chan *);
typedef int (*session_exited_fn)(struct fuse_session *);
typedef void (*session_void_fn)(struct fuse_session *);
typedef int (*session_loop_fn)(struct fuse_session *);

/* readdir_plus.c: requests made up here for the request a worker serves, each reply kept in a capture. */
struct capture {
    unsigned char *buf;
    size_t capacity;
    size_t length;
};
int sqliteos_internal_ready(int fd, size_t bufsize);
int sqliteos_internal(struct fuse_session *se, session_process_buf_fn process, const struct fuse_in_header *h,
                      const void *body, size_t body_size, struct capture *c);
int sqliteos_internal_buf(struct fuse_session *se, session_process_buf_fn process, const struct fuse_buf *buf,
                          struct capture *c);
void sqliteos_reply_error(struct fuse_chan *ch, uint64_t unique, int error);
/* unopened_dirs.c: whether directories go unopened; the listing of one, as a READDIR's reply. */
int sqliteos_dirs_unopened(void);
int sqliteos_list_unopened(struct fuse_session *se, session_process_buf_fn process, const struct fuse_in_header *h,
                           const struct io_in *in, struct capture *c);
/* At INIT: whether the kernel will list directories it did not open; then, whether a request was one about them. */
int sqliteos_dirs_unopened_offered(uint32_t kernel_flags, int fd, size_t bufsize);
int sqliteos_serve_unopened(struct fuse_session *se, const struct fuse_buf *buf, struct fuse_chan *ch,
                            session_process_buf_fn process);

/* The start of the kernel's INIT request, as every protocol version since 7.6 has it. */
struct fuse_init_in {
    uint32_t major;
    uint32_t minor;
    uint32_t max_readahead;
    uint32_t flags;
};

/* A channel of one's own (fuse_chan_new): how it reads requests and sends replies. */
struct fuse_chan_ops {
    int (*receive)(struct fuse_chan **chp, char *buf, size_t size);
    int (*send)(struct fuse_chan *ch, const struct iovec iov[], size_t count);
    void (*destroy)(struct fuse_chan *ch);
};
typedef struct fuse_chan *(*chan_new_fn)(struct fuse_chan_ops *, int, size_t, void *);
typedef int (*chan_send_fn)(struct fuse_chan *, const struct iovec[], size_t);
typedef void *(*chan_data_fn)(struct fuse_chan *);

/* The receive of a channel that is handed its requests instead of reading them. */
static inline int receive_nothing(struct fuse_chan **chp, char *buf, size_t size) {
    (void) chp;
    (void) buf;
    (void) size;
    return -ENODEV;
}

/*
 * A libfuse function, looked up once through libfuse's own handle: this
 * library stands in front of some of them, so the default lookup would find
 * itself, and libfuse may be loaded RTLD_LOCAL.
 */
static inline void *libfuse_symbol(void **slot, const char *name) {
    void *fn = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
    if (fn == NULL) {
        void *lib = dlopen("libfuse.so.2", RTLD_LAZY | RTLD_NOLOAD);
        fn = lib == NULL ? NULL : dlsym(lib, name);
        __atomic_store_n(slot, fn, __ATOMIC_RELEASE);
    }
    return fn;
}

/* Like libfuse_symbol, for a function that libfuse also keeps in older forms under the same name. */
static inline void *libfuse_versioned(void **slot, const char *name, const char *version) {
    void *fn = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
    if (fn == NULL) {
        void *lib = dlopen("libfuse.so.2", RTLD_LAZY | RTLD_NOLOAD);
        fn = lib == NULL ? NULL : dlvsym(lib, name, version);
        __atomic_store_n(slot, fn, __ATOMIC_RELEASE);
    }
    return fn;
}

/* The monotonic clock in nanoseconds, for timeouts. */
static inline int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

#endif
