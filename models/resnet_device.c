/* A ResNet on a device backend (resnet.h: lp_resnet_for_backend): a copy of
 * the model's description with device weights, and forgetting them when the
 * model is freed. */
#include <stdlib.h>
#include <string.h>

#include "kernels/backend_memory.h"
#include "models/resnet_internal.h"

static lp_status device_tensor(const lp_backend *b, lp_tensor *t, lp_error *err) {
    lp_tensor dev;
    lp_status st = lp_backend_weight(b, t, &dev, err);
    if (st == LP_OK) *t = dev;
    return st;
}

/* The plan prepares host weights for the CPU; the view runs lp_conv2d. */
static lp_status device_conv(const lp_backend *b, lp_resnet_conv *c, lp_error *err) {
    c->plan = NULL;
    lp_status st = device_tensor(b, &c->weight, err);
    return st != LP_OK ? st : device_tensor(b, &c->bias, err);
}

static lp_status device_weights(const lp_backend *b, lp_resnet *v, lp_error *err) {
    lp_status st = device_conv(b, &v->stem, err);
    for (int i = 0; st == LP_OK && i < v->nblocks; i++) {
        lp_resnet_block *blk = &v->blocks[i];
        for (int j = 0; st == LP_OK && j < blk->nconv; j++) st = device_conv(b, &blk->conv[j], err);
        if (st == LP_OK && blk->has_down) st = device_conv(b, &blk->down, err);
    }
    if (st == LP_OK) st = device_tensor(b, &v->fc_weight, err);
    if (st == LP_OK) st = device_tensor(b, &v->fc_bias, err);
    return st;
}

lp_status lp_resnet_for_backend(const lp_resnet *m, const lp_backend *b, lp_resnet **view, lp_error *err) {
    *view = NULL;
    if (lp_backend_on_host(b)) return LP_OK;
    lp_resnet *v = malloc(sizeof *v);
    if (!v) return lp_fail(err, LP_ERR_NOMEM, "resnet: out of memory for the device view");
    *v = *m;
    /* the view owns only its blocks array; labels and the rest stay m's */
    v->plans = NULL;
    v->nplans = 0;
    v->owned = NULL;
    v->nowned = v->capowned = 0;
    v->blocks = malloc(sizeof *v->blocks * (size_t)(m->nblocks ? m->nblocks : 1));
    if (!v->blocks) {
        free(v);
        return lp_fail(err, LP_ERR_NOMEM, "resnet: out of memory for the device view");
    }
    memcpy(v->blocks, m->blocks, sizeof *v->blocks * (size_t)m->nblocks);
    lp_status st = device_weights(b, v, err);
    if (st != LP_OK) {
        lp_resnet_free_view(v);
        return st;
    }
    *view = v;
    return LP_OK;
}

void lp_resnet_free_view(lp_resnet *view) {
    if (!view) return;
    free(view->blocks);
    free(view);
}

static void forget(const lp_tensor *t) {
    if (t->data) lp_backend_forget_weights(t->data, lp_tensor_nbytes(t));
}

static void forget_conv(const lp_resnet_conv *c) {
    forget(&c->weight);
    forget(&c->bias);
}

void lp_resnet_forget_device_weights(const lp_resnet *m) {
    forget_conv(&m->stem);
    for (int i = 0; m->blocks && i < m->nblocks; i++) {
        const lp_resnet_block *blk = &m->blocks[i];
        for (int j = 0; j < blk->nconv; j++) forget_conv(&blk->conv[j]);
        if (blk->has_down) forget_conv(&blk->down);
    }
    forget(&m->fc_weight);
    forget(&m->fc_bias);
}
