/* UTF-8 validation and quoting of names in messages, for reader and writer. */
#include "pretrained/safetensors.h"
#include "pretrained/safetensors_internal.h"

#include <string.h>

/* Length of the well-formed UTF-8 sequence starting at s (at most n bytes
 * available), or 0 when it is malformed: the rules of RFC 3629 (no overlong
 * forms, no surrogates, nothing above U+10FFFF), as Rust's str::from_utf8. */
static size_t utf8_sequence(const unsigned char *s, size_t n) {
    unsigned c = s[0];
    if (c < 0x80) return 1;
    size_t len;
    unsigned lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0) lo = 0xA0;      /* overlong */
        else if (c == 0xED) hi = 0x9F; /* surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0) lo = 0x90;      /* overlong */
        else if (c == 0xF4) hi = 0x8F; /* above U+10FFFF */
    } else {
        return 0;
    }
    if (n < len) return 0;
    if (s[1] < lo || s[1] > hi) return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xBF) return 0;
    return len;
}

size_t lp_st_utf8_error_at(const char *s, size_t n) {
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        size_t len = utf8_sequence(p + i, n - i);
        if (!len) return i;
        i += len;
    }
    return n;
}

bool lp_st_utf8_valid(const char *s, size_t n) { return lp_st_utf8_error_at(s, n) == n; }

lp_st_quoted lp_st_quote(const char *name) {
    lp_st_quoted q;
    const size_t limit = sizeof q.text - 4; /* room for "..." and the NUL */
    size_t n = strlen(name), out = 0, i = 0;
    while (i < n) {
        size_t len = utf8_sequence((const unsigned char *)name + i, n - i);
        bool bad = len == 0; /* callers quote valid names; be safe anyway */
        if (bad) len = 1;
        if (out + len > limit) {
            memcpy(q.text + out, "...", 3);
            out += 3;
            break;
        }
        for (size_t k = 0; k < len; k++) {
            unsigned char c = (unsigned char)name[i + k];
            q.text[out++] = (bad || (len == 1 && (c < 0x20 || c == 0x7F))) ? '?' : (char)c;
        }
        i += len;
    }
    q.text[out] = '\0';
    return q;
}
