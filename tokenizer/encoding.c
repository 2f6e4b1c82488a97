/* Operations on encodings, with HF Encoding semantics: merging (including the
 * cross product of overflowing windows), truncation with stride, padding.
 * Encodings are treated as values: an operation writes new arrays into the
 * arena and never edits arrays another encoding may share. */
#include <string.h>

#include "tokenizer/internal.h"

bool tok_enc_alloc(tok_arena *a, tok_enc *e, size_t n) {
    memset(e, 0, sizeof *e);
    e->n = n;
    size_t m = n ? n : 1;
    e->ids = ta_alloc(a, m * sizeof *e->ids);
    e->type_ids = ta_alloc(a, m * sizeof *e->type_ids);
    e->word_ids = ta_alloc(a, m * sizeof *e->word_ids);
    e->offsets = ta_alloc(a, m * sizeof *e->offsets);
    e->tokens = ta_alloc(a, m * sizeof *e->tokens);
    e->token_lens = ta_alloc(a, m * sizeof *e->token_lens);
    e->special_mask = ta_alloc(a, m);
    e->attention_mask = ta_alloc(a, m);
    return e->ids && e->type_ids && e->word_ids && e->offsets && e->tokens && e->token_lens &&
           e->special_mask && e->attention_mask;
}

/* Copies entries [from, to) of src to dst at position at. */
static void copy_entries(tok_enc *dst, size_t at, const tok_enc *src, size_t from, size_t to) {
    size_t k = to - from;
    if (!k) return;
    memcpy(dst->ids + at, src->ids + from, k * sizeof *dst->ids);
    memcpy(dst->type_ids + at, src->type_ids + from, k * sizeof *dst->type_ids);
    memcpy(dst->word_ids + at, src->word_ids + from, k * sizeof *dst->word_ids);
    memcpy(dst->offsets + at, src->offsets + from, k * sizeof *dst->offsets);
    memcpy(dst->tokens + at, src->tokens + from, k * sizeof *dst->tokens);
    memcpy(dst->token_lens + at, src->token_lens + from, k * sizeof *dst->token_lens);
    memcpy(dst->special_mask + at, src->special_mask + from, k);
    memcpy(dst->attention_mask + at, src->attention_mask + from, k);
}

static bool slice(tok_arena *a, tok_enc *dst, const tok_enc *src, size_t from, size_t to) {
    if (!tok_enc_alloc(a, dst, to - from)) return false;
    copy_entries(dst, 0, src, from, to);
    dst->truncated = src->truncated;
    return true;
}

/* self + pair, without looking at overflowing. */
static bool concat(tok_arena *a, tok_enc *out, const tok_enc *self, const tok_enc *pair,
                   bool growing_offsets) {
    tok_enc r;
    if (!tok_enc_alloc(a, &r, self->n + pair->n)) return false;
    copy_entries(&r, 0, self, 0, self->n);
    copy_entries(&r, self->n, pair, 0, pair->n);
    if (growing_offsets && self->n) {
        int32_t shift = self->offsets[self->n - 1][1];
        for (size_t i = self->n; i < r.n; i++) {
            r.offsets[i][0] += shift;
            r.offsets[i][1] += shift;
        }
    }
    r.truncated = self->truncated || pair->truncated;
    *out = r;
    return true;
}

bool tok_enc_merge(tok_arena *a, tok_enc *self, const tok_enc *pair, bool growing_offsets) {
    size_t nover = self->n_overflowing * (1 + pair->n_overflowing) + pair->n_overflowing;
    /* Windows of a pair multiply (HF keeps every combination); past this
     * many the input is refused rather than ground through. */
    if (nover > (1u << 16)) return false;
    tok_enc *over = NULL;
    if (nover) {
        over = ta_alloc(a, nover * sizeof *over);
        if (!over) return false;
    }
    size_t k = 0;
    for (size_t i = 0; i < self->n_overflowing; i++) {
        tok_enc x = self->overflowing[i];
        if (!tok_enc_merge(a, &x, pair, growing_offsets)) return false;
        over[k++] = x;
        for (size_t j = 0; j < pair->n_overflowing; j++) {
            tok_enc y = self->overflowing[i];
            if (!tok_enc_merge(a, &y, &pair->overflowing[j], growing_offsets)) return false;
            over[k++] = y;
        }
    }
    for (size_t j = 0; j < pair->n_overflowing; j++) {
        tok_enc y = *self;
        if (!tok_enc_merge(a, &y, &pair->overflowing[j], growing_offsets)) return false;
        over[k++] = y;
    }
    tok_enc r;
    if (!concat(a, &r, self, pair, growing_offsets)) return false;
    r.overflowing = over;
    r.n_overflowing = k;
    *self = r;
    return true;
}

bool tok_enc_truncate(tok_arena *a, tok_enc *e, size_t max_len, size_t stride,
                      lp_tok_direction dir) {
    size_t len = e->n;
    if (max_len >= len) return true;
    if (max_len == 0) {
        tok_enc old = *e;
        old.truncated = true;
        tok_enc *over = ta_alloc(a, sizeof *over);
        if (!over || !tok_enc_alloc(a, e, 0)) return false;
        *over = old;
        e->overflowing = over;
        e->n_overflowing = 1;
        e->truncated = true;
        return true;
    }
    if (stride >= max_len) return false; /* the caller checks and reports this */
    size_t offset = max_len - stride;
    /* Window ranges, as HF computes them. */
    size_t nparts = 0;
    size_t cap = len / offset + 2;
    size_t(*parts)[2] = ta_alloc(a, cap * sizeof *parts);
    if (!parts) return false;
    bool end = false;
    if (dir == LP_TOK_RIGHT) {
        for (size_t start = 0; start < len && !end; start += offset) {
            size_t stop = start + max_len < len ? start + max_len : len;
            end = stop == len;
            parts[nparts][0] = start;
            parts[nparts][1] = stop;
            nparts++;
        }
    } else {
        for (size_t r = 0; r < len && !end; r += offset) {
            size_t stop = len - r; /* (0..len).rev().step_by(offset) gives len-1-r; +1 */
            size_t start = stop > max_len ? stop - max_len : 0;
            if (start < stop) {
                end = start == 0;
                parts[nparts][0] = start;
                parts[nparts][1] = stop;
                nparts++;
            }
        }
    }
    tok_enc first;
    if (!slice(a, &first, e, parts[0][0], parts[0][1])) return false;
    first.truncated = true;
    if (nparts > 1) {
        first.overflowing = ta_alloc(a, (nparts - 1) * sizeof *first.overflowing);
        if (!first.overflowing) return false;
        for (size_t i = 1; i < nparts; i++) {
            if (!slice(a, &first.overflowing[i - 1], e, parts[i][0], parts[i][1])) return false;
            first.overflowing[i - 1].truncated = true;
        }
        first.n_overflowing = nparts - 1;
    }
    *e = first;
    return true;
}

static bool pad_rec(tok_arena *a, tok_enc *e, size_t target, const lp_tok_padding *p,
                    const char *pad_token, size_t plen) {
    if (e->n_overflowing) {
        tok_enc *over = ta_alloc(a, e->n_overflowing * sizeof *over);
        if (!over) return false;
        for (size_t i = 0; i < e->n_overflowing; i++) {
            over[i] = e->overflowing[i];
            if (!pad_rec(a, &over[i], target, p, pad_token, plen)) return false;
        }
        e->overflowing = over;
    }
    if (e->n >= target) return true;
    size_t pad = target - e->n;
    tok_enc r;
    if (!tok_enc_alloc(a, &r, target)) return false;
    size_t at = p->direction == LP_TOK_LEFT ? pad : 0;
    size_t pat = p->direction == LP_TOK_LEFT ? 0 : e->n;
    copy_entries(&r, at, e, 0, e->n);
    for (size_t i = pat; i < pat + pad; i++) {
        r.ids[i] = p->pad_id;
        r.type_ids[i] = p->pad_type_id;
        r.word_ids[i] = -1;
        r.offsets[i][0] = r.offsets[i][1] = 0;
        r.tokens[i] = pad_token;
        r.token_lens[i] = (uint32_t)plen;
        r.special_mask[i] = 1;
        r.attention_mask[i] = 0;
    }
    r.truncated = e->truncated;
    r.overflowing = e->overflowing;
    r.n_overflowing = e->n_overflowing;
    *e = r;
    return true;
}

bool tok_enc_pad(tok_arena *a, tok_enc *e, size_t target, const lp_tok_padding *p) {
    /* The pad token string is copied: the options may not outlive the result. */
    size_t plen = strnlen(p->pad_token, sizeof p->pad_token);
    const char *pad_token = ta_strndup(a, p->pad_token, plen);
    if (!pad_token) return false;
    return pad_rec(a, e, target, p, pad_token, plen);
}

lp_status tok_truncate_encodings(tok_arena *a, tok_enc *e, tok_enc *pair,
                                 const lp_tok_truncation *t, lp_error *err) {
    size_t max = t->max_length;
#define TRUNC(enc, len_)                                                                         \
    do {                                                                                         \
        size_t want_ = (len_);                                                                   \
        if (want_ > 0 && want_ < (enc)->n && t->stride >= want_)                                 \
            return lp_fail(err, LP_ERR_INVALID_ARG,                                              \
                           "truncation stride %zu must be smaller than the length it cuts to "   \
                           "(%zu, after the special tokens are set aside)",                      \
                           t->stride, want_);                                                    \
        if (!tok_enc_truncate(a, (enc), want_, t->stride, t->direction))                         \
            return lp_fail(err, LP_ERR_NOMEM, "out of memory");                                  \
    } while (0)
    if (max == 0) {
        TRUNC(e, 0);
        if (pair) TRUNC(pair, 0);
        return LP_OK;
    }
    size_t total = e->n + (pair ? pair->n : 0);
    if (total <= max) return LP_OK;
    size_t to_remove = total - max;
    if (t->strategy == LP_TOK_TRUNC_LONGEST_FIRST) {
        if (!pair) {
            TRUNC(e, total - to_remove);
            return LP_OK;
        }
        size_t n1 = e->n, n2 = pair->n;
        bool swap = n1 > n2;
        if (swap) {
            size_t x = n1;
            n1 = n2;
            n2 = x;
        }
        if (n1 > max)
            n2 = n1;
        else
            n2 = n1 > max - n1 ? n1 : max - n1;
        if (n1 + n2 > max) {
            n1 = max / 2;
            n2 = n1 + max % 2;
        }
        if (swap) {
            size_t x = n1;
            n1 = n2;
            n2 = x;
        }
        TRUNC(e, n1);
        TRUNC(pair, n2);
        return LP_OK;
    }
    tok_enc *target = t->strategy == LP_TOK_TRUNC_ONLY_FIRST ? e : pair;
    if (!target)
        return lp_fail(err, LP_ERR_INVALID_ARG,
                       "truncation only_second needs a pair of texts (use --pair)");
    if (target->n > to_remove) {
        TRUNC(target, target->n - to_remove);
        return LP_OK;
    }
    return lp_fail(err, LP_ERR_INVALID_ARG,
                   "truncation: the sequence to truncate is too short to respect max_length %zu",
                   max);
#undef TRUNC
}
