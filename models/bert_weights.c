/* Loading a BERT-family checkpoint: the weight-name map of each family, shape
 * and dtype checks naming tensor and file, f16/bf16 -> f32 at load. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "models/bert_internal.h"

#define NAME_MAX_LEN 256

typedef struct loader {
    lp_bert_model *m;
    const char *prefix; /* "bert.", "roberta.", "distilbert." or "" */
} loader;

static lp_status keep_owned(lp_bert_model *m, void *p, lp_error *err) {
    if (m->n_owned == m->cap_owned) {
        size_t cap = m->cap_owned ? m->cap_owned * 2 : 64;
        void **n = realloc(m->owned, cap * sizeof *n);
        if (!n) return lp_fail(err, LP_ERR_NOMEM, "out of memory converting weights");
        m->owned = n;
        m->cap_owned = cap;
    }
    m->owned[m->n_owned++] = p;
    return LP_OK;
}

/* A stored tensor as an f32 view: zero-copy for F32, converted once for F16/BF16. */
static lp_status get_f32(lp_bert_model *m, const char *name, int ndim, const int64_t *shape,
                         lp_tensor *out, lp_error *err) {
    const char *file = lp_safetensors_label(m->st);
    const lp_st_tensor *t = lp_safetensors_find(m->st, name);
    if (!t)
        return lp_fail(err, LP_ERR_FORMAT, "%s: the tensor \"%s\" is missing (a %s checkpoint needs it)",
                       file, name, m->cfg.kind.architecture);
    bool shape_ok = t->ndim == ndim;
    for (int i = 0; shape_ok && i < ndim; i++) shape_ok = t->shape[i] == shape[i];
    if (!shape_ok) {
        char want[96], got[96];
        int w = 0, g = 0;
        w += snprintf(want + w, sizeof want - (size_t)w, "[");
        for (int i = 0; i < ndim && w < 80; i++)
            w += snprintf(want + w, sizeof want - (size_t)w, "%s%lld", i ? ", " : "", (long long)shape[i]);
        snprintf(want + w, sizeof want - (size_t)w, "]");
        g += snprintf(got + g, sizeof got - (size_t)g, "[");
        for (int i = 0; i < t->ndim && g < 80; i++)
            g += snprintf(got + g, sizeof got - (size_t)g, "%s%lld", i ? ", " : "", (long long)t->shape[i]);
        snprintf(got + g, sizeof got - (size_t)g, "]");
        return lp_fail(err, LP_ERR_SHAPE, "%s: the tensor \"%s\" has shape %s; config.json implies %s",
                       file, name, got, want);
    }
    if (t->dtype != LP_F32 && t->dtype != LP_F16 && t->dtype != LP_BF16)
        return lp_fail(err, LP_ERR_DTYPE,
                       "%s: the tensor \"%s\" is %s; lepton loads f32, f16 and bf16 encoder weights",
                       file, name, lp_dtype_name(t->dtype));
    lp_tensor view;
    lp_status st = lp_safetensors_get(m->st, name, &view, err);
    if (st) return st;
    if (t->dtype == LP_F32) {
        *out = view;
        return LP_OK;
    }
    int64_t n = lp_tensor_numel(&view);
    float *f = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    if (!f) return lp_fail(err, LP_ERR_NOMEM, "%s: out of memory converting \"%s\" to f32", file, name);
    if ((st = keep_owned(m, f, err))) {
        free(f);
        return st;
    }
    const uint16_t *h = view.data;
    for (int64_t i = 0; i < n; i++)
        f[i] = t->dtype == LP_F16 ? lp_f16_to_f32(h[i]) : lp_bf16_to_f32(h[i]);
    *out = lp_tensor_make(f, LP_F32, ndim, shape);
    return LP_OK;
}

static lp_status get_named(loader *l, const char *name, int ndim, const int64_t *shape,
                           lp_tensor *out, lp_error *err) {
    char full[NAME_MAX_LEN];
    snprintf(full, sizeof full, "%s%s", l->prefix, name);
    return get_f32(l->m, full, ndim, shape, out, err);
}

static lp_status get_linear(loader *l, const char *name, int64_t out_f, int64_t in_f,
                            lp_bert_linear *lin, lp_error *err) {
    char w[NAME_MAX_LEN], b[NAME_MAX_LEN];
    snprintf(w, sizeof w, "%s.weight", name);
    snprintf(b, sizeof b, "%s.bias", name);
    int64_t ws[2] = {out_f, in_f};
    lp_status st = get_named(l, w, 2, ws, &lin->weight, err);
    return st ? st : get_named(l, b, 1, &out_f, &lin->bias, err);
}

/* A linear layer of the encoder: run many times, so through a plan (its
 * weight packed for the CPU's GEMM kernel on first use). */
static lp_status get_planned_linear(loader *l, const char *name, int64_t out_f, int64_t in_f,
                                    lp_bert_linear *lin, lp_error *err) {
    lp_status st = get_linear(l, name, out_f, in_f, lin, err);
    if (st) return st;
    if ((st = lp_linear_plan_create(&lin->weight, &lin->bias, &lin->plan, err)))
        return lp_fail(err, st, "%s: %s", name, err->msg);
    return LP_OK;
}

/* LayerNorm.weight/bias, or the gamma/beta of checkpoints from TF-era code. */
static lp_status get_norm(loader *l, const char *name, lp_bert_norm *n, lp_error *err) {
    char g[NAME_MAX_LEN], b[NAME_MAX_LEN], full[NAME_MAX_LEN];
    int64_t h = l->m->cfg.hidden_size;
    snprintf(full, sizeof full, "%s%s.gamma", l->prefix, name);
    bool old = !lp_safetensors_find(l->m->st, full) ? false : true;
    snprintf(g, sizeof g, "%s.%s", name, old ? "gamma" : "weight");
    snprintf(b, sizeof b, "%s.%s", name, old ? "beta" : "bias");
    lp_status st = get_named(l, g, 1, &h, &n->gamma, err);
    return st ? st : get_named(l, b, 1, &h, &n->beta, err);
}

static lp_status load_bert_layers(loader *l, lp_error *err) {
    const lp_bert_config *c = &l->m->cfg;
    int64_t h = c->hidden_size, inter = c->intermediate_size;
    for (int64_t i = 0; i < c->num_layers; i++) {
        lp_bert_layer *L = &l->m->layers[i];
        char p[96], n[NAME_MAX_LEN];
        snprintf(p, sizeof p, "encoder.layer.%lld.", (long long)i);
        lp_status st;
#define LIN(field, suffix, o, in)                                  \
    snprintf(n, sizeof n, "%s%s", p, suffix);                      \
    if ((st = get_planned_linear(l, n, o, in, &L->field, err))) return st;
#define NORM(field, suffix)                                        \
    snprintf(n, sizeof n, "%s%s", p, suffix);                      \
    if ((st = get_norm(l, n, &L->field, err))) return st;
        LIN(query, "attention.self.query", h, h)
        LIN(key, "attention.self.key", h, h)
        LIN(value, "attention.self.value", h, h)
        LIN(attn_out, "attention.output.dense", h, h)
        NORM(attn_norm, "attention.output.LayerNorm")
        LIN(ffn_in, "intermediate.dense", inter, h)
        LIN(ffn_out, "output.dense", h, inter)
        NORM(ffn_norm, "output.LayerNorm")
    }
    return LP_OK;
}

static lp_status load_distilbert_layers(loader *l, lp_error *err) {
    const lp_bert_config *c = &l->m->cfg;
    int64_t h = c->hidden_size, inter = c->intermediate_size;
    for (int64_t i = 0; i < c->num_layers; i++) {
        lp_bert_layer *L = &l->m->layers[i];
        char p[96], n[NAME_MAX_LEN];
        snprintf(p, sizeof p, "transformer.layer.%lld.", (long long)i);
        lp_status st;
        LIN(query, "attention.q_lin", h, h)
        LIN(key, "attention.k_lin", h, h)
        LIN(value, "attention.v_lin", h, h)
        LIN(attn_out, "attention.out_lin", h, h)
        NORM(attn_norm, "sa_layer_norm")
        LIN(ffn_in, "ffn.lin1", inter, h)
        LIN(ffn_out, "ffn.lin2", h, inter)
        NORM(ffn_norm, "output_layer_norm")
#undef LIN
#undef NORM
    }
    return LP_OK;
}

static lp_status load_embeddings(loader *l, lp_error *err) {
    lp_bert_model *m = l->m;
    const lp_bert_config *c = &m->cfg;
    int64_t ws[2] = {c->vocab_size, c->hidden_size};
    int64_t ps[2] = {c->max_position_embeddings, c->hidden_size};
    lp_status st;
    if ((st = get_named(l, "embeddings.word_embeddings.weight", 2, ws, &m->word_emb, err)) ||
        (st = get_named(l, "embeddings.position_embeddings.weight", 2, ps, &m->pos_emb, err)) ||
        (st = get_norm(l, "embeddings.LayerNorm", &m->emb_norm, err)))
        return st;
    if (c->type_vocab_size > 0) {
        int64_t ts[2] = {c->type_vocab_size, c->hidden_size};
        if ((st = get_named(l, "embeddings.token_type_embeddings.weight", 2, ts, &m->type_emb, err)))
            return st;
    }
    return LP_OK;
}

/* Heads live outside the base-model prefix (classifier.*, pre_classifier.*),
 * except BERT's pooler, which is inside it. */
static lp_status load_head(loader *l, lp_error *err) {
    lp_bert_model *m = l->m;
    const lp_bert_config *c = &m->cfg;
    int64_t h = c->hidden_size, nl = c->num_labels;
    loader top = {m, ""};
    lp_status st;
    switch (c->kind.family) {
    case LP_FAMILY_BERT:
        m->head_act = LP_ACT_TANH;
        if ((st = get_linear(l, "pooler.dense", h, h, &m->head_dense, err))) return st;
        return get_linear(&top, "classifier", nl, h, &m->head_out, err);
    case LP_FAMILY_ROBERTA:
        m->head_act = LP_ACT_TANH;
        if ((st = get_linear(&top, "classifier.dense", h, h, &m->head_dense, err))) return st;
        return get_linear(&top, "classifier.out_proj", nl, h, &m->head_out, err);
    case LP_FAMILY_DISTILBERT:
        m->head_act = LP_ACT_RELU;
        if ((st = get_linear(&top, "pre_classifier", h, h, &m->head_dense, err))) return st;
        return get_linear(&top, "classifier", nl, h, &m->head_out, err);
    default:
        return lp_fail(err, LP_ERR_INTERNAL, "unknown model family");
    }
}

/* BertModel saves its tensors without a prefix, the task models under "bert."
 * (base_model_prefix); either is accepted. */
static const char *pick_prefix(const lp_bert_model *m) {
    static const char *const PREFIX[LP_FAMILY_COUNT] = {"bert.", "roberta.", "distilbert."};
    const char *p = PREFIX[m->cfg.kind.family];
    char name[NAME_MAX_LEN];
    snprintf(name, sizeof name, "%sembeddings.word_embeddings.weight", p);
    if (lp_safetensors_find(m->st, name)) return p;
    if (lp_safetensors_find(m->st, "embeddings.word_embeddings.weight")) return "";
    return p; /* the missing-tensor error then names the expected name */
}

static bool file_exists(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

static lp_status open_weights(const char *dir, lp_bert_model *m, lp_error *err) {
    char path[4096];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    if (file_exists(path)) return lp_safetensors_open(path, &m->st, err);
    char alt[4096];
    snprintf(alt, sizeof alt, "%s/model.safetensors.index.json", dir);
    if (file_exists(alt))
        return lp_fail(err, LP_ERR_UNSUPPORTED,
                       "%s: sharded checkpoints are not supported; merge the shards into one "
                       "model.safetensors",
                       dir);
    snprintf(alt, sizeof alt, "%s/pytorch_model.bin", dir);
    if (file_exists(alt))
        return lp_fail(err, LP_ERR_UNSUPPORTED,
                       "%s has pytorch_model.bin but no model.safetensors: convert it with "
                       "python3 tools/convert_hf_bin.py %s (or save_pretrained(dir, "
                       "safe_serialization=True))",
                       dir, dir);
    return lp_fail(err, LP_ERR_IO, "%s: no model.safetensors in the model directory", path);
}

lp_status lp_bert_load_with_config(const char *dir, lp_bert_config *cfg, lp_bert_model **out,
                                   lp_error *err) {
    *out = NULL;
    lp_bert_model *m = calloc(1, sizeof *m);
    if (!m) {
        lp_bert_config_release(cfg);
        return lp_fail(err, LP_ERR_NOMEM, "out of memory loading %s", dir);
    }
    m->cfg = *cfg;
    memset(cfg, 0, sizeof *cfg); /* the strings now belong to the model */
    lp_status st = open_weights(dir, m, err);
    if (!st) {
        m->layers = calloc((size_t)m->cfg.num_layers, sizeof *m->layers);
        if (!m->layers) st = lp_fail(err, LP_ERR_NOMEM, "out of memory loading %s", dir);
    }
    if (!st) {
        loader l = {m, pick_prefix(m)};
        st = load_embeddings(&l, err);
        if (!st)
            st = m->cfg.kind.family == LP_FAMILY_DISTILBERT ? load_distilbert_layers(&l, err)
                                                            : load_bert_layers(&l, err);
        if (!st && m->cfg.kind.head == LP_HEAD_SEQ_CLS) st = load_head(&l, err);
    }
    if (st) {
        lp_bert_free(m);
        return st;
    }
    *out = m;
    return LP_OK;
}

lp_status lp_bert_load(const char *dir, lp_bert_model **out, lp_error *err) {
    char path[4096];
    snprintf(path, sizeof path, "%s/config.json", dir);
    lp_bert_config cfg;
    lp_status st = lp_bert_config_load(path, &cfg, err);
    if (st) {
        *out = NULL;
        return st;
    }
    return lp_bert_load_with_config(dir, &cfg, out, err);
}

void lp_bert_free(lp_bert_model *m) {
    if (!m) return;
    lp_bert_forget_device_weights(m);
    for (size_t i = 0; i < m->n_owned; i++) free(m->owned[i]);
    free(m->owned);
    for (int64_t i = 0; m->layers && i < m->cfg.num_layers; i++) {
        lp_bert_layer *L = &m->layers[i];
        lp_bert_linear *lins[6] = {&L->query, &L->key, &L->value, &L->attn_out, &L->ffn_in, &L->ffn_out};
        for (int j = 0; j < 6; j++) lp_linear_plan_free(lins[j]->plan);
    }
    free(m->layers);
    if (m->st) lp_safetensors_close(m->st);
    lp_bert_config_release(&m->cfg);
    free(m);
}

const lp_bert_config *lp_bert_get_config(const lp_bert_model *model) { return &model->cfg; }

bool lp_bert_converted_at_load(const lp_bert_model *model) { return model->n_owned > 0; }
