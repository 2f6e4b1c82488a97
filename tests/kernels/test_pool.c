/* Max pooling and global average pooling: the "cpu" backend against the
 * "cpu-ref" oracle on 1-, 2- and 3-thread pools, torch's output-size rule
 * (padding, ceil_mode), padding that never wins, NaN that always does, and
 * the front-end's refusals.
 *
 * Tolerance: max pooling selects, so fast and oracle agree exactly; the
 * average sums in another order: NMSE <= 1e-12 (measured ~1e-16). */
#include "tests/kernels/gemm_test_env.h"

static gemm_env env;

static lp_pool2d_params pool(int k_h, int k_w, int s_h, int s_w, int p_h, int p_w, bool ceil_mode) {
    lp_pool2d_params p = {k_h, k_w, s_h, s_w, p_h, p_w, ceil_mode};
    return p;
}

static void run_maxpool_case(lp_rng *rng, int64_t n, int64_t c, int64_t h, int64_t w,
                             lp_pool2d_params p, float shift) {
    lp_error err = {0};
    int64_t ho = lp_pool_out_size(h, p.kernel_h, p.stride_h, p.pad_h, p.ceil_mode);
    int64_t wo = lp_pool_out_size(w, p.kernel_w, p.stride_w, p.pad_w, p.ceil_mode);
    CHECK(ho > 0 && wo > 0);
    lp_tensor x = gemm_tensor(rng, 4, (const int64_t[]){n, c, h, w}, 1.0f, 0);
    float *xv = x.data;
    for (int64_t i = 0; i < lp_tensor_numel(&x); i++) xv[i] += shift;
    int64_t oshape[4] = {n, c, ho, wo};
    lp_tensor ref = gemm_tensor(NULL, 4, oshape, 0, GEMM_SENTINEL);
    lp_tensor out = gemm_tensor(NULL, 4, oshape, 0, GEMM_SENTINEL);
    size_t count = (size_t)lp_tensor_numel(&out);
    char what[160];
    snprintf(what, sizeof what, "maxpool x=[%lld,%lld,%lld,%lld] k=%dx%d s=%dx%d p=%dx%d ceil=%d",
             (long long)n, (long long)c, (long long)h, (long long)w, p.kernel_h, p.kernel_w,
             p.stride_h, p.stride_w, p.pad_h, p.pad_w, p.ceil_mode);
    CHECK_OK(lp_maxpool2d(&env.ref, &x, &p, &ref, &err), &err);
    /* every output is an input value: padding never wins, even when all are
     * negative (checked where the quadratic search is cheap) */
    const float *rv = ref.data;
    int64_t not_input = 0;
    for (size_t i = 0; i < count && (double)count * (double)lp_tensor_numel(&x) < 1e8; i++) {
        bool found = false;
        for (int64_t j = 0; j < lp_tensor_numel(&x) && !found; j++) found = xv[j] == rv[i];
        not_input += !found;
    }
    CHECK_MSG(not_input == 0, "%s: %lld outputs are not input values", what, (long long)not_input);
    for (int t = 0; t < GEMM_NFAST; t++) {
        gemm_fill(out.data, count, GEMM_SENTINEL);
        CHECK_OK(lp_maxpool2d(&env.fast[t], &x, &p, &out, &err), &err);
        CHECK_MSG(memcmp(out.data, ref.data, count * sizeof(float)) == 0,
                  "%s (%d threads): differs from the oracle", what, t + 1);
    }
    free(x.data), free(ref.data), free(out.data);
}

static void test_maxpool(void) {
    lp_rng rng = lp_rng_seed(51);
    /* ResNet's stem pool: 3x3 stride 2 pad 1 on 112x112x64 */
    run_maxpool_case(&rng, 1, 64, 112, 112, pool(3, 3, 2, 2, 1, 1, false), 0.0f);
    /* size 1; odd sizes; asymmetric kernel/stride/padding; ceil mode with a
     * partial last window and with a dropped one; all-negative inputs */
    run_maxpool_case(&rng, 1, 1, 1, 1, pool(1, 1, 1, 1, 0, 0, false), 0.0f);
    run_maxpool_case(&rng, 2, 3, 7, 13, pool(2, 3, 2, 1, 1, 0, false), -10.0f);
    run_maxpool_case(&rng, 2, 3, 7, 13, pool(2, 3, 2, 1, 1, 0, true), -10.0f);
    run_maxpool_case(&rng, 3, 5, 5, 5, pool(2, 2, 2, 2, 0, 0, true), 0.0f);
    run_maxpool_case(&rng, 1, 4, 3, 3, pool(2, 2, 2, 2, 1, 1, true), -5.0f);
    run_maxpool_case(&rng, 2, 7, 31, 33, pool(3, 3, 2, 2, 1, 1, true), 0.0f);
    run_maxpool_case(&rng, 1, 2, 9, 4, pool(9, 4, 1, 1, 4, 2, false), -3.0f);
    run_maxpool_case(&rng, 2, 130, 6, 6, pool(4, 2, 3, 5, 2, 1, true), 0.0f);
}

/* torch.nn.functional.max_pool2d's output sizes (values checked in torch 2). */
static void test_pool_out_size(void) {
    CHECK(lp_pool_out_size(112, 3, 2, 1, false) == 56);
    CHECK(lp_pool_out_size(5, 2, 2, 0, false) == 2);
    CHECK(lp_pool_out_size(5, 2, 2, 0, true) == 3); /* a partial last window */
    CHECK(lp_pool_out_size(3, 2, 2, 1, true) ==
          2); /* that window would start in the right padding */
    CHECK(lp_pool_out_size(6, 3, 2, 1, true) == 4);
    CHECK(lp_pool_out_size(6, 3, 2, 1, false) == 3);
    CHECK(lp_pool_out_size(1, 1, 1, 0, false) == 1);
    CHECK(lp_pool_out_size(2, 3, 1, 0, false) == -1); /* window bigger than the input */
    CHECK(lp_pool_out_size(2, 3, 1, 1, false) == 2);
    CHECK(lp_pool_out_size(4, 2, 0, 0, false) == -1);
    CHECK(lp_pool_out_size(4, 0, 1, 0, false) == -1);
}

static void test_maxpool_nan(void) {
    lp_error err = {0};
    float x[16], out[4];
    for (int i = 0; i < 16; i++) x[i] = (float)i;
    x[5] = NAN;
    lp_tensor xt = lp_tensor_4d(x, LP_F32, 1, 1, 4, 4);
    lp_tensor ot = lp_tensor_4d(out, LP_F32, 1, 1, 2, 2);
    lp_pool2d_params p = pool(2, 2, 2, 2, 0, 0, false);
    lp_ctx *ctxs[2] = {&env.ref, &env.fast[1]};
    for (int i = 0; i < 2; i++) {
        CHECK_OK(lp_maxpool2d(ctxs[i], &xt, &p, &ot, &err), &err);
        CHECK(isnan(out[0]) && out[1] == 7.0f && out[2] == 13.0f && out[3] == 15.0f);
    }
}

static void test_global_avgpool(void) {
    lp_rng rng = lp_rng_seed(52);
    lp_error err = {0};
    static const int64_t shapes[][4] = {{1, 1, 1, 1},  {2, 3, 7, 13},  {1, 2048, 7, 7},
                                        {8, 64, 1, 1}, {3, 5, 33, 31}, {2, 512, 14, 14}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        lp_tensor x = gemm_tensor(&rng, 4, shapes[s], 1.0f, 0);
        float *xv = x.data;
        for (int64_t i = 0; i < lp_tensor_numel(&x); i++) xv[i] += 3.0f; /* a mean to keep */
        int64_t oshape[2] = {shapes[s][0], shapes[s][1]};
        lp_tensor ref = gemm_tensor(NULL, 2, oshape, 0, GEMM_SENTINEL);
        lp_tensor out = gemm_tensor(NULL, 2, oshape, 0, GEMM_SENTINEL);
        size_t n = (size_t)lp_tensor_numel(&out);
        CHECK_OK(lp_global_avgpool2d(&env.ref, &x, &ref, &err), &err);
        /* the oracle is the mean */
        int64_t hw = shapes[s][2] * shapes[s][3];
        double mean0 = 0;
        for (int64_t i = 0; i < hw; i++) mean0 += xv[i];
        CHECK(fabs(((float *)ref.data)[0] - mean0 / (double)hw) < 1e-5);
        for (int t = 0; t < GEMM_NFAST; t++) {
            gemm_fill(out.data, n, GEMM_SENTINEL);
            CHECK_OK(lp_global_avgpool2d(&env.fast[t], &x, &out, &err), &err);
            lp_test_check_nmse("global_avgpool2d", out.data, ref.data, n, 1e-12);
        }
        free(x.data), free(ref.data), free(out.data);
    }
}

static void test_pool_refusals(void) {
    lp_error err = {0};
    lp_ctx *ctx = &env.fast[1];
    static float xd[2 * 3 * 5 * 5], yd[2 * 3 * 5 * 5];
    lp_tensor x = lp_tensor_4d(xd, LP_F32, 2, 3, 5, 5);
    lp_tensor y = lp_tensor_4d(yd, LP_F32, 2, 3, 3, 3);
    lp_pool2d_params p = pool(3, 3, 2, 2, 1, 1, false);
    CHECK_OK(lp_maxpool2d(ctx, &x, &p, &y, &err), &err);

    lp_pool2d_params bad = p;
    bad.stride_h = 0;
    CHECK_FAILS(lp_maxpool2d(ctx, &x, &bad, &y, &err), LP_ERR_INVALID_ARG, &err,
                "maxpool2d: kernel 3x3 and stride 0x2 must all be >= 1");
    bad = p;
    bad.kernel_w = 0;
    CHECK_FAILS(lp_maxpool2d(ctx, &x, &bad, &y, &err), LP_ERR_INVALID_ARG, &err,
                "maxpool2d: kernel 3x0");
    bad = p;
    bad.pad_w = 2;
    CHECK_FAILS(lp_maxpool2d(ctx, &x, &bad, &y, &err), LP_ERR_INVALID_ARG, &err,
                "at most half the kernel");
    bad = pool(6, 6, 1, 1, 0, 0, false);
    CHECK_FAILS(lp_maxpool2d(ctx, &x, &bad, &y, &err), LP_ERR_SHAPE, &err,
                "maxpool2d: the 6x6 window is bigger than the input [2, 3, 5, 5] f32");
    bad = pool(3, 3, 2, 2, 1, 1, true); /* 5 -> 3 either way; 2x2 is wrong */
    lp_tensor y_bad = lp_tensor_4d(yd, LP_F32, 2, 3, 2, 2);
    CHECK_FAILS(lp_maxpool2d(ctx, &x, &bad, &y_bad, &err), LP_ERR_SHAPE, &err,
                "maxpool2d: out is [2, 3, 2, 2] f32, expected [2, 3, 3, 3]");
    CHECK_FAILS(lp_maxpool2d(ctx, &x, NULL, &y, &err), LP_ERR_INVALID_ARG, &err,
                "maxpool2d: params is NULL");
    lp_tensor x3 = lp_tensor_3d(xd, LP_F32, 3, 5, 5);
    CHECK_FAILS(lp_maxpool2d(ctx, &x3, &p, &y, &err), LP_ERR_SHAPE, &err,
                "maxpool2d: x is [3, 5, 5] f32, expected 4 to 4 dimensions");
    lp_tensor xi = x;
    xi.dtype = LP_I32;
    CHECK_FAILS(lp_maxpool2d(ctx, &xi, &p, &y, &err), LP_ERR_DTYPE, &err,
                "maxpool2d: x has dtype i32");
    lp_tensor y_on_x = lp_tensor_4d(xd, LP_F32, 2, 3, 3, 3);
    CHECK_FAILS(lp_maxpool2d(ctx, &x, &p, &y_on_x, &err), LP_ERR_INVALID_ARG, &err,
                "maxpool2d: out overlaps x");

    lp_tensor g = lp_tensor_2d(yd, LP_F32, 2, 3);
    CHECK_OK(lp_global_avgpool2d(ctx, &x, &g, &err), &err);
    lp_tensor g_bad = lp_tensor_2d(yd, LP_F32, 3, 2);
    CHECK_FAILS(lp_global_avgpool2d(ctx, &x, &g_bad, &err), LP_ERR_SHAPE, &err,
                "global_avgpool2d: out is [3, 2] f32, expected [2, 3]");
    lp_tensor empty = lp_tensor_4d(xd, LP_F32, 2, 3, 0, 5);
    CHECK_FAILS(lp_global_avgpool2d(ctx, &empty, &g, &err), LP_ERR_SHAPE, &err,
                "an empty plane has no mean");
    lp_tensor xt = lp_tensor_transpose(&x, 1, 2);
    lp_tensor g5 = lp_tensor_2d(yd, LP_F32, 2, 5);
    CHECK_FAILS(lp_global_avgpool2d(ctx, &xt, &g5, &err), LP_ERR_SHAPE, &err,
                "global_avgpool2d: x ([2, 5, 3, 5] f32) must be contiguous");
}

int main(void) {
    gemm_env_init(&env);
    test_pool_out_size();
    test_maxpool();
    test_maxpool_nan();
    test_global_avgpool();
    test_pool_refusals();
    gemm_env_release(&env);
    return lp_test_finish();
}
