/* TEMPORARY placeholder so the tree links while the elementwise/norm/attention/embedding/select ops are written.
 * Delete this file once kernels/op_*.c and kernels/cpu/{ref,fast}_*.c define these. */
#include "kernels/cpu/cpu_ops.h"
#pragma GCC diagnostic ignored "-Wunused-parameter"

lp_status lp_unary(lp_ctx *ctx, lp_activation act, const lp_tensor *x, lp_tensor *out, lp_error *err) { return lp_fail(err, LP_ERR_UNSUPPORTED, "lp_unary: not yet implemented"); }
lp_status lp_add(lp_ctx *ctx, const lp_tensor *a, const lp_tensor *b, lp_activation act, lp_tensor *out, lp_error *err) { return lp_fail(err, LP_ERR_UNSUPPORTED, "lp_add: not yet implemented"); }
lp_status lp_layer_norm(lp_ctx *ctx, const lp_tensor *x, const lp_tensor *gamma, const lp_tensor *beta, float eps, lp_tensor *out, lp_error *err) { return lp_fail(err, LP_ERR_UNSUPPORTED, "lp_layer_norm: not yet implemented"); }
lp_status lp_softmax(lp_ctx *ctx, const lp_tensor *x, const lp_tensor *mask, float scale, bool log, lp_tensor *out, lp_error *err) { return lp_fail(err, LP_ERR_UNSUPPORTED, "lp_softmax: not yet implemented"); }
lp_status lp_attention(lp_ctx *ctx, const lp_tensor *q, const lp_tensor *k, const lp_tensor *v, const lp_attention_mask *mask, float scale, lp_tensor *out, lp_error *err) { return lp_fail(err, LP_ERR_UNSUPPORTED, "lp_attention: not yet implemented"); }
lp_status lp_embedding(lp_ctx *ctx, const lp_tensor *table, const lp_tensor *ids, lp_tensor *out, lp_error *err) { return lp_fail(err, LP_ERR_UNSUPPORTED, "lp_embedding: not yet implemented"); }
lp_status lp_sinusoidal_positions(lp_ctx *ctx, int64_t offset, lp_tensor *out, lp_error *err) { return lp_fail(err, LP_ERR_UNSUPPORTED, "lp_sinusoidal_positions: not yet implemented"); }
lp_status lp_cast(lp_ctx *ctx, const lp_tensor *x, lp_tensor *out, lp_error *err) { return lp_fail(err, LP_ERR_UNSUPPORTED, "lp_cast: not yet implemented"); }
lp_status lp_argmax(lp_ctx *ctx, const lp_tensor *x, lp_tensor *out, lp_error *err) { return lp_fail(err, LP_ERR_UNSUPPORTED, "lp_argmax: not yet implemented"); }
lp_status lp_topk(lp_ctx *ctx, const lp_tensor *x, int64_t k, lp_tensor *values, lp_tensor *indices, lp_error *err) { return lp_fail(err, LP_ERR_UNSUPPORTED, "lp_topk: not yet implemented"); }
LP_CPU_OP_UNARY(lp_cpu_ref_unary) { return lp_fail(err, LP_ERR_UNSUPPORTED, "pending"); }
LP_CPU_OP_UNARY(lp_cpu_fast_unary) { return lp_fail(err, LP_ERR_UNSUPPORTED, "pending"); }
LP_CPU_OP_ADD(lp_cpu_ref_add) { return lp_fail(err, LP_ERR_UNSUPPORTED, "pending"); }
LP_CPU_OP_ADD(lp_cpu_fast_add) { return lp_fail(err, LP_ERR_UNSUPPORTED, "pending"); }
LP_CPU_OP_LAYER_NORM(lp_cpu_ref_layer_norm) { return lp_fail(err, LP_ERR_UNSUPPORTED, "pending"); }
LP_CPU_OP_LAYER_NORM(lp_cpu_fast_layer_norm) { return lp_fail(err, LP_ERR_UNSUPPORTED, "pending"); }
LP_CPU_OP_SOFTMAX(lp_cpu_ref_softmax) { return lp_fail(err, LP_ERR_UNSUPPORTED, "pending"); }
LP_CPU_OP_SOFTMAX(lp_cpu_fast_softmax) { return lp_fail(err, LP_ERR_UNSUPPORTED, "pending"); }
LP_CPU_OP_ATTENTION(lp_cpu_ref_attention) { return lp_fail(err, LP_ERR_UNSUPPORTED, "pending"); }
LP_CPU_OP_ATTENTION(lp_cpu_fast_attention) { return lp_fail(err, LP_ERR_UNSUPPORTED, "pending"); }
LP_CPU_OP_EMBEDDING(lp_cpu_ref_embedding) { return lp_fail(err, LP_ERR_UNSUPPORTED, "pending"); }
LP_CPU_OP_SINUSOIDAL_POSITIONS(lp_cpu_ref_sinusoidal_positions) { return lp_fail(err, LP_ERR_UNSUPPORTED, "pending"); }
LP_CPU_OP_CAST(lp_cpu_ref_cast) { return lp_fail(err, LP_ERR_UNSUPPORTED, "pending"); }
LP_CPU_OP_ARGMAX(lp_cpu_ref_argmax) { return lp_fail(err, LP_ERR_UNSUPPORTED, "pending"); }
LP_CPU_OP_TOPK(lp_cpu_ref_topk) { return lp_fail(err, LP_ERR_UNSUPPORTED, "pending"); }

