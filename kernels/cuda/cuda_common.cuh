/* Shared by every kernel file in kernels/cuda: the launch and dynamic shared
 * memory macros, dtype load/store, activations and warp/block reductions.
 *
 * Why the macros: the same .cu files are compiled twice, by nvcc for the GPU
 * and as C++ with tests/cuda/emu.h (every CUDA thread a fiber) for the tests.
 * emu.h defines EMU_LAUNCH / EMU_DYNAMIC_SHARED; nvcc sees the real syntax.
 * Kernels declare shared memory only through LP_DYNAMIC_SHARED (never static
 * __shared__ in templates: GCC drops the section attribute that the emulator
 * uses to poison shared memory), and use no inline PTX. */
#ifndef LP_CUDA_COMMON_CUH
#define LP_CUDA_COMMON_CUH

#include <cuda_runtime.h>
#include <cuda_fp16.h>
#include <cuda_bf16.h>
#include <math.h>
#include <stdint.h>

#include "kernels/cuda/cuda_kernels.h"

#ifdef EMU_LAUNCH
#define LP_LAUNCH(kernel, grid, block, smem, stream, ...) \
    do {                                                  \
        (void)(stream); /* one host thread: no streams */ \
        EMU_LAUNCH(kernel, grid, block, smem, __VA_ARGS__); \
    } while (0)
#define LP_DYNAMIC_SHARED(T, name) EMU_DYNAMIC_SHARED(T, name)
#define LP_LAUNCH_STATUS() 0
#else
#define LP_LAUNCH(kernel, grid, block, smem, stream, ...) \
    kernel<<<(grid), (block), (smem), (cudaStream_t)(stream)>>>(__VA_ARGS__)
#define LP_DYNAMIC_SHARED(T, name)                          \
    extern __shared__ __align__(16) unsigned char name##_raw[]; \
    T *name = reinterpret_cast<T *>(name##_raw)
#define LP_LAUNCH_STATUS() ((int)cudaGetLastError())
#endif

#define LP_FULL_MASK 0xffffffffu

/* storage <-> f32 */
__device__ __forceinline__ float lp_ld(const float *p, int64_t i) { return p[i]; }
__device__ __forceinline__ float lp_ld(const __half *p, int64_t i) { return __half2float(p[i]); }
__device__ __forceinline__ float lp_ld(const __nv_bfloat16 *p, int64_t i) {
    return __bfloat162float(p[i]);
}
__device__ __forceinline__ void lp_st(float *p, int64_t i, float v) { p[i] = v; }
__device__ __forceinline__ void lp_st(__half *p, int64_t i, float v) { p[i] = __float2half_rn(v); }
__device__ __forceinline__ void lp_st(__nv_bfloat16 *p, int64_t i, float v) {
    p[i] = __float2bfloat16_rn(v);
}

/* The activations of ops.h. The GELUs are written without cancellation in
 * the negative tail (as the CPU fast path): 0.5 x (1 + erf(x/sqrt2)) is
 * 0.5 x erfc(-x/sqrt2), and 0.5 x (1 + tanh u) is x / (1 + exp(-2u)). */
__device__ __forceinline__ float lp_activate(int act, float x) {
    switch (act) {
    case LP_CUDA_ACT_RELU: return x > 0.f ? x : 0.f;
    case LP_CUDA_ACT_GELU_ERF: return 0.5f * x * erfcf(-x * 0.70710678118654752f);
    case LP_CUDA_ACT_GELU_TANH: {
        float u = 0.79788456080286536f * (x + 0.044715f * x * x * x);
        return x / (1.f + expf(-2.f * u));
    }
    case LP_CUDA_ACT_TANH: return tanhf(x);
    default: return x;
    }
}

__device__ __forceinline__ float lp_warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(LP_FULL_MASK, v, o);
    return v;
}
__device__ __forceinline__ float lp_warp_max(float v) {
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(LP_FULL_MASK, v, o));
    return v;
}

/* Block-wide sum / max for blockDim.x a multiple of 32 (every launcher picks
 * one). red: 33 floats of shared memory; every thread gets the result. The
 * leading barrier makes back-to-back calls on the same red safe. */
__device__ __forceinline__ float lp_block_sum(float v, float *red) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5;
    v = lp_warp_sum(v);
    __syncthreads();
    if (lane == 0) red[warp] = v;
    __syncthreads();
    if (warp == 0) {
        float w = lane < nwarps ? red[lane] : 0.f;
        w = lp_warp_sum(w);
        if (lane == 0) red[32] = w;
    }
    __syncthreads();
    return red[32];
}
__device__ __forceinline__ float lp_block_max(float v, float *red) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5;
    v = lp_warp_max(v);
    __syncthreads();
    if (lane == 0) red[warp] = v;
    __syncthreads();
    if (warp == 0) {
        float w = lane < nwarps ? red[lane] : -INFINITY;
        w = lp_warp_max(w);
        if (lane == 0) red[32] = w;
    }
    __syncthreads();
    return red[32];
}

/* Threads per block for a row of n elements: a power of two in [32, 1024]. */
static inline unsigned lp_row_threads(int64_t n) {
    unsigned t = 32;
    while (t < 1024 && (int64_t)t * 4 < n) t *= 2; /* about 4 elements per thread */
    return t;
}

/* Grid size for a grid-stride loop over n elements. The emulated build caps
 * it low: each block costs a fiber per thread there, and a few blocks that
 * loop many times test the grid-stride arithmetic better than one pass. */
#ifdef EMU_LAUNCH
#define LP_GRID_CAP 4
#else
#define LP_GRID_CAP (65535 * 8)
#endif
static inline unsigned lp_grid_1d(int64_t n, unsigned threads) {
    int64_t b = (n + threads - 1) / threads;
    if (b < 1) b = 1;
    if (b > LP_GRID_CAP) b = LP_GRID_CAP;
    return (unsigned)b;
}

#endif
