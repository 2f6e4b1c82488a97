/* base64 and multipart/form-data, for image uploads (see body_parse.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server/body_parse.h"

static int b64_value(unsigned char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
}

bool lp_srv_base64_decode(const char *in, size_t n, unsigned char **out, size_t *out_len, char *why, size_t why_size) {
    *out = NULL;
    *out_len = 0;
    if (n >= 5 && !strncmp(in, "data:", 5)) { /* data:image/png;base64,.... */
        const char *comma = memchr(in, ',', n);
        if (!comma || !memmem(in, (size_t)(comma - in), ";base64", 7)) {
            snprintf(why, why_size, "a data: URL must be base64 (data:<type>;base64,<data>)");
            return false;
        }
        n -= (size_t)(comma + 1 - in);
        in = comma + 1;
    }
    unsigned char *buf = malloc(n / 4 * 3 + 3);
    if (!buf) {
        snprintf(why, why_size, "out of memory");
        return false;
    }
    size_t o = 0, pad = 0;
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
        if (c == '=') {
            pad++;
            continue;
        }
        int v = b64_value(c);
        if (v < 0 || pad) {
            free(buf);
            snprintf(why, why_size, pad ? "data after '=' padding at byte %zu" : "byte %zu ('%c') is not base64", i,
                     c >= 32 && c < 127 ? c : '?');
            return false;
        }
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            buf[o++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    if (bits >= 6 || pad > 2) {
        free(buf);
        snprintf(why, why_size, "truncated base64 (its length is not a whole number of bytes)");
        return false;
    }
    *out = buf;
    *out_len = o;
    return true;
}

bool lp_srv_multipart_boundary(const char *ct, char *out, size_t out_size) {
    const char *b = ct ? strcasestr(ct, "boundary=") : NULL;
    if (!b) return false;
    b += 9;
    size_t n;
    if (*b == '"') {
        b++;
        const char *e = strchr(b, '"');
        if (!e) return false;
        n = (size_t)(e - b);
    } else {
        n = strcspn(b, "; \t");
    }
    if (n == 0 || n > 70 || n + 1 > out_size) return false;
    memcpy(out, b, n);
    out[n] = 0;
    return true;
}

/* value of `key="..."` in a Content-Disposition header, copied; "" when absent */
static void disposition_param(const char *h, size_t hn, const char *key, char *out, size_t out_size, bool *found) {
    *found = false;
    out[0] = 0;
    size_t kn = strlen(key);
    for (size_t i = 0; i + kn + 1 < hn; i++) {
        if ((i == 0 || h[i - 1] == ' ' || h[i - 1] == ';') && !strncasecmp(h + i, key, kn) && h[i + kn] == '=') {
            const char *v = h + i + kn + 1, *e = h + hn;
            size_t n;
            if (v < e && *v == '"') {
                v++;
                const char *q = memchr(v, '"', (size_t)(e - v));
                n = q ? (size_t)(q - v) : (size_t)(e - v);
            } else { /* the header is not NUL-terminated: a bounded scan */
                const char *semi = memchr(v, ';', (size_t)(e - v));
                n = semi ? (size_t)(semi - v) : (size_t)(e - v);
            }
            if (n >= out_size) n = out_size - 1;
            memcpy(out, v, n);
            out[n] = 0;
            *found = true;
            return;
        }
    }
}

bool lp_srv_multipart_parse(const unsigned char *body, size_t len, const char *boundary, lp_srv_part **parts,
                            size_t *n_parts, char *why, size_t why_size) {
    *parts = NULL;
    *n_parts = 0;
    char delim[80];
    int dn = snprintf(delim, sizeof delim, "--%s", boundary);
    const unsigned char *p = memmem(body, len, delim, (size_t)dn), *end = body + len;
    if (!p) {
        snprintf(why, why_size, "multipart body has no boundary line '--%s'", boundary);
        return false;
    }
    lp_srv_part *out = NULL;
    size_t n = 0;
    for (;;) {
        p += dn;
        if (end - p >= 2 && p[0] == '-' && p[1] == '-') break; /* closing delimiter */
        const unsigned char *eol = memmem(p, (size_t)(end - p), "\r\n", 2);
        if (!eol) goto bad;
        const unsigned char *headers = eol + 2;
        const unsigned char *hend = memmem(headers, (size_t)(end - headers), "\r\n\r\n", 4);
        const unsigned char *data;
        if (headers + 2 <= end && headers[0] == '\r' && headers[1] == '\n') {
            hend = headers - 2; /* no headers */
        } else if (!hend) {
            goto bad;
        }
        data = hend + 4;
        char sep[84];
        int sn = snprintf(sep, sizeof sep, "\r\n--%s", boundary);
        const unsigned char *next = memmem(data, (size_t)(end - data), sep, (size_t)sn);
        if (!next) goto bad;
        /* one allocation per part: struct + strings */
        char name[256] = "", filename[256] = "", ctype[128] = "";
        bool has_name = false, has_file = false, has_ct = false;
        for (const unsigned char *h = headers; h < hend;) {
            const unsigned char *le = memmem(h, (size_t)(hend - h), "\r\n", 2);
            if (!le) le = hend;
            size_t hl = (size_t)(le - h);
            if (hl > 20 && !strncasecmp((const char *)h, "Content-Disposition:", 20)) {
                disposition_param((const char *)h + 20, hl - 20, "name", name, sizeof name, &has_name);
                disposition_param((const char *)h + 20, hl - 20, "filename", filename, sizeof filename, &has_file);
            } else if (hl > 13 && !strncasecmp((const char *)h, "Content-Type:", 13)) {
                const char *v = (const char *)h + 13;
                size_t vl = hl - 13;
                while (vl && *v == ' ') v++, vl--;
                if (vl >= sizeof ctype) vl = sizeof ctype - 1;
                memcpy(ctype, v, vl);
                ctype[vl] = 0;
                has_ct = true;
            }
            h = le + 2;
        }
        (void)has_name;
        lp_srv_part *g = realloc(out, (n + 1) * sizeof *g);
        if (!g) goto oom;
        out = g;
        char *strs = malloc(strlen(name) + strlen(filename) + strlen(ctype) + 3);
        if (!strs) goto oom;
        lp_srv_part *pt = &out[n++];
        memset(pt, 0, sizeof *pt);
        strcpy(strs, name);
        pt->name = strs;
        char *f = strs + strlen(name) + 1;
        strcpy(f, filename);
        pt->filename = has_file ? f : NULL;
        char *c = f + strlen(filename) + 1;
        strcpy(c, ctype);
        pt->content_type = has_ct ? c : NULL;
        pt->data = data;
        pt->len = (size_t)(next - data);
        p = next + 2;
        if (n > 1024) {
            snprintf(why, why_size, "multipart body has more than 1024 parts");
            goto fail;
        }
    }
    /* move the per-part strings into one block so free(*parts) frees all */
    size_t total = n * sizeof *out;
    for (size_t i = 0; i < n; i++)
        total += strlen(out[i].name) + 1 + (out[i].filename ? strlen(out[i].filename) : 0) + 1 +
                 (out[i].content_type ? strlen(out[i].content_type) : 0) + 1;
    lp_srv_part *block = malloc(total ? total : 1);
    if (!block) goto oom;
    char *s = (char *)(block + n);
    for (size_t i = 0; i < n; i++) {
        block[i] = out[i];
        const char *src[3] = {out[i].name, out[i].filename, out[i].content_type};
        const char **dst[3] = {&block[i].name, &block[i].filename, &block[i].content_type};
        for (int k = 0; k < 3; k++) {
            if (!src[k]) {
                *dst[k] = NULL;
                s++;
                continue;
            }
            size_t l = strlen(src[k]) + 1;
            memcpy(s, src[k], l);
            *dst[k] = s;
            s += l;
        }
        free((void *)out[i].name);
    }
    free(out);
    *parts = block;
    *n_parts = n;
    return true;
bad:
    snprintf(why, why_size, "malformed multipart/form-data body (part %zu: missing headers or closing boundary)", n);
    goto fail;
oom:
    snprintf(why, why_size, "out of memory");
fail:
    for (size_t i = 0; i < n; i++) free((void *)out[i].name);
    free(out);
    return false;
}
