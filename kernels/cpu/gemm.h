/* The SGEMM the CPU fast paths call, over the library picked at build time
 * (cmake/LeptonGemm.cmake: oneDNN by default, OpenBLAS as the alternative).
 * Private to kernels/cpu.
 *
 * Threads: the library runs its own threads (OpenMP for Debian's oneDNN,
 * pthreads for OpenBLAS), sized per call to the context's pool so that
 * LEPTON_NUM_THREADS holds for GEMMs too. Never call these from inside an
 * lp_parallel_for body: the library's team and the pool would then fight for
 * the same cores. */
#ifndef LP_CPU_GEMM_H
#define LP_CPU_GEMM_H

#include <stdbool.h>
#include <stdint.h>

#include "kernels/ops.h"

/* "oneDNN 2.6.3" or "OpenBLAS 0.3.21", for benchmarks and `lepton info`. */
const char *lp_gemm_library(void);

/* Threads the library may use for calls made from a context with this pool. */
int lp_gemm_threads(const lp_ctx *ctx);

/* Row-major C = alpha op(A) op(B) + beta C with op(A) m x k, op(B) k x n.
 * Leading dimensions are row strides in elements. */
lp_status lp_gemm_sgemm(int nthreads, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
                        float alpha, const float *a, int64_t lda, const float *b, int64_t ldb,
                        float beta, float *c, int64_t ldc, lp_error *err);

/* A linear layer's weight reordered once into the blocked layout oneDNN's
 * matmul kernels read fastest (the layout does not depend on the number of
 * rows, so one copy serves every batch). Immutable; shared by threads. */
typedef struct lp_gemm_packed lp_gemm_packed;

/* Packs B = W^T for a weight W [n, k] with row stride ldw. NULL when the
 * library has no packed kernel (OpenBLAS, or oneDNN refusing the shape) or
 * memory ran out: the caller then runs with W itself. */
lp_gemm_packed *lp_gemm_pack_weights(const float *w, int64_t n, int64_t k, int64_t ldw);
void lp_gemm_packed_free(lp_gemm_packed *p);
size_t lp_gemm_packed_bytes(const lp_gemm_packed *p);

/* A batched matrix product with the linear-layer epilogue fused:
 *   c[i] = act(alpha * a[i] x b[i] + bias + residual)
 * over up to three batch dims. Element (r, p) of a[i] is at
 * a + sum(i_d * a_batch_stride[d]) + r * a_row_stride + p * a_col_stride, so a
 * transpose is a pair of swapped strides; likewise b (a batch stride 0 shares
 * one matrix across that dim). c's rows are dense. */
typedef struct lp_gemm_batched {
    int nbatch;
    int64_t batch[3];
    int64_t m, n, k;
    const float *a;
    int64_t a_batch_stride[3], a_row_stride, a_col_stride;
    const float *b;
    int64_t b_batch_stride[3], b_row_stride, b_col_stride;
    float *c;
    int64_t c_batch_stride[3], c_row_stride;
    float alpha;
    const float *bias; /* [n] or NULL */
    /* m x n, rows residual_row_stride apart, or NULL; only without batch
     * dims, and not overlapping c */
    const float *residual;
    int64_t residual_row_stride;
    lp_activation act;
    /* b reordered by lp_gemm_pack_weights, or NULL. Only the fused form reads
     * it (b itself must still be valid for the unfused form). */
    const lp_gemm_packed *b_packed;
} lp_gemm_batched;

/* Runs g as one library call with the epilogue inside the GEMM kernel, on the
 * context's threads, scratch from ctx->scratch. Returns LP_ERR_UNSUPPORTED,
 * having written nothing, when the library has no fast kernel for this layout
 * (or is OpenBLAS); the caller then uses lp_gemm_batched_unfused. */
lp_status lp_gemm_fused(lp_ctx *ctx, const lp_gemm_batched *g, lp_error *err);

/* Builds the primitive lp_gemm_fused would run for g's shapes, layouts,
 * epilogue and the context's thread count, and leaves it in oneDNN's
 * primitive cache; reads no data. LP_ERR_UNSUPPORTED when g would not run
 * fused. For warming up a model before its first request. */
lp_status lp_gemm_fused_prepare(lp_ctx *ctx, const lp_gemm_batched *g, lp_error *err);

/* The same product as one lp_gemm_sgemm per batch entry, then the epilogue
 * on the context's pool. Needs a unit column stride in a, b (or a unit row
 * stride, a transposed view). */
lp_status lp_gemm_batched_unfused(lp_ctx *ctx, const lp_gemm_batched *g, lp_error *err);

/* The epilogue for rows [r0, r1) of an m x n block c (row stride ldc):
 *   c = act(c + bias_col[j] + bias_row[r] + residual[r, j])
 * each term optional (NULL). Single-threaded: lp_parallel_for bodies call it. */
void lp_gemm_epilogue(float *c, int64_t ldc, int64_t r0, int64_t r1, int64_t n,
                      const float *bias_col, const float *bias_row, const float *residual,
                      int64_t ldr, lp_activation act);

/* The same on the context's pool, rows split so each chunk has enough work. */
void lp_gemm_epilogue_parallel(lp_ctx *ctx, float *c, int64_t ldc, int64_t m, int64_t n,
                               const float *bias_col, const float *bias_row, const float *residual,
                               int64_t ldr, lp_activation act);

/* One activation as ops.h defines it, in double with libm: the oracle's form
 * (ref_matmul.c, ref_conv.c). */
double lp_gemm_ref_activate(double x, lp_activation act);

#endif
