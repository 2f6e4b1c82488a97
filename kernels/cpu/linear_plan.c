/* lp_linear_plan (kernels/linear_plan.h): validation, packing the weight
 * once, and the choice between oneDNN's packed kernel (the CPU fast backend)
 * and lp_linear + lp_add (every other backend, and shapes oneDNN refuses). */
#include "kernels/linear_plan.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kernels/backend.h"
#include "kernels/backend_memory.h"
#include "kernels/cpu/gemm.h"
#include "kernels/op_dispatch.h"
#include "kernels/op_gemm_common.h"

struct lp_linear_plan {
    lp_tensor weight, bias;
    bool has_bias;
    pthread_mutex_t lock;             /* held while packing */
    _Atomic(lp_gemm_packed *) packed; /* published once packed */
    atomic_bool pack_failed;          /* oneDNN refused: never try again */
};

lp_status lp_linear_plan_create(const lp_tensor *weight, const lp_tensor *bias,
                                lp_linear_plan **out, lp_error *err) {
    if (!out) return lp_fail(err, LP_ERR_INVALID_ARG, "linear plan: out is NULL");
    *out = NULL;
    if (!weight) return lp_fail(err, LP_ERR_INVALID_ARG, "linear plan: weight is required");
    const char *op = "linear plan";
    lp_status st;
    if ((st = lp_check_dtype(op, "weight", weight, LP_F32, err)) ||
        (st = lp_check_ndim(op, "weight", weight, 2, 2, err)) ||
        (st = lp_gemm_op_check_matrix(op, "weight", weight, err)))
        return st;
    if (weight->shape[0] < 1 || weight->shape[1] < 1)
        return lp_fail(err, LP_ERR_SHAPE, "linear plan: weight [%lld, %lld] is empty",
                       (long long)weight->shape[0], (long long)weight->shape[1]);
    if (bias && ((st = lp_check_dtype(op, "bias", bias, LP_F32, err)) || bias->ndim != 1 ||
                 bias->shape[0] != weight->shape[0] || !lp_tensor_is_contiguous(bias)))
        return st ? st
                  : lp_fail(err, LP_ERR_SHAPE, "linear plan: bias must be a contiguous [%lld]",
                            (long long)weight->shape[0]);
    lp_linear_plan *plan = calloc(1, sizeof *plan);
    if (!plan) return lp_fail(err, LP_ERR_NOMEM, "linear plan: out of memory");
    if (pthread_mutex_init(&plan->lock, NULL)) {
        free(plan);
        return lp_fail(err, LP_ERR_NOMEM, "linear plan: cannot create a mutex");
    }
    plan->weight = *weight;
    plan->has_bias = bias != NULL;
    if (bias) plan->bias = *bias;
    atomic_init(&plan->packed, NULL);
    /* only host weights can be packed for oneDNN */
    atomic_init(&plan->pack_failed, weight->device.kind != LP_DEVICE_CPU);
    *out = plan;
    return LP_OK;
}

void lp_linear_plan_free(lp_linear_plan *plan) {
    if (!plan) return;
    lp_gemm_packed_free(atomic_load(&plan->packed));
    pthread_mutex_destroy(&plan->lock);
    free(plan);
}

const lp_tensor *lp_linear_plan_weight(const lp_linear_plan *plan) { return &plan->weight; }

const lp_tensor *lp_linear_plan_bias(const lp_linear_plan *plan) {
    return plan->has_bias ? &plan->bias : NULL;
}

size_t lp_linear_plan_packed_bytes(const lp_linear_plan *plan) {
    return lp_gemm_packed_bytes(atomic_load(&plan->packed));
}

/* The whole pages inside the weight: nothing else lives there. */
static void page_out(const lp_tensor *w) {
#if defined(MADV_PAGEOUT)
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t lo = (uintptr_t)w->data;
    uintptr_t hi = lo + (uintptr_t)((w->shape[0] - 1) * w->stride[0] + w->shape[1]) * sizeof(float);
    lo = (lo + page - 1) & ~(page - 1);
    hi &= ~(page - 1);
    /* advice only: a failure (old kernel, locked pages) changes nothing */
    if (hi > lo) (void)madvise((void *)lo, hi - lo, MADV_PAGEOUT);
#else
    (void)w;
#endif
}

/* The packed weight, packing it on first use; NULL when it cannot be packed. */
static const lp_gemm_packed *packed_weight(lp_linear_plan *plan) {
    lp_gemm_packed *p = atomic_load_explicit(&plan->packed, memory_order_acquire);
    if (p || atomic_load(&plan->pack_failed)) return p;
    pthread_mutex_lock(&plan->lock);
    p = atomic_load(&plan->packed);
    if (!p && !atomic_load(&plan->pack_failed)) {
        const lp_tensor *w = &plan->weight;
        p = lp_gemm_pack_weights(w->data, w->shape[0], w->shape[1], w->stride[0]);
        if (p) {
            atomic_store_explicit(&plan->packed, p, memory_order_release);
            page_out(w);
        } else {
            atomic_store(&plan->pack_failed, true);
        }
    }
    pthread_mutex_unlock(&plan->lock);
    return p;
}

static lp_status check_run(const lp_ctx *ctx, const lp_linear_plan *plan, const lp_tensor *x,
                           const lp_tensor *residual, lp_activation act, const lp_tensor *out,
                           lp_error *err) {
    lp_status st = lp_op_check_ctx(ctx, LP_OP_LINEAR, err);
    if (st != LP_OK) return st;
    if (!plan) return lp_fail(err, LP_ERR_INVALID_ARG, "linear plan: plan is NULL");
    if ((st = lp_gemm_op_check_linear(ctx, x, &plan->weight, plan->has_bias ? &plan->bias : NULL,
                                      act, out, err)))
        return st;
    if (!residual) return LP_OK;
    if ((st = lp_gemm_op_check_tensor(ctx, "linear plan", "residual", residual, err)) ||
        (st = lp_check_contiguous("linear plan", "residual", residual, err)))
        return st;
    if (!lp_tensor_same_shape(residual, out))
        return lp_fail(err, LP_ERR_SHAPE, "linear plan: residual must have out's shape");
    if (lp_gemm_op_overlaps(residual, out))
        return lp_fail(err, LP_ERR_INVALID_ARG,
                       "linear plan: residual overlaps out; give out its own memory");
    return LP_OK;
}

/* The packed product of `rows` rows: x, out and residual may be NULL for a
 * description that only builds the primitive (lp_gemm_fused_prepare). */
static lp_gemm_batched packed_call(const lp_linear_plan *plan, const lp_gemm_packed *packed,
                                   int64_t rows, const void *x, const void *residual, void *out,
                                   bool has_residual, lp_activation act) {
    const lp_tensor *w = &plan->weight;
    int64_t in = w->shape[1], features = w->shape[0];
    lp_gemm_batched g;
    memset(&g, 0, sizeof g);
    g.m = rows;
    g.n = features;
    g.k = in;
    g.a = x;
    g.a_row_stride = in;
    g.a_col_stride = 1;
    g.b = w->data; /* not read: b_packed is */
    g.b_row_stride = 1;
    g.b_col_stride = w->stride[0];
    g.b_packed = packed;
    g.c = out;
    g.c_row_stride = features;
    g.alpha = 1.0f;
    g.bias = plan->has_bias ? plan->bias.data : NULL;
    /* the epilogue's form depends on whether there is one, not where */
    g.residual = has_residual ? (residual ? residual : w->data) : NULL;
    g.residual_row_stride = features;
    g.act = act;
    return g;
}

/* oneDNN's packed kernel; LP_ERR_UNSUPPORTED (err untouched, out unwritten)
 * when there is no packed weight or oneDNN refuses the call. */
static lp_status run_packed(lp_ctx *ctx, lp_linear_plan *plan, const lp_tensor *x,
                            const lp_tensor *residual, lp_activation act, lp_tensor *out,
                            lp_error *err) {
    const lp_gemm_packed *packed = packed_weight(plan);
    if (!packed) return LP_ERR_UNSUPPORTED;
    int64_t rows = lp_tensor_numel(out) / plan->weight.shape[0];
    lp_gemm_batched g = packed_call(plan, packed, rows, x->data, residual ? residual->data : NULL,
                                    out->data, residual != NULL, act);
    return lp_gemm_fused(ctx, &g, err);
}

int64_t lp_linear_plan_rows(int64_t rows) {
    if (rows < 8) return rows;
    int64_t g = 1; /* the power of two with rows in [8g, 16g) */
    while (g * 16 <= rows) g *= 2;
    return (rows + g - 1) / g * g;
}

lp_status lp_linear_plan_warm(lp_ctx *ctx, const lp_linear_plan *plan, int64_t max_rows,
                              bool residual, lp_activation act, lp_error *err) {
    if (!ctx || !plan || ctx->backend != lp_backend_cpu() || atomic_load(&plan->pack_failed))
        return LP_OK;
    const lp_gemm_packed *packed = packed_weight((lp_linear_plan *)plan);
    if (!packed) return LP_OK;
    for (int64_t r = 1; r <= max_rows; r = lp_linear_plan_rows(r) + 1) {
        lp_gemm_batched g = packed_call(plan, packed, lp_linear_plan_rows(r), NULL, NULL, NULL,
                                        residual, act);
        lp_status st = lp_gemm_fused_prepare(ctx, &g, err);
        if (st != LP_OK && st != LP_ERR_UNSUPPORTED) return st;
    }
    return LP_OK;
}

/* What any backend can do: the op, then the residual with the activation. */
static lp_status run_ops(lp_ctx *ctx, const lp_linear_plan *plan, const lp_tensor *x,
                         const lp_tensor *residual, lp_activation act, lp_tensor *out,
                         lp_error *err) {
    const lp_tensor *bias = plan->has_bias ? &plan->bias : NULL;
    if (!residual) return lp_linear(ctx, x, &plan->weight, bias, act, out, err);
    lp_status st = lp_linear(ctx, x, &plan->weight, bias, LP_ACT_NONE, out, err);
    return st ? st : lp_add(ctx, out, residual, act, out, err);
}

/* A backend whose tensors live in device memory: the plan's host weight and
 * bias are swapped for the backend's device copies (uploaded the first time
 * any plan or session asks, then looked up), and the run is lp_linear +
 * lp_add there, validated by their front-ends. Models make device views
 * without plans (one lookup per session, not per call); this keeps a plan
 * correct wherever it is run. */
static lp_status run_on_device(lp_ctx *ctx, const lp_linear_plan *plan, const lp_tensor *x,
                               const lp_tensor *residual, lp_activation act, lp_tensor *out,
                               lp_error *err) {
    lp_linear_plan dev = {.has_bias = plan->has_bias};
    lp_status st = lp_backend_weight(ctx->backend, &plan->weight, &dev.weight, err);
    if (st == LP_OK && plan->has_bias) st = lp_backend_weight(ctx->backend, &plan->bias, &dev.bias, err);
    return st != LP_OK ? st : run_ops(ctx, &dev, x, residual, act, out, err);
}

lp_status lp_linear_plan_run(lp_ctx *ctx, const lp_linear_plan *plan, const lp_tensor *x,
                             const lp_tensor *residual, lp_activation act, lp_tensor *out,
                             lp_error *err) {
    if (ctx && ctx->backend && plan && !lp_backend_on_host(ctx->backend) &&
        plan->weight.device.kind == LP_DEVICE_CPU)
        return run_on_device(ctx, plan, x, residual, act, out, err);
    lp_status st = check_run(ctx, plan, x, residual, act, out, err);
    if (st != LP_OK) return st;
    if (lp_tensor_numel(out) == 0) return LP_OK;
    if (ctx->backend == lp_backend_cpu() && !atomic_load(&plan->pack_failed)) {
        /* the plan is immutable to callers; packing once is its own business */
        lp_linear_plan *p = (lp_linear_plan *)plan;
        double flops = 2.0 * (double)lp_tensor_numel(out) * (double)plan->weight.shape[1];
        lp_op_scope scope = lp_op_enter(ctx);
        st = lp_op_leave(ctx, LP_OP_LINEAR, flops, scope,
                         run_packed(ctx, p, x, residual, act, out, err));
        if (st != LP_ERR_UNSUPPORTED) return st;
    }
    return run_ops(ctx, plan, x, residual, act, out, err);
}
