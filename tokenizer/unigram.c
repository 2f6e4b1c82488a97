/* Unigram (SentencePiece's model): the segmentation with the highest total
 * piece score, found by a forward Viterbi pass over char boundaries (HF's
 * encode_optimized). Unknown chars get min_score - 10 and fuse into one
 * piece; with byte_fallback such a piece becomes <0xXX> tokens. Candidate
 * pieces at a position are found by extending a running hash one char at a
 * time, so loading needs no trie. */
#include <string.h>

#include "tokenizer/internal.h"

typedef struct vnode {
    double score;
    int32_t id;
    int32_t start; /* -1: not reached */
} vnode;

static lp_status push(lp_tok_workspace *ws, int32_t id, uint32_t s, uint32_t e, const char *val,
                      uint32_t vlen, lp_error *err) {
    tok_token t = {id, s, e, val, vlen};
    if (!tok_vec_push(&ws->toks, t)) return lp_fail(err, LP_ERR_NOMEM, "out of memory");
    return LP_OK;
}

/* Emits one piece [a, b) of s: its id, or byte fallback, or unk. */
static lp_status emit_piece(const tok_model *m, lp_tok_workspace *ws, const char *s, uint32_t a,
                            uint32_t b, lp_error *err) {
    int32_t id = tok_vocab_get(&m->vocab, s + a, b - a);
    if (id < 0 && m->byte_fallback) {
        bool all = true;
        for (uint32_t k = a; k < b; k++)
            if (m->byte_ids[(unsigned char)s[k]] < 0) all = false;
        if (all) {
            for (uint32_t k = a; k < b; k++) {
                int32_t bid = m->byte_ids[(unsigned char)s[k]];
                size_t vl = 0;
                const char *v = tok_vocab_str(&m->vocab, (uint32_t)bid, &vl);
                lp_status st = push(ws, bid, a, b, v, (uint32_t)vl, err);
                if (st) return st;
            }
            return LP_OK;
        }
    }
    if (id < 0) {
        if (m->unk_id < 0)
            return lp_fail(err, LP_ERR_FORMAT, "Unigram: a piece is unknown and the model has no unk_id");
        id = m->unk_id;
    }
    return push(ws, id, a, b, s + a, b - a, err);
}

lp_status tok_unigram_tokenize(const tok_model *m, lp_tok_workspace *ws, const char *s,
                               uint32_t len, lp_error *err) {
    if (len == 0) return LP_OK;
    vnode *best = ta_alloc(&ws->arena, ((size_t)len + 1) * sizeof *best);
    if (!best) return lp_fail(err, LP_ERR_NOMEM, "out of memory");
    for (uint32_t i = 0; i <= len; i++) best[i] = (vnode){0.0, 0, -1};
    double unk_score = m->min_score - 10.0;
    size_t maxlen = m->vocab.max_len;
    for (uint32_t start = 0; start < len;) {
        double here = best[start].score;
        uint32_t mblen = (uint32_t)lp_tok_utf8_len((unsigned char)s[start]);
        if (start + mblen > len) mblen = len - start;
        bool single = false;
        uint64_t h = tok_hash_init();
        size_t fi = start;
        size_t bound = tok_vocab_first_max(&m->vocab, lp_tok_utf8_next(s, &fi));
        if (bound > maxlen) bound = maxlen;
        for (uint32_t end = start; end < len;) {
            uint32_t l = (uint32_t)lp_tok_utf8_len((unsigned char)s[end]);
            if (end + l > len) l = len - end;
            if ((size_t)(end + l - start) > bound) break;
            for (uint32_t k = 0; k < l; k++) h = tok_hash_step(h, (unsigned char)s[end + k]);
            end += l;
            if (!tok_vocab_maybe_prefix(&m->vocab, h)) break; /* no piece starts like this */
            int32_t id = tok_vocab_get_h(&m->vocab, s + start, end - start, tok_hash_final(h));
            if (id < 0 || (m->never_match && m->never_match[id])) continue;
            double cand = m->scores[id] + here;
            vnode *t = &best[end];
            if (t->start < 0 || cand > t->score) {
                t->score = cand;
                t->start = (int32_t)start;
                t->id = id;
            }
            if (end - start == mblen) single = true;
        }
        if (!single) {
            vnode *t = &best[start + mblen];
            double cand = unk_score + here;
            if (t->start < 0 || cand > t->score) {
                if (m->unk_id < 0)
                    return lp_fail(err, LP_ERR_FORMAT,
                                   "Unigram: a character is not in the vocabulary and the model "
                                   "has no unk_id");
                t->score = cand;
                t->start = (int32_t)start;
                t->id = m->unk_id;
            }
        }
        start += mblen;
    }
    /* Backtrack, fusing consecutive unk pieces. */
    if (!tok_vec_reserve(&ws->u32a, (size_t)len * 2 + 2))
        return lp_fail(err, LP_ERR_NOMEM, "out of memory");
    uint32_t *bounds = ws->u32a.v; /* piece (start, end), reversed */
    size_t np = 0;
    uint32_t end = len;
    bool in_unk = false;
    uint32_t unk_end = 0;
    while (end > 0) {
        vnode *nd = &best[end];
        uint32_t st = (uint32_t)nd->start;
        if (nd->id == m->unk_id && m->unk_id >= 0) {
            if (!in_unk) {
                in_unk = true;
                unk_end = end;
            }
        } else {
            if (in_unk) {
                bounds[2 * np] = end;
                bounds[2 * np + 1] = unk_end;
                np++;
                in_unk = false;
            }
            bounds[2 * np] = st;
            bounds[2 * np + 1] = end;
            np++;
        }
        end = st;
    }
    if (in_unk) {
        bounds[2 * np] = 0;
        bounds[2 * np + 1] = unk_end;
        np++;
    }
    for (size_t i = np; i-- > 0;) {
        lp_status st = emit_piece(m, ws, s, bounds[2 * i], bounds[2 * i + 1], err);
        if (st) return st;
    }
    return LP_OK;
}
