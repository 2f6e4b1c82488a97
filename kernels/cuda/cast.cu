/* Casts between f32, f16 and bf16, round to nearest even (the cvt.rn the
 * hardware does, which is also what __float2half_rn / __float2bfloat16_rn do
 * on the host). f16 <-> bf16 goes through f32, which is exact, so each cast
 * rounds once. NaN stays NaN (the canonical quiet NaN, not the payload). */
#include "kernels/cuda/cuda_common.cuh"
#include "kernels/dtype.h"

template <typename S, typename D>
__global__ void lp_cast_kernel(const S *__restrict__ x, D *__restrict__ y, int64_t n) {
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x)
        lp_st(y, i, lp_ld(x, i));
}

template <typename S>
static int launch_cast_from(const void *x, int dst, void *y, int64_t n, void *stream) {
    const unsigned threads = 256, blocks = lp_grid_1d(n, threads);
    switch (dst) {
    case LP_F32: LP_LAUNCH((lp_cast_kernel<S, float>), blocks, threads, 0, stream, (const S *)x, (float *)y, n); break;
    case LP_F16: LP_LAUNCH((lp_cast_kernel<S, __half>), blocks, threads, 0, stream, (const S *)x, (__half *)y, n); break;
    case LP_BF16: LP_LAUNCH((lp_cast_kernel<S, __nv_bfloat16>), blocks, threads, 0, stream, (const S *)x, (__nv_bfloat16 *)y, n); break;
    default: return (int)cudaErrorInvalidValue;
    }
    return LP_LAUNCH_STATUS();
}

extern "C" int lp_cuda_cast(int src_dtype, const void *x, int dst_dtype, void *y, int64_t n,
                            void *stream) {
    if (n == 0) return 0;
    switch (src_dtype) {
    case LP_F32: return launch_cast_from<float>(x, dst_dtype, y, n, stream);
    case LP_F16: return launch_cast_from<__half>(x, dst_dtype, y, n, stream);
    case LP_BF16: return launch_cast_from<__nv_bfloat16>(x, dst_dtype, y, n, stream);
    default: return (int)cudaErrorInvalidValue;
    }
}
