/* Files the program writes are written atomically: to a temporary file in the
 * same directory, flushed and fsync'ed, then renamed over the destination and
 * the directory fsync'ed. A crash leaves either the old file or the new one at
 * the path, never a half-written one (at worst a stray "<path>.tmp-XXXXXX").
 * Checkpoints, safetensors and config files all go through here. */
#ifndef LP_FS_H
#define LP_FS_H

#include <stddef.h>

#include "kernels/status.h"

typedef struct lp_atomic_file lp_atomic_file;

/* Creates "<path>.tmp-XXXXXX" next to `path`. The final file gets the mode of
 * the file it replaces, else 0644. */
lp_status lp_fs_atomic_open(const char *path, lp_atomic_file **out, lp_error *err);

/* Appends `size` bytes (buffered). On failure the file is still open: call
 * lp_fs_atomic_abort. */
lp_status lp_fs_atomic_write(lp_atomic_file *f, const void *data, size_t size, lp_error *err);

/* Flushes, fsyncs, renames over the destination, fsyncs the directory; frees
 * `f` whatever happens (on failure the temporary file is removed and the
 * destination is untouched). */
lp_status lp_fs_atomic_commit(lp_atomic_file *f, lp_error *err);

/* Removes the temporary file and frees `f` (NULL is fine). */
void lp_fs_atomic_abort(lp_atomic_file *f);

/* The whole sequence for a buffer already in memory. */
lp_status lp_fs_write_atomic(const char *path, const void *data, size_t size, lp_error *err);

/* Reads a whole regular file into a malloc'ed buffer with a NUL after the
 * last byte (*size excludes it); refuses files above `max_bytes`. */
lp_status lp_fs_read_file(const char *path, size_t max_bytes, char **out, size_t *size,
                          lp_error *err);

#endif
