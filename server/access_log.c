/* Access-log lines (plain or JSON), written whole with one write(); request ids. */
#include "server/access_log.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

struct lp_access_log {
    int fd;
    bool owns;
    lp_access_log_format format;
};

lp_status lp_access_log_open_fd(int fd, bool owns, lp_access_log_format format,
                                lp_access_log **out, lp_error *err) {
    *out = NULL;
    if (fd < 0) return lp_fail(err, LP_ERR_INVALID_ARG, "access log: invalid file descriptor");
    if (format != LP_ACCESS_LOG_PLAIN && format != LP_ACCESS_LOG_JSON)
        return lp_fail(err, LP_ERR_INVALID_ARG, "access log: unknown format %d", (int)format);
    lp_access_log *log = calloc(1, sizeof *log);
    if (!log) return lp_fail(err, LP_ERR_NOMEM, "access log: out of memory");
    log->fd = fd;
    log->owns = owns;
    log->format = format;
    *out = log;
    return LP_OK;
}

lp_status lp_access_log_open(const char *path, lp_access_log_format format, lp_access_log **out,
                             lp_error *err) {
    *out = NULL;
    if (!path || strcmp(path, "-") == 0) return lp_access_log_open_fd(2, false, format, out, err);
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        return lp_fail(err, LP_ERR_IO, "access log: cannot open '%s' for appending: %s", path,
                       strerror(errno));
    lp_status st = lp_access_log_open_fd(fd, true, format, out, err);
    if (st != LP_OK) close(fd);
    return st;
}

void lp_access_log_close(lp_access_log *log) {
    if (!log) return;
    if (log->owns) close(log->fd);
    free(log);
}

lp_access_log_format lp_access_log_get_format(const lp_access_log *log) {
    return log ? log->format : LP_ACCESS_LOG_PLAIN;
}

/* ---- line building: a bounded buffer that never overflows ---- */

typedef struct line {
    char *p;
    size_t len, cap; /* cap leaves room for "\n\0" */
} line;

static void put(line *l, const char *s, size_t n) {
    if (l->len + n > l->cap) n = l->cap - l->len;
    memcpy(l->p + l->len, s, n);
    l->len += n;
}

static void puts_(line *l, const char *s) { put(l, s, strlen(s)); }

static void putf(line *l, const char *fmt, double v) {
    char num[64];
    int n = snprintf(num, sizeof num, fmt, v);
    if (n > 0) put(l, num, (size_t)n < sizeof num ? (size_t)n : sizeof num - 1);
}

static void put_size(line *l, size_t v) {
    char num[32];
    int n = snprintf(num, sizeof num, "%zu", v);
    put(l, num, (size_t)n);
}

static void put_int(line *l, int v) {
    char num[16];
    int n = snprintf(num, sizeof num, "%d", v);
    put(l, num, (size_t)n);
}

/* Plain form: bytes outside printable ASCII, space, '"', '\\' and '=' become
 * \xNN, so a value never splits a line or fakes a key; cut ("...") once its
 * escaped form reaches FIELD_MAX bytes. */
static void put_plain(line *l, const char *s) {
    if (!s || !*s) {
        put(l, "-", 1);
        return;
    }
    size_t start = l->len;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (l->len - start >= LP_ACCESS_LOG_FIELD_MAX) {
            put(l, "...", 3);
            return;
        }
        unsigned char c = *p;
        if (c > 0x20 && c < 0x7f && c != '"' && c != '\\' && c != '=') {
            put(l, (const char *)p, 1);
        } else {
            char esc[8];
            snprintf(esc, sizeof esc, "\\x%02x", c);
            put(l, esc, 4);
        }
    }
}

/* JSON string (with quotes): escapes per RFC 8259; bytes >= 0x80 are passed
 * through when they form valid UTF-8, else written as \u00XX of the byte. */
static int utf8_len(const unsigned char *p) {
    unsigned char c = p[0];
    int n = c < 0xc2 ? 0 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : c < 0xf5 ? 4 : 0;
    for (int i = 1; i < n; i++)
        if ((p[i] & 0xc0) != 0x80) return 0;
    if (n == 3 && ((c == 0xe0 && p[1] < 0xa0) || (c == 0xed && p[1] > 0x9f))) return 0;
    if (n == 4 && ((c == 0xf0 && p[1] < 0x90) || (c == 0xf4 && p[1] > 0x8f))) return 0;
    return n;
}

static void put_json_str(line *l, const char *s) {
    if (!s) {
        put(l, "null", 4);
        return;
    }
    put(l, "\"", 1);
    size_t start = l->len;
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        if (l->len - start >= LP_ACCESS_LOG_FIELD_MAX) {
            put(l, "...", 3);
            break;
        }
        unsigned char c = *p;
        if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            put(l, esc, 2);
        } else if (c < 0x20 || c == 0x7f) {
            char esc[8];
            snprintf(esc, sizeof esc, "\\u%04x", c);
            put(l, esc, 6);
        } else if (c >= 0x80) {
            int n = utf8_len(p);
            if (n) {
                put(l, (const char *)p, (size_t)n);
                p += n;
                continue;
            }
            char esc[8];
            snprintf(esc, sizeof esc, "\\u%04x", c);
            put(l, esc, 6);
        } else {
            put(l, (const char *)p, 1);
        }
        p++;
    }
    put(l, "\"", 1);
}

static void put_ms(line *l, double ms, bool json) {
    if (!(ms >= 0) || !isfinite(ms)) puts_(l, json ? "null" : "-");
    else putf(l, "%.3f", ms);
}

static void put_time(line *l, long long unix_ms) {
    time_t secs = (time_t)(unix_ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char ts[48];
    int n = snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     (int)(unix_ms % 1000));
    put(l, ts, (size_t)n < sizeof ts ? (size_t)n : sizeof ts - 1);
}

static void format_plain(line *l, const lp_access_entry *e, long long unix_ms) {
    put_time(l, unix_ms);
    puts_(l, " id=");
    put_plain(l, e->request_id);
    puts_(l, " method=");
    put_plain(l, e->method);
    puts_(l, " path=");
    put_plain(l, e->path);
    puts_(l, " model=");
    put_plain(l, e->model);
    puts_(l, " status=");
    put_int(l, e->status);
    puts_(l, " batch=");
    put_int(l, e->batch_size);
    puts_(l, " queue_ms=");
    put_ms(l, e->queue_ms, false);
    puts_(l, " compute_ms=");
    put_ms(l, e->compute_ms, false);
    puts_(l, " total_ms=");
    put_ms(l, e->total_ms, false);
    puts_(l, " bytes_in=");
    put_size(l, e->bytes_in);
    puts_(l, " bytes_out=");
    put_size(l, e->bytes_out);
    if (e->remote) {
        puts_(l, " remote=");
        put_plain(l, e->remote);
    }
    if (e->error) {
        puts_(l, " error=");
        put_plain(l, e->error);
    }
}

static void format_json(line *l, const lp_access_entry *e, long long unix_ms) {
    puts_(l, "{\"time\":\"");
    put_time(l, unix_ms);
    puts_(l, "\",\"id\":");
    put_json_str(l, e->request_id);
    puts_(l, ",\"method\":");
    put_json_str(l, e->method);
    puts_(l, ",\"path\":");
    put_json_str(l, e->path);
    puts_(l, ",\"model\":");
    put_json_str(l, e->model && *e->model ? e->model : NULL);
    puts_(l, ",\"status\":");
    put_int(l, e->status);
    puts_(l, ",\"batch\":");
    put_int(l, e->batch_size);
    puts_(l, ",\"queue_ms\":");
    put_ms(l, e->queue_ms, true);
    puts_(l, ",\"compute_ms\":");
    put_ms(l, e->compute_ms, true);
    puts_(l, ",\"total_ms\":");
    put_ms(l, e->total_ms, true);
    puts_(l, ",\"bytes_in\":");
    put_size(l, e->bytes_in);
    puts_(l, ",\"bytes_out\":");
    put_size(l, e->bytes_out);
    if (e->remote) {
        puts_(l, ",\"remote\":");
        put_json_str(l, e->remote);
    }
    if (e->error) {
        puts_(l, ",\"error\":");
        put_json_str(l, e->error);
    }
    /* the closing brace is reserved so a cut line is still one (shorter) object */
    l->cap += 1;
    put(l, "}", 1);
}

size_t lp_access_log_format_line(lp_access_log_format format, const lp_access_entry *e,
                                 long long unix_ms, char *buf) {
    /* Each of the 7 string fields is cut once its escaped form reaches FIELD_MAX
     * (+ at most 6 + 3 bytes), so a line always fits LINE_MAX whole; `put` still
     * refuses to pass cap. */
    line l = {buf, 0, LP_ACCESS_LOG_LINE_MAX - 3};
    if (format == LP_ACCESS_LOG_JSON) format_json(&l, e, unix_ms);
    else format_plain(&l, e, unix_ms);
    buf[l.len++] = '\n';
    buf[l.len] = '\0';
    return l.len;
}

static long long now_unix_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

lp_status lp_access_log_write(lp_access_log *log, const lp_access_entry *e, lp_error *err) {
    if (!log || !e) return lp_fail(err, LP_ERR_INVALID_ARG, "access log: nothing to write");
    char buf[LP_ACCESS_LOG_LINE_MAX];
    size_t n = lp_access_log_format_line(log->format, e, now_unix_ms(), buf);
    size_t off = 0;
    while (off < n) {
        ssize_t w = write(log->fd, buf + off, n - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0)
            return lp_fail(err, LP_ERR_IO, "access log: write failed: %s",
                           w < 0 ? strerror(errno) : "wrote nothing");
        off += (size_t)w;
    }
    return LP_OK;
}

/* ---- request ids ---- */

bool lp_request_id_valid(const char *id) {
    if (!id || !*id) return false;
    size_t n = 0;
    for (const char *p = id; *p; p++, n++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  strchr("._:@/+=-", c) != NULL;
        if (!ok || n >= LP_REQUEST_ID_MAX) return false;
    }
    return true;
}

static uint64_t id_prefix;
static _Atomic uint64_t id_counter;
static pthread_once_t id_once = PTHREAD_ONCE_INIT;

static void id_init(void) {
    uint64_t r = 0;
    if (getrandom(&r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r) {
        /* no entropy yet: time and pid still differ between restarts */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        r = ((uint64_t)ts.tv_sec << 32) ^ (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 16);
        r *= 0x9e3779b97f4a7c15ull;
    }
    id_prefix = r;
}

char *lp_request_id_generate(char *buf, size_t size) {
    pthread_once(&id_once, id_init);
    uint64_t n = atomic_fetch_add_explicit(&id_counter, 1, memory_order_relaxed) + 1;
    snprintf(buf, size, "%016llx-%llx", (unsigned long long)id_prefix, (unsigned long long)n);
    return buf;
}
