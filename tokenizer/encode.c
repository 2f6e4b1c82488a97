/* The encode pipeline of one sequence, as HF's TokenizerImpl runs it:
 * added tokens on the raw text, normalizer + normalized added tokens on the
 * pieces in between, pre-tokenizer, model, then offsets back to code points
 * of the original text. */
#include <string.h>

#include "tokenizer/internal.h"

lp_status tok_model_tokenize(const tok_model *m, lp_tok_workspace *ws, const lp_tokenizer *tok,
                             const char *s, uint32_t len, lp_error *err) {
    switch (m->kind) {
    case TM_WORDPIECE: return tok_wordpiece_tokenize(m, ws, s, len, err);
    case TM_BPE: return tok_bpe_tokenize(m, ws, tok, s, len, err);
    case TM_UNIGRAM: return tok_unigram_tokenize(m, ws, s, len, err);
    case TM_WORDLEVEL: {
        int32_t id = tok_vocab_get(&m->vocab, s, len);
        if (id < 0) id = m->unk_id;
        if (id < 0)
            return lp_fail(err, LP_ERR_FORMAT,
                           "WordLevel: '%.*s' is not in the vocabulary and there is no unk token",
                           (int)(len > 40 ? 40 : len), s);
        size_t vl = 0;
        const char *v = tok_vocab_str(&m->vocab, (uint32_t)id, &vl);
        tok_token t = {id, 0, len, v, (uint32_t)vl};
        if (!tok_vec_push(&ws->toks, t)) return lp_fail(err, LP_ERR_NOMEM, "out of memory");
        return LP_OK;
    }
    }
    return lp_fail(err, LP_ERR_INTERNAL, "unknown model kind");
}

static lp_status oom(lp_error *err) {
    return lp_fail(err, LP_ERR_NOMEM,
                   "out of memory while encoding (or the tokenizer's normalizers grew the text "
                   "more than 64-fold)");
}

/* HF BytesToCharOffsetConverter::convert. */
static void to_chars(const uint32_t *charidx, uint32_t len, uint32_t s, uint32_t e, int32_t out[2]) {
    if (s >= len) {
        out[0] = (int32_t)s; /* HF leaves offsets it cannot map as bytes */
        out[1] = (int32_t)e;
        return;
    }
    out[0] = (int32_t)charidx[s];
    if (e < len)
        out[1] = (int32_t)charidx[e];
    else
        out[1] = (int32_t)(e >= 1 && e - 1 < len ? charidx[e - 1] + 1 : charidx[s] + 1);
}

lp_status tok_encode_sequence(const lp_tokenizer *tok, lp_tok_workspace *ws, const char *text,
                              size_t len, uint32_t type_id, tok_enc *out, lp_error *err) {
    if (len > 0x7FFFFFF0u) return lp_fail(err, LP_ERR_INVALID_ARG, "text too long (%zu bytes)", len);
    tok_nstr root;
    ws->norm_limit = len * 64 + 65536 < TOK_MAX_NORMALIZED ? len * 64 + 65536 : TOK_MAX_NORMALIZED;
    if (!nstr_from_text(ws, text, (uint32_t)len, &root)) return oom(err);
    ws->toks.n = 0;
    tok_split_vec *a = &ws->splits[0], *b = &ws->splits[1];
    a->n = 0;
    b->n = 0;
    /* 1. Added tokens that match the raw text. */
    if (!tok_added_split(tok, &tok->match_raw, ws, &root, a)) return oom(err);
    /* 2. Normalize the pieces in between, then match the normalized tokens. */
    for (size_t i = 0; i < a->n; i++) {
        tok_split sp = a->v[i];
        if (sp.has_tokens) {
            if (!tok_vec_push(b, sp)) return oom(err);
            continue;
        }
        if (tok->normalizer && !tok_normalize(tok->normalizer, ws, &sp.n)) return oom(err);
        if (!tok_added_split(tok, &tok->match_norm, ws, &sp.n, b)) return oom(err);
    }
    int cur = 1;
    /* 3. Pre-tokenize. */
    if (tok->pretok && !tok_pretokenize(tok->pretok, ws, &cur)) return oom(err);
    tok_split_vec *sv = &ws->splits[cur];
    /* 4. The model, on every piece that is not an added token. */
    for (size_t i = 0; i < sv->n; i++) {
        tok_split *sp = &sv->v[i];
        if (sp->has_tokens) continue;
        uint32_t first = (uint32_t)ws->toks.n;
        lp_status st = tok_model_tokenize(&tok->model, ws, tok, sp->n.s, sp->n.len, err);
        if (st) return st;
        sp = &sv->v[i];
        sp->tok_begin = first;
        sp->tok_count = (uint32_t)ws->toks.n - first;
    }
    /* 5. The encoding, offsets in code points of the original text. */
    size_t ntok = 0;
    for (size_t i = 0; i < sv->n; i++) ntok += sv->v[i].tok_count;
    if (!tok_enc_alloc(&ws->arena, out, ntok)) return oom(err);
    if (!tok_vec_reserve(&ws->charidx, len + 1)) return oom(err);
    uint32_t *charidx = ws->charidx.v;
    uint32_t ci = 0;
    for (size_t i = 0; i < len; i++) {
        if (((unsigned char)text[i] & 0xC0) != 0x80 && i > 0) ci++;
        charidx[i] = ci;
    }
    size_t k = 0;
    for (size_t i = 0; i < sv->n; i++) {
        const tok_split *sp = &sv->v[i];
        for (uint32_t j = 0; j < sp->tok_count; j++, k++) {
            const tok_token *t = &ws->toks.v[sp->tok_begin + j];
            uint32_t os, oe;
            nstr_orig_range(&sp->n, t->s, t->e, &os, &oe);
            out->ids[k] = t->id;
            out->type_ids[k] = (int32_t)type_id;
            out->word_ids[k] = (int32_t)i;
            to_chars(charidx, (uint32_t)len, os, oe, out->offsets[k]);
            out->tokens[k] = t->val;
            out->token_lens[k] = t->vlen;
            out->special_mask[k] = 0;
            out->attention_mask[k] = 1;
        }
    }
    return LP_OK;
}
