/* A planned linear layer: lp_linear for a weight that is used many times (a
 * model's layer), so a backend may keep a prepared form of it between calls,
 * with the residual connection that follows most such layers fused in.
 *
 * Why: oneDNN's matmul kernels read the weight in a blocked layout of their
 * own. Handed a plain [out, in] weight they repack blocks of it on every call;
 * packed once, the same products run 1.1x (128 rows) to 2.6x (4 rows) faster
 * on the 2-core AVX-512 machine (benchmarks/README.md). lp_linear, a pure
 * function, cannot keep the packed copy; a plan does. On the CPU fast backend
 * built with oneDNN, the first run packs the weight (once, whichever thread
 * gets there first) and every run executes the packed kernel with bias,
 * residual and activation in its epilogue. On every other backend a run is
 * lp_linear followed by lp_add of the residual; on a backend whose tensors
 * live in device memory (CUDA) with the device copies of the weight and bias
 * from the backend's weight cache (kernels/backend_memory.h).
 *
 * Memory: after packing, the plan advises the kernel that the weight's pages
 * will not be needed (MADV_PAGEOUT: a file mapping's clean pages are dropped
 * and read back from the file if anything touches them again; anonymous
 * memory keeps its contents), so a memory-mapped checkpoint is not resident
 * twice. The weight itself stays valid and unchanged.
 *
 * Results match lp_linear + lp_add on the same backend up to float summation
 * order. A plan is immutable to its callers and may be run from several
 * threads at once (each with its own context). */
#ifndef LP_LINEAR_PLAN_H
#define LP_LINEAR_PLAN_H

#include "kernels/ops.h"

typedef struct lp_linear_plan lp_linear_plan;

/* weight: [out_features, in_features] f32 with dense rows; bias:
 * [out_features] or NULL. The plan keeps views of them, not copies: their
 * memory must outlive the plan and must not change while it exists. */
lp_status lp_linear_plan_create(const lp_tensor *weight, const lp_tensor *bias,
                                lp_linear_plan **out, lp_error *err);
void lp_linear_plan_free(lp_linear_plan *plan);

/* out = act(x W^T + bias + residual), x [..., in_features], out [...,
 * out_features] contiguous; residual NULL or a contiguous tensor of out's
 * shape that does not overlap out. */
lp_status lp_linear_plan_run(lp_ctx *ctx, const lp_linear_plan *plan, const lp_tensor *x,
                             const lp_tensor *residual, lp_activation act, lp_tensor *out,
                             lp_error *err);

/* Row counts. oneDNN builds and keeps one GEMM primitive (JIT code) per row
 * count it sees; a model fed every token count there is would grow its
 * resident memory with each new one. A model that can pad its rows (the
 * BERT family's packed batches) rounds them with this: the count itself
 * below 8, else up to one of 8 values per octave (at most 1/8 more rows). */
int64_t lp_linear_plan_rows(int64_t rows);

/* Before the first request: packs the weight and builds the primitives a run
 * with each lp_linear_plan_rows count up to max_rows would use (with or
 * without a residual, with act), on ctx's threads; no product is computed.
 * Nothing to do (LP_OK) on backends without prepared forms. */
lp_status lp_linear_plan_warm(lp_ctx *ctx, const lp_linear_plan *plan, int64_t max_rows,
                              bool residual, lp_activation act, lp_error *err);

/* The weight and bias (NULL when none) the plan was made with. */
const lp_tensor *lp_linear_plan_weight(const lp_linear_plan *plan);
const lp_tensor *lp_linear_plan_bias(const lp_linear_plan *plan);

/* Bytes of the packed copy (0 until the first packed run, or without one). */
size_t lp_linear_plan_packed_bytes(const lp_linear_plan *plan);

#endif
