/* GEMMs through cuBLASLt: one GEMM call description (gemm_desc.h) becomes a
 * matmul descriptor, three matrix layouts (strided batch), an epilogue
 * (bias, relu, tanh-GELU) and a heuristic algorithm, cached per shape.
 * f32 runs with CUBLAS_COMPUTE_32F (no TF32 unless LP_CUDA_TF32=1); f16 and
 * bf16 operands accumulate in f32 (CUBLAS_COMPUTE_32F, scale type f32).
 * Plugin only. */
#include <cublasLt.h>
#include <cuda_runtime_api.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cuda/cuda_runtime_glue.h"
#include "kernels/cuda/gpu_cublaslt.h"

#define WORKSPACE_BYTES ((size_t)32 << 20)
#define PLAN_CACHE 64

typedef struct plan {
    bool used;
    lp_cuda_gemm_desc key; /* shape fields only (pointers zeroed) */
    cublasLtMatmulDesc_t op;
    cublasLtMatrixLayout_t la, lb, lc;
    cublasLtMatmulAlgo_t algo;
} plan;

typedef struct lt_state {
    cublasLtHandle_t handle;
    void *workspace;
    plan plans[PLAN_CACHE];
    int next;
} lt_state;

static _Thread_local lt_state *t_lt; /* one per worker thread: handles are not shared */

cudaDataType_t lp_cublaslt_type(lp_dtype t) {
    return t == LP_F16 ? CUDA_R_16F : t == LP_BF16 ? CUDA_R_16BF : CUDA_R_32F;
}

static lp_status lt_fail(cublasStatus_t s, const char *what, lp_error *err) {
    return lp_fail(err, LP_ERR_INTERNAL, "matmul (cuda): %s failed: %s (%d)", what,
                   cublasLt_status_name(s), (int)s);
}

const char *cublasLt_status_name(int s) {
    switch (s) {
    case CUBLAS_STATUS_SUCCESS: return "success";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "not initialized";
    case CUBLAS_STATUS_ALLOC_FAILED: return "allocation failed";
    case CUBLAS_STATUS_INVALID_VALUE: return "invalid value";
    case CUBLAS_STATUS_ARCH_MISMATCH: return "architecture mismatch";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "execution failed";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "not supported";
    default: return "error";
    }
}

#define LT(call, what)                                        \
    do {                                                      \
        cublasStatus_t s_ = (call);                           \
        if (s_ != CUBLAS_STATUS_SUCCESS) return lt_fail(s_, what, err); \
    } while (0)

static lp_status layout(cublasLtMatrixLayout_t *l, lp_dtype t, int64_t rows, int64_t cols,
                        int64_t ld, int64_t batch, int64_t stride, lp_error *err) {
    LT(cublasLtMatrixLayoutCreate(l, lp_cublaslt_type(t), (uint64_t)rows, (uint64_t)cols, ld),
       "cublasLtMatrixLayoutCreate");
    if (batch > 1) {
        int32_t count = (int32_t)batch;
        LT(cublasLtMatrixLayoutSetAttribute(*l, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &count,
                                            sizeof count),
           "batch count");
        LT(cublasLtMatrixLayoutSetAttribute(*l, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET,
                                            &stride, sizeof stride),
           "batch stride");
    }
    return LP_OK;
}

lp_status lp_cublaslt_describe(const lp_cuda_gemm_desc *d, cublasLtMatmulDesc_t *op,
                               cublasLtMatrixLayout_t *la, cublasLtMatrixLayout_t *lb,
                               cublasLtMatrixLayout_t *lc, lp_error *err) {
    cublasComputeType_t compute = CUBLAS_COMPUTE_32F;
    const char *tf32 = getenv("LP_CUDA_TF32");
    if (d->a_type == LP_F32 && tf32 && tf32[0] == '1') compute = CUBLAS_COMPUTE_32F_FAST_TF32;
    LT(cublasLtMatmulDescCreate(op, compute, CUDA_R_32F), "cublasLtMatmulDescCreate");
    cublasOperation_t ta = d->trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
    cublasOperation_t tb = d->trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
    LT(cublasLtMatmulDescSetAttribute(*op, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta), "transa");
    LT(cublasLtMatmulDescSetAttribute(*op, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb), "transb");
    cublasLtEpilogue_t epi = CUBLASLT_EPILOGUE_DEFAULT;
    if (d->bias) {
        epi = d->fused_act == LP_ACT_RELU        ? CUBLASLT_EPILOGUE_RELU_BIAS
              : d->fused_act == LP_ACT_GELU_TANH ? CUBLASLT_EPILOGUE_GELU_BIAS
                                                 : CUBLASLT_EPILOGUE_BIAS;
    } else {
        epi = d->fused_act == LP_ACT_RELU        ? CUBLASLT_EPILOGUE_RELU
              : d->fused_act == LP_ACT_GELU_TANH ? CUBLASLT_EPILOGUE_GELU
                                                 : CUBLASLT_EPILOGUE_DEFAULT;
    }
    LT(cublasLtMatmulDescSetAttribute(*op, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof epi),
       "epilogue");
    if (d->bias) {
        cudaDataType_t bt = CUDA_R_32F;
        LT(cublasLtMatmulDescSetAttribute(*op, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &bt, sizeof bt),
           "bias type");
        LT(cublasLtMatmulDescSetAttribute(*op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &d->bias,
                                          sizeof d->bias),
           "bias pointer");
    }
    lp_status st;
    /* stored shapes: op(A) is m x k, so A is m x k (N) or k x m (T) */
    if ((st = layout(la, d->a_type, d->trans_a ? d->k : d->m, d->trans_a ? d->m : d->k, d->lda,
                     d->batch, d->stride_a, err)) != LP_OK)
        return st;
    if ((st = layout(lb, d->b_type, d->trans_b ? d->n : d->k, d->trans_b ? d->k : d->n, d->ldb,
                     d->batch, d->stride_b, err)) != LP_OK)
        return st;
    return layout(lc, d->c_type, d->m, d->n, d->ldc, d->batch, d->stride_c, err);
}

static bool same_shape(const lp_cuda_gemm_desc *a, const lp_cuda_gemm_desc *b) {
    lp_cuda_gemm_desc x = *a, y = *b;
    x.a = x.b = y.a = y.b = NULL;
    x.c = y.c = NULL;
    x.bias = x.bias ? (const float *)1 : NULL; /* bias or not, not where */
    y.bias = y.bias ? (const float *)1 : NULL;
    x.alpha = y.alpha = 0.f;
    return !memcmp(&x, &y, sizeof x);
}

static lp_status get_state(lt_state **out, lp_error *err) {
    if (!t_lt) {
        lt_state *s = calloc(1, sizeof *s);
        if (!s) return lp_fail(err, LP_ERR_NOMEM, "matmul (cuda): out of host memory");
        cublasStatus_t cs = cublasLtCreate(&s->handle);
        if (cs != CUBLAS_STATUS_SUCCESS) {
            free(s);
            return lt_fail(cs, "cublasLtCreate", err);
        }
        lp_status st = lp_cuda_rt_alloc(WORKSPACE_BYTES, &s->workspace, err);
        if (st != LP_OK) {
            cublasLtDestroy(s->handle);
            free(s);
            return st;
        }
        t_lt = s;
    }
    *out = t_lt;
    return LP_OK;
}

static lp_status get_plan(lt_state *s, const lp_cuda_gemm_desc *d, plan **out, lp_error *err) {
    for (int i = 0; i < PLAN_CACHE; i++)
        if (s->plans[i].used && same_shape(&s->plans[i].key, d)) {
            *out = &s->plans[i];
            return LP_OK;
        }
    plan *p = &s->plans[s->next];
    s->next = (s->next + 1) % PLAN_CACHE;
    if (p->used) {
        cublasLtMatrixLayoutDestroy(p->la);
        cublasLtMatrixLayoutDestroy(p->lb);
        cublasLtMatrixLayoutDestroy(p->lc);
        cublasLtMatmulDescDestroy(p->op);
        p->used = false;
    }
    lp_status st = lp_cublaslt_describe(d, &p->op, &p->la, &p->lb, &p->lc, err);
    if (st != LP_OK) return st;
    cublasLtMatmulPreference_t pref;
    LT(cublasLtMatmulPreferenceCreate(&pref), "cublasLtMatmulPreferenceCreate");
    size_t ws = WORKSPACE_BYTES;
    cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws,
                                         sizeof ws);
    cublasLtMatmulHeuristicResult_t h;
    int found = 0;
    cublasStatus_t cs = cublasLtMatmulAlgoGetHeuristic(s->handle, p->op, p->la, p->lb, p->lc, p->lc,
                                                       pref, 1, &h, &found);
    cublasLtMatmulPreferenceDestroy(pref);
    if (cs != CUBLAS_STATUS_SUCCESS || found == 0)
        return lp_fail(err, LP_ERR_UNSUPPORTED,
                       "matmul (cuda): cuBLASLt has no algorithm for m=%lld n=%lld k=%lld (%s)",
                       (long long)d->m, (long long)d->n, (long long)d->k, cublasLt_status_name(cs));
    p->algo = h.algo;
    p->key = *d;
    p->used = true;
    *out = p;
    return LP_OK;
}

lp_status lp_cuda_gemm_run(const lp_cuda_gemm_desc *d, lp_error *err) {
    if (d->m == 0 || d->n == 0) return LP_OK;
    lt_state *s = NULL;
    lp_status st = get_state(&s, err);
    if (st != LP_OK) return st;
    plan *p = NULL;
    if ((st = get_plan(s, d, &p, err)) != LP_OK) return st;
    if (d->bias) /* the pointer is part of the descriptor, not of the cache key */
        LT(cublasLtMatmulDescSetAttribute(p->op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &d->bias,
                                          sizeof d->bias),
           "bias pointer");
    size_t ea = lp_dtype_size(d->a_type), eb = lp_dtype_size(d->b_type),
           ec = lp_dtype_size(d->c_type);
    int64_t n0 = d->outer_ndim > 0 ? d->outer_shape[0] : 1;
    int64_t n1 = d->outer_ndim > 1 ? d->outer_shape[1] : 1;
    for (int64_t i0 = 0; i0 < n0; i0++)
        for (int64_t i1 = 0; i1 < n1; i1++) {
            int64_t oa = 0, ob = 0, oc = 0;
            for (int j = 0; j < d->outer_ndim; j++) {
                int64_t i = j == 0 ? i0 : i1;
                oa += i * d->outer_stride_a[j];
                ob += i * d->outer_stride_b[j];
                oc += i * d->outer_stride_c[j];
            }
            const char *A = (const char *)d->a + oa * (int64_t)ea;
            const char *B = (const char *)d->b + ob * (int64_t)eb;
            char *C = (char *)d->c + oc * (int64_t)ec;
            LT(cublasLtMatmul(s->handle, p->op, &d->alpha, A, p->la, B, p->lb, &d->beta, C, p->lc,
                              C, p->lc, &p->algo, s->workspace, WORKSPACE_BYTES,
                              (cudaStream_t)lp_cuda_rt_stream()),
               "cublasLtMatmul");
        }
    return LP_OK;
}
