/* Unicode properties and UTF-8 handling for the tokenizer. */
#include "tokenizer/unicode.h"

#include <string.h>
#include <utf8proc.h>

int lp_tok_utf8_put(uint32_t c, char *out) {
    unsigned char *o = (unsigned char *)out;
    if (c < 0x80) {
        o[0] = (unsigned char)c;
        return 1;
    }
    if (c < 0x800) {
        o[0] = (unsigned char)(0xC0 | (c >> 6));
        o[1] = (unsigned char)(0x80 | (c & 0x3F));
        return 2;
    }
    if (c < 0x10000) {
        o[0] = (unsigned char)(0xE0 | (c >> 12));
        o[1] = (unsigned char)(0x80 | ((c >> 6) & 0x3F));
        o[2] = (unsigned char)(0x80 | (c & 0x3F));
        return 3;
    }
    o[0] = (unsigned char)(0xF0 | (c >> 18));
    o[1] = (unsigned char)(0x80 | ((c >> 12) & 0x3F));
    o[2] = (unsigned char)(0x80 | ((c >> 6) & 0x3F));
    o[3] = (unsigned char)(0x80 | (c & 0x3F));
    return 4;
}

/* Length of the valid sequence at s[i] (1..4), or the negated length of the
 * maximal invalid subpart that one U+FFFD replaces (Unicode's "maximal subpart"
 * rule, which CPython's decoder follows). */
static int utf8_step(const unsigned char *s, size_t len, size_t i) {
    unsigned char b = s[i];
    if (b < 0x80) return 1;
    int need;
    unsigned char lo = 0x80, hi = 0xBF;
    if (b >= 0xC2 && b <= 0xDF) {
        need = 1;
    } else if (b >= 0xE0 && b <= 0xEF) {
        need = 2;
        if (b == 0xE0) lo = 0xA0;
        if (b == 0xED) hi = 0x9F;
    } else if (b >= 0xF0 && b <= 0xF4) {
        need = 3;
        if (b == 0xF0) lo = 0x90;
        if (b == 0xF4) hi = 0x8F;
    } else {
        return -1;
    }
    int k = 1;
    for (; k <= need; k++) {
        if (i + (size_t)k >= len) return -k;
        unsigned char c = s[i + (size_t)k];
        unsigned char l = k == 1 ? lo : 0x80, h = k == 1 ? hi : 0xBF;
        if (c < l || c > h) return -k;
    }
    return need + 1;
}

size_t lp_tok_utf8_repaired_len(const char *s, size_t len) {
    const unsigned char *u = (const unsigned char *)s;
    size_t out = 0;
    for (size_t i = 0; i < len;) {
        int st = utf8_step(u, len, i);
        if (st > 0) {
            out += (size_t)st;
            i += (size_t)st;
        } else {
            out += 3;
            i += (size_t)-st;
        }
    }
    return out;
}

void lp_tok_utf8_repair(const char *s, size_t len, char *out) {
    const unsigned char *u = (const unsigned char *)s;
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        int st = utf8_step(u, len, i);
        if (st > 0) {
            memcpy(out + o, s + i, (size_t)st);
            o += (size_t)st;
            i += (size_t)st;
        } else {
            memcpy(out + o, "\xEF\xBF\xBD", 3);
            o += 3;
            i += (size_t)-st;
        }
    }
}

bool lp_tok_utf8_valid(const char *s, size_t len) {
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < len;) {
        if (u[i] < 0x80) {
            i++;
            continue;
        }
        int st = utf8_step(u, len, i);
        if (st < 0) return false;
        i += (size_t)st;
    }
    return true;
}

size_t lp_tok_utf8_count(const char *s, size_t len) {
    size_t n = 0;
    for (size_t i = 0; i < len; i++) n += ((unsigned char)s[i] & 0xC0) != 0x80;
    return n;
}

bool lp_tok_in_ranges(uint32_t c, const lp_tok_range *r, size_t n) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (c < r[mid].lo)
            hi = mid;
        else if (c > r[mid].hi)
            lo = mid + 1;
        else
            return true;
    }
    return false;
}

bool lp_tok_is_white_space(uint32_t c) {
    if (c < 0x80) return c == ' ' || (c >= 0x09 && c <= 0x0D);
    return c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 ||
           c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

bool lp_tok_u9_is_punct(uint32_t c) {
    if (c < 0x80)
        return (c >= 0x21 && c <= 0x23) || (c >= 0x25 && c <= 0x2A) || (c >= 0x2C && c <= 0x2F) ||
               c == 0x3A || c == 0x3B || c == 0x3F || c == 0x40 || (c >= 0x5B && c <= 0x5D) ||
               c == 0x5F || c == 0x7B || c == 0x7D;
    return lp_tok_in_ranges(c, lp_tok_u9_punct, lp_tok_u9_punct_count);
}

bool lp_tok_u9_is_other(uint32_t c) {
    if (c < 0x80) return c < 0x20 || c == 0x7F;
    return lp_tok_in_ranges(c, lp_tok_u9_other, lp_tok_u9_other_count);
}

bool lp_tok_u9_is_mn(uint32_t c) {
    if (c < 0x300) return false;
    return lp_tok_in_ranges(c, lp_tok_u9_mn, lp_tok_u9_mn_count);
}

bool lp_tok_u9_is_mark(uint32_t c) {
    if (c < 0x300) return false;
    return lp_tok_in_ranges(c, lp_tok_u9_mark, lp_tok_u9_mark_count);
}

bool lp_tok_is_chinese_char(uint32_t c) {
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
           (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
           (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

static int category(uint32_t c) {
    if (c > 0x10FFFF) return UTF8PROC_CATEGORY_CN;
    return (int)utf8proc_category((utf8proc_int32_t)c);
}

int lp_tok_onig_new_category(uint32_t c) {
    if (c < 0x800) return 0;
    if (lp_tok_in_ranges(c, lp_tok_onig_new_L, lp_tok_onig_new_L_count)) return UTF8PROC_CATEGORY_LO;
    if (lp_tok_in_ranges(c, lp_tok_onig_new_Nd, lp_tok_onig_new_Nd_count)) return UTF8PROC_CATEGORY_ND;
    if (lp_tok_in_ranges(c, lp_tok_onig_new_N, lp_tok_onig_new_N_count)) return UTF8PROC_CATEGORY_NO;
    if (lp_tok_in_ranges(c, lp_tok_onig_new_P, lp_tok_onig_new_P_count)) return UTF8PROC_CATEGORY_PO;
    if (lp_tok_in_ranges(c, lp_tok_onig_new_S, lp_tok_onig_new_S_count)) return UTF8PROC_CATEGORY_SO;
    if (lp_tok_in_ranges(c, lp_tok_onig_new_M, lp_tok_onig_new_M_count)) return UTF8PROC_CATEGORY_MN;
    if (lp_tok_in_ranges(c, lp_tok_onig_new_Z, lp_tok_onig_new_Z_count)) return UTF8PROC_CATEGORY_ZS;
    return 0;
}

/* The category Oniguruma would see: utf8proc's, or its Unicode 16 addition. */
static int onig_category(uint32_t c) {
    int k = category(c);
    return k == UTF8PROC_CATEGORY_CN ? lp_tok_onig_new_category(c) : k;
}

bool lp_tok_is_letter(uint32_t c) {
    if (c < 0x80) return (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
    int k = onig_category(c);
    return k >= UTF8PROC_CATEGORY_LU && k <= UTF8PROC_CATEGORY_LO;
}

bool lp_tok_is_number(uint32_t c) {
    if (c < 0x80) return c >= '0' && c <= '9';
    int k = onig_category(c);
    return k >= UTF8PROC_CATEGORY_ND && k <= UTF8PROC_CATEGORY_NO;
}

bool lp_tok_is_word_char(uint32_t c) {
    if (c < 0x80)
        return ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') || (c >= '0' && c <= '9') || c == '_';
    return lp_tok_in_ranges(c, lp_tok_rust_word, lp_tok_rust_word_count);
}

bool lp_tok_is_onig_word(uint32_t c) {
    if (c < 0x80)
        return ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') || (c >= '0' && c <= '9') || c == '_';
    return lp_tok_in_ranges(c, lp_tok_onig_word, lp_tok_onig_word_count);
}

int lp_tok_to_lower(uint32_t c, uint32_t out[3]) {
    if (c < 0x80) {
        out[0] = (c >= 'A' && c <= 'Z') ? c + 32 : c;
        return 1;
    }
    if (c == 0x130) { /* the only unconditional multi-char lowercase mapping */
        out[0] = 'i';
        out[1] = 0x307;
        return 2;
    }
    size_t lo = 0, hi = lp_tok_rust_lower_extra_count;
    while (lo < hi) { /* mappings newer than utf8proc's Unicode 15 */
        size_t mid = (lo + hi) / 2;
        if (lp_tok_rust_lower_extra[mid].a < c)
            lo = mid + 1;
        else if (lp_tok_rust_lower_extra[mid].a > c)
            hi = mid;
        else {
            out[0] = lp_tok_rust_lower_extra[mid].b;
            return 1;
        }
    }
    out[0] = (uint32_t)utf8proc_tolower((utf8proc_int32_t)c);
    return 1;
}

static bool norm_unassigned(uint32_t c) {
    return lp_tok_in_ranges(c, lp_tok_u9_norm_unassigned, lp_tok_u9_norm_unassigned_count);
}

int lp_tok_ccc(uint32_t c) {
    if (c < 0x300 || c > 0x10FFFF) return 0;
    int k = utf8proc_get_property((utf8proc_int32_t)c)->combining_class;
    if (k && norm_unassigned(c)) return 0;
    return k;
}

int lp_tok_decompose(uint32_t c, bool compat, uint32_t *out) {
    if (c < 0xA0 || c > 0x10FFFF || (c >= 0xD800 && c < 0xE000)) {
        out[0] = c;
        return 1;
    }
    utf8proc_int32_t buf[18];
    int last = 0;
    utf8proc_ssize_t n = utf8proc_decompose_char(
        (utf8proc_int32_t)c, buf, 18, UTF8PROC_DECOMPOSE | (compat ? UTF8PROC_COMPAT : 0), &last);
    if (n <= 0 || n > 18 || norm_unassigned(c)) {
        out[0] = c;
        return 1;
    }
    for (utf8proc_ssize_t i = 0; i < n; i++) out[i] = (uint32_t)buf[i];
    return (int)n;
}

uint32_t lp_tok_compose(uint32_t a, uint32_t b) {
    /* Hangul L+V and LV+T are algorithmic. */
    if (a >= 0x1100 && a < 0x1100 + 19 && b >= 0x1161 && b < 0x1161 + 21)
        return 0xAC00 + ((a - 0x1100) * 21 + (b - 0x1161)) * 28;
    if (a >= 0xAC00 && a < 0xAC00 + 11172 && (a - 0xAC00) % 28 == 0 && b > 0x11A7 &&
        b < 0x11A7 + 28)
        return a + (b - 0x11A7);
    size_t lo = 0, hi = lp_tok_u9_compose_count;
    uint64_t key = ((uint64_t)a << 21) | b;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        const lp_tok_compose_pair *p = &lp_tok_u9_compose[mid];
        uint64_t k = ((uint64_t)p->a << 21) | p->b;
        if (key < k)
            hi = mid;
        else if (key > k)
            lo = mid + 1;
        else
            return p->c;
    }
    return 0;
}
