/* Loading a MarianMTModel checkpoint (model.safetensors as transformers saves
 * it): shape and dtype checks naming tensor and file, f16/bf16 -> f32 once,
 * tied embeddings resolved (save_pretrained keeps one of the tied names). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/backend.h"
#include "models/marian.h"

static lp_status keep_owned(lp_marian_model *m, void *p, lp_error *err) {
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

static void describe(const int64_t *shape, int ndim, char *buf, size_t size) {
    int w = snprintf(buf, size, "[");
    for (int i = 0; i < ndim && w < (int)size - 24; i++)
        w += snprintf(buf + w, size - (size_t)w, "%s%lld", i ? ", " : "", (long long)shape[i]);
    snprintf(buf + w, size - (size_t)w, "]");
}

/* A stored tensor as an f32 view of `shape` (numel must match: final_logits_bias
 * is stored [1, V] and used as [V]). */
static lp_status get_f32(lp_marian_model *m, const char *name, int ndim, const int64_t *shape,
                         lp_tensor *out, lp_error *err) {
    const char *file = lp_safetensors_label(m->st);
    const lp_st_tensor *t = lp_safetensors_find(m->st, name);
    if (!t)
        return lp_fail(err, LP_ERR_FORMAT, "%s: the tensor \"%s\" is missing (a MarianMTModel checkpoint needs it)",
                       file, name);
    bool ok = t->ndim == ndim;
    for (int i = 0; ok && i < ndim; i++) ok = t->shape[i] == shape[i];
    if (!ok && !strcmp(name, "final_logits_bias")) ok = t->ndim == 2 && t->shape[0] == 1 && t->shape[1] == shape[0];
    if (!ok) {
        char want[128], got[128];
        describe(shape, ndim, want, sizeof want);
        describe(t->shape, t->ndim, got, sizeof got);
        return lp_fail(err, LP_ERR_SHAPE, "%s: the tensor \"%s\" has shape %s; config.json implies %s", file,
                       name, got, want);
    }
    if (t->dtype != LP_F32 && t->dtype != LP_F16 && t->dtype != LP_BF16)
        return lp_fail(err, LP_ERR_DTYPE, "%s: the tensor \"%s\" is %s; lepton loads f32, f16 and bf16 weights",
                       file, name, lp_dtype_name(t->dtype));
    lp_tensor view;
    lp_status st = lp_safetensors_get(m->st, name, &view, err);
    if (st) return st;
    if (t->dtype == LP_F32) {
        *out = lp_tensor_make(view.data, LP_F32, ndim, shape);
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
    for (int64_t i = 0; i < n; i++) f[i] = t->dtype == LP_F16 ? lp_f16_to_f32(h[i]) : lp_bf16_to_f32(h[i]);
    *out = lp_tensor_make(f, LP_F32, ndim, shape);
    return LP_OK;
}

static lp_status get_linear(lp_marian_model *m, const char *name, int64_t o, int64_t in,
                            lp_marian_linear *lin, lp_error *err) {
    char w[320], b[320];
    snprintf(w, sizeof w, "%s.weight", name);
    snprintf(b, sizeof b, "%s.bias", name);
    int64_t ws[2] = {o, in};
    lp_status st = get_f32(m, w, 2, ws, &lin->weight, err);
    return st ? st : get_f32(m, b, 1, &o, &lin->bias, err);
}

static lp_status get_norm(lp_marian_model *m, const char *name, lp_marian_norm *n, lp_error *err) {
    char g[320], b[320];
    int64_t d = m->cfg.d_model;
    snprintf(g, sizeof g, "%s.weight", name);
    snprintf(b, sizeof b, "%s.bias", name);
    lp_status st = get_f32(m, g, 1, &d, &n->gamma, err);
    return st ? st : get_f32(m, b, 1, &d, &n->beta, err);
}

static lp_status get_attn(lp_marian_model *m, const char *name, const char *norm, lp_marian_attn *a,
                          lp_error *err) {
    char n[256];
    int64_t d = m->cfg.d_model;
    lp_status st;
    const char *proj[4] = {"q_proj", "k_proj", "v_proj", "out_proj"};
    lp_marian_linear *lins[4] = {&a->q, &a->k, &a->v, &a->o};
    for (int i = 0; i < 4; i++) {
        snprintf(n, sizeof n, "%s.%s", name, proj[i]);
        if ((st = get_linear(m, n, d, d, lins[i], err))) return st;
    }
    return get_norm(m, norm, &a->norm, err);
}

static lp_status get_layers(lp_marian_model *m, bool decoder, lp_error *err) {
    const lp_marian_config *c = &m->cfg;
    int64_t L = decoder ? c->decoder_layers : c->encoder_layers;
    int64_t ffn = decoder ? c->decoder_ffn : c->encoder_ffn, d = c->d_model;
    lp_marian_layer *layers = calloc((size_t)L, sizeof *layers);
    if (!layers) return lp_fail(err, LP_ERR_NOMEM, "out of memory loading the model");
    if (decoder) m->dec = layers;
    else m->enc = layers;
    const char *part = decoder ? "decoder" : "encoder";
    for (int64_t i = 0; i < L; i++) {
        char p[96], a[160], b[160];
        snprintf(p, sizeof p, "model.%s.layers.%lld", part, (long long)i);
        lp_status st;
        snprintf(a, sizeof a, "%s.self_attn", p);
        snprintf(b, sizeof b, "%s.self_attn_layer_norm", p);
        if ((st = get_attn(m, a, b, &layers[i].self_attn, err))) return st;
        if (decoder) {
            snprintf(a, sizeof a, "%s.encoder_attn", p);
            snprintf(b, sizeof b, "%s.encoder_attn_layer_norm", p);
            if ((st = get_attn(m, a, b, &layers[i].cross_attn, err))) return st;
        }
        snprintf(a, sizeof a, "%s.fc1", p);
        if ((st = get_linear(m, a, ffn, d, &layers[i].fc1, err))) return st;
        snprintf(a, sizeof a, "%s.fc2", p);
        if ((st = get_linear(m, a, d, ffn, &layers[i].fc2, err))) return st;
        snprintf(a, sizeof a, "%s.final_layer_norm", p);
        if ((st = get_norm(m, a, &layers[i].ffn_norm, err))) return st;
    }
    return LP_OK;
}

/* The first of `names` that the file holds (tied weights are saved once). */
static lp_status get_first(lp_marian_model *m, const char *const *names, int64_t V, int64_t d, lp_tensor *out,
                           lp_error *err) {
    int64_t s[2] = {V, d};
    for (int i = 0; names[i]; i++)
        if (lp_safetensors_find(m->st, names[i])) return get_f32(m, names[i], 2, s, out, err);
    return get_f32(m, names[0], 2, s, out, err);
}

static lp_status get_embeddings(lp_marian_model *m, lp_error *err) {
    const lp_marian_config *c = &m->cfg;
    int64_t V = c->vocab_size, d = c->d_model;
    lp_status st;
    static const char *const enc_shared[] = {"model.shared.weight", "model.encoder.embed_tokens.weight",
                                             "model.decoder.embed_tokens.weight", "lm_head.weight", NULL};
    static const char *const enc_own[] = {"model.encoder.embed_tokens.weight", NULL};
    static const char *const dec_shared[] = {"model.shared.weight", "model.decoder.embed_tokens.weight",
                                             "model.encoder.embed_tokens.weight", "lm_head.weight", NULL};
    static const char *const dec_own[] = {"model.decoder.embed_tokens.weight", "lm_head.weight", NULL};
    static const char *const head[] = {"lm_head.weight", "model.decoder.embed_tokens.weight",
                                       "model.shared.weight", NULL};
    if ((st = get_first(m, c->shared_embeddings ? enc_shared : enc_own, V, d, &m->enc_embed, err)) ||
        (st = get_first(m, c->shared_embeddings ? dec_shared : dec_own, V, d, &m->dec_embed, err)) ||
        (st = get_first(m, head, V, d, &m->lm_head, err)))
        return st;
    if (lp_safetensors_find(m->st, "final_logits_bias"))
        return get_f32(m, "final_logits_bias", 1, &V, &m->final_logits_bias, err);
    float *z = calloc((size_t)V, sizeof *z);
    if (!z || keep_owned(m, z, err)) {
        free(z);
        return lp_fail(err, LP_ERR_NOMEM, "out of memory loading the model");
    }
    m->final_logits_bias = lp_tensor_1d(z, LP_F32, V);
    return LP_OK;
}

static lp_status make_positions(lp_marian_model *m, lp_error *err) {
    int64_t P = m->cfg.max_positions, d = m->cfg.d_model;
    float *p = malloc((size_t)(P * d) * sizeof *p);
    if (!p || keep_owned(m, p, err)) {
        free(p);
        return lp_fail(err, LP_ERR_NOMEM, "out of memory loading the model");
    }
    m->positions = lp_tensor_2d(p, LP_F32, P, d);
    lp_ctx ctx;
    lp_status st = lp_ctx_init(&ctx, lp_backend_cpu(), NULL, err);
    if (st) return st;
    st = lp_sinusoidal_positions(&ctx, 0, &m->positions, err);
    lp_ctx_release(&ctx);
    return st;
}

lp_status lp_marian_load(const char *dir, lp_marian_model **out, lp_error *err) {
    *out = NULL;
    lp_marian_model *m = calloc(1, sizeof *m);
    if (!m) return lp_fail(err, LP_ERR_NOMEM, "out of memory loading %s", dir);
    lp_status st = lp_marian_config_load(dir, &m->cfg, err);
    char path[4096];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    if (!st) st = lp_safetensors_open(path, &m->st, err);
    if (!st) st = get_embeddings(m, err);
    if (!st) st = get_layers(m, false, err);
    if (!st) st = get_layers(m, true, err);
    if (!st) st = make_positions(m, err);
    if (st) {
        lp_marian_free(m);
        return st;
    }
    *out = m;
    return LP_OK;
}

void lp_marian_free(lp_marian_model *m) {
    if (!m) return;
    lp_marian_forget_device_weights(m);
    for (size_t i = 0; i < m->n_owned; i++) free(m->owned[i]);
    free(m->owned);
    free(m->enc);
    free(m->dec);
    lp_safetensors_close(m->st);
    free(m);
}
