/* The GPU suite: on a machine with a GPU, every op of the CUDA backend (loaded
 * as the plugin, as lepton loads it) against the CPU oracle, with latency,
 * achieved GB/s and TFLOP/s and the fraction of the GPU's peak. Where there is
 * no GPU (or no plugin, or no driver) it prints why and exits 77, which ctest
 * and scripts/gpu-suite.sh report as skipped.
 *
 *   gpu_suite [--device cuda:N] [--iters N] [--quick]
 *
 * Tolerances: NMSE 1e-10 (f32; 1e-6 for cuBLASLt/cuDNN f32, which may reorder
 * sums), 1e-5 (f16), 1e-4 (bf16) after rounding the reference to the output
 * dtype; gathers, casts, argmax, top-k and max pooling exact. Timings are
 * printed, never asserted.
 *
 * Built a second time with -DLP_GPU_SUITE_EMULATED against the emulated
 * backend (cuda_gpu_suite_emu, not a ctest: minutes of fibers) to check the
 * suite itself on a machine without a GPU. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/backend_loader.h"
#ifdef LP_GPU_SUITE_EMULATED
#include "kernels/cuda/cuda_runtime_glue.h"
#endif
#include "kernels/op_dispatch.h"
#include "tests/test_util.h"

#ifdef LP_GPU_SUITE_MODELS
void lp_gpu_suite_models(const lp_backend *gpu); /* gpu_suite_models.c */
#endif

#define SKIP 77

static const lp_backend *GPU;
static lp_ctx g_ref, g_gpu;
static int g_iters = 20;
static bool g_quick;
static lp_rng g_rng;
static double g_peak_gbs, g_peak_tflops_f32, g_peak_tflops_16;

/* ---- device helpers ---- */

static void *dev_alloc(size_t bytes) {
    void *p = NULL;
    lp_error err = {0};
    if (GPU->device_alloc(bytes, &p, &err) != LP_OK) {
        fprintf(stderr, "gpu_suite: %s\n", err.msg);
        exit(1);
    }
    return p;
}

static void copy(void *dst, const void *src, size_t bytes, bool to_device) {
    lp_error err = {0};
    if (GPU->copy(dst, src, bytes, to_device, &err) != LP_OK) {
        fprintf(stderr, "gpu_suite: %s\n", err.msg);
        exit(1);
    }
}

/* A host tensor (f32 for float data) and its device twin in `dtype` storage. */
typedef struct pair {
    lp_tensor host, dev;
} pair;

static pair make_pair(lp_tensor host, lp_dtype dtype, bool upload) {
    pair p = {host, host};
    bool is_float = host.dtype == LP_F32;
    p.dev.dtype = is_float ? dtype : host.dtype;
    int64_t n = lp_tensor_numel(&host);
    size_t bytes = (size_t)n * lp_dtype_size(p.dev.dtype);
    p.dev.data = dev_alloc(bytes);
    p.dev.device.kind = LP_DEVICE_CUDA;
    if (upload) {
        void *staging = malloc(bytes ? bytes : 1);
        float *h = host.data;
        for (int64_t i = 0; i < n && is_float; i++) { /* the host copy keeps the rounded values */
            if (dtype == LP_F16) {
                uint16_t b = lp_f32_to_f16(h[i]);
                ((uint16_t *)staging)[i] = b;
                h[i] = lp_f16_to_f32(b);
            } else if (dtype == LP_BF16) {
                uint16_t b = lp_f32_to_bf16(h[i]);
                ((uint16_t *)staging)[i] = b;
                h[i] = lp_bf16_to_f32(b);
            } else {
                ((float *)staging)[i] = h[i];
            }
        }
        if (!is_float) memcpy(staging, host.data, bytes);
        copy(p.dev.data, staging, bytes, true);
        free(staging);
    }
    return p;
}

static float *download_f32(const pair *p) {
    int64_t n = lp_tensor_numel(&p->dev);
    size_t bytes = (size_t)n * lp_dtype_size(p->dev.dtype);
    void *staging = malloc(bytes ? bytes : 1);
    copy(staging, p->dev.data, bytes, false);
    float *out = malloc((size_t)n * 4 + 4);
    for (int64_t i = 0; i < n; i++)
        out[i] = p->dev.dtype == LP_F16    ? lp_f16_to_f32(((uint16_t *)staging)[i])
                 : p->dev.dtype == LP_BF16 ? lp_bf16_to_f32(((uint16_t *)staging)[i])
                 : p->dev.dtype == LP_I64  ? (float)((int64_t *)staging)[i]
                                           : ((float *)staging)[i];
    free(staging);
    return out;
}

static lp_tensor host_f32(int nd, const int64_t *shape, float scale) {
    int64_t n = 1;
    for (int i = 0; i < nd; i++) n *= shape[i];
    float *d = malloc((size_t)n * 4 + 4);
    lp_rng_fill_normal(&g_rng, d, (size_t)n, scale);
    return lp_tensor_make(d, LP_F32, nd, shape);
}

static lp_tensor host_zeros(lp_dtype t, int nd, const int64_t *shape) {
    int64_t n = 1;
    for (int i = 0; i < nd; i++) n *= shape[i];
    return lp_tensor_make(calloc((size_t)n + 1, lp_dtype_size(t)), t, nd, shape);
}

static void free_pair(pair *p) {
    GPU->device_free(p->dev.data);
    free(p->host.data);
}

/* ---- one op: oracle, GPU, compare, time ---- */

typedef lp_status (*op_fn)(lp_ctx *ctx, lp_tensor *in, lp_tensor *out, void *arg, lp_error *err);

typedef struct op_case {
    const char *name;
    lp_dtype dtype;
    pair in[4];
    int nin;
    pair out[2];
    int nout;
    op_fn run;
    void *arg;
    double bytes, flops;
    double tol; /* < 0: exact */
} op_case;

static void run_case(op_case *c) {
    lp_tensor hin[4], hout[2], din[4], dout[2];
    for (int i = 0; i < c->nin; i++) hin[i] = c->in[i].host, din[i] = c->in[i].dev;
    for (int i = 0; i < c->nout; i++) hout[i] = c->out[i].host, dout[i] = c->out[i].dev;
    lp_error err = {0};
    lp_status rs = c->run(&g_ref, hin, hout, c->arg, &err);
    bool have_ref = rs == LP_OK;
    char why[LP_ERROR_MSG_MAX];
    snprintf(why, sizeof why, "%s", err.msg);
    lp_error_clear(&err);
    lp_status st = c->run(&g_gpu, din, dout, c->arg, &err);
    if (st == LP_OK) st = GPU->synchronize(&err);
    if (!CHECK_MSG(st == LP_OK, "%s %s on the GPU: %s", c->name, lp_dtype_name(c->dtype), err.msg)) return;
    double worst = 0;
    bool ok = true;
    for (int o = 0; o < c->nout && have_ref; o++) {
        float *got = download_f32(&c->out[o]);
        int64_t n = lp_tensor_numel(&hout[o]);
        float *ref = malloc((size_t)n * 4 + 4);
        for (int64_t i = 0; i < n; i++) {
            float r = hout[o].dtype == LP_I64 ? (float)((int64_t *)hout[o].data)[i] : ((float *)hout[o].data)[i];
            if (c->out[o].dev.dtype == LP_F16) r = lp_f16_to_f32(lp_f32_to_f16(r));
            if (c->out[o].dev.dtype == LP_BF16) r = lp_bf16_to_f32(lp_f32_to_bf16(r));
            if (!isfinite(r) && !isfinite(got[i]) && (r == got[i] || (isnan(r) && isnan(got[i])))) r = got[i] = 0;
            ref[i] = r;
        }
        if (c->tol < 0) {
            ok &= !memcmp(got, ref, (size_t)n * 4);
        } else {
            double e = lp_test_nmse(got, ref, (size_t)n);
            if (!(e <= worst)) worst = e;
            ok &= e <= c->tol;
        }
        free(got);
        free(ref);
    }
    if (have_ref) CHECK_MSG(ok, "%s %s vs the CPU oracle (nmse %.3g, tol %.3g)", c->name, lp_dtype_name(c->dtype), worst, c->tol);
    /* time: warm, then iters back to back, one synchronize */
    uint64_t t0 = lp_now_ns();
    for (int i = 0; i < g_iters; i++) c->run(&g_gpu, din, dout, c->arg, &err);
    GPU->synchronize(&err);
    double sec = (double)(lp_now_ns() - t0) / 1e9 / g_iters;
    double gbs = c->bytes / sec / 1e9, tfl = c->flops / sec / 1e12;
    double peak_tf = c->dtype == LP_F32 ? g_peak_tflops_f32 : g_peak_tflops_16;
    char frac[64] = "";
    if (c->flops > 0 && peak_tf > 0) snprintf(frac, sizeof frac, " (%.0f%% of peak)", 100 * tfl / peak_tf);
    else if (g_peak_gbs > 0) snprintf(frac, sizeof frac, " (%.0f%% of peak)", 100 * gbs / g_peak_gbs);
    printf("%-40s %-5s %-7s %9.1f us %8.1f GB/s %7.2f TFLOP/s%s\n", c->name, lp_dtype_name(c->dtype),
           !have_ref ? "no-ref" : ok ? (c->tol < 0 ? "exact" : "ok") : "FAIL", sec * 1e6, gbs, tfl, frac);
    if (!have_ref) printf("    (oracle unavailable: %s)\n", why);
}

static void free_case(op_case *c) {
    for (int i = 0; i < c->nin; i++) free_pair(&c->in[i]);
    for (int i = 0; i < c->nout; i++) free_pair(&c->out[i]);
}

static double tol_for(lp_dtype t) { return t == LP_F32 ? 1e-10 : t == LP_F16 ? 1e-5 : 1e-4; }
static double esz(lp_dtype t) { return (double)lp_dtype_size(t); }

/* ---- the ops ---- */

static lp_status run_layer_norm(lp_ctx *c, lp_tensor *in, lp_tensor *out, void *a, lp_error *e) {
    (void)a;
    return c->backend->layer_norm(c, &in[0], &in[1], &in[2], 1e-12f, &out[0], e);
}
static lp_status run_softmax(lp_ctx *c, lp_tensor *in, lp_tensor *out, void *a, lp_error *e) {
    return c->backend->softmax(c, &in[0], a ? &in[1] : NULL, 0.125f, false, &out[0], e);
}
static lp_status run_gelu(lp_ctx *c, lp_tensor *in, lp_tensor *out, void *a, lp_error *e) {
    (void)a;
    return c->backend->unary(c, LP_ACT_GELU_ERF, &in[0], &out[0], e);
}
static lp_status run_add(lp_ctx *c, lp_tensor *in, lp_tensor *out, void *a, lp_error *e) {
    (void)a;
    return c->backend->add(c, &in[0], &in[1], LP_ACT_NONE, &out[0], e);
}
static lp_status run_embedding(lp_ctx *c, lp_tensor *in, lp_tensor *out, void *a, lp_error *e) {
    (void)a;
    return c->backend->embedding(c, &in[0], &in[1], &out[0], e);
}
static lp_status run_cast(lp_ctx *c, lp_tensor *in, lp_tensor *out, void *a, lp_error *e) {
    (void)a;
    if (c == &g_ref) { /* f32 -> f32 on the host: the rounding is checked by the dtype compare */
        memcpy(out[0].data, in[0].data, lp_tensor_nbytes(&in[0]));
        return LP_OK;
    }
    return c->backend->cast(c, &in[0], &out[0], e);
}
static lp_status run_topk(lp_ctx *c, lp_tensor *in, lp_tensor *out, void *a, lp_error *e) {
    return c->backend->topk(c, &in[0], *(int64_t *)a, &out[0], &out[1], e);
}
static lp_status run_attention(lp_ctx *c, lp_tensor *in, lp_tensor *out, void *a, lp_error *e) {
    lp_attention_mask m = {&in[3], *(bool *)a};
    return c->backend->attention(c, &in[0], &in[1], &in[2], &m, 0.125f, &out[0], e);
}
static lp_status run_maxpool(lp_ctx *c, lp_tensor *in, lp_tensor *out, void *a, lp_error *e) {
    return c->backend->maxpool2d(c, &in[0], a, &out[0], e);
}
static lp_status run_avgpool(lp_ctx *c, lp_tensor *in, lp_tensor *out, void *a, lp_error *e) {
    (void)a;
    return c->backend->global_avgpool2d(c, &in[0], &out[0], e);
}
static lp_status run_linear(lp_ctx *c, lp_tensor *in, lp_tensor *out, void *a, lp_error *e) {
    return c->backend->linear(c, &in[0], &in[1], &in[2], *(lp_activation *)a, &out[0], e);
}
static lp_status run_conv(lp_ctx *c, lp_tensor *in, lp_tensor *out, void *a, lp_error *e) {
    return c->backend->conv2d(c, &in[0], &in[1], &in[2], NULL, a, LP_ACT_RELU, &out[0], e);
}

static void suite(lp_dtype t) {
    int64_t tokens = g_quick ? 128 : 8 * 128;
    op_case c;
    /* layer norm, BERT-base hidden */
    memset(&c, 0, sizeof c);
    c = (op_case){"layer_norm [tokens, 768]", t, .nin = 3, .nout = 1, .run = run_layer_norm, .tol = tol_for(t)};
    c.in[0] = make_pair(host_f32(2, (int64_t[]){tokens, 768}, 2.f), t, true);
    c.in[1] = make_pair(host_f32(1, (int64_t[]){768}, 1.f), LP_F32, true);
    c.in[2] = make_pair(host_f32(1, (int64_t[]){768}, 1.f), LP_F32, true);
    c.out[0] = make_pair(host_zeros(LP_F32, 2, (int64_t[]){tokens, 768}), t, false);
    c.bytes = 2.0 * tokens * 768 * esz(t);
    run_case(&c), free_case(&c);
    /* attention-score softmax with a padding mask: [B, 12, 128, 128] */
    int64_t B = g_quick ? 1 : 8;
    c = (op_case){"softmax masked [B, 12, 128, 128]", t, .nin = 2, .nout = 1, .run = run_softmax, .arg = &c, .tol = tol_for(t)};
    c.in[0] = make_pair(host_f32(4, (int64_t[]){B, 12, 128, 128}, 3.f), t, true);
    lp_tensor m = host_zeros(LP_F32, 4, (int64_t[]){B, 1, 1, 128});
    for (int64_t i = 0; i < B * 128; i++) ((float *)m.data)[i] = i % 128 > 100 ? -INFINITY : 0.f;
    c.in[1] = make_pair(m, LP_F32, true);
    c.out[0] = make_pair(host_zeros(LP_F32, 4, (int64_t[]){B, 12, 128, 128}), t, false);
    c.bytes = 2.0 * B * 12 * 128 * 128 * esz(t);
    run_case(&c), free_case(&c);
    /* vocabulary softmax */
    c = (op_case){"softmax [16, 65001]", t, .nin = 1, .nout = 1, .run = run_softmax, .tol = tol_for(t)};
    c.in[0] = make_pair(host_f32(2, (int64_t[]){16, 65001}, 3.f), t, true);
    c.out[0] = make_pair(host_zeros(LP_F32, 2, (int64_t[]){16, 65001}), t, false);
    c.bytes = 2.0 * 16 * 65001 * esz(t);
    run_case(&c), free_case(&c);
    /* GELU over the FFN activations, bias add */
    c = (op_case){"gelu [tokens, 3072]", t, .nin = 1, .nout = 1, .run = run_gelu, .tol = tol_for(t)};
    c.in[0] = make_pair(host_f32(2, (int64_t[]){tokens, 3072}, 2.f), t, true);
    c.out[0] = make_pair(host_zeros(LP_F32, 2, (int64_t[]){tokens, 3072}), t, false);
    c.bytes = 2.0 * tokens * 3072 * esz(t);
    run_case(&c), free_case(&c);
    c = (op_case){"add bias [tokens, 3072] + [3072]", t, .nin = 2, .nout = 1, .run = run_add, .tol = tol_for(t)};
    c.in[0] = make_pair(host_f32(2, (int64_t[]){tokens, 3072}, 2.f), t, true);
    c.in[1] = make_pair(host_f32(1, (int64_t[]){3072}, 2.f), t, true);
    c.out[0] = make_pair(host_zeros(LP_F32, 2, (int64_t[]){tokens, 3072}), t, false);
    c.bytes = 2.0 * tokens * 3072 * esz(t);
    run_case(&c), free_case(&c);
    /* embedding gather from a BERT vocabulary */
    c = (op_case){"embedding [30522, 768] x tokens", t, .nin = 2, .nout = 1, .run = run_embedding, .tol = -1};
    c.in[0] = make_pair(host_f32(2, (int64_t[]){30522, 768}, 1.f), t, true);
    lp_tensor ids = host_zeros(LP_I64, 1, (int64_t[]){tokens});
    for (int64_t i = 0; i < tokens; i++) ((int64_t *)ids.data)[i] = (int64_t)(lp_rng_next(&g_rng) % 30522);
    c.in[1] = make_pair(ids, LP_I64, true);
    c.out[0] = make_pair(host_zeros(LP_F32, 2, (int64_t[]){tokens, 768}), t, false);
    c.bytes = 2.0 * tokens * 768 * esz(t);
    run_case(&c), free_case(&c);
    /* cast f32 -> t: weights at upload */
    if (t != LP_F32) {
        c = (op_case){"cast f32 -> dtype [4096, 4096]", t, .nin = 1, .nout = 1, .run = run_cast, .tol = -1};
        c.in[0] = make_pair(host_f32(2, (int64_t[]){4096, 4096}, 1.f), LP_F32, true);
        c.out[0] = make_pair(host_zeros(LP_F32, 2, (int64_t[]){4096, 4096}), t, false);
        c.bytes = 4096.0 * 4096 * (4 + esz(t));
        run_case(&c), free_case(&c);
    }
    /* top-k over the vocabulary (beam 4 x 2) */
    static int64_t k8 = 8;
    c = (op_case){"topk k=8 [16, 65001]", t, .nin = 1, .nout = 2, .run = run_topk, .arg = &k8, .tol = -1};
    c.in[0] = make_pair(host_f32(2, (int64_t[]){16, 65001}, 3.f), t, true);
    c.out[0] = make_pair(host_zeros(LP_F32, 2, (int64_t[]){16, 8}), LP_F32, false);
    c.out[1] = make_pair(host_zeros(LP_I64, 2, (int64_t[]){16, 8}), LP_I64, false);
    c.bytes = 8.0 * 16 * 65001 * esz(t);
    run_case(&c), free_case(&c);
    /* attention: BERT-base encoder, and a decoder step with a KV cache */
    static bool enc = false, dec = true;
    for (int which = 0; which < 2; which++) {
        int64_t sq = which ? 1 : 128, sk = which ? 64 : 128, bb = which ? 8 * B : B;
        c = (op_case){which ? "attention decode [8B, 8, 1, 64] cache 64" : "attention encoder [B, 12, 128, 64]", t,
                      .nin = 4, .nout = 1, .run = run_attention, .arg = which ? &dec : &enc, .tol = tol_for(t)};
        int64_t h = which ? 8 : 12;
        c.in[0] = make_pair(host_f32(4, (int64_t[]){bb, h, sq, 64}, 1.f), t, true);
        c.in[1] = make_pair(host_f32(4, (int64_t[]){bb, h, sk, 64}, 1.f), t, true);
        c.in[2] = make_pair(host_f32(4, (int64_t[]){bb, h, sk, 64}, 1.f), t, true);
        lp_tensor km = host_zeros(LP_U8, 2, (int64_t[]){bb, sk});
        for (int64_t i = 0; i < bb * sk; i++) ((uint8_t *)km.data)[i] = i % sk < sk - (i / sk) % 17;
        c.in[3] = make_pair(km, LP_U8, true);
        c.out[0] = make_pair(host_zeros(LP_F32, 4, (int64_t[]){bb, h, sq, 64}), t, false);
        c.bytes = esz(t) * bb * h * 64 * (2.0 * sq + 2.0 * sk);
        c.flops = 4.0 * bb * h * sq * sk * 64;
        run_case(&c), free_case(&c);
    }
    /* ResNet-50 pooling */
    static lp_pool2d_params stem = {3, 3, 2, 2, 1, 1, false};
    int64_t n = g_quick ? 1 : 8;
    c = (op_case){"maxpool 3x3/2 [N, 64, 112, 112]", t, .nin = 1, .nout = 1, .run = run_maxpool, .arg = &stem, .tol = -1};
    c.in[0] = make_pair(host_f32(4, (int64_t[]){n, 64, 112, 112}, 1.f), t, true);
    c.out[0] = make_pair(host_zeros(LP_F32, 4, (int64_t[]){n, 64, 56, 56}), t, false);
    c.bytes = esz(t) * n * 64 * (112.0 * 112 + 56 * 56);
    run_case(&c), free_case(&c);
    c = (op_case){"global avgpool [N, 2048, 7, 7]", t, .nin = 1, .nout = 1, .run = run_avgpool, .tol = tol_for(t)};
    c.in[0] = make_pair(host_f32(4, (int64_t[]){n, 2048, 7, 7}, 1.f), t, true);
    c.out[0] = make_pair(host_zeros(LP_F32, 2, (int64_t[]){n, 2048}), t, false);
    c.bytes = esz(t) * n * 2048 * 50.0;
    run_case(&c), free_case(&c);
    /* cuBLASLt: BERT FFN1 with bias + GELU (tanh form fused; erf form after) */
    static lp_activation acts[2] = {LP_ACT_GELU_TANH, LP_ACT_GELU_ERF};
    for (int i = 0; i < 2; i++) {
        c = (op_case){i ? "linear 768->3072 + bias + gelu (erf)" : "linear 768->3072 + bias + gelu_tanh", t, .nin = 3,
                      .nout = 1, .run = run_linear, .arg = &acts[i], .tol = t == LP_F32 ? 1e-6 : tol_for(t) * 10};
        c.in[0] = make_pair(host_f32(2, (int64_t[]){tokens, 768}, 1.f), t, true);
        c.in[1] = make_pair(host_f32(2, (int64_t[]){3072, 768}, 0.05f), t, true);
        c.in[2] = make_pair(host_f32(1, (int64_t[]){3072}, 0.1f), LP_F32, true);
        c.out[0] = make_pair(host_zeros(LP_F32, 2, (int64_t[]){tokens, 3072}), t, false);
        c.bytes = esz(t) * (tokens * 768.0 + 3072.0 * 768 + tokens * 3072.0);
        c.flops = 2.0 * tokens * 768 * 3072;
        run_case(&c), free_case(&c);
    }
    /* cuDNN: a ResNet-50 3x3 convolution + bias + ReLU (f32: the fused call) */
    static lp_conv2d_params cp = {1, 1, 1, 1, 1, 1, 1};
    c = (op_case){"conv 3x3 64->64 [N, 64, 56, 56] + bias + relu", t, .nin = 3, .nout = 1, .run = run_conv, .arg = &cp,
                  .tol = t == LP_F32 ? 1e-6 : tol_for(t) * 10};
    c.in[0] = make_pair(host_f32(4, (int64_t[]){n, 64, 56, 56}, 1.f), t, true);
    c.in[1] = make_pair(host_f32(4, (int64_t[]){64, 64, 3, 3}, 0.05f), t, true);
    c.in[2] = make_pair(host_f32(1, (int64_t[]){64}, 0.1f), LP_F32, true);
    c.out[0] = make_pair(host_zeros(LP_F32, 4, (int64_t[]){n, 64, 56, 56}), t, false);
    c.bytes = esz(t) * (2.0 * n * 64 * 56 * 56 + 64 * 64 * 9);
    c.flops = 2.0 * n * 64 * 56 * 56 * 64 * 9;
    run_case(&c), free_case(&c);
}

/* ---- the runtime on real streams ---- */

/* device_alloc / device_free go through the caching pool: a block freed on
 * this thread's stream comes straight back; device_weight uploads once and
 * converts exactly as lp_f32_to_f16 / lp_f32_to_bf16. Prints how long a
 * cached allocation takes (cudaMalloc is tens of microseconds). */
static void runtime_checks(void) {
    lp_error err = {0};
    void *a = dev_alloc(3 << 20);
    GPU->device_free(a);
    uint64_t t0 = lp_now_ns();
    void *b = dev_alloc(3 << 20);
    double us = (double)(lp_now_ns() - t0) / 1e3;
    CHECK_MSG(b == a, "a block freed on this stream is reused at once");
    GPU->device_free(b);
    printf("  %-44s %8.2f us\n", "device_alloc 3 MiB from the pool", us);

    enum { R = 1000, C = 37 };
    float *x = malloc(sizeof(float) * R * C);
    uint16_t *h = malloc(sizeof(uint16_t) * R * C);
    lp_rng_fill_normal(&g_rng, x, R * C, 4.f);
    lp_tensor host = lp_tensor_2d(x, LP_F32, R, C);
    static const lp_dtype want[2] = {LP_F16, LP_BF16};
    for (int i = 0; i < 2; i++) {
        lp_tensor d1, d2;
        CHECK_OK(GPU->device_weight(&host, want[i], &d1, &err), &err);
        CHECK_OK(GPU->device_weight(&host, want[i], &d2, &err), &err);
        CHECK_MSG(d1.data == d2.data && d1.device.kind == LP_DEVICE_CUDA, "device_weight %s: one upload",
                  lp_dtype_name(want[i]));
        copy(h, d1.data, sizeof(uint16_t) * R * C, false);
        size_t bad = 0;
        for (int j = 0; j < R * C; j++) bad += h[j] != (want[i] == LP_F16 ? lp_f32_to_f16(x[j]) : lp_f32_to_bf16(x[j]));
        CHECK_MSG(bad == 0, "device_weight %s: %zu values differ from the host conversion", lp_dtype_name(want[i]),
                  bad);
    }
    free(x);
    free(h);
}

int main(int argc, char **argv) {
    const char *spec = "cuda";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--device") && i + 1 < argc) spec = argv[++i];
        else if (!strcmp(argv[i], "--iters") && i + 1 < argc) g_iters = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--quick")) g_quick = true;
        else {
            fprintf(stderr, "usage: gpu_suite [--device cuda:N] [--iters N] [--quick]\n");
            return 2;
        }
    }
    if (g_iters < 1) g_iters = 1;
    lp_backend_selection sel;
    lp_error err = {0};
#ifdef LP_GPU_SUITE_EMULATED
    /* the suite's own logic, checked without a GPU: the emulated table */
    memset(&sel, 0, sizeof sel);
    sel.backend = lp_cuda_backend_table();
    sel.device.kind = LP_DEVICE_CUDA;
    if (0) {
#else
    if (lp_backend_get(spec, &sel, &err) != LP_OK) {
#endif
        printf("skipped: %s\n", err.msg);
        return SKIP;
    }
    if (sel.fell_back || sel.device.kind != LP_DEVICE_CUDA) {
        printf("skipped: no GPU to test: %s\n", sel.note);
        return SKIP;
    }
    GPU = sel.backend;
    char name[256];
#ifdef LP_GPU_SUITE_EMULATED
    snprintf(name, sizeof name, "the emulator (tests/cuda/emu.h): timings mean nothing");
#else
    lp_backend_cuda_describe(sel.device.index, name, sizeof name);
#endif
    /* peaks for the fraction column (dense, no sparsity), by name */
    if (strstr(name, "H100") || strstr(name, "H200")) g_peak_gbs = strstr(name, "H200") ? 4800 : 3350, g_peak_tflops_f32 = 67, g_peak_tflops_16 = 989;
    else if (strstr(name, "A100")) g_peak_gbs = 2039, g_peak_tflops_f32 = 19.5, g_peak_tflops_16 = 312;
    printf("GPU suite on %s: %s, %d iterations per timing\n", spec, name, g_iters);
    g_rng = lp_rng_seed(1);
    CHECK_OK(lp_ctx_init(&g_ref, lp_backend_cpu(), NULL, &err), &err);
    CHECK_OK(lp_ctx_init(&g_gpu, GPU, NULL, &err), &err);
    printf("runtime:\n");
    runtime_checks();
    lp_dtype types[3] = {LP_F32, LP_F16, LP_BF16};
    for (int i = 0; i < 3; i++) suite(types[i]);
#ifdef LP_GPU_SUITE_MODELS
    printf("models (BERT-family, ResNet, Marian fixtures; weights and activations in device memory) vs the CPU:\n");
    lp_gpu_suite_models(GPU);
#endif
    lp_ctx_release(&g_ref);
    lp_ctx_release(&g_gpu);
    return lp_test_finish();
}
