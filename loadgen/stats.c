#include "loadgen/stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

lp_status lp_lg_samples_push(lp_lg_samples *s, double ms, lp_error *err) {
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 4096;
        double *v = realloc(s->v, cap * sizeof *v);
        if (!v)
            return lp_fail(err, LP_ERR_NOMEM, "no memory for %zu latency samples", cap);
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = ms;
    return LP_OK;
}

void lp_lg_samples_clear(lp_lg_samples *s) { s->n = 0; }

void lp_lg_samples_free(lp_lg_samples *s) {
    free(s->v);
    memset(s, 0, sizeof *s);
}

double lp_lg_percentile_sorted(const double *sorted, size_t n, double p) {
    if (p <= 0) return sorted[0];
    /* The small epsilon keeps p*n that is an integer in exact arithmetic
     * (99/100*200 = 198) from rounding up to the next rank. */
    double rank = ceil(p / 100.0 * (double)n - 1e-9);
    size_t i = rank < 1 ? 0 : (size_t)rank - 1;
    return sorted[i < n ? i : n - 1];
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

lp_lg_summary lp_lg_summarize(lp_lg_samples *s) {
    lp_lg_summary r;
    memset(&r, 0, sizeof r);
    if (!s->n) return r;
    qsort(s->v, s->n, sizeof *s->v, cmp_double);
    double sum = 0;
    for (size_t i = 0; i < s->n; i++) sum += s->v[i];
    r.n = s->n;
    r.mean = sum / (double)s->n;
    r.min = s->v[0];
    r.max = s->v[s->n - 1];
    r.p50 = lp_lg_percentile_sorted(s->v, s->n, 50);
    r.p90 = lp_lg_percentile_sorted(s->v, s->n, 90);
    r.p95 = lp_lg_percentile_sorted(s->v, s->n, 95);
    r.p99 = lp_lg_percentile_sorted(s->v, s->n, 99);
    return r;
}
