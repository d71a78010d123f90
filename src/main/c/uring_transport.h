/* FUSE over io_uring (uring_transport.c), as the worker pool uses it. */
#ifndef SQLITEOS_URING_TRANSPORT_H
#define SQLITEOS_URING_TRANSPORT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

struct fuse_session;
struct fuse_buf;
struct fuse_chan;

/* Serves one request read from the kernel, replying through ch. */
typedef void (*sqliteos_serve_fn)(struct fuse_session *se, const struct fuse_buf *buf, struct fuse_chan *ch);
/* Makes the calling thread known to the JVM under name, for its whole life. */
typedef void (*sqliteos_attach_fn)(const char *name);
/* Starts a thread that serves requests, as the worker pool starts its own (worker_pool.c). */
int sqliteos_start_worker(pthread_t *thread, void *(*run)(void *), void *arg);

/* Lets the daemon take io_uring when the kernel offers it (allow 1), or not; it may not until allowed. */
void sqliteos_uring_allow(int allow);
/* Whether the kernel's INIT, with these flags, offers io_uring and this daemon can take it. */
int sqliteos_uring_offered(uint32_t kernel_flags, uint32_t kernel_flags2);
/* Asks for io_uring in the INIT's answer. */
void sqliteos_uring_amend_init(uint32_t *flags, uint32_t *flags2);
/*
 * Starts serving requests through io_uring, once the kernel has the INIT's
 * answer; payload_size is the largest request or reply the connection allows.
 * Returns 0, or -errno (then requests keep coming through /dev/fuse).
 */
int sqliteos_uring_start(struct fuse_session *se, int fd, size_t payload_size, sqliteos_serve_fn serve,
                         sqliteos_attach_fn attach);
/* Whether io_uring workers serve the requests. */
int sqliteos_uring_active(void);
/* Where a READ served by this io_uring worker may put its reply's data (see uring_transport.c), or NULL. */
void *sqliteos_uring_read_buffer(size_t size);
/* Ends the io_uring workers, after the request each is serving. */
void sqliteos_uring_stop(void);

#endif
