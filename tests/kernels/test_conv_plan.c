/* lp_conv2d_plan (kernels/conv_plan.h) against the "cpu-ref" oracle's
 * lp_conv2d on NCHW copies: every layout combination (x and out contiguous or
 * channels-last; residual none, separate in either layout, or out itself),
 * on the "cpu" backend (oneDNN's primitive when built with it) with 1-, 2-
 * and 3-thread pools and on "cpu-ref" (the layout adapter), over awkward
 * shapes (size 1, odd sizes, stride 2, 1x1, 7x7, padding beyond the kernel,
 * a stride that skips the input's tail, dilation, groups, depthwise) at batch
 * 1 and 3 through the SAME plan (its per-shape cache), every activation,
 * and ResNet-50's shapes. Also: the scratch is rewound, a plan serves two
 * threads at once, and the refusals.
 *
 * On the "cpu" backend the 3x3 stride-1 cases without a residual run oneDNN's
 * Winograd kernel (kernels/cpu/conv_dnnl.c), the others its direct kernels.
 *
 * Tolerance: NMSE <= 1e-10, as tests/kernels/test_conv.c (f32 sums in another
 * order, Winograd's F(2x2, 3x3) transforms; oneDNN's GELU/tanh are polynomial
 * approximations within ~1e-7 relative, far inside it). */
#include <pthread.h>

#include "kernels/conv_plan.h"
#include "tests/kernels/gemm_test_env.h"

#define NMSE_TOL 1e-10

static gemm_env env;

typedef struct plan_case {
    int64_t c, h, w, cout, kh, kw;
    lp_conv2d_params p;
    bool bias;
    lp_activation act;
} plan_case;

static lp_conv2d_params params(int s_h, int s_w, int p_h, int p_w, int d_h, int d_w, int groups) {
    lp_conv2d_params p = {s_h, s_w, p_h, p_w, d_h, d_w, groups};
    return p;
}

/* A fresh tensor holding t's values in the asked layout. */
static lp_tensor relayout(const lp_tensor *t, bool channels_last) {
    const int64_t *s = t->shape;
    float *d = gemm_alloc((size_t)lp_tensor_numel(t) * sizeof(float));
    lp_tensor o = channels_last ? lp_tensor_4d_channels_last(d, LP_F32, s[0], s[1], s[2], s[3])
                                : lp_tensor_4d(d, LP_F32, s[0], s[1], s[2], s[3]);
    const float *src = t->data;
    for (int64_t n = 0; n < s[0]; n++)
        for (int64_t c = 0; c < s[1]; c++)
            for (int64_t h = 0; h < s[2]; h++)
                for (int64_t w = 0; w < s[3]; w++)
                    d[n * o.stride[0] + c * o.stride[1] + h * o.stride[2] + w * o.stride[3]] =
                        src[n * t->stride[0] + c * t->stride[1] + h * t->stride[2] +
                            w * t->stride[3]];
    return o;
}

enum { RES_NONE, RES_NCHW, RES_NHWC, RES_IN_PLACE, RES_KINDS };
static const char *res_name[RES_KINDS] = {"none", "nchw", "nhwc", "in-place"};

/* One run of plan on ctx with the given layouts, compared with want (NCHW). */
static void check_layouts(lp_ctx *ctx, const char *ctx_name, const lp_conv2d_plan *plan,
                          const char *what, const lp_tensor *x, const lp_tensor *res,
                          const lp_tensor *want, lp_activation act, bool x_cl, bool y_cl, int rk) {
    lp_error err = {0};
    lp_tensor xl = relayout(x, x_cl);
    lp_tensor out = relayout(want, y_cl); /* shape and layout; values overwritten */
    size_t n = (size_t)lp_tensor_numel(&out);
    lp_tensor rl = {0};
    const lp_tensor *rp = NULL;
    if (rk == RES_IN_PLACE) {
        lp_tensor tmp = relayout(res, y_cl);
        memcpy(out.data, tmp.data, n * sizeof(float));
        free(tmp.data);
        rp = &out;
    } else {
        gemm_fill(out.data, n, GEMM_SENTINEL);
        if (rk != RES_NONE) {
            rl = relayout(res, rk == RES_NHWC);
            rp = &rl;
        }
    }
    lp_status st = lp_conv2d_plan_run(ctx, plan, &xl, rp, act, &out, &err);
    CHECK_MSG(st == LP_OK, "%s on %s x=%s out=%s res=%s: %s", what, ctx_name,
              x_cl ? "nhwc" : "nchw", y_cl ? "nhwc" : "nchw", res_name[rk], err.msg);
    lp_tensor got = relayout(&out, false);
    char label[400];
    snprintf(label, sizeof label, "%s on %s x=%s out=%s res=%s", what, ctx_name,
             x_cl ? "nhwc" : "nchw", y_cl ? "nhwc" : "nchw", res_name[rk]);
    lp_test_check_nmse(label, got.data, want->data, n, NMSE_TOL);
    CHECK_MSG(lp_arena_used(ctx->scratch) == 0, "%s: scratch not rewound", label);
    free(xl.data), free(out.data), free(got.data), free(rl.data);
}

/* The case at batch 1 then 3 through one plan, on every context and layout. */
static void run_case(lp_rng *rng, const plan_case *c, bool all_layouts) {
    lp_error err = {0};
    int64_t cg = c->c / c->p.groups;
    lp_tensor wt = gemm_tensor(rng, 4, (const int64_t[]){c->cout, cg, c->kh, c->kw},
                               1.0f / sqrtf((float)(cg * c->kh * c->kw)), 0);
    lp_tensor b = gemm_tensor(rng, 1, &c->cout, 0.5f, 0);
    lp_conv2d_plan *plan = NULL;
    CHECK_OK(lp_conv2d_plan_create(&wt, c->bias ? &b : NULL, &c->p, &plan, &err), &err);
    if (!plan) return;
    int64_t ho = lp_conv_out_size(c->h, (int)c->kh, c->p.stride_h, c->p.pad_h, c->p.dilation_h);
    int64_t wo = lp_conv_out_size(c->w, (int)c->kw, c->p.stride_w, c->p.pad_w, c->p.dilation_w);
    CHECK(ho > 0 && wo > 0);
    static const int64_t batches[2] = {1, 3};
    for (int bi = 0; bi < 2; bi++) {
        int64_t nb = batches[bi];
        lp_tensor x = gemm_tensor(rng, 4, (const int64_t[]){nb, c->c, c->h, c->w}, 1.0f, 0);
        int64_t oshape[4] = {nb, c->cout, ho, wo};
        lp_tensor res = gemm_tensor(rng, 4, oshape, 1.0f, 0);
        lp_tensor want[2] = {gemm_tensor(NULL, 4, oshape, 0, 0),
                             gemm_tensor(NULL, 4, oshape, 0, 0)};
        const lp_tensor *bp = c->bias ? &b : NULL;
        CHECK_OK(lp_conv2d(&env.ref, &x, &wt, bp, NULL, &c->p, c->act, &want[0], &err), &err);
        CHECK_OK(lp_conv2d(&env.ref, &x, &wt, bp, &res, &c->p, c->act, &want[1], &err), &err);
        char what[240];
        snprintf(what, sizeof what,
                 "plan x=[%lld,%lld,%lld,%lld] w=[%lld,%lld,%lld,%lld] s=%dx%d p=%dx%d d=%dx%d "
                 "g=%d bias=%d act=%s",
                 (long long)nb, (long long)c->c, (long long)c->h, (long long)c->w,
                 (long long)c->cout, (long long)cg, (long long)c->kh, (long long)c->kw,
                 c->p.stride_h, c->p.stride_w, c->p.pad_h, c->p.pad_w, c->p.dilation_h,
                 c->p.dilation_w, c->p.groups, c->bias, lp_activation_name(c->act));
        for (int ci = 0; ci <= GEMM_NFAST; ci++) {
            lp_ctx *ctx = ci < GEMM_NFAST ? &env.fast[ci] : &env.ref;
            char name[32];
            snprintf(name, sizeof name, ci < GEMM_NFAST ? "cpu/%d threads" : "cpu-ref", ci + 1);
            for (int xl = 0; xl < 2; xl++)
                for (int yl = 0; yl < 2; yl++)
                    for (int rk = 0; rk < RES_KINDS; rk++) {
                        /* the full matrix once per case on 2 threads and the
                         * oracle; the model's combinations everywhere */
                        bool model_like = xl == yl && (rk == RES_NONE || rk == RES_IN_PLACE);
                        if (!all_layouts && !model_like) continue;
                        if (ci != 1 && ci != GEMM_NFAST && !model_like) continue;
                        check_layouts(ctx, name, plan, what, &x, &res, &want[rk != RES_NONE],
                                      c->act, xl, yl, rk);
                    }
        }
        free(x.data), free(res.data), free(want[0].data), free(want[1].data);
    }
    lp_conv2d_plan_free(plan);
    free(wt.data), free(b.data);
}

static void test_plan_awkward(void) {
    lp_rng rng = lp_rng_seed(51);
    plan_case cases[] = {
        /* size 1 everywhere */
        {1, 1, 1, 1, 1, 1, params(1, 1, 0, 0, 1, 1, 1), true, LP_ACT_NONE},
        /* odd sizes, 3x3 same padding */
        {3, 7, 13, 5, 3, 3, params(1, 1, 1, 1, 1, 1, 1), true, LP_ACT_RELU},
        /* stride 2 on an odd input: the stride skips the last row and column */
        {5, 9, 11, 7, 3, 3, params(2, 2, 0, 0, 1, 1, 1), true, LP_ACT_RELU},
        /* 1x1 stride 2 on an even input (negative right padding for oneDNN) */
        {16, 8, 10, 24, 1, 1, params(2, 2, 0, 0, 1, 1, 1), false, LP_ACT_NONE},
        /* 7x7 stride 2 pad 3 on 3 channels, the stem, small and odd */
        {3, 23, 19, 16, 7, 7, params(2, 2, 3, 3, 1, 1, 1), true, LP_ACT_RELU},
        /* asymmetric kernel, stride, padding and dilation, groups 2 */
        {4, 13, 7, 6, 3, 5, params(2, 1, 0, 2, 2, 1, 2), true, LP_ACT_GELU_ERF},
        /* depthwise with stride and padding */
        {8, 15, 17, 8, 3, 3, params(2, 2, 1, 1, 1, 1, 8), true, LP_ACT_TANH},
        /* more padding than kernel: a border of pure bias */
        {2, 3, 3, 4, 2, 2, params(1, 1, 3, 2, 1, 1, 1), true, LP_ACT_GELU_TANH},
        /* channels no multiple of any vector */
        {13, 5, 9, 127, 3, 3, params(1, 1, 1, 1, 1, 1, 1), true, LP_ACT_RELU},
        {33, 7, 9, 65, 1, 1, params(1, 1, 0, 0, 1, 1, 1), true, LP_ACT_RELU},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        run_case(&rng, &cases[i], true);
}

/* ResNet-50's shapes at a reduced spatial size (the full size is covered by
 * the model test); the model's layouts only. */
static void test_plan_resnet50(void) {
    lp_rng rng = lp_rng_seed(52);
    plan_case cases[] = {
        {3, 64, 64, 64, 7, 7, params(2, 2, 3, 3, 1, 1, 1), true, LP_ACT_RELU},
        {64, 16, 16, 64, 3, 3, params(1, 1, 1, 1, 1, 1, 1), true, LP_ACT_RELU},
        {64, 16, 16, 256, 1, 1, params(1, 1, 0, 0, 1, 1, 1), true, LP_ACT_RELU},
        {128, 16, 16, 128, 3, 3, params(2, 2, 1, 1, 1, 1, 1), true, LP_ACT_RELU},
        {256, 16, 16, 512, 1, 1, params(2, 2, 0, 0, 1, 1, 1), true, LP_ACT_NONE},
        {512, 7, 7, 2048, 1, 1, params(1, 1, 0, 0, 1, 1, 1), true, LP_ACT_RELU},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        run_case(&rng, &cases[i], false);
}

/* Three threads run one plan at once (each with its own context), all first
 * runs, so they may race to build the same cache entry, and one may find
 * every prepared set of memory objects busy. */
typedef struct thread_arg {
    const lp_conv2d_plan *plan;
    lp_tensor x, out;
    lp_status st;
} thread_arg;

static void *run_thread(void *p) {
    thread_arg *a = p;
    lp_error err = {0};
    lp_threadpool *pool = lp_threadpool_create(1);
    lp_ctx ctx;
    a->st = lp_ctx_init(&ctx, lp_backend_cpu(), pool, &err);
    if (a->st == LP_OK)
        a->st = lp_conv2d_plan_run(&ctx, a->plan, &a->x, NULL, LP_ACT_RELU, &a->out, &err);
    lp_ctx_release(&ctx);
    lp_threadpool_destroy(pool);
    return NULL;
}

static void test_plan_threads(void) {
    lp_rng rng = lp_rng_seed(53);
    lp_error err = {0};
    lp_tensor wt = gemm_tensor(&rng, 4, (const int64_t[]){32, 16, 3, 3}, 0.1f, 0);
    lp_conv2d_params p = params(1, 1, 1, 1, 1, 1, 1);
    lp_conv2d_plan *plan = NULL;
    CHECK_OK(lp_conv2d_plan_create(&wt, NULL, &p, &plan, &err), &err);
    lp_tensor x = gemm_tensor(&rng, 4, (const int64_t[]){2, 16, 12, 12}, 1.0f, 0);
    lp_tensor want = gemm_tensor(NULL, 4, (const int64_t[]){2, 32, 12, 12}, 0, 0);
    CHECK_OK(lp_conv2d(&env.ref, &x, &wt, NULL, NULL, &p, LP_ACT_RELU, &want, &err), &err);
    enum { T = 3 };
    thread_arg args[T];
    pthread_t th[T];
    for (int i = 0; i < T; i++) {
        args[i] = (thread_arg){plan, relayout(&x, true), relayout(&want, true), LP_OK};
        CHECK(pthread_create(&th[i], NULL, run_thread, &args[i]) == 0);
    }
    for (int i = 0; i < T; i++) {
        pthread_join(th[i], NULL);
        CHECK(args[i].st == LP_OK);
        lp_tensor got = relayout(&args[i].out, false);
        lp_test_check_nmse("plan run from three threads at once", got.data, want.data,
                           (size_t)lp_tensor_numel(&want), NMSE_TOL);
        free(got.data), free(args[i].x.data), free(args[i].out.data);
    }
    lp_conv2d_plan_free(plan);
    free(wt.data), free(x.data), free(want.data);
}

/* More batch sizes than a plan keeps primitives for (16), then the first
 * ones again: entries are replaced least recently used first, and every run
 * still matches the oracle. */
static void test_plan_many_shapes(void) {
    lp_rng rng = lp_rng_seed(54);
    lp_error err = {0};
    lp_tensor wt = gemm_tensor(&rng, 4, (const int64_t[]){8, 4, 3, 3}, 0.3f, 0);
    lp_tensor b = gemm_tensor(&rng, 1, (const int64_t[]){8}, 0.5f, 0);
    lp_conv2d_params p = params(1, 1, 1, 1, 1, 1, 1);
    lp_conv2d_plan *plan = NULL;
    CHECK_OK(lp_conv2d_plan_create(&wt, &b, &p, &plan, &err), &err);
    static const int64_t sizes[] = {1,  2,  3,  4,  5,  6,  7,  8,  9, 10, 11, 12,
                                    13, 14, 15, 16, 17, 18, 19, 20, 1, 2,  20};
    for (size_t i = 0; plan && i < sizeof sizes / sizeof sizes[0]; i++) {
        int64_t nb = sizes[i];
        lp_tensor x = gemm_tensor(&rng, 4, (const int64_t[]){nb, 4, 5, 6}, 1.0f, 0);
        lp_tensor want = gemm_tensor(NULL, 4, (const int64_t[]){nb, 8, 5, 6}, 0, 0);
        CHECK_OK(lp_conv2d(&env.ref, &x, &wt, &b, NULL, &p, LP_ACT_RELU, &want, &err), &err);
        lp_tensor xl = relayout(&x, true), out = relayout(&want, true);
        gemm_fill(out.data, (size_t)lp_tensor_numel(&out), GEMM_SENTINEL);
        CHECK_OK(lp_conv2d_plan_run(&env.fast[1], plan, &xl, NULL, LP_ACT_RELU, &out, &err), &err);
        lp_tensor got = relayout(&out, false);
        char what[64];
        snprintf(what, sizeof what, "plan batch %lld (entry %zu)", (long long)nb, i);
        lp_test_check_nmse(what, got.data, want.data, (size_t)lp_tensor_numel(&want), NMSE_TOL);
        free(x.data), free(want.data), free(xl.data), free(out.data), free(got.data);
    }
    lp_conv2d_plan_free(plan);
    free(wt.data), free(b.data);
}

static void test_plan_refusals(void) {
    lp_error err = {0};
    lp_ctx *ctx = &env.fast[1];
    static float xd[2 * 4 * 6 * 6], wd[8 * 4 * 3 * 3], bd[8], yd[2 * 8 * 6 * 6], rd[2 * 8 * 6 * 6];
    lp_tensor x = lp_tensor_4d(xd, LP_F32, 2, 4, 6, 6);
    lp_tensor w = lp_tensor_4d(wd, LP_F32, 8, 4, 3, 3);
    lp_tensor b = lp_tensor_1d(bd, LP_F32, 8);
    lp_tensor y = lp_tensor_4d(yd, LP_F32, 2, 8, 6, 6);
    lp_conv2d_params p = params(1, 1, 1, 1, 1, 1, 1);
    lp_conv2d_plan *plan = NULL;

    lp_conv2d_params bad = p;
    bad.stride_h = 0;
    CHECK_FAILS(lp_conv2d_plan_create(&w, &b, &bad, &plan, &err), LP_ERR_INVALID_ARG, &err,
                "conv2d plan: stride 0x1");
    CHECK(plan == NULL);
    bad = p;
    bad.groups = 3;
    CHECK_FAILS(lp_conv2d_plan_create(&w, &b, &bad, &plan, &err), LP_ERR_SHAPE, &err,
                "groups 3 dividing its 8 outputs");
    lp_tensor b7 = lp_tensor_1d(bd, LP_F32, 7);
    CHECK_FAILS(lp_conv2d_plan_create(&w, &b7, &p, &plan, &err), LP_ERR_SHAPE, &err,
                "conv2d plan: bias must be a contiguous [8]");
    lp_tensor wt = lp_tensor_transpose(&w, 2, 3);
    CHECK_FAILS(lp_conv2d_plan_create(&wt, &b, &p, &plan, &err), LP_ERR_SHAPE, &err,
                "must be contiguous");

    CHECK_OK(lp_conv2d_plan_create(&w, &b, &p, &plan, &err), &err);
    CHECK_OK(lp_conv2d_plan_run(ctx, plan, &x, NULL, LP_ACT_NONE, &y, &err), &err);
    lp_tensor x5 = lp_tensor_4d(xd, LP_F32, 1, 5, 6, 6);
    CHECK_FAILS(lp_conv2d_plan_run(ctx, plan, &x5, NULL, LP_ACT_NONE, &y, &err), LP_ERR_SHAPE, &err,
                "conv2d plan: x has 5 channels; the weight takes 4");
    lp_tensor y_bad = lp_tensor_4d(yd, LP_F32, 2, 8, 4, 4);
    CHECK_FAILS(lp_conv2d_plan_run(ctx, plan, &x, NULL, LP_ACT_NONE, &y_bad, &err), LP_ERR_SHAPE,
                &err, "conv2d plan: out must be [2, 8, 6, 6]");
    lp_tensor xt = lp_tensor_transpose(&x, 2, 3);
    CHECK_FAILS(lp_conv2d_plan_run(ctx, plan, &xt, NULL, LP_ACT_NONE, &y, &err), LP_ERR_SHAPE, &err,
                "conv2d plan: x must be contiguous (NCHW) or channels-last");
    lp_tensor r_shift = lp_tensor_4d(yd + 1, LP_F32, 2, 8, 6, 5);
    lp_tensor r_part = lp_tensor_4d(yd + 8, LP_F32, 2, 8, 6, 6);
    CHECK_FAILS(lp_conv2d_plan_run(ctx, plan, &x, &r_shift, LP_ACT_NONE, &y, &err), LP_ERR_SHAPE,
                &err, "conv2d plan: residual must have out's shape");
    CHECK_FAILS(lp_conv2d_plan_run(ctx, plan, &x, &r_part, LP_ACT_NONE, &y, &err),
                LP_ERR_INVALID_ARG, &err, "conv2d plan: residual partly overlaps out");
    lp_tensor y_on_x = lp_tensor_4d(xd, LP_F32, 2, 8, 6, 6);
    CHECK_FAILS(lp_conv2d_plan_run(ctx, plan, &x, NULL, LP_ACT_NONE, &y_on_x, &err),
                LP_ERR_INVALID_ARG, &err, "conv2d plan: out overlaps x");
    CHECK_FAILS(lp_conv2d_plan_run(ctx, plan, &x, NULL, (lp_activation)-1, &y, &err),
                LP_ERR_INVALID_ARG, &err, "conv2d plan: activation -1");
    lp_tensor x16 = x;
    x16.dtype = LP_F16;
    CHECK_FAILS(lp_conv2d_plan_run(ctx, plan, &x16, NULL, LP_ACT_NONE, &y, &err), LP_ERR_DTYPE,
                &err, "x has dtype f16");
    (void)rd;
    lp_conv2d_plan_free(plan);
    lp_conv2d_plan_free(NULL);
}

static void test_layout_helpers(void) {
    static float d[2 * 3 * 4 * 5];
    lp_tensor cl = lp_tensor_4d_channels_last(d, LP_F32, 2, 3, 4, 5);
    lp_tensor nc = lp_tensor_4d(d, LP_F32, 2, 3, 4, 5);
    CHECK(lp_tensor_is_channels_last(&cl) && !lp_tensor_is_contiguous(&cl));
    CHECK(!lp_tensor_is_channels_last(&nc) && lp_tensor_is_contiguous(&nc));
    CHECK(cl.stride[0] == 60 && cl.stride[1] == 1 && cl.stride[2] == 15 && cl.stride[3] == 3);
    lp_tensor one = lp_tensor_4d(d, LP_F32, 2, 1, 4, 5); /* one channel: both layouts */
    CHECK(lp_tensor_is_channels_last(&one) && lp_tensor_is_contiguous(&one));
    /* the fast backend computes channels-last exactly when oneDNN is there */
    CHECK(!lp_conv2d_plan_channels_last(&env.ref));
#if defined(LP_GEMM_DNNL)
    CHECK(lp_conv2d_plan_channels_last(&env.fast[0]));
#endif
}

int main(void) {
    gemm_env_init(&env);
    test_layout_helpers();
    test_plan_awkward();
    test_plan_resnet50();
    test_plan_threads();
    test_plan_many_shapes();
    test_plan_refusals();
    gemm_env_release(&env);
    return lp_test_finish();
}
