/*
 * The attributes of a node a request has just made, for the getattr that
 * libfuse runs straight after it.
 *
 * libfuse 2's high-level API answers a MKDIR, MKNOD, SYMLINK or CREATE by
 * calling the file system's operation and then asking the file system for the
 * new node's attributes (getattr; fgetattr for a CREATE) to put in the reply:
 * two calls into the daemon, each a native-to-Java transition with its
 * wrappers, for one request. The daemon knows those attributes as it makes the
 * node, so it leaves them in this thread's slot (sqliteos_made_attributes) as
 * its operation succeeds, and the getattr that follows takes them from there.
 *
 * libfuse calls the fuse_fs_* functions below through its PLT, so these
 * definitions (loaded globally before libfuse) stand in for its own. What the
 * daemon left is taken only by a getattr, on the same thread, that names the
 * very path string libfuse passed to the making operation, and only when that
 * operation returned success; any other getattr goes to the daemon as before.
 */
#define _GNU_SOURCE
#include <stddef.h>
#include <string.h>

#include "libfuse2.h"

struct fuse_fs;

/* One per thread. The daemon writes st and then ready (see SqliteosFuse). */
struct made {
    int32_t ready;
    int32_t unused;
    struct stat st;
    const char *path; /* the path of the making operation under way or just done, else NULL */
};

/* SqliteosFuse writes to these offsets */
_Static_assert(offsetof(struct made, ready) == 0, "ready first");
_Static_assert(offsetof(struct made, st) == 8, "the struct stat 8 bytes in");

static __thread struct made made;

/* This thread's slot: the daemon's making operations fill st and set ready once they have succeeded. */
struct made *sqliteos_made_attributes(void) {
    return &made;
}

static void making(const char *path) {
    made.ready = 0;
    made.path = path;
}

static int made_with(int res) {
    if (res != 0) {
        made.ready = 0;
        made.path = NULL;
    }
    return res;
}

/* Takes the attributes left for path, if any: 1 when buf now holds them. */
static int take(const char *path, struct stat *buf) {
    int mine = made.ready && path != NULL && made.path == path; /* a handle's getattr may come without a path */
    made.ready = 0;
    made.path = NULL;
    if (mine) {
        memcpy(buf, &made.st, sizeof *buf);
    }
    return mine;
}

typedef int (*mkdir_fn)(struct fuse_fs *, const char *, mode_t);
typedef int (*mknod_fn)(struct fuse_fs *, const char *, mode_t, dev_t);
typedef int (*symlink_fn)(struct fuse_fs *, const char *, const char *);
typedef int (*create_fn)(struct fuse_fs *, const char *, mode_t, struct fuse_file_info *);
typedef int (*getattr_fn)(struct fuse_fs *, const char *, struct stat *);
typedef int (*fgetattr_fn)(struct fuse_fs *, const char *, struct stat *, struct fuse_file_info *);

static void *real_mkdir, *real_mknod, *real_symlink, *real_create, *real_getattr, *real_fgetattr;

int fuse_fs_mkdir(struct fuse_fs *fs, const char *path, mode_t mode) {
    mkdir_fn fn = (mkdir_fn) libfuse_symbol(&real_mkdir, "fuse_fs_mkdir");
    if (fn == NULL) {
        return -ENOSYS;
    }
    making(path);
    return made_with(fn(fs, path, mode));
}

int fuse_fs_mknod(struct fuse_fs *fs, const char *path, mode_t mode, dev_t rdev) {
    mknod_fn fn = (mknod_fn) libfuse_symbol(&real_mknod, "fuse_fs_mknod");
    if (fn == NULL) {
        return -ENOSYS;
    }
    making(path);
    return made_with(fn(fs, path, mode, rdev));
}

int fuse_fs_symlink(struct fuse_fs *fs, const char *linkname, const char *path) {
    symlink_fn fn = (symlink_fn) libfuse_symbol(&real_symlink, "fuse_fs_symlink");
    if (fn == NULL) {
        return -ENOSYS;
    }
    making(path);
    return made_with(fn(fs, linkname, path));
}

int fuse_fs_create(struct fuse_fs *fs, const char *path, mode_t mode, struct fuse_file_info *fi) {
    create_fn fn = (create_fn) libfuse_symbol(&real_create, "fuse_fs_create");
    if (fn == NULL) {
        return -ENOSYS;
    }
    making(path);
    return made_with(fn(fs, path, mode, fi));
}

int fuse_fs_getattr(struct fuse_fs *fs, const char *path, struct stat *buf) {
    if (take(path, buf)) {
        return 0;
    }
    getattr_fn fn = (getattr_fn) libfuse_symbol(&real_getattr, "fuse_fs_getattr");
    return fn == NULL ? -ENOSYS : fn(fs, path, buf);
}

int fuse_fs_fgetattr(struct fuse_fs *fs, const char *path, struct stat *buf, struct fuse_file_info *fi) {
    if (take(path, buf)) {
        return 0;
    }
    fgetattr_fn fn = (fgetattr_fn) libfuse_symbol(&real_fgetattr, "fuse_fs_fgetattr");
    return fn == NULL ? -ENOSYS : fn(fs, path, buf, fi);
}
