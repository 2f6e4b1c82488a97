/* The normalizers of tokenizer.json. Each one is written as HF writes it
 * (filter, map, transform on a NormalizedString), with fast paths only where
 * the result is provably the same: a transform that changes nothing, or a
 * map whose chars keep their byte length, leaves the alignments unchanged. */
#include <string.h>

#include "tokenizer/internal.h"

typedef bool (*keep_fn)(uint32_t c);

/* HF NormalizedString::filter. */
static bool filter(lp_tok_workspace *ws, tok_nstr *n, keep_fn keep, bool negate) {
    bool any_removed = false;
    uint32_t leading = 0;
    bool seen_kept = false;
    for (size_t i = 0; i < n->len;) {
        uint32_t c = lp_tok_utf8_next(n->s, &i);
        bool k = keep(c) != negate;
        if (!k) {
            any_removed = true;
            if (!seen_kept) leading++;
        } else {
            seen_kept = true;
        }
    }
    if (!any_removed) return true;
    tok_nbuild b;
    nb_begin(&b, ws, n, 0, n->len, seen_kept ? leading : 0);
    int removed = 0;
    bool have_last = false;
    uint32_t last = 0;
    for (size_t i = 0; i < n->len;) {
        uint32_t c = lp_tok_utf8_next(n->s, &i);
        if (keep(c) != negate) {
            if (have_last) nb_push(&b, last, -removed);
            last = c;
            have_last = true;
            removed = 0;
        } else {
            removed++;
        }
    }
    if (have_last) nb_push(&b, last, -removed);
    return nb_end(&b, n);
}

typedef uint32_t (*map_fn)(uint32_t c);

/* HF NormalizedString::map (one char for one char). */
static bool map_chars(lp_tok_workspace *ws, tok_nstr *n, map_fn f) {
    bool changed = false, same_len = true;
    for (size_t i = 0; i < n->len;) {
        uint32_t c = lp_tok_utf8_next(n->s, &i);
        uint32_t m = f(c);
        if (m != c) {
            changed = true;
            if (lp_tok_cp_len(m) != lp_tok_cp_len(c)) same_len = false;
        }
    }
    if (!changed) return true;
    if (same_len) {
        char *s = ta_alloc(&ws->arena, (size_t)n->len + 4);
        if (!s) return false;
        size_t o = 0;
        for (size_t i = 0; i < n->len;) o += (size_t)lp_tok_utf8_put(f(lp_tok_utf8_next(n->s, &i)), s + o);
        n->s = s;
        return true;
    }
    tok_nbuild b;
    nb_begin(&b, ws, n, 0, n->len, 0);
    for (size_t i = 0; i < n->len;) nb_push(&b, f(lp_tok_utf8_next(n->s, &i)), 0);
    return nb_end(&b, n);
}

static bool bert_drop(uint32_t c) {
    if (c == 0 || c == 0xFFFD) return true;
    if (c == '\t' || c == '\n' || c == '\r') return false;
    return lp_tok_u9_is_other(c);
}

static uint32_t bert_space(uint32_t c) {
    return (c == '\t' || c == '\n' || c == '\r' || lp_tok_is_white_space(c)) ? ' ' : c;
}

static bool chinese_chars(lp_tok_workspace *ws, tok_nstr *n) {
    bool any = false;
    for (size_t i = 0; i < n->len && !any;) any = lp_tok_is_chinese_char(lp_tok_utf8_next(n->s, &i));
    if (!any) return true;
    tok_nbuild b;
    nb_begin(&b, ws, n, 0, n->len, 0);
    for (size_t i = 0; i < n->len;) {
        uint32_t c = lp_tok_utf8_next(n->s, &i);
        if (lp_tok_is_chinese_char(c)) {
            nb_push(&b, ' ', 0);
            nb_push(&b, c, 1);
            nb_push(&b, ' ', 1);
        } else {
            nb_push(&b, c, 0);
        }
    }
    return nb_end(&b, n);
}

bool tok_lowercase(lp_tok_workspace *ws, tok_nstr *n) {
    bool changed = false, simple = true;
    for (size_t i = 0; i < n->len;) {
        size_t at = i;
        uint32_t c = lp_tok_utf8_next(n->s, &i);
        uint32_t l[3];
        int k = lp_tok_to_lower(c, l);
        if (k != 1 || l[0] != c) {
            changed = true;
            if (k != 1 || lp_tok_cp_len(l[0]) != (int)(i - at)) simple = false;
        }
    }
    if (!changed) return true;
    if (simple) {
        char *s = ta_alloc(&ws->arena, (size_t)n->len + 4);
        if (!s) return false;
        size_t o = 0;
        for (size_t i = 0; i < n->len;) {
            uint32_t l[3];
            lp_tok_to_lower(lp_tok_utf8_next(n->s, &i), l);
            o += (size_t)lp_tok_utf8_put(l[0], s + o);
        }
        n->s = s;
        return true;
    }
    tok_nbuild b;
    nb_begin(&b, ws, n, 0, n->len, 0);
    for (size_t i = 0; i < n->len;) {
        uint32_t l[3];
        int k = lp_tok_to_lower(lp_tok_utf8_next(n->s, &i), l);
        for (int j = 0; j < k; j++) nb_push(&b, l[j], j > 0);
    }
    return nb_end(&b, n);
}

bool tok_filter_marks(lp_tok_workspace *ws, tok_nstr *n, bool (*is_mark)(uint32_t)) {
    return filter(ws, n, is_mark, true);
}

/* HF NormalizedString::prepend: the first char of s replaces the first char,
 * the rest of s and that char are inserted after it. */
bool tok_prepend(lp_tok_workspace *ws, tok_nstr *n, const char *s, size_t len) {
    if (n->len == 0 || len == 0) return true;
    uint32_t first_len = (uint32_t)lp_tok_utf8_len((unsigned char)n->s[0]);
    size_t fi = 0;
    uint32_t first = lp_tok_utf8_next(n->s, &fi);
    tok_nbuild b;
    nb_begin(&b, ws, n, 0, first_len, 0);
    bool head = true;
    for (size_t i = 0; i < len;) {
        nb_push(&b, lp_tok_utf8_next(s, &i), head ? 0 : 1);
        head = false;
    }
    nb_push(&b, first, 1);
    return nb_end(&b, n);
}

/* HF NormalizedString::lrstrip (strips char::is_whitespace). */
bool tok_strip(lp_tok_workspace *ws, tok_nstr *n, bool left, bool right) {
    size_t count = 0, leading = 0, trailing = 0;
    bool in_lead = true;
    for (size_t i = 0; i < n->len;) {
        uint32_t c = lp_tok_utf8_next(n->s, &i);
        bool w = lp_tok_is_white_space(c);
        if (in_lead && w)
            leading++;
        else
            in_lead = false;
        trailing = w ? trailing + 1 : 0;
        count++;
    }
    if (!left) leading = 0;
    if (!right) trailing = 0;
    if (leading == 0 && trailing == 0) return true;
    if (leading >= count) trailing = 0; /* all whitespace: HF filters every char */
    tok_nbuild b;
    nb_begin(&b, ws, n, 0, n->len, (uint32_t)leading);
    size_t idx = 0;
    for (size_t i = 0; i < n->len; idx++) {
        uint32_t c = lp_tok_utf8_next(n->s, &i);
        if (idx < leading || idx >= count - trailing) continue;
        /* HF compares the char index with the byte length here; reproduce it. */
        if (idx == (size_t)n->len - trailing - 1)
            nb_push(&b, c, -(int)trailing);
        else
            nb_push(&b, c, 0);
    }
    return nb_end(&b, n);
}

/* HF NormalizedString::replace: every match becomes `content`, whose chars
 * are all "inserted" after the match's last byte. */
bool tok_replace(lp_tok_workspace *ws, tok_nstr *n, const tok_pattern *p, const char *content,
                 size_t content_len) {
    tok_match_vec *mv = &ws->matches;
    if (!tok_pattern_matches(p, n->s, n->len, mv)) return false;
    tok_match_vec m = *mv;
    bool any = false;
    for (size_t i = 0; i < m.n; i++) any |= m.v[i].is_match;
    if (!any) return true;
    size_t cap = (size_t)n->len + 1;
    for (size_t i = 0; i < m.n; i++)
        if (m.v[i].is_match) cap += content_len;
    if (cap > (ws->norm_limit ? ws->norm_limit : TOK_MAX_NORMALIZED)) return false;
    char *s = ta_alloc(&ws->arena, cap);
    tok_align *al = ta_alloc(&ws->arena, cap * sizeof *al);
    if (!s || !al) return false;
    size_t o = 0;
    for (size_t i = 0; i < m.n; i++) {
        tok_match x = m.v[i];
        if (!x.is_match) {
            memcpy(s + o, n->s + x.s, x.e - x.s);
            memcpy(al + o, n->al + x.s, (x.e - x.s) * sizeof *al);
            o += x.e - x.s;
            continue;
        }
        tok_align a = x.e < 1 ? (tok_align){n->shift, n->shift} : n->al[x.e - 1];
        memcpy(s + o, content, content_len);
        for (size_t k = 0; k < content_len; k++) al[o + k] = a;
        o += content_len;
    }
    s[o] = '\0';
    n->s = s;
    n->al = al;
    n->len = (uint32_t)o;
    return true;
}

static bool bytelevel_normalize(lp_tok_workspace *ws, tok_nstr *n) {
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

bool tok_normalize(const tok_normalizer *nz, lp_tok_workspace *ws, tok_nstr *n) {
    switch (nz->kind) {
    case TN_BERT:
        if (nz->clean_text) {
            if (!filter(ws, n, bert_drop, true) || !map_chars(ws, n, bert_space)) return false;
        }
        if (nz->handle_chinese && !chinese_chars(ws, n)) return false;
        if (nz->strip_accents) {
            if (!tok_nfx(ws, n, false, false) || !filter(ws, n, lp_tok_u9_is_mn, true)) return false;
        }
        if (nz->lowercase && !tok_lowercase(ws, n)) return false;
        return true;
    case TN_NFC: return tok_nfx(ws, n, false, true);
    case TN_NFD: return tok_nfx(ws, n, false, false);
    case TN_NFKC: return tok_nfx(ws, n, true, true);
    case TN_NFKD: return tok_nfx(ws, n, true, false);
    case TN_LOWERCASE: return tok_lowercase(ws, n);
    case TN_STRIP: return tok_strip(ws, n, nz->strip_left, nz->strip_right);
    case TN_STRIP_ACCENTS: return filter(ws, n, lp_tok_u9_is_mark, true);
    case TN_REPLACE: return tok_replace(ws, n, &nz->pattern, nz->content, nz->content_len);
    case TN_PREPEND: return tok_prepend(ws, n, nz->content, nz->content_len);
    case TN_PRECOMPILED: return tok_precompiled_normalize(nz->precompiled, ws, n);
    case TN_BYTELEVEL: return bytelevel_normalize(ws, n);
    case TN_SEQUENCE:
        for (size_t i = 0; i < nz->nchildren; i++)
            if (!tok_normalize(&nz->children[i], ws, n)) return false;
        return true;
    }
    return true;
}
