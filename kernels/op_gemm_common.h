/* Private to the GEMM-family front-ends (op_matmul.c, op_conv.c, op_pool.c):
 * the argument checks they share. Each fills err naming the op and argument. */
#ifndef LP_OP_GEMM_COMMON_H
#define LP_OP_GEMM_COMMON_H

#include <stdbool.h>

#include "kernels/backend.h"

/* t is non-NULL, f32, on the backend's device, with sane sizes and
 * non-negative strides, and has data when it has elements. */
lp_status lp_gemm_op_check_tensor(const lp_ctx *ctx, const char *op, const char *arg,
                                  const lp_tensor *t, lp_error *err);

/* t's last two dims form a matrix with a dense last dim and rows that do not
 * overlap (row stride >= columns); other strides are free. */
lp_status lp_gemm_op_check_matrix(const char *op, const char *arg, const lp_tensor *t,
                                  lp_error *err);

/* Whether the memory two tensors can touch intersects. */
bool lp_gemm_op_overlaps(const lp_tensor *a, const lp_tensor *b);

/* lp_linear's arguments: x [..., in], weight [out_features, in] (rows
 * dense), bias [out_features] or NULL, out [..., out_features] contiguous and
 * not overlapping an input. Shared with lp_linear_plan_run. */
lp_status lp_gemm_op_check_linear(const lp_ctx *ctx, const lp_tensor *x, const lp_tensor *weight,
                                  const lp_tensor *bias, lp_activation act, const lp_tensor *out,
                                  lp_error *err);

#endif
