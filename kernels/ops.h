/* The op interface: what models call. Every op validates its arguments here,
 * then runs on the backend the context names (the CPU reference, the CPU fast
 * path, or CUDA), so a model is written once and reads like its reference.
 *
 * Rules shared by every op:
 * - Outputs are caller-allocated tensors of the documented shape and dtype
 *   (models take them from an arena); an op never allocates its outputs.
 * - An op is a pure function of its inputs: no hidden state, so a backward op
 *   can be added beside each one taking (inputs, outputs, grad of outputs) and
 *   writing grads of inputs. The backend table (backend.h) is laid out for it.
 * - Unless an op says otherwise, inputs and outputs are f32 on the CPU, dense in
 *   the last dimension (stride 1); the other strides are free only where noted.
 * - Failures return a status and say in err which argument was wrong. */
#ifndef LP_OPS_H
#define LP_OPS_H

#include <stdbool.h>

#include "kernels/context.h"
#include "kernels/tensor.h"

typedef enum lp_activation {
    LP_ACT_NONE = 0,
    LP_ACT_RELU,
    LP_ACT_GELU_ERF,  /* x * 0.5 * (1 + erf(x / sqrt 2)): BERT's "gelu" */
    LP_ACT_GELU_TANH, /* the tanh approximation: "gelu_new", "gelu_pytorch_tanh" */
    LP_ACT_TANH,
    LP_ACT_COUNT
} lp_activation;

const char *lp_activation_name(lp_activation act);

/* ---- GEMM family ------------------------------------------------------ */

/* out[b] = alpha * op(A[b]) x op(B[b]), op = transpose when asked.
 * A: [..., M, K] ([..., K, M] when trans_a); B: [..., K, N] ([..., N, K] when
 * trans_b); out: [..., M, N]. A and out have the same batch dims; B has the same
 * batch dims or none (one matrix shared by the batch). Rows may have any stride
 * (so head-split attention views work without copies); batch strides are free. */
lp_status lp_matmul(lp_ctx *ctx, const lp_tensor *a, const lp_tensor *b, bool trans_a, bool trans_b,
                    float alpha, lp_tensor *out, lp_error *err);

/* out = act(x W^T + bias), PyTorch's nn.Linear layout.
 * x: [..., in] contiguous; weight: [out_features, in]; bias: [out_features] or
 * NULL; out: [..., out_features] contiguous. */
lp_status lp_linear(lp_ctx *ctx, const lp_tensor *x, const lp_tensor *weight, const lp_tensor *bias,
                    lp_activation act, lp_tensor *out, lp_error *err);

typedef struct lp_conv2d_params {
    int stride_h, stride_w;
    int pad_h, pad_w;
    int dilation_h, dilation_w;
    int groups;
} lp_conv2d_params;

/* out = act(conv2d(x, weight) + bias + residual), NCHW, as torch.nn.Conv2d.
 * x: [N, C, H, W]; weight: [Cout, C / groups, KH, KW]; bias: [Cout] or NULL;
 * residual: NULL or the shape of out (ResNet's skip connection, fused);
 * out: [N, Cout, Ho, Wo] with Ho = (H + 2 pad_h - dilation_h (KH - 1) - 1) / stride_h + 1.
 * All contiguous. Batch norm is folded into weight and bias at load time. */
lp_status lp_conv2d(lp_ctx *ctx, const lp_tensor *x, const lp_tensor *weight, const lp_tensor *bias,
                    const lp_tensor *residual, const lp_conv2d_params *params, lp_activation act,
                    lp_tensor *out, lp_error *err);

/* Output size of one spatial dimension, or -1 when the window does not fit. */
int64_t lp_conv_out_size(int64_t in, int kernel, int stride, int pad, int dilation);

/* Folds an inference-mode BatchNorm2d that follows a convolution into the
 * convolution: w' = w * gamma / sqrt(var + eps), b' = (b - mean) * gamma /
 * sqrt(var + eps) + beta. conv_bias may be NULL (zero). out_weight may alias
 * conv_weight; out_bias is [Cout]. A load-time transform on CPU f32 tensors. */
lp_status lp_fold_batchnorm(const lp_tensor *conv_weight, const lp_tensor *conv_bias,
                            const lp_tensor *gamma, const lp_tensor *beta, const lp_tensor *mean,
                            const lp_tensor *var, float eps, lp_tensor *out_weight,
                            lp_tensor *out_bias, lp_error *err);

/* ---- pooling ---------------------------------------------------------- */

typedef struct lp_pool2d_params {
    int kernel_h, kernel_w;
    int stride_h, stride_w;
    int pad_h, pad_w; /* padded cells never win (as torch: -inf padding) */
    bool ceil_mode;
} lp_pool2d_params;

/* x: [N, C, H, W] -> out: [N, C, Ho, Wo], as torch.nn.MaxPool2d (dilation 1). */
lp_status lp_maxpool2d(lp_ctx *ctx, const lp_tensor *x, const lp_pool2d_params *params,
                       lp_tensor *out, lp_error *err);

/* Output size of a pooling window, torch's rule (ceil_mode windows must start
 * inside the input or left padding). -1 when it does not fit. */
int64_t lp_pool_out_size(int64_t in, int kernel, int stride, int pad, bool ceil_mode);

/* x: [N, C, H, W] -> out: [N, C] (the mean over H and W). */
lp_status lp_global_avgpool2d(lp_ctx *ctx, const lp_tensor *x, lp_tensor *out, lp_error *err);

/* ---- elementwise ------------------------------------------------------ */

/* out = act(x); same shape, contiguous; out may be x. */
lp_status lp_unary(lp_ctx *ctx, lp_activation act, const lp_tensor *x, lp_tensor *out, lp_error *err);

/* out = act(a + b). a and out: same shape, contiguous (out may be a). b: the
 * shape of a, or of a trailing part of it (a bias over the last dims), repeated. */
lp_status lp_add(lp_ctx *ctx, const lp_tensor *a, const lp_tensor *b, lp_activation act,
                 lp_tensor *out, lp_error *err);

/* ---- normalization and softmax ---------------------------------------- */

/* Over the last dimension D: out = (x - mean) / sqrt(var + eps) * gamma + beta
 * (biased variance, as torch). gamma, beta: [D] or NULL. out may be x. */
lp_status lp_layer_norm(lp_ctx *ctx, const lp_tensor *x, const lp_tensor *gamma,
                        const lp_tensor *beta, float eps, lp_tensor *out, lp_error *err);

/* Over the last dimension: out = softmax(x * scale + mask), or log_softmax when
 * `log`. mask: NULL, or f32 additive (0 or -inf, say) with x's trailing dims and
 * leading dims equal to x's or 1 (broadcast). A row whose entries are all -inf
 * gives zeros (softmax) or -inf (log softmax) instead of NaN. out may be x. */
lp_status lp_softmax(lp_ctx *ctx, const lp_tensor *x, const lp_tensor *mask, float scale, bool log,
                     lp_tensor *out, lp_error *err);

/* ---- attention -------------------------------------------------------- */

typedef struct lp_attention_mask {
    /* u8 [B, Sk]: 1 = attend, 0 = padding. NULL attends to every key. */
    const lp_tensor *key_mask;
    /* Query i sees keys j <= i + (Sk - Sq): a decoder with a KV cache of Sk - Sq
     * earlier positions. */
    bool causal;
} lp_attention_mask;

/* out = softmax(q k^T * scale + mask) v, per batch and head.
 * q: [B, H, Sq, D]; k: [B, H, Sk, D]; v: [B, H, Sk, Dv]; out: [B, H, Sq, Dv].
 * Any strides with a dense last dimension, so [B, S, H, D] storage viewed as
 * [B, H, S, D] works without copies. Self- and cross-attention alike. A query
 * that sees no key gets zeros. mask may be NULL. */
lp_status lp_attention(lp_ctx *ctx, const lp_tensor *q, const lp_tensor *k, const lp_tensor *v,
                       const lp_attention_mask *mask, float scale, lp_tensor *out, lp_error *err);

/* ---- embeddings ------------------------------------------------------- */

/* out[..., :] = table[ids[...], :]. table: [V, D]; ids: i32 or i64 [...];
 * out: [..., D]. An id outside [0, V) fails and names its position. */
lp_status lp_embedding(lp_ctx *ctx, const lp_tensor *table, const lp_tensor *ids, lp_tensor *out,
                       lp_error *err);

/* Marian's sinusoidal position table for positions offset .. offset + S - 1:
 * out: [S, D]; out[p, j] = sin(p / 10000^(2j/D)) for j < D/2 and
 * out[p, D/2 + j] = cos(p / 10000^(2j/D)) (sin half first, as transformers'
 * MarianSinusoidalPositionalEmbedding). D must be even. */
lp_status lp_sinusoidal_positions(lp_ctx *ctx, int64_t offset, lp_tensor *out, lp_error *err);

/* ---- casts and selection ---------------------------------------------- */

/* Between f32, f16 and bf16 (any pair, same shape, contiguous): round to
 * nearest even, as torch's .to(). */
lp_status lp_cast(lp_ctx *ctx, const lp_tensor *x, lp_tensor *out, lp_error *err);

/* Index of the largest entry of each last-dimension row (the first one on a
 * tie; NaN counts as largest, as torch). x: [..., N]; out: i64 [...]. */
lp_status lp_argmax(lp_ctx *ctx, const lp_tensor *x, lp_tensor *out, lp_error *err);

/* The k largest entries of each row, in descending order (lower index first on
 * a tie). x: [..., N]; values: f32 [..., k]; indices: i64 [..., k]; 1 <= k <= N. */
lp_status lp_topk(lp_ctx *ctx, const lp_tensor *x, int64_t k, lp_tensor *values,
                  lp_tensor *indices, lp_error *err);

#endif
