/*
 * Hands the kernel file content for its page cache with STORE notifications,
 * so that reading it costs no READ request. Two cases:
 *
 *  - the whole content of a small file as it is being opened. Without this,
 *    every open of a file drops the pages the kernel cached of it (the daemon
 *    cannot tell what changed behind the kernel's back, inside a transaction
 *    for one), and the first read then asks the daemon. The daemon instead
 *    sends the file's bytes, current as of the open, before the reply to OPEN,
 *    and the reply then asks the kernel to keep its cache: the pages hold
 *    exactly what a READ would have fetched.
 *  - the rest of the block that a small READ loaded: the daemon stores a file
 *    in 16 KiB blocks, so a 4 KiB read costs it the whole block anyway. The
 *    pages the READ itself asks for are not among them: the kernel holds them
 *    locked until the reply.
 *
 * Whether that is safe (no one may change the content meanwhile) is the
 * daemon's decision (FileSystem); this file only delivers.
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

static int store(uint64_t node, uint64_t offset, const void *data, uint32_t size) {
    if (node == 0 || sqliteos_rehearsing) {
        return -EINVAL;
    }
    int fd = sqliteos_channel_fd(NULL);
    if (fd < 0) {
        return -EBADF;
    }
    struct fuse_notify_store_out arg = { .nodeid = node, .offset = offset, .size = size };
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

/*
 * Stores `size` bytes at `data` as the start of the file that the OPEN this
 * thread serves names. Call before that OPEN's reply. Returns 0, or -errno:
 * -EINVAL outside an OPEN (or in a rehearsal), else what the kernel said.
 */
int sqliteos_store_opened_pages(const void *data, uint32_t size) {
    return store(sqliteos_open_request_node(), 0, data, size);
}

/*
 * Stores `size` bytes at `data` at `offset` of the file that the READ this
 * thread serves names; they must not overlap the pages the READ asks for.
 * Returns 0, or -errno: -EINVAL outside a READ (or in a rehearsal), else what
 * the kernel said.
 */
int sqliteos_store_read_pages(const void *data, uint64_t offset, uint32_t size) {
    return store(sqliteos_read_request_node(), offset, data, size);
}
