#include "kernels/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *lp_status_name(lp_status status) {
    switch (status) {
    case LP_OK: return "ok";
    case LP_ERR_INVALID_ARG: return "invalid argument";
    case LP_ERR_SHAPE: return "shape mismatch";
    case LP_ERR_DTYPE: return "unsupported dtype";
    case LP_ERR_NOMEM: return "out of memory";
    case LP_ERR_IO: return "i/o error";
    case LP_ERR_FORMAT: return "malformed input";
    case LP_ERR_UNSUPPORTED: return "unsupported";
    case LP_ERR_INTERNAL: return "internal error";
    }
    return "unknown status";
}

lp_status lp_fail(lp_error *err, lp_status status, const char *fmt, ...) {
    if (!err) return status;
    char fresh[LP_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(fresh, sizeof fresh, fmt, ap);
    va_end(ap);
    if (err->status != LP_OK && err->msg[0]) {
        /* Keep the inner cause: "outer: inner". */
        /* Truncation is acceptable: the outer context comes first. */
        char cause[LP_ERROR_MSG_MAX];
        memcpy(cause, err->msg, sizeof cause);
        size_t n = strlen(fresh);
        if (n > sizeof err->msg - 3) n = sizeof err->msg - 3;
        memcpy(err->msg, fresh, n);
        memcpy(err->msg + n, ": ", 2);
        size_t room = sizeof err->msg - n - 3;
        size_t c = strnlen(cause, room);
        memcpy(err->msg + n + 2, cause, c);
        err->msg[n + 2 + c] = '\0';
    } else {
        memcpy(err->msg, fresh, sizeof fresh);
    }
    err->status = status;
    return status;
}

void lp_error_clear(lp_error *err) {
    if (!err) return;
    err->status = LP_OK;
    err->msg[0] = '\0';
}
