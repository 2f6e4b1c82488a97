#include "loadgen/http_parse.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>

void lp_lg_response_reset(lp_lg_response *r, struct evbuffer *body) {
    memset(r, 0, sizeof *r);
    r->state = LP_LG_PARSE_STATUS;
    r->keep_alive = true;
    r->body = body;
}

static lp_lg_parse_result fail(lp_lg_response *r, const char *why) {
    snprintf(r->reason, sizeof r->reason, "%s", why);
    return LP_LG_PARSE_ERROR;
}

/* One CRLF- (or LF-) terminated line, or NULL when it has not all arrived;
 * *too_long when the line is over the limit. */
static char *read_line(struct evbuffer *in, bool *too_long) {
    size_t n;
    char *line = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF);
    *too_long = false;
    if (!line && evbuffer_get_length(in) > LP_LG_MAX_LINE) *too_long = true;
    if (line && n > LP_LG_MAX_LINE) {
        free(line);
        *too_long = true;
        return NULL;
    }
    return line;
}

static bool parse_status_line(lp_lg_response *r, const char *line) {
    /* "HTTP/1.1 200 OK" */
    if (strncmp(line, "HTTP/1.", 7) || !isdigit((unsigned char)line[7]) || line[8] != ' ')
        return false;
    if (line[7] == '0') r->keep_alive = false;
    const char *p = line + 9;
    if (!isdigit((unsigned char)p[0]) || !isdigit((unsigned char)p[1]) ||
        !isdigit((unsigned char)p[2]) || (p[3] && p[3] != ' '))
        return false;
    r->status = (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
    return r->status >= 100;
}

static bool parse_size(const char *s, int base, size_t *out) {
    while (*s == ' ' || *s == '\t') s++;
    if (!isxdigit((unsigned char)*s)) return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, base);
    while (*end == ' ' || *end == '\t') end++;
    /* Chunk extensions (";name=value") are allowed and ignored. */
    if (errno || (*end && !(base == 16 && *end == ';'))) return false;
    if (v > (unsigned long long)1 << 40) return false;
    *out = (size_t)v;
    return true;
}

/* Applies one header; the body framing is chosen when the headers end. */
static bool parse_header(lp_lg_response *r, char *line, bool *chunked, bool *has_length) {
    char *colon = strchr(line, ':');
    if (!colon) return false;
    *colon = '\0';
    char *value = colon + 1;
    while (*value == ' ' || *value == '\t') value++;
    if (!strcasecmp(line, "Content-Length")) {
        size_t n;
        if (!parse_size(value, 10, &n)) return false;
        r->remaining = n;
        *has_length = true;
    } else if (!strcasecmp(line, "Transfer-Encoding")) {
        if (strcasestr(value, "chunked")) *chunked = true;
    } else if (!strcasecmp(line, "Connection")) {
        if (strcasestr(value, "close")) r->keep_alive = false;
        else if (strcasestr(value, "keep-alive")) r->keep_alive = true;
    }
    return true;
}

static void take_body(lp_lg_response *r, struct evbuffer *in, size_t n) {
    if (r->body) evbuffer_remove_buffer(in, r->body, n);
    else evbuffer_drain(in, n);
    r->body_bytes += n;
}

lp_lg_parse_result lp_lg_response_feed(lp_lg_response *r, struct evbuffer *in) {
    for (;;) {
        bool too_long;
        char *line;
        switch (r->state) {
        case LP_LG_PARSE_STATUS:
            line = read_line(in, &too_long);
            if (too_long) return fail(r, "status line too long");
            if (!line) return LP_LG_PARSE_MORE;
            if (!parse_status_line(r, line)) {
                free(line);
                return fail(r, "not an HTTP/1.x status line");
            }
            free(line);
            r->state = LP_LG_PARSE_HEADERS;
            break;
        case LP_LG_PARSE_HEADERS:
            line = read_line(in, &too_long);
            if (too_long) return fail(r, "header line too long");
            if (!line) return LP_LG_PARSE_MORE;
            if (line[0]) {
                bool ok = parse_header(r, line, &r->chunked, &r->has_length);
                free(line);
                if (!ok) return fail(r, "malformed header line");
                break;
            }
            free(line);
            if (r->head_request || r->status == 204 || r->status == 304 || r->status < 200) {
                r->state = LP_LG_PARSE_DONE;
            } else if (r->chunked) {
                r->state = LP_LG_PARSE_CHUNK_SIZE;
            } else if (r->has_length) {
                r->state = r->remaining ? LP_LG_PARSE_BODY_LENGTH : LP_LG_PARSE_DONE;
            } else {
                r->keep_alive = false;
                r->state = LP_LG_PARSE_BODY_TO_CLOSE;
            }
            break;
        case LP_LG_PARSE_BODY_LENGTH:
        case LP_LG_PARSE_CHUNK_DATA: {
            size_t have = evbuffer_get_length(in);
            size_t n = have < r->remaining ? have : r->remaining;
            take_body(r, in, n);
            r->remaining -= n;
            if (r->remaining) return LP_LG_PARSE_MORE;
            r->state = r->state == LP_LG_PARSE_BODY_LENGTH ? LP_LG_PARSE_DONE
                                                           : LP_LG_PARSE_CHUNK_END;
            break;
        }
        case LP_LG_PARSE_CHUNK_SIZE:
            line = read_line(in, &too_long);
            if (too_long) return fail(r, "chunk size line too long");
            if (!line) return LP_LG_PARSE_MORE;
            if (!parse_size(line, 16, &r->remaining)) {
                free(line);
                return fail(r, "malformed chunk size");
            }
            free(line);
            r->state = r->remaining ? LP_LG_PARSE_CHUNK_DATA : LP_LG_PARSE_TRAILERS;
            break;
        case LP_LG_PARSE_CHUNK_END:
            line = read_line(in, &too_long);
            if (too_long) return fail(r, "missing CRLF after a chunk");
            if (!line) return LP_LG_PARSE_MORE;
            {
                bool empty = !line[0];
                free(line);
                if (!empty) return fail(r, "missing CRLF after a chunk");
            }
            r->state = LP_LG_PARSE_CHUNK_SIZE;
            break;
        case LP_LG_PARSE_TRAILERS:
            line = read_line(in, &too_long);
            if (too_long) return fail(r, "trailer line too long");
            if (!line) return LP_LG_PARSE_MORE;
            {
                bool empty = !line[0];
                free(line);
                if (empty) r->state = LP_LG_PARSE_DONE;
            }
            break;
        case LP_LG_PARSE_BODY_TO_CLOSE:
            take_body(r, in, evbuffer_get_length(in));
            return LP_LG_PARSE_MORE;
        case LP_LG_PARSE_DONE:
            return LP_LG_PARSE_OK;
        }
    }
}

lp_lg_parse_result lp_lg_response_eof(lp_lg_response *r) {
    if (r->state == LP_LG_PARSE_BODY_TO_CLOSE) {
        r->state = LP_LG_PARSE_DONE;
        return LP_LG_PARSE_OK;
    }
    if (r->state == LP_LG_PARSE_DONE) return LP_LG_PARSE_OK;
    return fail(r, "connection closed before the response was complete");
}
