/*
 * Drops the kernel's cached pages of every open file once a transaction's
 * changes are undone.
 *
 * Handles opened while a transaction is open use direct I/O, so what a
 * transaction writes through them never enters the kernel's page cache. A
 * handle opened before any transaction was open keeps the cache, and its
 * owner may use it inside one: the kernel copies each write into the file's
 * cached pages before it sends it, and keeps each read's reply there. After a
 * rollback those pages would still hold the undone bytes, for the owner and
 * for every process that reads the file through such a handle, until the
 * kernel evicted them. So a rollback (or a rollback to a savepoint) has the
 * kernel drop the pages of every file that has an open handle
 * (FUSE_NOTIFY_INVAL_INODE) before it returns; a file without one is read
 * afresh at its next open anyway.
 *
 * Dropping a page waits for its lock, which a process holds while its own
 * read or write of that page is in flight: served by other workers, it ends.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>

#include "libfuse2.h"

static void *inval_inode;

/*
 * Drops every cached page of every open file of the mount that f (libfuse's
 * handle; NULL: that of the request this thread serves) serves.
 */
void sqliteos_drop_pages_of_open_files(struct fuse *f) {
    inval_inode_fn inval = (inval_inode_fn) libfuse_symbol(&inval_inode, "fuse_lowlevel_notify_inval_inode");
    struct fuse_chan *ch = sqliteos_channel(f);
    if (inval == NULL || ch == NULL) {
        return;
    }
    size_t count = 0;
    uint64_t *nodes = sqliteos_open_nodes(&count);
    for (size_t i = 0; i < count; i++) {
        /* from 0 to the end; a node the kernel has forgotten meanwhile answers ENOENT, and has no pages */
        inval(ch, (unsigned long) nodes[i], 0, 0);
    }
    free(nodes);
}
