/* config.json -> lp_bert_config, for BERT, RoBERTa / XLM-RoBERTa and DistilBERT
 * (which spells its fields dim / n_layers / n_heads / hidden_dim / activation). */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/bert.h"

/* Sizes beyond these are not real checkpoints; refusing them keeps every
 * product of two of them far from overflow. */
#define MAX_DIM ((int64_t)1 << 20)
#define MAX_LAYERS 1024

static lp_status get_int(const cJSON *root, const char *label, const char *key, bool required,
                         int64_t dflt, int64_t lo, int64_t hi, int64_t *out, lp_error *err) {
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!item || cJSON_IsNull(item)) {
        if (required)
            return lp_fail(err, LP_ERR_FORMAT, "%s: the field \"%s\" is missing", label, key);
        *out = dflt;
        return LP_OK;
    }
    double v = cJSON_GetNumberValue(item);
    if (!cJSON_IsNumber(item) || v != (double)(int64_t)v || v < (double)lo || v > (double)hi)
        return lp_fail(err, LP_ERR_FORMAT,
                       "%s: \"%s\" must be an integer in [%lld, %lld]", label, key, (long long)lo,
                       (long long)hi);
    *out = (int64_t)v;
    return LP_OK;
}

static const char *get_str(const cJSON *root, const char *key) {
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(root, key);
    return cJSON_IsString(item) ? item->valuestring : NULL;
}

static lp_status parse_act(const char *label, const char *field, const char *name,
                           lp_activation *out, lp_error *err) {
    if (!name) return lp_fail(err, LP_ERR_FORMAT, "%s: \"%s\" is missing or not a string", label, field);
    if (!strcmp(name, "gelu")) *out = LP_ACT_GELU_ERF;
    else if (!strcmp(name, "gelu_new") || !strcmp(name, "gelu_pytorch_tanh")) *out = LP_ACT_GELU_TANH;
    else if (!strcmp(name, "relu")) *out = LP_ACT_RELU;
    else
        return lp_fail(err, LP_ERR_UNSUPPORTED,
                       "%s: %s = \"%s\" is not supported (gelu, gelu_new, gelu_pytorch_tanh, relu)",
                       label, field, name);
    return LP_OK;
}

/* id2label {"0": "NEG", "1": "POS"}: every index 0..n-1 exactly once. */
static lp_status parse_labels(const cJSON *root, const char *label, lp_bert_config *cfg,
                              lp_error *err) {
    const cJSON *map = cJSON_GetObjectItemCaseSensitive(root, "id2label");
    int64_t n = 0;
    if (cJSON_IsObject(map)) n = cJSON_GetArraySize(map);
    if (n == 0) {
        lp_status st = get_int(root, label, "num_labels", false, 2, 1, 1 << 16, &n, err);
        if (st) return st;
    }
    if (n < 1 || n > (1 << 16))
        return lp_fail(err, LP_ERR_FORMAT, "%s: id2label has %lld entries", label, (long long)n);
    cfg->id2label = calloc((size_t)n, sizeof *cfg->id2label);
    if (!cfg->id2label) return lp_fail(err, LP_ERR_NOMEM, "%s: out of memory", label);
    cfg->num_labels = n;
    if (cJSON_IsObject(map) && cJSON_GetArraySize(map) > 0) {
        const cJSON *it;
        cJSON_ArrayForEach(it, map) {
            char *end = NULL;
            errno = 0;
            long idx = strtol(it->string, &end, 10);
            if (errno || end == it->string || *end || idx < 0 || idx >= n || !cJSON_IsString(it))
                return lp_fail(err, LP_ERR_FORMAT,
                               "%s: id2label key \"%s\" is not an index in [0, %lld) with a "
                               "string label",
                               label, it->string, (long long)n);
            if (cfg->id2label[idx])
                return lp_fail(err, LP_ERR_FORMAT, "%s: id2label has index %ld twice", label, idx);
            cfg->id2label[idx] = strdup(it->valuestring);
            if (!cfg->id2label[idx]) return lp_fail(err, LP_ERR_NOMEM, "%s: out of memory", label);
        }
        return LP_OK;
    }
    for (int64_t i = 0; i < n; i++) {
        char buf[32];
        snprintf(buf, sizeof buf, "LABEL_%lld", (long long)i);
        cfg->id2label[i] = strdup(buf);
        if (!cfg->id2label[i]) return lp_fail(err, LP_ERR_NOMEM, "%s: out of memory", label);
    }
    return LP_OK;
}

static lp_status parse_bert_like(const cJSON *root, const char *label, lp_bert_config *cfg,
                                 lp_error *err) {
    lp_status st;
    bool roberta = cfg->kind.family == LP_FAMILY_ROBERTA;
    if ((st = get_int(root, label, "vocab_size", true, 0, 1, MAX_DIM * 4, &cfg->vocab_size, err)) ||
        (st = get_int(root, label, "hidden_size", true, 0, 1, MAX_DIM, &cfg->hidden_size, err)) ||
        (st = get_int(root, label, "num_hidden_layers", true, 0, 1, MAX_LAYERS, &cfg->num_layers, err)) ||
        (st = get_int(root, label, "num_attention_heads", true, 0, 1, MAX_DIM, &cfg->num_heads, err)) ||
        (st = get_int(root, label, "intermediate_size", true, 0, 1, MAX_DIM, &cfg->intermediate_size, err)) ||
        (st = get_int(root, label, "max_position_embeddings", false, 512, 1, MAX_DIM,
                      &cfg->max_position_embeddings, err)) ||
        (st = get_int(root, label, "type_vocab_size", false, 2, 0, MAX_DIM, &cfg->type_vocab_size, err)) ||
        (st = get_int(root, label, "pad_token_id", false, roberta ? 1 : 0, 0, MAX_DIM * 4,
                      &cfg->pad_token_id, err)))
        return st;
    const cJSON *eps = cJSON_GetObjectItemCaseSensitive(root, "layer_norm_eps");
    cfg->layer_norm_eps = 1e-12f;
    if (eps) {
        if (!cJSON_IsNumber(eps) || !(eps->valuedouble > 0 && eps->valuedouble < 1))
            return lp_fail(err, LP_ERR_FORMAT, "%s: layer_norm_eps must be a number in (0, 1)", label);
        cfg->layer_norm_eps = (float)eps->valuedouble;
    }
    const char *pos = get_str(root, "position_embedding_type");
    if (pos && strcmp(pos, "absolute"))
        return lp_fail(err, LP_ERR_UNSUPPORTED,
                       "%s: position_embedding_type = \"%s\" is not supported (only \"absolute\")",
                       label, pos);
    const cJSON *dec = cJSON_GetObjectItemCaseSensitive(root, "is_decoder");
    if (cJSON_IsTrue(dec))
        return lp_fail(err, LP_ERR_UNSUPPORTED,
                       "%s: is_decoder = true is not supported (lepton runs encoders)", label);
    return parse_act(label, "hidden_act", get_str(root, "hidden_act") ? get_str(root, "hidden_act") : "gelu",
                     &cfg->hidden_act, err);
}

static lp_status parse_distilbert(const cJSON *root, const char *label, lp_bert_config *cfg,
                                  lp_error *err) {
    lp_status st;
    if ((st = get_int(root, label, "vocab_size", true, 0, 1, MAX_DIM * 4, &cfg->vocab_size, err)) ||
        (st = get_int(root, label, "dim", true, 0, 1, MAX_DIM, &cfg->hidden_size, err)) ||
        (st = get_int(root, label, "n_layers", true, 0, 1, MAX_LAYERS, &cfg->num_layers, err)) ||
        (st = get_int(root, label, "n_heads", true, 0, 1, MAX_DIM, &cfg->num_heads, err)) ||
        (st = get_int(root, label, "hidden_dim", true, 0, 1, MAX_DIM, &cfg->intermediate_size, err)) ||
        (st = get_int(root, label, "max_position_embeddings", false, 512, 1, MAX_DIM,
                      &cfg->max_position_embeddings, err)) ||
        (st = get_int(root, label, "pad_token_id", false, 0, 0, MAX_DIM * 4, &cfg->pad_token_id, err)))
        return st;
    cfg->type_vocab_size = 0;
    cfg->layer_norm_eps = 1e-12f; /* fixed in modeling_distilbert.py */
    return parse_act(label, "activation", get_str(root, "activation") ? get_str(root, "activation") : "gelu",
                     &cfg->hidden_act, err);
}

static lp_status parse_root(const cJSON *root, const char *label, lp_bert_config *cfg, lp_error *err) {
    if (!cJSON_IsObject(root))
        return lp_fail(err, LP_ERR_FORMAT, "%s: not a JSON object", label);
    const char *model_type = get_str(root, "model_type");
    const char *arch = NULL;
    const cJSON *archs = cJSON_GetObjectItemCaseSensitive(root, "architectures");
    if (cJSON_IsArray(archs) && cJSON_GetArraySize(archs) > 0) {
        const cJSON *a0 = cJSON_GetArrayItem(archs, 0);
        if (!cJSON_IsString(a0))
            return lp_fail(err, LP_ERR_FORMAT, "%s: architectures[0] is not a string", label);
        arch = a0->valuestring;
    }
    lp_status st = lp_model_registry_pick(model_type, arch, &cfg->kind, err);
    if (st) return lp_fail(err, st, "%s", label);
    snprintf(cfg->model_type, sizeof cfg->model_type, "%s", model_type ? model_type : "");
    st = cfg->kind.family == LP_FAMILY_DISTILBERT ? parse_distilbert(root, label, cfg, err)
                                                  : parse_bert_like(root, label, cfg, err);
    if (st) return st;
    if (cfg->hidden_size % cfg->num_heads)
        return lp_fail(err, LP_ERR_FORMAT,
                       "%s: hidden size %lld is not a multiple of the %lld attention heads", label,
                       (long long)cfg->hidden_size, (long long)cfg->num_heads);
    if (cfg->pad_token_id >= cfg->vocab_size)
        return lp_fail(err, LP_ERR_FORMAT, "%s: pad_token_id %lld is outside the vocabulary (%lld)",
                       label, (long long)cfg->pad_token_id, (long long)cfg->vocab_size);
    if (lp_bert_max_tokens(cfg) < 2)
        return lp_fail(err, LP_ERR_FORMAT,
                       "%s: max_position_embeddings %lld leaves no room for a sequence", label,
                       (long long)cfg->max_position_embeddings);
    if (cfg->kind.head == LP_HEAD_SEQ_CLS) {
        if ((st = parse_labels(root, label, cfg, err))) return st;
        const char *problem = get_str(root, "problem_type");
        if (problem && !strcmp(problem, "multi_label_classification")) cfg->multi_label = true;
        else if ((problem && !strcmp(problem, "regression")) || (!problem && cfg->num_labels == 1))
            cfg->regression = true;
        else if (problem && strcmp(problem, "single_label_classification"))
            return lp_fail(err, LP_ERR_UNSUPPORTED, "%s: problem_type = \"%s\" is not supported",
                           label, problem);
    }
    return LP_OK;
}

lp_status lp_bert_config_parse(const char *json, const char *label, lp_bert_config *out,
                               lp_error *err) {
    memset(out, 0, sizeof *out);
    lp_error_clear(err);
    cJSON *root = cJSON_Parse(json);
    if (!root) return lp_fail(err, LP_ERR_FORMAT, "%s: not valid JSON", label);
    lp_status st = parse_root(root, label, out, err);
    cJSON_Delete(root);
    if (st) lp_bert_config_release(out);
    return st;
}

lp_status lp_bert_config_load(const char *path, lp_bert_config *out, lp_error *err) {
    memset(out, 0, sizeof *out);
    lp_error_clear(err);
    FILE *f = fopen(path, "rb");
    if (!f) return lp_fail(err, LP_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    char *buf = NULL;
    size_t cap = 0, len = 0;
    for (;;) {
        if (len + 4096 + 1 > cap) {
            if (cap > ((size_t)64 << 20)) {
                free(buf);
                fclose(f);
                return lp_fail(err, LP_ERR_FORMAT, "%s: larger than 64 MiB, not a config", path);
            }
            cap = cap ? cap * 2 : 8192;
            char *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                fclose(f);
                return lp_fail(err, LP_ERR_NOMEM, "%s: out of memory", path);
            }
            buf = nb;
        }
        size_t n = fread(buf + len, 1, cap - len - 1, f);
        len += n;
        if (n == 0) break;
    }
    bool bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return lp_fail(err, LP_ERR_IO, "cannot read %s", path);
    }
    buf[len] = 0;
    lp_status st = lp_bert_config_parse(buf, path, out, err);
    free(buf);
    return st;
}

void lp_bert_config_release(lp_bert_config *cfg) {
    if (cfg->id2label)
        for (int64_t i = 0; i < cfg->num_labels; i++) free(cfg->id2label[i]);
    free(cfg->id2label);
    cfg->id2label = NULL;
    cfg->num_labels = 0;
}

int64_t lp_bert_max_tokens(const lp_bert_config *cfg) {
    if (cfg->kind.family == LP_FAMILY_ROBERTA)
        return cfg->max_position_embeddings - cfg->pad_token_id - 1;
    return cfg->max_position_embeddings;
}
