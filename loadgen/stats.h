/* Latency statistics on recorded samples: exact percentiles (no histogram, so
 * no binning error), mean and max. A level keeps every sample it measured;
 * at 8 bytes a sample, a million requests cost 8 MB. */
#ifndef LP_LOADGEN_STATS_H
#define LP_LOADGEN_STATS_H

#include <stddef.h>

#include "kernels/status.h"

typedef struct lp_lg_samples {
    double *v; /* latencies in milliseconds, in the order they were recorded */
    size_t n, cap;
} lp_lg_samples;

typedef struct lp_lg_summary {
    size_t n;
    double mean, min, max;
    double p50, p90, p95, p99;
} lp_lg_summary;

lp_status lp_lg_samples_push(lp_lg_samples *s, double ms, lp_error *err);
void lp_lg_samples_clear(lp_lg_samples *s);
void lp_lg_samples_free(lp_lg_samples *s);

/* Nearest-rank percentile of values sorted ascending: the smallest value such
 * that at least p percent of the samples are <= it, i.e. sorted[ceil(p/100*n)-1]
 * (sorted[0] for p = 0). n must be > 0; p in [0, 100]. */
double lp_lg_percentile_sorted(const double *sorted, size_t n, double p);

/* Summary of the samples (sorts s->v in place). All zeros when s is empty. */
lp_lg_summary lp_lg_summarize(lp_lg_samples *s);

#endif
