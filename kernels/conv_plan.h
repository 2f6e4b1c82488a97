/* A planned convolution: lp_conv2d for a weight that is used many times (a
 * model's layer), so a backend may keep prepared forms of it between calls.
 *
 * Why: the fastest CPU convolutions (oneDNN's) want the weights reordered into
 * their own blocked layout and a primitive built per input shape; both cost far
 * more than one convolution, so lp_conv2d (a pure function) cannot afford them
 * per call. A plan keeps them: on the CPU fast backend built with oneDNN, the
 * first run for each (batch, height, width, activation, residual, threads)
 * builds the primitive and reorders the weights once; later runs only execute.
 * On every other backend a run is exactly lp_conv2d.
 *
 * Layouts. x, out and residual are [N, C, H, W] tensors either contiguous
 * (NCHW) or channels-last (NHWC storage: strides {H*W*C, 1, W*C, C}, as
 * torch.channels_last); lp_tensor_4d_channels_last makes such a view. Each
 * tensor may use either layout. lp_conv2d_plan_channels_last says whether
 * the context's backend computes in channels-last: a model then keeps its
 * activations channels-last between convolutions and converts only at the
 * edges (the plan's runs convert any NCHW argument through scratch memory).
 * Other backends take channels-last arguments on the CPU through the same
 * conversion (slow; meant for tests), and only contiguous ones elsewhere.
 *
 * Results match lp_conv2d on the same backend up to float summation order.
 * A plan is immutable to its callers and may be run from several threads at
 * once (each with its own context); its caches are locked inside. */
#ifndef LP_CONV_PLAN_H
#define LP_CONV_PLAN_H

#include "kernels/ops.h"

typedef struct lp_conv2d_plan lp_conv2d_plan;

/* weight: [Cout, C / groups, KH, KW] contiguous f32; bias: [Cout] or NULL.
 * The plan keeps views of weight and bias, not copies: their memory must
 * outlive the plan and must not change while it exists. Params are copied.
 * Validates what it can without an input (shapes, params). */
lp_status lp_conv2d_plan_create(const lp_tensor *weight, const lp_tensor *bias,
                                const lp_conv2d_params *params, lp_conv2d_plan **out,
                                lp_error *err);
void lp_conv2d_plan_free(lp_conv2d_plan *plan);

/* out = act(conv2d(x, weight) + bias + residual), as lp_conv2d, with the
 * layouts above. residual: NULL, a tensor of out's shape that does not
 * overlap out, or out itself (same data and strides: accumulate in place,
 * which saves a copy when the skip connection's buffer can be overwritten). */
lp_status lp_conv2d_plan_run(lp_ctx *ctx, const lp_conv2d_plan *plan, const lp_tensor *x,
                             const lp_tensor *residual, lp_activation act, lp_tensor *out,
                             lp_error *err);

/* True when runs on ctx's backend compute in channels-last natively (the
 * layout to keep activations in); false means contiguous NCHW is native. */
bool lp_conv2d_plan_channels_last(const lp_ctx *ctx);

/* A channels-last view of N*C*H*W floats at data (logical shape [N, C, H, W]). */
lp_tensor lp_tensor_4d_channels_last(void *data, lp_dtype dtype, int64_t n, int64_t c, int64_t h,
                                     int64_t w);

/* Layout tests for a 4-D tensor. A tensor with C == 1 (or H == W == 1) is both. */
bool lp_tensor_is_channels_last(const lp_tensor *t);

#endif
