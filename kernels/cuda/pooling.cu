/* Max pooling (torch.nn.MaxPool2d, dilation 1, padded cells never win) and the
 * global average pool, NCHW as the ops. */
#include "kernels/cuda/cuda_common.cuh"
#include "kernels/dtype.h"

/* one thread per output element, consecutive threads along the output row */
template <typename T>
__global__ void lp_maxpool2d_kernel(const T *__restrict__ x, lp_cuda_pool_args a, T *out) {
    const int64_t total = a.n * a.c * a.ho * a.wo;
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < total;
         i += (int64_t)gridDim.x * blockDim.x) {
        int64_t ow = i % a.wo, oh = i / a.wo % a.ho, plane = i / (a.wo * a.ho);
        const T *xp = x + plane * a.h * a.w;
        int64_t h0 = oh * a.sh - a.ph, w0 = ow * a.sw - a.pw;
        float m = -INFINITY;
        bool nan = false;
        for (int kh = 0; kh < a.kh; ++kh) {
            int64_t h = h0 + kh;
            if (h < 0 || h >= a.h) continue;
            for (int kw = 0; kw < a.kw; ++kw) {
                int64_t w = w0 + kw;
                if (w < 0 || w >= a.w) continue;
                float v = lp_ld(xp, h * a.w + w);
                nan |= v != v; /* torch propagates NaN */
                m = fmaxf(m, v);
            }
        }
        lp_st(out, i, nan ? NAN : m);
    }
}

/* one warp per plane; plain sum then divide, f32 accumulation */
template <typename T>
__global__ void lp_global_avgpool_kernel(const T *__restrict__ x, int64_t planes, int64_t hw,
                                         T *out) {
    const int64_t warps_per_block = blockDim.x >> 5;
    const int lane = threadIdx.x & 31;
    for (int64_t p = (int64_t)blockIdx.x * warps_per_block + (threadIdx.x >> 5); p < planes;
         p += (int64_t)gridDim.x * warps_per_block) {
        const T *xp = x + p * hw;
        float s = 0.f;
        for (int64_t j = lane; j < hw; j += 32) s += lp_ld(xp, j);
        s = lp_warp_sum(s);
        if (lane == 0) lp_st(out, p, s / (float)hw);
    }
}

#define LP_DISPATCH(dtype, CALL)                                     \
    switch (dtype) {                                                 \
    case LP_F32: { typedef float T; CALL; break; }                   \
    case LP_F16: { typedef __half T; CALL; break; }                  \
    case LP_BF16: { typedef __nv_bfloat16 T; CALL; break; }          \
    default: return (int)cudaErrorInvalidValue;                      \
    }

extern "C" int lp_cuda_maxpool2d(int dtype, const void *x, const lp_cuda_pool_args *args,
                                 void *out, void *stream) {
    int64_t total = args->n * args->c * args->ho * args->wo;
    if (total == 0) return 0;
    LP_DISPATCH(dtype, LP_LAUNCH(lp_maxpool2d_kernel<T>, lp_grid_1d(total, 256u), 256u, 0, stream,
                                 (const T *)x, *args, (T *)out));
    return LP_LAUNCH_STATUS();
}

extern "C" int lp_cuda_global_avgpool2d(int dtype, const void *x, int64_t planes, int64_t hw,
                                        void *out, void *stream) {
    if (planes == 0) return 0;
    if (hw <= 0) return (int)cudaErrorInvalidValue;
    /* 8 warps a block: one plane per warp; whole warps always (the reduction
     * is a full-mask shuffle) */
    unsigned blocks = lp_grid_1d(planes, 8u);
    LP_DISPATCH(dtype, LP_LAUNCH(lp_global_avgpool_kernel<T>, blocks, 256u, 0, stream,
                                 (const T *)x, planes, hw, (T *)out));
    return LP_LAUNCH_STATUS();
}
