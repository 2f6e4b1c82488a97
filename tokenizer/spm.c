/* SentencePiece encoding and decoding, following sentencepiece's own code:
 * the normalizer (longest charsmap rule at each position, dummy prefix,
 * whitespace squeezing, U+2581 for spaces, user-defined symbols kept as is),
 * the unigram model's optimized Viterbi in float arithmetic, the BPE model's
 * score-ordered merges, and the assembly of pieces (unknown runs merged, byte
 * fallback). ids and tokens are sentencepiece's. Offsets are reported as HF
 * tokenizers' conversion of the model reports them (that is what the Python
 * API users compare with): when HF's normalization gives the same normalized
 * text, its alignments are used; otherwise sentencepiece's own. */
#include <stdlib.h>
#include <string.h>

#include "tokenizer/spm.h"

#define SPACE_SYMBOL "\xe2\x96\x81"

/* ------------------------------------------------------------ normalizer */

typedef struct spm_norm {
    char *s;          /* normalized */
    size_t n;
    uint32_t *n2o;    /* n + 1 entries: original byte of each normalized byte */
    bool identity;    /* only ' ' -> U+2581 and the dummy prefix: HF aligns it the same */
    size_t prefix;    /* bytes of the dummy prefix at the start */
    uint32_t first_char_end; /* original end of the first char */
} spm_norm;

typedef struct nbuf {
    char *s;
    uint32_t *o;
    size_t n, cap;
    lp_tok_workspace *ws;
    bool oom;
} nbuf;

static void nb_add(nbuf *b, const char *s, size_t n, uint32_t orig) {
    if (b->oom) return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 256;
        while (cap < b->n + n + 1) cap *= 2;
        char *ns = ta_alloc(&b->ws->arena, cap);
        uint32_t *no = ta_alloc(&b->ws->arena, cap * sizeof *no);
        if (!ns || !no) {
            b->oom = true;
            return;
        }
        if (b->n) {
            memcpy(ns, b->s, b->n);
            memcpy(no, b->o, b->n * sizeof *no);
        }
        b->s = ns;
        b->o = no;
        b->cap = cap;
    }
    memcpy(b->s + b->n, s, n);
    for (size_t i = 0; i < n; i++) b->o[b->n + i] = orig;
    b->n += n;
}

/* sentencepiece Normalizer::NormalizePrefix. */
static void normalize_prefix(const tok_spm *sp, const char *s, size_t len, const char **out,
                             size_t *out_len, size_t *consumed, bool *changed) {
    int32_t which;
    size_t m = sp->user.present ? tok_matcher_longest(&sp->user, s, len, 0, &which) : 0;
    if (m) {
        *out = s;
        *out_len = m;
        *consumed = m;
        *changed = true; /* HF splits user-defined symbols off as added tokens */
        return;
    }
    if (sp->charsmap && tok_precompiled_prefix(sp->charsmap, s, len, out, out_len, consumed)) {
        if (*out_len != *consumed || memcmp(*out, s, *consumed)) *changed = true;
        return;
    }
    /* one char (the input is valid UTF-8) */
    size_t l = (size_t)lp_tok_utf8_len((unsigned char)s[0]);
    if (l > len) l = len;
    *out = s;
    *out_len = l;
    *consumed = l;
}

static bool spm_normalize(const tok_spm *sp, lp_tok_workspace *ws, const char *in, size_t len,
                          spm_norm *r) {
    nbuf b = {NULL, NULL, 0, 0, ws, false};
    size_t consumed = 0;
    bool changed = !sp->escape_ws || sp->treat_ws_as_suffix;
    r->s = NULL;
    r->n = 0;
    r->n2o = NULL;
    r->prefix = 0;
    r->first_char_end = len ? (uint32_t)lp_tok_utf8_len((unsigned char)in[0]) : 0;
    if (len == 0) goto finish;
    if (sp->remove_extra_ws) {
        while (consumed < len) {
            const char *o;
            size_t ol, c;
            normalize_prefix(sp, in + consumed, len - consumed, &o, &ol, &c, &changed);
            if (!(ol == 1 && o[0] == ' ')) break;
            consumed += c;
            changed = true;
        }
    }
    if (consumed == len) goto finish;
    if (!sp->treat_ws_as_suffix && sp->add_dummy_prefix) {
        r->prefix = sp->escape_ws ? 3 : 1;
        if (sp->escape_ws)
            nb_add(&b, SPACE_SYMBOL, 3, (uint32_t)consumed);
        else
            nb_add(&b, " ", 1, (uint32_t)consumed);
    }
    bool prev_space = sp->remove_extra_ws;
    while (consumed < len) {
        const char *o;
        size_t ol, c;
        normalize_prefix(sp, in + consumed, len - consumed, &o, &ol, &c, &changed);
        while (prev_space && ol && o[0] == ' ') {
            o++;
            ol--;
            changed = true;
        }
        if (ol) {
            for (size_t k = 0; k < ol; k++) {
                if (sp->escape_ws && o[k] == ' ')
                    nb_add(&b, SPACE_SYMBOL, 3, (uint32_t)consumed);
                else
                    nb_add(&b, o + k, 1, (uint32_t)consumed);
            }
            prev_space = o[ol - 1] == ' ';
        }
        consumed += c;
        if (!sp->remove_extra_ws) prev_space = false;
    }
    if (sp->remove_extra_ws) {
        const char *space = sp->escape_ws ? SPACE_SYMBOL : " ";
        size_t sl = sp->escape_ws ? 3 : 1;
        while (b.n >= sl && !memcmp(b.s + b.n - sl, space, sl)) {
            b.n -= sl;
            consumed = b.o[b.n];
            changed = true;
        }
    }
    if (sp->treat_ws_as_suffix && sp->add_dummy_prefix) {
        if (sp->escape_ws)
            nb_add(&b, SPACE_SYMBOL, 3, (uint32_t)consumed);
        else
            nb_add(&b, " ", 1, (uint32_t)consumed);
    }
finish:
    nb_add(&b, "", 0, 0);
    if (b.oom) return false;
    if (!b.s) {
        /* empty result */
        b.s = ta_alloc(&ws->arena, 1);
        b.o = ta_alloc(&ws->arena, sizeof *b.o);
        if (!b.s || !b.o) return false;
    }
    b.o[b.n] = (uint32_t)consumed; /* the end position */
    r->identity = !changed;
    r->s = b.s;
    r->n = b.n;
    r->n2o = b.o;
    return true;
}

/* ----------------------------------------------------------------- models */

typedef struct spiece {
    uint32_t b, e; /* bytes of the normalized text */
    int32_t id;
} spiece;

typedef TOK_VEC(spiece) spiece_vec;

static int32_t piece_id(const lp_tokenizer *tok, const char *s, size_t n) {
    int32_t id = tok_vocab_get(&tok->model.vocab, s, n);
    return id >= 0 ? id : tok->spm->unk_id;
}

/* Unigram: sentencepiece's lattice Viterbi (Lattice::Viterbi), in float.
 * Every node picks its best predecessor among the nodes ending where it
 * begins, first one on ties, in insertion order (by begin, then by length);
 * this order decides ties such as "....." -> ". . ..." exactly as
 * sentencepiece does. Positions are chars. */
typedef struct lnode {
    uint32_t begin, end; /* chars */
    int32_t id;
    float score;
    float bt;
    int32_t prev;        /* node index, -1 = BOS */
} lnode;

static bool unigram_encode(const lp_tokenizer *tok, lp_tok_workspace *ws, const char *s, size_t size,
                           spiece **out, size_t *nout) {
    const tok_spm *sp = tok->spm;
    const tok_vocab *v = &tok->model.vocab;
    /* char boundaries */
    size_t nch = lp_tok_utf8_count(s, size);
    uint32_t *surf = ta_alloc(&ws->arena, (nch + 1) * sizeof *surf);
    if (!surf) return false;
    size_t c = 0;
    for (size_t i = 0; i < size;) {
        surf[c++] = (uint32_t)i;
        size_t l = (size_t)lp_tok_utf8_len((unsigned char)s[i]);
        i += l > size - i ? size - i : l;
    }
    nch = c;
    surf[nch] = (uint32_t)size;
    const float unk_score = sp->min_score - 10.0f;
    size_t maxlen = v->max_len;
    /* Nodes in insertion order. */
    size_t cap = nch * 4 + 16, nn = 0;
    lnode *nodes = ta_alloc(&ws->arena, cap * sizeof *nodes);
    uint32_t *first_at = ta_alloc(&ws->arena, (nch + 2) * sizeof *first_at); /* begin -> first node */
    if (!nodes || !first_at) return false;
    for (size_t b = 0; b < nch; b++) {
        first_at[b] = (uint32_t)nn;
        bool single = false;
        uint64_t h = tok_hash_init();
        size_t fi = surf[b];
        size_t bound = tok_vocab_first_max(v, lp_tok_utf8_next(s, &fi));
        if (bound > maxlen) bound = maxlen;
        for (size_t e = b; e < nch;) {
            size_t bytes = surf[e + 1] - surf[b];
            if (bytes > bound) break; /* no piece that long starts with this char */
            for (uint32_t k = surf[e]; k < surf[e + 1]; k++) h = tok_hash_step(h, (unsigned char)s[k]);
            e++;
            if (!tok_vocab_maybe_prefix(v, h)) break; /* no piece starts like this */
            int32_t id = tok_vocab_get_h(v, s + surf[b], bytes, tok_hash_final(h));
            if (id < 0) continue;
            int t = sp->types[id];
            if (t == SPM_UNUSED || t == SPM_CONTROL || t == SPM_UNKNOWN || t == SPM_BYTE) continue;
            if (nn + 2 > cap) {
                size_t ncap = cap * 2;
                lnode *np = ta_alloc(&ws->arena, ncap * sizeof *np);
                if (!np) return false;
                memcpy(np, nodes, nn * sizeof *np);
                nodes = np;
                cap = ncap;
            }
            size_t length = e - b;
            float score = t == SPM_USER ? (float)((double)((float)length * sp->max_score) - 0.1)
                                        : sp->scores[id];
            nodes[nn++] = (lnode){(uint32_t)b, (uint32_t)e, id, score, 0.0f, -1};
            if (length == 1) single = true;
        }
        if (!single) {
            if (nn + 2 > cap) {
                size_t ncap = cap * 2;
                lnode *np = ta_alloc(&ws->arena, ncap * sizeof *np);
                if (!np) return false;
                memcpy(np, nodes, nn * sizeof *np);
                nodes = np;
                cap = ncap;
            }
            nodes[nn++] = (lnode){(uint32_t)b, (uint32_t)b + 1, sp->unk_id, unk_score, 0.0f, -1};
        }
    }
    first_at[nch] = (uint32_t)nn;
    /* Nodes by end position, in insertion order (stable bucket sort). */
    uint32_t *end_start = ta_zalloc(&ws->arena, (nch + 2) * sizeof *end_start);
    uint32_t *by_end = ta_alloc(&ws->arena, (nn + 1) * sizeof *by_end);
    if (!end_start || !by_end) return false;
    for (size_t i = 0; i < nn; i++) end_start[nodes[i].end + 1]++;
    for (size_t p = 0; p <= nch; p++) end_start[p + 1] += end_start[p];
    {
        uint32_t *fill = ta_alloc(&ws->arena, (nch + 1) * sizeof *fill);
        if (!fill) return false;
        memcpy(fill, end_start, (nch + 1) * sizeof *fill);
        for (size_t i = 0; i < nn; i++) by_end[fill[nodes[i].end]++] = (uint32_t)i;
    }
    /* Forward pass. pos 0: the only predecessor is BOS (score 0). */
    int32_t eos_prev = -1;
    for (size_t pos = 0; pos <= nch; pos++) {
        size_t rb = pos < nch ? first_at[pos] : 0, re = pos < nch ? first_at[pos + 1] : 1;
        for (size_t r = rb; r < re; r++) {
            float rscore = pos < nch ? nodes[r].score : 0.0f;
            bool have = false;
            float best = 0.0f;
            int32_t best_node = -1;
            if (pos == 0) {
                best = 0.0f + rscore;
                have = true;
            } else {
                for (uint32_t q = end_start[pos]; q < end_start[pos + 1]; q++) {
                    const lnode *l = &nodes[by_end[q]];
                    float sc = l->bt + rscore;
                    if (!have || sc > best) {
                        have = true;
                        best = sc;
                        best_node = (int32_t)by_end[q];
                    }
                }
            }
            if (!have) return false; /* unreachable: every char has a node */
            if (pos < nch) {
                nodes[r].prev = best_node;
                nodes[r].bt = best;
            } else {
                eos_prev = best_node;
            }
        }
    }
    size_t np = 0;
    for (int32_t i = eos_prev; i >= 0; i = nodes[i].prev) np++;
    spiece *p = ta_alloc(&ws->arena, (np + 1) * sizeof *p);
    if (!p) return false;
    size_t k = np;
    for (int32_t i = eos_prev; i >= 0; i = nodes[i].prev)
        p[--k] = (spiece){surf[nodes[i].begin], surf[nodes[i].end], nodes[i].id};
    *out = p;
    *nout = np;
    return true;
}

/* BPE: bpe::Model::SampleEncode without dropout. */
typedef struct bsym {
    int32_t prev, next;
    bool freeze;
    uint32_t b, n; /* piece = s[b, b + n) */
} bsym;

typedef struct bpair {
    int32_t left, right;
    float score;
    uint32_t size;
} bpair;

static bool pair_less(const bpair *a, const bpair *b) {
    /* max-heap order: lower score, or equal score and larger left, is "less" */
    return a->score < b->score || (a->score == b->score && a->left > b->left);
}

static void bheap_push(bpair *h, size_t *n, bpair x) {
    size_t i = (*n)++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!pair_less(&h[p], &x)) break;
        h[i] = h[p];
        i = p;
    }
    h[i] = x;
}

static bpair bheap_pop(bpair *h, size_t *n) {
    bpair top = h[0], x = h[--(*n)];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        const bpair *best = &x;
        if (l < *n && pair_less(best, &h[l])) {
            m = l;
            best = &h[l];
        }
        if (r < *n && pair_less(best, &h[r])) m = r;
        if (m == i) break;
        h[i] = h[m];
        i = m;
    }
    if (*n) h[i] = x;
    return top;
}

typedef struct bpe_ctx {
    const lp_tokenizer *tok;
    const char *s;
    bsym *sym;
    bpair *heap;
    size_t nheap;
} bpe_ctx;

static void maybe_add(bpe_ctx *c, int32_t left, int32_t right) {
    if (left == -1 || right == -1 || c->sym[left].freeze || c->sym[right].freeze) return;
    uint32_t size = c->sym[left].n + c->sym[right].n;
    int32_t id = tok_vocab_get(&c->tok->model.vocab, c->s + c->sym[left].b, size);
    if (id < 0) return;
    int t = c->tok->spm->types[id];
    if (t != SPM_NORMAL && t != SPM_USER && t != SPM_UNUSED) return;
    bheap_push(c->heap, &c->nheap, (bpair){left, right, c->tok->spm->scores[id], size});
}

static bool emit_resegment(const lp_tokenizer *tok, const char *s, uint32_t b, uint32_t n, spiece_vec *out,
                           int depth) {
    int32_t id = piece_id(tok, s + b, n);
    if (id >= 0 && tok->spm->types[id] == SPM_UNUSED && n > 1 && depth < 64) {
        /* An unused piece is split back into the pair that formed it: the
         * split whose halves are both pieces, as the merge loop found them. */
        for (uint32_t k = 1; k < n; k++) {
            if (((unsigned char)s[b + k] & 0xC0) == 0x80) continue;
            int32_t l = tok_vocab_get(&tok->model.vocab, s + b, k), r = tok_vocab_get(&tok->model.vocab, s + b + k, n - k);
            if (l >= 0 && r >= 0)
                return emit_resegment(tok, s, b, k, out, depth + 1) &&
                       emit_resegment(tok, s, b + k, n - k, out, depth + 1);
        }
    }
    return tok_vec_push(out, ((spiece){b, b + n, id}));
}

static bool bpe_encode(const lp_tokenizer *tok, lp_tok_workspace *ws, const char *s, size_t size,
                       spiece **out, size_t *nout) {
    const tok_spm *sp = tok->spm;
    bsym *sym = ta_alloc(&ws->arena, (size + 1) * sizeof *sym);
    bpair *heap = ta_alloc(&ws->arena, (3 * size + 4) * sizeof *heap);
    if (!sym || !heap) return false;
    size_t n = 0;
    for (size_t i = 0; i < size;) {
        int32_t which;
        size_t m = tok_matcher_longest(&sp->user, s, size, i, &which);
        bool freeze = m > 0;
        size_t l = freeze ? m - i : (size_t)lp_tok_utf8_len((unsigned char)s[i]);
        if (l > size - i) l = size - i;
        sym[n] = (bsym){n == 0 ? -1 : (int32_t)n - 1, i + l >= size ? -1 : (int32_t)n + 1, freeze,
                        (uint32_t)i, (uint32_t)l};
        n++;
        i += l;
    }
    bpe_ctx c = {tok, s, sym, heap, 0};
    for (size_t i = 1; i < n; i++) maybe_add(&c, (int32_t)i - 1, (int32_t)i);
    while (c.nheap) {
        bpair top = bheap_pop(c.heap, &c.nheap);
        bsym *l = &sym[top.left], *r = &sym[top.right];
        if (l->n == 0 || r->n == 0 || l->n + r->n != top.size) continue;
        l->n += r->n;
        l->next = r->next;
        if (r->next >= 0) sym[r->next].prev = top.left;
        r->n = 0;
        maybe_add(&c, l->prev, top.left);
        maybe_add(&c, top.left, l->next);
    }
    spiece_vec v = {0};
    bool ok = true;
    for (int32_t i = n ? 0 : -1; i != -1 && ok; i = sym[i].next)
        if (i >= 0 && (size_t)i < n) ok = emit_resegment(tok, s, sym[i].b, sym[i].n, &v, 0);
    if (!ok) {
        free(v.v);
        return false;
    }
    spiece *p = ta_alloc(&ws->arena, (v.n + 1) * sizeof *p);
    if (!p) {
        free(v.v);
        return false;
    }
    if (v.n) memcpy(p, v.v, v.n * sizeof *p);
    *out = p;
    *nout = v.n;
    free(v.v);
    return true;
}

/* ----------------------------------------------------------------- encode */

/* HF BytesToCharOffsetConverter on byte offsets of the original text. */
static void to_chars(const uint32_t *charidx, uint32_t len, uint32_t s, uint32_t e, int32_t out[2]) {
    if (s >= len) {
        out[0] = (int32_t)s;
        out[1] = (int32_t)e;
        return;
    }
    out[0] = (int32_t)charidx[s];
    out[1] = (int32_t)(e < len ? charidx[e] : (e >= 1 && e - 1 < len ? charidx[e - 1] + 1 : charidx[s] + 1));
}

/* Original byte span of normalized bytes [b, e), as HF would report it. */
static void orig_span(const spm_norm *nm, const tok_align *al, uint32_t b, uint32_t e, uint32_t *os,
                      uint32_t *oe) {
    if (al) {
        *os = al[b].s;
        *oe = al[e - 1].e;
        return;
    }
    *os = nm->n2o[b];
    if (!nm->identity) {
        *oe = nm->n2o[e];
        return;
    }
    /* identity: the dummy prefix stands for the first char (HF prepends it
     * with that char's alignment); a span ends where the next char starts. */
    if (e <= nm->prefix) {
        *oe = nm->first_char_end;
        return;
    }
    while (e < nm->n && ((unsigned char)nm->s[e] & 0xC0) == 0x80) e++;
    *oe = nm->n2o[e];
}

/* HF's normalized text for this model (its conversion): normalizer, then the
 * Metaspace pre-tokenizer's replace and prepend. */
static bool hf_normalized(const lp_tokenizer *tok, lp_tok_workspace *ws, const char *text, size_t len,
                          tok_nstr *n) {
    const tok_spm *sp = tok->spm;
    if (!nstr_from_text(ws, text, (uint32_t)len, n)) return false;
    if (!tok_normalize(sp->hf_norm, ws, n)) return false;
    tok_pattern lit = {false, " ", 1, NULL};
    if (!tok_replace(ws, n, &lit, SPACE_SYMBOL, 3)) return false;
    if (sp->add_dummy_prefix && !(n->len >= 3 && !memcmp(n->s, SPACE_SYMBOL, 3)))
        if (!tok_prepend(ws, n, SPACE_SYMBOL, 3)) return false;
    return true;
}

/* When HF's normalized text differs from sentencepiece's, HF may still give
 * the same ids; its offsets are then the ones to report. This runs HF's
 * Metaspace split and Unigram over HF's normalized text and, when the ids
 * agree, takes its offsets. */
static lp_status hf_offsets(const lp_tokenizer *tok, lp_tok_workspace *ws, const tok_nstr *hf,
                            const uint32_t *charidx, uint32_t len, tok_enc *out, lp_error *err) {
    const tok_spm *sp = tok->spm;
    tok_split_vec *words = &ws->splits[0];
    words->n = 0;
    ws->matches.n = 0;
    /* matches: each U+2581, then MergedWithNext */
    uint32_t last = 0;
    for (uint32_t i = 0; i + 3 <= hf->len; i++) {
        if (memcmp(hf->s + i, SPACE_SYMBOL, 3)) continue;
        if (last < i && !tok_vec_push(&ws->matches, ((tok_match){last, i, false}))) goto oom;
        if (!tok_vec_push(&ws->matches, ((tok_match){i, i + 3, true}))) goto oom;
        last = i + 3;
        i += 2;
    }
    if (last < hf->len && !tok_vec_push(&ws->matches, ((tok_match){last, hf->len, false}))) goto oom;
    if (!tok_split_by_matches(hf, ws->matches.v, ws->matches.n, TOK_SPLIT_MERGED_NEXT, words)) goto oom;
    ws->toks.n = 0;
    size_t *word_of = NULL;
    for (size_t w = 0; w < words->n; w++) {
        lp_error e2 = {0};
        if (tok_unigram_tokenize(&sp->hf_model, ws, words->v[w].n.s, words->v[w].n.len, &e2)) return LP_OK;
        words = &ws->splits[0];
        words->v[w].tok_count = (uint32_t)ws->toks.n;
    }
    if (ws->toks.n != out->n) return LP_OK;
    for (size_t i = 0; i < out->n; i++)
        if (ws->toks.v[i].id != out->ids[i]) return LP_OK;
    size_t t = 0;
    for (size_t w = 0; w < words->n; w++) {
        for (; t < words->v[w].tok_count; t++) {
            uint32_t os, oe;
            nstr_orig_range(&words->v[w].n, ws->toks.v[t].s, ws->toks.v[t].e, &os, &oe);
            to_chars(charidx, len, os, oe, out->offsets[t]);
        }
    }
    (void)word_of;
    return LP_OK;
oom:
    return lp_fail(err, LP_ERR_NOMEM, "out of memory");
}

lp_status tok_spm_encode_sequence(const lp_tokenizer *tok, lp_tok_workspace *ws, const char *text,
                                  size_t len, uint32_t type_id, tok_enc *out, lp_error *err) {
    const tok_spm *sp = tok->spm;
    if (len > 0x3FFFFFF0u) return lp_fail(err, LP_ERR_INVALID_ARG, "text too long (%zu bytes)", len);
    spm_norm nm;
    if (!spm_normalize(sp, ws, text, len, &nm)) return lp_fail(err, LP_ERR_NOMEM, "out of memory");
    spiece *pieces = NULL;
    size_t np = 0;
    if (nm.n) {
        bool ok = sp->model_type == SPM_BPE ? bpe_encode(tok, ws, nm.s, nm.n, &pieces, &np)
                                            : unigram_encode(tok, ws, nm.s, nm.n, &pieces, &np);
        if (!ok) return lp_fail(err, LP_ERR_NOMEM, "out of memory");
    }
    /* Offsets: when sentencepiece only escaped spaces and added the dummy
     * prefix, HF's alignments follow from n2o directly; otherwise HF's
     * normalization is run and its alignments used when the text agrees. */
    tok_nstr hf;
    const tok_align *al = NULL;
    if (np && !nm.identity) {
        if (!hf_normalized(tok, ws, text, len, &hf)) return lp_fail(err, LP_ERR_NOMEM, "out of memory");
        if (hf.len == nm.n && !memcmp(hf.s, nm.s, nm.n)) al = hf.al;
    }
    if (!tok_vec_reserve(&ws->charidx, len + 1)) return lp_fail(err, LP_ERR_NOMEM, "out of memory");
    uint32_t *charidx = ws->charidx.v;
    uint32_t ci = 0;
    for (size_t i = 0; i < len; i++) {
        if (((unsigned char)text[i] & 0xC0) != 0x80 && i > 0) ci++;
        charidx[i] = ci;
    }
    /* Count the output tokens: unknown runs merge; byte fallback expands. */
    size_t ntok = 0;
    for (size_t i = 0; i < np; i++) {
        bool unk = pieces[i].id == sp->unk_id;
        if (unk && sp->byte_fallback)
            ntok += pieces[i].e - pieces[i].b;
        else if (!(unk && i > 0 && pieces[i - 1].id == sp->unk_id))
            ntok++;
    }
    if (!tok_enc_alloc(&ws->arena, out, ntok)) return lp_fail(err, LP_ERR_NOMEM, "out of memory");
    size_t k = 0;
    uint32_t run_start = 0;
    for (size_t i = 0; i < np; i++) {
        const spiece *p = &pieces[i];
        bool unk = p->id == sp->unk_id;
        /* the span this token covers, in normalized bytes: a run of unknowns
         * counts as one (HF fuses them) */
        uint32_t b = p->b, e = p->e;
        if (unk) {
            if (!(i > 0 && pieces[i - 1].id == sp->unk_id)) run_start = p->b;
            size_t j = i;
            while (j + 1 < np && pieces[j + 1].id == sp->unk_id) j++;
            b = run_start;
            e = pieces[j].e;
        }
        if (unk && sp->byte_fallback) {
            for (uint32_t x = p->b; x < p->e; x++, k++) {
                int32_t bid = tok->model.byte_ids[(unsigned char)nm.s[x]];
                /* HF: unigram byte tokens cover the whole unknown run, BPE
                 * byte tokens their own byte. */
                uint32_t tb = sp->model_type == SPM_BPE ? x : b, te = sp->model_type == SPM_BPE ? x + 1 : e;
                uint32_t os, oe;
                orig_span(&nm, al, tb, te, &os, &oe);
                size_t vl = 0;
                const char *v = tok_vocab_str(&tok->model.vocab, (uint32_t)bid, &vl);
                out->ids[k] = bid;
                out->tokens[k] = v;
                out->token_lens[k] = (uint32_t)vl;
                to_chars(charidx, (uint32_t)len, os, oe, out->offsets[k]);
                out->type_ids[k] = (int32_t)type_id;
                out->word_ids[k] = -1;
                out->special_mask[k] = 0;
                out->attention_mask[k] = 1;
            }
            continue;
        }
        if (unk && i > 0 && pieces[i - 1].id == sp->unk_id) continue; /* merged */
        uint32_t os, oe;
        orig_span(&nm, al, b, e, &os, &oe);
        size_t vl = 0;
        const char *v = tok_vocab_str(&tok->model.vocab, (uint32_t)p->id, &vl);
        out->ids[k] = p->id;
        out->tokens[k] = v;
        out->token_lens[k] = (uint32_t)vl;
        to_chars(charidx, (uint32_t)len, os, oe, out->offsets[k]);
        out->type_ids[k] = (int32_t)type_id;
        out->word_ids[k] = -1;
        out->special_mask[k] = 0;
        out->attention_mask[k] = 1;
        k++;
    }
    out->n = k;
    if (np && !al && !nm.identity && sp->has_hf_model) {
        lp_status st = hf_offsets(tok, ws, &hf, charidx, (uint32_t)len, out, err);
        if (st) return st;
    }
    return LP_OK;
}

/* ----------------------------------------------------------------- decode */

typedef struct dbuf {
    char *p;
    size_t n, cap;
    bool oom;
} dbuf;

static void db_add(tok_arena *a, dbuf *d, const char *s, size_t n) {
    if (d->oom) return;
    if (d->n + n + 1 > d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 128;
        while (cap < d->n + n + 1) cap *= 2;
        char *np = ta_alloc(a, cap);
        if (!np) {
            d->oom = true;
            return;
        }
        if (d->n) memcpy(np, d->p, d->n);
        d->p = np;
        d->cap = cap;
    }
    if (n) memcpy(d->p + d->n, s, n);
    d->n += n;
    d->p[d->n] = '\0';
}

/* Appends bytes as text: valid chars as they are, each invalid byte as U+FFFD. */
static void add_bytes(tok_arena *a, dbuf *d, const unsigned char *bytes, size_t n) {
    for (size_t i = 0; i < n;) {
        size_t l = (size_t)lp_tok_utf8_len(bytes[i]);
        if (bytes[i] >= 0x80 && (bytes[i] < 0xC2 || bytes[i] > 0xF4)) l = 0;
        if (l && i + l <= n && lp_tok_utf8_valid((const char *)bytes + i, l)) {
            db_add(a, d, (const char *)bytes + i, l);
            i += l;
        } else {
            db_add(a, d, "\xEF\xBF\xBD", 3);
            i++;
        }
    }
}

static int byte_of(const char *s, size_t n) {
    if (n != 6 || memcmp(s, "<0x", 3) || s[5] != '>') return -1;
    int v = 0;
    for (int i = 3; i < 5; i++) {
        char c = s[i];
        int x = (c >= '0' && c <= '9') ? c - '0' : (c >= 'A' && c <= 'F') ? c - 'A' + 10 : -1;
        if (x < 0) return -1;
        v = v * 16 + x;
    }
    return v;
}

lp_status tok_spm_decode(const lp_tokenizer *tok, const int32_t *ids, size_t n, char **text,
                         size_t *text_len, lp_error *err) {
    const tok_spm *sp = tok->spm;
    tok_arena a = {0};
    dbuf d = {NULL, 0, 0, false};
    unsigned char *bytes = ta_alloc(&a, n + 1);
    if (!bytes) return lp_fail(err, LP_ERR_NOMEM, "out of memory");
    size_t nb = 0;
    bool is_bos_ws = true, bos_ws_seen = false;
    for (size_t i = 0; i < n; i++) {
        if (ids[i] < 0 || (size_t)ids[i] >= sp->npieces) {
            ta_free(&a);
            return lp_fail(err, LP_ERR_INVALID_ARG, "invalid id %d (the model has %zu pieces)", ids[i],
                           sp->npieces);
        }
        size_t pl;
        const char *piece = tok_vocab_str(&tok->model.vocab, (uint32_t)ids[i], &pl);
        int t = sp->types[ids[i]];
        if (t == SPM_BYTE) {
            int v = byte_of(piece, pl);
            if (v >= 0) bytes[nb++] = (unsigned char)v;
            continue;
        }
        add_bytes(&a, &d, bytes, nb);
        nb = 0;
        if (bos_ws_seen || d.n) is_bos_ws = false;
        bos_ws_seen = false;
        if (t == SPM_CONTROL) continue;
        if (t == SPM_UNKNOWN) {
            db_add(&a, &d, sp->unk_surface, sp->unk_surface_len);
            continue;
        }
        if (is_bos_ws && (sp->add_dummy_prefix || sp->remove_extra_ws)) {
            if (pl >= 3 && !memcmp(piece, SPACE_SYMBOL, 3)) {
                piece += 3;
                pl -= 3;
                bos_ws_seen = true;
            }
            if (sp->remove_extra_ws) bos_ws_seen = false;
        }
        for (size_t j = 0; j < pl;) {
            if (pl - j >= 3 && !memcmp(piece + j, SPACE_SYMBOL, 3)) {
                db_add(&a, &d, " ", 1);
                j += 3;
            } else {
                db_add(&a, &d, piece + j, 1);
                j++;
            }
        }
    }
    add_bytes(&a, &d, bytes, nb);
    if (d.oom) {
        ta_free(&a);
        return lp_fail(err, LP_ERR_NOMEM, "out of memory");
    }
    char *o = malloc(d.n + 1);
    if (!o) {
        ta_free(&a);
        return lp_fail(err, LP_ERR_NOMEM, "out of memory");
    }
    if (d.n) memcpy(o, d.p, d.n);
    o[d.n] = '\0';
    *text = o;
    if (text_len) *text_len = d.n;
    ta_free(&a);
    return LP_OK;
}
