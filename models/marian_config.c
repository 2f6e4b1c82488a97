/* Marian config.json and generation_config.json: the fields the model and the
 * decoder need, each validated with a message naming the file and key. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "models/marian.h"
#include "pretrained/config.h"

static lp_status get_int(const lp_hf_config *c, const char *key, int64_t fallback, int64_t lo,
                         int64_t hi, int64_t *out, lp_error *err) {
    lp_status st = lp_hf_config_int_or(c, key, fallback, out, err);
    if (st) return st;
    if (*out < lo || *out > hi)
        return lp_fail(err, LP_ERR_FORMAT, "%s: %s = %lld is outside %lld .. %lld", lp_hf_config_label(c),
                       key, (long long)*out, (long long)lo, (long long)hi);
    return LP_OK;
}

static lp_status get_bool(const lp_hf_config *c, const char *key, bool fallback, bool *out,
                          lp_error *err) {
    if (!lp_hf_config_has(c, key)) {
        *out = fallback;
        return LP_OK;
    }
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(lp_hf_config_json(c), key);
    if (cJSON_IsNull(v)) {
        *out = fallback;
        return LP_OK;
    }
    return lp_hf_config_bool(c, key, out, err);
}

static lp_status parse_act(const lp_hf_config *c, lp_marian_config *cfg, lp_error *err) {
    const char *name = "swish";
    if (lp_hf_config_has(c, "activation_function")) {
        lp_status st = lp_hf_config_string(c, "activation_function", &name, err);
        if (st) return st;
    }
    cfg->act_silu = false;
    cfg->act = LP_ACT_NONE;
    if (!strcmp(name, "swish") || !strcmp(name, "silu")) cfg->act_silu = true;
    else if (!strcmp(name, "gelu")) cfg->act = LP_ACT_GELU_ERF;
    else if (!strcmp(name, "gelu_new") || !strcmp(name, "gelu_pytorch_tanh")) cfg->act = LP_ACT_GELU_TANH;
    else if (!strcmp(name, "relu")) cfg->act = LP_ACT_RELU;
    else if (!strcmp(name, "tanh")) cfg->act = LP_ACT_TANH;
    else
        return lp_fail(err, LP_ERR_UNSUPPORTED,
                       "%s: activation_function = \"%s\" is not supported (swish, silu, gelu, gelu_new, relu, tanh)",
                       lp_hf_config_label(c), name);
    return LP_OK;
}

/* bad_words_ids: [[id], ...]; only single-token entries are supported (what
 * Marian checkpoints carry: the pad token). */
static lp_status parse_bad_words(const lp_hf_config *c, lp_marian_config *cfg, lp_error *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(lp_hf_config_json(c), "bad_words_ids");
    if (!v || cJSON_IsNull(v)) return LP_OK;
    if (!cJSON_IsArray(v))
        return lp_fail(err, LP_ERR_FORMAT, "%s: bad_words_ids must be a list of lists of token ids",
                       lp_hf_config_label(c));
    cfg->n_bad_words = 0;
    const cJSON *seq;
    cJSON_ArrayForEach(seq, v) {
        if (!cJSON_IsArray(seq) || cJSON_GetArraySize(seq) != 1 || !cJSON_IsNumber(seq->child))
            return lp_fail(err, LP_ERR_UNSUPPORTED,
                           "%s: bad_words_ids entries must be single token ids ([[65000]]); longer "
                           "sequences are not supported",
                           lp_hf_config_label(c));
        double d = seq->child->valuedouble;
        if (d < 0 || d >= (double)cfg->vocab_size || d != floor(d))
            return lp_fail(err, LP_ERR_FORMAT, "%s: bad_words_ids holds %g, not a token id below %lld",
                           lp_hf_config_label(c), d, (long long)cfg->vocab_size);
        if (cfg->n_bad_words == LP_MARIAN_MAX_BAD_WORDS)
            return lp_fail(err, LP_ERR_UNSUPPORTED, "%s: more than %d bad_words_ids", lp_hf_config_label(c),
                           LP_MARIAN_MAX_BAD_WORDS);
        cfg->bad_words[cfg->n_bad_words++] = (int32_t)d;
    }
    return LP_OK;
}

/* The generation fields, read from one file (config.json first, then
 * generation_config.json over it). Absent keys keep what is there. */
static lp_status read_generation(const lp_hf_config *c, lp_marian_config *cfg, lp_error *err) {
    int64_t v;
    lp_status st;
    int64_t V = cfg->vocab_size;
    if ((st = get_int(c, "num_beams", cfg->num_beams, 1, 64, &v, err))) return st;
    cfg->num_beams = (int)v;
    if ((st = get_int(c, "max_length", cfg->max_length, 1, 1 << 20, &v, err))) return st;
    cfg->max_length = (int)v;
    double lp;
    if ((st = lp_hf_config_float_or(c, "length_penalty", cfg->length_penalty, &lp, err))) return st;
    if (!isfinite(lp) || fabs(lp) > 100)
        return lp_fail(err, LP_ERR_FORMAT, "%s: length_penalty = %g is not a usable number",
                       lp_hf_config_label(c), lp);
    cfg->length_penalty = (float)lp;
    const cJSON *es = cJSON_GetObjectItemCaseSensitive(lp_hf_config_json(c), "early_stopping");
    if (es && cJSON_IsString(es))
        return lp_fail(err, LP_ERR_UNSUPPORTED, "%s: early_stopping = \"%s\" is not supported (true or false)",
                       lp_hf_config_label(c), es->valuestring);
    if ((st = get_bool(c, "early_stopping", cfg->early_stopping, &cfg->early_stopping, err))) return st;
    if ((st = get_bool(c, "renormalize_logits", cfg->renormalize_logits, &cfg->renormalize_logits, err)))
        return st;
    if ((st = get_int(c, "forced_eos_token_id", cfg->forced_eos_id, -1, V - 1, &v, err))) return st;
    cfg->forced_eos_id = (int32_t)v;
    if ((st = get_int(c, "decoder_start_token_id", cfg->decoder_start_id, 0, V - 1, &v, err))) return st;
    cfg->decoder_start_id = (int32_t)v;
    if ((st = get_int(c, "eos_token_id", cfg->eos_id, 0, V - 1, &v, err))) return st;
    cfg->eos_id = (int32_t)v;
    if ((st = get_int(c, "pad_token_id", cfg->pad_id, 0, V - 1, &v, err))) return st;
    cfg->pad_id = (int32_t)v;
    return parse_bad_words(c, cfg, err);
}

static lp_status read_model(const lp_hf_config *c, lp_marian_config *cfg, lp_error *err) {
    const char *mt = lp_hf_config_model_type(c);
    if (!mt || strcmp(mt, "marian"))
        return lp_fail(err, LP_ERR_UNSUPPORTED, "%s: model_type is \"%s\"; the translator loads \"marian\" models",
                       lp_hf_config_label(c), mt ? mt : "(absent)");
    int64_t v;
    lp_status st;
#define INT(field, key, fb, lo, hi)                                      \
    if ((st = get_int(c, key, fb, lo, hi, &v, err))) return st;          \
    cfg->field = v;
    INT(vocab_size, "vocab_size", 58101, 2, 1 << 24)
    INT(d_model, "d_model", 512, 2, 1 << 16)
    INT(encoder_layers, "encoder_layers", 6, 1, LP_MARIAN_MAX_LAYERS)
    INT(decoder_layers, "decoder_layers", 6, 1, LP_MARIAN_MAX_LAYERS)
    INT(encoder_heads, "encoder_attention_heads", 8, 1, 1024)
    INT(decoder_heads, "decoder_attention_heads", 8, 1, 1024)
    INT(encoder_ffn, "encoder_ffn_dim", 2048, 1, 1 << 20)
    INT(decoder_ffn, "decoder_ffn_dim", 2048, 1, 1 << 20)
    INT(max_positions, "max_position_embeddings", 1024, 1, 1 << 20)
#undef INT
    if (cfg->d_model % 2 || cfg->d_model % cfg->encoder_heads || cfg->d_model % cfg->decoder_heads)
        return lp_fail(err, LP_ERR_FORMAT,
                       "%s: d_model = %lld must be even and divisible by the attention heads (%lld, %lld)",
                       lp_hf_config_label(c), (long long)cfg->d_model, (long long)cfg->encoder_heads,
                       (long long)cfg->decoder_heads);
    if (lp_hf_config_has(c, "decoder_vocab_size")) {
        const cJSON *dv = cJSON_GetObjectItemCaseSensitive(lp_hf_config_json(c), "decoder_vocab_size");
        if (!cJSON_IsNull(dv)) {
            if ((st = lp_hf_config_int(c, "decoder_vocab_size", &v, err))) return st;
            if (v != cfg->vocab_size)
                return lp_fail(err, LP_ERR_UNSUPPORTED,
                               "%s: decoder_vocab_size %lld differs from vocab_size %lld (separate "
                               "vocabularies are not supported)",
                               lp_hf_config_label(c), (long long)v, (long long)cfg->vocab_size);
        }
    }
    if ((st = get_bool(c, "scale_embedding", false, &cfg->scale_embedding, err)) ||
        (st = get_bool(c, "share_encoder_decoder_embeddings", true, &cfg->shared_embeddings, err)) ||
        (st = get_bool(c, "normalize_before", false, &cfg->normalize_before, err)))
        return st;
    if (cfg->normalize_before)
        return lp_fail(err, LP_ERR_UNSUPPORTED, "%s: normalize_before = true (pre-norm) is not a Marian layout",
                       lp_hf_config_label(c));
    bool flag;
    if ((st = get_bool(c, "add_final_layer_norm", false, &flag, err))) return st;
    if (flag)
        return lp_fail(err, LP_ERR_UNSUPPORTED, "%s: add_final_layer_norm = true is not supported",
                       lp_hf_config_label(c));
    if ((st = get_bool(c, "normalize_embedding", false, &flag, err))) return st;
    if (flag)
        return lp_fail(err, LP_ERR_UNSUPPORTED, "%s: normalize_embedding = true is not supported",
                       lp_hf_config_label(c));
    return parse_act(c, cfg, err);
}

lp_status lp_marian_config_load(const char *dir, lp_marian_config *cfg, lp_error *err) {
    memset(cfg, 0, sizeof *cfg);
    char path[4096];
    snprintf(path, sizeof path, "%s/config.json", dir);
    lp_hf_config *c = NULL;
    lp_status st = lp_hf_config_load(path, &c, err);
    if (st) return st;
    /* transformers' defaults, then config.json, then generation_config.json. */
    cfg->num_beams = 1;
    cfg->max_length = 20;
    cfg->length_penalty = 1.0f;
    cfg->early_stopping = false;
    cfg->renormalize_logits = false;
    cfg->forced_eos_id = -1;
    cfg->pad_id = 58100;
    cfg->eos_id = 0;
    cfg->decoder_start_id = 58100;
    st = read_model(c, cfg, err);
    if (!st) {
        cfg->pad_id = cfg->decoder_start_id = (int32_t)(cfg->vocab_size - 1);
        st = read_generation(c, cfg, err);
    }
    lp_hf_config_free(c);
    if (st) return st;
    snprintf(path, sizeof path, "%s/generation_config.json", dir);
    struct stat sb;
    if (stat(path, &sb) == 0) {
        if ((st = lp_hf_config_load(path, &c, err))) return st;
        st = read_generation(c, cfg, err);
        lp_hf_config_free(c);
        if (st) return st;
    }
    return LP_OK;
}
