/* lp_embedding (f32 / f16 / bf16 tables, i32 / i64 ids of any rank, ids out
 * of range named by position) and lp_sinusoidal_positions (Marian's layout,
 * offsets, odd D refused), on both CPU backends. Embedding rows are copies:
 * checked bit for bit. The sinusoid is checked against the closed form in
 * double here and against transformers in test_elem_fixtures.c. */
#include <math.h>

#include "tests/kernels/elem_test_env.h"

static void test_gather(elem_env *env) {
    lp_rng rng = lp_rng_seed(41);
    lp_error err = {0};
    const int64_t v = 1000, d = 768;
    float *table = elem_normal(&rng, (size_t)(v * d), 1.0f);
    lp_tensor tt = lp_tensor_2d(table, LP_F32, v, d);
    /* i64 [4, 128] (a BERT batch), i32 [2, 7], i32 [] (one id) */
    int64_t ids64[4 * 128];
    for (int i = 0; i < 4 * 128; i++) ids64[i] = (int64_t)(lp_rng_next(&rng) % (uint64_t)v);
    ids64[0] = 0, ids64[1] = v - 1;
    int32_t ids32[14];
    for (int i = 0; i < 14; i++) ids32[i] = (int32_t)(lp_rng_next(&rng) % (uint64_t)v);
    int32_t one = 7;
    lp_tensor cases[3] = {lp_tensor_2d(ids64, LP_I64, 4, 128), lp_tensor_2d(ids32, LP_I32, 2, 7),
                          lp_tensor_make(&one, LP_I32, 0, NULL)};
    for (int c = 0; c < 3; c++) {
        const lp_tensor *ids = &cases[c];
        int64_t n = lp_tensor_numel(ids);
        int64_t shape[LP_MAX_DIMS];
        for (int i = 0; i < ids->ndim; i++) shape[i] = ids->shape[i];
        shape[ids->ndim] = d;
        float *out = elem_floats((size_t)(n * d), NAN);
        lp_tensor to = lp_tensor_make(out, LP_F32, ids->ndim + 1, shape);
        for (int b = 0; b < 1 + ELEM_NFAST; b++) {
            lp_ctx *ctx = b ? &env->fast[b - 1] : &env->ref;
            memset(out, 0xff, (size_t)(n * d) * sizeof *out);
            CHECK_OK(lp_embedding(ctx, &tt, ids, &to, &err), &err);
            int bad = 0;
            for (int64_t i = 0; i < n; i++) {
                int64_t id = ids->dtype == LP_I32 ? ((int32_t *)ids->data)[i] : ((int64_t *)ids->data)[i];
                bad += !elem_bits_equal(out + i * d, table + id * d, (size_t)d);
            }
            CHECK_MSG(bad == 0, "embedding case %d on %s: %d rows differ", c, ctx->backend->name, bad);
        }
        free(out);
    }
    /* half tables copy their bits */
    uint16_t half[6] = {0x3c00, 0x4000, 0x7e00, 0x0001, 0xc000, 0x8000}, hout[4];
    int64_t hid[2] = {2, 0};
    for (int dt = 0; dt < 2; dt++) {
        lp_tensor th = lp_tensor_2d(half, dt ? LP_BF16 : LP_F16, 3, 2);
        lp_tensor ti = lp_tensor_1d(hid, LP_I64, 2), tho = lp_tensor_2d(hout, th.dtype, 2, 2);
        CHECK_OK(lp_embedding(&env->fast[0], &th, &ti, &tho, &err), &err);
        CHECK(hout[0] == 0xc000 && hout[1] == 0x8000 && hout[2] == 0x3c00 && hout[3] == 0x4000);
    }
    free(table);
}

static void test_embedding_errors(elem_env *env) {
    lp_ctx *ctx = &env->fast[0];
    float table[5 * 3] = {0}, out[2 * 4 * 3];
    lp_error err = {0};
    lp_tensor tt = lp_tensor_2d(table, LP_F32, 5, 3);
    int64_t ids[8] = {0, 1, 2, 3, 4, 0, 5, 1};
    lp_tensor ti = lp_tensor_2d(ids, LP_I64, 2, 4), to = lp_tensor_3d(out, LP_F32, 2, 4, 3);
    CHECK_FAILS(lp_embedding(ctx, &tt, &ti, &to, &err), LP_ERR_INVALID_ARG, &err,
                "embedding: ids[1, 2] (flat position 6) is 5, outside the table's [0, 5)");
    ids[6] = -1;
    CHECK_FAILS(lp_embedding(&env->ref, &tt, &ti, &to, &err), LP_ERR_INVALID_ARG, &err,
                "ids[1, 2] (flat position 6) is -1");
    ids[6] = 4;
    CHECK_OK(lp_embedding(ctx, &tt, &ti, &to, &err), &err);
    int32_t big[1] = {2147483647};
    lp_tensor tb = lp_tensor_1d(big, LP_I32, 1), tob = lp_tensor_2d(out, LP_F32, 1, 3);
    CHECK_FAILS(lp_embedding(ctx, &tt, &tb, &tob, &err), LP_ERR_INVALID_ARG, &err,
                "ids[0] (flat position 0) is 2147483647");
    float fids[8] = {0};
    lp_tensor tf = lp_tensor_2d(fids, LP_F32, 2, 4);
    CHECK_FAILS(lp_embedding(ctx, &tt, &tf, &to, &err), LP_ERR_DTYPE, &err,
                "embedding: ids have dtype f32, expected i32 or i64");
    lp_tensor to_bad = lp_tensor_3d(out, LP_F32, 2, 4, 2);
    CHECK_FAILS(lp_embedding(ctx, &tt, &ti, &to_bad, &err), LP_ERR_SHAPE, &err,
                "embedding: out is [2, 4, 2] f32, expected ids' shape [2, 4] i64 plus [3]");
    lp_tensor to_half = lp_tensor_3d(out, LP_F16, 2, 4, 3);
    CHECK_FAILS(lp_embedding(ctx, &tt, &ti, &to_half, &err), LP_ERR_DTYPE, &err,
                "embedding: out has dtype f16, expected f32");
    lp_tensor tt_int = lp_tensor_2d(table, LP_I32, 5, 3);
    CHECK_FAILS(lp_embedding(ctx, &tt_int, &ti, &to, &err), LP_ERR_DTYPE, &err,
                "embedding: table has dtype i32, expected f32, f16 or bf16");
    lp_tensor tt1 = lp_tensor_1d(table, LP_F32, 15);
    CHECK_FAILS(lp_embedding(ctx, &tt1, &ti, &to, &err), LP_ERR_SHAPE, &err,
                "embedding: table is [15] f32, expected 2 to 2 dimensions");
}

static void test_sinusoid(elem_env *env) {
    lp_error err = {0};
    const int64_t s = 37, d = 64, offset = 5;
    float *out = elem_floats((size_t)(s * d), 0);
    lp_tensor to = lp_tensor_2d(out, LP_F32, s, d);
    for (int b = 0; b < 2; b++) {
        lp_ctx *ctx = b ? &env->fast[1] : &env->ref;
        CHECK_OK(lp_sinusoidal_positions(ctx, offset, &to, &err), &err);
        double worst = 0;
        for (int64_t p = 0; p < s; p++)
            for (int64_t j = 0; j < d / 2; j++) {
                double angle = (double)(p + offset) / pow(10000.0, 2.0 * (double)j / (double)d);
                worst = fmax(worst, fabs(out[p * d + j] - sin(angle)));
                worst = fmax(worst, fabs(out[p * d + d / 2 + j] - cos(angle)));
            }
        CHECK_MSG(worst < 1e-7, "%s: sinusoid off by %g", ctx->backend->name, worst);
        /* position 0 of offset 0: sin half 0, cos half 1 */
        lp_tensor first = lp_tensor_2d(out, LP_F32, 1, d);
        CHECK_OK(lp_sinusoidal_positions(ctx, 0, &first, &err), &err);
        CHECK(out[0] == 0.0f && out[d / 2 - 1] == 0.0f && out[d / 2] == 1.0f && out[d - 1] == 1.0f);
    }
    lp_tensor odd = lp_tensor_2d(out, LP_F32, 4, 7);
    CHECK_FAILS(lp_sinusoidal_positions(&env->ref, 0, &odd, &err), LP_ERR_SHAPE, &err,
                "sinusoidal_positions: out is [4, 7]; the embedding size D must be even");
    CHECK_FAILS(lp_sinusoidal_positions(&env->ref, -1, &to, &err), LP_ERR_INVALID_ARG, &err,
                "sinusoidal_positions: offset is -1");
    lp_tensor three = lp_tensor_3d(out, LP_F32, 2, 2, 2);
    CHECK_FAILS(lp_sinusoidal_positions(&env->ref, 0, &three, &err), LP_ERR_SHAPE, &err,
                "sinusoidal_positions: out is [2, 2, 2] f32, expected 2 to 2 dimensions");
    free(out);
}

int main(void) {
    elem_env env;
    elem_env_init(&env);
    test_gather(&env);
    test_embedding_errors(&env);
    test_sinusoid(&env);
    elem_env_release(&env);
    return lp_test_finish();
}
