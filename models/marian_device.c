/* A Marian model on a device backend (marian.h: lp_marian_for_backend): a
 * copy of the model's description with device weights, and forgetting them
 * when the model is freed. */
#include <stdlib.h>
#include <string.h>

#include "kernels/backend_memory.h"
#include "models/marian.h"

typedef lp_weight_fn tensor_fn;

static lp_status each_in_attn(lp_marian_attn *a, tensor_fn fn, const lp_backend *b, lp_error *err) {
    lp_tensor *ts[10] = {&a->q.weight, &a->q.bias, &a->k.weight, &a->k.bias, &a->v.weight,
                         &a->v.bias,   &a->o.weight, &a->o.bias, &a->norm.gamma, &a->norm.beta};
    lp_status st = LP_OK;
    for (int i = 0; st == LP_OK && i < 10; i++) st = fn(ts[i], b, err);
    return st;
}

static lp_status each_in_layer(lp_marian_layer *L, tensor_fn fn, const lp_backend *b, lp_error *err) {
    lp_status st = each_in_attn(&L->self_attn, fn, b, err);
    if (st == LP_OK) st = each_in_attn(&L->cross_attn, fn, b, err); /* zeros (no data) in the encoder */
    lp_tensor *ts[6] = {&L->fc1.weight, &L->fc1.bias, &L->fc2.weight, &L->fc2.bias, &L->ffn_norm.gamma,
                        &L->ffn_norm.beta};
    for (int i = 0; st == LP_OK && i < 6; i++) st = fn(ts[i], b, err);
    return st;
}

/* fn over every weight tensor of m (layers that were never loaded are zeros). */
static lp_status each_weight(lp_marian_model *m, tensor_fn fn, const lp_backend *b, lp_error *err) {
    lp_tensor *ts[5] = {&m->enc_embed, &m->dec_embed, &m->lm_head, &m->final_logits_bias, &m->positions};
    lp_status st = LP_OK;
    for (int i = 0; st == LP_OK && i < 5; i++) st = fn(ts[i], b, err);
    for (int64_t l = 0; st == LP_OK && m->enc && l < m->cfg.encoder_layers; l++)
        st = each_in_layer(&m->enc[l], fn, b, err);
    for (int64_t l = 0; st == LP_OK && m->dec && l < m->cfg.decoder_layers; l++)
        st = each_in_layer(&m->dec[l], fn, b, err);
    return st;
}


static lp_marian_layer *copy_layers(const lp_marian_layer *src, int64_t n) {
    lp_marian_layer *l = malloc(sizeof *l * (size_t)(n > 0 ? n : 1));
    if (l && n > 0) memcpy(l, src, sizeof *l * (size_t)n);
    return l;
}

lp_status lp_marian_for_backend(const lp_marian_model *m, const lp_backend *b, lp_marian_model **view,
                                lp_error *err) {
    *view = NULL;
    if (lp_backend_on_host(b)) return LP_OK;
    lp_marian_model *v = calloc(1, sizeof *v);
    if (!v) return lp_fail(err, LP_ERR_NOMEM, "marian: out of memory for the device view");
    *v = *m;
    /* the view owns only its layer arrays; the file and host buffers stay m's */
    v->st = NULL;
    v->owned = NULL;
    v->n_owned = v->cap_owned = 0;
    v->enc = copy_layers(m->enc, m->cfg.encoder_layers);
    v->dec = copy_layers(m->dec, m->cfg.decoder_layers);
    lp_status st = v->enc && v->dec ? LP_OK : lp_fail(err, LP_ERR_NOMEM, "marian: out of memory for the device view");
    if (st == LP_OK) st = each_weight(v, lp_backend_weight_in_place, b, err);
    if (st != LP_OK) {
        lp_marian_free_view(v);
        return st;
    }
    *view = v;
    return LP_OK;
}

void lp_marian_free_view(lp_marian_model *view) {
    if (!view) return;
    free(view->enc);
    free(view->dec);
    free(view);
}

void lp_marian_forget_device_weights(lp_marian_model *m) {
    each_weight(m, lp_backend_forget_tensor, NULL, NULL);
}
