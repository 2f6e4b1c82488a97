/* Fast matmul and linear: the GEMM library (gemm.h), with the linear layer's
 * bias and activation fused into the library kernel where it can, else in
 * lepton's epilogue right after the product. */
#include <string.h>

#include "kernels/cpu/cpu_ops.h"
#include "kernels/cpu/gemm.h"

/* From this many rows on, the fused primitive wins; below it dnnl_sgemm's
 * small-m kernels do, and from 16 rows on dnnl_sgemm with a transposed B
 * falls off a cliff. Measured on 2 threads (2-core EPYC): 1 x 768 x 768 with
 * GELU 18 us unfused vs 56 us fused; 12 x 3072 x 768 355 vs 503 us;
 * 16 x 768 x 3072 3.7 ms unfused vs 0.60 ms fused. */
#define LINEAR_FUSED_MIN_ROWS 16

/* Runs g fused when the library can, else as plain SGEMMs plus the epilogue. */
static lp_status run_gemm(lp_ctx *ctx, const lp_gemm_batched *g, bool try_fused, lp_error *err) {
    if (try_fused) {
        lp_status st = lp_gemm_fused(ctx, g, err);
        if (st != LP_ERR_UNSUPPORTED) return st;
    }
    return lp_gemm_batched_unfused(ctx, g, err);
}

LP_CPU_OP_MATMUL(lp_cpu_fast_matmul) {
    int nd = out->ndim;
    lp_gemm_batched g;
    memset(&g, 0, sizeof g);
    g.nbatch = nd - 2;
    g.m = out->shape[nd - 2];
    g.n = out->shape[nd - 1];
    g.k = trans_a ? a->shape[nd - 2] : a->shape[nd - 1];
    g.alpha = alpha;
    g.act = LP_ACT_NONE;
    int64_t batches = 1;
    for (int d = 0; d < g.nbatch; d++) {
        g.batch[d] = out->shape[d];
        g.a_batch_stride[d] = a->stride[d];
        g.b_batch_stride[d] = b->ndim == nd ? b->stride[d] : 0;
        g.c_batch_stride[d] = out->stride[d];
        batches *= out->shape[d];
    }
    if (batches == 0 || g.m == 0 || g.n == 0) return LP_OK;

    /* op(A) element (i, p) and op(B) element (p, j) as strides of the stored views */
    g.a = a->data;
    g.a_row_stride = trans_a ? a->stride[nd - 1] : a->stride[nd - 2];
    g.a_col_stride = trans_a ? a->stride[nd - 2] : a->stride[nd - 1];
    int bnd = b->ndim;
    g.b = b->data;
    g.b_row_stride = trans_b ? b->stride[bnd - 1] : b->stride[bnd - 2];
    g.b_col_stride = trans_b ? b->stride[bnd - 2] : b->stride[bnd - 1];
    g.c = out->data;
    g.c_row_stride = g.m == 1 ? g.n : out->stride[nd - 2];

    /* One plain product is what SGEMM does best; batches and a transposed B
     * (attention's q k^T) run faster as one call to the batched primitive. */
    bool try_fused = batches > 1 || (trans_b && g.m >= LINEAR_FUSED_MIN_ROWS);
    return run_gemm(ctx, &g, try_fused, err);
}

LP_CPU_OP_LINEAR(lp_cpu_fast_linear) {
    int64_t in = weight->shape[1], features = weight->shape[0];
    int64_t rows = lp_tensor_numel(out) / (features > 0 ? features : 1);
    if (rows == 0 || features == 0) return LP_OK;
    lp_gemm_batched g;
    memset(&g, 0, sizeof g);
    g.m = rows;
    g.n = features;
    g.k = in;
    g.a = x->data;
    g.a_row_stride = in;
    g.a_col_stride = 1;
    /* B = W^T: element (p, j) is weight[j][p] */
    g.b = weight->data;
    g.b_row_stride = 1;
    g.b_col_stride = weight->stride[0];
    g.c = out->data;
    g.c_row_stride = features;
    g.alpha = 1.0f;
    g.bias = bias ? bias->data : NULL;
    g.act = act;
    return run_gemm(ctx, &g, rows >= LINEAR_FUSED_MIN_ROWS, err);
}
