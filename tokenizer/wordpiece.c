/* WordPiece: greedy longest-match-first from the left, continuation pieces
 * carrying the "##" prefix; a word with any unmatched part, or longer than
 * max_input_chars_per_word chars, becomes one [UNK]. */
#include <string.h>

#include "tokenizer/internal.h"

static lp_status push_tok(lp_tok_workspace *ws, int32_t id, uint32_t s, uint32_t e,
                          const tok_model *m, lp_error *err) {
    size_t vl = 0;
    const char *v = tok_vocab_str(&m->vocab, (uint32_t)id, &vl);
    tok_token t = {id, s, e, v, (uint32_t)vl};
    if (!tok_vec_push(&ws->toks, t)) return lp_fail(err, LP_ERR_NOMEM, "out of memory");
    return LP_OK;
}

static lp_status unk(const tok_model *m, lp_tok_workspace *ws, uint32_t len, lp_error *err) {
    if (m->unk_id < 0)
        return lp_fail(err, LP_ERR_FORMAT,
                       "WordPiece: the unk token '%s' is not in the vocabulary, and a word needs it",
                       m->unk_token ? m->unk_token : "");
    return push_tok(ws, m->unk_id, 0, len, m, err);
}

lp_status tok_wordpiece_tokenize(const tok_model *m, lp_tok_workspace *ws, const char *s,
                                 uint32_t len, lp_error *err) {
    if (lp_tok_utf8_count(s, len) > m->max_input_chars) return unk(m, ws, len, err);
    size_t first = ws->toks.n;
    if (!tok_vec_reserve(&ws->u32a, (size_t)len + 1) || !tok_vec_reserve(&ws->u64a, (size_t)len + 1))
        return lp_fail(err, LP_ERR_NOMEM, "out of memory");
    uint32_t *ends = ws->u32a.v;
    uint64_t *hs = ws->u64a.v;
    const char *prefix = m->prefix ? m->prefix : "";
    uint64_t prefix_h = tok_hash_bytes(tok_hash_init(), prefix, m->prefix_len);
    uint32_t start = 0;
    while (start < len) {
        /* The running hash at every char boundary after start, so each
         * candidate (longest first) costs one probe. */
        size_t plen = start > 0 ? m->prefix_len : 0;
        uint64_t h = start > 0 ? prefix_h : tok_hash_init();
        uint32_t nb = 0;
        size_t first_i = start;
        size_t bound = tok_vocab_first_max(&m->vocab, lp_tok_utf8_next(s, &first_i));
        for (uint32_t i = start; i < len;) {
            uint32_t l = (uint32_t)lp_tok_utf8_len((unsigned char)s[i]);
            if (i + l - start > bound) break; /* no key that long starts with this char */
            for (uint32_t k = 0; k < l; k++) h = tok_hash_step(h, (unsigned char)s[i + k]);
            i += l;
            if (!tok_vocab_maybe_prefix(&m->vocab, h)) break; /* no key starts like this */
            ends[nb] = i;
            hs[nb] = h;
            nb++;
        }
        int32_t found = -1;
        uint32_t found_end = 0;
        for (uint32_t k = nb; k-- > 0;) {
            int32_t id = tok_vocab_get2_h(&m->vocab, prefix, plen, s + start, ends[k] - start,
                                          tok_hash_final(hs[k]));
            if (id >= 0) {
                found = id;
                found_end = ends[k];
                break;
            }
        }
        if (found < 0) {
            ws->toks.n = first;
            return unk(m, ws, len, err);
        }
        lp_status st = push_tok(ws, found, start, found_end, m, err);
        if (st) return st;
        start = found_end;
    }
    return LP_OK;
}
