/* The order top-k and the beam-search step select by, and the block-wide
 * "first in that order" reduction they share (select.cu, beam.cu): larger
 * value first, NaN above everything, the lower index first among equals. */
#ifndef LP_CUDA_SELECT_ORDER_CUH
#define LP_CUDA_SELECT_ORDER_CUH

#include "kernels/cuda/cuda_common.cuh"

/* true when (av, ai) comes before (bv, bi) */
__device__ __forceinline__ bool lp_before(float av, int64_t ai, float bv, int64_t bi) {
    bool an = av != av, bn = bv != bv;
    if (an || bn) return an && (!bn || ai < bi);
    return av > bv || (av == bv && ai < bi);
}

/* the block's first entry in the order; ties are impossible (indices differ)
 * except for the "none" marker index -1 */
__device__ __forceinline__ void lp_block_best(float &v, int64_t &i, float *sv, int64_t *si) {
    for (int o = 16; o > 0; o >>= 1) {
        float ov = __shfl_xor_sync(LP_FULL_MASK, v, o);
        int64_t oi = __shfl_xor_sync(LP_FULL_MASK, i, o);
        if (oi >= 0 && (i < 0 || lp_before(ov, oi, v, i))) { v = ov; i = oi; }
    }
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5;
    __syncthreads();
    if (lane == 0) { sv[warp] = v; si[warp] = i; }
    __syncthreads();
    if (warp == 0) {
        v = lane < nwarps ? sv[lane] : 0.f;
        i = lane < nwarps ? si[lane] : -1;
        for (int o = 16; o > 0; o >>= 1) {
            float ov = __shfl_xor_sync(LP_FULL_MASK, v, o);
            int64_t oi = __shfl_xor_sync(LP_FULL_MASK, i, o);
            if (oi >= 0 && (i < 0 || lp_before(ov, oi, v, i))) { v = ov; i = oi; }
        }
        if (lane == 0) { sv[32] = v; si[32] = i; }
    }
    __syncthreads();
    v = sv[32];
    i = si[32];
}

/* shared layout: 33 floats, then 33 int64 (8-aligned at byte 136) */
#define LP_SELECT_SMEM (136 + 33 * sizeof(int64_t))

#endif
