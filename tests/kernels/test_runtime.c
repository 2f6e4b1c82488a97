/* The tensor runtime: dtypes and their conversions, tensor views, the arena's
 * no-malloc steady state, the thread pool, error messages. */
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/arena.h"
#include "kernels/dtype.h"
#include "kernels/tensor.h"
#include "kernels/threadpool.h"
#include "tests/test_util.h"

static uint32_t bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static float from_bits(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* f16 -> f32 -> f16 is the identity on every non-NaN half, and the f32 value
 * agrees with the compiler's own _Float16 conversion. */
static void test_f16_roundtrip_all(void) {
    int bad = 0;
    for (uint32_t h = 0; h < 0x10000; h++) {
        float f = lp_f16_to_f32((uint16_t)h);
        bool is_nan = ((h >> 10) & 0x1f) == 0x1f && (h & 0x3ff);
        if (is_nan) {
            if (f == f) bad++;
            continue;
        }
        _Float16 native;
        uint16_t hh = (uint16_t)h;
        memcpy(&native, &hh, 2);
        if (bits(f) != bits((float)native)) bad++;
        if (lp_f32_to_f16(f) != h) bad++;
    }
    CHECK_MSG(bad == 0, "%d halves convert wrongly", bad);
}

/* f32 -> f16 rounds to nearest even like the hardware conversion, on random
 * bit patterns across the whole range (subnormals, overflow, ties). */
static void test_f16_rounding_matches_native(void) {
    lp_rng rng = lp_rng_seed(1);
    int bad = 0;
    for (int i = 0; i < 2000000; i++) {
        float f = from_bits((uint32_t)lp_rng_next(&rng));
        if (f != f) continue;
        _Float16 native = (_Float16)f;
        uint16_t want;
        memcpy(&want, &native, 2);
        if (lp_f32_to_f16(f) != want) bad++;
    }
    /* exact ties: halfway between two halves */
    CHECK(lp_f32_to_f16(1.0f + 1.0f / 2048) == 0x3c00);          /* tie to even: down */
    CHECK(lp_f32_to_f16(1.0f + 3.0f / 2048) == 0x3c02);          /* tie to even: up */
    CHECK(lp_f32_to_f16(65520.0f) == 0x7c00);                    /* rounds to infinity */
    CHECK(lp_f32_to_f16(65519.0f) == 0x7bff);                    /* max half */
    CHECK(lp_f32_to_f16(from_bits(0x7fc00000u)) & 0x200);        /* NaN stays NaN */
    CHECK_MSG(bad == 0, "%d of 2M random floats round differently from _Float16", bad);
}

static void test_bf16(void) {
    CHECK(lp_f32_to_bf16(1.0f) == 0x3f80);
    CHECK(lp_bf16_to_f32(0x3f80) == 1.0f);
    CHECK(lp_f32_to_bf16(from_bits(0x3f808000u)) == 0x3f80); /* tie, even stays */
    CHECK(lp_f32_to_bf16(from_bits(0x3f818000u)) == 0x3f82); /* tie, odd rounds up */
    CHECK(lp_f32_to_bf16(from_bits(0x3f808001u)) == 0x3f81); /* above tie */
    uint16_t nan = lp_f32_to_bf16(from_bits(0x7f800001u));   /* NaN with low payload only */
    CHECK((nan & 0x7f80) == 0x7f80 && (nan & 0x7f));
    CHECK(lp_f32_to_bf16(INFINITY) == 0x7f80);
    int bad = 0;
    for (uint32_t b = 0; b < 0x10000; b++) {
        if ((b & 0x7f80) == 0x7f80 && (b & 0x7f)) continue;
        if (lp_f32_to_bf16(lp_bf16_to_f32((uint16_t)b)) != b) bad++;
    }
    CHECK_MSG(bad == 0, "%d bf16 values do not round-trip", bad);
}

static void test_dtype_names(void) {
    lp_dtype d;
    CHECK(lp_dtype_from_safetensors("BF16", &d) && d == LP_BF16);
    CHECK(lp_dtype_from_safetensors("F8_E5M2", &d) && d == LP_F8_E5M2);
    CHECK(!lp_dtype_from_safetensors("F128", &d));
    CHECK(!lp_dtype_from_safetensors("f32", &d)); /* the format's names are upper case */
    CHECK(lp_dtype_size(LP_I64) == 8 && lp_dtype_size(LP_BOOL) == 1);
    for (int i = 0; i < LP_DTYPE_COUNT; i++) CHECK(lp_dtype_size((lp_dtype)i) > 0);
}

static void test_tensor_views(void) {
    float data[2 * 3 * 4];
    for (int i = 0; i < 24; i++) data[i] = (float)i;
    lp_tensor t = lp_tensor_3d(data, LP_F32, 2, 3, 4);
    CHECK(lp_tensor_numel(&t) == 24 && lp_tensor_nbytes(&t) == 96);
    CHECK(t.stride[0] == 12 && t.stride[1] == 4 && t.stride[2] == 1);
    CHECK(lp_tensor_is_contiguous(&t));
    lp_tensor tr = lp_tensor_transpose(&t, 1, 2);
    CHECK(!lp_tensor_is_contiguous(&tr) && tr.shape[1] == 4 && tr.stride[1] == 1);
    lp_tensor nar = lp_tensor_narrow(&t, 1, 1, 2);
    CHECK(((float *)nar.data)[0] == 4.0f && nar.shape[1] == 2 && !lp_tensor_is_contiguous(&nar));
    lp_tensor first = lp_tensor_narrow(&t, 0, 0, 1);
    CHECK(lp_tensor_is_contiguous(&first));

    lp_error err = {0};
    lp_tensor r;
    CHECK_OK(lp_tensor_reshape(&t, 2, (int64_t[]){6, 4}, &r, &err), &err);
    CHECK(r.shape[0] == 6 && r.stride[0] == 4);
    CHECK_FAILS(lp_tensor_reshape(&t, 2, (int64_t[]){5, 4}, &r, &err), LP_ERR_SHAPE, &err,
                "24 elements");
    CHECK_FAILS(lp_tensor_reshape(&tr, 1, (int64_t[]){24}, &r, &err), LP_ERR_SHAPE, &err,
                "not contiguous");
    char buf[64];
    CHECK(!strcmp(lp_tensor_describe(&t, buf, sizeof buf), "[2, 3, 4] f32"));
    CHECK_FAILS(lp_check_dtype("op", "x", &t, LP_F16, &err), LP_ERR_DTYPE, &err,
                "op: x has dtype f32, expected f16");
}

static void test_error_chaining(void) {
    lp_error err = {0};
    lp_fail(&err, LP_ERR_IO, "cannot open 'a': No such file");
    lp_fail(&err, LP_ERR_FORMAT, "loading model");
    CHECK(err.status == LP_ERR_FORMAT);
    CHECK(!strcmp(err.msg, "loading model: cannot open 'a': No such file"));
    CHECK(lp_fail(NULL, LP_ERR_SHAPE, "ignored") == LP_ERR_SHAPE);
}

/* After one warm-up pass and a reset, repeated passes allocate nothing. */
static void test_arena_steady_state(void) {
    lp_arena *arena = lp_arena_create(1024);
    CHECK(arena != NULL);
    size_t sizes[] = {100, 5000, 70000, 3, 1 << 20, 64};
    for (int pass = 0; pass < 5; pass++) {
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
            unsigned char *p = lp_arena_alloc(arena, sizes[i]);
            CHECK(p && ((uintptr_t)p % LP_ARENA_ALIGN) == 0);
            memset(p, 0xab, sizes[i]); /* ASan checks the bounds */
        }
        lp_arena_reset(arena);
        if (pass == 0) CHECK(lp_arena_capacity(arena) >= lp_arena_high_water(arena));
    }
    size_t allocs = lp_arena_system_allocs(arena);
    for (int pass = 0; pass < 10; pass++) {
        lp_arena_mark m = lp_arena_get_mark(arena);
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) lp_arena_alloc(arena, sizes[i]);
        lp_arena_rewind(arena, m);
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) lp_arena_alloc(arena, sizes[i]);
        lp_arena_reset(arena);
    }
    CHECK_MSG(lp_arena_system_allocs(arena) == allocs, "steady state made %zu mallocs",
              lp_arena_system_allocs(arena) - allocs);
    CHECK(lp_arena_used(arena) == 0);

    lp_tensor t;
    lp_error err = {0};
    CHECK_OK(lp_arena_tensor(arena, LP_F16, 2, (int64_t[]){3, 5}, &t, &err), &err);
    CHECK(t.dtype == LP_F16 && t.shape[1] == 5 && lp_arena_used(arena) >= 30);
    CHECK_FAILS(lp_arena_tensor(arena, LP_F32, 2, (int64_t[]){-1, 5}, &t, &err), LP_ERR_SHAPE,
                &err, "negative");
    CHECK_FAILS(lp_arena_tensor(arena, LP_F32, 2, (int64_t[]){INT64_MAX / 2, 5}, &t, &err),
                LP_ERR_NOMEM, &err, "overflow");
    lp_arena_destroy(arena);
}

typedef struct sum_job {
    const int *values;
    atomic_llong total;
    atomic_int calls;
} sum_job;

static void sum_range(void *ctx, int64_t begin, int64_t end) {
    sum_job *job = ctx;
    long long s = 0;
    for (int64_t i = begin; i < end; i++) s += job->values[i];
    atomic_fetch_add(&job->total, s);
    atomic_fetch_add(&job->calls, 1);
}

static lp_threadpool *nested_pool;
static void nested_range(void *ctx, int64_t begin, int64_t end) {
    /* A loop inside a loop runs serially on this thread instead of deadlocking. */
    for (int64_t i = begin; i < end; i++) lp_parallel_for(nested_pool, 100, 1, sum_range, ctx);
}

static void test_threadpool(void) {
    enum { N = 100003 };
    int *values = malloc(N * sizeof *values);
    long long want = 0;
    for (int i = 0; i < N; i++) want += values[i] = i % 7 - 3 + i;
    int sizes[] = {1, 2, 3, 8};
    for (size_t s = 0; s < 4; s++) {
        lp_threadpool *pool = lp_threadpool_create(sizes[s]);
        CHECK(pool && lp_threadpool_size(pool) == sizes[s]);
        for (int rep = 0; rep < 50; rep++) {
            sum_job job = {.values = values};
            lp_parallel_for(pool, N, 1000, sum_range, &job);
            CHECK(atomic_load(&job.total) == want);
        }
        sum_job small = {.values = values};
        lp_parallel_for(pool, 10, 1000, sum_range, &small); /* below the grain: one call */
        CHECK(atomic_load(&small.calls) == 1);
        sum_job nested = {.values = values};
        nested_pool = pool;
        lp_parallel_for(pool, 8, 1, nested_range, &nested);
        long long want_nested = 0;
        for (int i = 0; i < 100; i++) want_nested += values[i];
        CHECK(atomic_load(&nested.total) == 8 * want_nested);
        lp_threadpool_destroy(pool);
    }
    sum_job job = {.values = values};
    lp_parallel_for(NULL, N, 1, sum_range, &job);
    CHECK(atomic_load(&job.total) == want && atomic_load(&job.calls) == 1);
    setenv("LEPTON_NUM_THREADS", "3", 1);
    CHECK(lp_default_num_threads() == 3);
    unsetenv("LEPTON_NUM_THREADS");
    CHECK(lp_default_num_threads() >= 1);
    free(values);
}

int main(void) {
    test_f16_roundtrip_all();
    test_f16_rounding_matches_native();
    test_bf16();
    test_dtype_names();
    test_tensor_views();
    test_error_chaining();
    test_arena_steady_state();
    test_threadpool();
    return lp_test_finish();
}
