/* Embedding gather (+ an optional position-table add, the fused form the
 * encoders use) and Marian's sinusoidal position table. */
#include "kernels/cuda/cuda_common.cuh"
#include "kernels/dtype.h"

/* one block row per token; threads stride over the feature dimension */
template <typename T>
__global__ void lp_embedding_kernel(const T *__restrict__ table, int64_t vocab, int64_t d,
                                    const void *ids, int ids_i64, int64_t count,
                                    const T *__restrict__ pos, int64_t seq, int64_t pos_offset,
                                    T *out, int *bad) {
    for (int64_t r = blockIdx.x; r < count; r += gridDim.x) {
        int64_t id = ids_i64 ? ((const int64_t *)ids)[r] : (int64_t)((const int32_t *)ids)[r];
        T *o = out + r * d;
        if (id < 0 || id >= vocab) {
            if (threadIdx.x == 0) atomicMax(bad, (int)(r < 2147483647 ? r : 2147483647));
            for (int64_t j = threadIdx.x; j < d; j += blockDim.x) lp_st(o, j, 0.f);
            continue;
        }
        const T *src = table + id * d;
        const T *p = pos ? pos + (pos_offset + r % seq) * d : nullptr;
        for (int64_t j = threadIdx.x; j < d; j += blockDim.x)
            lp_st(o, j, lp_ld(src, j) + (p ? lp_ld(p, j) : 0.f));
    }
}

template <typename T>
__global__ void lp_sinusoidal_kernel(int64_t offset, int64_t s, int64_t d, T *out) {
    const int64_t half = d / 2, n = s * half;
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x) {
        int64_t p = i / half, j = i % half;
        /* angle = pos / 10000^(2j/D) in double, as transformers builds the
         * table in numpy float64. sinpi/cospi of angle/pi: their argument
         * reduction is exact and needs no local memory (sin's Payne-Hanek
         * path for huge arguments would). */
        double t = (double)(p + offset) / (pow(10000.0, 2.0 * (double)j / (double)d) *
                                           3.14159265358979323846);
        lp_st(out, p * d + j, (float)sinpi(t));
        lp_st(out, p * d + half + j, (float)cospi(t));
    }
}

#define LP_DISPATCH(dtype, CALL)                                     \
    switch (dtype) {                                                 \
    case LP_F32: { typedef float T; CALL; break; }                   \
    case LP_F16: { typedef __half T; CALL; break; }                  \
    case LP_BF16: { typedef __nv_bfloat16 T; CALL; break; }          \
    default: return (int)cudaErrorInvalidValue;                      \
    }

extern "C" int lp_cuda_embedding(int dtype, const void *table, int64_t vocab, int64_t d,
                                 const void *ids, int ids_i64, int64_t count, const void *pos,
                                 int64_t seq, int64_t pos_offset, void *out, int *bad,
                                 void *stream) {
    if (count == 0 || d == 0) return 0;
    if (pos && seq <= 0) return (int)cudaErrorInvalidValue;
    unsigned threads = d >= 256 ? 256 : 32;
    unsigned blocks = count < 65535 * 4 ? (unsigned)count : 65535 * 4;
    LP_DISPATCH(dtype, LP_LAUNCH(lp_embedding_kernel<T>, blocks, threads, 0, stream,
                                 (const T *)table, vocab, d, ids, ids_i64, count, (const T *)pos,
                                 seq > 0 ? seq : 1, pos_offset, (T *)out, bad));
    return LP_LAUNCH_STATUS();
}

extern "C" int lp_cuda_sinusoidal_positions(int dtype, int64_t offset, int64_t s, int64_t d,
                                            void *out, void *stream) {
    if (s == 0 || d < 2) return 0;
    LP_DISPATCH(dtype, LP_LAUNCH(lp_sinusoidal_kernel<T>, lp_grid_1d(s * (d / 2), 256u), 256u, 0,
                                 stream, offset, s, d, (T *)out));
    return LP_LAUNCH_STATUS();
}
