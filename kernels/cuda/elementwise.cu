/* Activations, the broadcast add, and the bias + residual + activation
 * epilogue that follows a GEMM or convolution: grid-stride loops, f32 math. */
#include "kernels/cuda/cuda_common.cuh"
#include "kernels/dtype.h"

template <typename T>
__global__ void lp_unary_kernel(int act, const T *x, T *y, int64_t n) {
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x)
        lp_st(y, i, lp_activate(act, lp_ld(x, i)));
}

template <typename T>
__global__ void lp_add_kernel(int act, const T *a, const T *b, int64_t nb, T *y, int64_t n) {
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x)
        lp_st(y, i, lp_activate(act, lp_ld(a, i) + lp_ld(b, i % nb)));
}

template <typename T>
__global__ void lp_bias_residual_act_kernel(int act, const T *x, const float *bias,
                                            const T *residual, T *y, int64_t cols, int64_t inner,
                                            int64_t n) {
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x) {
        float v = lp_ld(x, i);
        if (bias) v += bias[(i / inner) % cols];
        if (residual) v += lp_ld(residual, i);
        lp_st(y, i, lp_activate(act, v));
    }
}

#define LP_EW_THREADS 256u

#define LP_DISPATCH(dtype, CALL)                                     \
    switch (dtype) {                                                 \
    case LP_F32: { typedef float T; CALL; break; }                   \
    case LP_F16: { typedef __half T; CALL; break; }                  \
    case LP_BF16: { typedef __nv_bfloat16 T; CALL; break; }          \
    default: return (int)cudaErrorInvalidValue;                      \
    }

extern "C" int lp_cuda_unary(int dtype, int act, const void *x, void *y, int64_t n, void *stream) {
    if (n == 0) return 0;
    LP_DISPATCH(dtype, LP_LAUNCH(lp_unary_kernel<T>, lp_grid_1d(n, LP_EW_THREADS), LP_EW_THREADS,
                                 0, stream, act, (const T *)x, (T *)y, n));
    return LP_LAUNCH_STATUS();
}

extern "C" int lp_cuda_add(int dtype, int act, const void *a, const void *b, int64_t nb, void *y,
                           int64_t n, void *stream) {
    if (n == 0) return 0;
    if (nb <= 0) return (int)cudaErrorInvalidValue;
    LP_DISPATCH(dtype, LP_LAUNCH(lp_add_kernel<T>, lp_grid_1d(n, LP_EW_THREADS), LP_EW_THREADS, 0,
                                 stream, act, (const T *)a, (const T *)b, nb, (T *)y, n));
    return LP_LAUNCH_STATUS();
}

extern "C" int lp_cuda_bias_residual_act(int dtype, int act, const void *x, const float *bias,
                                         const void *residual, void *y, int64_t rows,
                                         int64_t cols, void *stream) {
    int64_t n = rows * cols;
    if (n == 0) return 0;
    LP_DISPATCH(dtype, LP_LAUNCH(lp_bias_residual_act_kernel<T>, lp_grid_1d(n, LP_EW_THREADS),
                                 LP_EW_THREADS, 0, stream, act, (const T *)x, bias,
                                 (const T *)residual, (T *)y, cols, (int64_t)1, n));
    return LP_LAUNCH_STATUS();
}

extern "C" int lp_cuda_bias_residual_act_nchw(int dtype, int act, const void *x, const float *bias,
                                              const void *residual, void *y, int64_t n, int64_t c,
                                              int64_t hw, void *stream) {
    int64_t total = n * c * hw;
    if (total == 0) return 0;
    LP_DISPATCH(dtype, LP_LAUNCH(lp_bias_residual_act_kernel<T>, lp_grid_1d(total, LP_EW_THREADS),
                                 LP_EW_THREADS, 0, stream, act, (const T *)x, bias,
                                 (const T *)residual, (T *)y, c, hw, total));
    return LP_LAUNCH_STATUS();
}
