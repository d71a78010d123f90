/*
 * Hands libfuse a run of directory entries in one call from the daemon.
 *
 * libfuse 2's high-level readdir takes entries one at a time through a filler
 * function. Called from Java, each call is a native transition of its own:
 * about a third of the time of listing a large directory. The daemon instead
 * packs many entries into one buffer and calls sqliteos_fill_dir, which calls
 * the filler for each of them here.
 *
 * Every entry goes with its offset, so libfuse asks the daemon for each part
 * of a listing as the kernel reads it, instead of taking the whole listing
 * with the first request: the daemon can answer the first request at once
 * and list the rest meanwhile.
 *
 * The packed layout is packed_entry.h's.
 */
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "packed_entry.h"

typedef int (*fill_dir_fn)(void *buf, const char *name, const struct stat *st, off_t off);

/*
 * Passes each packed entry of [packed, packed + length) to the filler, the
 * first with offset first_offset, each next one with the offset after. Returns
 * how many entries the filler took; fewer than were packed once the reply is
 * full.
 */
long sqliteos_fill_dir(fill_dir_fn filler, void *buf, const unsigned char *packed, long length, int64_t first_offset) {
    struct stat st;
    memset(&st, 0, sizeof st);
    long taken = 0;
    long at = 0;
    while (at + PACKED_HEADER < length) {
        uint64_t ino;
        uint32_t mode, name_length;
        memcpy(&ino, packed + at + PACKED_INO, sizeof ino);
        memcpy(&mode, packed + at + PACKED_MODE, sizeof mode);
        memcpy(&name_length, packed + at + PACKED_NAME_LENGTH, sizeof name_length);
        if (at + PACKED_HEADER + (long) name_length >= length) {
            break; /* a torn entry: never packed so, but stop rather than read past the end */
        }
        st.st_ino = ino;
        st.st_mode = mode;
        if (filler(buf, (const char *) packed + at + PACKED_HEADER, &st, (off_t) (first_offset + taken)) != 0) {
            break;
        }
        taken++;
        at += PACKED_HEADER + name_length + 1;
    }
    return taken;
}

/*
 * A filler that takes every entry and keeps none: the daemon's JIT warm-up
 * lists through it, so that it compiles the very path a mount's listings take.
 */
int sqliteos_discard_dir_entry(void *buf, const char *name, const struct stat *st, off_t off) {
    (void) buf;
    (void) name;
    (void) st;
    (void) off;
    return 0;
}
