/* The "cuda" backend table: turns validated op arguments (ops.h) into kernel
 * launches (cuda_kernels.h) and library calls (cuda_runtime_glue.h). Tensors
 * hold device pointers. Compiled into the plugin and, unchanged, into the
 * emulated test build, where "device" memory is host memory. */
#include <string.h>

#include "kernels/cuda/cuda_kernels.h"
#include "kernels/cuda/cuda_runtime_glue.h"
#include "kernels/cuda/weight_cache.h"

_Static_assert(LP_CUDA_ACT_RELU == (int)LP_ACT_RELU && LP_CUDA_ACT_GELU_ERF == (int)LP_ACT_GELU_ERF &&
                   LP_CUDA_ACT_GELU_TANH == (int)LP_ACT_GELU_TANH &&
                   LP_CUDA_ACT_TANH == (int)LP_ACT_TANH && LP_CUDA_ACT_NONE == (int)LP_ACT_NONE,
               "activation codes must match lp_activation");

static bool is_float_storage(lp_dtype t) { return t == LP_F32 || t == LP_F16 || t == LP_BF16; }

static lp_status need(bool ok, const char *op, const char *what, lp_error *err) {
    return ok ? LP_OK : lp_fail(err, LP_ERR_UNSUPPORTED, "%s (cuda): %s", op, what);
}

#define TRY(expr)                                \
    do {                                         \
        lp_status st_ = (expr);                  \
        if (st_ != LP_OK) return st_;            \
    } while (0)

static int64_t leading_rows(const lp_tensor *t) {
    int64_t r = 1;
    for (int i = 0; i < t->ndim - 1; i++) r *= t->shape[i];
    return r;
}

static int64_t last_dim(const lp_tensor *t) { return t->ndim ? t->shape[t->ndim - 1] : 1; }

static lp_status cuda_matmul(lp_ctx *ctx, const lp_tensor *a, const lp_tensor *b, bool trans_a,
                             bool trans_b, float alpha, lp_tensor *out, lp_error *err) {
    (void)ctx;
    lp_cuda_gemm_desc d;
    TRY(lp_cuda_gemm_describe_matmul(a, b, trans_a, trans_b, alpha, out, &d, err));
    return lp_cuda_gemm_run(&d, err);
}

static lp_status cuda_linear(lp_ctx *ctx, const lp_tensor *x, const lp_tensor *weight,
                             const lp_tensor *bias, lp_activation act, lp_tensor *out,
                             lp_error *err) {
    (void)ctx;
    lp_cuda_gemm_desc d;
    TRY(lp_cuda_gemm_describe_linear(x, weight, bias, act, out, &d, err));
    TRY(lp_cuda_gemm_run(&d, err));
    if (d.post_act == LP_ACT_NONE) return LP_OK;
    /* an activation cuBLASLt cannot fuse: one more pass over the output */
    return lp_cuda_rt_check(lp_cuda_unary(out->dtype, d.post_act, out->data, out->data,
                                          lp_tensor_numel(out), lp_cuda_rt_stream()),
                            "linear", err);
}

static lp_status cuda_conv2d(lp_ctx *ctx, const lp_tensor *x, const lp_tensor *weight,
                             const lp_tensor *bias, const lp_tensor *residual,
                             const lp_conv2d_params *params, lp_activation act, lp_tensor *out,
                             lp_error *err) {
    return lp_cuda_conv2d_run(ctx, x, weight, bias, residual, params, act, out, err);
}

static lp_status cuda_maxpool2d(lp_ctx *ctx, const lp_tensor *x, const lp_pool2d_params *p,
                                lp_tensor *out, lp_error *err) {
    (void)ctx;
    TRY(need(is_float_storage(x->dtype) && out->dtype == x->dtype, "maxpool2d", "f32/f16/bf16", err));
    TRY(need(lp_tensor_is_contiguous(x) && lp_tensor_is_contiguous(out), "maxpool2d",
             "contiguous NCHW tensors", err));
    lp_cuda_pool_args a = {x->shape[0], x->shape[1], x->shape[2], x->shape[3], out->shape[2],
                           out->shape[3], p->kernel_h, p->kernel_w, p->stride_h, p->stride_w,
                           p->pad_h, p->pad_w};
    return lp_cuda_rt_check(lp_cuda_maxpool2d(x->dtype, x->data, &a, out->data, lp_cuda_rt_stream()),
                            "maxpool2d", err);
}

static lp_status cuda_global_avgpool2d(lp_ctx *ctx, const lp_tensor *x, lp_tensor *out,
                                       lp_error *err) {
    (void)ctx;
    TRY(need(is_float_storage(x->dtype) && out->dtype == x->dtype, "global_avgpool2d",
             "f32/f16/bf16", err));
    TRY(need(lp_tensor_is_contiguous(x), "global_avgpool2d", "a contiguous NCHW input", err));
    return lp_cuda_rt_check(lp_cuda_global_avgpool2d(x->dtype, x->data, x->shape[0] * x->shape[1],
                                                     x->shape[2] * x->shape[3], out->data,
                                                     lp_cuda_rt_stream()),
                            "global_avgpool2d", err);
}

static lp_status cuda_unary(lp_ctx *ctx, lp_activation act, const lp_tensor *x, lp_tensor *out,
                            lp_error *err) {
    (void)ctx;
    TRY(need(is_float_storage(x->dtype) && out->dtype == x->dtype, "unary", "f32/f16/bf16", err));
    return lp_cuda_rt_check(lp_cuda_unary(x->dtype, act, x->data, out->data, lp_tensor_numel(x),
                                          lp_cuda_rt_stream()),
                            "unary", err);
}

static lp_status cuda_add(lp_ctx *ctx, const lp_tensor *a, const lp_tensor *b, lp_activation act,
                          lp_tensor *out, lp_error *err) {
    (void)ctx;
    TRY(need(is_float_storage(a->dtype) && b->dtype == a->dtype && out->dtype == a->dtype, "add",
             "f32/f16/bf16, one dtype", err));
    TRY(need(lp_tensor_is_contiguous(b), "add", "a contiguous b", err));
    return lp_cuda_rt_check(lp_cuda_add(a->dtype, act, a->data, b->data, lp_tensor_numel(b),
                                        out->data, lp_tensor_numel(a), lp_cuda_rt_stream()),
                            "add", err);
}

static lp_status cuda_layer_norm(lp_ctx *ctx, const lp_tensor *x, const lp_tensor *gamma,
                                 const lp_tensor *beta, float eps, lp_tensor *out, lp_error *err) {
    (void)ctx;
    TRY(need(is_float_storage(x->dtype) && out->dtype == x->dtype, "layer_norm", "f32/f16/bf16", err));
    TRY(need((!gamma || gamma->dtype == LP_F32) && (!beta || beta->dtype == LP_F32), "layer_norm",
             "f32 gamma and beta", err));
    TRY(need(lp_tensor_is_contiguous(x) && lp_tensor_is_contiguous(out), "layer_norm",
             "contiguous tensors", err));
    return lp_cuda_rt_check(
        lp_cuda_layer_norm(x->dtype, x->data, gamma ? gamma->data : NULL, beta ? beta->data : NULL,
                           out->data, leading_rows(x), last_dim(x), eps, lp_cuda_rt_stream()),
        "layer_norm", err);
}

static lp_status cuda_softmax(lp_ctx *ctx, const lp_tensor *x, const lp_tensor *mask, float scale,
                              bool log, lp_tensor *out, lp_error *err) {
    (void)ctx;
    TRY(need(is_float_storage(x->dtype) && out->dtype == x->dtype, "softmax", "f32/f16/bf16", err));
    TRY(need(lp_tensor_is_contiguous(x) && lp_tensor_is_contiguous(out), "softmax",
             "contiguous tensors", err));
    TRY(need(x->ndim <= 5, "softmax", "at most 4 leading dims", err));
    lp_cuda_rows map;
    memset(&map, 0, sizeof map);
    if (mask) {
        TRY(need(mask->dtype == LP_F32 && mask->ndim >= 1 && mask->stride[mask->ndim - 1] == 1,
                 "softmax", "an f32 mask with a dense last dim", err));
        int lead = x->ndim - 1, shift = x->ndim - mask->ndim;
        map.ndim = lead;
        for (int i = 0; i < lead; i++) {
            int im = i - shift;
            map.shape[i] = x->shape[i];
            map.stride[i] = im < 0 || mask->shape[im] == 1 ? 0 : mask->stride[im];
        }
    }
    return lp_cuda_rt_check(lp_cuda_softmax(x->dtype, x->data, mask ? mask->data : NULL,
                                            mask ? &map : NULL, scale, log, out->data,
                                            leading_rows(x), last_dim(x), lp_cuda_rt_stream()),
                            "softmax", err);
}

static lp_status cuda_attention(lp_ctx *ctx, const lp_tensor *q, const lp_tensor *k,
                                const lp_tensor *v, const lp_attention_mask *mask, float scale,
                                lp_tensor *out, lp_error *err) {
    (void)ctx;
    TRY(need(is_float_storage(q->dtype) && k->dtype == q->dtype && v->dtype == q->dtype &&
                 out->dtype == q->dtype,
             "attention", "f32/f16/bf16, one dtype", err));
    TRY(need(q->ndim == 4 && k->ndim == 4 && v->ndim == 4 && out->ndim == 4, "attention",
             "[B, H, S, D] tensors", err));
    TRY(need(q->shape[3] <= LP_CUDA_ATTENTION_MAX_D && v->shape[3] <= LP_CUDA_ATTENTION_MAX_D,
             "attention", "head dims up to 128", err));
    lp_cuda_attention_args a;
    memset(&a, 0, sizeof a);
    a.q = q->data;
    a.k = k->data;
    a.v = v->data;
    a.out = out->data;
    for (int i = 0; i < 3; i++) {
        a.q_stride[i] = q->stride[i];
        a.k_stride[i] = k->stride[i];
        a.v_stride[i] = v->stride[i];
        a.out_stride[i] = out->stride[i];
    }
    a.batch = q->shape[0];
    a.heads = q->shape[1];
    a.sq = q->shape[2];
    a.sk = k->shape[2];
    a.d = q->shape[3];
    a.dv = v->shape[3];
    if (mask && mask->key_mask) {
        a.key_mask = (const uint8_t *)mask->key_mask->data;
        a.key_mask_stride = mask->key_mask->stride[0];
    }
    a.causal = mask && mask->causal;
    a.scale = scale;
    return lp_cuda_rt_check(lp_cuda_attention(q->dtype, &a, lp_cuda_rt_stream()), "attention", err);
}

static lp_status cuda_embedding(lp_ctx *ctx, const lp_tensor *table, const lp_tensor *ids,
                                lp_tensor *out, lp_error *err) {
    (void)ctx;
    TRY(need(is_float_storage(table->dtype) && out->dtype == table->dtype, "embedding",
             "an f32/f16/bf16 table", err));
    TRY(need(lp_tensor_is_contiguous(table) && lp_tensor_is_contiguous(ids), "embedding",
             "contiguous table and ids", err));
    int *flag = NULL;
    TRY(lp_cuda_rt_flag(&flag, err));
    int bad = -1;
    TRY(lp_cuda_rt_copy(flag, &bad, sizeof bad, LP_CUDA_H2D, err));
    int64_t count = lp_tensor_numel(ids);
    TRY(lp_cuda_rt_check(lp_cuda_embedding(table->dtype, table->data, table->shape[0],
                                           table->shape[1], ids->data, ids->dtype == LP_I64, count,
                                           NULL, 1, 0, out->data, flag, lp_cuda_rt_stream()),
                         "embedding", err));
    TRY(lp_cuda_rt_copy(&bad, flag, sizeof bad, LP_CUDA_D2H, err));
    if (bad >= 0)
        return lp_fail(err, LP_ERR_INVALID_ARG,
                       "embedding (cuda): id at position %d is outside [0, %lld)", bad,
                       (long long)table->shape[0]);
    return LP_OK;
}

static lp_status cuda_sinusoidal_positions(lp_ctx *ctx, int64_t offset, lp_tensor *out,
                                           lp_error *err) {
    (void)ctx;
    TRY(need(is_float_storage(out->dtype) && out->ndim == 2, "sinusoidal_positions",
             "an f32/f16/bf16 [S, D] output", err));
    return lp_cuda_rt_check(lp_cuda_sinusoidal_positions(out->dtype, offset, out->shape[0],
                                                         out->shape[1], out->data,
                                                         lp_cuda_rt_stream()),
                            "sinusoidal_positions", err);
}

static lp_status cuda_cast(lp_ctx *ctx, const lp_tensor *x, lp_tensor *out, lp_error *err) {
    (void)ctx;
    TRY(need(is_float_storage(x->dtype) && is_float_storage(out->dtype), "cast",
             "f32/f16/bf16", err));
    return lp_cuda_rt_check(lp_cuda_cast(x->dtype, x->data, out->dtype, out->data,
                                         lp_tensor_numel(x), lp_cuda_rt_stream()),
                            "cast", err);
}

static lp_status cuda_argmax(lp_ctx *ctx, const lp_tensor *x, lp_tensor *out, lp_error *err) {
    (void)ctx;
    TRY(need(is_float_storage(x->dtype) && out->dtype == LP_I64, "argmax", "f32/f16/bf16 in, i64 out",
             err));
    TRY(need(lp_tensor_is_contiguous(x), "argmax", "a contiguous input", err));
    return lp_cuda_rt_check(lp_cuda_argmax(x->dtype, x->data, leading_rows(x), last_dim(x),
                                           out->data, lp_cuda_rt_stream()),
                            "argmax", err);
}

static lp_status cuda_topk(lp_ctx *ctx, const lp_tensor *x, int64_t k, lp_tensor *values,
                           lp_tensor *indices, lp_error *err) {
    (void)ctx;
    TRY(need(is_float_storage(x->dtype) && values->dtype == LP_F32 && indices->dtype == LP_I64,
             "topk", "f32/f16/bf16 in, f32 values, i64 indices", err));
    TRY(need(lp_tensor_is_contiguous(x), "topk", "a contiguous input", err));
    return lp_cuda_rt_check(lp_cuda_topk(x->dtype, x->data, leading_rows(x), last_dim(x), k,
                                         values->data, indices->data, lp_cuda_rt_stream()),
                            "topk", err);
}

static lp_status cuda_copy(void *dst, const void *src, size_t bytes, bool to_device, lp_error *err) {
    return lp_cuda_rt_copy(dst, src, bytes, to_device ? LP_CUDA_H2D : LP_CUDA_D2H, err);
}

/* Device memory for tensors comes from the process-wide caching pool, freed
 * on the calling thread's stream (stream-ordered reuse: mem_pool.h). */
static lp_status cuda_device_alloc(size_t bytes, void **out, lp_error *err) {
    lp_cuda_pool *pool = lp_cuda_device_pool();
    if (!pool) return lp_fail(err, LP_ERR_NOMEM, "cuda: no memory for the device memory pool");
    return lp_cuda_pool_alloc(pool, bytes, lp_cuda_rt_stream(), out, err);
}

static void cuda_device_free(void *p) {
    lp_cuda_pool *pool = lp_cuda_device_pool();
    if (pool) lp_cuda_pool_free(pool, p, lp_cuda_rt_stream());
}

static lp_status cuda_device_weight(const lp_tensor *host, lp_dtype dtype, lp_tensor *dev,
                                    lp_error *err) {
    lp_cuda_weights *w = lp_cuda_weight_cache();
    if (!w) return lp_fail(err, LP_ERR_NOMEM, "cuda: no memory for the weight cache");
    return lp_cuda_weights_get(w, host, dtype, dev, err);
}

static void cuda_device_weight_forget(const void *host, size_t bytes) {
    lp_cuda_weights *w = lp_cuda_weight_cache();
    if (w) lp_cuda_weights_forget(w, host, bytes);
}

static const lp_backend CUDA_BACKEND = {
    .name = "cuda",
    .device = LP_DEVICE_CUDA,
    .matmul = cuda_matmul,
    .linear = cuda_linear,
    .conv2d = cuda_conv2d,
    .maxpool2d = cuda_maxpool2d,
    .global_avgpool2d = cuda_global_avgpool2d,
    .unary = cuda_unary,
    .add = cuda_add,
    .layer_norm = cuda_layer_norm,
    .softmax = cuda_softmax,
    .attention = cuda_attention,
    .embedding = cuda_embedding,
    .sinusoidal_positions = cuda_sinusoidal_positions,
    .cast = cuda_cast,
    .argmax = cuda_argmax,
    .topk = cuda_topk,
    .device_alloc = cuda_device_alloc,
    .device_free = cuda_device_free,
    .copy = cuda_copy,
    .synchronize = lp_cuda_rt_synchronize,
    .device_weight = cuda_device_weight,
    .device_weight_forget = cuda_device_weight_forget,
};

const lp_backend *lp_cuda_backend_table(void) { return &CUDA_BACKEND; }
