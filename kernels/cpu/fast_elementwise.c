/* Fast paths of lp_unary and lp_add: the thread pool over flat ranges, each
 * range worked in L1-sized pieces (add, then the activation on the piece just
 * written) with loops that -O3 vectorizes; activations from
 * kernels/cpu/fast_activation.c. */
#include "kernels/cpu/cpu_ops.h"
#include "kernels/cpu/fast_activation.h"

/* Below this many elements a range stays on one thread: waking workers costs
 * a few microseconds, as much as ~16K elements of GELU. */
#define ELEM_GRAIN 16384
/* Add then activate this many elements at a time, so the activation reads
 * what the add just wrote from L1. */
#define ELEM_PIECE 2048

typedef struct unary_job {
    lp_activation act;
    const float *x;
    float *y;
} unary_job;

static void unary_range(void *arg, int64_t begin, int64_t end) {
    const unary_job *job = arg;
    lp_cpu_fast_activation(job->act, job->x + begin, job->y + begin, end - begin);
}

LP_CPU_OP_UNARY(lp_cpu_fast_unary) {
    (void)err;
    unary_job job = {act, x->data, out->data};
    lp_parallel_for(ctx->pool, lp_tensor_numel(x), ELEM_GRAIN, unary_range, &job);
    return LP_OK;
}

typedef struct add_job {
    lp_activation act;
    const float *a, *b;
    float *y;
    int64_t inner; /* b repeats every `inner` elements */
} add_job;

static void add_apart(const float *restrict a, const float *restrict b, float *restrict y,
                      int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = a[i] + b[i];
}

static void add_into(float *restrict y, const float *restrict b, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] += b[i];
}

static void add_self(float *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] += y[i];
}

/* y = a + b over n elements; y may be a, b or both (float + commutes exactly). */
static void add_span(const float *a, const float *b, float *y, int64_t n) {
    if (y == a && y == b) add_self(y, n);
    else if (y == a) add_into(y, b, n);
    else if (y == b) add_into(y, a, n);
    else add_apart(a, b, y, n);
}

static void add_scalar(const float *restrict a, float s, float *restrict y, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = a[i] + s;
}

static void add_scalar_inplace(float *y, float s, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] += s;
}

/* y[i] = a[i] + b[i % inner] for i in [begin, end), row piece by row piece. */
static void add_piece(const add_job *job, int64_t begin, int64_t end) {
    if (job->inner == 1) {
        if (job->y == job->a) add_scalar_inplace(job->y + begin, job->b[0], end - begin);
        else add_scalar(job->a + begin, job->b[0], job->y + begin, end - begin);
        return;
    }
    int64_t i = begin;
    while (i < end) {
        int64_t j = i % job->inner;
        int64_t len = job->inner - j < end - i ? job->inner - j : end - i;
        /* b is a whole row only when it has a's shape (inner == n): then y may be b */
        add_span(job->a + i, job->b + j, job->y + i, len);
        i += len;
    }
}

static void add_range(void *arg, int64_t begin, int64_t end) {
    const add_job *job = arg;
    for (int64_t p = begin; p < end; p += ELEM_PIECE) {
        int64_t q = p + ELEM_PIECE < end ? p + ELEM_PIECE : end;
        add_piece(job, p, q);
        if (job->act != LP_ACT_NONE) lp_cpu_fast_activation(job->act, job->y + p, job->y + p, q - p);
    }
}

LP_CPU_OP_ADD(lp_cpu_fast_add) {
    (void)err;
    int64_t n = lp_tensor_numel(a);
    if (n == 0) return LP_OK;
    add_job job = {act, a->data, b->data, out->data, lp_tensor_numel(b)};
    lp_parallel_for(ctx->pool, n, ELEM_GRAIN, add_range, &job);
    return LP_OK;
}
