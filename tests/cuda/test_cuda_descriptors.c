/* What the emulator cannot reach, exercised with the real libraries' host-only
 * calls: the cuBLASLt matmul descriptor and layouts built from the GEMM call
 * descriptions of the models' GEMMs (read back and compared), and the cuDNN
 * descriptors of ResNet-50's convolutions (cuDNN's own output-size
 * computation compared with the op's). Creating handles and asking for
 * heuristics needs a GPU: attempted, and reported as skipped without one. */
#include <cublasLt.h>
#include <cuda_runtime_api.h>
#include <cudnn.h>
#include <string.h>

#include "kernels/cuda/gemm_desc.h"
#include "kernels/cuda/gpu_cublaslt.h"
#include "kernels/cuda/gpu_cudnn.h"
#include "tests/test_util.h"

static bool g_have_gpu;

static int64_t layout_attr(cublasLtMatrixLayout_t l, cublasLtMatrixLayoutAttribute_t a) {
    int64_t v = 0;
    uint64_t u = 0;
    int32_t i = 0;
    size_t got = 0;
    if (a == CUBLASLT_MATRIX_LAYOUT_ROWS || a == CUBLASLT_MATRIX_LAYOUT_COLS) {
        cublasLtMatrixLayoutGetAttribute(l, a, &u, sizeof u, &got);
        return (int64_t)u;
    }
    if (a == CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT) {
        cublasLtMatrixLayoutGetAttribute(l, a, &i, sizeof i, &got);
        return i;
    }
    cublasLtMatrixLayoutGetAttribute(l, a, &v, sizeof v, &got);
    return v;
}

static void check_gemm(const char *what, const lp_cuda_gemm_desc *d) {
    cublasLtMatmulDesc_t op = NULL;
    cublasLtMatrixLayout_t la = NULL, lb = NULL, lc = NULL;
    lp_error err = {0};
    CHECK_OK(lp_cublaslt_describe(d, &op, &la, &lb, &lc, &err), &err);
    if (!op) return;
    /* stored shapes: A is m x k (or k x m transposed), B k x n (or n x k), C m x n */
    CHECK_MSG(layout_attr(la, CUBLASLT_MATRIX_LAYOUT_ROWS) == (d->trans_a ? d->k : d->m) &&
                  layout_attr(la, CUBLASLT_MATRIX_LAYOUT_COLS) == (d->trans_a ? d->m : d->k) &&
                  layout_attr(la, CUBLASLT_MATRIX_LAYOUT_LD) == d->lda,
              "%s: A layout", what);
    CHECK_MSG(layout_attr(lb, CUBLASLT_MATRIX_LAYOUT_ROWS) == (d->trans_b ? d->n : d->k) &&
                  layout_attr(lb, CUBLASLT_MATRIX_LAYOUT_LD) == d->ldb,
              "%s: B layout", what);
    CHECK_MSG(layout_attr(lc, CUBLASLT_MATRIX_LAYOUT_ROWS) == d->m &&
                  layout_attr(lc, CUBLASLT_MATRIX_LAYOUT_COLS) == d->n &&
                  layout_attr(lc, CUBLASLT_MATRIX_LAYOUT_LD) == d->ldc,
              "%s: C layout", what);
    if (d->batch > 1)
        CHECK_MSG(layout_attr(la, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT) == d->batch &&
                      layout_attr(lc, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET) == d->stride_c,
                  "%s: batch", what);
    cublasOperation_t ta = CUBLAS_OP_N;
    cublasLtEpilogue_t epi = CUBLASLT_EPILOGUE_DEFAULT;
    size_t got = 0;
    cublasLtMatmulDescGetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta, &got);
    cublasLtMatmulDescGetAttribute(op, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof epi, &got);
    CHECK_MSG((ta == CUBLAS_OP_T) == d->trans_a, "%s: transa", what);
    cublasLtEpilogue_t want = !d->bias ? CUBLASLT_EPILOGUE_DEFAULT
                              : d->fused_act == LP_ACT_GELU_TANH ? CUBLASLT_EPILOGUE_GELU_BIAS
                              : d->fused_act == LP_ACT_RELU      ? CUBLASLT_EPILOGUE_RELU_BIAS
                                                                 : CUBLASLT_EPILOGUE_BIAS;
    CHECK_MSG(epi == want, "%s: epilogue %d, want %d", what, (int)epi, (int)want);
    printf("cuBLASLt %-36s m=%lld n=%lld k=%lld lda=%lld ldb=%lld ldc=%lld batch=%lld epilogue=%d\n", what,
           (long long)d->m, (long long)d->n, (long long)d->k, (long long)d->lda, (long long)d->ldb,
           (long long)d->ldc, (long long)d->batch, (int)epi);
    cublasLtMatrixLayoutDestroy(la);
    cublasLtMatrixLayoutDestroy(lb);
    cublasLtMatrixLayoutDestroy(lc);
    cublasLtMatmulDescDestroy(op);
}

/* tensors with shapes only: descriptors never touch data */
static lp_tensor shape2(lp_dtype t, int64_t a, int64_t b) { return lp_tensor_2d((void *)16, t, a, b); }

static void test_bert_gemms(void) {
    lp_dtype types[3] = {LP_F32, LP_F16, LP_BF16};
    for (int i = 0; i < 3; i++) {
        lp_dtype t = types[i];
        int64_t tokens = 2 * 128;
        lp_tensor x = shape2(t, tokens, 768), wqkv = shape2(t, 2304, 768), w1 = shape2(t, 3072, 768);
        lp_tensor bias = lp_tensor_1d((void *)16, LP_F32, 3072), qkv = shape2(t, tokens, 2304);
        lp_tensor h = shape2(t, tokens, 3072);
        lp_cuda_gemm_desc d;
        lp_error err = {0};
        char what[64];
        CHECK_OK(lp_cuda_gemm_describe_linear(&x, &wqkv, NULL, LP_ACT_NONE, &qkv, &d, &err), &err);
        snprintf(what, sizeof what, "BERT qkv %s", lp_dtype_name(t));
        check_gemm(what, &d);
        CHECK_OK(lp_cuda_gemm_describe_linear(&x, &w1, &bias, LP_ACT_GELU_TANH, &h, &d, &err), &err);
        snprintf(what, sizeof what, "BERT ffn1 + bias + gelu_tanh %s", lp_dtype_name(t));
        check_gemm(what, &d);
        CHECK_OK(lp_cuda_gemm_describe_linear(&x, &w1, &bias, LP_ACT_GELU_ERF, &h, &d, &err), &err);
        CHECK(d.post_act == LP_ACT_GELU_ERF && d.fused_act == LP_ACT_NONE);
        snprintf(what, sizeof what, "BERT ffn1 + bias (+ erf gelu after) %s", lp_dtype_name(t));
        check_gemm(what, &d);
        /* scores: [B, S, H, D] views of the qkv buffer, Q K^T per head */
        lp_tensor qv = lp_tensor_4d((void *)16, t, 2, 128, 12, 64);
        qv.stride[0] = 128 * 2304;
        qv.stride[1] = 2304;
        lp_tensor q = lp_tensor_transpose(&qv, 1, 2), s = lp_tensor_4d((void *)16, t, 2, 12, 128, 128);
        CHECK_OK(lp_cuda_gemm_describe_matmul(&q, &q, false, true, 0.125f, &s, &d, &err), &err);
        snprintf(what, sizeof what, "BERT scores Q K^T %s", lp_dtype_name(t));
        check_gemm(what, &d);
    }
}

static void test_heuristics(void) {
    /* Without a GPU, cublasLtCreate fails and leaks an allocation of its own
     * (LeakSanitizer sees it), so it is not called at all. */
    if (!g_have_gpu) {
        printf("skipped: cuBLASLt heuristics need a GPU\n");
        return;
    }
    cublasLtHandle_t h;
    cublasStatus_t s = cublasLtCreate(&h);
    if (s != CUBLAS_STATUS_SUCCESS) {
        printf("skipped: cublasLtCreate: %s\n", cublasLt_status_name(s));
        return;
    }
    lp_tensor x = shape2(LP_F16, 256, 768), w = shape2(LP_F16, 3072, 768), o = shape2(LP_F16, 256, 3072);
    lp_cuda_gemm_desc d;
    lp_error err = {0};
    CHECK_OK(lp_cuda_gemm_describe_linear(&x, &w, NULL, LP_ACT_NONE, &o, &d, &err), &err);
    cublasLtMatmulDesc_t op;
    cublasLtMatrixLayout_t la, lb, lc;
    CHECK_OK(lp_cublaslt_describe(&d, &op, &la, &lb, &lc, &err), &err);
    cublasLtMatmulPreference_t pref;
    cublasLtMatmulPreferenceCreate(&pref);
    cublasLtMatmulHeuristicResult_t r;
    int found = 0;
    s = cublasLtMatmulAlgoGetHeuristic(h, op, la, lb, lc, lc, pref, 1, &r, &found);
    CHECK_MSG(s == CUBLAS_STATUS_SUCCESS && found == 1, "heuristic for the BERT ffn1 GEMM (f16)");
    cublasLtMatmulPreferenceDestroy(pref);
    cublasLtDestroy(h);
}

static int64_t conv_out(int64_t in, int k, int s, int p, int dil) { return (in + 2 * p - dil * (k - 1) - 1) / s + 1; }

static void test_resnet_convs(void) {
    /* (Cin, H, Cout, k, stride, pad): the stem, a bottleneck's three, a downsample */
    const int convs[][6] = {{3, 224, 64, 7, 2, 3}, {64, 56, 64, 1, 1, 0}, {64, 56, 64, 3, 1, 1},
                            {64, 56, 256, 1, 1, 0}, {256, 56, 512, 1, 2, 0}, {512, 14, 512, 3, 1, 1}};
    for (size_t i = 0; i < sizeof convs / sizeof convs[0]; i++) {
        const int *c = convs[i];
        lp_conv2d_params p = {c[4], c[4], c[5], c[5], 1, 1, 1};
        int64_t ho = conv_out(c[1], c[3], c[4], c[5], 1);
        lp_tensor x = lp_tensor_4d((void *)16, LP_F32, 8, c[0], c[1], c[1]);
        lp_tensor w = lp_tensor_4d((void *)16, LP_F32, c[2], c[0], c[3], c[3]);
        lp_tensor o = lp_tensor_4d((void *)16, LP_F32, 8, c[2], ho, ho);
        lp_cudnn_conv_desc d;
        lp_error err = {0};
        CHECK_OK(lp_cudnn_conv_describe(&x, &w, &p, &o, &d, &err), &err);
        printf("cuDNN conv %dx%d/%d %d->%d on %dx%d: output %lldx%lld agrees\n", c[3], c[3], c[4], c[0], c[2], c[1], c[1],
               (long long)ho, (long long)ho);
        lp_cudnn_conv_destroy(&d);
        /* a wrong output shape is caught before any launch */
        lp_tensor bad = lp_tensor_4d((void *)16, LP_F32, 8, c[2], ho + 1, ho);
        CHECK_FAILS(lp_cudnn_conv_describe(&x, &w, &p, &bad, &d, &err), LP_ERR_SHAPE, &err, "cuDNN computes output");
        lp_cudnn_conv_destroy(&d);
    }
    cudnnHandle_t h;
    cudnnStatus_t s = cudnnCreate(&h);
    if (s != CUDNN_STATUS_SUCCESS || !g_have_gpu)
        printf("skipped: cuDNN algorithm heuristics need a GPU (cudnnCreate: %s)\n", cudnnGetErrorString(s));
    if (s == CUDNN_STATUS_SUCCESS) cudnnDestroy(h);
}

int main(void) {
    int n = 0;
    g_have_gpu = cudaGetDeviceCount(&n) == cudaSuccess && n > 0;
    printf("cuBLASLt %zu, cuDNN %zu, GPU: %s\n", cublasLtGetVersion(), cudnnGetVersion(), g_have_gpu ? "yes" : "none");
    test_bert_gemms();
    test_heuristics();
    test_resnet_convs();
    return lp_test_finish();
}
