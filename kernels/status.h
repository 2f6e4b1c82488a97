/* Status codes and error messages shared by every room.
 *
 * Library code never prints or exits: a function that can fail returns an
 * lp_status and, when the caller passed an lp_error, a message that says what was
 * wrong and what to do about it. */
#ifndef LP_STATUS_H
#define LP_STATUS_H

#include <stddef.h>

typedef enum lp_status {
    LP_OK = 0,
    LP_ERR_INVALID_ARG, /* a caller passed something the API does not accept */
    LP_ERR_SHAPE,       /* tensor shapes do not fit the op */
    LP_ERR_DTYPE,       /* dtype not supported by the op or backend */
    LP_ERR_NOMEM,       /* allocation failed */
    LP_ERR_IO,          /* open/read/write/rename failed */
    LP_ERR_FORMAT,      /* a file or payload from outside is malformed */
    LP_ERR_UNSUPPORTED, /* valid, but not implemented on this backend/build */
    LP_ERR_INTERNAL     /* a bug in lepton */
} lp_status;

#define LP_ERROR_MSG_MAX 512

typedef struct lp_error {
    lp_status status;
    char msg[LP_ERROR_MSG_MAX];
} lp_error;

const char *lp_status_name(lp_status status);

/* Records `status` and a printf-style message in `err` (which may be NULL) and
 * returns `status`, so a failure reads: return lp_fail(err, LP_ERR_SHAPE, "...");
 * A message already in `err` is kept as the cause: the new text is prefixed. */
lp_status lp_fail(lp_error *err, lp_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Clears `err` (may be NULL). */
void lp_error_clear(lp_error *err);

#endif
