#include "loadgen/url.h"

#include <netdb.h>
#include <stdio.h>
#include <string.h>

lp_status lp_lg_url_parse(const char *text, lp_lg_url *url, lp_error *err) {
    memset(url, 0, sizeof *url);
    if (!strncmp(text, "https://", 8))
        return lp_fail(err, LP_ERR_UNSUPPORTED,
                       "'%s': https is not supported; give an http:// URL", text);
    const char *p = text;
    if (!strncmp(p, "http://", 7)) p += 7;
    else if (strstr(p, "://"))
        return lp_fail(err, LP_ERR_INVALID_ARG, "'%s': only http:// URLs are supported", text);
    size_t hlen;
    const char *after;
    if (*p == '[') { /* [v6 address] */
        const char *close = strchr(p, ']');
        if (!close) return lp_fail(err, LP_ERR_INVALID_ARG, "'%s': unclosed '[' in host", text);
        hlen = (size_t)(close - p - 1);
        memcpy(url->host, p + 1, hlen < sizeof url->host ? hlen : 0);
        after = close + 1;
    } else {
        hlen = strcspn(p, ":/");
        if (hlen < sizeof url->host) memcpy(url->host, p, hlen);
        after = p + hlen;
    }
    if (!hlen || hlen >= sizeof url->host)
        return lp_fail(err, LP_ERR_INVALID_ARG, "'%s': missing or too long host name", text);
    url->port = 80;
    if (*after == ':') {
        int port = 0, digits = 0;
        after++;
        while (*after >= '0' && *after <= '9' && digits < 6) {
            port = port * 10 + (*after++ - '0');
            digits++;
        }
        if (!digits || port < 1 || port > 65535 || (*after && *after != '/'))
            return lp_fail(err, LP_ERR_INVALID_ARG, "'%s': the port must be 1..65535", text);
        url->port = port;
    } else if (*after && *after != '/') {
        return lp_fail(err, LP_ERR_INVALID_ARG, "'%s': malformed URL", text);
    }
    size_t plen = strlen(after);
    while (plen && after[plen - 1] == '/') plen--;
    if (plen >= sizeof url->prefix)
        return lp_fail(err, LP_ERR_INVALID_ARG, "'%s': path too long", text);
    memcpy(url->prefix, after, plen);
    for (const char *c = url->prefix; *c; c++)
        if ((unsigned char)*c <= ' ' || *c == '?' || *c == '#')
            return lp_fail(err, LP_ERR_INVALID_ARG,
                           "'%s': the URL path may not contain spaces, '?' or '#'", text);
    if (url->port == 80) snprintf(url->host_header, sizeof url->host_header, "%s", url->host);
    else snprintf(url->host_header, sizeof url->host_header, "%s:%d", url->host, url->port);
    return LP_OK;
}

lp_status lp_lg_url_resolve(lp_lg_url *url, lp_error *err) {
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    char port[8];
    snprintf(port, sizeof port, "%d", url->port);
    int rc = getaddrinfo(url->host, port, &hints, &res);
    if (rc || !res)
        return lp_fail(err, LP_ERR_IO, "cannot resolve host '%s': %s", url->host,
                       rc ? gai_strerror(rc) : "no address");
    memcpy(&url->addr, res->ai_addr, res->ai_addrlen);
    url->addr_len = (socklen_t)res->ai_addrlen;
    freeaddrinfo(res);
    return LP_OK;
}
