/* argmax and top-k per row: one block per row. Both use one total order on
 * (value, index): larger value first, NaN above everything, the lower index
 * first among equals. top-k runs k rounds of a block arg-max over the entries
 * that come after the previous winner in that order: no scratch memory and no
 * sort, O(k n) reads, meant for the k a classifier or a beam search asks
 * (top-5 of 1000 classes, 2 x beam of a 65001 vocabulary). */
#include "kernels/cuda/cuda_common.cuh"
#include "kernels/cuda/select_order.cuh"
#include "kernels/dtype.h"

template <typename T>
__global__ void __launch_bounds__(1024)
    lp_topk_kernel(const T *x, int64_t n, int64_t k, float *values, int64_t *indices) {
    LP_DYNAMIC_SHARED(unsigned char, smem);
    float *sv = (float *)smem;
    int64_t *si = (int64_t *)(smem + 136);
    const T *xr = x + (int64_t)blockIdx.x * n;
    float pv = 0.f;
    int64_t pi = -1; /* previous winner; -1: none yet */
    for (int64_t r = 0; r < k; ++r) {
        float bv = 0.f;
        int64_t bi = -1;
        for (int64_t j = threadIdx.x; j < n; j += blockDim.x) {
            float v = lp_ld(xr, j);
            if (pi >= 0 && !lp_before(pv, pi, v, j)) continue; /* already taken */
            if (bi < 0 || lp_before(v, j, bv, bi)) { bv = v; bi = j; }
        }
        lp_block_best(bv, bi, sv, si);
        if (threadIdx.x == 0) {
            if (values) values[(int64_t)blockIdx.x * k + r] = bv;
            indices[(int64_t)blockIdx.x * k + r] = bi;
        }
        pv = bv;
        pi = bi;
    }
}

#define LP_DISPATCH(dtype, CALL)                                     \
    switch (dtype) {                                                 \
    case LP_F32: { typedef float T; CALL; break; }                   \
    case LP_F16: { typedef __half T; CALL; break; }                  \
    case LP_BF16: { typedef __nv_bfloat16 T; CALL; break; }          \
    default: return (int)cudaErrorInvalidValue;                      \
    }

extern "C" int lp_cuda_topk(int dtype, const void *x, int64_t rows, int64_t n, int64_t k,
                            float *values, int64_t *indices, void *stream) {
    if (rows == 0) return 0;
    if (k < 1 || k > n || rows > 2147483647) return (int)cudaErrorInvalidValue;
    unsigned threads = lp_row_threads(n);
    LP_DISPATCH(dtype, LP_LAUNCH(lp_topk_kernel<T>, (unsigned)rows, threads, LP_SELECT_SMEM,
                                 stream, (const T *)x, n, k, values, indices));
    return LP_LAUNCH_STATUS();
}

extern "C" int lp_cuda_argmax(int dtype, const void *x, int64_t rows, int64_t n, int64_t *out,
                              void *stream) {
    return lp_cuda_topk(dtype, x, rows, n, 1, NULL, out, stream);
}
