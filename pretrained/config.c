/* HF config.json reading. */
#include "pretrained/config.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pretrained/fs.h"
#include "pretrained/safetensors.h"

struct lp_hf_config {
    char *label;
    cJSON *root;
};

const char *const lp_hf_config_size_keys[] = {
    "hidden_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads",
    "intermediate_size", "vocab_size", "max_position_embeddings", "type_vocab_size",
    "d_model", "encoder_layers", "decoder_layers", "encoder_attention_heads",
    "decoder_attention_heads", "encoder_ffn_dim", "decoder_ffn_dim", "n_embd", "n_layer",
    "n_head", "n_positions", "dim", "n_layers", "n_heads", "hidden_dim", "embedding_size",
    "hidden_sizes", "depths", "num_channels", "image_size", "patch_size", "num_labels", NULL};

lp_status lp_hf_config_parse(const char *text, size_t size, const char *label, lp_hf_config **out,
                             lp_error *err) {
    if (!out) return lp_fail(err, LP_ERR_INVALID_ARG, "lp_hf_config_parse: out is NULL");
    *out = NULL;
    label = label ? label : "config.json";
    if (!text && size) return lp_fail(err, LP_ERR_INVALID_ARG, "%s: text is NULL", label);
    if (!lp_st_utf8_valid(text ? text : "", size))
        return lp_fail(err, LP_ERR_FORMAT, "%s: not valid UTF-8", label);
    const char *end = NULL;
    cJSON *root = size ? cJSON_ParseWithLengthOpts(text, size, &end, 0) : NULL;
    if (!root)
        return lp_fail(err, LP_ERR_FORMAT, "%s: not valid JSON (near byte %zu)", label,
                       end && end >= text && end <= text + size ? (size_t)(end - text) : (size_t)0);
    size_t at = (size_t)(end - text);
    while (at < size && strchr(" \t\r\n", text[at]) && text[at]) at++;
    lp_status s = LP_OK;
    if (at != size) {
        s = lp_fail(err, LP_ERR_FORMAT, "%s: bytes after the JSON object (at byte %zu)", label, at);
    } else if (!cJSON_IsObject(root)) {
        s = lp_fail(err, LP_ERR_FORMAT, "%s: not a JSON object", label);
    } else {
        const cJSON *arch = cJSON_GetObjectItemCaseSensitive(root, "architectures");
        if (arch && !cJSON_IsNull(arch)) {
            bool ok = cJSON_IsArray(arch);
            for (const cJSON *a = ok ? arch->child : NULL; a; a = a->next) ok &= cJSON_IsString(a);
            if (!ok)
                s = lp_fail(err, LP_ERR_FORMAT, "%s: \"architectures\" is not an array of strings",
                            label);
        }
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(root, "model_type");
        if (s == LP_OK && type && !cJSON_IsString(type))
            s = lp_fail(err, LP_ERR_FORMAT, "%s: \"model_type\" is not a string", label);
    }
    lp_hf_config *c = s == LP_OK ? calloc(1, sizeof *c) : NULL;
    if (c) c->label = strdup(label);
    if (s == LP_OK && (!c || !c->label)) {
        free(c);
        c = NULL;
        s = lp_fail(err, LP_ERR_NOMEM, "%s: out of memory", label);
    }
    if (s != LP_OK) {
        cJSON_Delete(root);
        return s;
    }
    c->root = root;
    *out = c;
    return LP_OK;
}

lp_status lp_hf_config_load(const char *path, lp_hf_config **out, lp_error *err) {
    char *text;
    size_t size;
    lp_status s = lp_fs_read_file(path, LP_HF_CONFIG_MAX_BYTES, &text, &size, err);
    if (s != LP_OK) return s;
    s = lp_hf_config_parse(text, size, path, out, err);
    free(text);
    return s;
}

void lp_hf_config_free(lp_hf_config *c) {
    if (!c) return;
    cJSON_Delete(c->root);
    free(c->label);
    free(c);
}

const char *lp_hf_config_label(const lp_hf_config *c) { return c->label; }

const struct cJSON *lp_hf_config_json(const lp_hf_config *c) { return c->root; }

static const cJSON *item(const lp_hf_config *c, const char *key) {
    return cJSON_GetObjectItemCaseSensitive(c->root, key);
}

const char *lp_hf_config_model_type(const lp_hf_config *c) {
    const cJSON *t = item(c, "model_type");
    return cJSON_IsString(t) ? t->valuestring : NULL;
}

size_t lp_hf_config_architecture_count(const lp_hf_config *c) {
    const cJSON *a = item(c, "architectures");
    return cJSON_IsArray(a) ? (size_t)cJSON_GetArraySize(a) : 0;
}

const char *lp_hf_config_architecture(const lp_hf_config *c, size_t index) {
    const cJSON *a = item(c, "architectures");
    if (!cJSON_IsArray(a) || index >= (size_t)cJSON_GetArraySize(a)) return NULL;
    return cJSON_GetArrayItem(a, (int)index)->valuestring;
}

bool lp_hf_config_has(const lp_hf_config *c, const char *key) { return item(c, key) != NULL; }

static lp_status absent(const lp_hf_config *c, const char *key, lp_error *err) {
    return lp_fail(err, LP_ERR_FORMAT, "%s: no \"%s\"", c->label, key);
}

static lp_status wrong_type(const lp_hf_config *c, const char *key, const char *want,
                            lp_error *err) {
    return lp_fail(err, LP_ERR_FORMAT, "%s: \"%s\" is not %s", c->label, key, want);
}

lp_status lp_hf_config_int(const lp_hf_config *c, const char *key, int64_t *out, lp_error *err) {
    const cJSON *v = item(c, key);
    if (!v) return absent(c, key, err);
    double d = cJSON_IsNumber(v) ? v->valuedouble : NAN;
    if (!(fabs(d) <= 9007199254740992.0) || d != floor(d))
        return wrong_type(c, key, "an integer", err);
    *out = (int64_t)d;
    return LP_OK;
}

lp_status lp_hf_config_float(const lp_hf_config *c, const char *key, double *out, lp_error *err) {
    const cJSON *v = item(c, key);
    if (!v) return absent(c, key, err);
    if (!cJSON_IsNumber(v)) return wrong_type(c, key, "a number", err);
    *out = v->valuedouble;
    return LP_OK;
}

lp_status lp_hf_config_string(const lp_hf_config *c, const char *key, const char **out,
                              lp_error *err) {
    const cJSON *v = item(c, key);
    if (!v) return absent(c, key, err);
    if (!cJSON_IsString(v)) return wrong_type(c, key, "a string", err);
    *out = v->valuestring;
    return LP_OK;
}

lp_status lp_hf_config_bool(const lp_hf_config *c, const char *key, bool *out, lp_error *err) {
    const cJSON *v = item(c, key);
    if (!v) return absent(c, key, err);
    if (!cJSON_IsBool(v)) return wrong_type(c, key, "true or false", err);
    *out = cJSON_IsTrue(v);
    return LP_OK;
}

lp_status lp_hf_config_int_or(const lp_hf_config *c, const char *key, int64_t fallback,
                              int64_t *out, lp_error *err) {
    const cJSON *v = item(c, key);
    if (!v || cJSON_IsNull(v)) {
        *out = fallback;
        return LP_OK;
    }
    return lp_hf_config_int(c, key, out, err);
}

lp_status lp_hf_config_float_or(const lp_hf_config *c, const char *key, double fallback,
                                double *out, lp_error *err) {
    const cJSON *v = item(c, key);
    if (!v || cJSON_IsNull(v)) {
        *out = fallback;
        return LP_OK;
    }
    return lp_hf_config_float(c, key, out, err);
}
