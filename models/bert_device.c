/* A BERT-family model on a device backend (bert.h: lp_bert_for_backend): a
 * copy of the model's description with device weights and no linear plans,
 * and forgetting those weights when the model is freed. */
#include <stdlib.h>
#include <string.h>

#include "kernels/backend_memory.h"
#include "models/bert_internal.h"

typedef lp_weight_fn tensor_fn;

static lp_status each_in_linear(lp_bert_linear *l, tensor_fn fn, const lp_backend *b, lp_error *err) {
    lp_status st = fn(&l->weight, b, err);
    return st != LP_OK ? st : fn(&l->bias, b, err);
}

static lp_status each_in_norm(lp_bert_norm *n, tensor_fn fn, const lp_backend *b, lp_error *err) {
    lp_status st = fn(&n->gamma, b, err);
    return st != LP_OK ? st : fn(&n->beta, b, err);
}

static lp_status each_in_layer(lp_bert_layer *L, tensor_fn fn, const lp_backend *b, lp_error *err) {
    lp_bert_linear *lins[6] = {&L->query, &L->key, &L->value, &L->attn_out, &L->ffn_in, &L->ffn_out};
    lp_status st = LP_OK;
    for (int i = 0; st == LP_OK && i < 6; i++) st = each_in_linear(lins[i], fn, b, err);
    if (st == LP_OK) st = each_in_norm(&L->attn_norm, fn, b, err);
    if (st == LP_OK) st = each_in_norm(&L->ffn_norm, fn, b, err);
    return st;
}

/* fn over every weight tensor of m (absent ones have no data). */
static lp_status each_weight(lp_bert_model *m, tensor_fn fn, const lp_backend *b, lp_error *err) {
    lp_tensor *ts[3] = {&m->word_emb, &m->pos_emb, &m->type_emb};
    lp_status st = LP_OK;
    for (int i = 0; st == LP_OK && i < 3; i++) st = fn(ts[i], b, err);
    if (st == LP_OK) st = each_in_norm(&m->emb_norm, fn, b, err);
    if (st == LP_OK) st = each_in_linear(&m->head_dense, fn, b, err);
    if (st == LP_OK) st = each_in_linear(&m->head_out, fn, b, err);
    for (int64_t l = 0; st == LP_OK && m->layers && l < m->cfg.num_layers; l++)
        st = each_in_layer(&m->layers[l], fn, b, err);
    return st;
}


/* The plans prepare host weights for the CPU; the view's linears run lp_linear. */
static void drop_plans(lp_bert_model *v) {
    v->head_dense.plan = v->head_out.plan = NULL;
    for (int64_t l = 0; l < v->cfg.num_layers; l++) {
        lp_bert_layer *L = &v->layers[l];
        lp_bert_linear *lins[6] = {&L->query, &L->key, &L->value, &L->attn_out, &L->ffn_in, &L->ffn_out};
        for (int i = 0; i < 6; i++) lins[i]->plan = NULL;
    }
}

lp_status lp_bert_for_backend(const lp_bert_model *m, const lp_backend *b, lp_bert_model **view, lp_error *err) {
    *view = NULL;
    if (lp_backend_on_host(b)) return LP_OK;
    lp_bert_model *v = malloc(sizeof *v);
    if (!v) return lp_fail(err, LP_ERR_NOMEM, "bert: out of memory for the device view");
    *v = *m;
    /* the view owns only its layer array; the file, config strings and host
     * buffers stay m's */
    v->st = NULL;
    v->owned = NULL;
    v->n_owned = v->cap_owned = 0;
    size_t n = (size_t)(m->cfg.num_layers > 0 ? m->cfg.num_layers : 1);
    v->layers = malloc(sizeof *v->layers * n);
    if (!v->layers) {
        free(v);
        return lp_fail(err, LP_ERR_NOMEM, "bert: out of memory for the device view");
    }
    memcpy(v->layers, m->layers, sizeof *v->layers * (size_t)m->cfg.num_layers);
    drop_plans(v);
    lp_status st = each_weight(v, lp_backend_weight_in_place, b, err);
    if (st != LP_OK) {
        lp_bert_free_view(v);
        return st;
    }
    *view = v;
    return LP_OK;
}

void lp_bert_free_view(lp_bert_model *view) {
    if (!view) return;
    free(view->layers);
    free(view);
}

void lp_bert_forget_device_weights(lp_bert_model *m) {
    each_weight(m, lp_backend_forget_tensor, NULL, NULL);
}
