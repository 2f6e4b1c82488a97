/* tokenizer.json (HF tokenizers' serialization) -> lp_tokenizer.
 *
 * Every component is validated as it is read; an unknown component type or a
 * malformed field is an error naming the file and the JSON path. Strings are
 * copied into the tokenizer's pool: the cJSON tree is freed after loading. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer/internal.h"
#include "tokenizer/json_fast.h"

typedef struct jctx {
    lp_tokenizer *tok;
    const char *name;
    lp_error *err;
    lp_status st;
    tok_json_fast *fast_vocab, *fast_merges; /* pre-parsed model.vocab / merges, if any */
} jctx;

static bool fail(jctx *c, lp_status st, const char *path, const char *what) {
    if (c->st == LP_OK) {
        c->st = lp_fail(c->err, st, "%s: %s: %s", c->name, path, what);
    }
    return false;
}

static bool oom(jctx *c) { return fail(c, LP_ERR_NOMEM, "(loading)", "out of memory"); }

static const cJSON *field(const cJSON *o, const char *key) {
    return cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, key) : NULL;
}

static bool is_null(const cJSON *x) { return !x || cJSON_IsNull(x); }

static bool get_bool(jctx *c, const cJSON *o, const char *key, bool def, const char *path, bool *out) {
    const cJSON *x = field(o, key);
    if (is_null(x)) {
        *out = def;
        return true;
    }
    if (!cJSON_IsBool(x)) {
        char msg[160];
        snprintf(msg, sizeof msg, "'%s' must be true or false", key);
        return fail(c, LP_ERR_FORMAT, path, msg);
    }
    *out = cJSON_IsTrue(x);
    return true;
}

/* A non-negative integer that fits in int32. */
static bool as_index(const cJSON *x, int64_t *out) {
    if (!cJSON_IsNumber(x)) return false;
    double d = x->valuedouble;
    if (!(d >= 0 && d <= 2147483647.0) || d != floor(d)) return false;
    *out = (int64_t)d;
    return true;
}

static bool get_size(jctx *c, const cJSON *o, const char *key, size_t def, const char *path, size_t *out) {
    const cJSON *x = field(o, key);
    if (is_null(x)) {
        *out = def;
        return true;
    }
    int64_t v;
    if (!as_index(x, &v)) {
        char msg[160];
        snprintf(msg, sizeof msg, "'%s' must be a non-negative integer", key);
        return fail(c, LP_ERR_FORMAT, path, msg);
    }
    *out = (size_t)v;
    return true;
}

/* A string copied into the pool; NULL (no error) when absent or null and !required. */
static bool get_str(jctx *c, const cJSON *o, const char *key, bool required, const char *path,
                    const char **out, size_t *len) {
    const cJSON *x = field(o, key);
    *out = NULL;
    if (len) *len = 0;
    if (is_null(x)) {
        if (!required) return true;
        char msg[160];
        snprintf(msg, sizeof msg, "missing string '%s'", key);
        return fail(c, LP_ERR_FORMAT, path, msg);
    }
    if (!cJSON_IsString(x)) {
        char msg[160];
        snprintf(msg, sizeof msg, "'%s' must be a string", key);
        return fail(c, LP_ERR_FORMAT, path, msg);
    }
    size_t n = strlen(x->valuestring);
    char *s = ta_strndup(&c->tok->pool, x->valuestring, n);
    if (!s) return oom(c);
    *out = s;
    if (len) *len = n;
    return true;
}

/* One code point given as a JSON string. */
static bool get_char(jctx *c, const cJSON *o, const char *key, uint32_t def, const char *path,
                     uint32_t *out) {
    const cJSON *x = field(o, key);
    if (is_null(x)) {
        *out = def;
        return true;
    }
    if (!cJSON_IsString(x) || !x->valuestring[0]) {
        char msg[160];
        snprintf(msg, sizeof msg, "'%s' must be a one-character string", key);
        return fail(c, LP_ERR_FORMAT, path, msg);
    }
    size_t n = strlen(x->valuestring), i = 0;
    if (!lp_tok_utf8_valid(x->valuestring, n)) return fail(c, LP_ERR_FORMAT, path, "invalid UTF-8");
    *out = lp_tok_utf8_next(x->valuestring, &i);
    if (i != n) {
        char msg[160];
        snprintf(msg, sizeof msg, "'%s' must be exactly one character", key);
        return fail(c, LP_ERR_FORMAT, path, msg);
    }
    return true;
}

static const char *type_of(const cJSON *o) {
    const cJSON *t = field(o, "type");
    return cJSON_IsString(t) ? t->valuestring : NULL;
}

static void *pool_array(jctx *c, size_t n, size_t size) {
    void *p = ta_zalloc(&c->tok->pool, (n ? n : 1) * size);
    if (!p) oom(c);
    return p;
}

/* Parses one component (a normalizer, pre-tokenizer, ...) into *out. */
typedef bool (*component_parser)(jctx *c, const cJSON *o, const char *path, void *out);

/* The "Sequence" form every component kind has: the array under `key`, each
 * entry parsed by `parse` into a pool array of `size`-byte children, which is
 * returned (NULL after an error). */
static void *parse_sequence(jctx *c, const cJSON *o, const char *key, const char *path, size_t size,
                            component_parser parse, size_t *nchildren) {
    const cJSON *list = field(o, key);
    if (!cJSON_IsArray(list)) {
        char msg[96];
        snprintf(msg, sizeof msg, "Sequence needs a '%s' array", key);
        fail(c, LP_ERR_FORMAT, path, msg);
        return NULL;
    }
    *nchildren = (size_t)cJSON_GetArraySize(list);
    char *array = pool_array(c, *nchildren, size);
    if (!array) return NULL;
    size_t i = 0;
    const cJSON *x;
    cJSON_ArrayForEach(x, list) {
        char sub[200];
        snprintf(sub, sizeof sub, "%s.%s[%zu]", path, key, i);
        if (!parse(c, x, sub, array + i++ * size)) return NULL;
    }
    return array;
}

static bool unsupported_type(jctx *c, const char *path, const char *kind, const char *type) {
    char msg[200];
    snprintf(msg, sizeof msg, "unsupported %s type '%.60s'", kind, type);
    return fail(c, LP_ERR_UNSUPPORTED, path, msg);
}

/* {"String": "..."} or {"Regex": "..."} */
static bool get_pattern(jctx *c, const cJSON *o, const char *path, tok_pattern *p) {
    const cJSON *pat = field(o, "pattern");
    memset(p, 0, sizeof *p);
    const cJSON *s = field(pat, "String"), *r = field(pat, "Regex");
    if (cJSON_IsString(s)) {
        size_t n = strlen(s->valuestring);
        p->lit = ta_strndup(&c->tok->pool, s->valuestring, n);
        if (!p->lit) return oom(c);
        p->lit_len = n;
        return true;
    }
    if (cJSON_IsString(r)) {
        char eb[200];
        p->is_regex = true;
        p->re = tok_regex_compile(&c->tok->pool, r->valuestring, strlen(r->valuestring), eb, sizeof eb);
        if (!p->re) {
            char msg[360];
            snprintf(msg, sizeof msg, "regex \"%.80s\": %s", r->valuestring, eb);
            return fail(c, LP_ERR_UNSUPPORTED, path, msg);
        }
        return true;
    }
    return fail(c, LP_ERR_FORMAT, path, "'pattern' must be {\"String\": ...} or {\"Regex\": ...}");
}

static bool get_behavior(jctx *c, const cJSON *o, tok_behavior def, const char *path, tok_behavior *out) {
    const cJSON *b = field(o, "behavior");
    if (is_null(b)) {
        *out = def;
        return true;
    }
    static const struct {
        const char *name;
        tok_behavior b;
    } names[] = {{"Removed", TOK_SPLIT_REMOVED},
                 {"Isolated", TOK_SPLIT_ISOLATED},
                 {"MergedWithPrevious", TOK_SPLIT_MERGED_PREV},
                 {"MergedWithNext", TOK_SPLIT_MERGED_NEXT},
                 {"Contiguous", TOK_SPLIT_CONTIGUOUS}};
    if (cJSON_IsString(b))
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
            if (!strcmp(b->valuestring, names[i].name)) {
                *out = names[i].b;
                return true;
            }
    return fail(c, LP_ERR_FORMAT, path,
                "'behavior' must be Removed, Isolated, MergedWithPrevious, MergedWithNext or Contiguous");
}

static bool get_prepend_scheme(jctx *c, const cJSON *o, const char *path, tok_prepend_scheme *out) {
    *out = TOK_PREPEND_ALWAYS;
    const cJSON *p = field(o, "prepend_scheme");
    if (!is_null(p)) {
        if (!cJSON_IsString(p)) return fail(c, LP_ERR_FORMAT, path, "'prepend_scheme' must be a string");
        if (!strcmp(p->valuestring, "always"))
            *out = TOK_PREPEND_ALWAYS;
        else if (!strcmp(p->valuestring, "never"))
            *out = TOK_PREPEND_NEVER;
        else if (!strcmp(p->valuestring, "first"))
            *out = TOK_PREPEND_FIRST;
        else
            return fail(c, LP_ERR_FORMAT, path, "'prepend_scheme' must be always, never or first");
    }
    const cJSON *aps = field(o, "add_prefix_space");
    if (cJSON_IsFalse(aps)) {
        if (!is_null(p) && *out != TOK_PREPEND_NEVER)
            return fail(c, LP_ERR_FORMAT, path, "add_prefix_space does not match declared prepend_scheme");
        *out = TOK_PREPEND_NEVER;
    }
    return true;
}

/* ------------------------------------------------------------ normalizers */

static bool parse_normalizer_any(jctx *c, const cJSON *o, const char *path, void *out);

static bool parse_normalizer(jctx *c, const cJSON *o, const char *path, tok_normalizer *n);

static bool parse_normalizer(jctx *c, const cJSON *o, const char *path, tok_normalizer *n) {
    memset(n, 0, sizeof *n);
    const char *t = type_of(o);
    if (!t) return fail(c, LP_ERR_FORMAT, path, "a normalizer needs a string 'type'");
    if (!strcmp(t, "BertNormalizer")) {
        n->kind = TN_BERT;
        if (!get_bool(c, o, "clean_text", true, path, &n->clean_text) ||
            !get_bool(c, o, "handle_chinese_chars", true, path, &n->handle_chinese) ||
            !get_bool(c, o, "lowercase", true, path, &n->lowercase))
            return false;
        const cJSON *sa = field(o, "strip_accents");
        if (is_null(sa))
            n->strip_accents = n->lowercase;
        else if (cJSON_IsBool(sa))
            n->strip_accents = cJSON_IsTrue(sa);
        else
            return fail(c, LP_ERR_FORMAT, path, "'strip_accents' must be true, false or null");
        return true;
    }
    if (!strcmp(t, "NFC")) return n->kind = TN_NFC, true;
    if (!strcmp(t, "NFD")) return n->kind = TN_NFD, true;
    if (!strcmp(t, "NFKC")) return n->kind = TN_NFKC, true;
    if (!strcmp(t, "NFKD")) return n->kind = TN_NFKD, true;
    if (!strcmp(t, "Lowercase")) return n->kind = TN_LOWERCASE, true;
    if (!strcmp(t, "StripAccents")) return n->kind = TN_STRIP_ACCENTS, true;
    if (!strcmp(t, "ByteLevel")) return n->kind = TN_BYTELEVEL, true;
    if (!strcmp(t, "Strip")) {
        n->kind = TN_STRIP;
        return get_bool(c, o, "strip_left", true, path, &n->strip_left) &&
               get_bool(c, o, "strip_right", true, path, &n->strip_right);
    }
    if (!strcmp(t, "Replace")) {
        n->kind = TN_REPLACE;
        return get_pattern(c, o, path, &n->pattern) &&
               get_str(c, o, "content", true, path, &n->content, &n->content_len);
    }
    if (!strcmp(t, "Prepend")) {
        n->kind = TN_PREPEND;
        return get_str(c, o, "prepend", true, path, &n->content, &n->content_len);
    }
    if (!strcmp(t, "Precompiled")) {
        n->kind = TN_PRECOMPILED;
        const cJSON *m = field(o, "precompiled_charsmap");
        if (is_null(m)) {
            /* An empty charsmap normalizes nothing (HF accepts null). */
            n->kind = TN_SEQUENCE;
            return true;
        }
        if (!cJSON_IsString(m)) return fail(c, LP_ERR_FORMAT, path, "'precompiled_charsmap' must be a base64 string");
        /* base64 decode */
        const char *s = m->valuestring;
        size_t sl = strlen(s);
        unsigned char *bytes = malloc(sl / 4 * 3 + 4);
        if (!bytes) return oom(c);
        size_t nb = 0;
        uint32_t acc = 0;
        int bits = 0;
        for (size_t i = 0; i < sl; i++) {
            char ch = s[i];
            int v;
            if (ch >= 'A' && ch <= 'Z') v = ch - 'A';
            else if (ch >= 'a' && ch <= 'z') v = ch - 'a' + 26;
            else if (ch >= '0' && ch <= '9') v = ch - '0' + 52;
            else if (ch == '+') v = 62;
            else if (ch == '/') v = 63;
            else if (ch == '=') break;
            else {
                free(bytes);
                return fail(c, LP_ERR_FORMAT, path, "'precompiled_charsmap' is not valid base64");
            }
            acc = (acc << 6) | (uint32_t)v;
            bits += 6;
            if (bits >= 8) {
                bits -= 8;
                bytes[nb++] = (unsigned char)(acc >> bits);
            }
        }
        lp_error e2 = {0};
        n->precompiled = tok_precompiled_parse(&c->tok->pool, bytes, nb, &e2);
        free(bytes);
        if (!n->precompiled) return fail(c, LP_ERR_FORMAT, path, e2.msg);
        return true;
    }
    if (!strcmp(t, "Sequence")) {
        n->kind = TN_SEQUENCE;
        n->children = parse_sequence(c, o, "normalizers", path, sizeof *n->children, parse_normalizer_any,
                                        &n->nchildren);
        return n->children != NULL;
    }
    return unsupported_type(c, path, "normalizer", t);
}

static bool parse_normalizer_any(jctx *c, const cJSON *o, const char *path, void *out) {
    return parse_normalizer(c, o, path, out);
}

/* --------------------------------------------------------- pre-tokenizers */

static bool parse_pretok_any(jctx *c, const cJSON *o, const char *path, void *out);

static bool parse_pretok(jctx *c, const cJSON *o, const char *path, tok_pretok *p) {
    memset(p, 0, sizeof *p);
    const char *t = type_of(o);
    if (!t) return fail(c, LP_ERR_FORMAT, path, "a pre-tokenizer needs a string 'type'");
    if (!strcmp(t, "BertPreTokenizer")) return p->kind = TP_BERT, true;
    if (!strcmp(t, "Whitespace")) return p->kind = TP_WHITESPACE, true;
    if (!strcmp(t, "WhitespaceSplit")) return p->kind = TP_WHITESPACE_SPLIT, true;
    if (!strcmp(t, "Punctuation")) {
        p->kind = TP_PUNCTUATION;
        return get_behavior(c, o, TOK_SPLIT_ISOLATED, path, &p->behavior);
    }
    if (!strcmp(t, "Digits")) {
        p->kind = TP_DIGITS;
        return get_bool(c, o, "individual_digits", false, path, &p->individual_digits);
    }
    if (!strcmp(t, "CharDelimiterSplit")) {
        p->kind = TP_CHAR_DELIMITER;
        if (is_null(field(o, "delimiter"))) return fail(c, LP_ERR_FORMAT, path, "missing 'delimiter'");
        return get_char(c, o, "delimiter", ' ', path, &p->delimiter);
    }
    if (!strcmp(t, "Metaspace")) {
        p->kind = TP_METASPACE;
        return get_char(c, o, "replacement", 0x2581, path, &p->replacement) &&
               get_prepend_scheme(c, o, path, &p->prepend) &&
               get_bool(c, o, "split", true, path, &p->split);
    }
    if (!strcmp(t, "ByteLevel")) {
        p->kind = TP_BYTELEVEL;
        return get_bool(c, o, "add_prefix_space", true, path, &p->add_prefix_space) &&
               get_bool(c, o, "use_regex", true, path, &p->use_regex);
    }
    if (!strcmp(t, "Split")) {
        p->kind = TP_SPLIT;
        if (is_null(field(o, "behavior"))) return fail(c, LP_ERR_FORMAT, path, "Split needs a 'behavior'");
        return get_pattern(c, o, path, &p->pattern) &&
               get_behavior(c, o, TOK_SPLIT_REMOVED, path, &p->behavior) &&
               get_bool(c, o, "invert", false, path, &p->invert);
    }
    if (!strcmp(t, "Sequence")) {
        p->kind = TP_SEQUENCE;
        p->children = parse_sequence(c, o, "pretokenizers", path, sizeof *p->children, parse_pretok_any,
                                        &p->nchildren);
        return p->children != NULL;
    }
    return unsupported_type(c, path, "pre-tokenizer", t);
}

static bool parse_pretok_any(jctx *c, const cJSON *o, const char *path, void *out) {
    return parse_pretok(c, o, path, out);
}

/* ------------------------------------------------------------------ model */

/* Ids index a dense table, so an id far beyond the vocabulary's size (real
 * files have dense ids) is refused rather than allocated for. */
static bool id_too_large(jctx *c, uint64_t id, size_t n) {
    uint64_t limit = (uint64_t)n * 4 + (1u << 20);
    if (id < limit) return false;
    char msg[160];
    snprintf(msg, sizeof msg, "id %llu is far beyond the vocabulary's %zu entries (ids must be dense)",
             (unsigned long long)id, n);
    return !fail(c, LP_ERR_UNSUPPORTED, "model.vocab", msg);
}

static bool load_vocab_map(jctx *c, const cJSON *v, tok_vocab *voc) {
    if (c->fast_vocab && c->fast_vocab->present) {
        tok_json_fast *f = c->fast_vocab;
        if (!f->is_map) return fail(c, LP_ERR_FORMAT, "model.vocab", "must be an object {token: id}");
        for (size_t k = 0; k < f->n; k++)
            if (id_too_large(c, f->entries[k].id, f->n)) return false;
        if (!tok_vocab_init(voc, f->n, f->slen)) return oom(c);
        if (tok_vocab_add_all(voc, f->entries, f->n, false, NULL) < 0) return oom(c);
        return true;
    }
    if (!cJSON_IsObject(v)) return fail(c, LP_ERR_FORMAT, "model.vocab", "must be an object {token: id}");
    size_t n = 0, bytes = 0;
    const cJSON *x;
    cJSON_ArrayForEach(x, v) {
        n++;
        bytes += strlen(x->string);
    }
    if (!tok_vocab_init(voc, n, bytes)) return oom(c);
    cJSON_ArrayForEach(x, v) {
        int64_t id;
        if (!as_index(x, &id)) {
            char msg[200];
            snprintf(msg, sizeof msg, "the id of '%.60s' must be a non-negative integer", x->string);
            return fail(c, LP_ERR_FORMAT, "model.vocab", msg);
        }
        if (id_too_large(c, (uint64_t)id, n)) return false;
        if (!tok_vocab_put(voc, x->string, strlen(x->string), (uint32_t)id)) return oom(c);
    }
    return true;
}

static bool add_merge(jctx *c, tok_model *m, const char *a, size_t al, const char *b, size_t bl, size_t rank,
                      char **buf, size_t *bufcap) {
    char tmp[256];
    int32_t ia = tok_vocab_get(&m->vocab, a, al), ib = tok_vocab_get(&m->vocab, b, bl);
    size_t pl = m->prefix ? m->prefix_len : 0;
    if (ia < 0 || ib < 0 || bl < pl) {
        snprintf(tmp, sizeof tmp, "merge %zu: token '%.*s' is not in the vocabulary", rank + 1,
                 (int)(ia < 0 ? (al > 60 ? 60 : al) : (bl > 60 ? 60 : bl)), ia < 0 ? a : b);
        return fail(c, LP_ERR_FORMAT, "model.merges", tmp);
    }
    if (al + bl + 1 > *bufcap) {
        size_t cap = (al + bl + 1) * 2;
        char *nb = realloc(*buf, cap);
        if (!nb) return oom(c);
        *buf = nb;
        *bufcap = cap;
    }
    memcpy(*buf, a, al);
    memcpy(*buf + al, b + pl, bl - pl);
    int32_t inew = tok_vocab_get(&m->vocab, *buf, al + bl - pl);
    if (inew < 0) {
        snprintf(tmp, sizeof tmp, "merge %zu: the merged token '%.*s' is not in the vocabulary", rank + 1,
                 (int)((al + bl - pl) > 60 ? 60 : (al + bl - pl)), *buf);
        return fail(c, LP_ERR_FORMAT, "model.merges", tmp);
    }
    if (!tok_bpe_add_merge(m, (uint32_t)ia, (uint32_t)ib, (uint32_t)rank, (uint32_t)inew)) return oom(c);
    return true;
}

static bool load_merges(jctx *c, const cJSON *merges, tok_model *m) {
    if (c->fast_merges && c->fast_merges->present) {
        tok_json_fast *f = c->fast_merges;
        if (!tok_bpe_init_merges(m, f->n / 2)) return oom(c);
        char *buf = NULL;
        size_t cap = 0;
        for (size_t k = 0; k + 1 < f->n; k += 2)
            if (!add_merge(c, m, f->entries[k].s, f->entries[k].n, f->entries[k + 1].s, f->entries[k + 1].n,
                           k / 2, &buf, &cap)) {
                free(buf);
                return false;
            }
        free(buf);
        return true;
    }
    if (!cJSON_IsArray(merges)) return fail(c, LP_ERR_FORMAT, "model.merges", "must be an array");
    size_t n = (size_t)cJSON_GetArraySize(merges);
    if (!tok_bpe_init_merges(m, n)) return oom(c);
    size_t rank = 0;
    const cJSON *x;
    char *buf = NULL;
    size_t bufcap = 0;
    cJSON_ArrayForEach(x, merges) {
        const char *a, *b;
        size_t al, bl;
        char tmp[1024];
        if (cJSON_IsString(x)) {
            const char *s = x->valuestring;
            if (!strncmp(s, "#version", 8)) continue;
            const char *sp = strchr(s, ' ');
            if (!sp || strchr(sp + 1, ' ')) {
                free(buf);
                snprintf(tmp, sizeof tmp, "merge %zu ('%.60s') must be two tokens separated by one space", rank + 1, s);
                return fail(c, LP_ERR_FORMAT, "model.merges", tmp);
            }
            a = s;
            al = (size_t)(sp - s);
            b = sp + 1;
            bl = strlen(b);
        } else if (cJSON_IsArray(x) && cJSON_GetArraySize(x) == 2 &&
                   cJSON_IsString(cJSON_GetArrayItem(x, 0)) && cJSON_IsString(cJSON_GetArrayItem(x, 1))) {
            a = cJSON_GetArrayItem(x, 0)->valuestring;
            b = cJSON_GetArrayItem(x, 1)->valuestring;
            al = strlen(a);
            bl = strlen(b);
        } else {
            free(buf);
            snprintf(tmp, sizeof tmp, "merge %zu must be \"a b\" or [\"a\", \"b\"]", rank + 1);
            return fail(c, LP_ERR_FORMAT, "model.merges", tmp);
        }
        if (!add_merge(c, m, a, al, b, bl, rank, &buf, &bufcap)) {
            free(buf);
            return false;
        }
        rank++;
    }
    free(buf);
    return true;
}

static bool parse_model(jctx *c, const cJSON *o, tok_model *m) {
    memset(m, 0, sizeof *m);
    m->unk_id = -1;
    if (!cJSON_IsObject(o)) return fail(c, LP_ERR_FORMAT, "model", "missing or not an object");
    const char *t = type_of(o);
    const cJSON *vocab = field(o, "vocab");
    if (!t) {
        /* Old files have no type: infer it as HF's untagged enum does. */
        if (field(o, "merges"))
            t = "BPE";
        else if (cJSON_IsArray(vocab))
            t = "Unigram";
        else if (field(o, "continuing_subword_prefix") || field(o, "max_input_chars_per_word"))
            t = "WordPiece";
        else
            t = "WordLevel";
    }
    if (!strcmp(t, "WordPiece")) {
        m->kind = TM_WORDPIECE;
        if (!get_str(c, o, "unk_token", false, "model", &m->unk_token, NULL) ||
            !get_str(c, o, "continuing_subword_prefix", false, "model", &m->prefix, &m->prefix_len) ||
            !get_size(c, o, "max_input_chars_per_word", 100, "model", &m->max_input_chars))
            return false;
        if (!m->unk_token) m->unk_token = "[UNK]";
        if (!m->prefix) {
            m->prefix = "##";
            m->prefix_len = 2;
        }
        if (!load_vocab_map(c, vocab, &m->vocab)) return false;
        m->unk_id = tok_vocab_get(&m->vocab, m->unk_token, strlen(m->unk_token));
        return true;
    }
    if (!strcmp(t, "WordLevel")) {
        m->kind = TM_WORDLEVEL;
        if (!get_str(c, o, "unk_token", false, "model", &m->unk_token, NULL)) return false;
        if (!load_vocab_map(c, vocab, &m->vocab)) return false;
        if (m->unk_token) m->unk_id = tok_vocab_get(&m->vocab, m->unk_token, strlen(m->unk_token));
        return true;
    }
    if (!strcmp(t, "BPE")) {
        m->kind = TM_BPE;
        const cJSON *dropout = field(o, "dropout");
        if (!is_null(dropout)) {
            if (!cJSON_IsNumber(dropout) || dropout->valuedouble < 0 || dropout->valuedouble > 1)
                return fail(c, LP_ERR_FORMAT, "model.dropout", "must be null or a number in [0, 1]");
            if (dropout->valuedouble > 0)
                return fail(c, LP_ERR_UNSUPPORTED, "model.dropout",
                            "BPE dropout is random and not supported for inference; set it to null");
        }
        if (!get_str(c, o, "unk_token", false, "model", &m->unk_token, NULL) ||
            !get_str(c, o, "continuing_subword_prefix", false, "model", &m->prefix, &m->prefix_len) ||
            !get_str(c, o, "end_of_word_suffix", false, "model", &m->suffix, &m->suffix_len) ||
            !get_bool(c, o, "fuse_unk", false, "model", &m->fuse_unk) ||
            !get_bool(c, o, "byte_fallback", false, "model", &m->byte_fallback) ||
            !get_bool(c, o, "ignore_merges", false, "model", &m->ignore_merges))
            return false;
        if (!load_vocab_map(c, vocab, &m->vocab)) return false;
        if (m->unk_token) m->unk_id = tok_vocab_get(&m->vocab, m->unk_token, strlen(m->unk_token));
        const cJSON *merges = field(o, "merges");
        if (is_null(merges)) return fail(c, LP_ERR_FORMAT, "model", "BPE needs 'merges'");
        return load_merges(c, merges, m);
    }
    if (!strcmp(t, "Unigram")) {
        m->kind = TM_UNIGRAM;
        m->vocab.dup_keeps_old = true;
        if (c->fast_vocab && c->fast_vocab->present) {
            tok_json_fast *f = c->fast_vocab;
            if (f->is_map) return fail(c, LP_ERR_FORMAT, "model.vocab", "Unigram needs a vocab array of [piece, score]");
            if (!tok_vocab_init(&m->vocab, f->n, f->slen)) return oom(c);
            m->vocab.dup_keeps_old = true;
            if (tok_vocab_add_all(&m->vocab, f->entries, f->n, false, NULL) < 0) return oom(c);
            m->scores = malloc((f->n ? f->n : 1) * sizeof *m->scores);
            if (!m->scores) return oom(c);
            m->min_score = INFINITY;
            for (size_t k = 0; k < f->n; k++) {
                m->scores[k] = f->scores[k];
                if (f->scores[k] < m->min_score) m->min_score = f->scores[k];
            }
            m->vocab_size = f->n;
            const cJSON *unk = field(o, "unk_id");
            if (!is_null(unk)) {
                int64_t u;
                if (!as_index(unk, &u) || (size_t)u >= f->n)
                    return fail(c, LP_ERR_FORMAT, "model.unk_id", "must be null or an index into the vocab");
                m->unk_id = (int32_t)u;
            }
            return get_bool(c, o, "byte_fallback", false, "model", &m->byte_fallback);
        }
        if (!cJSON_IsArray(vocab)) return fail(c, LP_ERR_FORMAT, "model.vocab", "Unigram needs a vocab array of [piece, score]");
        size_t n = (size_t)cJSON_GetArraySize(vocab), bytes = 0;
        const cJSON *x;
        cJSON_ArrayForEach(x, vocab) {
            const cJSON *p = cJSON_GetArrayItem(x, 0);
            if (cJSON_IsString(p)) bytes += strlen(p->valuestring);
        }
        if (!tok_vocab_init(&m->vocab, n, bytes)) return oom(c);
        m->vocab.dup_keeps_old = true;
        m->scores = malloc((n ? n : 1) * sizeof *m->scores);
        if (!m->scores) return oom(c);
        size_t id = 0;
        m->min_score = INFINITY;
        cJSON_ArrayForEach(x, vocab) {
            const cJSON *p = cJSON_GetArrayItem(x, 0), *s = cJSON_GetArrayItem(x, 1);
            if (!cJSON_IsArray(x) || cJSON_GetArraySize(x) != 2 || !cJSON_IsString(p) || !cJSON_IsNumber(s)) {
                char msg[120];
                snprintf(msg, sizeof msg, "entry %zu must be [\"piece\", score]", id);
                return fail(c, LP_ERR_FORMAT, "model.vocab", msg);
            }
            if (!tok_vocab_put(&m->vocab, p->valuestring, strlen(p->valuestring), (uint32_t)id)) return oom(c);
            m->scores[id] = s->valuedouble;
            if (s->valuedouble < m->min_score) m->min_score = s->valuedouble;
            id++;
        }
        m->vocab_size = n; /* HF: the list's length, repeated pieces included */
        const cJSON *unk = field(o, "unk_id");
        if (!is_null(unk)) {
            int64_t u;
            if (!as_index(unk, &u) || (size_t)u >= n)
                return fail(c, LP_ERR_FORMAT, "model.unk_id", "must be null or an index into the vocab");
            m->unk_id = (int32_t)u;
        } else if (n == 0) {
            return true;
        }
        if (m->unk_id >= 0 && n == 0) return fail(c, LP_ERR_FORMAT, "model.vocab", "is empty");
        return get_bool(c, o, "byte_fallback", false, "model", &m->byte_fallback);
    }
    return unsupported_type(c, "model", "model", t);
}

/* -------------------------------------------------------- post-processors */

static bool get_pair_token(jctx *c, const cJSON *o, const char *key, const char *path,
                           const char **s, size_t *len, int32_t *id) {
    const cJSON *x = field(o, key);
    if (!cJSON_IsArray(x) || cJSON_GetArraySize(x) != 2 || !cJSON_IsString(cJSON_GetArrayItem(x, 0))) {
        char msg[160];
        snprintf(msg, sizeof msg, "'%s' must be [\"token\", id]", key);
        return fail(c, LP_ERR_FORMAT, path, msg);
    }
    int64_t v;
    if (!as_index(cJSON_GetArrayItem(x, 1), &v)) {
        char msg[160];
        snprintf(msg, sizeof msg, "the id in '%s' must be a non-negative integer", key);
        return fail(c, LP_ERR_FORMAT, path, msg);
    }
    const char *str = cJSON_GetArrayItem(x, 0)->valuestring;
    *len = strlen(str);
    *s = ta_strndup(&c->tok->pool, str, *len);
    if (!*s) return oom(c);
    *id = (int32_t)v;
    return true;
}

static bool parse_template(jctx *c, const cJSON *list, const char *path, tok_post *p, tok_special *sp,
                           size_t nsp, tok_piece **out, size_t *nout, size_t *added) {
    if (!cJSON_IsArray(list)) return fail(c, LP_ERR_FORMAT, path, "must be an array of pieces");
    *nout = (size_t)cJSON_GetArraySize(list);
    *out = pool_array(c, *nout, sizeof **out);
    if (!*out) return false;
    *added = 0;
    size_t i = 0;
    const cJSON *x;
    (void)p;
    cJSON_ArrayForEach(x, list) {
        tok_piece *pc = &(*out)[i++];
        const cJSON *seq = field(x, "Sequence"), *spt = field(x, "SpecialToken");
        const cJSON *body = seq ? seq : spt;
        int64_t type_id = 0;
        const cJSON *tid = field(body, "type_id");
        if (!body || (!is_null(tid) && !as_index(tid, &type_id)))
            return fail(c, LP_ERR_FORMAT, path, "each piece must be {\"Sequence\": {...}} or {\"SpecialToken\": {...}} with an integer type_id");
        pc->type_id = (uint32_t)type_id;
        const cJSON *id = field(body, "id");
        if (!cJSON_IsString(id)) return fail(c, LP_ERR_FORMAT, path, "a piece needs a string 'id'");
        if (seq) {
            pc->is_seq = true;
            if (!strcmp(id->valuestring, "A"))
                pc->seq = 0;
            else if (!strcmp(id->valuestring, "B"))
                pc->seq = 1;
            else
                return fail(c, LP_ERR_FORMAT, path, "a Sequence piece id must be A or B");
        } else {
            for (size_t k = 0; k < nsp; k++)
                if (!strcmp(sp[k].name, id->valuestring)) pc->special = &sp[k];
            if (!pc->special) {
                char msg[200];
                snprintf(msg, sizeof msg, "special token '%.60s' is used but not defined in special_tokens", id->valuestring);
                return fail(c, LP_ERR_FORMAT, path, msg);
            }
            *added += pc->special->n;
        }
    }
    return true;
}

static bool parse_post_any(jctx *c, const cJSON *o, const char *path, void *out);

static bool parse_post(jctx *c, const cJSON *o, const char *path, tok_post *p) {
    memset(p, 0, sizeof *p);
    const char *t = type_of(o);
    if (!t) return fail(c, LP_ERR_FORMAT, path, "a post-processor needs a string 'type'");
    if (!strcmp(t, "BertProcessing")) {
        p->kind = TPP_BERT;
        return get_pair_token(c, o, "sep", path, &p->sep, &p->sep_len, &p->sep_id) &&
               get_pair_token(c, o, "cls", path, &p->cls, &p->cls_len, &p->cls_id);
    }
    if (!strcmp(t, "RobertaProcessing")) {
        p->kind = TPP_ROBERTA;
        return get_pair_token(c, o, "sep", path, &p->sep, &p->sep_len, &p->sep_id) &&
               get_pair_token(c, o, "cls", path, &p->cls, &p->cls_len, &p->cls_id) &&
               get_bool(c, o, "trim_offsets", true, path, &p->trim_offsets) &&
               get_bool(c, o, "add_prefix_space", true, path, &p->add_prefix_space);
    }
    if (!strcmp(t, "ByteLevel")) {
        p->kind = TPP_BYTELEVEL;
        return get_bool(c, o, "trim_offsets", true, path, &p->trim_offsets) &&
               get_bool(c, o, "add_prefix_space", true, path, &p->add_prefix_space);
    }
    if (!strcmp(t, "TemplateProcessing")) {
        p->kind = TPP_TEMPLATE;
        const cJSON *st = field(o, "special_tokens");
        if (!is_null(st) && !cJSON_IsObject(st)) return fail(c, LP_ERR_FORMAT, path, "'special_tokens' must be an object");
        size_t nsp = st ? (size_t)cJSON_GetArraySize(st) : 0;
        tok_special *sp = pool_array(c, nsp, sizeof *sp);
        if (!sp) return false;
        size_t k = 0;
        const cJSON *x;
        if (st) cJSON_ArrayForEach(x, st) {
            tok_special *s = &sp[k++];
            s->name = ta_strndup(&c->tok->pool, x->string, strlen(x->string));
            const cJSON *ids = field(x, "ids"), *toks = field(x, "tokens");
            if (!s->name) return oom(c);
            if (!cJSON_IsArray(ids) || !cJSON_IsArray(toks) || cJSON_GetArraySize(ids) != cJSON_GetArraySize(toks))
                return fail(c, LP_ERR_FORMAT, path, "each special token needs 'ids' and 'tokens' arrays of the same length");
            s->n = (size_t)cJSON_GetArraySize(ids);
            s->ids = pool_array(c, s->n, sizeof *s->ids);
            s->tokens = pool_array(c, s->n, sizeof *s->tokens);
            s->lens = pool_array(c, s->n, sizeof *s->lens);
            if (!s->ids || !s->tokens || !s->lens) return false;
            for (size_t j = 0; j < s->n; j++) {
                int64_t v;
                const cJSON *tk = cJSON_GetArrayItem(toks, (int)j);
                if (!as_index(cJSON_GetArrayItem(ids, (int)j), &v) || !cJSON_IsString(tk))
                    return fail(c, LP_ERR_FORMAT, path, "special token ids must be integers and tokens strings");
                s->ids[j] = (int32_t)v;
                s->lens[j] = (uint32_t)strlen(tk->valuestring);
                s->tokens[j] = ta_strndup(&c->tok->pool, tk->valuestring, s->lens[j]);
                if (!s->tokens[j]) return oom(c);
            }
        }
        char sub[200];
        snprintf(sub, sizeof sub, "%s.single", path);
        if (!parse_template(c, field(o, "single"), sub, p, sp, nsp, &p->single, &p->nsingle, &p->added_single))
            return false;
        snprintf(sub, sizeof sub, "%s.pair", path);
        return parse_template(c, field(o, "pair"), sub, p, sp, nsp, &p->pair, &p->npair, &p->added_pair);
    }
    if (!strcmp(t, "Sequence")) {
        p->kind = TPP_SEQUENCE;
        p->children = parse_sequence(c, o, "processors", path, sizeof *p->children, parse_post_any,
                                        &p->nchildren);
        return p->children != NULL;
    }
    return unsupported_type(c, path, "post-processor", t);
}

static bool parse_post_any(jctx *c, const cJSON *o, const char *path, void *out) {
    return parse_post(c, o, path, out);
}

/* --------------------------------------------------------------- decoders */

static bool parse_decoder_any(jctx *c, const cJSON *o, const char *path, void *out);

static bool parse_decoder(jctx *c, const cJSON *o, const char *path, tok_decoder *d) {
    memset(d, 0, sizeof *d);
    const char *t = type_of(o);
    if (!t) return fail(c, LP_ERR_FORMAT, path, "a decoder needs a string 'type'");
    if (!strcmp(t, "WordPiece")) {
        d->kind = TD_WORDPIECE;
        if (!get_str(c, o, "prefix", false, path, &d->prefix, &d->prefix_len) ||
            !get_bool(c, o, "cleanup", true, path, &d->cleanup))
            return false;
        if (!d->prefix) {
            d->prefix = "##";
            d->prefix_len = 2;
        }
        return true;
    }
    if (!strcmp(t, "Metaspace")) {
        d->kind = TD_METASPACE;
        return get_char(c, o, "replacement", 0x2581, path, &d->replacement) &&
               get_prepend_scheme(c, o, path, &d->prepend);
    }
    if (!strcmp(t, "ByteLevel")) return d->kind = TD_BYTELEVEL, true;
    if (!strcmp(t, "ByteFallback")) return d->kind = TD_BYTEFALLBACK, true;
    if (!strcmp(t, "Fuse")) return d->kind = TD_FUSE, true;
    if (!strcmp(t, "BPEDecoder")) {
        d->kind = TD_BPE;
        if (!get_str(c, o, "suffix", false, path, &d->suffix, &d->suffix_len)) return false;
        if (!d->suffix) {
            d->suffix = "</w>";
            d->suffix_len = 4;
        }
        return true;
    }
    if (!strcmp(t, "Strip")) {
        d->kind = TD_STRIP;
        return get_char(c, o, "content", ' ', path, &d->strip_char) &&
               get_size(c, o, "start", 0, path, &d->start) && get_size(c, o, "stop", 0, path, &d->stop);
    }
    if (!strcmp(t, "Replace")) {
        d->kind = TD_REPLACE;
        return get_pattern(c, o, path, &d->pattern) &&
               get_str(c, o, "content", true, path, &d->content, &d->content_len);
    }
    if (!strcmp(t, "CTC")) {
        d->kind = TD_CTC;
        if (!get_str(c, o, "pad_token", false, path, &d->pad_token, NULL) ||
            !get_str(c, o, "word_delimiter_token", false, path, &d->word_delimiter, NULL) ||
            !get_bool(c, o, "cleanup", true, path, &d->cleanup))
            return false;
        if (!d->pad_token) d->pad_token = "<pad>";
        if (!d->word_delimiter) d->word_delimiter = "|";
        return true;
    }
    if (!strcmp(t, "Sequence")) {
        d->kind = TD_SEQUENCE;
        d->children = parse_sequence(c, o, "decoders", path, sizeof *d->children, parse_decoder_any,
                                        &d->nchildren);
        return d->children != NULL;
    }
    return unsupported_type(c, path, "decoder", t);
}

static bool parse_decoder_any(jctx *c, const cJSON *o, const char *path, void *out) {
    return parse_decoder(c, o, path, out);
}

/* ------------------------------------------------- truncation and padding */

static bool parse_truncation(jctx *c, const cJSON *o, lp_tok_truncation *t) {
    memset(t, 0, sizeof *t);
    if (is_null(o)) return true;
    if (!cJSON_IsObject(o)) return fail(c, LP_ERR_FORMAT, "truncation", "must be null or an object");
    t->enabled = true;
    if (!get_size(c, o, "max_length", 512, "truncation", &t->max_length) ||
        !get_size(c, o, "stride", 0, "truncation", &t->stride))
        return false;
    const cJSON *s = field(o, "strategy"), *d = field(o, "direction");
    if (!is_null(s)) {
        if (cJSON_IsString(s) && !strcmp(s->valuestring, "LongestFirst"))
            t->strategy = LP_TOK_TRUNC_LONGEST_FIRST;
        else if (cJSON_IsString(s) && !strcmp(s->valuestring, "OnlyFirst"))
            t->strategy = LP_TOK_TRUNC_ONLY_FIRST;
        else if (cJSON_IsString(s) && !strcmp(s->valuestring, "OnlySecond"))
            t->strategy = LP_TOK_TRUNC_ONLY_SECOND;
        else
            return fail(c, LP_ERR_FORMAT, "truncation.strategy", "must be LongestFirst, OnlyFirst or OnlySecond");
    }
    if (!is_null(d)) {
        if (cJSON_IsString(d) && !strcmp(d->valuestring, "Right"))
            t->direction = LP_TOK_RIGHT;
        else if (cJSON_IsString(d) && !strcmp(d->valuestring, "Left"))
            t->direction = LP_TOK_LEFT;
        else
            return fail(c, LP_ERR_FORMAT, "truncation.direction", "must be Left or Right");
    }
    return true;
}

static bool parse_padding(jctx *c, const cJSON *o, lp_tok_padding *p) {
    memset(p, 0, sizeof *p);
    if (is_null(o)) return true;
    if (!cJSON_IsObject(o)) return fail(c, LP_ERR_FORMAT, "padding", "must be null or an object");
    p->enabled = true;
    const cJSON *s = field(o, "strategy");
    if (cJSON_IsString(s) && !strcmp(s->valuestring, "BatchLongest")) {
        p->batch_longest = true;
    } else if (cJSON_IsObject(s) && field(s, "Fixed")) {
        int64_t v;
        if (!as_index(field(s, "Fixed"), &v)) return fail(c, LP_ERR_FORMAT, "padding.strategy", "Fixed needs a length");
        p->length = (size_t)v;
    } else {
        return fail(c, LP_ERR_FORMAT, "padding.strategy", "must be \"BatchLongest\" or {\"Fixed\": n}");
    }
    const cJSON *d = field(o, "direction");
    if (cJSON_IsString(d) && !strcmp(d->valuestring, "Left")) p->direction = LP_TOK_LEFT;
    size_t v;
    if (!get_size(c, o, "pad_to_multiple_of", 0, "padding", &p->pad_to_multiple_of) ||
        !get_size(c, o, "pad_id", 0, "padding", &v))
        return false;
    p->pad_id = (int32_t)v;
    if (!get_size(c, o, "pad_type_id", 0, "padding", &v)) return false;
    p->pad_type_id = (int32_t)v;
    const cJSON *tk = field(o, "pad_token");
    const char *pt = cJSON_IsString(tk) ? tk->valuestring : "[PAD]";
    if (strlen(pt) >= sizeof p->pad_token) return fail(c, LP_ERR_UNSUPPORTED, "padding.pad_token", "longer than 63 bytes");
    strcpy(p->pad_token, pt);
    return true;
}

/* ----------------------------------------------------------- added tokens */

static bool parse_added(jctx *c, const cJSON *list) {
    lp_tokenizer *tok = c->tok;
    if (is_null(list)) return true;
    if (!cJSON_IsArray(list)) return fail(c, LP_ERR_FORMAT, "added_tokens", "must be an array");
    size_t n = (size_t)cJSON_GetArraySize(list);
    tok->added = pool_array(c, n, sizeof *tok->added);
    if (!tok->added) return false;
    size_t i = 0;
    const cJSON *x;
    cJSON_ArrayForEach(x, list) {
        tok_added *a = &tok->added[i];
        char path[64];
        snprintf(path, sizeof path, "added_tokens[%zu]", i);
        if (!get_str(c, x, "content", true, path, &a->content, &a->len)) return false;
        int64_t id = -1;
        const cJSON *jid = field(x, "id");
        if (!is_null(jid) && !as_index(jid, &id)) return fail(c, LP_ERR_FORMAT, path, "'id' must be a non-negative integer");
        a->id = (int32_t)id;
        if (!get_bool(c, x, "special", false, path, &a->special) ||
            !get_bool(c, x, "single_word", false, path, &a->single_word) ||
            !get_bool(c, x, "lstrip", false, path, &a->lstrip) ||
            !get_bool(c, x, "rstrip", false, path, &a->rstrip) ||
            !get_bool(c, x, "normalized", !a->special, path, &a->normalized))
            return false;
        i++;
    }
    tok->nadded = n;
    return true;
}

lp_status tok_load_json(const char *json, size_t len, const char *name, const char *dir,
                        lp_tokenizer **out, lp_error *err) {
    (void)dir;
    *out = NULL;
    /* HF reads the file into a Rust String: text that is not UTF-8 is refused. */
    if (!lp_tok_utf8_valid(json, len))
        return lp_fail(err, LP_ERR_FORMAT, "%s: not valid UTF-8, so not a tokenizer.json", name);
    tok_json_fast fv, fm;
    char *copy = NULL;
    size_t copy_len = 0;
    bool fast = tok_json_fast_scan(json, len, &copy, &copy_len, &fv, &fm);
    cJSON *root = cJSON_ParseWithLength(fast ? copy : json, fast ? copy_len : len);
    free(copy);
    if (!root) {
        if (fast) {
            tok_json_fast_free(&fv);
            tok_json_fast_free(&fm);
        }
        return lp_fail(err, LP_ERR_FORMAT, "%s: not valid JSON", name);
    }
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        if (fast) {
            tok_json_fast_free(&fv);
            tok_json_fast_free(&fm);
        }
        return lp_fail(err, LP_ERR_FORMAT, "%s: the top level must be a JSON object", name);
    }
    lp_tokenizer *tok = tok_new(name);
    if (!tok) {
        cJSON_Delete(root);
        if (fast) {
            tok_json_fast_free(&fv);
            tok_json_fast_free(&fm);
        }
        return lp_fail(err, LP_ERR_NOMEM, "out of memory");
    }
    jctx c = {tok, name, err, LP_OK, fast ? &fv : NULL, fast ? &fm : NULL};
    const cJSON *v = field(root, "version");
    if (!is_null(v) && !(cJSON_IsString(v) && !strcmp(v->valuestring, "1.0"))) {
        fail(&c, LP_ERR_UNSUPPORTED, "version", "unknown tokenizer version (expected \"1.0\")");
        goto done;
    }
    const cJSON *x;
    if (!field(root, "model")) {
        fail(&c, LP_ERR_FORMAT, "model", "missing: this does not look like a tokenizer.json");
        goto done;
    }
    if (!parse_model(&c, field(root, "model"), &tok->model)) goto done;
    x = field(root, "normalizer");
    if (!is_null(x)) {
        tok->normalizer = pool_array(&c, 1, sizeof *tok->normalizer);
        if (!tok->normalizer || !parse_normalizer(&c, x, "normalizer", tok->normalizer)) goto done;
    }
    x = field(root, "pre_tokenizer");
    if (!is_null(x)) {
        tok->pretok = pool_array(&c, 1, sizeof *tok->pretok);
        if (!tok->pretok || !parse_pretok(&c, x, "pre_tokenizer", tok->pretok)) goto done;
    }
    x = field(root, "post_processor");
    if (!is_null(x)) {
        tok->post = pool_array(&c, 1, sizeof *tok->post);
        if (!tok->post || !parse_post(&c, x, "post_processor", tok->post)) goto done;
    }
    x = field(root, "decoder");
    if (!is_null(x)) {
        tok->decoder = pool_array(&c, 1, sizeof *tok->decoder);
        if (!tok->decoder || !parse_decoder(&c, x, "decoder", tok->decoder)) goto done;
    }
    tok->defaults.add_special_tokens = true;
    if (!parse_truncation(&c, field(root, "truncation"), &tok->defaults.truncation) ||
        !parse_padding(&c, field(root, "padding"), &tok->defaults.padding) ||
        !parse_added(&c, field(root, "added_tokens")))
        goto done;
done:
    cJSON_Delete(root);
    if (fast) {
        tok_json_fast_free(&fv);
        tok_json_fast_free(&fm);
    }
    if (c.st) {
        lp_tok_free(tok);
        return c.st;
    }
    lp_status st = tok_finish_load(tok, err);
    if (st) {
        lp_fail(err, st, "%s", name);
        lp_tok_free(tok);
        return st;
    }
    *out = tok;
    return LP_OK;
}
