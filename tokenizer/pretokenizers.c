/* The pre-tokenizers of tokenizer.json: each splits the pending pieces of a
 * sequence into smaller pieces (HF PreTokenizedString::split), keeping every
 * piece's alignments so that tokens map back to the original text. */
#include <string.h>

#include "tokenizer/internal.h"

/* HF NormalizedString::split: combine the matches per behavior, then slice. */
bool tok_split_by_matches(const tok_nstr *n, const tok_match *m, size_t nm, tok_behavior b,
                          tok_split_vec *out) {
    /* Pieces are (start, end, remove); combined in place into a small loop. */
    if (b == TOK_SPLIT_MERGED_NEXT) {
        /* Walk backwards, merging a delimiter into the piece after it. */
        size_t first = out->n;
        bool prev_match = false;
        bool have = false;
        uint32_t cs = 0, ce = 0;
        /* Collect reversed pieces, then emit in order. */
        for (size_t k = nm; k-- > 0;) {
            tok_match x = m[k];
            if (x.is_match && !prev_match && have) {
                cs = x.s;
            } else {
                if (have && ce > cs) {
                    tok_split sp = {nstr_slice(n, cs, ce), 0, 0, false};
                    if (!tok_vec_push(out, sp)) return false;
                }
                cs = x.s;
                ce = x.e;
                have = true;
            }
            prev_match = x.is_match;
        }
        if (have && ce > cs) {
            tok_split sp = {nstr_slice(n, cs, ce), 0, 0, false};
            if (!tok_vec_push(out, sp)) return false;
        }
        /* Reverse what we appended. */
        for (size_t i = first, j = out->n; i + 1 < j; i++, j--) {
            tok_split t = out->v[i];
            out->v[i] = out->v[j - 1];
            out->v[j - 1] = t;
        }
        return true;
    }
    bool have = false, prev_match = false;
    uint32_t cs = 0, ce = 0;
    bool crem = false;
    for (size_t k = 0; k < nm; k++) {
        tok_match x = m[k];
        bool extend = false;
        if (b == TOK_SPLIT_CONTIGUOUS)
            extend = have && x.is_match == prev_match;
        else if (b == TOK_SPLIT_MERGED_PREV)
            extend = have && x.is_match && !prev_match;
        if (extend) {
            ce = x.e;
        } else {
            if (have && !crem && ce > cs) {
                tok_split sp = {nstr_slice(n, cs, ce), 0, 0, false};
                if (!tok_vec_push(out, sp)) return false;
            }
            cs = x.s;
            ce = x.e;
            crem = b == TOK_SPLIT_REMOVED && x.is_match;
            have = true;
        }
        prev_match = x.is_match;
    }
    if (have && !crem && ce > cs) {
        tok_split sp = {nstr_slice(n, cs, ce), 0, 0, false};
        if (!tok_vec_push(out, sp)) return false;
    }
    return true;
}

/* HF's Pattern for a char predicate: one match per matching char. */
static bool char_matches(const char *s, uint32_t len, bool (*pred)(uint32_t, const void *),
                         const void *ctx, tok_match_vec *out) {
    out->n = 0;
    if (len == 0) return tok_vec_push(out, ((tok_match){0, 0, false}));
    uint32_t last = 0;
    for (size_t i = 0; i < len;) {
        size_t at = i;
        uint32_t c = lp_tok_utf8_next(s, &i);
        if (pred(c, ctx)) {
            if (last < at && !tok_vec_push(out, ((tok_match){last, (uint32_t)at, false})))
                return false;
            if (!tok_vec_push(out, ((tok_match){(uint32_t)at, (uint32_t)i, true}))) return false;
            last = (uint32_t)i;
        }
    }
    if (last < len && !tok_vec_push(out, ((tok_match){last, len, false}))) return false;
    return true;
}

static bool pred_white(uint32_t c, const void *x) {
    (void)x;
    return lp_tok_is_white_space(c);
}
static bool pred_punct(uint32_t c, const void *x) {
    (void)x;
    return lp_tok_is_bert_punct(c);
}
static bool pred_numeric(uint32_t c, const void *x) {
    (void)x;
    return lp_tok_is_numeric(c);
}
static bool pred_char(uint32_t c, const void *x) { return c == *(const uint32_t *)x; }

/* Matches of a regex or literal over s (HF Pattern for SysRegex / &str). */
bool tok_pattern_matches(const tok_pattern *p, const char *s, uint32_t len, tok_match_vec *out) {
    out->n = 0;
    if (len == 0) return tok_vec_push(out, ((tok_match){0, 0, false}));
    uint32_t prev = 0;
    size_t pos = 0;
    while (pos <= len) {
        size_t ms, me;
        if (p->is_regex) {
            if (!tok_regex_search(p->re, s, len, pos, &ms, &me)) break;
        } else {
            if (p->lit_len == 0 || p->lit_len > len - pos) break;
            const char *hit = memmem(s + pos, len - pos, p->lit, p->lit_len);
            if (!hit) break;
            ms = (size_t)(hit - s);
            me = ms + p->lit_len;
        }
        if (prev != ms && !tok_vec_push(out, ((tok_match){prev, (uint32_t)ms, false}))) return false;
        if (!tok_vec_push(out, ((tok_match){(uint32_t)ms, (uint32_t)me, true}))) return false;
        prev = (uint32_t)me;
        if (me == ms) {
            /* An empty match: step over one char, as the regex iterator does. */
            if (me >= len) break;
            pos = me + (size_t)lp_tok_utf8_len((unsigned char)s[me]);
        } else {
            pos = me;
        }
    }
    if (prev != len && !tok_vec_push(out, ((tok_match){prev, len, false}))) return false;
    return true;
}

static void invert(tok_match_vec *m) {
    for (size_t i = 0; i < m->n; i++) m->v[i].is_match = !m->v[i].is_match;
}

/* BertPreTokenizer: split on whitespace (removed), then on punctuation
 * (isolated). Done in one pass; the pieces are the same. */
static bool bert_split(const tok_nstr *n, tok_split_vec *out) {
    uint32_t start = 0;
    bool in_word = false;
    for (size_t i = 0; i < n->len;) {
        size_t at = i;
        uint32_t c = lp_tok_utf8_next(n->s, &i);
        bool ws = lp_tok_is_white_space(c), pu = !ws && lp_tok_is_bert_punct(c);
        if (ws || pu) {
            if (in_word) {
                tok_split sp = {nstr_slice(n, start, (uint32_t)at), 0, 0, false};
                if (!tok_vec_push(out, sp)) return false;
                in_word = false;
            }
            if (pu) {
                tok_split sp = {nstr_slice(n, (uint32_t)at, (uint32_t)i), 0, 0, false};
                if (!tok_vec_push(out, sp)) return false;
            }
        } else if (!in_word) {
            in_word = true;
            start = (uint32_t)at;
        }
    }
    if (in_word) {
        tok_split sp = {nstr_slice(n, start, n->len), 0, 0, false};
        if (!tok_vec_push(out, sp)) return false;
    }
    return true;
}

/* Whitespace: the matches of \w+|[^\w\s]+ are the pieces. */
static bool whitespace_split(const tok_nstr *n, tok_split_vec *out) {
    size_t i = 0;
    while (i < n->len) {
        size_t at = i, j = i;
        uint32_t c = lp_tok_utf8_next(n->s, &j);
        if (lp_tok_is_white_space(c)) {
            i = j;
            continue;
        }
        bool word = lp_tok_is_word_char(c);
        size_t end = j;
        while (end < n->len) {
            size_t k = end;
            uint32_t d = lp_tok_utf8_next(n->s, &k);
            bool dw = lp_tok_is_word_char(d);
            if (word ? !dw : (dw || lp_tok_is_white_space(d))) break;
            end = k;
        }
        tok_split sp = {nstr_slice(n, (uint32_t)at, (uint32_t)end), 0, 0, false};
        if (!tok_vec_push(out, sp)) return false;
        i = end;
    }
    return true;
}

static bool metaspace_one(const tok_pretok *pt, lp_tok_workspace *ws, tok_nstr n,
                          tok_split_vec *out) {
    /* Every ' ' becomes the replacement char. */
    char rep[4];
    int rl = lp_tok_utf8_put(pt->replacement, rep);
    tok_pattern lit = {false, " ", 1, NULL};
    if (!tok_replace(ws, &n, &lit, rep, (size_t)rl)) return false;
    bool starts = n.len >= (uint32_t)rl && !memcmp(n.s, rep, (size_t)rl);
    if (pt->prepend == TOK_PREPEND_ALWAYS && !starts) {
        if (!tok_prepend(ws, &n, rep, (size_t)rl)) return false;
    } else if (pt->prepend == TOK_PREPEND_FIRST && !starts && n.shift == 0) {
        if (!tok_prepend(ws, &n, rep, (size_t)rl)) return false;
    }
    if (!pt->split) {
        if (n.len == 0) return true;
        tok_split sp = {n, 0, 0, false};
        return tok_vec_push(out, sp);
    }
    uint32_t r = pt->replacement;
    if (!char_matches(n.s, n.len, pred_char, &r, &ws->matches)) return false;
    return tok_split_by_matches(&n, ws->matches.v, ws->matches.n, TOK_SPLIT_MERGED_NEXT, out);
}

static bool bytelevel_map(lp_tok_workspace *ws, tok_nstr *n) {
    if (n->len == 0) return true;
    tok_nbuild b;
    nb_begin(&b, ws, n, 0, n->len, 0);
    for (size_t i = 0; i < n->len;) {
        size_t l = (size_t)lp_tok_utf8_len((unsigned char)n->s[i]);
        for (size_t k = 0; k < l && i + k < n->len; k++)
            nb_push(&b, tok_byte_to_char[(unsigned char)n->s[i + k]], k > 0);
        i += l;
    }
    return nb_end(&b, n);
}

static bool bytelevel_one(const tok_pretok *pt, lp_tok_workspace *ws, tok_nstr n,
                          tok_split_vec *out) {
    if (pt->add_prefix_space && !(n.len > 0 && n.s[0] == ' ')) {
        if (!tok_prepend(ws, &n, " ", 1)) return false;
    }
    size_t first = out->n;
    if (pt->use_regex) {
        if (!tok_gpt2_matches(n.s, n.len, &ws->matches)) return false;
        if (!tok_split_by_matches(&n, ws->matches.v, ws->matches.n, TOK_SPLIT_ISOLATED, out))
            return false;
    } else if (n.len > 0) {
        tok_split sp = {n, 0, 0, false};
        if (!tok_vec_push(out, sp)) return false;
    }
    for (size_t i = first; i < out->n; i++)
        if (!bytelevel_map(ws, &out->v[i].n)) return false;
    return true;
}

/* Applies one (non-sequence) pre-tokenizer to one pending piece. */
static bool pretok_one(const tok_pretok *pt, lp_tok_workspace *ws, const tok_nstr *n,
                       tok_split_vec *out) {
    tok_match_vec *m = &ws->matches;
    switch (pt->kind) {
    case TP_BERT: return bert_split(n, out);
    case TP_WHITESPACE: return whitespace_split(n, out);
    case TP_WHITESPACE_SPLIT:
        return char_matches(n->s, n->len, pred_white, NULL, m) &&
               tok_split_by_matches(n, m->v, m->n, TOK_SPLIT_REMOVED, out);
    case TP_PUNCTUATION:
        return char_matches(n->s, n->len, pred_punct, NULL, m) &&
               tok_split_by_matches(n, m->v, m->n, pt->behavior, out);
    case TP_DIGITS:
        return char_matches(n->s, n->len, pred_numeric, NULL, m) &&
               tok_split_by_matches(n, m->v, m->n,
                                    pt->individual_digits ? TOK_SPLIT_ISOLATED : TOK_SPLIT_CONTIGUOUS,
                                    out);
    case TP_CHAR_DELIMITER:
        return char_matches(n->s, n->len, pred_char, &pt->delimiter, m) &&
               tok_split_by_matches(n, m->v, m->n, TOK_SPLIT_REMOVED, out);
    case TP_METASPACE: return metaspace_one(pt, ws, *n, out);
    case TP_BYTELEVEL: return bytelevel_one(pt, ws, *n, out);
    case TP_SPLIT:
        if (!tok_pattern_matches(&pt->pattern, n->s, n->len, m)) return false;
        if (pt->invert) invert(m);
        return tok_split_by_matches(n, m->v, m->n, pt->behavior, out);
    case TP_SEQUENCE: return false; /* handled by the caller */
    }
    return false;
}

bool tok_pretokenize(const tok_pretok *pt, lp_tok_workspace *ws, int *cur) {
    if (pt->kind == TP_SEQUENCE) {
        for (size_t i = 0; i < pt->nchildren; i++)
            if (!tok_pretokenize(&pt->children[i], ws, cur)) return false;
        return true;
    }
    tok_split_vec *in = &ws->splits[*cur], *out = &ws->splits[!*cur];
    out->n = 0;
    for (size_t i = 0; i < in->n; i++) {
        tok_split sp = in->v[i];
        if (sp.has_tokens) {
            if (!tok_vec_push(out, sp)) return false;
            continue;
        }
        if (!pretok_one(pt, ws, &sp.n, out)) return false;
        /* in may not move while we read it: out is the other list. */
    }
    *cur = !*cur;
    return true;
}
