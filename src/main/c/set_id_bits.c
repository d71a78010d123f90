/*
 * Set-ID bits and file capabilities after a write or a change of owner.
 *
 * Without help the kernel asks the file system for security.capability before
 * each write, to learn whether it must remove it: a second round trip for each
 * write. A file system that answers INIT with FUSE_HANDLE_KILLPRIV_V2 (7.33)
 * takes on that clearing itself; the kernel then asks only before a file's
 * first write, and marks the file as having nothing to clear. The daemon does
 * what the kernel did:
 *  - a write or truncate by anyone but root clears set-user-ID, and
 *    set-group-ID where group execute is set; either, by anyone, removes
 *    security.capability (FileSystem.write and truncate);
 *  - a change of owner or group of a non-directory clears them likewise
 *    (FileSystem.chown).
 * Some requests reach the daemon as nothing at all: a SETATTR with none of
 * libfuse's bits set, which libfuse would only answer with the attributes. The
 * kernel sends one for chown(f, -1, -1), which changes no attribute, and to drop
 * the set-ID bits of a file about to be written. Both mean "drop the set-ID
 * bits of a non-directory", so such a request is made a chown to -1 and -1
 * here, which the daemon serves so.
 */
#define _GNU_SOURCE
#include <stdint.h>

#include "libfuse2.h"

#define FUSE_HANDLE_KILLPRIV_V2 (1u << 28)

/* The attribute bits of fuse_setattr_in.valid that libfuse 2 acts on. */
#define FATTR_MODE (1 << 0)
#define FATTR_UID (1 << 1)
#define FATTR_GID (1 << 2)
#define FATTR_SIZE (1 << 3)
#define FATTR_ATIME (1 << 4)
#define FATTR_MTIME (1 << 5)
#define FATTR_ATIME_NOW (1 << 7)
#define FATTR_MTIME_NOW (1 << 8)
#define LIBFUSE_ATTRIBUTES (FATTR_MODE | FATTR_UID | FATTR_GID | FATTR_SIZE | FATTR_ATIME | FATTR_MTIME \
        | FATTR_ATIME_NOW | FATTR_MTIME_NOW)

struct fuse_setattr_in {
    uint32_t valid;
    uint32_t padding;
    uint64_t fh;
    uint64_t size;
    uint64_t lock_owner;
    uint64_t atime;
    uint64_t mtime;
    uint64_t ctime;
    uint32_t atimensec;
    uint32_t mtimensec;
    uint32_t ctimensec;
    uint32_t mode;
    uint32_t unused4;
    uint32_t uid;
    uint32_t gid;
    uint32_t unused5;
};

/* The flag to add to libfuse's answer to INIT: the kernel's offer of KILLPRIV_V2, if it made one. */
uint32_t sqliteos_privilege_flags(uint32_t kernel_flags) {
    return kernel_flags & FUSE_HANDLE_KILLPRIV_V2;
}

/* Makes a SETATTR that sets nothing a chown to -1 and -1, which libfuse passes on. */
void sqliteos_amend_setattr(struct fuse_in_header *in) {
    if (in->opcode != FUSE_SETATTR || in->len < sizeof *in + sizeof(struct fuse_setattr_in)) {
        return;
    }
    struct fuse_setattr_in *arg = (struct fuse_setattr_in *) (in + 1);
    if ((arg->valid & LIBFUSE_ATTRIBUTES) == 0) {
        arg->valid |= FATTR_UID | FATTR_GID;
        arg->uid = (uint32_t) -1;
        arg->gid = (uint32_t) -1;
    }
}
