/*
 * Hands the kernel the whole content of a small file as it is being opened,
 * so that reading it costs no READ request.
 *
 * Without this, every open of a file drops the pages the kernel cached of it
 * (the daemon cannot tell what changed behind the kernel's back, inside a
 * transaction for one), and the first read then asks the daemon. The daemon
 * instead sends the file's bytes, current as of the open, with a STORE
 * notification before the reply to OPEN, and the reply then asks the kernel
 * to keep its cache: the pages hold exactly what a READ would have fetched.
 * Whether that is safe (no one may write the file meanwhile) is the daemon's
 * decision (FileSystem); this file only delivers.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <sys/uio.h>

#include "libfuse2.h"

#define FUSE_NOTIFY_STORE 4

struct fuse_notify_store_out {
    uint64_t nodeid;
    uint64_t offset;
    uint32_t size;
    uint32_t padding;
};

extern __thread int sqliteos_rehearsing;

static void *get_context, *get_session, *next_chan, *chan_fd;

/*
 * Stores `size` bytes at `data` as the start of the file that the OPEN this
 * thread serves names. Call before that OPEN's reply. Returns 0, or -errno:
 * -EINVAL outside an OPEN (or in a rehearsal), else what the kernel said.
 */
int sqliteos_store_opened_pages(const void *data, uint32_t size) {
    uint64_t node = sqliteos_open_request_node();
    if (node == 0 || sqliteos_rehearsing) {
        return -EINVAL;
    }
    get_context_fn context = (get_context_fn) libfuse_symbol(&get_context, "fuse_get_context");
    get_session_fn session = (get_session_fn) libfuse_symbol(&get_session, "fuse_get_session");
    next_chan_fn chan = (next_chan_fn) libfuse_symbol(&next_chan, "fuse_session_next_chan");
    chan_fd_fn fd_of = (chan_fd_fn) libfuse_symbol(&chan_fd, "fuse_chan_fd");
    if (context == NULL || session == NULL || chan == NULL || fd_of == NULL) {
        return -ENOSYS;
    }
    struct fuse_context *ctx = context();
    struct fuse_session *se = ctx == NULL || ctx->fuse == NULL ? NULL : session(ctx->fuse);
    struct fuse_chan *ch = se == NULL ? NULL : chan(se, NULL);
    int fd = ch == NULL ? -1 : fd_of(ch);
    if (fd < 0) {
        return -EBADF;
    }
    struct fuse_notify_store_out arg = { .nodeid = node, .offset = 0, .size = size };
    struct fuse_out_header out = { sizeof out + sizeof arg + size, FUSE_NOTIFY_STORE, 0 };
    struct iovec iov[] = {
        { &out, sizeof out },
        { &arg, sizeof arg },
        { (void *) data, size },
    };
    ssize_t n = writev(fd, iov, 3);
    if (n < 0) {
        return -errno;
    }
    return n == (ssize_t) out.len ? 0 : -EIO;
}
