/* An incremental HTTP/1.1 response reader over a libevent evbuffer: status
 * line, headers, then a body framed by Content-Length, chunked encoding, or
 * the end of the connection. Feed it whatever bytes have arrived; it consumes
 * them and says when one whole response is in. Bodies are kept only when the
 * caller asks (the /metrics scrape); load requests just count the bytes. */
#ifndef LP_LOADGEN_HTTP_PARSE_H
#define LP_LOADGEN_HTTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>

#include "kernels/status.h"

struct evbuffer;

typedef enum lp_lg_parse_state {
    LP_LG_PARSE_STATUS,
    LP_LG_PARSE_HEADERS,
    LP_LG_PARSE_BODY_LENGTH,
    LP_LG_PARSE_CHUNK_SIZE,
    LP_LG_PARSE_CHUNK_DATA,
    LP_LG_PARSE_CHUNK_END,
    LP_LG_PARSE_TRAILERS,
    LP_LG_PARSE_BODY_TO_CLOSE,
    LP_LG_PARSE_DONE
} lp_lg_parse_state;

typedef enum lp_lg_parse_result {
    LP_LG_PARSE_MORE,  /* all bytes consumed, the response is not complete */
    LP_LG_PARSE_OK,    /* one response is complete (bytes after it are left) */
    LP_LG_PARSE_ERROR  /* not HTTP/1.x or a malformed frame: drop the connection */
} lp_lg_parse_result;

/* Longest status or header line accepted. */
#define LP_LG_MAX_LINE 8192

typedef struct lp_lg_response {
    lp_lg_parse_state state;
    int status;           /* e.g. 200 */
    bool keep_alive;      /* false after "Connection: close" or an HTTP/1.0 reply */
    bool head_request;    /* the request was HEAD: no body follows */
    bool chunked, has_length; /* body framing seen in the headers */
    size_t remaining;     /* body or chunk bytes still to read */
    size_t body_bytes;
    struct evbuffer *body; /* when not NULL, the body is appended here */
    char reason[128];     /* why parsing failed */
} lp_lg_response;

/* Starts a new response; `body` may be NULL. */
void lp_lg_response_reset(lp_lg_response *r, struct evbuffer *body);

/* Consumes bytes from `in`. */
lp_lg_parse_result lp_lg_response_feed(lp_lg_response *r, struct evbuffer *in);

/* The peer closed the connection: a body read to the close is complete. */
lp_lg_parse_result lp_lg_response_eof(lp_lg_response *r);

#endif
