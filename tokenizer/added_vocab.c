/* Added tokens (special tokens and user-added words): found in the text
 * before the model runs, leftmost-longest, with HF's single_word, lstrip and
 * rstrip rules. Tokens with normalized=false are matched on the raw text,
 * the others on the normalized text of the pieces in between. */
#include <stdlib.h>
#include <string.h>

#include "tokenizer/internal.h"

typedef struct build_edge {
    uint32_t node;
    unsigned char byte;
    uint32_t child;
} build_edge;

static int cmp_edge(const void *a, const void *b) {
    const build_edge *x = a, *y = b;
    if (x->node != y->node) return x->node < y->node ? -1 : 1;
    return (int)x->byte - (int)y->byte;
}

/* Builds a byte trie of the given patterns; a pattern's value is its index.
 * A later pattern equal to an earlier one takes the node (HF map order). */
lp_status tok_matcher_build(tok_arena *pool, const char *const *pats, const size_t *lens, size_t n,
                            tok_matcher *m, lp_error *err) {
    memset(m, 0, sizeof *m);
    size_t total = 1;
    for (size_t i = 0; i < n; i++) total += pats[i] ? lens[i] : 0;
    build_edge *edges = malloc(total * sizeof *edges);
    m->nodes = ta_alloc(pool, total * sizeof *m->nodes);
    /* child lookup while building: a hash from (node, byte) to edge index */
    size_t hcap = 16;
    while (hcap < total * 2) hcap *= 2;
    uint32_t *hash = calloc(hcap, sizeof *hash);
    if (!edges || !m->nodes || !hash) {
        free(edges);
        free(hash);
        return lp_fail(err, LP_ERR_NOMEM, "out of memory building the token matcher");
    }
    size_t nn = 1, ne = 0;
    m->nodes[0] = (tok_trie_node){0, 0, -1};
    for (size_t i = 0; i < n; i++) {
        if (!pats[i] || lens[i] == 0) continue;
        uint32_t node = 0;
        for (size_t k = 0; k < lens[i]; k++) {
            unsigned char b = (unsigned char)pats[i][k];
            uint64_t key = ((uint64_t)node << 8) | b;
            size_t j = (size_t)((key * 0x9E3779B97F4A7C15ULL) >> 20) & (hcap - 1);
            uint32_t child = 0;
            while (hash[j]) {
                const build_edge *e = &edges[hash[j] - 1];
                if (e->node == node && e->byte == b) {
                    child = e->child;
                    break;
                }
                j = (j + 1) & (hcap - 1);
            }
            if (!child) {
                child = (uint32_t)nn++;
                m->nodes[child] = (tok_trie_node){0, 0, -1};
                edges[ne] = (build_edge){node, b, child};
                hash[j] = (uint32_t)++ne;
            }
            node = child;
        }
        m->nodes[node].value = (int32_t)i;
        m->first_byte[(unsigned char)pats[i][0]] = true;
        m->present = true;
    }
    free(hash);
    qsort(edges, ne, sizeof *edges, cmp_edge);
    m->edges = ta_alloc(pool, (ne + 1) * sizeof *m->edges);
    if (!m->edges) {
        free(edges);
        return lp_fail(err, LP_ERR_NOMEM, "out of memory building the token matcher");
    }
    for (size_t e = 0; e < ne; e++) {
        tok_trie_node *nd = &m->nodes[edges[e].node];
        if (nd->nchildren == 0) nd->first_child = (uint32_t)e;
        if (nd->nchildren == UINT16_MAX) {
            free(edges);
            return lp_fail(err, LP_ERR_INTERNAL, "token matcher: node fan-out overflow");
        }
        nd->nchildren++;
        m->edges[e] = (tok_trie_edge){edges[e].byte, edges[e].child};
    }
    m->nnodes = nn;
    free(edges);
    return LP_OK;
}

static lp_status build_matcher(lp_tokenizer *tok, bool normalized, tok_matcher *m, lp_error *err) {
    const char **pats = malloc((tok->nadded + 1) * sizeof *pats);
    size_t *lens = malloc((tok->nadded + 1) * sizeof *lens);
    if (!pats || !lens) {
        free(pats);
        free(lens);
        return lp_fail(err, LP_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < tok->nadded; i++) {
        bool use = tok->added[i].normalized == normalized;
        pats[i] = use ? tok->added[i].pattern : NULL;
        lens[i] = use ? tok->added[i].pattern_len : 0;
    }
    lp_status st = tok_matcher_build(&tok->pool, pats, lens, tok->nadded, m, err);
    free(pats);
    free(lens);
    return st;
}

static uint32_t child_of(const tok_matcher *m, uint32_t node, unsigned char b) {
    const tok_trie_node *nd = &m->nodes[node];
    size_t lo = nd->first_child, hi = lo + nd->nchildren;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (m->edges[mid].byte < b)
            lo = mid + 1;
        else if (m->edges[mid].byte > b)
            hi = mid;
        else
            return m->edges[mid].node;
    }
    return 0;
}

/* Longest pattern starting at s[i]; returns its end or 0. */
size_t tok_matcher_longest(const tok_matcher *m, const char *s, size_t len, size_t i, int32_t *value) {
    uint32_t node = 0;
    size_t best = 0;
    for (size_t k = i; k < len; k++) {
        node = child_of(m, node, (unsigned char)s[k]);
        if (!node) break;
        if (m->nodes[node].value >= 0) {
            best = k + 1;
            *value = m->nodes[node].value;
        }
    }
    return best;
}

/* Regex \w on the char that ends / starts a string. */
static bool ends_with_word(const char *s, size_t n) {
    if (n == 0) return false;
    size_t i = n - 1;
    while (i > 0 && ((unsigned char)s[i] & 0xC0) == 0x80) i--;
    size_t j = i;
    return lp_tok_is_word_char(lp_tok_utf8_next(s, &j));
}

static bool starts_with_word(const char *s, size_t n) {
    if (n == 0) return false;
    size_t j = 0;
    return lp_tok_is_word_char(lp_tok_utf8_next(s, &j));
}

/* Start of the whitespace run that ends s[0..n). */
static size_t space_leftmost_at_end(const char *s, size_t n) {
    size_t i = n;
    while (i > 0) {
        size_t b = i - 1;
        while (b > 0 && ((unsigned char)s[b] & 0xC0) == 0x80) b--;
        size_t j = b;
        if (!lp_tok_is_white_space(lp_tok_utf8_next(s, &j))) break;
        i = b;
    }
    return i;
}

/* Length of the whitespace run that starts s[0..n). */
static size_t space_rightmost_at_start(const char *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        if (!lp_tok_is_white_space(lp_tok_utf8_next(s, &j))) break;
        i = j;
    }
    return i;
}

bool tok_added_split(const lp_tokenizer *tok, const tok_matcher *m, lp_tok_workspace *ws,
                     const tok_nstr *n, tok_split_vec *out) {
    if (!m->present) {
        if (n->len == 0) return true;
        tok_split sp = {*n, 0, 0, false};
        return tok_vec_push(out, sp);
    }
    const char *s = n->s;
    size_t len = n->len, start_offset = 0;
    size_t i = 0;
    while (i < len) {
        if (!m->first_byte[(unsigned char)s[i]]) {
            i++;
            continue;
        }
        int32_t which = -1;
        size_t stop = tok_matcher_longest(m, s, len, i, &which);
        if (!stop) {
            i++;
            continue;
        }
        size_t start = i;
        size_t next = stop; /* the search resumes after the raw match either way */
        const tok_added *a = &tok->added[which];
        if (a->single_word) {
            bool start_space = start == 0 || !ends_with_word(s, start);
            bool stop_space = stop == len || !starts_with_word(s + stop, len - stop);
            if (!start_space || !stop_space) {
                i = next;
                continue;
            }
        }
        if (a->lstrip) {
            size_t ns = space_leftmost_at_end(s, start);
            start = ns > start_offset ? ns : start_offset;
        }
        if (a->rstrip) stop += space_rightmost_at_start(s + stop, len - stop);
        if (start_offset < start) {
            tok_split sp = {nstr_slice(n, (uint32_t)start_offset, (uint32_t)start), 0, 0, false};
            if (!tok_vec_push(out, sp)) return false;
        }
        tok_nstr piece = nstr_slice(n, (uint32_t)start, (uint32_t)stop);
        tok_token t = {a->id, 0, piece.len, piece.s, piece.len};
        tok_split sp = {piece, (uint32_t)ws->toks.n, 1, true};
        if (!tok_vec_push(&ws->toks, t) || !tok_vec_push(out, sp)) return false;
        start_offset = stop;
        /* The matcher's next search starts after the raw match, as in HF. */
        i = next;
    }
    if (start_offset != len) {
        tok_split sp = {nstr_slice(n, (uint32_t)start_offset, (uint32_t)len), 0, 0, false};
        if (!tok_vec_push(out, sp)) return false;
    }
    return true;
}

static int cmp_id_index(const void *a, const void *b) {
    const int32_t *x = a, *y = b;
    if (x[0] != y[0]) return x[0] < y[0] ? -1 : 1;
    return x[1] < y[1] ? -1 : x[1] > y[1];
}

lp_status tok_added_build(lp_tokenizer *tok, lp_error *err) {
    lp_status st = build_matcher(tok, false, &tok->match_raw, err);
    if (st) return st;
    st = build_matcher(tok, true, &tok->match_norm, err);
    if (st) return st;
    /* id -> added token index, for decoding. */
    tok->added_by_id_idx = ta_alloc(&tok->pool, (tok->nadded + 1) * sizeof(int32_t) * 2);
    if (!tok->added_by_id_idx) return lp_fail(err, LP_ERR_NOMEM, "out of memory");
    int32_t *pairs = tok->added_by_id_idx;
    for (size_t i = 0; i < tok->nadded; i++) {
        pairs[2 * i] = tok->added[i].id;
        pairs[2 * i + 1] = (int32_t)i;
    }
    qsort(pairs, tok->nadded, 2 * sizeof(int32_t), cmp_id_index);
    return LP_OK;
}

const tok_added *tok_added_by_id(const lp_tokenizer *tok, int32_t id) {
    const int32_t *pairs = tok->added_by_id_idx;
    size_t lo = 0, hi = tok->nadded;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (pairs[2 * mid] < id)
            lo = mid + 1;
        else if (pairs[2 * mid] > id)
            hi = mid;
        else {
            /* The last token given this id wins (HF map by id). */
            while (mid + 1 < tok->nadded && pairs[2 * (mid + 1)] == id) mid++;
            return &tok->added[pairs[2 * mid + 1]];
        }
    }
    return NULL;
}

bool tok_is_special_token(const lp_tokenizer *tok, const char *s, size_t len) {
    for (size_t i = 0; i < tok->nadded; i++)
        if (tok->added[i].special && tok->added[i].len == len && !memcmp(tok->added[i].content, s, len))
            return true;
    return false;
}
