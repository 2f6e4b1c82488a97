/* Post-processors: add the special tokens a model expects ([CLS] A [SEP] ...),
 * set type ids, and (byte-level models) trim spaces out of the offsets. Each
 * follows its HF counterpart, including how overflowing windows are wrapped. */
#include <string.h>

#include "tokenizer/internal.h"

size_t tok_post_added(const tok_post *p, bool is_pair) {
    if (!p) return 0;
    switch (p->kind) {
    case TPP_NONE:
    case TPP_BYTELEVEL: return 0;
    case TPP_BERT: return is_pair ? 3 : 2;
    case TPP_ROBERTA: return is_pair ? 4 : 2;
    case TPP_TEMPLATE: return is_pair ? p->added_pair : p->added_single;
    case TPP_SEQUENCE: {
        size_t n = 0;
        for (size_t i = 0; i < p->nchildren; i++) n += tok_post_added(&p->children[i], is_pair);
        return n;
    }
    }
    return 0;
}

/* An encoding holding only special tokens. */
static bool special_enc(tok_arena *a, tok_enc *e, const int32_t *ids, const char *const *toks,
                        const uint32_t *lens, size_t n, uint32_t type_id) {
    if (!tok_enc_alloc(a, e, n)) return false;
    for (size_t i = 0; i < n; i++) {
        e->ids[i] = ids[i];
        e->type_ids[i] = (int32_t)type_id;
        e->word_ids[i] = -1;
        e->offsets[i][0] = e->offsets[i][1] = 0;
        e->tokens[i] = toks[i];
        e->token_lens[i] = lens[i];
        e->special_mask[i] = 1;
        e->attention_mask[i] = 1;
    }
    return true;
}

/* [pre] body [post] with the given type ids; body_type < 0 keeps the body's. */
static bool wrap_one(tok_arena *a, tok_enc *out, const tok_enc *body, const tok_post *p, bool pre_cls,
                     bool pre_sep, int32_t pre_type, int32_t post_type, int32_t body_type) {
    size_t npre = pre_cls || pre_sep;
    tok_enc r;
    if (!tok_enc_alloc(a, &r, body->n + npre + 1)) return false;
    size_t k = 0;
    if (npre) {
        r.ids[0] = pre_cls ? p->cls_id : p->sep_id;
        r.tokens[0] = pre_cls ? p->cls : p->sep;
        r.token_lens[0] = (uint32_t)(pre_cls ? p->cls_len : p->sep_len);
        r.type_ids[0] = pre_type;
        r.word_ids[0] = -1;
        r.offsets[0][0] = r.offsets[0][1] = 0;
        r.special_mask[0] = 1;
        r.attention_mask[0] = 1;
        k = 1;
    }
    for (size_t i = 0; i < body->n; i++, k++) {
        r.ids[k] = body->ids[i];
        r.tokens[k] = body->tokens[i];
        r.token_lens[k] = body->token_lens[i];
        r.type_ids[k] = body_type < 0 ? body->type_ids[i] : body_type;
        r.word_ids[k] = body->word_ids[i];
        r.offsets[k][0] = body->offsets[i][0];
        r.offsets[k][1] = body->offsets[i][1];
        r.special_mask[k] = 0;
        r.attention_mask[k] = 1;
    }
    r.ids[k] = p->sep_id;
    r.tokens[k] = p->sep;
    r.token_lens[k] = (uint32_t)p->sep_len;
    r.type_ids[k] = post_type;
    r.word_ids[k] = -1;
    r.offsets[k][0] = r.offsets[k][1] = 0;
    r.special_mask[k] = 1;
    r.attention_mask[k] = 1;
    r.truncated = body->truncated;
    *out = r;
    return true;
}

/* Wraps an encoding and each of its overflowing windows (nested windows are
 * dropped, as HF's Bert/Roberta processors do). */
static bool wrap(tok_arena *a, tok_enc *e, const tok_post *p, bool pre_cls, bool pre_sep,
                 int32_t pre_type, int32_t post_type, int32_t body_type, int32_t over_body_type) {
    tok_enc r;
    if (!wrap_one(a, &r, e, p, pre_cls, pre_sep, pre_type, post_type, body_type)) return false;
    if (e->n_overflowing) {
        r.overflowing = ta_alloc(a, e->n_overflowing * sizeof *r.overflowing);
        if (!r.overflowing) return false;
        for (size_t i = 0; i < e->n_overflowing; i++)
            if (!wrap_one(a, &r.overflowing[i], &e->overflowing[i], p, pre_cls, pre_sep, pre_type,
                          post_type, over_body_type))
                return false;
        r.n_overflowing = e->n_overflowing;
    }
    *e = r;
    return true;
}

/* HF byte_level::process_offsets: drop leading/trailing spaces ('Ġ' or
 * whitespace) of each token from its offsets. */
static bool trim_offsets(tok_arena *a, tok_enc *e, bool add_prefix_space) {
    int32_t(*off)[2] = ta_alloc(a, (e->n ? e->n : 1) * sizeof *off);
    if (!off) return false;
    memcpy(off, e->offsets, e->n * sizeof *off);
    for (size_t i = 0; i < e->n; i++) {
        const char *t = e->tokens[i];
        size_t n = e->token_lens[i];
        size_t lead = 0, trail = 0, count = 0;
        bool in_lead = true;
        for (size_t j = 0; j < n;) {
            uint32_t c = lp_tok_utf8_next(t, &j);
            bool sp = c == 0x120 || lp_tok_is_white_space(c);
            if (in_lead && sp)
                lead++;
            else
                in_lead = false;
            trail = sp ? trail + 1 : 0;
            count++;
        }
        if (lead == count) trail = count; /* an all-space token: both counts are full */
        if (lead > 0 || trail > 0) {
            if (lead > 0) {
                bool is_first = i == 0 || off[i][0] == 0;
                if (is_first && add_prefix_space && lead == 1) lead = 0;
                int32_t s = off[i][0] + (int32_t)lead;
                off[i][0] = s < off[i][1] ? s : off[i][1];
            }
            if (trail > 0 && off[i][1] >= (int32_t)trail) {
                int32_t en = off[i][1] - (int32_t)trail;
                off[i][1] = en > off[i][0] ? en : off[i][0];
            }
        }
    }
    e->offsets = off;
    return true;
}

static bool trim_all(tok_arena *a, tok_enc *encs, size_t n, bool add_prefix_space) {
    for (size_t i = 0; i < n; i++) {
        if (!trim_offsets(a, &encs[i], add_prefix_space)) return false;
        if (encs[i].n_overflowing) {
            tok_enc *o = ta_alloc(a, encs[i].n_overflowing * sizeof *o);
            if (!o) return false;
            memcpy(o, encs[i].overflowing, encs[i].n_overflowing * sizeof *o);
            for (size_t j = 0; j < encs[i].n_overflowing; j++)
                if (!trim_offsets(a, &o[j], add_prefix_space)) return false;
            encs[i].overflowing = o;
        }
    }
    return true;
}

static bool set_type_ids(tok_arena *a, tok_enc *e, int32_t type_id) {
    int32_t *t = ta_alloc(a, (e->n ? e->n : 1) * sizeof *t);
    if (!t) return false;
    for (size_t i = 0; i < e->n; i++) t[i] = type_id;
    e->type_ids = t;
    return true;
}

/* process_encodings: rewrites encs (1 or 2, or more after a template) in place;
 * *nenc may change (a template turns its pieces into a list). */
static bool process_encodings(const tok_post *p, tok_arena *a, tok_enc **encs, size_t *nenc,
                              bool add_special) {
    tok_enc *e = *encs;
    switch (p->kind) {
    case TPP_NONE: return true;
    case TPP_BYTELEVEL:
        if (p->trim_offsets && !trim_all(a, e, *nenc, p->add_prefix_space)) return false;
        return true;
    case TPP_BERT:
        if (!add_special) return true;
        for (size_t i = 0; i < *nenc; i++) {
            if (i == 0) {
                if (!wrap(a, &e[i], p, true, false, 0, 0, -1, -1)) return false;
            } else {
                /* pair: no leading token, [SEP] typed 1 */
                tok_enc r;
                if (!wrap_one(a, &r, &e[i], p, false, false, 0, 1, -1)) return false;
                if (e[i].n_overflowing) {
                    r.overflowing = ta_alloc(a, e[i].n_overflowing * sizeof *r.overflowing);
                    if (!r.overflowing) return false;
                    for (size_t j = 0; j < e[i].n_overflowing; j++)
                        if (!wrap_one(a, &r.overflowing[j], &e[i].overflowing[j], p, false, false, 0,
                                      1, -1))
                            return false;
                    r.n_overflowing = e[i].n_overflowing;
                }
                e[i] = r;
            }
        }
        return true;
    case TPP_ROBERTA:
        if (p->trim_offsets && !trim_all(a, e, *nenc, p->add_prefix_space)) return false;
        for (size_t i = 0; i < *nenc; i++)
            if (!set_type_ids(a, &e[i], 0)) return false;
        if (!add_special) return true;
        for (size_t i = 0; i < *nenc; i++)
            if (!wrap(a, &e[i], p, i == 0, i != 0, 0, 0, 0, 0)) return false;
        return true;
    case TPP_TEMPLATE: {
        const tok_piece *tpl = *nenc == 2 ? p->pair : p->single;
        size_t nt = *nenc == 2 ? p->npair : p->nsingle;
        tok_enc *out = ta_alloc(a, (nt ? nt : 1) * sizeof *out);
        if (!out) return false;
        size_t k = 0;
        for (size_t i = 0; i < nt; i++) {
            if (tpl[i].is_seq) {
                size_t which = tpl[i].seq == 0 ? 0 : 1;
                if (which >= *nenc) continue;
                tok_enc x = e[which];
                if (!set_type_ids(a, &x, (int32_t)tpl[i].type_id)) return false;
                e[which].type_ids = x.type_ids; /* HF sets them on the source too */
                out[k++] = x;
            } else if (add_special) {
                const tok_special *sp = tpl[i].special;
                if (!special_enc(a, &out[k++], sp->ids, sp->tokens, sp->lens, sp->n, tpl[i].type_id))
                    return false;
            }
        }
        *encs = out;
        *nenc = k;
        return true;
    }
    case TPP_SEQUENCE:
        for (size_t i = 0; i < p->nchildren; i++)
            if (!process_encodings(&p->children[i], a, encs, nenc, add_special)) return false;
        return true;
    }
    return true;
}

lp_status tok_post_process(const tok_post *p, tok_arena *a, tok_enc *encs, size_t nenc,
                           bool add_special, tok_enc *out, lp_error *err) {
    /* PostProcessor::process: type ids = sequence index, then the processor,
     * then merge everything (offsets not shifted). */
    tok_enc *list = ta_alloc(a, nenc * sizeof *list);
    if (!list) return lp_fail(err, LP_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < nenc; i++) {
        list[i] = encs[i];
        if (p && !set_type_ids(a, &list[i], (int32_t)i)) return lp_fail(err, LP_ERR_NOMEM, "out of memory");
    }
    size_t n = nenc;
    if (p && !process_encodings(p, a, &list, &n, add_special))
        return lp_fail(err, LP_ERR_NOMEM, "out of memory");
    tok_enc r;
    if (!tok_enc_alloc(a, &r, 0)) return lp_fail(err, LP_ERR_NOMEM, "out of memory");
    if (!p && n == 1) {
        *out = list[0];
        return LP_OK;
    }
    for (size_t i = 0; i < n; i++)
        if (!tok_enc_merge(a, &r, &list[i], false))
            return lp_fail(err, LP_ERR_NOMEM,
                           "out of memory combining the overflowing windows of a pair (use a larger "
                           "max_length or stride, or truncate one side only)");
    *out = r;
    return LP_OK;
}
