/* matmul and linear: the "cpu" backend (GEMM library, fused epilogues) against
 * the "cpu-ref" oracle (double-accumulated loops) on 1-, 2- and 3-thread pools,
 * over awkward shapes, transposes, batches, strided views and every activation;
 * the front-end's refusals; the profile's flop count.
 *
 * Tolerance: NMSE <= 1e-9. The fast path sums in float in another order and
 * uses polynomial GELU/tanh (relative error ~1e-6 at worst); measured NMSE is
 * at most 3e-13 here, while a wrong element, row or transpose gives > 1e-4. */
#include "tests/kernels/gemm_test_env.h"

#define NMSE_TOL 1e-10

static gemm_env env;

/* ---- matmul ------------------------------------------------------------ */

typedef struct mm_case {
    int nbatch;
    int64_t batch[3];
    bool b_shared; /* B has no batch dims */
    int64_t m, n, k;
    bool ta, tb;
    float alpha;
    int64_t pad_a, pad_b, pad_c; /* extra floats per row */
    bool head_split;             /* [B, S, H, D] storage seen as [B, H, S, D] */
} mm_case;

static void run_mm_case(lp_rng *rng, const mm_case *c) {
    lp_error err = {0};
    int64_t ar = c->ta ? c->k : c->m, ac = c->ta ? c->m : c->k;
    int64_t br = c->tb ? c->n : c->k, bc = c->tb ? c->k : c->n;
    gemm_view a = gemm_make_view(rng, c->nbatch, c->batch, ar, ac, c->pad_a, c->head_split);
    gemm_view b = gemm_make_view(rng, c->b_shared ? 0 : c->nbatch, c->batch, br, bc, c->pad_b,
                                 c->head_split && !c->b_shared);
    gemm_view ref = gemm_make_view(NULL, c->nbatch, c->batch, c->m, c->n, c->pad_c, c->head_split);
    gemm_view out = gemm_make_view(NULL, c->nbatch, c->batch, c->m, c->n, c->pad_c, c->head_split);
    char what[200];
    snprintf(what, sizeof what,
             "matmul batch=%d(%lld,%lld,%lld)%s m=%lld n=%lld k=%lld ta=%d tb=%d alpha=%g "
             "pads=%lld/%lld/%lld%s",
             c->nbatch, (long long)c->batch[0], (long long)c->batch[1], (long long)c->batch[2],
             c->b_shared ? " shared-b" : "", (long long)c->m, (long long)c->n, (long long)c->k,
             c->ta, c->tb, (double)c->alpha, (long long)c->pad_a, (long long)c->pad_b,
             (long long)c->pad_c, c->head_split ? " head-split" : "");

    CHECK_OK(lp_matmul(&env.ref, &a.t, &b.t, c->ta, c->tb, c->alpha, &ref.t, &err), &err);
    size_t n = (size_t)lp_tensor_numel(&ref.t);
    float *want = gemm_alloc(n * sizeof(float)), *got = gemm_alloc(n * sizeof(float));
    gemm_gather(&ref.t, want);
    for (int p = 0; p < GEMM_NFAST; p++) {
        gemm_fill(out.storage, out.n, GEMM_SENTINEL);
        lp_status st = lp_matmul(&env.fast[p], &a.t, &b.t, c->ta, c->tb, c->alpha, &out.t, &err);
        CHECK_MSG(st == LP_OK, "%s (%d threads): %s", what, p + 1, err.msg);
        gemm_gather(&out.t, got);
        if (!lp_test_check_nmse(what, got, want, n, NMSE_TOL))
            fprintf(stderr, "  ... with %d threads\n", p + 1);
        int64_t stray = gemm_count_stray_writes(&out.t, out.storage, out.n);
        CHECK_MSG(stray == 0, "%s: %lld writes outside out's view", what, (long long)stray);
    }
    free(want);
    free(got);
    gemm_view_free(&a);
    gemm_view_free(&b);
    gemm_view_free(&ref);
    gemm_view_free(&out);
}

static void test_matmul_shapes(void) {
    lp_rng rng = lp_rng_seed(11);
    /* size 1, odd sizes, sizes that are no multiple of any tile, and K = 0 */
    static const int64_t dims[][3] = {{1, 1, 1},    {1, 7, 13},   {7, 1, 13},  {13, 31, 7},
                                      {33, 65, 127}, {127, 33, 65}, {16, 17, 15}, {65, 1, 1},
                                      {5, 9, 0},     {64, 48, 256}};
    for (size_t i = 0; i < sizeof dims / sizeof dims[0]; i++)
        for (int t = 0; t < 4; t++) {
            mm_case c = {0};
            c.m = dims[i][0], c.n = dims[i][1], c.k = dims[i][2];
            c.ta = t & 1, c.tb = t >> 1;
            c.alpha = (i % 3 == 0) ? 1.0f : (i % 3 == 1 ? 0.5f : -2.0f);
            run_mm_case(&rng, &c);
        }
}

static void test_matmul_strided_and_batched(void) {
    lp_rng rng = lp_rng_seed(12);
    /* padded rows everywhere (row stride > columns) */
    mm_case c = {.m = 31, .n = 33, .k = 13, .alpha = 1.0f, .pad_a = 3, .pad_b = 5, .pad_c = 7};
    for (int t = 0; t < 4; t++) {
        c.ta = t & 1, c.tb = t >> 1;
        run_mm_case(&rng, &c);
    }
    /* one batch dim, B per batch and B shared */
    mm_case b1 = {.nbatch = 1, .batch = {5}, .m = 7, .n = 65, .k = 33, .alpha = 1.0f};
    run_mm_case(&rng, &b1);
    b1.b_shared = true, b1.tb = true, b1.pad_a = 1;
    run_mm_case(&rng, &b1);
    /* three batch dims with a size-1 dim */
    mm_case b3 = {.nbatch = 3, .batch = {2, 1, 3}, .m = 9, .n = 10, .k = 11, .alpha = 0.25f,
                  .ta = true, .pad_c = 2};
    run_mm_case(&rng, &b3);
    /* attention: scores = q k^T * scale and context = p v on head-split views,
     * BERT-base sized (12 heads of 64, 128 tokens) and odd-sized */
    mm_case qk = {.nbatch = 2, .batch = {2, 12}, .m = 128, .n = 128, .k = 64, .tb = true,
                  .alpha = 0.125f, .head_split = true};
    run_mm_case(&rng, &qk);
    mm_case pv = {.nbatch = 2, .batch = {2, 12}, .m = 128, .n = 64, .k = 128, .alpha = 1.0f,
                  .head_split = true};
    run_mm_case(&rng, &pv);
    mm_case odd = {.nbatch = 2, .batch = {3, 5}, .m = 13, .n = 13, .k = 7, .tb = true,
                   .alpha = 0.3f, .head_split = true, .pad_a = 1, .pad_b = 2};
    run_mm_case(&rng, &odd);
    /* one big plain product */
    mm_case big = {.m = 256, .n = 384, .k = 512, .alpha = 1.0f};
    run_mm_case(&rng, &big);
    big.ta = true, big.tb = true;
    run_mm_case(&rng, &big);
}

/* ---- linear ------------------------------------------------------------ */

static void run_linear_case(lp_rng *rng, int xnd, const int64_t *lead, int64_t in, int64_t features,
                            bool with_bias, lp_activation act, int64_t weight_pad) {
    lp_error err = {0};
    int64_t xshape[5], oshape[5];
    for (int d = 0; d < xnd - 1; d++) xshape[d] = oshape[d] = lead[d];
    xshape[xnd - 1] = in;
    oshape[xnd - 1] = features;
    lp_tensor x = gemm_tensor(rng, xnd, xshape, 1.0f, 0);
    gemm_view w = gemm_make_view(NULL, 0, NULL, features, in, weight_pad, false);
    lp_rng_fill_normal(rng, w.storage, w.n, 1.0f / sqrtf((float)(in > 0 ? in : 1)));
    lp_tensor bias = gemm_tensor(rng, 1, &features, 0.5f, 0);
    lp_tensor ref = gemm_tensor(NULL, xnd, oshape, 0, GEMM_SENTINEL);
    lp_tensor out = gemm_tensor(NULL, xnd, oshape, 0, GEMM_SENTINEL);
    size_t n = (size_t)lp_tensor_numel(&out);
    char what[160];
    snprintf(what, sizeof what, "linear rows=%lld in=%lld out=%lld bias=%d act=%s wpad=%lld",
             (long long)(lp_tensor_numel(&x) / (in ? in : 1)), (long long)in, (long long)features,
             with_bias, lp_activation_name(act), (long long)weight_pad);
    const lp_tensor *b = with_bias ? &bias : NULL;
    CHECK_OK(lp_linear(&env.ref, &x, &w.t, b, act, &ref, &err), &err);
    for (int p = 0; p < GEMM_NFAST; p++) {
        gemm_fill(out.data, n, GEMM_SENTINEL);
        lp_status st = lp_linear(&env.fast[p], &x, &w.t, b, act, &out, &err);
        CHECK_MSG(st == LP_OK, "%s (%d threads): %s", what, p + 1, err.msg);
        if (!lp_test_check_nmse(what, out.data, ref.data, n, NMSE_TOL))
            fprintf(stderr, "  ... with %d threads\n", p + 1);
    }
    free(x.data);
    gemm_view_free(&w);
    free(bias.data);
    free(ref.data);
    free(out.data);
}

static void test_linear(void) {
    lp_rng rng = lp_rng_seed(21);
    /* rows around the fused/unfused switch (16), odd sizes, size 1 */
    static const int64_t shapes[][3] = {{1, 1, 1},     {1, 768, 768}, {7, 13, 31},  {15, 33, 65},
                                        {16, 65, 33},  {17, 127, 7},  {33, 65, 127}, {127, 31, 33},
                                        {64, 256, 96}, {3, 1, 5}};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        for (int act = 0; act < LP_ACT_COUNT; act++)
            run_linear_case(&rng, 2, &shapes[i][0], shapes[i][1], shapes[i][2], (act + i) % 2 == 0,
                            (lp_activation)act, 0);
    /* [..., in] with several leading dims; a weight that is a row-strided view
     * (one block of a fused QKV matrix, say) */
    run_linear_case(&rng, 4, (const int64_t[]){2, 3, 5}, 19, 23, true, LP_ACT_GELU_ERF, 0);
    run_linear_case(&rng, 1, NULL, 37, 11, true, LP_ACT_TANH, 0);
    run_linear_case(&rng, 3, (const int64_t[]){2, 20}, 48, 40, true, LP_ACT_RELU, 16);
    run_linear_case(&rng, 2, (const int64_t[]){5}, 48, 40, false, LP_ACT_NONE, 3);
    /* in = 0: out = act(bias) */
    run_linear_case(&rng, 2, (const int64_t[]){4}, 0, 9, true, LP_ACT_GELU_TANH, 0);
    run_linear_case(&rng, 2, (const int64_t[]){20}, 0, 9, true, LP_ACT_RELU, 0);
    /* BERT-base's FFN at 512 tokens: 512 x 768 -> 3072 with GELU, and back */
    run_linear_case(&rng, 2, (const int64_t[]){512}, 768, 3072, true, LP_ACT_GELU_ERF, 0);
    run_linear_case(&rng, 2, (const int64_t[]){512}, 3072, 768, true, LP_ACT_NONE, 0);
}

/* ---- refusals ------------------------------------------------------------ */

static void test_matmul_refusals(void) {
    lp_error err = {0};
    lp_ctx *ctx = &env.fast[1];
    float a_data[64], b_data[64], c_data[64];
    lp_tensor a = lp_tensor_2d(a_data, LP_F32, 2, 3);
    lp_tensor b = lp_tensor_2d(b_data, LP_F32, 3, 4);
    lp_tensor c = lp_tensor_2d(c_data, LP_F32, 2, 4);
    CHECK_OK(lp_matmul(ctx, &a, &b, false, false, 1.0f, &c, &err), &err);

    lp_tensor bad = a;
    bad.dtype = LP_F16;
    CHECK_FAILS(lp_matmul(ctx, &bad, &b, false, false, 1.0f, &c, &err), LP_ERR_DTYPE, &err,
                "matmul: a has dtype f16, expected f32");
    lp_tensor vec = lp_tensor_1d(a_data, LP_F32, 3);
    CHECK_FAILS(lp_matmul(ctx, &vec, &b, false, false, 1.0f, &c, &err), LP_ERR_SHAPE, &err,
                "matmul: a is [3] f32, expected 2 to 5 dimensions");
    CHECK_FAILS(lp_matmul(ctx, &a, &b, true, false, 1.0f, &c, &err), LP_ERR_SHAPE, &err,
                "inner dims differ");
    lp_tensor c_wrong = lp_tensor_2d(c_data, LP_F32, 2, 5);
    CHECK_FAILS(lp_matmul(ctx, &a, &b, false, false, 1.0f, &c_wrong, &err), LP_ERR_SHAPE, &err,
                "matmul: out is [2, 5] f32, expected [..., 2, 4]");
    lp_tensor a3 = lp_tensor_3d(a_data, LP_F32, 2, 2, 3);
    lp_tensor c3 = lp_tensor_3d(c_data, LP_F32, 3, 2, 4);
    CHECK_FAILS(lp_matmul(ctx, &a3, &b, false, false, 1.0f, &c3, &err), LP_ERR_SHAPE, &err,
                "batch dim 0 of out");
    lp_tensor b3 = lp_tensor_3d(b_data, LP_F32, 3, 3, 4);
    lp_tensor c3ok = lp_tensor_3d(c_data, LP_F32, 2, 2, 4);
    CHECK_FAILS(lp_matmul(ctx, &a3, &b3, false, false, 1.0f, &c3ok, &err), LP_ERR_SHAPE, &err,
                "batch dim 0 of b");
    CHECK_FAILS(lp_matmul(ctx, &a3, &b, false, false, 1.0f, &c, &err), LP_ERR_SHAPE, &err,
                "expected the rank of a");
    lp_tensor strided = a;
    strided.stride[1] = 2;
    strided.stride[0] = 6;
    CHECK_FAILS(lp_matmul(ctx, &strided, &b, false, false, 1.0f, &c, &err), LP_ERR_SHAPE, &err,
                "must have stride 1 in its last dim");
    lp_tensor overlapping_rows = b;
    overlapping_rows.stride[0] = 2;
    CHECK_FAILS(lp_matmul(ctx, &a, &overlapping_rows, false, false, 1.0f, &c, &err), LP_ERR_SHAPE,
                &err, "row stride 2, less than its 4 columns");
    lp_tensor c_on_a = lp_tensor_2d(a_data + 1, LP_F32, 2, 4);
    CHECK_FAILS(lp_matmul(ctx, &a, &b, false, false, 1.0f, &c_on_a, &err), LP_ERR_INVALID_ARG,
                &err, "out overlaps an input");
    CHECK_FAILS(lp_matmul(ctx, &a, NULL, false, false, 1.0f, &c, &err), LP_ERR_INVALID_ARG, &err,
                "matmul: b is NULL");
    CHECK_FAILS(lp_matmul(NULL, &a, &b, false, false, 1.0f, &c, &err), LP_ERR_INVALID_ARG, &err,
                "context not initialised");
    lp_tensor no_data = a;
    no_data.data = NULL;
    CHECK_FAILS(lp_matmul(ctx, &no_data, &b, false, false, 1.0f, &c, &err), LP_ERR_INVALID_ARG,
                &err, "matmul: a has no data");
}

static void test_linear_refusals(void) {
    lp_error err = {0};
    lp_ctx *ctx = &env.fast[0];
    float x_data[64], w_data[64], b_data[8], y_data[64];
    lp_tensor x = lp_tensor_2d(x_data, LP_F32, 2, 3);
    lp_tensor w = lp_tensor_2d(w_data, LP_F32, 4, 3);
    lp_tensor b = lp_tensor_1d(b_data, LP_F32, 4);
    lp_tensor y = lp_tensor_2d(y_data, LP_F32, 2, 4);
    CHECK_OK(lp_linear(ctx, &x, &w, &b, LP_ACT_RELU, &y, &err), &err);

    lp_tensor w_bad = lp_tensor_2d(w_data, LP_F32, 4, 5);
    CHECK_FAILS(lp_linear(ctx, &x, &w_bad, &b, LP_ACT_NONE, &y, &err), LP_ERR_SHAPE, &err,
                "linear: x is [2, 3] f32 but weight is [4, 5] f32");
    lp_tensor w3 = lp_tensor_3d(w_data, LP_F32, 1, 4, 3);
    CHECK_FAILS(lp_linear(ctx, &x, &w3, &b, LP_ACT_NONE, &y, &err), LP_ERR_SHAPE, &err,
                "linear: weight is [1, 4, 3] f32, expected 2 to 2 dimensions");
    lp_tensor b_bad = lp_tensor_1d(b_data, LP_F32, 5);
    CHECK_FAILS(lp_linear(ctx, &x, &w, &b_bad, LP_ACT_NONE, &y, &err), LP_ERR_SHAPE, &err,
                "linear: bias must be [4]");
    lp_tensor y_bad = lp_tensor_2d(y_data, LP_F32, 2, 3);
    CHECK_FAILS(lp_linear(ctx, &x, &w, &b, LP_ACT_NONE, &y_bad, &err), LP_ERR_SHAPE, &err,
                "linear: out is [2, 3] f32");
    CHECK_FAILS(lp_linear(ctx, &x, &w, &b, LP_ACT_COUNT, &y, &err), LP_ERR_INVALID_ARG, &err,
                "linear: activation 5 is not an lp_activation");
    lp_tensor xt = lp_tensor_transpose(&x, 0, 1);
    lp_tensor y_t = lp_tensor_2d(y_data, LP_F32, 3, 4);
    lp_tensor w2 = lp_tensor_2d(w_data, LP_F32, 4, 2);
    CHECK_FAILS(lp_linear(ctx, &xt, &w2, &b, LP_ACT_NONE, &y_t, &err), LP_ERR_SHAPE, &err,
                "linear: x ([3, 2] f32) must be contiguous");
    lp_tensor b16 = b;
    b16.dtype = LP_BF16;
    CHECK_FAILS(lp_linear(ctx, &x, &w, &b16, LP_ACT_NONE, &y, &err), LP_ERR_DTYPE, &err,
                "linear: bias has dtype bf16");
    CHECK_FAILS(lp_linear(ctx, &x, &w, &b, LP_ACT_NONE, &x, &err), LP_ERR_SHAPE, &err,
                "linear: out is [2, 3] f32");
    lp_tensor y_on_x = lp_tensor_2d(x_data, LP_F32, 2, 4);
    CHECK_FAILS(lp_linear(ctx, &x, &w, &b, LP_ACT_NONE, &y_on_x, &err), LP_ERR_INVALID_ARG, &err,
                "linear: out overlaps an input");
}

/* The profile counts 2 m n k flops per product and rewinds the scratch arena. */
static void test_profile(void) {
    lp_error err = {0};
    lp_ctx *ctx = &env.fast[1];
    CHECK_OK(lp_ctx_enable_profile(ctx, true, &err), &err);
    lp_rng rng = lp_rng_seed(5);
    lp_tensor a = gemm_tensor(&rng, 3, (const int64_t[]){4, 20, 30}, 1, 0);
    lp_tensor b = gemm_tensor(&rng, 3, (const int64_t[]){4, 40, 30}, 1, 0);
    lp_tensor c = gemm_tensor(NULL, 3, (const int64_t[]){4, 20, 40}, 0, 0);
    CHECK_OK(lp_matmul(ctx, &a, &b, false, true, 1.0f, &c, &err), &err);
    lp_tensor w = gemm_tensor(&rng, 2, (const int64_t[]){50, 30}, 1, 0);
    lp_tensor y = gemm_tensor(NULL, 3, (const int64_t[]){4, 20, 50}, 0, 0);
    CHECK_OK(lp_linear(ctx, &a, &w, NULL, LP_ACT_GELU_ERF, &y, &err), &err);
    CHECK(ctx->profile[LP_OP_MATMUL].calls == 1);
    CHECK(ctx->profile[LP_OP_MATMUL].flops == 2.0 * 4 * 20 * 40 * 30);
    CHECK(ctx->profile[LP_OP_LINEAR].calls == 1);
    CHECK(ctx->profile[LP_OP_LINEAR].flops == 2.0 * 80 * 50 * 30);
    CHECK(lp_arena_used(ctx->scratch) == 0);
    CHECK_OK(lp_ctx_enable_profile(ctx, false, &err), &err);
    free(a.data), free(b.data), free(c.data), free(w.data), free(y.data);
}

int main(void) {
    gemm_env_init(&env);
    test_matmul_shapes();
    test_matmul_strided_and_batched();
    test_linear();
    test_matmul_refusals();
    test_linear_refusals();
    test_profile();
    gemm_env_release(&env);
    return lp_test_finish();
}
