/* The parts of the daemon's SQLite extension (extension.c), each in a file of its own. */
#ifndef SQLITEOS_EXTENSION_H
#define SQLITEOS_EXTENSION_H

#include <stddef.h>
#include <sqlite3ext.h>

/* coalescing_vfs.c: makes the coalescing VFS the process's default. */
int coalescing_vfs_install(char **error);

/* memory_subjournal.c: opens a savepoint journal in memory (the VFS's open of one). */
int memory_subjournal_open(sqlite3_file *file, int *out_flags);
size_t memory_subjournal_size(void);

/* private_locks.c: stands in for the unix VFS's open, close and fcntl (see there). */
int private_locks_install(sqlite3_vfs *unix_vfs);
int sqliteos_private_directory(const char *path);
void sqliteos_public_again(const char *path);
int sqliteos_under_private_directory(const char *path);

/* mapped_reads.c: reads of a private in-memory database through one mapping per file (see there). */
typedef struct mapped_file mapped_file;
mapped_file *mapped_reads_open(const char *path);
void mapped_reads_close(mapped_file *m);
int mapped_reads_read(mapped_file *m, void *buf, int amt, sqlite3_int64 at);
void mapped_reads_truncate_begins(mapped_file *m, sqlite3_int64 size);
void mapped_reads_truncate_ends(mapped_file *m);
void sqliteos_mapped_forget_runs(const char *path, const sqlite3_int64 *runs, int count);

/* packed_entries.c: adds sqliteos_packed_entries() to one connection (an auto-extension). */
int packed_entries_register(sqlite3 *db, char **error, const sqlite3_api_routines *api);

/* lent_memory.c: adds the functions over a request's lent buffer to one connection (an auto-extension). */
int lent_memory_register(sqlite3 *db, char **error, const sqlite3_api_routines *api);
void sqliteos_lend(void *buffer, size_t size);
void sqliteos_unlend(void);
/* block_splice.c: adds sqliteos_splice() to one connection (an auto-extension). */
int block_splice_register(sqlite3 *db, char **error, const sqlite3_api_routines *api);

#endif
