/* Atomic file writes and whole-file reads. */
#include "pretrained/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct lp_atomic_file {
    FILE *fp;
    char *path;
    char *tmp_path;
};

#define ERRNO_TEXT(e) strerror_r((e), why, sizeof why)

lp_status lp_fs_atomic_open(const char *path, lp_atomic_file **out, lp_error *err) {
    char why[128];
    if (!path || !*path || !out)
        return lp_fail(err, LP_ERR_INVALID_ARG, "lp_fs_atomic_open: a path and out are required");
    *out = NULL;
    lp_atomic_file *f = calloc(1, sizeof *f);
    size_t n = strlen(path);
    if (f) {
        f->path = strdup(path);
        f->tmp_path = malloc(n + sizeof ".tmp-XXXXXX");
    }
    if (!f || !f->path || !f->tmp_path) {
        if (f) {
            free(f->path);
            free(f->tmp_path);
        }
        free(f);
        return lp_fail(err, LP_ERR_NOMEM, "%s: out of memory", path);
    }
    memcpy(f->tmp_path, path, n);
    memcpy(f->tmp_path + n, ".tmp-XXXXXX", sizeof ".tmp-XXXXXX");
    int fd = mkostemp(f->tmp_path, O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        free(f->path);
        free(f->tmp_path);
        free(f);
        return lp_fail(err, LP_ERR_IO, "%s: cannot create a temporary file next to it: %s", path,
                       ERRNO_TEXT(e));
    }
    /* mkstemp makes 0600; a replaced file keeps its mode, a new one is 0644. */
    struct stat sb;
    mode_t mode = stat(path, &sb) == 0 ? (sb.st_mode & 07777) : 0644;
    (void)fchmod(fd, mode); /* best effort: the data is what matters */
    f->fp = fdopen(fd, "wb");
    if (!f->fp) {
        int e = errno;
        close(fd);
        unlink(f->tmp_path);
        free(f->path);
        free(f->tmp_path);
        free(f);
        return lp_fail(err, LP_ERR_IO, "%s: fdopen: %s", path, ERRNO_TEXT(e));
    }
    setvbuf(f->fp, NULL, _IOFBF, 1 << 20);
    *out = f;
    return LP_OK;
}

lp_status lp_fs_atomic_write(lp_atomic_file *f, const void *data, size_t size, lp_error *err) {
    char why[128];
    if (size && fwrite(data, 1, size, f->fp) != size) {
        int e = errno;
        return lp_fail(err, LP_ERR_IO, "%s: write failed: %s", f->path, ERRNO_TEXT(e));
    }
    return LP_OK;
}

static void free_file(lp_atomic_file *f) {
    free(f->path);
    free(f->tmp_path);
    free(f);
}

void lp_fs_atomic_abort(lp_atomic_file *f) {
    if (!f) return;
    if (f->fp) fclose(f->fp);
    unlink(f->tmp_path);
    free_file(f);
}

/* The rename is durable only once the directory entry is on disk. */
static int fsync_directory_of(const char *path) {
    char *copy = strdup(path);
    if (!copy) return ENOMEM;
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(copy);
    if (fd < 0) return errno;
    int rc = fsync(fd) == 0 || errno == EINVAL || errno == EROFS ? 0 : errno;
    close(fd);
    return rc;
}

lp_status lp_fs_atomic_commit(lp_atomic_file *f, lp_error *err) {
    char why[128];
    const char *step = NULL;
    int e = 0;
    if (fflush(f->fp) != 0) step = "flush";
    else if (fsync(fileno(f->fp)) != 0) step = "fsync";
    if (step) e = errno;
    if (fclose(f->fp) != 0 && !step) {
        step = "close";
        e = errno;
    }
    f->fp = NULL;
    if (!step && rename(f->tmp_path, f->path) != 0) {
        step = "rename";
        e = errno;
    }
    if (step) {
        lp_status s = lp_fail(err, LP_ERR_IO, "%s: %s of the temporary file failed: %s", f->path,
                              step, ERRNO_TEXT(e));
        lp_fs_atomic_abort(f);
        return s;
    }
    e = fsync_directory_of(f->path);
    lp_status s = LP_OK;
    if (e)
        s = lp_fail(err, LP_ERR_IO, "%s: written, but syncing its directory failed: %s", f->path,
                    ERRNO_TEXT(e));
    free_file(f);
    return s;
}

lp_status lp_fs_write_atomic(const char *path, const void *data, size_t size, lp_error *err) {
    lp_atomic_file *f;
    lp_status s = lp_fs_atomic_open(path, &f, err);
    if (s != LP_OK) return s;
    s = lp_fs_atomic_write(f, data, size, err);
    if (s != LP_OK) {
        lp_fs_atomic_abort(f);
        return s;
    }
    return lp_fs_atomic_commit(f, err);
}

lp_status lp_fs_read_file(const char *path, size_t max_bytes, char **out, size_t *size,
                          lp_error *err) {
    char why[128];
    if (!path || !out)
        return lp_fail(err, LP_ERR_INVALID_ARG, "lp_fs_read_file: path and out are required");
    *out = NULL;
    if (size) *size = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        return lp_fail(err, LP_ERR_IO, "%s: cannot open: %s", path, ERRNO_TEXT(e));
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        int e = errno;
        bool dir = S_ISDIR(sb.st_mode);
        close(fd);
        if (dir) return lp_fail(err, LP_ERR_IO, "%s: is a directory, not a file", path);
        return lp_fail(err, LP_ERR_IO, "%s: not a regular file%s%s", path, e ? ": " : "",
                       e ? ERRNO_TEXT(e) : "");
    }
    if ((unsigned long long)sb.st_size > max_bytes) {
        close(fd);
        return lp_fail(err, LP_ERR_FORMAT, "%s: %lld bytes is above the limit of %zu for this file",
                       path, (long long)sb.st_size, max_bytes);
    }
    size_t n = (size_t)sb.st_size, got = 0;
    char *buf = malloc(n + 1);
    if (!buf) {
        close(fd);
        return lp_fail(err, LP_ERR_NOMEM, "%s: out of memory for %zu bytes", path, n);
    }
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            int e = r < 0 ? errno : 0;
            close(fd);
            free(buf);
            return lp_fail(err, LP_ERR_IO, "%s: read failed%s%s", path, e ? ": " : " (file shrank)",
                           e ? ERRNO_TEXT(e) : "");
        }
        got += (size_t)r;
    }
    close(fd);
    buf[n] = '\0';
    *out = buf;
    if (size) *size = n;
    return LP_OK;
}
