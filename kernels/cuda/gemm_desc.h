/* The GEMM call description: how one lp_matmul / lp_linear call maps onto a
 * column-major BLAS call (cuBLASLt's convention), as plain data. A pure
 * function builds it from tensors; cuBLASLt runs it on the GPU
 * (gpu_cublaslt.c), and lp_cuda_gemm_run_cpu runs the very same description on
 * the CPU so tests can check the transpose / leading-dimension / batch-stride
 * logic against lp_matmul without a GPU.
 *
 * The mapping: a row-major C = op(A) op(B) (M x N, row stride ldc) is, read
 * column-major, C^T = op(B)^T op(A)^T (N x M, ld ldc). So the BLAS "A" operand
 * is our B, the BLAS "B" operand is our A, m = N, n = M, and each operand's
 * leading dimension is its row stride. */
#ifndef LP_CUDA_GEMM_DESC_H
#define LP_CUDA_GEMM_DESC_H

#include <stdbool.h>
#include <stdint.h>

#include "kernels/ops.h"

typedef struct lp_cuda_gemm_desc {
    bool trans_a, trans_b; /* BLAS operands: op(A) is m x k, op(B) is k x n */
    int64_t m, n, k;
    const void *a, *b;
    void *c;
    int64_t lda, ldb, ldc;
    lp_dtype a_type, b_type, c_type; /* storage; compute is always f32 */
    float alpha, beta;
    /* batch: `batch` matrices `stride_*` elements apart (0: shared operand),
     * repeated over up to two outer dims that do not merge into one stride */
    int64_t batch, stride_a, stride_b, stride_c;
    int outer_ndim;
    int64_t outer_shape[2], outer_stride_a[2], outer_stride_b[2], outer_stride_c[2];
    /* epilogue: bias (f32, length m: one per output feature) and an activation
     * that cuBLASLt fuses (none, relu, tanh-GELU); post_act is what it cannot
     * fuse (erf-GELU, tanh), run as a separate kernel over C afterwards */
    const float *bias;
    lp_activation fused_act, post_act;
} lp_cuda_gemm_desc;

/* lp_matmul's call. Fails (LP_ERR_UNSUPPORTED) for layouts BLAS cannot take:
 * a last dimension that is not dense, or more than three batch dims that do
 * not merge. */
lp_status lp_cuda_gemm_describe_matmul(const lp_tensor *a, const lp_tensor *b, bool trans_a,
                                       bool trans_b, float alpha, lp_tensor *out,
                                       lp_cuda_gemm_desc *desc, lp_error *err);

/* lp_linear's call: out = act(x W^T + bias). */
lp_status lp_cuda_gemm_describe_linear(const lp_tensor *x, const lp_tensor *weight,
                                       const lp_tensor *bias, lp_activation act, lp_tensor *out,
                                       lp_cuda_gemm_desc *desc, lp_error *err);

/* Runs the description on the CPU, column-major, double accumulation, host
 * pointers: what cuBLASLt does with it, bias and fused_act included;
 * post_act is left to the caller, as on the GPU. */
void lp_cuda_gemm_run_cpu(const lp_cuda_gemm_desc *desc);

#endif
