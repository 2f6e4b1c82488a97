/* SentencePiece's precompiled charsmap: a darts-clone double-array trie over
 * UTF-8 byte strings, whose values index NUL-terminated replacement strings.
 * Blob layout: <u32 LE trie size in bytes><trie units, u32 LE each><strings>.
 *
 * Two users read it differently, and both are reproduced:
 *  - HF tokenizers' Precompiled normalizer looks up each grapheme (when
 *    shorter than 6 bytes) and else each char, and takes the first (shortest)
 *    prefix match as the replacement of the whole chunk;
 *  - sentencepiece's own normalizer takes the longest prefix match at each
 *    position (tok_precompiled_prefix, used by the .model path).
 * Every array access is bounds-checked: the blob comes from outside. */
#include <string.h>
#include <utf8proc.h>

#include "tokenizer/internal.h"
#include "tokenizer/spm.h"

struct tok_precompiled {
    uint32_t *units;
    size_t nunits;
    const char *strings;
    size_t nstrings;
};

tok_precompiled *tok_precompiled_parse(tok_arena *pool, const unsigned char *data, size_t len,
                                       lp_error *err) {
    if (len < 4) {
        lp_fail(err, LP_ERR_FORMAT, "precompiled charsmap: %zu bytes, too short", len);
        return NULL;
    }
    uint32_t trie_size = (uint32_t)data[0] | (uint32_t)data[1] << 8 | (uint32_t)data[2] << 16 |
                         (uint32_t)data[3] << 24;
    if ((size_t)trie_size > len - 4 || trie_size % 4 || trie_size < 4) {
        lp_fail(err, LP_ERR_FORMAT, "precompiled charsmap: trie size %u does not fit its %zu-byte blob",
                trie_size, len);
        return NULL;
    }
    tok_precompiled *pc = ta_zalloc(pool, sizeof *pc);
    size_t nunits = trie_size / 4, nstr = len - 4 - trie_size;
    uint32_t *units = ta_alloc(pool, nunits * sizeof *units);
    char *strings = ta_alloc(pool, nstr + 1);
    if (!pc || !units || !strings) {
        lp_fail(err, LP_ERR_NOMEM, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < nunits; i++) {
        const unsigned char *u = data + 4 + 4 * i;
        units[i] = (uint32_t)u[0] | (uint32_t)u[1] << 8 | (uint32_t)u[2] << 16 | (uint32_t)u[3] << 24;
    }
    memcpy(strings, data + 4 + trie_size, nstr);
    strings[nstr] = '\0';
    if (!lp_tok_utf8_valid(strings, nstr)) {
        lp_fail(err, LP_ERR_FORMAT, "precompiled charsmap: the replacement strings are not valid UTF-8");
        return NULL;
    }
    pc->units = units;
    pc->nunits = nunits;
    pc->strings = strings;
    pc->nstrings = nstr;
    return pc;
}

static inline bool unit_has_leaf(uint32_t u) { return (u >> 8) & 1; }
static inline uint32_t unit_value(uint32_t u) { return u & 0x7FFFFFFFu; }
static inline uint32_t unit_label(uint32_t u) { return u & (0x80000000u | 0xFFu); }
static inline uint32_t unit_offset(uint32_t u) { return (u >> 10) << ((u & (1u << 9)) >> 6); }

/* darts-clone commonPrefixSearch; calls back (value, length) for each prefix
 * of key[0..len) in the trie, shortest first. Stops at a NUL byte when
 * stop_at_nul (HF's port does; sentencepiece passes the length). */
typedef bool (*prefix_cb)(void *ctx, uint32_t value, size_t length);
static void prefix_search(const tok_precompiled *pc, const char *key, size_t len, bool stop_at_nul,
                          prefix_cb cb, void *ctx) {
    if (!pc->nunits) return;
    size_t node = 0;
    uint32_t unit = pc->units[0];
    node ^= unit_offset(unit);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)key[i];
        if (stop_at_nul && c == 0) return;
        node ^= c;
        if (node >= pc->nunits) return;
        unit = pc->units[node];
        if (unit_label(unit) != c) return;
        node ^= unit_offset(unit);
        if (node >= pc->nunits) return;
        if (unit_has_leaf(unit)) {
            if (!cb(ctx, unit_value(pc->units[node]), i + 1)) return;
        }
    }
}

typedef struct first_hit {
    bool found;
    uint32_t value;
    size_t length;
} first_hit;

static bool take_first(void *ctx, uint32_t value, size_t length) {
    first_hit *h = ctx;
    h->found = true;
    h->value = value;
    h->length = length;
    return false;
}

static bool take_longest(void *ctx, uint32_t value, size_t length) {
    first_hit *h = ctx;
    if (!h->found || length > h->length) {
        h->found = true;
        h->value = value;
        h->length = length;
    }
    return true;
}

/* The NUL-terminated replacement at `value`; false when out of the blob. */
static bool replacement(const tok_precompiled *pc, uint32_t value, const char **s, size_t *n) {
    if (value >= pc->nstrings) return false;
    *s = pc->strings + value;
    *n = strlen(*s); /* the blob is NUL-terminated at its end */
    return true;
}

/* HF spm_precompiled::Precompiled::transform. */
static bool hf_transform(const tok_precompiled *pc, const char *chunk, size_t len, const char **out,
                         size_t *out_len) {
    first_hit h = {false, 0, 0};
    prefix_search(pc, chunk, len, true, take_first, &h);
    if (!h.found) return false;
    return replacement(pc, h.value, out, out_len);
}

bool tok_precompiled_prefix(const tok_precompiled *pc, const char *s, size_t len, const char **out,
                            size_t *out_len, size_t *consumed) {
    first_hit h = {false, 0, 0};
    prefix_search(pc, s, len, false, take_longest, &h);
    if (!h.found || !replacement(pc, h.value, out, out_len)) return false;
    *consumed = h.length;
    return true;
}

/* (char, change) list being built; HF precompiled.rs `replace`. */
typedef struct tlist {
    uint32_t *c;
    int32_t *ch;
    size_t n, cap;
    lp_tok_workspace *ws;
    bool oom;
} tlist;

static void tl_push(tlist *t, uint32_t c, int32_t change) {
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        uint32_t *nc = ta_alloc(&t->ws->arena, cap * sizeof *nc);
        int32_t *nch = ta_alloc(&t->ws->arena, cap * sizeof *nch);
        if (!nc || !nch) {
            t->oom = true;
            return;
        }
        if (t->n) {
            memcpy(nc, t->c, t->n * sizeof *nc);
            memcpy(nch, t->ch, t->n * sizeof *nch);
        }
        t->c = nc;
        t->ch = nch;
        t->cap = cap;
    }
    t->c[t->n] = c;
    t->ch[t->n] = change;
    t->n++;
}

static void tl_replace(tlist *t, const char *old, size_t old_len, const char *new_s, size_t new_len) {
    long old_count = (long)lp_tok_utf8_count(old, old_len);
    long new_count = (long)lp_tok_utf8_count(new_s, new_len);
    long diff = new_count - old_count;
    for (size_t i = 0; i < new_len;) tl_push(t, lp_tok_utf8_next(new_s, &i), 0);
    if (t->oom) return;
    if (diff > 0) {
        for (long k = 0; k < diff && (size_t)k < t->n; k++) t->ch[t->n - 1 - (size_t)k] = 1;
    } else if (diff < 0 && t->n) {
        t->ch[t->n - 1] += (int32_t)diff;
    }
}

/* End of the extended grapheme cluster that starts at s[i]. */
static size_t grapheme_end(const char *s, size_t len, size_t i) {
    utf8proc_int32_t state = 0;
    size_t j = i;
    uint32_t prev = lp_tok_utf8_next(s, &j);
    while (j < len) {
        size_t k = j;
        uint32_t c = lp_tok_utf8_next(s, &k);
        if (utf8proc_grapheme_break_stateful((utf8proc_int32_t)prev, (utf8proc_int32_t)c, &state)) break;
        prev = c;
        j = k;
    }
    return j;
}

bool tok_precompiled_normalize(const tok_precompiled *pc, lp_tok_workspace *ws, tok_nstr *n) {
    tlist t = {NULL, NULL, 0, 0, ws, false};
    bool modified = false;
    const char *s = n->s;
    for (size_t i = 0; i < n->len;) {
        size_t e = grapheme_end(s, n->len, i);
        const char *rep;
        size_t rl;
        if (e - i < 6 && hf_transform(pc, s + i, e - i, &rep, &rl)) {
            modified = true;
            tl_replace(&t, s + i, e - i, rep, rl);
        } else {
            for (size_t k = i; k < e;) {
                size_t at = k;
                uint32_t c = lp_tok_utf8_next(s, &k);
                if (hf_transform(pc, s + at, k - at, &rep, &rl)) {
                    modified = true;
                    tl_replace(&t, s + at, k - at, rep, rl);
                } else {
                    tl_push(&t, c, 0);
                }
            }
        }
        if (t.oom) return false;
        i = e;
    }
    if (!modified) return true;
    tok_nbuild b;
    nb_begin(&b, ws, n, 0, n->len, 0);
    for (size_t i = 0; i < t.n; i++) nb_push(&b, t.c[i], t.ch[i]);
    return nb_end(&b, n);
}
