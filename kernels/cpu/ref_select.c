/* The CPU argmax and top-k (the oracle, and what the "cpu" backend runs: both
 * are one pass over memory). The order, from kernels/op_select.c: NaN is the
 * largest value; equal values rank by lower index first. */
#include <math.h>
#include <stdlib.h>

#include "kernels/cpu/cpu_ops.h"

/* Does (a, ia) rank before (b, ib)? A strict total order on (value, index). */
static bool ranks_before(float a, int64_t ia, float b, int64_t ib) {
    bool na = isnan(a), nb = isnan(b);
    if (na != nb) return na;
    if (!na && a != b) return a > b;
    return ia < ib;
}

LP_CPU_OP_ARGMAX(lp_cpu_ref_argmax) {
    (void)ctx;
    (void)err;
    int64_t n = x->shape[x->ndim - 1], rows = lp_tensor_numel(x) / n;
    int64_t *out_idx = out->data;
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = (const float *)x->data + r * n;
        int64_t best = 0;
        for (int64_t j = 1; j < n; j++)
            if (ranks_before(xr[j], j, xr[best], best)) best = j;
        out_idx[r] = best;
    }
    return LP_OK;
}

typedef struct ranked {
    float value;
    int64_t index;
} ranked;

static int compare_ranked(const void *pa, const void *pb) {
    const ranked *a = pa, *b = pb;
    if (ranks_before(a->value, a->index, b->value, b->index)) return -1;
    if (ranks_before(b->value, b->index, a->value, a->index)) return 1;
    return 0;
}

/* Small k: a sorted list of the best k so far; an entry that does not beat
 * the k-th is dropped after one comparison, so a row costs about N of them. */
static void topk_insert(const float *xr, int64_t n, int64_t k, ranked *best) {
    int64_t len = 0;
    for (int64_t j = 0; j < n; j++) {
        if (len == k && !ranks_before(xr[j], j, best[k - 1].value, best[k - 1].index)) continue;
        int64_t pos = len < k ? len++ : k - 1;
        while (pos > 0 && ranks_before(xr[j], j, best[pos - 1].value, best[pos - 1].index)) {
            best[pos] = best[pos - 1];
            pos--;
        }
        best[pos].value = xr[j];
        best[pos].index = j;
    }
}

/* Large k: sort the whole row by the same order. */
static void topk_sort(const float *xr, int64_t n, ranked *all) {
    for (int64_t j = 0; j < n; j++) {
        all[j].value = xr[j];
        all[j].index = j;
    }
    qsort(all, (size_t)n, sizeof *all, compare_ranked);
}

#define TOPK_INSERT_MAX 32

LP_CPU_OP_TOPK(lp_cpu_ref_topk) {
    int64_t n = x->shape[x->ndim - 1], rows = lp_tensor_numel(x) / n;
    bool small = k <= TOPK_INSERT_MAX;
    ranked *buf = lp_arena_alloc(ctx->scratch, (size_t)(small ? k : n) * sizeof *buf);
    if (!buf) return lp_fail(err, LP_ERR_NOMEM, "topk: no scratch memory for a row of %lld",
                             (long long)n);
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = (const float *)x->data + r * n;
        if (small) topk_insert(xr, n, k, buf);
        else topk_sort(xr, n, buf);
        float *vr = (float *)values->data + r * k;
        int64_t *ir = (int64_t *)indices->data + r * k;
        for (int64_t j = 0; j < k; j++) {
            vr[j] = buf[j].value;
            ir[j] = buf[j].index;
        }
    }
    return LP_OK;
}
