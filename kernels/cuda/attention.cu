/* Scaled dot-product attention, tiled in shared memory with the online
 * (streaming) softmax: out = softmax(q k^T * scale + mask) v per (batch, head),
 * never materialising the Sq x Sk score matrix.
 *
 * A block takes LP_ATT_BQ queries of one (batch, head) and walks the keys in
 * tiles of 32 (one key per lane). Per tile: the block stages K and V in shared
 * memory; each warp owns LP_ATT_QPW queries; for each query lane j computes
 * score j, the warp updates the running max m, the running sum l and the output
 * accumulator (lane owns output dims lane, lane + 32, ...). The probabilities
 * go through shared memory (one __syncwarp) instead of 32 shuffles.
 *
 * Masks: key_mask[b, j] == 0 or (causal and j > i + Sk - Sq) gives -inf; a
 * query that sees no key at all writes zeros (l == 0), as the op says. */
#include "kernels/cuda/cuda_common.cuh"
#include "kernels/dtype.h"

#define LP_ATT_WARPS 4
#define LP_ATT_QPW 4 /* queries per warp */
#define LP_ATT_BQ (LP_ATT_WARPS * LP_ATT_QPW)
#define LP_ATT_BK 32
#define LP_ATT_DCH (LP_CUDA_ATTENTION_MAX_D / 32) /* output registers per lane per query */

struct lp_att_params {
    int64_t qs[3], ks[3], vs[3], os[3];
    int64_t heads, sq, sk, d, dv, mask_stride;
    const uint8_t *key_mask;
    int causal;
    float scale;
};

/* shared floats: Q [BQ][d] (scaled), K [BK][d + 1] (padded: lane j reads row j),
 * V [BK][dv], P [WARPS][BK] */
static inline size_t lp_att_smem(int64_t d, int64_t dv) {
    return sizeof(float) * (size_t)(LP_ATT_BQ * d + LP_ATT_BK * (d + 1) + LP_ATT_BK * dv +
                                    LP_ATT_WARPS * LP_ATT_BK);
}

template <typename T>
__global__ void __launch_bounds__(LP_ATT_WARPS * 32)
    lp_attention_kernel(const T *__restrict__ q, const T *__restrict__ k, const T *__restrict__ v,
                        T *out, lp_att_params p) {
    LP_DYNAMIC_SHARED(float, smem);
    const int64_t d = p.d, dv = p.dv;
    float *Qs = smem;
    float *Ks = Qs + LP_ATT_BQ * d;
    float *Vs = Ks + LP_ATT_BK * (d + 1);
    float *Ps = Vs + LP_ATT_BK * dv;
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const int64_t b = blockIdx.z, h = blockIdx.y, q0 = (int64_t)blockIdx.x * LP_ATT_BQ;
    const T *qb = q + b * p.qs[0] + h * p.qs[1];
    const T *kb = k + b * p.ks[0] + h * p.ks[1];
    const T *vb = v + b * p.vs[0] + h * p.vs[1];
    T *ob = out + b * p.os[0] + h * p.os[1];
    const uint8_t *km = p.key_mask ? p.key_mask + b * p.mask_stride : nullptr;
    const int64_t shift = p.sk - p.sq; /* causal: query i sees keys <= i + shift */

    for (int64_t t = threadIdx.x; t < LP_ATT_BQ * d; t += blockDim.x) {
        int64_t r = t / d, c = t % d;
        Qs[t] = q0 + r < p.sq ? lp_ld(qb, (q0 + r) * p.qs[2] + c) * p.scale : 0.f;
    }
    float m[LP_ATT_QPW], l[LP_ATT_QPW], acc[LP_ATT_QPW][LP_ATT_DCH];
#pragma unroll
    for (int i = 0; i < LP_ATT_QPW; ++i) {
        m[i] = -INFINITY;
        l[i] = 0.f;
#pragma unroll
        for (int c = 0; c < LP_ATT_DCH; ++c) acc[i][c] = 0.f;
    }
    int64_t kend = p.sk;
    if (p.causal) {
        int64_t last_q = (q0 + LP_ATT_BQ < p.sq ? q0 + LP_ATT_BQ : p.sq) - 1;
        kend = last_q + shift + 1 < kend ? last_q + shift + 1 : kend;
    }
    for (int64_t k0 = 0; k0 < kend; k0 += LP_ATT_BK) {
        __syncthreads(); /* the previous tile is no longer read */
        for (int64_t t = threadIdx.x; t < LP_ATT_BK * d; t += blockDim.x) {
            int64_t r = t / d, c = t % d;
            Ks[r * (d + 1) + c] = k0 + r < p.sk ? lp_ld(kb, (k0 + r) * p.ks[2] + c) : 0.f;
        }
        for (int64_t t = threadIdx.x; t < LP_ATT_BK * dv; t += blockDim.x) {
            int64_t r = t / dv, c = t % dv;
            Vs[t] = k0 + r < p.sk ? lp_ld(vb, (k0 + r) * p.vs[2] + c) : 0.f;
        }
        __syncthreads();
        const int64_t j = k0 + lane;
        const bool key_ok = j < p.sk && (!km || km[j] != 0);
#pragma unroll
        for (int i = 0; i < LP_ATT_QPW; ++i) {
            const int64_t qi = q0 + warp * LP_ATT_QPW + i;
            /* warp-uniform: a query past the end still joins the warp ops */
            bool ok = key_ok && qi < p.sq && (!p.causal || j <= qi + shift);
            float s = -INFINITY;
            if (ok) {
                const float *qr = Qs + (warp * LP_ATT_QPW + i) * d;
                const float *kr = Ks + lane * (d + 1);
                s = 0.f;
                for (int64_t c = 0; c < d; ++c) s = fmaf(qr[c], kr[c], s);
            }
            const float mt = lp_warp_max(s);
            const float mnew = fmaxf(m[i], mt);
            float pj = 0.f, corr = 1.f;
            if (mnew != -INFINITY) { /* else nothing seen yet: keep zeros */
                pj = ok ? expf(s - mnew) : 0.f;
                corr = expf(m[i] - mnew); /* exp(-inf) = 0 on the first tile */
            }
            l[i] = l[i] * corr + lp_warp_sum(pj);
            m[i] = mnew;
            Ps[warp * LP_ATT_BK + lane] = pj;
            __syncwarp();
#pragma unroll
            for (int c = 0; c < LP_ATT_DCH; ++c) {
                const int64_t col = lane + 32 * c;
                float a = acc[i][c] * corr;
                if (col < dv)
                    for (int jj = 0; jj < LP_ATT_BK; ++jj)
                        a = fmaf(Ps[warp * LP_ATT_BK + jj], Vs[jj * dv + col], a);
                acc[i][c] = a;
            }
            __syncwarp(); /* Ps is rewritten by the next query */
        }
    }
#pragma unroll
    for (int i = 0; i < LP_ATT_QPW; ++i) {
        const int64_t qi = q0 + warp * LP_ATT_QPW + i;
        if (qi >= p.sq) continue;
        const float inv = l[i] > 0.f ? 1.f / l[i] : 0.f;
#pragma unroll
        for (int c = 0; c < LP_ATT_DCH; ++c) {
            const int64_t col = lane + 32 * c;
            if (col < dv) lp_st(ob, qi * p.os[2] + col, acc[i][c] * inv);
        }
    }
}

extern "C" int lp_cuda_attention(int dtype, const lp_cuda_attention_args *a, void *stream) {
    if (a->batch == 0 || a->heads == 0 || a->sq == 0 || a->dv == 0) return 0;
    if (a->d < 1 || a->d > LP_CUDA_ATTENTION_MAX_D || a->dv > LP_CUDA_ATTENTION_MAX_D ||
        a->heads > 65535 || a->batch > 65535)
        return (int)cudaErrorInvalidValue;
    lp_att_params p;
    for (int i = 0; i < 3; ++i) {
        p.qs[i] = a->q_stride[i];
        p.ks[i] = a->k_stride[i];
        p.vs[i] = a->v_stride[i];
        p.os[i] = a->out_stride[i];
    }
    p.heads = a->heads;
    p.sq = a->sq;
    p.sk = a->sk;
    p.d = a->d;
    p.dv = a->dv;
    p.key_mask = a->key_mask;
    p.mask_stride = a->key_mask_stride;
    p.causal = a->causal;
    p.scale = a->scale;
    dim3 grid((unsigned)((a->sq + LP_ATT_BQ - 1) / LP_ATT_BQ), (unsigned)a->heads,
              (unsigned)a->batch);
    size_t smem = lp_att_smem(a->d, a->dv);
    switch (dtype) {
    case LP_F32:
        LP_LAUNCH(lp_attention_kernel<float>, grid, LP_ATT_WARPS * 32, smem, stream,
                  (const float *)a->q, (const float *)a->k, (const float *)a->v, (float *)a->out, p);
        break;
    case LP_F16:
        LP_LAUNCH(lp_attention_kernel<__half>, grid, LP_ATT_WARPS * 32, smem, stream,
                  (const __half *)a->q, (const __half *)a->k, (const __half *)a->v,
                  (__half *)a->out, p);
        break;
    case LP_BF16:
        LP_LAUNCH(lp_attention_kernel<__nv_bfloat16>, grid, LP_ATT_WARPS * 32, smem, stream,
                  (const __nv_bfloat16 *)a->q, (const __nv_bfloat16 *)a->k,
                  (const __nv_bfloat16 *)a->v, (__nv_bfloat16 *)a->out, p);
        break;
    default: return (int)cudaErrorInvalidValue;
    }
    return LP_LAUNCH_STATUS();
}
