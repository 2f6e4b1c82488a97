/* transformers' MarianTokenizer: the text is split around the special tokens
 * (</s>, <unk>, <pad>), each other chunk loses a leading >>xx<< language code
 * (kept as its own token) and is cut into pieces by source.spm; pieces become
 * ids through vocab.json (the shared vocabulary, not the spm's own ids), a
 * piece missing from it is <unk>, and </s> is appended. Decoding maps ids back
 * to pieces through vocab.json, drops the special tokens, joins the pieces as
 * sentencepiece does (U+2581 -> space) and strips the ends as Python's
 * str.strip(). transformers decodes with the source spm when the vocabulary
 * is shared, and so does this. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/marian.h"
#include "pretrained/fs.h"

#define VOCAB_MAX_BYTES ((size_t)256 << 20)

struct lp_marian_tok {
    lp_tokenizer *spm;
    char **pieces; /* by id; NULL where vocab.json has no id */
    size_t *piece_lens;
    size_t n;      /* ids: max id + 1 */
    int32_t *slots; /* open addressing: id or -1 */
    size_t nslots;
    int32_t eos_id, unk_id, pad_id;
};

static uint64_t hash(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

int32_t lp_marian_tok_id(const lp_marian_tok *t, const char *piece, size_t len) {
    size_t i = (size_t)(hash(piece, len) & (t->nslots - 1));
    for (;;) {
        int32_t id = t->slots[i];
        if (id < 0) return -1;
        if (t->piece_lens[id] == len && !memcmp(t->pieces[id], piece, len)) return id;
        i = (i + 1) & (t->nslots - 1);
    }
}

size_t lp_marian_tok_vocab_size(const lp_marian_tok *t) { return t->n; }

static lp_status load_vocab(lp_marian_tok *t, const char *path, lp_error *err) {
    char *text = NULL;
    size_t size = 0;
    lp_status st = lp_fs_read_file(path, VOCAB_MAX_BYTES, &text, &size, err);
    if (st) return st;
    cJSON *root = cJSON_ParseWithLength(text, size);
    free(text);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return lp_fail(err, LP_ERR_FORMAT, "%s: not a JSON object of piece -> id", path);
    }
    size_t count = 0;
    double max_id = -1;
    const cJSON *e;
    cJSON_ArrayForEach(e, root) {
        if (!cJSON_IsNumber(e) || e->valuedouble < 0 || e->valuedouble > (double)(1 << 24) ||
            e->valuedouble != (double)(int64_t)e->valuedouble) {
            lp_fail(err, LP_ERR_FORMAT, "%s: the id of \"%.40s\" is not an integer in 0 .. 2^24", path,
                    e->string ? e->string : "");
            cJSON_Delete(root);
            return LP_ERR_FORMAT;
        }
        if (e->valuedouble > max_id) max_id = e->valuedouble;
        count++;
    }
    t->n = (size_t)(max_id + 1);
    t->pieces = calloc(t->n ? t->n : 1, sizeof *t->pieces);
    t->piece_lens = calloc(t->n ? t->n : 1, sizeof *t->piece_lens);
    t->nslots = 16;
    while (t->nslots < count * 2) t->nslots *= 2;
    t->slots = malloc(t->nslots * sizeof *t->slots);
    if (!t->pieces || !t->piece_lens || !t->slots) {
        cJSON_Delete(root);
        return lp_fail(err, LP_ERR_NOMEM, "out of memory loading %s", path);
    }
    memset(t->slots, 0xff, t->nslots * sizeof *t->slots);
    cJSON_ArrayForEach(e, root) {
        int32_t id = (int32_t)e->valuedouble;
        size_t len = strlen(e->string);
        if (t->pieces[id]) {
            /* json.load keeps the last of duplicate keys; two pieces on one id
             * would make decoding ambiguous */
            cJSON_Delete(root);
            return lp_fail(err, LP_ERR_FORMAT, "%s: id %d is given to two pieces", path, id);
        }
        if (lp_marian_tok_id(t, e->string, len) >= 0) {
            lp_fail(err, LP_ERR_FORMAT, "%s: the piece \"%.40s\" appears twice", path, e->string);
            cJSON_Delete(root);
            return LP_ERR_FORMAT;
        }
        t->pieces[id] = malloc(len + 1);
        if (!t->pieces[id]) {
            cJSON_Delete(root);
            return lp_fail(err, LP_ERR_NOMEM, "out of memory loading %s", path);
        }
        memcpy(t->pieces[id], e->string, len + 1);
        t->piece_lens[id] = len;
        size_t i = (size_t)(hash(e->string, len) & (t->nslots - 1));
        while (t->slots[i] >= 0) i = (i + 1) & (t->nslots - 1);
        t->slots[i] = id;
    }
    cJSON_Delete(root);
    t->eos_id = lp_marian_tok_id(t, "</s>", 4);
    t->unk_id = lp_marian_tok_id(t, "<unk>", 5);
    t->pad_id = lp_marian_tok_id(t, "<pad>", 5);
    if (t->eos_id < 0 || t->unk_id < 0)
        return lp_fail(err, LP_ERR_FORMAT, "%s: the vocabulary must hold </s> and <unk>", path);
    return LP_OK;
}

lp_status lp_marian_tok_load(const char *dir, lp_marian_tok **out, lp_error *err) {
    *out = NULL;
    lp_marian_tok *t = calloc(1, sizeof *t);
    if (!t) return lp_fail(err, LP_ERR_NOMEM, "out of memory loading the tokenizer");
    char path[4096];
    snprintf(path, sizeof path, "%s/vocab.json", dir);
    lp_status st = load_vocab(t, path, err);
    if (!st) {
        snprintf(path, sizeof path, "%s/source.spm", dir);
        st = lp_tok_load(path, &t->spm, err);
    }
    if (!st) {
        /* target.spm must be there and valid (transformers loads it), though
         * decoding uses the source model as transformers does */
        lp_tokenizer *tgt = NULL;
        snprintf(path, sizeof path, "%s/target.spm", dir);
        st = lp_tok_load(path, &tgt, err);
        lp_tok_free(tgt);
    }
    if (st) {
        lp_marian_tok_free(t);
        return st;
    }
    *out = t;
    return LP_OK;
}

void lp_marian_tok_free(lp_marian_tok *t) {
    if (!t) return;
    if (t->pieces)
        for (size_t i = 0; i < t->n; i++) free(t->pieces[i]);
    free(t->pieces);
    free(t->piece_lens);
    free(t->slots);
    lp_tok_free(t->spm);
    free(t);
}

typedef struct idvec {
    int32_t *v;
    size_t n, cap;
} idvec;

static bool push(idvec *iv, int32_t id) {
    if (iv->n == iv->cap) {
        size_t cap = iv->cap ? iv->cap * 2 : 64;
        int32_t *n = realloc(iv->v, cap * sizeof *n);
        if (!n) return false;
        iv->v = n;
        iv->cap = cap;
    }
    iv->v[iv->n++] = id;
    return true;
}

/* Byte offset of code point `cp` in s (valid UTF-8). */
static size_t cp_to_byte(const char *s, size_t len, size_t cp) {
    size_t b = 0;
    while (cp > 0 && b < len) {
        b++;
        while (b < len && ((unsigned char)s[b] & 0xC0) == 0x80) b++;
        cp--;
    }
    return b;
}

/* The text of an unknown piece comes from the offsets, which point into the
 * text before normalisation; where normalisation changed it (e + U+0301 ->
 * U+00E9) they can cover less than the piece. Such a text is trusted only
 * when it is unknown on its own too (every piece of it unknown or a bare
 * U+2581), else the piece stays <unk>. */
static bool unknown_alone(const lp_marian_tok *t, const char *s, size_t len) {
    lp_tok_workspace *ws = lp_tok_workspace_create();
    if (!ws) return false;
    lp_tok_options o = lp_tok_default_options(t->spm);
    o.add_special_tokens = false;
    o.truncation.enabled = false;
    o.padding.enabled = false;
    lp_tok_encoding enc;
    lp_error err = {0};
    bool ok = lp_tok_encode(t->spm, ws, s, len, NULL, 0, &o, &enc, &err) == LP_OK && enc.n > 0;
    int32_t spm_unk = lp_tok_token_to_id(t->spm, "<unk>", 5);
    for (size_t i = 0; ok && i < enc.n; i++)
        ok = enc.ids[i] == spm_unk || (enc.token_lens[i] == 3 && !memcmp(enc.tokens[i], "\xe2\x96\x81", 3));
    lp_tok_workspace_destroy(ws);
    return ok;
}

static lp_status piece_ids(const lp_marian_tok *t, lp_tok_workspace *ws, const char *s, size_t len, idvec *out,
                           lp_error *err) {
    /* >>xx<< at the start: its own token */
    if (len >= 2 && s[0] == '>' && s[1] == '>') {
        for (size_t i = 2; i + 1 < len; i++)
            if (s[i] == '<' && s[i + 1] == '<') {
                int32_t id = lp_marian_tok_id(t, s, i + 2);
                if (!push(out, id >= 0 ? id : t->unk_id)) return lp_fail(err, LP_ERR_NOMEM, "out of memory");
                s += i + 2;
                len -= i + 2;
                break;
            }
    }
    if (!len) return LP_OK;
    lp_tok_options o = lp_tok_default_options(t->spm);
    o.add_special_tokens = false;
    o.truncation.enabled = false;
    o.padding.enabled = false;
    lp_tok_encoding enc;
    lp_status st = lp_tok_encode(t->spm, ws, s, len, NULL, 0, &o, &enc, err);
    if (st) return st;
    for (size_t i = 0; i < enc.n; i++) {
        const char *p = enc.tokens[i];
        size_t pl = enc.token_lens[i];
        size_t ul = 0;
        const char *unk = lp_tok_id_to_token(t->spm, enc.ids[i], &ul);
        int32_t spm_unk = lp_tok_token_to_id(t->spm, "<unk>", 5);
        if (enc.ids[i] == spm_unk && unk) {
            /* sentencepiece gives an unknown piece as its text */
            size_t b = cp_to_byte(s, len, (size_t)enc.offsets[i][0]);
            size_t e = cp_to_byte(s, len, (size_t)enc.offsets[i][1]);
            p = s + b;
            pl = e - b;
        }
        int32_t id = lp_marian_tok_id(t, p, pl);
        if (id >= 0 && enc.ids[i] == spm_unk && unk && !unknown_alone(t, p, pl)) id = -1;
        if (!push(out, id >= 0 ? id : t->unk_id)) return lp_fail(err, LP_ERR_NOMEM, "out of memory");
    }
    return LP_OK;
}

static const char *const specials[3] = {"</s>", "<unk>", "<pad>"};

lp_status lp_marian_tok_encode(const lp_marian_tok *t, lp_tok_workspace *ws, const char *text, size_t len,
                               int32_t **ids, size_t *n, lp_error *err) {
    *ids = NULL;
    *n = 0;
    idvec out = {0};
    size_t start = 0, i = 0;
    lp_status st = LP_OK;
    while (i <= len && !st) {
        int hit = -1;
        size_t hl = 0;
        if (i < len && text[i] == '<')
            for (int k = 0; k < 3; k++) {
                size_t sl = strlen(specials[k]);
                if (i + sl <= len && !memcmp(text + i, specials[k], sl) &&
                    (k != 2 || t->pad_id >= 0)) {
                    hit = k;
                    hl = sl;
                }
            }
        if (hit < 0 && i < len) {
            i++;
            continue;
        }
        if (i > start) st = piece_ids(t, ws, text + start, i - start, &out, err);
        if (st || i == len) break;
        int32_t sid = hit == 0 ? t->eos_id : hit == 1 ? t->unk_id : t->pad_id;
        if (!push(&out, sid)) st = lp_fail(err, LP_ERR_NOMEM, "out of memory");
        i += hl;
        start = i;
        if (i == len) break;
    }
    if (!st && !push(&out, t->eos_id)) st = lp_fail(err, LP_ERR_NOMEM, "out of memory");
    if (st) {
        free(out.v);
        return st;
    }
    *ids = out.v;
    *n = out.n;
    return LP_OK;
}

/* Python's str.isspace() for the code point starting at s; its byte length in *n. */
static bool py_space(const unsigned char *s, size_t len, size_t *n) {
    *n = 1;
    if (s[0] < 0x80) return s[0] == ' ' || (s[0] >= 0x09 && s[0] <= 0x0D) || (s[0] >= 0x1C && s[0] <= 0x1F);
    uint32_t cp = 0;
    if ((s[0] & 0xE0) == 0xC0 && len >= 2) {
        cp = ((uint32_t)(s[0] & 0x1F) << 6) | (s[1] & 0x3F);
        *n = 2;
    } else if ((s[0] & 0xF0) == 0xE0 && len >= 3) {
        cp = ((uint32_t)(s[0] & 0x0F) << 12) | ((uint32_t)(s[1] & 0x3F) << 6) | (s[2] & 0x3F);
        *n = 3;
    } else
        return false;
    return cp == 0x85 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 ||
           cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

lp_status lp_marian_tok_decode(const lp_marian_tok *t, const int32_t *ids, size_t n, char **text, size_t *text_len,
                               lp_error *err) {
    *text = NULL;
    *text_len = 0;
    size_t cap = 1;
    for (size_t i = 0; i < n; i++) {
        if (ids[i] < 0 || (size_t)ids[i] >= t->n)
            return lp_fail(err, LP_ERR_INVALID_ARG, "decode: id %d at position %zu is outside the vocabulary (%zu)",
                           ids[i], i, t->n);
        if (t->pieces[ids[i]]) cap += t->piece_lens[ids[i]];
    }
    char *out = malloc(cap);
    if (!out) return lp_fail(err, LP_ERR_NOMEM, "out of memory decoding");
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        int32_t id = ids[i];
        if (id == t->eos_id || id == t->unk_id || id == t->pad_id || !t->pieces[id]) continue;
        const char *p = t->pieces[id];
        size_t pl = t->piece_lens[id];
        /* a control piece of the spm (e.g. <s>) decodes to nothing */
        int32_t sid = lp_tok_token_to_id(t->spm, p, pl);
        if (sid >= 0 && sid < 3 && pl >= 3 && p[0] == '<' && p[pl - 1] == '>') continue;
        for (size_t j = 0; j < pl;) {
            if (j + 3 <= pl && (unsigned char)p[j] == 0xE2 && (unsigned char)p[j + 1] == 0x96 &&
                (unsigned char)p[j + 2] == 0x81) {
                out[k++] = ' ';
                j += 3;
            } else
                out[k++] = p[j++];
        }
    }
    /* strip() */
    size_t b = 0, e = k, cl;
    while (b < e && py_space((const unsigned char *)out + b, e - b, &cl)) b += cl;
    while (e > b) {
        size_t s = e - 1;
        while (s > b && ((unsigned char)out[s] & 0xC0) == 0x80) s--;
        if (!py_space((const unsigned char *)out + s, e - s, &cl) || s + cl != e) break;
        e = s;
    }
    memmove(out, out + b, e - b);
    out[e - b] = '\0';
    *text = out;
    *text_len = e - b;
    return LP_OK;
}
