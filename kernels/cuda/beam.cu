/* One beam-search step: for each sentence, the log-softmax of each of its
 * hypotheses' logits plus that hypothesis' running score, and the top k of
 * those beam x vocab candidates, with the token and the hypothesis each
 * winner continues (the row the KV cache is reordered from).
 *
 * One block per sentence. First the log-softmax statistics of each row (max
 * and log of the sum of exponentials, as softmax.cu), kept in shared memory;
 * then k rounds of a block arg-max over the candidates that come after the
 * previous winner in select.cu's order, computing each candidate on the fly
 * (no [beam, vocab] log-probability buffer is written). The flat candidate
 * index is hypothesis * vocab + token, so ties go to the lower hypothesis,
 * then the lower token: the order lp_topk gives the same numbers. */
#include "kernels/cuda/cuda_common.cuh"
#include "kernels/cuda/select_order.cuh"
#include "kernels/dtype.h"

/* shared layout: select_order's 33 floats + 33 int64, then max and
 * log-sum per hypothesis */
#define LP_BEAM_SMEM(beam) (LP_SELECT_SMEM + 2 * (size_t)(beam) * sizeof(float))

template <typename T>
__global__ void __launch_bounds__(1024)
    lp_beam_step_kernel(const T *logits, const float *scores, int64_t beam, int64_t vocab,
                        int64_t k, float *values, int64_t *tokens, int64_t *origin) {
    LP_DYNAMIC_SHARED(unsigned char, smem);
    float *sv = (float *)smem;
    int64_t *si = (int64_t *)(smem + 136);
    float *row_max = (float *)(smem + LP_SELECT_SMEM);
    float *row_log = row_max + beam;
    const int64_t b = blockIdx.x;
    const T *xb = logits + b * beam * vocab;
    const float *sb = scores + b * beam;
    for (int64_t h = 0; h < beam; ++h) {
        const T *xr = xb + h * vocab;
        float m = -INFINITY;
        for (int64_t j = threadIdx.x; j < vocab; j += blockDim.x) m = fmaxf(m, lp_ld(xr, j));
        m = lp_block_max(m, sv);
        float s = 0.f;
        if (m != -INFINITY)
            for (int64_t j = threadIdx.x; j < vocab; j += blockDim.x) s += expf(lp_ld(xr, j) - m);
        s = lp_block_sum(s, sv);
        if (threadIdx.x == 0) {
            row_max[h] = m;
            row_log[h] = logf(s);
        }
    }
    __syncthreads();
    float pv = 0.f;
    int64_t pi = -1; /* previous winner; -1: none yet */
    for (int64_t r = 0; r < k; ++r) {
        float bv = 0.f;
        int64_t bi = -1;
        for (int64_t h = 0; h < beam; ++h) {
            const float m = row_max[h], ls = row_log[h], base = sb[h];
            const T *xr = xb + h * vocab;
            for (int64_t j = threadIdx.x; j < vocab; j += blockDim.x) {
                /* a fully -inf row: log-probabilities -inf, as softmax.cu */
                float lp = m == -INFINITY ? -INFINITY : (lp_ld(xr, j) - m) - ls;
                float v = base + lp;
                int64_t flat = h * vocab + j;
                if (pi >= 0 && !lp_before(pv, pi, v, flat)) continue; /* already taken */
                if (bi < 0 || lp_before(v, flat, bv, bi)) {
                    bv = v;
                    bi = flat;
                }
            }
        }
        lp_block_best(bv, bi, sv, si);
        if (threadIdx.x == 0) {
            values[b * k + r] = bv;
            tokens[b * k + r] = bi % vocab;
            origin[b * k + r] = b * beam + bi / vocab;
        }
        pv = bv;
        pi = bi;
    }
}

extern "C" int lp_cuda_beam_step(int dtype, const void *logits, const float *scores,
                                 int64_t batch, int64_t beam, int64_t vocab, int64_t k,
                                 float *values, int64_t *tokens, int64_t *origin, void *stream) {
    if (batch == 0) return 0;
    if (batch < 0 || batch > 2147483647 || beam < 1 || beam > LP_CUDA_BEAM_MAX || vocab < 1 ||
        k < 1 || k > beam * vocab)
        return (int)cudaErrorInvalidValue;
    unsigned threads = lp_row_threads(vocab);
    switch (dtype) {
    case LP_F32:
        LP_LAUNCH(lp_beam_step_kernel<float>, (unsigned)batch, threads, LP_BEAM_SMEM(beam), stream,
                  (const float *)logits, scores, beam, vocab, k, values, tokens, origin);
        break;
    case LP_F16:
        LP_LAUNCH(lp_beam_step_kernel<__half>, (unsigned)batch, threads, LP_BEAM_SMEM(beam), stream,
                  (const __half *)logits, scores, beam, vocab, k, values, tokens, origin);
        break;
    case LP_BF16:
        LP_LAUNCH(lp_beam_step_kernel<__nv_bfloat16>, (unsigned)batch, threads, LP_BEAM_SMEM(beam),
                  stream, (const __nv_bfloat16 *)logits, scores, beam, vocab, k, values, tokens,
                  origin);
        break;
    default: return (int)cudaErrorInvalidValue;
    }
    return LP_LAUNCH_STATUS();
}
