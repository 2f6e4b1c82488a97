/* Parsers for request bodies from outside: base64 (standard or URL-safe
 * alphabet, optional padding, optional data: URL prefix, whitespace ignored)
 * and multipart/form-data (RFC 7578). Both are bounded by their input and
 * never read past it. */
#ifndef LP_SERVER_BODY_PARSE_H
#define LP_SERVER_BODY_PARSE_H

#include <stdbool.h>
#include <stddef.h>

/* Decodes `in` (n bytes) into a malloc'd buffer (*out, *out_len). False with
 * a message in `why` (at least 128 bytes) when it is not base64. */
bool lp_srv_base64_decode(const char *in, size_t n, unsigned char **out, size_t *out_len, char *why, size_t why_size);

typedef struct lp_srv_part {
    const char *name;     /* form field name (NUL-terminated copy), may be "" */
    const char *filename; /* NULL when none */
    const char *content_type; /* NULL when none */
    const unsigned char *data; /* points into the body */
    size_t len;
} lp_srv_part;

/* The boundary parameter of a multipart Content-Type, copied into `out`. */
bool lp_srv_multipart_boundary(const char *content_type, char *out, size_t out_size);

/* Splits `body` at `boundary`; *parts (malloc'd, n entries, strings inside
 * one allocation: free(*parts) frees all). False with a reason when malformed. */
bool lp_srv_multipart_parse(const unsigned char *body, size_t len, const char *boundary, lp_srv_part **parts,
                            size_t *n, char *why, size_t why_size);

#endif
