/* A fast path for the big parts of a tokenizer.json: model.vocab and
 * model.merges hold hundreds of thousands of entries, and building a cJSON
 * node (three mallocs) per entry makes a 250k-piece vocabulary take far too
 * long to load. This finds those two values by a structural scan, parses
 * them directly into flat arrays, and cuts them out of a copy of the text
 * so cJSON only parses the small rest. Anything unusual (escaped keys, ids
 * that are not plain integers, odd shapes) makes it decline, and the whole
 * file then goes through cJSON as before: the fast path never decides
 * validity, it only takes the common shapes off cJSON's hands. */
#include <stdlib.h>
#include <string.h>

#include "tokenizer/json_fast.h"

static size_t ws(const char *s, size_t i, size_t n) {
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) i++;
    return i;
}

/* Index after the closing quote of the string that starts at s[i] == '"'; 0 on error.
 * memchr finds each quote; an odd run of backslashes before it escapes it. */
static size_t skip_string(const char *s, size_t i, size_t n) {
    size_t p = i + 1;
    for (;;) {
        const char *q = p < n ? memchr(s + p, '"', n - p) : NULL;
        if (!q) return 0;
        size_t at = (size_t)(q - s), bs = 0;
        while (at - bs > i + 1 && s[at - bs - 1] == '\\') bs++;
        if (!(bs & 1)) return at + 1;
        p = at + 1;
    }
}

/* Index after the JSON value that starts at s[i]; 0 on error. */
static size_t skip_value(const char *s, size_t i, size_t n) {
    i = ws(s, i, n);
    if (i >= n) return 0;
    if (s[i] == '"') return skip_string(s, i, n);
    if (s[i] == '{' || s[i] == '[') {
        int depth = 0;
        for (; i < n; i++) {
            char c = s[i];
            if (c == '"') {
                size_t e = skip_string(s, i, n);
                if (!e) return 0;
                i = e - 1;
            } else if (c == '{' || c == '[') {
                depth++;
            } else if (c == '}' || c == ']') {
                if (--depth == 0) return i + 1;
            }
        }
        return 0;
    }
    size_t start = i;
    while (i < n && s[i] != ',' && s[i] != '}' && s[i] != ']' && s[i] != ' ' && s[i] != '\n' &&
           s[i] != '\r' && s[i] != '\t')
        i++;
    return i > start ? i : 0;
}

/* Clinger's fast path: a decimal with at most 15 significant digits and a
 * power of ten up to 1e22 converts exactly with one correctly rounded
 * operation, so it equals strtod's result. Others go to strtod. */
static bool fast_decimal(const char *p, size_t len, double *out) {
    static const double pow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                   1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    size_t i = 0;
    bool neg = false;
    if (i < len && p[i] == '-') {
        neg = true;
        i++;
    }
    uint64_t m = 0;
    int digits = 0, frac = 0;
    bool any = false;
    while (i < len && p[i] >= '0' && p[i] <= '9') {
        if (m || p[i] != '0') digits++;
        m = m * 10 + (uint64_t)(p[i] - '0');
        any = true;
        i++;
        if (digits > 15) return false;
    }
    if (i < len && p[i] == '.') {
        i++;
        while (i < len && p[i] >= '0' && p[i] <= '9') {
            if (m || p[i] != '0') digits++;
            m = m * 10 + (uint64_t)(p[i] - '0');
            frac++;
            any = true;
            i++;
            if (digits > 15) return false;
        }
    }
    if (!any || i != len || frac > 22) return false;
    double d = (double)m;
    if (frac) d /= pow10[frac];
    *out = neg ? -d : d;
    return true;
}

static int hexv(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static bool hex4(const char *s, size_t i, size_t n, uint32_t *v) {
    if (i + 4 > n) return false;
    uint32_t r = 0;
    for (int k = 0; k < 4; k++) {
        int h = hexv(s[i + (size_t)k]);
        if (h < 0) return false;
        r = r * 16 + (uint32_t)h;
    }
    *v = r;
    return true;
}

/* Decodes the JSON string at s[*i] into out (room for its raw length);
 * advances *i past it. False on anything unusual (then cJSON decides). */
static bool read_string(const char *s, size_t *i, size_t n, char *out, size_t *olen) {
    size_t p = *i, o = 0;
    if (p >= n || s[p] != '"') return false;
    for (p++; p < n; p++) {
        unsigned char c = (unsigned char)s[p];
        if (c == '"') {
            *i = p + 1;
            *olen = o;
            return true;
        }
        if (c < 0x20) return false;
        if (c != '\\') {
            out[o++] = (char)c;
            continue;
        }
        if (++p >= n) return false;
        switch (s[p]) {
        case '"': out[o++] = '"'; break;
        case '\\': out[o++] = '\\'; break;
        case '/': out[o++] = '/'; break;
        case 'b': out[o++] = '\b'; break;
        case 'f': out[o++] = '\f'; break;
        case 'n': out[o++] = '\n'; break;
        case 'r': out[o++] = '\r'; break;
        case 't': out[o++] = '\t'; break;
        case 'u': {
            uint32_t cp;
            if (!hex4(s, p + 1, n, &cp)) return false;
            p += 4;
            if (cp >= 0xDC00 && cp <= 0xDFFF) return false;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                uint32_t lo;
                if (p + 2 >= n || s[p + 1] != '\\' || s[p + 2] != 'u' || !hex4(s, p + 3, n, &lo) ||
                    lo < 0xDC00 || lo > 0xDFFF)
                    return false;
                p += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            /* \u0000 would cut cJSON's C strings; let cJSON handle that file */
            if (cp == 0) return false;
            o += (size_t)lp_tok_utf8_put(cp, out + o);
            break;
        }
        default: return false;
        }
    }
    return false;
}

/* A plain non-negative integer (what ids are); false otherwise. */
static bool read_index(const char *s, size_t *i, size_t n, uint32_t *v) {
    size_t p = *i;
    uint64_t r = 0;
    size_t start = p;
    while (p < n && s[p] >= '0' && s[p] <= '9') {
        r = r * 10 + (uint64_t)(s[p] - '0');
        if (r > 0x7FFFFFFFu) return false;
        p++;
    }
    if (p == start) return false;
    if (p < n && (s[p] == '.' || s[p] == 'e' || s[p] == 'E')) return false;
    *v = (uint32_t)r;
    *i = p;
    return true;
}

static bool grow(tok_json_fast *f, size_t need) {
    if (need <= f->cap) return true;
    size_t cap = f->cap ? f->cap * 2 : 1024;
    while (cap < need) cap *= 2;
    tok_vocab_entry *e = realloc(f->entries, cap * sizeof *e);
    if (!e) return false;
    f->entries = e;
    if (f->want_scores) {
        double *sc = realloc(f->scores, cap * sizeof *sc);
        if (!sc) return false;
        f->scores = sc;
    }
    f->cap = cap;
    return true;
}

/* {"token": id, ...} */
static bool parse_map(tok_json_fast *f, const char *s, size_t i, size_t end, size_t *stop) {
    i = ws(s, i, end);
    if (i >= end || s[i] != '{') return false;
    i = ws(s, i + 1, end);
    if (i < end && s[i] == '}') {
        *stop = i + 1;
        return true;
    }
    for (;;) {
        if (!grow(f, f->n + 1)) return false;
        size_t olen;
        char *out = f->strings + f->slen;
        if (!read_string(s, &i, end, out, &olen)) return false;
        i = ws(s, i, end);
        if (i >= end || s[i] != ':') return false;
        i = ws(s, i + 1, end);
        uint32_t id;
        if (!read_index(s, &i, end, &id)) return false;
        f->entries[f->n++] = (tok_vocab_entry){out, (uint32_t)olen, id};
        f->slen += olen;
        i = ws(s, i, end);
        if (i < end && s[i] == ',') {
            i = ws(s, i + 1, end);
            continue;
        }
        *stop = i + 1;
        return i < end && s[i] == '}';
    }
}

/* [["piece", score], ...] */
static bool parse_pairs(tok_json_fast *f, const char *s, size_t i, size_t end, size_t *stop) {
    i = ws(s, i, end);
    if (i >= end || s[i] != '[') return false;
    i = ws(s, i + 1, end);
    if (i < end && s[i] == ']') {
        *stop = i + 1;
        return true;
    }
    for (;;) {
        if (!grow(f, f->n + 1)) return false;
        if (i >= end || s[i] != '[') return false;
        i = ws(s, i + 1, end);
        size_t olen;
        char *out = f->strings + f->slen;
        if (!read_string(s, &i, end, out, &olen)) return false;
        i = ws(s, i, end);
        if (i >= end || s[i] != ',') return false;
        i = ws(s, i + 1, end);
        /* JSON number grammar, then strtod (cJSON's conversion) on a copy */
        size_t b = i;
        if (i < end && s[i] == '-') i++;
        while (i < end && ((s[i] >= '0' && s[i] <= '9') || s[i] == '.' || s[i] == 'e' || s[i] == 'E' ||
                           s[i] == '+' || s[i] == '-'))
            i++;
        if (i == b || i - b > 64) return false;
        double d;
        if (!fast_decimal(s + b, i - b, &d)) {
            char num[72];
            memcpy(num, s + b, i - b);
            num[i - b] = '\0';
            char *endp;
            d = strtod(num, &endp);
            if (*endp) return false;
        }
        i = ws(s, i, end);
        if (i >= end || s[i] != ']') return false;
        i = ws(s, i + 1, end);
        f->entries[f->n] = (tok_vocab_entry){out, (uint32_t)olen, (uint32_t)f->n};
        f->scores[f->n] = d;
        f->n++;
        f->slen += olen;
        if (i < end && s[i] == ',') {
            i = ws(s, i + 1, end);
            continue;
        }
        *stop = i + 1;
        return i < end && s[i] == ']';
    }
}

/* ["a b", ...] or [["a", "b"], ...]: entries hold a, b in pairs (2k, 2k+1). */
static bool parse_merges(tok_json_fast *f, const char *s, size_t i, size_t end, size_t *stop) {
    i = ws(s, i, end);
    if (i >= end || s[i] != '[') return false;
    i = ws(s, i + 1, end);
    if (i < end && s[i] == ']') {
        *stop = i + 1;
        return true;
    }
    for (;;) {
        if (!grow(f, f->n + 2)) return false;
        size_t la, lb;
        char *a = f->strings + f->slen, *b;
        if (i < end && s[i] == '"') {
            if (!read_string(s, &i, end, a, &la)) return false;
            if (la >= 8 && !memcmp(a, "#version", 8)) return false; /* cJSON's path skips these */
            /* "a b": exactly one space, as HF requires */
            char *sp = memchr(a, ' ', la);
            if (!sp || memchr(sp + 1, ' ', la - (size_t)(sp - a) - 1)) return false;
            b = sp + 1;
            lb = la - (size_t)(b - a);
            la = (size_t)(sp - a);
            f->slen += (size_t)(b - a) + lb;
        } else if (i < end && s[i] == '[') {
            i = ws(s, i + 1, end);
            if (!read_string(s, &i, end, a, &la)) return false;
            f->slen += la;
            i = ws(s, i, end);
            if (i >= end || s[i] != ',') return false;
            i = ws(s, i + 1, end);
            b = f->strings + f->slen;
            if (!read_string(s, &i, end, b, &lb)) return false;
            f->slen += lb;
            i = ws(s, i, end);
            if (i >= end || s[i] != ']') return false;
            i++;
        } else {
            return false;
        }
        f->entries[f->n++] = (tok_vocab_entry){a, (uint32_t)la, 0};
        f->entries[f->n++] = (tok_vocab_entry){b, (uint32_t)lb, 0};
        i = ws(s, i, end);
        if (i < end && s[i] == ',') {
            i = ws(s, i + 1, end);
            continue;
        }
        *stop = i + 1;
        return i < end && s[i] == ']';
    }
}

void tok_json_fast_free(tok_json_fast *f) {
    free(f->entries);
    free(f->scores);
    free(f->strings);
    memset(f, 0, sizeof *f);
}

/* The model object: parses "vocab" and "merges" in the same pass that walks
 * its members (first occurrence wins, as with cJSON_GetObjectItem). */
static bool walk_model(const char *s, size_t i, size_t n, tok_json_fast *vocab, tok_json_fast *merges,
                       size_t span[2][2]) {
    span[0][0] = span[0][1] = span[1][0] = span[1][1] = 0;
    i = ws(s, i, n);
    if (i >= n || s[i] != '{') return false;
    i = ws(s, i + 1, n);
    if (i < n && s[i] == '}') return false;
    for (;;) {
        if (i >= n || s[i] != '"') return false;
        size_t ke = skip_string(s, i, n);
        if (!ke) return false;
        size_t ks = i + 1, kl = ke - i - 2;
        i = ws(s, ke, n);
        if (i >= n || s[i] != ':') return false;
        size_t b = ws(s, i + 1, n), e = 0;
        bool is_vocab = kl == 5 && !memcmp(s + ks, "vocab", 5) && !span[0][1];
        bool is_merges = kl == 6 && !memcmp(s + ks, "merges", 6) && !span[1][1];
        if (is_vocab && b < n && (s[b] == '{' || s[b] == '[')) {
            /* decoded strings are never longer than their JSON spelling */
            vocab->strings = malloc(n - b + 1);
            if (!vocab->strings) return false;
            vocab->is_map = s[b] == '{';
            vocab->want_scores = !vocab->is_map;
            if (!(vocab->is_map ? parse_map(vocab, s, b, n, &e) : parse_pairs(vocab, s, b, n, &e)))
                return false;
            span[0][0] = b;
            span[0][1] = e;
        } else if (is_merges && b < n && s[b] == '[') {
            merges->strings = malloc(n - b + 1);
            if (!merges->strings || !parse_merges(merges, s, b, n, &e)) return false;
            merges->present = true;
            span[1][0] = b;
            span[1][1] = e;
        } else {
            e = skip_value(s, b, n);
            if (!e) return false;
        }
        i = ws(s, e, n);
        if (i < n && s[i] == ',') {
            i = ws(s, i + 1, n);
            continue;
        }
        return i < n && s[i] == '}' && span[0][1];
    }
}

bool tok_json_fast_scan(const char *json, size_t len, char **copy, size_t *copy_len, tok_json_fast *vocab,
                        tok_json_fast *merges) {
    memset(vocab, 0, sizeof *vocab);
    memset(merges, 0, sizeof *merges);
    *copy = NULL;
    if (len < 4096) return false; /* small files: cJSON is fine */
    /* the top-level "model" member (the first one) */
    size_t i = ws(json, 0, len), ms = 0;
    bool found = false;
    if (i >= len || json[i] != '{') return false;
    i = ws(json, i + 1, len);
    while (i < len && json[i] == '"') {
        size_t ke = skip_string(json, i, len);
        if (!ke) return false;
        bool is_model = ke - i - 2 == 5 && !memcmp(json + i + 1, "model", 5);
        i = ws(json, ke, len);
        if (i >= len || json[i] != ':') return false;
        size_t b = ws(json, i + 1, len);
        if (is_model) {
            ms = b;
            found = true;
            break;
        }
        size_t e = skip_value(json, b, len);
        if (!e) return false;
        i = ws(json, e, len);
        if (i < len && json[i] == ',') i = ws(json, i + 1, len);
    }
    size_t span[2][2];
    if (!found || !walk_model(json, ms, len, vocab, merges, span)) {
        tok_json_fast_free(vocab);
        tok_json_fast_free(merges);
        return false;
    }
    /* cJSON gets the text with those values cut out: prefix, {} or [], ... */
    size_t cut[2][2] = {{span[0][0], span[0][1]}, {span[1][0], span[1][1]}};
    const char *ph[2] = {vocab->is_map ? "{}" : "[]", "[]"};
    int order[2] = {0, 1};
    if (merges->present && cut[1][0] < cut[0][0]) {
        order[0] = 1;
        order[1] = 0;
    }
    char *out = malloc(len + 1);
    if (!out) {
        tok_json_fast_free(vocab);
        tok_json_fast_free(merges);
        return false;
    }
    size_t o = 0, at = 0;
    for (int k = 0; k < 2; k++) {
        int w = order[k];
        if (w == 1 && !merges->present) continue;
        memcpy(out + o, json + at, cut[w][0] - at);
        o += cut[w][0] - at;
        memcpy(out + o, ph[w], 2);
        o += 2;
        at = cut[w][1];
    }
    memcpy(out + o, json + at, len - at);
    o += len - at;
    out[o] = '\0';
    *copy = out;
    *copy_len = o;
    vocab->present = true;
    return true;
}
