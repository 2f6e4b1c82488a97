/* The server address: "http://host[:port][/prefix]" (no TLS). The host is
 * resolved once, before any load is sent, so name lookups never sit inside a
 * measured request. */
#ifndef LP_LOADGEN_URL_H
#define LP_LOADGEN_URL_H

#include <sys/socket.h>

#include "kernels/status.h"

typedef struct lp_lg_url {
    char host[256];
    int port;
    char prefix[512]; /* path before the endpoint's own path, without a trailing '/' */
    char host_header[300];
    struct sockaddr_storage addr;
    socklen_t addr_len;
} lp_lg_url;

/* Parses the text only. */
lp_status lp_lg_url_parse(const char *text, lp_lg_url *url, lp_error *err);
/* Resolves url->host into url->addr. */
lp_status lp_lg_url_resolve(lp_lg_url *url, lp_error *err);

#endif
