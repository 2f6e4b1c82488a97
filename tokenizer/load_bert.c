/* A BERT vocab.txt (+ tokenizer_config.json): builds the same pipeline that
 * transformers' BertTokenizerFast converts it to -- BertNormalizer,
 * BertPreTokenizer, WordPiece, [CLS] A [SEP] (B [SEP]) templates and the
 * WordPiece decoder -- so results equal the tokenizer.json route. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer/internal.h"

/* A special token given as "str" or {"content": "str", ...}. */
static const char *special_name(const cJSON *cfg, const char *key, const char *def) {
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(cfg, key);
    if (cJSON_IsString(x)) return x->valuestring;
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(x, "content");
    if (cJSON_IsString(c)) return c->valuestring;
    return def;
}

static lp_status add_template(lp_tokenizer *tok, const char *cls, const char *sep, lp_error *err) {
    tok_model *m = &tok->model;
    int32_t cls_id = tok_vocab_get(&m->vocab, cls, strlen(cls));
    int32_t sep_id = tok_vocab_get(&m->vocab, sep, strlen(sep));
    if (cls_id < 0 || sep_id < 0)
        return lp_fail(err, LP_ERR_FORMAT, "the special tokens '%s' and '%s' must be in the vocabulary",
                       cls, sep);
    tok_post *p = ta_zalloc(&tok->pool, sizeof *p);
    tok_special *sp = ta_zalloc(&tok->pool, 2 * sizeof *sp);
    tok_piece *single = ta_zalloc(&tok->pool, 3 * sizeof *single);
    tok_piece *pair = ta_zalloc(&tok->pool, 5 * sizeof *pair);
    int32_t *ids = ta_alloc(&tok->pool, 2 * sizeof *ids);
    const char **toks = ta_alloc(&tok->pool, 2 * sizeof *toks);
    uint32_t *lens = ta_alloc(&tok->pool, 2 * sizeof *lens);
    if (!p || !sp || !single || !pair || !ids || !toks || !lens) return lp_fail(err, LP_ERR_NOMEM, "out of memory");
    ids[0] = cls_id;
    ids[1] = sep_id;
    toks[0] = ta_strndup(&tok->pool, cls, strlen(cls));
    toks[1] = ta_strndup(&tok->pool, sep, strlen(sep));
    if (!toks[0] || !toks[1]) return lp_fail(err, LP_ERR_NOMEM, "out of memory");
    lens[0] = (uint32_t)strlen(cls);
    lens[1] = (uint32_t)strlen(sep);
    sp[0] = (tok_special){toks[0], 1, &ids[0], &toks[0], &lens[0]};
    sp[1] = (tok_special){toks[1], 1, &ids[1], &toks[1], &lens[1]};
    single[0] = (tok_piece){false, 0, 0, &sp[0]};
    single[1] = (tok_piece){true, 0, 0, NULL};
    single[2] = (tok_piece){false, 0, 0, &sp[1]};
    pair[0] = single[0];
    pair[1] = single[1];
    pair[2] = single[2];
    pair[3] = (tok_piece){true, 1, 1, NULL};
    pair[4] = (tok_piece){false, 0, 1, &sp[1]};
    p->kind = TPP_TEMPLATE;
    p->single = single;
    p->nsingle = 3;
    p->pair = pair;
    p->npair = 5;
    p->added_single = 2;
    p->added_pair = 3;
    tok->post = p;
    return LP_OK;
}

lp_status tok_load_bert_vocab(const char *vocab_path, const char *config_path, lp_tokenizer **out,
                              lp_error *err) {
    *out = NULL;
    char *data = NULL, *cfg_text = NULL;
    size_t len = 0, cfg_len = 0;
    cJSON *cfg = NULL;
    if (!tok_read_file(vocab_path, &data, &len, err)) return err ? err->status : LP_ERR_IO;
    if (len == 0) {
        free(data);
        return lp_fail(err, LP_ERR_FORMAT, "%s: empty vocabulary file", vocab_path);
    }
    if (!lp_tok_utf8_valid(data, len)) {
        free(data);
        return lp_fail(err, LP_ERR_FORMAT, "%s: not UTF-8 text, so not a BERT vocab.txt", vocab_path);
    }
    if (config_path) {
        if (!tok_read_file(config_path, &cfg_text, &cfg_len, err)) {
            free(data);
            return err ? err->status : LP_ERR_IO;
        }
        cfg = cJSON_ParseWithLength(cfg_text, cfg_len);
        free(cfg_text);
        if (!cJSON_IsObject(cfg)) {
            cJSON_Delete(cfg);
            free(data);
            return lp_fail(err, LP_ERR_FORMAT, "%s: not a JSON object", config_path);
        }
    }
    lp_tokenizer *tok = tok_new(vocab_path);
    if (!tok) {
        cJSON_Delete(cfg);
        free(data);
        return lp_fail(err, LP_ERR_NOMEM, "out of memory");
    }
    lp_status st = LP_OK;
    /* One token per line, the line number is the id. Python reads the file in
     * universal-newline mode, so \r\n and a lone \r end lines too. */
    size_t lines = 0;
    for (size_t i = 0; i < len; i++) lines += data[i] == '\n' || data[i] == '\r';
    tok_model *m = &tok->model;
    m->kind = TM_WORDPIECE;
    if (!tok_vocab_init(&m->vocab, lines + 1, len)) {
        st = lp_fail(err, LP_ERR_NOMEM, "out of memory");
        goto done;
    }
    size_t id = 0;
    for (size_t i = 0; i < len;) {
        size_t e = i;
        while (e < len && data[e] != '\n' && data[e] != '\r') e++;
        if (!tok_vocab_put(&m->vocab, data + i, e - i, (uint32_t)id)) {
            st = lp_fail(err, LP_ERR_NOMEM, "out of memory");
            goto done;
        }
        id++;
        i = e + (e + 1 < len && data[e] == '\r' && data[e + 1] == '\n' ? 2 : 1);
    }
    bool lower = true, chinese = true, have_strip = false, strip = false;
    const cJSON *x;
    if ((x = cJSON_GetObjectItemCaseSensitive(cfg, "do_lower_case")) && cJSON_IsBool(x)) lower = cJSON_IsTrue(x);
    if ((x = cJSON_GetObjectItemCaseSensitive(cfg, "tokenize_chinese_chars")) && cJSON_IsBool(x))
        chinese = cJSON_IsTrue(x);
    if ((x = cJSON_GetObjectItemCaseSensitive(cfg, "strip_accents")) && cJSON_IsBool(x)) {
        have_strip = true;
        strip = cJSON_IsTrue(x);
    }
    const char *unk = special_name(cfg, "unk_token", "[UNK]"), *sep = special_name(cfg, "sep_token", "[SEP]");
    const char *pad = special_name(cfg, "pad_token", "[PAD]"), *cls = special_name(cfg, "cls_token", "[CLS]");
    const char *mask = special_name(cfg, "mask_token", "[MASK]");
    m->unk_token = ta_strndup(&tok->pool, unk, strlen(unk));
    m->prefix = "##";
    m->prefix_len = 2;
    m->max_input_chars = 100;
    if (!m->unk_token) {
        st = lp_fail(err, LP_ERR_NOMEM, "out of memory");
        goto done;
    }
    m->unk_id = tok_vocab_get(&m->vocab, unk, strlen(unk));
    tok_normalizer *nz = ta_zalloc(&tok->pool, sizeof *nz);
    tok_pretok *pt = ta_zalloc(&tok->pool, sizeof *pt);
    tok_decoder *dec = ta_zalloc(&tok->pool, sizeof *dec);
    const char *names[5] = {pad, unk, cls, sep, mask};
    tok->added = ta_zalloc(&tok->pool, 5 * sizeof *tok->added);
    if (!nz || !pt || !dec || !tok->added) {
        st = lp_fail(err, LP_ERR_NOMEM, "out of memory");
        goto done;
    }
    *nz = (tok_normalizer){.kind = TN_BERT, .clean_text = true, .handle_chinese = chinese,
                           .strip_accents = have_strip ? strip : lower, .lowercase = lower};
    pt->kind = TP_BERT;
    *dec = (tok_decoder){.kind = TD_WORDPIECE, .prefix = "##", .prefix_len = 2, .cleanup = true};
    tok->normalizer = nz;
    tok->pretok = pt;
    tok->decoder = dec;
    for (int i = 0; i < 5; i++) {
        tok_added *a = &tok->added[tok->nadded];
        a->content = ta_strndup(&tok->pool, names[i], strlen(names[i]));
        if (!a->content) {
            st = lp_fail(err, LP_ERR_NOMEM, "out of memory");
            goto done;
        }
        a->len = strlen(names[i]);
        a->special = true;
        a->normalized = false;
        tok->nadded++;
    }
    st = add_template(tok, cls, sep, err);
    if (st) {
        lp_fail(err, st, "%s", vocab_path);
        goto done;
    }
    st = tok_finish_load(tok, err);
    if (st) lp_fail(err, st, "%s", vocab_path);
done:
    cJSON_Delete(cfg);
    free(data);
    if (st) {
        lp_tok_free(tok);
        return st;
    }
    *out = tok;
    return LP_OK;
}
