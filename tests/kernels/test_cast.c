/* lp_cast between f32, f16 and bf16, every pair, on both CPU backends:
 * bit-exact against kernels/dtype.h's scalar conversions on all 65536 half
 * and all 65536 bfloat16 patterns (NaNs stay NaN), on 1M random f32 bit
 * patterns and on the rounding edge cases; same-dtype copies and in-place
 * use; argument validation. */
#include <math.h>

#include "kernels/dtype.h"
#include "tests/kernels/elem_test_env.h"

static float from_bits(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static bool is_nan16(uint16_t h, lp_dtype dt) {
    return dt == LP_F16 ? (h & 0x7c00) == 0x7c00 && (h & 0x3ff) : (h & 0x7f80) == 0x7f80 && (h & 0x7f);
}

static float to_f32(uint16_t h, lp_dtype dt) { return dt == LP_F16 ? lp_f16_to_f32(h) : lp_bf16_to_f32(h); }
static uint16_t from_f32(float f, lp_dtype dt) { return dt == LP_F16 ? lp_f32_to_f16(f) : lp_f32_to_bf16(f); }

/* Every 16-bit pattern of `src` to f32 and to the other 16-bit type. */
static void test_all_patterns(elem_env *env, lp_dtype src) {
    lp_dtype other = src == LP_F16 ? LP_BF16 : LP_F16;
    uint16_t in[65536], out16[65536];
    float *out32 = elem_floats(65536, 0);
    for (uint32_t i = 0; i < 65536; i++) in[i] = (uint16_t)i;
    lp_tensor tin = lp_tensor_1d(in, src, 65536), t32 = lp_tensor_1d(out32, LP_F32, 65536);
    lp_tensor t16 = lp_tensor_1d(out16, other, 65536);
    lp_error err = {0};
    for (int b = 0; b < 2; b++) {
        lp_ctx *ctx = b ? &env->fast[2] : &env->ref;
        CHECK_OK(lp_cast(ctx, &tin, &t32, &err), &err);
        CHECK_OK(lp_cast(ctx, &tin, &t16, &err), &err);
        int bad32 = 0, bad16 = 0;
        for (uint32_t i = 0; i < 65536; i++) {
            float want = to_f32((uint16_t)i, src);
            if (is_nan16((uint16_t)i, src)) {
                bad32 += !isnan(out32[i]);
                bad16 += !is_nan16(out16[i], other);
                continue;
            }
            bad32 += memcmp(&want, &out32[i], 4) != 0;
            bad16 += out16[i] != from_f32(want, other);
        }
        CHECK_MSG(bad32 == 0, "%s -> f32 on %s: %d patterns differ", lp_dtype_name(src),
                  ctx->backend->name, bad32);
        CHECK_MSG(bad16 == 0, "%s -> %s on %s: %d patterns differ", lp_dtype_name(src),
                  lp_dtype_name(other), ctx->backend->name, bad16);
    }
    free(out32);
}

static void test_from_f32(elem_env *env) {
    enum { N = 1 << 20 };
    float *in = elem_floats(N, 0);
    uint16_t *out = elem_alloc(N * sizeof *out);
    lp_rng rng = lp_rng_seed(51);
    for (int i = 0; i < N; i++) in[i] = from_bits((uint32_t)lp_rng_next(&rng));
    /* edges: ties to even, overflow, subnormals, signed zero, infinities */
    const float edges[] = {1.0f + 1.0f / 2048, 1.0f + 3.0f / 2048, 65504.0f, 65519.0f, 65520.0f,
                           5.96e-8f, 2.98e-8f, 2.99e-8f, -0.0f, INFINITY, -INFINITY,
                           from_bits(0x3f808000u), from_bits(0x3f818000u), from_bits(0x7f7fffffu),
                           from_bits(0x00000001u), 1e-40f};
    for (size_t i = 0; i < sizeof edges / sizeof *edges; i++) in[i] = edges[i];
    lp_tensor tin = lp_tensor_1d(in, LP_F32, N);
    lp_error err = {0};
    for (int dt = 0; dt < 2; dt++) {
        lp_dtype to = dt ? LP_BF16 : LP_F16;
        lp_tensor tout = lp_tensor_1d(out, to, N);
        for (int b = 0; b < 2; b++) {
            lp_ctx *ctx = b ? &env->fast[0] : &env->ref;
            CHECK_OK(lp_cast(ctx, &tin, &tout, &err), &err);
            int bad = 0;
            for (int i = 0; i < N; i++) {
                if (isnan(in[i])) bad += !is_nan16(out[i], to);
                else bad += out[i] != from_f32(in[i], to);
            }
            CHECK_MSG(bad == 0, "f32 -> %s on %s: %d of %d differ", lp_dtype_name(to),
                      ctx->backend->name, bad, N);
        }
    }
    /* the same dtype is a bit copy (NaN payloads too), also in place */
    in[0] = from_bits(0x7fc01234u);
    float *copy = elem_floats(N, 0);
    lp_tensor tc = lp_tensor_1d(copy, LP_F32, N);
    CHECK_OK(lp_cast(&env->ref, &tin, &tc, &err), &err);
    CHECK(elem_bits_equal(in, copy, N));
    CHECK_OK(lp_cast(&env->fast[1], &tc, &tc, &err), &err);
    CHECK(elem_bits_equal(in, copy, N));
    free(in);
    free(out);
    free(copy);
}

static void test_cast_errors(elem_env *env) {
    lp_ctx *ctx = &env->fast[0];
    float f[16] = {0};
    uint16_t h[16] = {0};
    int32_t i32[16] = {0};
    lp_error err = {0};
    lp_tensor tf = lp_tensor_2d(f, LP_F32, 4, 4), th = lp_tensor_2d(h, LP_F16, 4, 4);
    lp_tensor ti = lp_tensor_2d(i32, LP_I32, 4, 4);
    CHECK_FAILS(lp_cast(ctx, &ti, &th, &err), LP_ERR_DTYPE, &err,
                "cast: x has dtype i32; cast converts between f32, f16 and bf16");
    CHECK_FAILS(lp_cast(ctx, &tf, &ti, &err), LP_ERR_DTYPE, &err, "cast: out has dtype i32");
    lp_tensor th_bad = lp_tensor_2d(h, LP_F16, 2, 8);
    CHECK_FAILS(lp_cast(ctx, &tf, &th_bad, &err), LP_ERR_SHAPE, &err,
                "cast: out is [2, 8] f16 but x is [4, 4] f32");
    lp_tensor tt = lp_tensor_transpose(&tf, 0, 1);
    CHECK_FAILS(lp_cast(ctx, &tt, &th, &err), LP_ERR_SHAPE, &err,
                "cast: x ([4, 4] f32) must be contiguous");
    lp_tensor th_over = lp_tensor_2d(f, LP_F16, 4, 4); /* f32 -> f16 in the same bytes */
    CHECK_FAILS(lp_cast(ctx, &tf, &th_over, &err), LP_ERR_INVALID_ARG, &err,
                "cast: out overlaps x");
}

int main(void) {
    elem_env env;
    elem_env_init(&env);
    test_all_patterns(&env, LP_F16);
    test_all_patterns(&env, LP_BF16);
    test_from_f32(&env);
    test_cast_errors(&env);
    elem_env_release(&env);
    return lp_test_finish();
}
