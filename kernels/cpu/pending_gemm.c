/* TEMPORARY placeholder so the tree links while the GEMM/conv/pool ops are written.
 * Delete this file once kernels/op_*.c and kernels/cpu/{ref,fast}_*.c define these. */
#include "kernels/cpu/cpu_ops.h"
#pragma GCC diagnostic ignored "-Wunused-parameter"

lp_status lp_matmul(lp_ctx *ctx, const lp_tensor *a, const lp_tensor *b, bool trans_a, bool trans_b, float alpha, lp_tensor *out, lp_error *err) { return lp_fail(err, LP_ERR_UNSUPPORTED, "lp_matmul: not yet implemented"); }
lp_status lp_linear(lp_ctx *ctx, const lp_tensor *x, const lp_tensor *weight, const lp_tensor *bias, lp_activation act, lp_tensor *out, lp_error *err) { return lp_fail(err, LP_ERR_UNSUPPORTED, "lp_linear: not yet implemented"); }
lp_status lp_conv2d(lp_ctx *ctx, const lp_tensor *x, const lp_tensor *weight, const lp_tensor *bias, const lp_tensor *residual, const lp_conv2d_params *params, lp_activation act, lp_tensor *out, lp_error *err) { return lp_fail(err, LP_ERR_UNSUPPORTED, "lp_conv2d: not yet implemented"); }
lp_status lp_fold_batchnorm(const lp_tensor *conv_weight, const lp_tensor *conv_bias, const lp_tensor *gamma, const lp_tensor *beta, const lp_tensor *mean, const lp_tensor *var, float eps, lp_tensor *out_weight, lp_tensor *out_bias, lp_error *err) { return lp_fail(err, LP_ERR_UNSUPPORTED, "lp_fold_batchnorm: not yet implemented"); }
lp_status lp_maxpool2d(lp_ctx *ctx, const lp_tensor *x, const lp_pool2d_params *params, lp_tensor *out, lp_error *err) { return lp_fail(err, LP_ERR_UNSUPPORTED, "lp_maxpool2d: not yet implemented"); }
lp_status lp_global_avgpool2d(lp_ctx *ctx, const lp_tensor *x, lp_tensor *out, lp_error *err) { return lp_fail(err, LP_ERR_UNSUPPORTED, "lp_global_avgpool2d: not yet implemented"); }
LP_CPU_OP_MATMUL(lp_cpu_ref_matmul) { return lp_fail(err, LP_ERR_UNSUPPORTED, "pending"); }
LP_CPU_OP_MATMUL(lp_cpu_fast_matmul) { return lp_fail(err, LP_ERR_UNSUPPORTED, "pending"); }
LP_CPU_OP_LINEAR(lp_cpu_ref_linear) { return lp_fail(err, LP_ERR_UNSUPPORTED, "pending"); }
LP_CPU_OP_LINEAR(lp_cpu_fast_linear) { return lp_fail(err, LP_ERR_UNSUPPORTED, "pending"); }
LP_CPU_OP_CONV2D(lp_cpu_ref_conv2d) { return lp_fail(err, LP_ERR_UNSUPPORTED, "pending"); }
LP_CPU_OP_CONV2D(lp_cpu_fast_conv2d) { return lp_fail(err, LP_ERR_UNSUPPORTED, "pending"); }
LP_CPU_OP_MAXPOOL2D(lp_cpu_ref_maxpool2d) { return lp_fail(err, LP_ERR_UNSUPPORTED, "pending"); }
LP_CPU_OP_MAXPOOL2D(lp_cpu_fast_maxpool2d) { return lp_fail(err, LP_ERR_UNSUPPORTED, "pending"); }
LP_CPU_OP_GLOBAL_AVGPOOL2D(lp_cpu_ref_global_avgpool2d) { return lp_fail(err, LP_ERR_UNSUPPORTED, "pending"); }
LP_CPU_OP_GLOBAL_AVGPOOL2D(lp_cpu_fast_global_avgpool2d) { return lp_fail(err, LP_ERR_UNSUPPORTED, "pending"); }
int64_t lp_conv_out_size(int64_t in, int kernel, int stride, int pad, int dilation) { (void)in; (void)kernel; (void)stride; (void)pad; (void)dilation; return -1; }
int64_t lp_pool_out_size(int64_t in, int kernel, int stride, int pad, bool ceil_mode) { (void)in; (void)kernel; (void)stride; (void)pad; (void)ceil_mode; return -1; }

