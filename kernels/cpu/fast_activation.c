/* The activation loops behind lp_cpu_fast_activation: fast_math.h's
 * functions in plain loops that the compiler vectorizes, twice over: for the
 * build's target (AVX2 in Release) and, with GCC on x86-64, for AVX-512 with
 * 512-bit vectors, picked at run time. The longer vectors matter here more
 * than for GEMMs: GELU's erfc is one long dependency chain per element, and
 * twice the elements per instruction keeps twice as many in flight. */
#include "kernels/cpu/fast_activation.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cpu/fast_math.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define LP_ACT_AVX512 1
#define TARGET_AVX512 \
    __attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,prefer-vector-width=512")))
#else
#define LP_ACT_AVX512 0
#endif

/* Two copies of each loop: with restrict pointers (x and y apart) and in place
 * (one pointer), so neither needs the runtime overlap test that would send
 * exact aliasing (x == y) down a scalar path. */
#define ACT_LOOPS(name, attr, expr)                                                  \
    attr static void name##_apart(const float *restrict x, float *restrict y, int64_t n) { \
        for (int64_t i = 0; i < n; i++) {                                             \
            float v = x[i];                                                           \
            y[i] = (expr);                                                            \
        }                                                                             \
    }                                                                                 \
    attr static void name##_inplace(float *y, int64_t n) {                            \
        for (int64_t i = 0; i < n; i++) {                                             \
            float v = y[i];                                                           \
            y[i] = (expr);                                                            \
        }                                                                             \
    }

#define ACT_FAMILY(suffix, attr)                                                \
    ACT_LOOPS(relu##suffix, attr, v < 0.0f ? 0.0f : v)                          \
    ACT_LOOPS(gelu_erf##suffix, attr, lp_fast_gelu_erf(v))                      \
    ACT_LOOPS(gelu_tanh##suffix, attr, lp_fast_gelu_tanh(v))                    \
    ACT_LOOPS(tanh##suffix, attr, lp_fast_tanhf(v))                             \
    attr static void activate##suffix(lp_activation act, const float *x, float *y, int64_t n) { \
        bool in_place = x == y;                                                 \
        switch (act) {                                                          \
        case LP_ACT_RELU:                                                       \
            in_place ? relu##suffix##_inplace(y, n) : relu##suffix##_apart(x, y, n); \
            return;                                                             \
        case LP_ACT_GELU_ERF:                                                   \
            in_place ? gelu_erf##suffix##_inplace(y, n) : gelu_erf##suffix##_apart(x, y, n); \
            return;                                                             \
        case LP_ACT_GELU_TANH:                                                  \
            in_place ? gelu_tanh##suffix##_inplace(y, n) : gelu_tanh##suffix##_apart(x, y, n); \
            return;                                                             \
        case LP_ACT_TANH:                                                       \
            in_place ? tanh##suffix##_inplace(y, n) : tanh##suffix##_apart(x, y, n); \
            return;                                                             \
        case LP_ACT_NONE:                                                       \
        case LP_ACT_COUNT: return;                                              \
        }                                                                       \
    }

ACT_FAMILY(_base, )
#if LP_ACT_AVX512
ACT_FAMILY(_avx512, TARGET_AVX512)
#endif

/* -1: not decided yet; 0: base loops; 1: AVX-512 loops. */
static atomic_int use_avx512 = -1;

static int detect_avx512(void) {
#if LP_ACT_AVX512
    const char *off = getenv("LEPTON_NO_AVX512");
    if (off && *off && strcmp(off, "0") != 0) return 0;
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
           __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq");
#else
    return 0;
#endif
}

bool lp_cpu_fast_activation_avx512(void) {
    int v = atomic_load_explicit(&use_avx512, memory_order_relaxed);
    if (v < 0) {
        v = detect_avx512();
        atomic_store_explicit(&use_avx512, v, memory_order_relaxed);
    }
    return v == 1;
}

void lp_cpu_fast_activation_allow_avx512(bool allow) {
    atomic_store_explicit(&use_avx512, allow ? detect_avx512() : 0, memory_order_relaxed);
}

void lp_cpu_fast_activation(lp_activation act, const float *x, float *y, int64_t n) {
    if (act == LP_ACT_NONE) {
        if (x != y) memmove(y, x, (size_t)n * sizeof *y);
        return;
    }
#if LP_ACT_AVX512
    if (lp_cpu_fast_activation_avx512()) {
        activate_avx512(act, x, y, n);
        return;
    }
#endif
    activate_base(act, x, y, n);
}
