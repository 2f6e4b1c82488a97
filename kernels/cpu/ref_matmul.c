/* The oracle for matmul and linear: the definitions in ops.h as plain loops,
 * summed in double, one thread. Slow on purpose; tests compare the fast paths
 * against it. */
#include <math.h>

#include "kernels/cpu/cpu_ops.h"
#include "kernels/cpu/gemm.h"

double lp_gemm_ref_activate(double x, lp_activation act) {
    switch (act) {
    case LP_ACT_RELU: return (x > 0 || isnan(x)) ? x : 0.0;
    case LP_ACT_GELU_ERF: return 0.5 * x * (1.0 + erf(x / sqrt(2.0)));
    case LP_ACT_GELU_TANH:
        return 0.5 * x * (1.0 + tanh(sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
    case LP_ACT_TANH: return tanh(x);
    case LP_ACT_NONE:
    case LP_ACT_COUNT: break;
    }
    return x;
}

/* Offset of batch entry `flat` (row-major over the batch dims) in t, whose
 * last two dims are the matrix. A 2-D t is shared: offset 0. */
static int64_t batch_offset(const lp_tensor *t, const lp_tensor *out, int64_t flat) {
    if (t->ndim == 2) return 0;
    int64_t off = 0;
    for (int d = out->ndim - 3; d >= 0; d--) {
        int64_t i = flat % out->shape[d];
        flat /= out->shape[d];
        off += i * t->stride[d];
    }
    return off;
}

LP_CPU_OP_MATMUL(lp_cpu_ref_matmul) {
    (void)ctx, (void)err;
    int nd = out->ndim;
    int64_t m = out->shape[nd - 2], n = out->shape[nd - 1];
    int64_t k = trans_a ? a->shape[nd - 2] : a->shape[nd - 1];
    int bnd = b->ndim;
    /* element (i, p) of op(A) and (p, j) of op(B) */
    int64_t a_i = trans_a ? a->stride[nd - 1] : a->stride[nd - 2];
    int64_t a_p = trans_a ? a->stride[nd - 2] : a->stride[nd - 1];
    int64_t b_p = trans_b ? b->stride[bnd - 1] : b->stride[bnd - 2];
    int64_t b_j = trans_b ? b->stride[bnd - 2] : b->stride[bnd - 1];
    int64_t batches = 1;
    for (int d = 0; d < nd - 2; d++) batches *= out->shape[d];

    const float *A = a->data, *B = b->data;
    float *C = out->data;
    for (int64_t bi = 0; bi < batches; bi++) {
        const float *ab = A + batch_offset(a, out, bi);
        const float *bb = B + batch_offset(b, out, bi);
        float *cb = C + batch_offset(out, out, bi);
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++) {
                double sum = 0;
                for (int64_t p = 0; p < k; p++)
                    sum += (double)ab[i * a_i + p * a_p] * (double)bb[p * b_p + j * b_j];
                cb[i * out->stride[nd - 2] + j * out->stride[nd - 1]] = (float)(alpha * sum);
            }
    }
    return LP_OK;
}

LP_CPU_OP_LINEAR(lp_cpu_ref_linear) {
    (void)ctx, (void)err;
    int64_t in = weight->shape[1], features = weight->shape[0];
    int64_t rows = in > 0 ? lp_tensor_numel(x) / in : lp_tensor_numel(out) / features;
    const float *X = x->data, *Wt = weight->data, *bias_data = bias ? bias->data : NULL;
    float *Y = out->data;
    for (int64_t r = 0; r < rows; r++)
        for (int64_t j = 0; j < features; j++) {
            double sum = bias_data ? bias_data[j] : 0.0;
            for (int64_t p = 0; p < in; p++)
                sum += (double)X[r * in + p] * (double)Wt[j * weight->stride[0] + p];
            Y[r * features + j] = (float)lp_gemm_ref_activate(sum, act);
        }
    return LP_OK;
}
