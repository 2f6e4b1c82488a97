/* Layer norm over the last dimension: one block per row, two passes (mean,
 * then the centred sum of squares, as the CPU oracle, so large offsets do not
 * cancel), f32 arithmetic whatever the storage dtype. */
#include "kernels/cuda/cuda_common.cuh"
#include "kernels/dtype.h"

template <typename T>
__global__ void __launch_bounds__(1024)
    lp_layer_norm_kernel(const T *__restrict__ x, const float *__restrict__ gamma,
                         const float *__restrict__ beta, T *y, int64_t d, float eps) {
    LP_DYNAMIC_SHARED(float, red);
    const T *xr = x + (int64_t)blockIdx.x * d;
    T *yr = y + (int64_t)blockIdx.x * d;
    float s = 0.f;
    for (int64_t i = threadIdx.x; i < d; i += blockDim.x) s += lp_ld(xr, i);
    const float mean = lp_block_sum(s, red) / (float)d;
    float ss = 0.f;
    for (int64_t i = threadIdx.x; i < d; i += blockDim.x) {
        float c = lp_ld(xr, i) - mean;
        ss += c * c;
    }
    const float rstd = 1.f / sqrtf(lp_block_sum(ss, red) / (float)d + eps);
    /* y may alias x: every read of this row happened before the last barrier */
    for (int64_t i = threadIdx.x; i < d; i += blockDim.x) {
        float v = (lp_ld(xr, i) - mean) * rstd;
        if (gamma) v *= gamma[i];
        if (beta) v += beta[i];
        lp_st(yr, i, v);
    }
}

template <typename T>
static int launch_layer_norm(const void *x, const float *gamma, const float *beta, void *y,
                             int64_t rows, int64_t d, float eps, void *stream) {
    unsigned threads = lp_row_threads(d);
    for (int64_t r0 = 0; r0 < rows; r0 += 2147483647) {
        int64_t nr = rows - r0 < 2147483647 ? rows - r0 : 2147483647;
        LP_LAUNCH(lp_layer_norm_kernel<T>, (unsigned)nr, threads, 33 * sizeof(float), stream,
                  (const T *)x + r0 * d, gamma, beta, (T *)y + r0 * d, d, eps);
    }
    return LP_LAUNCH_STATUS();
}

extern "C" int lp_cuda_layer_norm(int dtype, const void *x, const float *gamma, const float *beta,
                                  void *y, int64_t rows, int64_t d, float eps, void *stream) {
    if (rows == 0 || d == 0) return 0;
    switch (dtype) {
    case LP_F32: return launch_layer_norm<float>(x, gamma, beta, y, rows, d, eps, stream);
    case LP_F16: return launch_layer_norm<__half>(x, gamma, beta, y, rows, d, eps, stream);
    case LP_BF16: return launch_layer_norm<__nv_bfloat16>(x, gamma, beta, y, rows, d, eps, stream);
    default: return (int)cudaErrorInvalidValue;
    }
}
