/* HF's NormalizedString: a normalized text with, for each of its bytes, the
 * original byte range it came from. Every normalizer and pre-tokenizer edit
 * goes through the transform builder below, which reproduces HF's
 * NormalizedString::transform_range rules exactly, since those rules decide
 * the offsets users see. */
#include <string.h>

#include "tokenizer/internal.h"

bool nstr_from_text(lp_tok_workspace *ws, const char *s, uint32_t n, tok_nstr *out) {
    tok_align *al = ta_alloc(&ws->arena, (size_t)n * sizeof *al + 1);
    if (!al) return false;
    for (uint32_t i = 0; i < n;) {
        uint32_t l = (uint32_t)lp_tok_utf8_len((unsigned char)s[i]);
        if (i + l > n) l = n - i;
        for (uint32_t k = 0; k < l; k++) al[i + k] = (tok_align){i, i + l};
        i += l;
    }
    out->s = s;
    out->al = al;
    out->len = n;
    out->shift = 0;
    return true;
}

tok_nstr nstr_slice(const tok_nstr *n, uint32_t from, uint32_t to) {
    tok_nstr r;
    r.s = n->s + from;
    r.al = n->al + from;
    r.len = to - from;
    r.shift = to > from ? n->al[from].s : n->shift + from;
    return r;
}

void nstr_orig_range(const tok_nstr *n, uint32_t from, uint32_t to, uint32_t *s, uint32_t *e) {
    if (from >= to || to > n->len) {
        /* HF returns the normalized range itself, shifted, for empty ranges. */
        *s = n->shift + from;
        *e = n->shift + to;
        return;
    }
    *s = n->al[from].s;
    *e = n->al[to - 1].e;
}

static uint32_t char_len_at(const tok_nstr *n, uint32_t off) {
    uint32_t l = (uint32_t)lp_tok_utf8_len((unsigned char)n->s[off]);
    return off + l > n->len ? n->len - off : l;
}

static bool out_reserve(tok_nbuild *b, size_t extra) {
    lp_tok_workspace *ws = b->ws;
    if (b->n + extra > (ws->norm_limit ? ws->norm_limit : TOK_MAX_NORMALIZED)) {
        b->oom = true;
        return false;
    }
    if (!tok_vec_reserve(&ws->nb_s, b->n + extra) || !tok_vec_reserve(&ws->nb_al, b->n + extra)) {
        b->oom = true;
        return false;
    }
    return true;
}

static void out_copy(tok_nbuild *b, uint32_t from, uint32_t to) {
    if (to <= from || !out_reserve(b, to - from)) return;
    memcpy(b->ws->nb_s.v + b->n, b->src->s + from, to - from);
    memcpy(b->ws->nb_al.v + b->n, b->src->al + from, (to - from) * sizeof(tok_align));
    b->n += to - from;
}

void nb_begin(tok_nbuild *b, lp_tok_workspace *ws, const tok_nstr *src, uint32_t from,
              uint32_t to, uint32_t initial_offset) {
    b->ws = ws;
    b->src = src;
    b->from = from;
    b->to = to;
    b->n = 0;
    b->oom = false;
    out_copy(b, 0, from);
    uint32_t off = from;
    for (uint32_t k = 0; k < initial_offset && off < to; k++) off += char_len_at(src, off);
    b->off = off;
}

void nb_push(tok_nbuild *b, uint32_t c, int change) {
    const tok_nstr *src = b->src;
    if (src->len == 0 || !out_reserve(b, 4)) return;
    uint32_t idx = b->off;
    tok_align al;
    if (change > 0) {
        /* An inserted char shares the alignment of the byte before it. */
        al = idx < 1 ? (tok_align){src->shift, src->shift} : src->al[idx - 1];
    } else {
        al = idx < src->len ? src->al[idx] : src->al[src->len - 1];
        if (b->off < b->to) b->off += char_len_at(src, b->off);
        for (int k = 0; k < -change && b->off < b->to; k++) b->off += char_len_at(src, b->off);
    }
    int l = lp_tok_utf8_put(c, b->ws->nb_s.v + b->n);
    for (int k = 0; k < l; k++) b->ws->nb_al.v[b->n + (size_t)k] = al;
    b->n += (size_t)l;
}

bool nb_end(tok_nbuild *b, tok_nstr *out) {
    const tok_nstr *src = b->src;
    if (src->len == 0) {
        /* HF: transforming an empty normalized string changes nothing. */
        *out = *src;
        return true;
    }
    out_copy(b, b->to, src->len);
    if (b->oom || b->n > UINT32_MAX) return false;
    lp_tok_workspace *ws = b->ws;
    char *s = ta_alloc(&ws->arena, b->n + 1);
    tok_align *al = ta_alloc(&ws->arena, b->n * sizeof *al + 1);
    if (!s || !al) return false;
    /* A text that normalizes to nothing has no buffers to copy from (NULL). */
    if (b->n) {
        memcpy(s, ws->nb_s.v, b->n);
        memcpy(al, ws->nb_al.v, b->n * sizeof *al);
    }
    s[b->n] = '\0';
    out->s = s;
    out->al = al;
    out->len = (uint32_t)b->n;
    out->shift = src->shift;
    return true;
}
