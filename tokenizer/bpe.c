/* BPE: a word starts as its chars (with byte fallback / unk handling as HF
 * does), then the lowest-ranked adjacent pair is merged until none is left
 * (ties: leftmost). A min-heap of candidate merges over a linked list of
 * symbols makes that O(n log n). Results are cached per word in the
 * workspace, so the loaded tokenizer stays read-only and lock-free. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer/internal.h"

#define EMPTY_KEY UINT64_MAX

bool tok_bpe_init_merges(tok_model *m, size_t expected) {
    size_t cap = 64;
    while (cap < expected * 2) cap *= 2;
    m->merges = malloc(cap * sizeof *m->merges);
    if (!m->merges) return false;
    for (size_t i = 0; i < cap; i++) m->merges[i].key = EMPTY_KEY;
    m->merge_mask = cap - 1;
    m->nmerges = 0;
    return true;
}

static inline uint64_t mix64(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return x;
}

static bool merges_grow(tok_model *m) {
    size_t cap = (m->merge_mask + 1) * 2;
    tok_merge_entry *t = malloc(cap * sizeof *t);
    if (!t) return false;
    for (size_t i = 0; i < cap; i++) t[i].key = EMPTY_KEY;
    for (size_t i = 0; i <= m->merge_mask; i++) {
        if (m->merges[i].key == EMPTY_KEY) continue;
        size_t j = mix64(m->merges[i].key) & (cap - 1);
        while (t[j].key != EMPTY_KEY) j = (j + 1) & (cap - 1);
        t[j] = m->merges[i];
    }
    free(m->merges);
    m->merges = t;
    m->merge_mask = cap - 1;
    return true;
}

bool tok_bpe_add_merge(tok_model *m, uint32_t a, uint32_t b, uint32_t rank, uint32_t new_id) {
    if ((m->nmerges + 1) * 2 > m->merge_mask + 1 && !merges_grow(m)) return false;
    uint64_t key = ((uint64_t)a << 32) | b;
    size_t j = mix64(key) & m->merge_mask;
    while (m->merges[j].key != EMPTY_KEY) {
        if (m->merges[j].key == key) {
            /* A repeated pair: HF's map keeps the last one. */
            m->merges[j].rank = rank;
            m->merges[j].new_id = new_id;
            return true;
        }
        j = (j + 1) & m->merge_mask;
    }
    m->merges[j] = (tok_merge_entry){key, rank, new_id};
    m->nmerges++;
    return true;
}

static inline const tok_merge_entry *merge_get(const tok_model *m, int32_t a, int32_t b) {
    if (!m->merges) return NULL;
    uint64_t key = ((uint64_t)(uint32_t)a << 32) | (uint32_t)b;
    size_t j = mix64(key) & m->merge_mask;
    while (m->merges[j].key != EMPTY_KEY) {
        if (m->merges[j].key == key) return &m->merges[j];
        j = (j + 1) & m->merge_mask;
    }
    return NULL;
}

typedef struct sym {
    int32_t c;
    int32_t prev, next;
    uint32_t len;
} sym;

typedef struct cand {
    uint32_t rank;
    uint32_t pos;
    uint32_t new_id;
} cand;

static inline bool cand_less(cand a, cand b) {
    return a.rank != b.rank ? a.rank < b.rank : a.pos < b.pos;
}

static void heap_push(cand *h, size_t *n, cand x) {
    size_t i = (*n)++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!cand_less(x, h[p])) break;
        h[i] = h[p];
        i = p;
    }
    h[i] = x;
}

static cand heap_pop(cand *h, size_t *n) {
    cand top = h[0];
    cand x = h[--(*n)];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        cand best = x;
        if (l < *n && cand_less(h[l], best)) {
            m = l;
            best = h[l];
        }
        if (r < *n && cand_less(h[r], best)) m = r;
        if (m == i) break;
        h[i] = h[m];
        i = m;
    }
    if (*n) h[i] = x;
    return top;
}

/* Word::merge_all. */
static void merge_all(const tok_model *m, sym *s, size_t n, cand *heap) {
    size_t hn = 0;
    for (size_t i = 0; i + 1 < n; i++) {
        const tok_merge_entry *e = merge_get(m, s[i].c, s[i + 1].c);
        if (e) heap_push(heap, &hn, (cand){e->rank, (uint32_t)i, e->new_id});
    }
    while (hn) {
        cand top = heap_pop(heap, &hn);
        sym *cur = &s[top.pos];
        if (cur->len == 0 || cur->next == -1) continue;
        sym right = s[cur->next];
        const tok_merge_entry *e = merge_get(m, cur->c, right.c);
        if (!e || e->new_id != top.new_id) continue;
        cur->c = (int32_t)top.new_id;
        cur->len += right.len;
        s[cur->next].len = 0;
        cur->next = right.next;
        if (right.next > -1 && (size_t)right.next < n) s[right.next].prev = (int32_t)top.pos;
        if (cur->prev >= 0) {
            const tok_merge_entry *pe = merge_get(m, s[cur->prev].c, cur->c);
            if (pe) heap_push(heap, &hn, (cand){pe->rank, (uint32_t)cur->prev, pe->new_id});
        }
        if (cur->next >= 0 && (size_t)cur->next < n) {
            const tok_merge_entry *ne = merge_get(m, cur->c, s[cur->next].c);
            if (ne) heap_push(heap, &hn, (cand){ne->rank, top.pos, ne->new_id});
        }
    }
}

/* ---- per-workspace word cache ---- */

#define CACHE_MAX_WORD 256
#define CACHE_CAPACITY 10000

static void cache_reset(lp_tok_workspace *ws, const lp_tokenizer *tok) {
    if (ws->cache) memset(ws->cache, 0, ((size_t)ws->cache_mask + 1) * sizeof *ws->cache);
    ws->cache_used = 0;
    ws->cache_keys.n = 0;
    ws->cache_toks.n = 0;
    ws->cache_owner = tok;
}

static const tok_cache_entry *cache_find(lp_tok_workspace *ws, const char *s, uint32_t len,
                                         uint32_t h) {
    if (!ws->cache) return NULL;
    size_t j = h & ws->cache_mask;
    while (ws->cache[j].key_len) {
        const tok_cache_entry *e = &ws->cache[j];
        if (e->hash == h && e->key_len == len && !memcmp(ws->cache_keys.v + e->key_off, s, len))
            return e;
        j = (j + 1) & ws->cache_mask;
    }
    return NULL;
}

static void cache_put(lp_tok_workspace *ws, const char *s, uint32_t len, uint32_t h,
                      const tok_token *toks, size_t n) {
    if (len == 0 || len >= CACHE_MAX_WORD || ws->cache_used >= CACHE_CAPACITY) return;
    if (!ws->cache) {
        size_t cap = 32768; /* > 2 x capacity */
        ws->cache = calloc(cap, sizeof *ws->cache);
        if (!ws->cache) return;
        ws->cache_mask = (uint32_t)(cap - 1);
    }
    if (!tok_vec_reserve(&ws->cache_keys, ws->cache_keys.n + len) ||
        !tok_vec_reserve(&ws->cache_toks, ws->cache_toks.n + n))
        return;
    size_t j = h & ws->cache_mask;
    while (ws->cache[j].key_len) j = (j + 1) & ws->cache_mask;
    tok_cache_entry *e = &ws->cache[j];
    e->hash = h;
    e->key_off = (uint32_t)ws->cache_keys.n;
    e->key_len = len;
    e->tok_off = (uint32_t)ws->cache_toks.n;
    e->tok_count = (uint32_t)n;
    memcpy(ws->cache_keys.v + ws->cache_keys.n, s, len);
    ws->cache_keys.n += len;
    for (size_t i = 0; i < n; i++)
        ws->cache_toks.v[ws->cache_toks.n++] = (tok_cached_tok){toks[i].id, toks[i].s, toks[i].e};
    ws->cache_used++;
}

static lp_status push(const tok_model *m, lp_tok_workspace *ws, int32_t id, uint32_t s, uint32_t e,
                      lp_error *err) {
    size_t vl = 0;
    const char *v = tok_vocab_str(&m->vocab, (uint32_t)id, &vl);
    tok_token t = {id, s, e, v ? v : "", (uint32_t)vl};
    if (!tok_vec_push(&ws->toks, t)) return lp_fail(err, LP_ERR_NOMEM, "out of memory");
    return LP_OK;
}

static lp_status unk_id(const tok_model *m, int32_t *id, lp_error *err) {
    if (m->unk_id < 0)
        return lp_fail(err, LP_ERR_FORMAT, "BPE: the unk token '%s' is not in the vocabulary",
                       m->unk_token);
    *id = m->unk_id;
    return LP_OK;
}

lp_status tok_bpe_tokenize(const tok_model *m, lp_tok_workspace *ws, const lp_tokenizer *tok,
                           const char *s, uint32_t len, lp_error *err) {
    if (len == 0) return LP_OK;
    if (m->ignore_merges) {
        int32_t id = tok_vocab_get(&m->vocab, s, len);
        if (id >= 0) return push(m, ws, id, 0, len, err);
    }
    if (ws->cache_owner != tok) cache_reset(ws, tok);
    uint32_t h = tok_hash_final(tok_hash_bytes(tok_hash_init(), s, len));
    const tok_cache_entry *ce = len < CACHE_MAX_WORD ? cache_find(ws, s, len, h) : NULL;
    if (ce) {
        for (uint32_t i = 0; i < ce->tok_count; i++) {
            tok_cached_tok c = ws->cache_toks.v[ce->tok_off + i];
            lp_status st = push(m, ws, c.id, c.s, c.e, err);
            if (st) return st;
        }
        return LP_OK;
    }
    /* Initial symbols. */
    size_t cap = (size_t)len * (m->prefix_len + m->suffix_len + 5) + 1;
    sym *syms = ta_alloc(&ws->arena, cap * sizeof *syms);
    if (!syms) return lp_fail(err, LP_ERR_NOMEM, "out of memory");
    size_t n = 0;
    bool have_unk = false;
    int32_t unk = -1;
    uint32_t unk_len = 0;
    char buf[512];
#define ADD(id_, len_)                                          \
    do {                                                        \
        syms[n] = (sym){(id_), (int32_t)n - 1, -1, (len_)};      \
        if (n > 0) syms[n - 1].next = (int32_t)n;               \
        n++;                                                    \
    } while (0)
    for (uint32_t i = 0; i < len;) {
        uint32_t cl = (uint32_t)lp_tok_utf8_len((unsigned char)s[i]);
        if (i + cl > len) cl = len - i;
        bool first = i == 0, last = i + cl >= len;
        size_t pl = (!first && m->prefix) ? m->prefix_len : 0;
        size_t sl = (last && m->suffix) ? m->suffix_len : 0;
        int32_t id;
        if (pl + cl + sl <= sizeof buf) {
            if (pl) memcpy(buf, m->prefix, pl);
            memcpy(buf + pl, s + i, cl);
            if (sl) memcpy(buf + pl + cl, m->suffix, sl);
            id = tok_vocab_get(&m->vocab, buf, pl + cl + sl);
        } else {
            id = -1;
        }
        if (id >= 0) {
            if (have_unk) {
                ADD(unk, unk_len);
                have_unk = false;
            }
            ADD(id, cl);
        } else {
            bool done = false;
            if (m->byte_fallback) {
                /* Every byte of the piece (with prefix/suffix) must have a <0xXX> token. */
                bool all = true;
                size_t tl = pl + cl + sl;
                for (size_t k = 0; k < tl && tl <= sizeof buf; k++)
                    if (m->byte_ids[(unsigned char)buf[k]] < 0) all = false;
                if (all && tl <= sizeof buf) {
                    /* A pending unk stays pending: HF adds it only before the
                     * next char found in the vocabulary. */
                    for (size_t k = 0; k < tl; k++) ADD(m->byte_ids[(unsigned char)buf[k]], 1);
                    done = true;
                }
            }
            if (!done && m->unk_token) {
                int32_t uid = -1;
                if (have_unk && m->fuse_unk) {
                    unk_len += cl;
                } else {
                    if (have_unk) ADD(unk, unk_len);
                    lp_status st = unk_id(m, &uid, err);
                    if (st) return st;
                    unk = uid;
                    unk_len = cl;
                    have_unk = true;
                }
            }
        }
        i += cl;
    }
    if (have_unk) ADD(unk, unk_len);
#undef ADD
    cand *heap = ta_alloc(&ws->arena, (n * 3 + 1) * sizeof *heap);
    if (!heap) return lp_fail(err, LP_ERR_NOMEM, "out of memory");
    merge_all(m, syms, n, heap);
    size_t first_tok = ws->toks.n;
    uint32_t off = 0;
    for (size_t i = 0; i < n; i++) {
        if (syms[i].len == 0) continue;
        lp_status st = push(m, ws, syms[i].c, off, off + syms[i].len, err);
        if (st) return st;
        off += syms[i].len;
    }
    /* a word may give no tokens (nothing known, no unk): toks.v may still be NULL */
    const tok_token *made = ws->toks.n > first_tok ? ws->toks.v + first_tok : NULL;
    cache_put(ws, s, len, h, made, ws->toks.n - first_tok);
    return LP_OK;
}
