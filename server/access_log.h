/* The access log: one line per answered request, plain `key=value` text or one
 * JSON object per line, each written with a single write() so lines from
 * different threads never interleave (the file is opened O_APPEND; a line is at
 * most LP_ACCESS_LOG_LINE_MAX bytes, fields from the network are escaped and
 * cut to LP_ACCESS_LOG_FIELD_MAX bytes).
 *
 * Also: request ids. A client's X-Request-Id is kept when it is sane
 * (lp_request_id_valid); otherwise the server makes one with
 * lp_request_id_generate: a per-process random prefix and an atomic counter,
 * unique within the process and across restarts with high probability, and
 * cheap (no system call after the first). */
#ifndef LP_SERVER_ACCESS_LOG_H
#define LP_SERVER_ACCESS_LOG_H

#include <stdbool.h>
#include <stddef.h>

#include "kernels/status.h"

#define LP_ACCESS_LOG_LINE_MAX 4096
#define LP_ACCESS_LOG_FIELD_MAX 256
#define LP_REQUEST_ID_MAX 64 /* longest id kept, not counting the NUL */

typedef enum lp_access_log_format {
    LP_ACCESS_LOG_PLAIN = 0,
    LP_ACCESS_LOG_JSON
} lp_access_log_format;

/* One request as the log shows it. Strings may be NULL (logged as "-" in plain
 * form, null in JSON). Times in milliseconds; negative = not reached (logged
 * as "-" / null). batch_size 0 = did not run in a batch. */
typedef struct lp_access_entry {
    const char *request_id;
    const char *method;
    const char *path;
    const char *model;
    int status;
    int batch_size;
    double queue_ms;
    double compute_ms;
    double total_ms;
    size_t bytes_in;
    size_t bytes_out;
    const char *remote; /* peer address, optional */
    const char *error;  /* the error message sent, optional */
} lp_access_entry;

typedef struct lp_access_log lp_access_log;

/* Opens `path` for appending (created 0644); NULL or "-" logs to stderr. */
lp_status lp_access_log_open(const char *path, lp_access_log_format format, lp_access_log **out,
                             lp_error *err);
/* Logs to an open descriptor; the log closes it on lp_access_log_close when `owns`. */
lp_status lp_access_log_open_fd(int fd, bool owns, lp_access_log_format format,
                                lp_access_log **out, lp_error *err);
void lp_access_log_close(lp_access_log *log);
lp_access_log_format lp_access_log_get_format(const lp_access_log *log);

/* Formats one line (with the trailing newline, NUL-terminated) into buf, which
 * must hold LP_ACCESS_LOG_LINE_MAX bytes; returns its length. `unix_ms` is the
 * wall-clock time stamped on the line (ms since the epoch). */
size_t lp_access_log_format_line(lp_access_log_format format, const lp_access_entry *e,
                                 long long unix_ms, char *buf);

/* Formats and writes one line with one write() (thread-safe). LP_ERR_IO when
 * the write fails (the caller may count it; the request is not affected). */
lp_status lp_access_log_write(lp_access_log *log, const lp_access_entry *e, lp_error *err);

/* True when a client-supplied X-Request-Id may be echoed and logged as is:
 * 1..LP_REQUEST_ID_MAX bytes of [A-Za-z0-9._:@/+=-]. */
bool lp_request_id_valid(const char *id);
/* Writes a fresh id ("<16 hex>-<counter hex>", at most 34 bytes + NUL) into
 * buf (size >= 40); thread-safe. Returns buf. */
char *lp_request_id_generate(char *buf, size_t size);

#endif
