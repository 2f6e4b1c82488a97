/* Decoding ids back to text: ids -> token strings (added tokens first, then
 * the model), special tokens dropped on request, then the decoder chain, each
 * step as HF's decoders do it. */
#include <stdlib.h>
#include <string.h>

#include "tokenizer/internal.h"
#include "tokenizer/spm.h"

static bool put(tok_arena *a, tok_str *out, const char *s, size_t n) {
    char *p = ta_alloc(a, n + 1);
    if (!p) return false;
    if (n) memcpy(p, s, n);
    p[n] = '\0';
    out->s = p;
    out->n = n;
    return true;
}

/* A growable byte buffer in the arena (copying on growth). */
typedef struct sbuf {
    tok_arena *a;
    char *p;
    size_t n, cap;
    bool oom;
} sbuf;

static void sb_add(sbuf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = (b->cap ? b->cap * 2 : 64);
        while (cap < b->n + n + 1) cap *= 2;
        char *np = ta_alloc(b->a, cap);
        if (!np) {
            b->oom = true;
            return;
        }
        if (b->n) memcpy(np, b->p, b->n);
        b->p = np;
        b->cap = cap;
    }
    if (n) memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static bool sb_done(sbuf *b, tok_str *out) {
    if (b->oom) return false;
    if (!b->p) return put(b->a, out, "", 0);
    out->s = b->p;
    out->n = b->n;
    return true;
}

/* s.replace(from, to) for all non-overlapping occurrences. */
static bool replace_all(tok_arena *a, tok_str *t, const char *from, const char *to) {
    size_t fl = strlen(from), tl = strlen(to);
    if (fl == 0 || !memmem(t->s, t->n, from, fl)) return true;
    sbuf b = {a, NULL, 0, 0, false};
    size_t i = 0;
    while (i < t->n) {
        const char *hit = memmem(t->s + i, t->n - i, from, fl);
        if (!hit) break;
        size_t at = (size_t)(hit - t->s);
        sb_add(&b, t->s + i, at - i);
        sb_add(&b, to, tl);
        i = at + fl;
    }
    sb_add(&b, t->s + i, t->n - i);
    return sb_done(&b, t);
}

static bool wordpiece_cleanup(tok_arena *a, tok_str *t) {
    static const char *pairs[][2] = {{" .", "."},       {" ?", "?"},   {" !", "!"},   {" ,", ","},
                                     {" ' ", "'"},      {" n't", "n't"}, {" 'm", "'m"},
                                     {" do not", " don't"}, {" 's", "'s"}, {" 've", "'ve"},
                                     {" 're", "'re"}};
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++)
        if (!replace_all(a, t, pairs[i][0], pairs[i][1])) return false;
    return true;
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* "<0xXX>" -> byte (Rust u8::from_str_radix also takes "+X"). */
static int byte_token(const tok_str *t) {
    if (t->n != 6 || memcmp(t->s, "<0x", 3) || t->s[5] != '>') return -1;
    if (t->s[3] == '+') return hexval(t->s[4]);
    int h = hexval(t->s[3]), l = hexval(t->s[4]);
    if (h < 0 || l < 0) return -1;
    return h * 16 + l;
}

static bool flush_bytes(tok_arena *a, const unsigned char *bytes, size_t nb, tok_str *out, size_t *n) {
    if (!nb) return true;
    if (lp_tok_utf8_valid((const char *)bytes, nb)) return put(a, &out[(*n)++], (const char *)bytes, nb);
    for (size_t k = 0; k < nb; k++)
        if (!put(a, &out[(*n)++], "\xEF\xBF\xBD", 3)) return false;
    return true;
}

bool tok_decode_chain(const tok_decoder *d, tok_arena *a, tok_str **toks, size_t *n) {
    tok_str *t = *toks;
    switch (d->kind) {
    case TD_WORDPIECE:
        for (size_t i = 0; i < *n; i++) {
            if (i != 0) {
                if (t[i].n >= d->prefix_len && !memcmp(t[i].s, d->prefix, d->prefix_len)) {
                    t[i].s += d->prefix_len;
                    t[i].n -= d->prefix_len;
                } else {
                    sbuf b = {a, NULL, 0, 0, false};
                    sb_add(&b, " ", 1);
                    sb_add(&b, t[i].s, t[i].n);
                    if (!sb_done(&b, &t[i])) return false;
                }
            }
            if (d->cleanup && !wordpiece_cleanup(a, &t[i])) return false;
        }
        return true;
    case TD_BPE:
        for (size_t i = 0; i < *n; i++)
            if (!replace_all(a, &t[i], d->suffix, i + 1 == *n ? "" : " ")) return false;
        return true;
    case TD_METASPACE:
        for (size_t i = 0; i < *n; i++) {
            sbuf b = {a, NULL, 0, 0, false};
            for (size_t j = 0; j < t[i].n;) {
                size_t at = j;
                uint32_t c = lp_tok_utf8_next(t[i].s, &j);
                if (c == d->replacement) {
                    if (!(i == 0 && d->prepend != TOK_PREPEND_NEVER)) sb_add(&b, " ", 1);
                } else {
                    sb_add(&b, t[i].s + at, j - at);
                }
            }
            if (!sb_done(&b, &t[i])) return false;
        }
        return true;
    case TD_BYTELEVEL: {
        /* All tokens become bytes (a token with a char outside the byte map
         * keeps its own bytes), then one lossy UTF-8 string. */
        sbuf b = {a, NULL, 0, 0, false};
        for (size_t i = 0; i < *n; i++) {
            bool all = true;
            for (size_t j = 0; j < t[i].n && all;) all = tok_char_to_byte(lp_tok_utf8_next(t[i].s, &j)) >= 0;
            if (!all) {
                sb_add(&b, t[i].s, t[i].n);
                continue;
            }
            for (size_t j = 0; j < t[i].n;) {
                char c = (char)tok_char_to_byte(lp_tok_utf8_next(t[i].s, &j));
                sb_add(&b, &c, 1);
            }
        }
        tok_str raw;
        if (!sb_done(&b, &raw)) return false;
        tok_str *one = ta_alloc(a, sizeof *one);
        if (!one) return false;
        size_t rl = lp_tok_utf8_repaired_len(raw.s, raw.n);
        char *s = ta_alloc(a, rl + 1);
        if (!s) return false;
        lp_tok_utf8_repair(raw.s, raw.n, s);
        s[rl] = '\0';
        one->s = s;
        one->n = rl;
        *toks = one;
        *n = 1;
        return true;
    }
    case TD_BYTEFALLBACK: {
        tok_str *out = ta_alloc(a, (*n * 4 + 1) * sizeof *out);
        unsigned char *bytes = ta_alloc(a, *n + 1);
        if (!out || !bytes) return false;
        size_t no = 0, nb = 0;
        for (size_t i = 0; i < *n; i++) {
            int v = byte_token(&t[i]);
            if (v >= 0) {
                bytes[nb++] = (unsigned char)v;
                continue;
            }
            if (!flush_bytes(a, bytes, nb, out, &no)) return false;
            nb = 0;
            out[no++] = t[i];
        }
        if (!flush_bytes(a, bytes, nb, out, &no)) return false;
        *toks = out;
        *n = no;
        return true;
    }
    case TD_FUSE: {
        sbuf b = {a, NULL, 0, 0, false};
        for (size_t i = 0; i < *n; i++) sb_add(&b, t[i].s, t[i].n);
        tok_str *one = ta_alloc(a, sizeof *one);
        if (!one || !sb_done(&b, one)) return false;
        *toks = one;
        *n = 1;
        return true;
    }
    case TD_STRIP:
        for (size_t i = 0; i < *n; i++) {
            /* Work on chars. */
            size_t nc = lp_tok_utf8_count(t[i].s, t[i].n);
            uint32_t *cs = ta_alloc(a, (nc + 1) * sizeof *cs);
            size_t *pos = ta_alloc(a, (nc + 1) * sizeof *pos);
            if (!cs || !pos) return false;
            size_t k = 0;
            for (size_t j = 0; j < t[i].n;) {
                pos[k] = j;
                cs[k++] = lp_tok_utf8_next(t[i].s, &j);
            }
            pos[nc] = t[i].n;
            size_t start_cut = 0, stop_cut = nc;
            for (size_t c = 0; c < d->start && c < nc; c++) {
                if (cs[c] != d->strip_char) break;
                start_cut = c + 1;
            }
            for (size_t c = 0; c < d->stop && c < nc; c++) {
                size_t idx = nc - c - 1;
                if (cs[idx] != d->strip_char) break;
                stop_cut = idx;
            }
            if (stop_cut < start_cut) stop_cut = start_cut;
            t[i].s += pos[start_cut];
            t[i].n = pos[stop_cut] - pos[start_cut];
        }
        return true;
    case TD_REPLACE:
        for (size_t i = 0; i < *n; i++) {
            tok_match_vec m = {0};
            if (!tok_pattern_matches(&d->pattern, t[i].s, (uint32_t)t[i].n, &m)) {
                free(m.v);
                return false;
            }
            sbuf b = {a, NULL, 0, 0, false};
            for (size_t k = 0; k < m.n; k++) {
                if (m.v[k].is_match)
                    sb_add(&b, d->content, d->content_len);
                else
                    sb_add(&b, t[i].s + m.v[k].s, m.v[k].e - m.v[k].s);
            }
            free(m.v);
            if (!sb_done(&b, &t[i])) return false;
        }
        return true;
    case TD_CTC: {
        tok_str *out = ta_alloc(a, (*n + 1) * sizeof *out);
        if (!out) return false;
        size_t no = 0;
        for (size_t i = 0; i < *n; i++) {
            if (i > 0 && t[i].n == t[i - 1].n && !memcmp(t[i].s, t[i - 1].s, t[i].n)) continue;
            tok_str x = t[i];
            if (!replace_all(a, &x, d->pad_token, "")) return false;
            if (d->cleanup) {
                if (!wordpiece_cleanup(a, &x) || !replace_all(a, &x, d->word_delimiter, " ")) return false;
            }
            if (x.n) out[no++] = x;
        }
        *toks = out;
        *n = no;
        return true;
    }
    case TD_SEQUENCE:
        for (size_t i = 0; i < d->nchildren; i++)
            if (!tok_decode_chain(&d->children[i], a, toks, n)) return false;
        return true;
    }
    return true;
}

lp_status lp_tok_decode(const lp_tokenizer *tok, const int32_t *ids, size_t n,
                        bool skip_special_tokens, char **text, size_t *text_len, lp_error *err) {
    *text = NULL;
    if (text_len) *text_len = 0;
    /* sentencepiece's decode for .model files (skip_special_tokens does not
     * apply: control pieces always decode to nothing there). */
    if (tok->spm) return tok_spm_decode(tok, ids, n, text, text_len, err);
    tok_arena a = {0};
    tok_str *toks = ta_alloc(&a, (n + 1) * sizeof *toks);
    if (!toks) return lp_fail(err, LP_ERR_NOMEM, "out of memory");
    size_t nt = 0;
    for (size_t i = 0; i < n; i++) {
        const char *s = NULL;
        size_t len = 0;
        const tok_added *ad = ids[i] >= 0 ? tok_added_by_id(tok, ids[i]) : NULL;
        if (ad) {
            /* The normalized form when it differs (HF normalized_cache). */
            s = ad->normalized && ad->pattern ? ad->pattern : ad->content;
            len = ad->normalized && ad->pattern ? ad->pattern_len : ad->len;
        } else if (ids[i] >= 0) {
            s = tok_vocab_str(&tok->model.vocab, (uint32_t)ids[i], &len);
        }
        if (!s) continue; /* unknown ids are skipped, as HF does */
        if (skip_special_tokens && tok_is_special_token(tok, s, len)) continue;
        toks[nt].s = s;
        toks[nt].n = len;
        nt++;
    }
    tok_str joined;
    if (tok->decoder) {
        if (!tok_decode_chain(tok->decoder, &a, &toks, &nt)) {
            ta_free(&a);
            return lp_fail(err, LP_ERR_NOMEM, "out of memory while decoding");
        }
        sbuf b = {&a, NULL, 0, 0, false};
        for (size_t i = 0; i < nt; i++) sb_add(&b, toks[i].s, toks[i].n);
        if (!sb_done(&b, &joined)) {
            ta_free(&a);
            return lp_fail(err, LP_ERR_NOMEM, "out of memory while decoding");
        }
    } else {
        sbuf b = {&a, NULL, 0, 0, false};
        for (size_t i = 0; i < nt; i++) {
            if (i) sb_add(&b, " ", 1);
            sb_add(&b, toks[i].s, toks[i].n);
        }
        if (!sb_done(&b, &joined)) {
            ta_free(&a);
            return lp_fail(err, LP_ERR_NOMEM, "out of memory while decoding");
        }
    }
    char *outp = malloc(joined.n + 1);
    if (!outp) {
        ta_free(&a);
        return lp_fail(err, LP_ERR_NOMEM, "out of memory while decoding");
    }
    memcpy(outp, joined.s, joined.n);
    outp[joined.n] = '\0';
    *text = outp;
    if (text_len) *text_len = joined.n;
    ta_free(&a);
    return LP_OK;
}
