/* The image classification API (see image_classifier.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/backend_memory.h"
#include "kernels/ops.h"
#include "models/image_classifier.h"
#include "models/resnet.h"

struct lp_image_classifier {
    lp_resnet *model;
    lp_image_preprocess pre;
    lp_image_decode_opts decode;
    int in_h, in_w; /* 0 when variable */
    char describe[160];
};

struct lp_image_session {
    const lp_image_classifier *c;
    const lp_resnet *model; /* c->model, or view on a device backend */
    lp_resnet *view;        /* device weights (lp_resnet_for_backend); NULL on the CPU */
    lp_ctx ctx;
    lp_arena *arena;        /* activations, in the backend's memory */
    float *x;          /* [cap, 3, in_h, in_w] */
    float *logits;     /* [cap, classes] */
    float *probs;      /* [cap, classes] */
    int64_t *slot_of;  /* batch row of each input, -1 when it failed */
    size_t cap, cap_inputs;
    size_t x_floats;   /* per image */
};

lp_status lp_image_classifier_load(const char *dir, const lp_image_classifier_opts *opts,
                                   lp_image_classifier **out, lp_error *err) {
    *out = NULL;
    lp_image_classifier *c = calloc(1, sizeof *c);
    if (!c) return lp_fail(err, LP_ERR_NOMEM, "out of memory");
    lp_status st = lp_resnet_load(dir, &c->model, err);
    if (st == LP_OK) st = lp_image_preprocess_from_dir(dir, &c->pre, err);
    if (st != LP_OK) {
        lp_image_classifier_free(c);
        return st;
    }
    c->decode.max_pixels = opts && opts->max_pixels ? opts->max_pixels : LP_IMAGE_DEFAULT_MAX_PIXELS;
    if (c->pre.center_crop) {
        c->in_h = c->pre.crop_h;
        c->in_w = c->pre.crop_w;
    } else if (c->pre.resize_mode == LP_RESIZE_EXACT) {
        c->in_h = c->pre.resize_h;
        c->in_w = c->pre.resize_w;
    }
    snprintf(c->describe, sizeof c->describe, "%s (%s layout, %d classes)", lp_resnet_describe(c->model),
             lp_resnet_layout_name(lp_resnet_get_layout(c->model)), lp_resnet_num_classes(c->model));
    *out = c;
    return LP_OK;
}

void lp_image_classifier_free(lp_image_classifier *c) {
    if (!c) return;
    lp_resnet_free(c->model);
    free(c);
}

int lp_image_classifier_num_classes(const lp_image_classifier *c) { return lp_resnet_num_classes(c->model); }
const char *lp_image_classifier_label(const lp_image_classifier *c, int i) { return lp_resnet_label(c->model, i); }
const char *lp_image_classifier_label_source(const lp_image_classifier *c) {
    return lp_resnet_label_source(c->model);
}
const char *lp_image_classifier_describe(const lp_image_classifier *c) { return c->describe; }
const lp_image_preprocess *lp_image_classifier_preprocess(const lp_image_classifier *c) { return &c->pre; }
void lp_image_classifier_input_size(const lp_image_classifier *c, int *h, int *w) {
    *h = c->in_h;
    *w = c->in_w;
}

lp_status lp_image_session_create(const lp_image_classifier *c, const lp_backend *backend, lp_threadpool *pool,
                                  lp_image_session **out, lp_error *err) {
    *out = NULL;
    lp_image_session *s = calloc(1, sizeof *s);
    if (!s) return lp_fail(err, LP_ERR_NOMEM, "out of memory");
    s->c = c;
    s->model = c->model;
    lp_status st = lp_ctx_init(&s->ctx, backend ? backend : lp_backend_cpu(), pool, err);
    if (st != LP_OK) {
        free(s);
        return st;
    }
    st = lp_resnet_for_backend(c->model, s->ctx.backend, &s->view, err);
    if (st != LP_OK) {
        lp_image_session_free(s);
        return st;
    }
    if (s->view) s->model = s->view;
    s->arena = lp_backend_arena_create(s->ctx.backend, 0);
    if (!s->arena) {
        const char *where = lp_backend_on_host(s->ctx.backend) ? "host" : "device";
        lp_image_session_free(s);
        return lp_fail(err, LP_ERR_NOMEM, "out of %s memory for a session's activations", where);
    }
    *out = s;
    return LP_OK;
}

void lp_image_session_free(lp_image_session *s) {
    if (!s) return;
    lp_arena_destroy(s->arena);
    lp_resnet_free_view(s->view);
    lp_ctx_release(&s->ctx);
    free(s->x);
    free(s->logits);
    free(s->probs);
    free(s->slot_of);
    free(s);
}

/* Grows the batch buffers to `rows` images of `per` floats (kept for reuse). */
static lp_status reserve(lp_image_session *s, size_t rows, size_t per, size_t inputs, lp_error *err) {
    const size_t classes = (size_t)lp_resnet_num_classes(s->c->model);
    if (rows > s->cap || per != s->x_floats) {
        free(s->x);
        free(s->logits);
        free(s->probs);
        s->x = malloc(sizeof(float) * rows * per);
        s->logits = malloc(sizeof(float) * rows * classes);
        s->probs = malloc(sizeof(float) * rows * classes);
        s->cap = s->x && s->logits && s->probs ? rows : 0;
        s->x_floats = per;
        if (!s->cap) return lp_fail(err, LP_ERR_NOMEM, "out of memory for a batch of %zu images", rows);
    }
    if (inputs > s->cap_inputs) {
        int64_t *p = realloc(s->slot_of, sizeof *p * inputs);
        if (!p) return lp_fail(err, LP_ERR_NOMEM, "out of memory");
        s->slot_of = p;
        s->cap_inputs = inputs;
    }
    return LP_OK;
}

/* x (host) -> out (host): logits, or softmax probabilities. On a host
 * backend the model reads x and writes out in place; on a device backend x
 * is copied into the arena, logits and probabilities stay there, and the
 * result is copied back into out. */
static lp_status run(lp_image_session *s, const lp_tensor *x, bool logits_only, lp_tensor *out, lp_error *err) {
    const lp_backend *b = s->ctx.backend;
    const bool host = lp_backend_on_host(b);
    const int64_t n = x->shape[0], classes = lp_resnet_num_classes(s->model), ls[2] = {n, classes};
    lp_tensor dx, logits, result;
    lp_status st = lp_backend_upload(b, s->arena, x, &dx, err);
    if (st == LP_OK && host) logits = logits_only ? *out : lp_tensor_2d(s->logits, LP_F32, n, classes);
    if (st == LP_OK && !host) st = lp_arena_tensor(s->arena, LP_F32, 2, ls, &logits, err);
    if (st == LP_OK) st = lp_resnet_forward(s->model, &s->ctx, s->arena, &dx, &logits, err);
    result = logits;
    if (st == LP_OK && !logits_only) {
        if (host)
            result = *out;
        else
            st = lp_arena_tensor(s->arena, LP_F32, 2, ls, &result, err);
        if (st == LP_OK) st = lp_softmax(&s->ctx, &logits, NULL, 1.0f, false, &result, err);
    }
    if (st == LP_OK && !host) st = lp_backend_download(b, &result, out->data, err);
    lp_arena_reset(s->arena);
    return st;
}

lp_status lp_image_session_forward(lp_image_session *s, const lp_tensor *x, bool logits_only, lp_tensor *out,
                                   lp_error *err) {
    const int64_t classes = lp_resnet_num_classes(s->c->model);
    if (!x || x->ndim != 4 || x->dtype != LP_F32)
        return lp_fail(err, LP_ERR_SHAPE, "image input must be an f32 [N, 3, H, W] tensor");
    if (!out || out->ndim != 2 || out->shape[0] != x->shape[0] || out->shape[1] != classes || out->dtype != LP_F32 ||
        !lp_tensor_is_contiguous(out) || out->device.kind != LP_DEVICE_CPU)
        return lp_fail(err, LP_ERR_SHAPE, "output must be a contiguous host f32 [%lld, %lld] tensor",
                       (long long)x->shape[0], (long long)classes);
    if (!logits_only) {
        lp_status st = reserve(s, (size_t)x->shape[0], s->x_floats ? s->x_floats : 1, 0, err);
        if (st != LP_OK) return st;
    }
    return run(s, x, logits_only, out, err);
}

static void fill_topk(const float *p, int classes, int k, lp_image_result *r) {
    /* k is small: selection by repeated scans keeps ties in index order. */
    for (int j = 0; j < k; j++) {
        int best = -1;
        for (int i = 0; i < classes; i++) {
            bool taken = false;
            for (int q = 0; q < j && !taken; q++) taken = r->index[q] == i;
            if (!taken && (best < 0 || p[i] > p[best])) best = i;
        }
        r->index[j] = best;
        r->score[j] = p[best];
    }
    r->k = k;
}

/* Classifies inputs[first .. first+count) as one batch of fixed-size images. */
static lp_status classify_batch(lp_image_session *s, const lp_image_input *in, size_t count, int h, int w, int k,
                                lp_image_result *res, lp_error *err) {
    const size_t per = (size_t)3 * h * w;
    lp_status st = reserve(s, count, per, count, err);
    if (st != LP_OK) return st;
    int64_t rows = 0;
    for (size_t i = 0; i < count; i++) {
        lp_error e = {0};
        lp_status ist = lp_image_preprocess_bytes(&s->c->pre, &s->c->decode, in[i].bytes, in[i].size,
                                                  s->x + (size_t)rows * per, h, w, &e);
        res[i].status = ist;
        res[i].k = 0;
        res[i].error[0] = 0;
        if (ist != LP_OK) {
            snprintf(res[i].error, sizeof res[i].error, "%s", e.msg);
            s->slot_of[i] = -1;
        } else {
            s->slot_of[i] = rows++;
        }
    }
    if (!rows) return LP_OK;
    const int classes = lp_resnet_num_classes(s->c->model);
    lp_tensor x = lp_tensor_4d(s->x, LP_F32, rows, 3, h, w);
    lp_tensor probs = lp_tensor_2d(s->probs, LP_F32, rows, classes);
    st = run(s, &x, false, &probs, err);
    if (st != LP_OK) return st;
    for (size_t i = 0; i < count; i++)
        if (s->slot_of[i] >= 0) fill_topk(s->probs + (size_t)s->slot_of[i] * classes, classes, k, &res[i]);
    return LP_OK;
}

lp_status lp_image_session_classify(lp_image_session *s, const lp_image_input *inputs, size_t n, int top_k,
                                    lp_image_result *results, lp_error *err) {
    if (!s || (!inputs && n) || (!results && n)) return lp_fail(err, LP_ERR_INVALID_ARG, "classify: NULL argument");
    const int classes = lp_resnet_num_classes(s->c->model);
    if (top_k < 1) return lp_fail(err, LP_ERR_INVALID_ARG, "top_k must be at least 1 (got %d)", top_k);
    const int k = top_k < classes ? top_k : classes;
    if (s->c->in_h > 0) return classify_batch(s, inputs, n, s->c->in_h, s->c->in_w, k, results, err);
    /* Variable input size (resize without a crop): one image at a time. */
    for (size_t i = 0; i < n; i++) {
        lp_image img;
        lp_error e = {0};
        int h = 0, w = 0;
        lp_status ist = lp_image_decode(inputs[i].bytes, inputs[i].size, &s->c->decode, &img, &e);
        if (ist == LP_OK) {
            ist = lp_image_preprocess_out_size(&s->c->pre, img.height, img.width, &h, &w, &e);
            lp_image_free(&img);
        }
        if (ist != LP_OK) {
            results[i].status = ist;
            results[i].k = 0;
            snprintf(results[i].error, sizeof results[i].error, "%s", e.msg);
            continue;
        }
        lp_status st = classify_batch(s, inputs + i, 1, h, w, k, results + i, err);
        if (st != LP_OK) return st;
    }
    return LP_OK;
}

lp_status lp_image_session_enable_profile(lp_image_session *s, bool on, lp_error *err) {
    return lp_ctx_enable_profile(&s->ctx, on, err);
}

const lp_op_profile *lp_image_session_profile(const lp_image_session *s) { return s->ctx.profile; }
