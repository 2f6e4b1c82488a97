/* Softmax / log-softmax over the last dimension with a scale and an additive,
 * broadcast mask: one block per row, three passes over the row (max, sum of
 * exponentials, write), so a 65001-entry vocabulary row needs no shared copy. */
#include "kernels/cuda/cuda_common.cuh"
#include "kernels/dtype.h"

/* Always 4 leading dims (unused ones are size 1 at the front), so the unrolled
 * loop below indexes the struct with constants and it stays in registers. */
struct lp_mask_map {
    int64_t shape[4], stride[4];
};

/* offset of row r's mask: decompose r over the leading shape, innermost last */
__device__ __forceinline__ int64_t lp_mask_offset(const lp_mask_map &m, int64_t r) {
    int64_t off = 0;
#pragma unroll
    for (int i = 3; i >= 0; --i) {
        off += (r % m.shape[i]) * m.stride[i];
        r /= m.shape[i];
    }
    return off;
}

template <typename T>
__global__ void __launch_bounds__(1024)
    lp_softmax_kernel(const T *x, const float *__restrict__ mask, lp_mask_map map, float scale,
                      int log_out, T *y, int64_t n) {
    LP_DYNAMIC_SHARED(float, red);
    const int64_t row = blockIdx.x;
    const T *xr = x + row * n;
    T *yr = y + row * n;
    const float *mr = mask ? mask + lp_mask_offset(map, row) : nullptr;
    float m = -INFINITY;
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
        float v = lp_ld(xr, i) * scale + (mr ? mr[i] : 0.f);
        m = fmaxf(m, v);
    }
    m = lp_block_max(m, red);
    float s = 0.f;
    if (m != -INFINITY)
        for (int64_t i = threadIdx.x; i < n; i += blockDim.x)
            s += expf(lp_ld(xr, i) * scale + (mr ? mr[i] : 0.f) - m);
    s = lp_block_sum(s, red);
    /* y may alias x: all reads above finished at the last barrier, and below
     * each thread reads only the entries it writes */
    if (m == -INFINITY) { /* a fully masked row: zeros, or -inf for log */
        for (int64_t i = threadIdx.x; i < n; i += blockDim.x) lp_st(yr, i, log_out ? -INFINITY : 0.f);
        return;
    }
    const float logsum = logf(s), inv = 1.f / s;
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
        float v = lp_ld(xr, i) * scale + (mr ? mr[i] : 0.f) - m;
        lp_st(yr, i, log_out ? v - logsum : expf(v) * inv);
    }
}

template <typename T>
static int launch_softmax(const void *x, const float *mask, const lp_cuda_rows *rows_map,
                          float scale, int log, void *y, int64_t rows, int64_t n, void *stream) {
    lp_mask_map map = {{1, 1, 1, 1}, {0, 0, 0, 0}};
    if (mask && rows_map) {
        int nd = rows_map->ndim < 4 ? rows_map->ndim : 4, lead = 4 - nd;
        for (int i = 0; i < nd; ++i) {
            map.shape[lead + i] = rows_map->shape[i] > 0 ? rows_map->shape[i] : 1;
            map.stride[lead + i] = rows_map->stride[i];
        }
    }
    unsigned threads = lp_row_threads(n);
    /* rows beyond one grid: later launches start at row r0 (mask offsets shift too) */
    if (rows > 2147483647) return (int)cudaErrorInvalidValue;
    LP_LAUNCH(lp_softmax_kernel<T>, (unsigned)rows, threads, 33 * sizeof(float), stream,
              (const T *)x, mask, map, scale, log, (T *)y, n);
    return LP_LAUNCH_STATUS();
}

extern "C" int lp_cuda_softmax(int dtype, const void *x, const float *mask,
                               const lp_cuda_rows *mask_rows, float scale, int log, void *y,
                               int64_t rows, int64_t n, void *stream) {
    if (rows == 0 || n == 0) return 0;
    switch (dtype) {
    case LP_F32: return launch_softmax<float>(x, mask, mask_rows, scale, log, y, rows, n, stream);
    case LP_F16: return launch_softmax<__half>(x, mask, mask_rows, scale, log, y, rows, n, stream);
    case LP_BF16:
        return launch_softmax<__nv_bfloat16>(x, mask, mask_rows, scale, log, y, rows, n, stream);
    default: return (int)cudaErrorInvalidValue;
    }
}
