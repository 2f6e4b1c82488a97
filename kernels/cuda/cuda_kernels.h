/* The launchers of the hand-written CUDA kernels (the .cu files in kernels/cuda), callable
 * from C. Each has the semantics of the CPU op of the same name in ops.h, on raw
 * pointers: the backend table (backend_cuda.c) turns tensors into these calls.
 *
 * Conventions: `dtype` is an lp_dtype (LP_F32, LP_F16 or LP_BF16: storage; the
 * arithmetic is f32); pointers are device pointers (host pointers in the
 * emulated build); `stream` is a cudaStream_t. A launcher returns 0 or the
 * cudaError_t of the launch (the emulated build always returns 0, or aborts on a
 * launch the hardware would refuse). Shapes are validated by the caller. */
#ifndef LP_CUDA_KERNELS_H
#define LP_CUDA_KERNELS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Activation codes: the same values as lp_activation (checked in backend_cuda.c). */
enum {
    LP_CUDA_ACT_NONE = 0,
    LP_CUDA_ACT_RELU = 1,
    LP_CUDA_ACT_GELU_ERF = 2,
    LP_CUDA_ACT_GELU_TANH = 3,
    LP_CUDA_ACT_TANH = 4
};

/* Up to 4 leading dimensions of a row-wise op, and how a broadcast operand
 * (a mask) steps along them: stride 0 repeats it. */
typedef struct lp_cuda_rows {
    int ndim;          /* leading dims, 0..4 */
    int64_t shape[4];
    int64_t stride[4]; /* elements of the broadcast operand per step */
} lp_cuda_rows;

/* layer_norm.cu: y = (x - mean) / sqrt(var + eps) * gamma + beta over rows of d.
 * gamma, beta: f32 [d] or NULL. y may be x. */
int lp_cuda_layer_norm(int dtype, const void *x, const float *gamma, const float *beta, void *y,
                       int64_t rows, int64_t d, float eps, void *stream);

/* softmax.cu: y = softmax(x * scale + mask) (log_softmax when log), rows of n.
 * mask: f32 or NULL; row r reads mask + offset(r) where offset follows
 * mask_rows (strides in elements, 0 = broadcast). All -inf rows give 0 / -inf. */
int lp_cuda_softmax(int dtype, const void *x, const float *mask, const lp_cuda_rows *mask_rows,
                    float scale, int log, void *y, int64_t rows, int64_t n, void *stream);

/* elementwise.cu */
int lp_cuda_unary(int dtype, int act, const void *x, void *y, int64_t n, void *stream);
/* y = act(a + b[i % nb]) */
int lp_cuda_add(int dtype, int act, const void *a, const void *b, int64_t nb, void *y, int64_t n,
                void *stream);
/* The GEMM epilogue: y = act(x + bias[i % cols] + residual) on rows x cols;
 * bias (f32) and residual (dtype, same shape as x) may be NULL; y may be x. */
int lp_cuda_bias_residual_act(int dtype, int act, const void *x, const float *bias,
                              const void *residual, void *y, int64_t rows, int64_t cols,
                              void *stream);
/* The same over NCHW [n, c, hw]: bias is per channel (the convolution epilogue). */
int lp_cuda_bias_residual_act_nchw(int dtype, int act, const void *x, const float *bias,
                                   const void *residual, void *y, int64_t n, int64_t c, int64_t hw,
                                   void *stream);

/* embedding.cu: out[r, :] = table[ids[r], :] (+ pos[(pos_offset + r % seq), :]
 * when pos is not NULL). ids: i32 (ids_i64 = 0) or i64. An id outside [0, V)
 * writes zeros and stores its position r in *bad (device int, preset to -1
 * by the caller; the largest bad position wins). */
int lp_cuda_embedding(int dtype, const void *table, int64_t vocab, int64_t d, const void *ids,
                      int ids_i64, int64_t count, const void *pos, int64_t seq,
                      int64_t pos_offset, void *out, int *bad, void *stream);
/* Marian's sinusoidal table for positions offset .. offset + S - 1, out [S, D]. */
int lp_cuda_sinusoidal_positions(int dtype, int64_t offset, int64_t s, int64_t d, void *out,
                                 void *stream);

/* cast.cu: any pair of f32 / f16 / bf16, round to nearest even. */
int lp_cuda_cast(int src_dtype, const void *x, int dst_dtype, void *y, int64_t n, void *stream);

/* select.cu: argmax (first index on a tie, NaN largest) and top-k (descending,
 * lower index first on a tie) per row of n. Indices are i64. */
int lp_cuda_argmax(int dtype, const void *x, int64_t rows, int64_t n, int64_t *out, void *stream);
int lp_cuda_topk(int dtype, const void *x, int64_t rows, int64_t n, int64_t k, float *values,
                 int64_t *indices, void *stream);

/* beam.cu: one beam-search step for `batch` sentences of `beam` hypotheses.
 * logits [batch * beam, vocab] (dtype), scores f32 [batch * beam] (each
 * hypothesis' running log-probability). Candidates per sentence:
 *   cand[h * vocab + v] = scores[b * beam + h] + log_softmax(logits[b * beam + h])[v]
 * (a fully -inf row gives -inf), and its top k (1 <= k <= beam * vocab, in the
 * order of lp_cuda_topk: descending, NaN first, the lower flat index first on
 * a tie): values f32 [batch, k], tokens i64 [batch, k] (v), origin i64
 * [batch, k] (b * beam + h: the hypothesis row, i.e. the KV-cache row, each
 * winner continues). beam <= LP_CUDA_BEAM_MAX. */
#define LP_CUDA_BEAM_MAX 1024
int lp_cuda_beam_step(int dtype, const void *logits, const float *scores, int64_t batch,
                      int64_t beam, int64_t vocab, int64_t k, float *values, int64_t *tokens,
                      int64_t *origin, void *stream);

/* attention.cu: out = softmax(q k^T * scale + mask) v per (batch, head). Strides
 * in elements for [B, H, S, *] (last dim dense). key_mask: u8 [B, Sk] with
 * row stride key_mask_stride, or NULL. causal: query i sees keys j <= i + Sk - Sq.
 * d, dv <= LP_CUDA_ATTENTION_MAX_D. */
#define LP_CUDA_ATTENTION_MAX_D 128
typedef struct lp_cuda_attention_args {
    const void *q, *k, *v;
    void *out;
    int64_t q_stride[3], k_stride[3], v_stride[3], out_stride[3]; /* b, h, s */
    int64_t batch, heads, sq, sk, d, dv;
    const uint8_t *key_mask;
    int64_t key_mask_stride;
    int causal;
    float scale;
} lp_cuda_attention_args;
int lp_cuda_attention(int dtype, const lp_cuda_attention_args *args, void *stream);

/* pooling.cu, NCHW as the ops. Padded cells never win the max. */
typedef struct lp_cuda_pool_args {
    int64_t n, c, h, w, ho, wo;
    int kh, kw, sh, sw, ph, pw;
} lp_cuda_pool_args;
int lp_cuda_maxpool2d(int dtype, const void *x, const lp_cuda_pool_args *args, void *out,
                      void *stream);
/* out[n, c] = mean over the plane of x[n, c] */
int lp_cuda_global_avgpool2d(int dtype, const void *x, int64_t planes, int64_t hw, void *out,
                             void *stream);

#ifdef __cplusplus
}
#endif

#endif
