/* Loading: picks the loader from the path, then the steps every loader
 * shares (added tokens and their matchers, byte-fallback ids). */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tokenizer/internal.h"

lp_tokenizer *tok_new(const char *name) {
    lp_tokenizer *tok = calloc(1, sizeof *tok);
    if (!tok) return NULL;
    tok->source = strdup(name ? name : "(tokenizer)");
    tok->model.unk_id = -1;
    tok->defaults.add_special_tokens = true;
    tok->spm_bos = tok->spm_eos = -1;
    tok_bytelevel_init();
    if (!tok->source) {
        free(tok);
        return NULL;
    }
    return tok;
}

void tok_model_free(tok_model *m) {
    tok_vocab_free(&m->vocab);
    free(m->merges);
    free(m->scores);
    m->merges = NULL;
    m->scores = NULL;
}

void lp_tok_free(lp_tokenizer *tok) {
    if (!tok) return;
    tok_model_free(&tok->model);
    tok_vocab_free(&tok->added_vocab);
    ta_free(&tok->pool);
    free(tok->source);
    free(tok);
}

bool tok_read_file(const char *path, char **data, size_t *len, lp_error *err) {
    *data = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        lp_fail(err, LP_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
        return false;
    }
    /* Sized from fstat when it can be (one read, no regrowth); grown otherwise. */
    size_t cap = 1 << 16, n = 0;
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 &&
        (uint64_t)st.st_size < ((uint64_t)1 << 31))
        cap = (size_t)st.st_size + 1;
    char *buf = malloc(cap + 1);
    while (buf) {
        if (n == cap) {
            if (cap > ((size_t)1 << 31)) {
                free(buf);
                fclose(f);
                lp_fail(err, LP_ERR_FORMAT, "%s: larger than 2 GiB, not a tokenizer file", path);
                return false;
            }
            cap *= 2;
            char *nb = realloc(buf, cap + 1);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0) break;
    }
    bool bad = ferror(f);
    fclose(f);
    if (!buf) {
        lp_fail(err, LP_ERR_NOMEM, "%s: out of memory reading the file", path);
        return false;
    }
    if (bad) {
        free(buf);
        lp_fail(err, LP_ERR_IO, "%s: read error", path);
        return false;
    }
    buf[n] = '\0';
    *data = buf;
    *len = n;
    return true;
}

void tok_model_finish(tok_model *m) {
    for (int b = 0; b < 256; b++) {
        char name[8];
        snprintf(name, sizeof name, "<0x%02X>", b);
        m->byte_ids[b] = tok_vocab_get(&m->vocab, name, 6);
    }
    if (!m->vocab_size) m->vocab_size = m->vocab.count;
    /* The prefix filter only speeds up the models that scan prefixes; when it
     * cannot be allocated they run without it. */
    if (m->kind == TM_WORDPIECE)
        tok_vocab_build_index(&m->vocab, m->prefix, m->prefix ? m->prefix_len : 0);
    else if (m->kind == TM_UNIGRAM)
        tok_vocab_build_index(&m->vocab, NULL, 0);
}

/* Runs the normalizer over an added token's content (HF normalized_cache). */
static lp_status normalize_content(lp_tokenizer *tok, lp_tok_workspace *ws, tok_added *a, lp_error *err) {
    a->pattern = a->content;
    a->pattern_len = a->len;
    if (!a->normalized || !tok->normalizer) return LP_OK;
    ta_reset(&ws->arena);
    tok_nstr n;
    if (!nstr_from_text(ws, a->content, (uint32_t)a->len, &n) || !tok_normalize(tok->normalizer, ws, &n))
        return lp_fail(err, LP_ERR_NOMEM, "out of memory normalizing added tokens");
    char *p = ta_strndup(&tok->pool, n.s, n.len);
    if (!p) return lp_fail(err, LP_ERR_NOMEM, "out of memory");
    a->pattern = p;
    a->pattern_len = n.len;
    return LP_OK;
}

lp_status tok_finish_load(lp_tokenizer *tok, lp_error *err) {
    tok_model_finish(&tok->model);
    /* Added tokens: ids as HF assigns them (the vocab's id when the content is
     * in it, else the next id after the vocabulary); a repeated content keeps
     * its first id and takes the later flags. */
    if (!tok_vocab_init(&tok->added_vocab, tok->nadded, 64)) return lp_fail(err, LP_ERR_NOMEM, "out of memory");
    size_t next_id = tok->model.vocab_size, kept = 0;
    for (size_t i = 0; i < tok->nadded; i++) {
        tok_added a = tok->added[i];
        if (a.len == 0) continue;
        int32_t have = tok_vocab_get(&tok->added_vocab, a.content, a.len);
        if (have >= 0) {
            for (size_t k = 0; k < kept; k++)
                if (tok->added[k].id == have && tok->added[k].len == a.len &&
                    !memcmp(tok->added[k].content, a.content, a.len)) {
                    bool special = tok->added[k].special || a.special;
                    a.id = have;
                    tok->added[k] = a;
                    tok->added[k].special = special;
                }
            continue;
        }
        int32_t id = tok_vocab_get(&tok->model.vocab, a.content, a.len);
        if (id < 0) {
            if (next_id >= 0x7FFFFFF0u) return lp_fail(err, LP_ERR_FORMAT, "too many added tokens");
            id = (int32_t)next_id++;
        }
        a.id = id;
        if (!tok_vocab_put(&tok->added_vocab, a.content, a.len, (uint32_t)id))
            return lp_fail(err, LP_ERR_NOMEM, "out of memory");
        tok->added[kept++] = a;
    }
    tok->nadded = kept;
    lp_tok_workspace *ws = lp_tok_workspace_create();
    if (!ws) return lp_fail(err, LP_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < tok->nadded; i++) {
        lp_status st = normalize_content(tok, ws, &tok->added[i], err);
        if (st) {
            lp_tok_workspace_destroy(ws);
            return st;
        }
    }
    lp_tok_workspace_destroy(ws);
    return tok_added_build(tok, err);
}

/* ------------------------------------------------------------ dispatch */

static bool is_dir(const char *p) {
    struct stat s;
    return stat(p, &s) == 0 && S_ISDIR(s.st_mode);
}

static bool is_file(const char *p) {
    struct stat s;
    return stat(p, &s) == 0 && S_ISREG(s.st_mode);
}

static bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

static lp_status load_json_file(const char *path, lp_tokenizer **out, lp_error *err) {
    char *data;
    size_t len;
    if (!tok_read_file(path, &data, &len, err)) return err ? err->status : LP_ERR_IO;
    lp_status st = tok_load_json(data, len, path, NULL, out, err);
    free(data);
    return st;
}

static lp_status load_spm_file(const char *path, lp_tokenizer **out, lp_error *err) {
    char *data;
    size_t len;
    if (!tok_read_file(path, &data, &len, err)) return err ? err->status : LP_ERR_IO;
    lp_status st = tok_load_spm((const unsigned char *)data, len, path, out, err);
    free(data);
    return st;
}

static lp_status load_vocab_txt(const char *path, lp_tokenizer **out, lp_error *err) {
    /* tokenizer_config.json beside the vocab, when present. */
    char cfg[4096];
    const char *slash = strrchr(path, '/');
    size_t dl = slash ? (size_t)(slash - path) + 1 : 0;
    if (dl + 32 > sizeof cfg) return lp_fail(err, LP_ERR_INVALID_ARG, "%s: path too long", path);
    memcpy(cfg, path, dl);
    strcpy(cfg + dl, "tokenizer_config.json");
    return tok_load_bert_vocab(path, is_file(cfg) ? cfg : NULL, out, err);
}

lp_status lp_tok_load(const char *path, lp_tokenizer **out, lp_error *err) {
    if (!path || !out) return lp_fail(err, LP_ERR_INVALID_ARG, "lp_tok_load: NULL argument");
    *out = NULL;
    if (is_dir(path)) {
        char p[4096];
        static const char *spm_names[] = {"source.spm", "spiece.model", "sentencepiece.bpe.model",
                                          "tokenizer.model", "sentencepiece.model"};
        if (strlen(path) + 64 > sizeof p) return lp_fail(err, LP_ERR_INVALID_ARG, "%s: path too long", path);
        snprintf(p, sizeof p, "%s/tokenizer.json", path);
        if (is_file(p)) return load_json_file(p, out, err);
        snprintf(p, sizeof p, "%s/vocab.txt", path);
        if (is_file(p)) return load_vocab_txt(p, out, err);
        for (size_t i = 0; i < sizeof spm_names / sizeof spm_names[0]; i++) {
            snprintf(p, sizeof p, "%s/%s", path, spm_names[i]);
            if (is_file(p)) return load_spm_file(p, out, err);
        }
        DIR *d = opendir(path);
        if (d) {
            struct dirent *e;
            while ((e = readdir(d))) {
                if (ends_with(e->d_name, ".model")) {
                    snprintf(p, sizeof p, "%s/%.255s", path, e->d_name);
                    closedir(d);
                    return load_spm_file(p, out, err);
                }
            }
            closedir(d);
        }
        return lp_fail(err, LP_ERR_IO,
                       "%s: no tokenizer.json, vocab.txt or SentencePiece model (*.model, source.spm) "
                       "in this directory",
                       path);
    }
    if (!is_file(path)) {
        FILE *f = fopen(path, "rb");
        if (!f) return lp_fail(err, LP_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
        fclose(f);
        return lp_fail(err, LP_ERR_IO, "%s: not a regular file", path);
    }
    if (ends_with(path, ".json")) return load_json_file(path, out, err);
    if (ends_with(path, ".model") || ends_with(path, ".spm")) return load_spm_file(path, out, err);
    if (ends_with(path, ".txt")) return load_vocab_txt(path, out, err);
    /* Unknown extension: look at the first byte. */
    FILE *f = fopen(path, "rb");
    if (!f) return lp_fail(err, LP_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    int first = fgetc(f), c = first;
    while (c == ' ' || c == '\n' || c == '\r' || c == '\t') c = fgetc(f);
    fclose(f);
    if (first == EOF) return lp_fail(err, LP_ERR_FORMAT, "%s: empty file, not a tokenizer", path);
    if (c == '{') return load_json_file(path, out, err);
    /* A SentencePiece ModelProto starts with field 1 (pieces): byte 0x0A. */
    if (first == 0x0A) return load_spm_file(path, out, err);
    return load_vocab_txt(path, out, err);
}

lp_status lp_tok_load_json_buffer(const char *json, size_t len, const char *name, lp_tokenizer **out,
                                  lp_error *err) {
    return tok_load_json(json, len, name ? name : "(tokenizer.json)", NULL, out, err);
}

lp_status lp_tok_load_spm_buffer(const void *data, size_t len, const char *name, lp_tokenizer **out,
                                 lp_error *err) {
    return tok_load_spm(data, len, name ? name : "(sentencepiece model)", out, err);
}
