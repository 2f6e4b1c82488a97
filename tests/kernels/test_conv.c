/* conv2d and batch-norm folding: the "cpu" backend (GEMM, im2col, depthwise
 * loops, fused epilogue) against the "cpu-ref" oracle (seven double-summed
 * loops) on 1-, 2- and 3-thread pools: size 1, odd sizes, asymmetric stride,
 * padding and dilation, groups and depthwise, batch > 1, every activation,
 * ResNet-50's layer shapes; the output-size rule; the front-end's refusals.
 *
 * Tolerance: NMSE <= 1e-10 (f32 summation in another order over up to
 * C*KH*KW = 4608 terms; measured at most ~1e-13). */
#include "tests/kernels/gemm_test_env.h"

#define NMSE_TOL 1e-10

static gemm_env env;

typedef struct conv_case {
    int64_t n, c, h, w, cout, kh, kw;
    lp_conv2d_params p;
    bool bias, residual;
    lp_activation act;
} conv_case;

static void run_conv_case(lp_rng *rng, const conv_case *c) {
    lp_error err = {0};
    int64_t ho = lp_conv_out_size(c->h, (int)c->kh, c->p.stride_h, c->p.pad_h, c->p.dilation_h);
    int64_t wo = lp_conv_out_size(c->w, (int)c->kw, c->p.stride_w, c->p.pad_w, c->p.dilation_w);
    CHECK(ho > 0 && wo > 0);
    int64_t cg = c->c / c->p.groups;
    lp_tensor x = gemm_tensor(rng, 4, (const int64_t[]){c->n, c->c, c->h, c->w}, 1.0f, 0);
    lp_tensor wt = gemm_tensor(rng, 4, (const int64_t[]){c->cout, cg, c->kh, c->kw},
                               1.0f / sqrtf((float)(cg * c->kh * c->kw)), 0);
    lp_tensor b = gemm_tensor(rng, 1, &c->cout, 0.5f, 0);
    int64_t oshape[4] = {c->n, c->cout, ho, wo};
    lp_tensor res = gemm_tensor(rng, 4, oshape, 1.0f, 0);
    lp_tensor ref = gemm_tensor(NULL, 4, oshape, 0, GEMM_SENTINEL);
    lp_tensor out = gemm_tensor(NULL, 4, oshape, 0, GEMM_SENTINEL);
    size_t n = (size_t)lp_tensor_numel(&out);
    char what[240];
    snprintf(what, sizeof what,
             "conv2d x=[%lld,%lld,%lld,%lld] w=[%lld,%lld,%lld,%lld] s=%dx%d p=%dx%d d=%dx%d g=%d "
             "bias=%d res=%d act=%s",
             (long long)c->n, (long long)c->c, (long long)c->h, (long long)c->w, (long long)c->cout,
             (long long)cg, (long long)c->kh, (long long)c->kw, c->p.stride_h, c->p.stride_w,
             c->p.pad_h, c->p.pad_w, c->p.dilation_h, c->p.dilation_w, c->p.groups, c->bias,
             c->residual, lp_activation_name(c->act));
    const lp_tensor *bp = c->bias ? &b : NULL, *rp = c->residual ? &res : NULL;
    CHECK_OK(lp_conv2d(&env.ref, &x, &wt, bp, rp, &c->p, c->act, &ref, &err), &err);
    for (int p = 0; p < GEMM_NFAST; p++) {
        gemm_fill(out.data, n, GEMM_SENTINEL);
        lp_status st = lp_conv2d(&env.fast[p], &x, &wt, bp, rp, &c->p, c->act, &out, &err);
        CHECK_MSG(st == LP_OK, "%s (%d threads): %s", what, p + 1, err.msg);
        if (!lp_test_check_nmse(what, out.data, ref.data, n, NMSE_TOL))
            fprintf(stderr, "  ... with %d threads\n", p + 1);
        CHECK(lp_arena_used(env.fast[p].scratch) == 0); /* im2col scratch rewound */
    }
    free(x.data), free(wt.data), free(b.data), free(res.data), free(ref.data), free(out.data);
}

static lp_conv2d_params params(int s_h, int s_w, int p_h, int p_w, int d_h, int d_w, int groups) {
    lp_conv2d_params p = {s_h, s_w, p_h, p_w, d_h, d_w, groups};
    return p;
}

static void test_conv_awkward(void) {
    lp_rng rng = lp_rng_seed(31);
    conv_case cases[] = {
        /* size 1 everywhere: a 1x1 direct GEMM with one element */
        {1, 1, 1, 1, 1, 1, 1, params(1, 1, 0, 0, 1, 1, 1), true, false, LP_ACT_NONE},
        /* odd sizes, 3x3 same padding */
        {2, 3, 7, 13, 5, 3, 3, params(1, 1, 1, 1, 1, 1, 1), true, true, LP_ACT_RELU},
        /* asymmetric kernel, stride, padding and dilation, groups 2, batch 3 */
        {3, 4, 13, 7, 6, 3, 5, params(2, 1, 0, 2, 2, 1, 2), true, true, LP_ACT_GELU_ERF},
        /* groups 4 with 2 channels each, stride 2 both ways, odd width */
        {2, 8, 9, 31, 12, 3, 3, params(2, 2, 1, 1, 1, 1, 4), false, true, LP_ACT_GELU_TANH},
        /* depthwise, multiplier 1 and 2, with stride and dilation */
        {2, 8, 15, 17, 8, 3, 3, params(1, 1, 1, 1, 1, 1, 8), true, false, LP_ACT_RELU},
        {1, 6, 16, 11, 12, 3, 3, params(2, 2, 2, 2, 2, 2, 6), true, true, LP_ACT_TANH},
        {3, 5, 9, 9, 5, 5, 1, params(1, 2, 2, 0, 1, 1, 5), false, false, LP_ACT_NONE},
        /* 1x1: direct GEMM (dilation does not matter), padded, strided */
        {2, 33, 7, 9, 65, 1, 1, params(1, 1, 0, 0, 3, 3, 1), true, true, LP_ACT_RELU},
        {1, 7, 5, 6, 3, 1, 1, params(1, 1, 1, 2, 1, 1, 1), true, false, LP_ACT_NONE},
        {2, 16, 13, 13, 31, 1, 1, params(2, 3, 0, 0, 1, 1, 1), false, true, LP_ACT_NONE},
        /* the kernel as large as the padded input: one output */
        {2, 3, 5, 4, 7, 7, 6, params(1, 1, 1, 1, 1, 1, 1), true, false, LP_ACT_GELU_ERF},
        /* more padding than kernel: a border of pure bias */
        {1, 2, 3, 3, 4, 2, 2, params(1, 1, 3, 2, 1, 1, 1), true, true, LP_ACT_TANH},
        /* width no multiple of any vector, 127 output channels */
        {1, 13, 5, 65, 127, 3, 3, params(1, 1, 1, 1, 1, 1, 1), true, true, LP_ACT_RELU},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) run_conv_case(&rng, &cases[i]);
}

/* ResNet-50's convolution shapes at 224x224, batch 1 (and batch 2 for one):
 * the stem, the 3x3s of each stage (the first of stage 2 strided, as
 * torchvision's v1.5), the 1x1 expansions and the strided 1x1 projection. */
static void test_conv_resnet50(void) {
    lp_rng rng = lp_rng_seed(32);
    conv_case cases[] = {
        {1, 3, 224, 224, 64, 7, 7, params(2, 2, 3, 3, 1, 1, 1), true, false, LP_ACT_RELU},
        {1, 64, 56, 56, 64, 3, 3, params(1, 1, 1, 1, 1, 1, 1), true, false, LP_ACT_RELU},
        {1, 64, 56, 56, 256, 1, 1, params(1, 1, 0, 0, 1, 1, 1), true, true, LP_ACT_RELU},
        {1, 128, 56, 56, 128, 3, 3, params(2, 2, 1, 1, 1, 1, 1), true, false, LP_ACT_RELU},
        {1, 256, 56, 56, 512, 1, 1, params(2, 2, 0, 0, 1, 1, 1), true, false, LP_ACT_NONE},
        {2, 256, 14, 14, 256, 3, 3, params(1, 1, 1, 1, 1, 1, 1), true, false, LP_ACT_RELU},
        {1, 512, 7, 7, 512, 3, 3, params(1, 1, 1, 1, 1, 1, 1), true, false, LP_ACT_RELU},
        {1, 512, 7, 7, 2048, 1, 1, params(1, 1, 0, 0, 1, 1, 1), true, true, LP_ACT_RELU},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) run_conv_case(&rng, &cases[i]);
}

static void test_conv_out_size(void) {
    CHECK(lp_conv_out_size(224, 7, 2, 3, 1) == 112);
    CHECK(lp_conv_out_size(56, 3, 2, 1, 1) == 28);
    CHECK(lp_conv_out_size(56, 1, 2, 0, 1) == 28);
    CHECK(lp_conv_out_size(5, 5, 1, 0, 1) == 1);
    CHECK(lp_conv_out_size(7, 3, 1, 0, 2) == 3);
    CHECK(lp_conv_out_size(4, 5, 1, 0, 1) == -1); /* window bigger than the input */
    CHECK(lp_conv_out_size(4, 3, 1, 0, 2) == -1); /* dilated window too */
    CHECK(lp_conv_out_size(4, 3, 0, 0, 1) == -1);
    CHECK(lp_conv_out_size(4, 3, 1, -1, 1) == -1);
    CHECK(lp_conv_out_size(4, 3, 1, 0, 0) == -1);
    CHECK(lp_conv_out_size(4, 0, 1, 0, 1) == -1);
}

static void test_conv_refusals(void) {
    lp_error err = {0};
    lp_ctx *ctx = &env.fast[1];
    static float xd[2 * 4 * 6 * 6], wd[8 * 4 * 3 * 3], bd[8], yd[2 * 8 * 6 * 6], rd[2 * 8 * 6 * 6];
    lp_tensor x = lp_tensor_4d(xd, LP_F32, 2, 4, 6, 6);
    lp_tensor w = lp_tensor_4d(wd, LP_F32, 8, 4, 3, 3);
    lp_tensor b = lp_tensor_1d(bd, LP_F32, 8);
    lp_tensor y = lp_tensor_4d(yd, LP_F32, 2, 8, 6, 6);
    lp_tensor r = lp_tensor_4d(rd, LP_F32, 2, 8, 6, 6);
    lp_conv2d_params p = params(1, 1, 1, 1, 1, 1, 1);
    CHECK_OK(lp_conv2d(ctx, &x, &w, &b, &r, &p, LP_ACT_RELU, &y, &err), &err);

    lp_conv2d_params bad = p;
    bad.stride_w = 0;
    CHECK_FAILS(lp_conv2d(ctx, &x, &w, &b, NULL, &bad, LP_ACT_NONE, &y, &err), LP_ERR_INVALID_ARG,
                &err, "conv2d: stride 1x0, each must be >= 1");
    bad = p;
    bad.dilation_h = 0;
    CHECK_FAILS(lp_conv2d(ctx, &x, &w, &b, NULL, &bad, LP_ACT_NONE, &y, &err), LP_ERR_INVALID_ARG,
                &err, "conv2d: dilation 0x1");
    bad = p;
    bad.pad_h = -1;
    CHECK_FAILS(lp_conv2d(ctx, &x, &w, &b, NULL, &bad, LP_ACT_NONE, &y, &err), LP_ERR_INVALID_ARG,
                &err, "conv2d: padding -1x1");
    bad = p;
    bad.groups = 3;
    CHECK_FAILS(lp_conv2d(ctx, &x, &w, &b, NULL, &bad, LP_ACT_NONE, &y, &err), LP_ERR_INVALID_ARG,
                &err, "conv2d: groups 3 must divide");
    bad.groups = 2;
    CHECK_FAILS(lp_conv2d(ctx, &x, &w, &b, NULL, &bad, LP_ACT_NONE, &y, &err), LP_ERR_SHAPE, &err,
                "expected 2 input channels per group");
    bad.groups = 0;
    CHECK_FAILS(lp_conv2d(ctx, &x, &w, &b, NULL, &bad, LP_ACT_NONE, &y, &err), LP_ERR_INVALID_ARG,
                &err, "conv2d: groups 0");
    CHECK_FAILS(lp_conv2d(ctx, &x, &w, &b, NULL, NULL, LP_ACT_NONE, &y, &err), LP_ERR_INVALID_ARG,
                &err, "conv2d: params is NULL");
    /* a 3x3 window over a 6x6 input padded by 0 fits; dilation 4 makes it 9x9 */
    bad = params(1, 1, 0, 0, 4, 4, 1);
    CHECK_FAILS(lp_conv2d(ctx, &x, &w, &b, NULL, &bad, LP_ACT_NONE, &y, &err), LP_ERR_SHAPE, &err,
                "is bigger than the input [2, 4, 6, 6] f32");
    lp_conv2d_params valid = params(1, 1, 0, 0, 1, 1, 1);
    CHECK_FAILS(lp_conv2d(ctx, &x, &w, &b, NULL, &valid, LP_ACT_NONE, &y, &err), LP_ERR_SHAPE, &err,
                "conv2d: out is [2, 8, 6, 6] f32, expected [2, 8, 4, 4]");
    lp_tensor r_bad = lp_tensor_4d(rd, LP_F32, 2, 8, 6, 5);
    CHECK_FAILS(lp_conv2d(ctx, &x, &w, &b, &r_bad, &p, LP_ACT_NONE, &y, &err), LP_ERR_SHAPE, &err,
                "conv2d: residual must have out's shape");
    CHECK_FAILS(lp_conv2d(ctx, &x, &w, &b, &y, &p, LP_ACT_NONE, &y, &err), LP_ERR_INVALID_ARG, &err,
                "conv2d: out overlaps an input (residual included)");
    lp_tensor b_bad = lp_tensor_1d(bd, LP_F32, 7);
    CHECK_FAILS(lp_conv2d(ctx, &x, &w, &b_bad, NULL, &p, LP_ACT_NONE, &y, &err), LP_ERR_SHAPE, &err,
                "conv2d: bias must be a contiguous [8]");
    lp_tensor x16 = x;
    x16.dtype = LP_F16;
    CHECK_FAILS(lp_conv2d(ctx, &x16, &w, &b, NULL, &p, LP_ACT_NONE, &y, &err), LP_ERR_DTYPE, &err,
                "conv2d: x has dtype f16, expected f32");
    lp_tensor x3 = lp_tensor_3d(xd, LP_F32, 4, 6, 6);
    CHECK_FAILS(lp_conv2d(ctx, &x3, &w, &b, NULL, &p, LP_ACT_NONE, &y, &err), LP_ERR_SHAPE, &err,
                "conv2d: x is [4, 6, 6] f32, expected 4 to 4 dimensions");
    lp_tensor xt = lp_tensor_transpose(&x, 2, 3);
    CHECK_FAILS(lp_conv2d(ctx, &xt, &w, &b, NULL, &p, LP_ACT_NONE, &y, &err), LP_ERR_SHAPE, &err,
                "conv2d: x ([2, 4, 6, 6] f32) must be contiguous");
    CHECK_FAILS(lp_conv2d(ctx, &x, &w, &b, NULL, &p, (lp_activation)-1, &y, &err),
                LP_ERR_INVALID_ARG, &err, "conv2d: activation -1");
}

/* ---- batch-norm folding ----------------------------------------------------- */

/* conv(x, w') + b' equals BN(conv(x, w) + b) in inference mode, with and
 * without a conv bias, in place and apart. */
static void test_fold_batchnorm(void) {
    lp_rng rng = lp_rng_seed(41);
    lp_error err = {0};
    enum { N = 2, C = 3, H = 9, W = 8, CO = 5, K = 3 };
    float eps = 1e-5f;
    lp_tensor x = gemm_tensor(&rng, 4, (const int64_t[]){N, C, H, W}, 1.0f, 0);
    lp_tensor w = gemm_tensor(&rng, 4, (const int64_t[]){CO, C, K, K}, 0.3f, 0);
    lp_tensor b = gemm_tensor(&rng, 1, (const int64_t[]){CO}, 0.5f, 0);
    float gamma_d[CO], beta_d[CO], mean_d[CO], var_d[CO];
    for (int c = 0; c < CO; c++) {
        gamma_d[c] = lp_rng_uniform(&rng, 0.5f, 1.5f);
        beta_d[c] = lp_rng_uniform(&rng, -0.5f, 0.5f);
        mean_d[c] = lp_rng_uniform(&rng, -0.3f, 0.3f);
        var_d[c] = lp_rng_uniform(&rng, 0.0f, 2.0f);
    }
    var_d[1] = 0.0f; /* eps alone keeps the scale finite */
    lp_tensor gamma = lp_tensor_1d(gamma_d, LP_F32, CO), beta = lp_tensor_1d(beta_d, LP_F32, CO);
    lp_tensor mean = lp_tensor_1d(mean_d, LP_F32, CO), var = lp_tensor_1d(var_d, LP_F32, CO);
    lp_conv2d_params p = params(1, 1, 1, 1, 1, 1, 1);
    int64_t oshape[4] = {N, CO, H, W};
    size_t n = N * CO * H * W;

    for (int with_bias = 0; with_bias < 2; with_bias++) {
        lp_tensor *cb = with_bias ? &b : NULL;
        /* the unfolded reference: BN applied by hand after the oracle's conv */
        lp_tensor want = gemm_tensor(NULL, 4, oshape, 0, 0);
        CHECK_OK(lp_conv2d(&env.ref, &x, &w, cb, NULL, &p, LP_ACT_NONE, &want, &err), &err);
        float *wv = want.data;
        for (size_t i = 0; i < n; i++) {
            int c = (int)(i / (H * W) % CO);
            double v = ((double)wv[i] - mean_d[c]) / sqrt((double)var_d[c] + eps);
            wv[i] = (float)(v * gamma_d[c] + beta_d[c]);
        }
        lp_tensor fw = gemm_tensor(NULL, 4, (const int64_t[]){CO, C, K, K}, 0, 0);
        lp_tensor fb = gemm_tensor(NULL, 1, (const int64_t[]){CO}, 0, 0);
        CHECK_OK(lp_fold_batchnorm(&w, cb, &gamma, &beta, &mean, &var, eps, &fw, &fb, &err), &err);
        lp_tensor got = gemm_tensor(NULL, 4, oshape, 0, 0);
        CHECK_OK(lp_conv2d(&env.fast[1], &x, &fw, &fb, NULL, &p, LP_ACT_NONE, &got, &err), &err);
        lp_test_check_nmse(with_bias ? "folded conv+bias+bn" : "folded conv+bn", got.data,
                           want.data, n, 1e-10);

        /* in place: out_weight is conv_weight, out_bias is conv_bias */
        lp_tensor w2 = gemm_tensor(NULL, 4, (const int64_t[]){CO, C, K, K}, 0, 0);
        memcpy(w2.data, w.data, lp_tensor_nbytes(&w));
        lp_tensor b2 = gemm_tensor(NULL, 1, (const int64_t[]){CO}, 0, 0);
        memcpy(b2.data, b.data, lp_tensor_nbytes(&b));
        CHECK_OK(lp_fold_batchnorm(&w2, with_bias ? &b2 : NULL, &gamma, &beta, &mean, &var, eps,
                                   &w2, &b2, &err),
                 &err);
        CHECK(memcmp(w2.data, fw.data, lp_tensor_nbytes(&w)) == 0);
        CHECK(memcmp(b2.data, fb.data, lp_tensor_nbytes(&b)) == 0);
        free(want.data), free(fw.data), free(fb.data), free(got.data), free(w2.data), free(b2.data);
    }

    /* refusals */
    lp_tensor fw = gemm_tensor(NULL, 4, (const int64_t[]){CO, C, K, K}, 0, 0);
    lp_tensor fb = gemm_tensor(NULL, 1, (const int64_t[]){CO}, 0, 0);
    var_d[3] = -1.0f;
    CHECK_FAILS(lp_fold_batchnorm(&w, &b, &gamma, &beta, &mean, &var, eps, &fw, &fb, &err),
                LP_ERR_INVALID_ARG, &err, "fold_batchnorm: var[3] + eps");
    var_d[3] = 1.0f;
    CHECK_FAILS(lp_fold_batchnorm(&w, &b, &gamma, &beta, &mean, &var, -1.0f, &fw, &fb, &err),
                LP_ERR_INVALID_ARG, &err, "fold_batchnorm: eps -1");
    lp_tensor short_gamma = lp_tensor_1d(gamma_d, LP_F32, CO - 1);
    CHECK_FAILS(lp_fold_batchnorm(&w, &b, &short_gamma, &beta, &mean, &var, eps, &fw, &fb, &err),
                LP_ERR_SHAPE, &err, "fold_batchnorm: gamma is [4] f32, expected a contiguous [5]");
    CHECK_FAILS(lp_fold_batchnorm(&w, &b, &gamma, NULL, &mean, &var, eps, &fw, &fb, &err),
                LP_ERR_INVALID_ARG, &err, "fold_batchnorm: beta is NULL");
    lp_tensor fw_bad = lp_tensor_4d(fw.data, LP_F32, CO, C, K, K - 1);
    CHECK_FAILS(lp_fold_batchnorm(&w, &b, &gamma, &beta, &mean, &var, eps, &fw_bad, &fb, &err),
                LP_ERR_SHAPE, &err, "fold_batchnorm: out_weight is [5, 3, 3, 2] f32");
    lp_tensor mean16 = mean;
    mean16.dtype = LP_F16;
    CHECK_FAILS(lp_fold_batchnorm(&w, &b, &gamma, &beta, &mean16, &var, eps, &fw, &fb, &err),
                LP_ERR_DTYPE, &err, "fold_batchnorm: mean has dtype f16");
    free(fw.data), free(fb.data), free(x.data), free(w.data), free(b.data);
}

int main(void) {
    gemm_env_init(&env);
    test_conv_out_size();
    test_conv_awkward();
    test_conv_resnet50();
    test_conv_refusals();
    test_fold_batchnorm();
    gemm_env_release(&env);
    return lp_test_finish();
}
