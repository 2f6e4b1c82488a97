/* Reading the server's Prometheus text (/metrics): the sum of every sample of
 * one metric whose labels include model="NAME" (any model when NAME is empty).
 * Scraping before and after a level and differencing the histograms' _sum and
 * _count gives the server-side mean queue time, compute time and batch size
 * of exactly the requests the level sent. */
#ifndef LP_LOADGEN_PROM_H
#define LP_LOADGEN_PROM_H

#include <stdbool.h>
#include <stddef.h>

/* Sum of the values of `metric` (exact name, e.g.
 * "lepton_queue_duration_seconds_sum") in text[0..len); false when no sample
 * matched. */
bool lp_lg_prom_sum(const char *text, size_t len, const char *metric, const char *model,
                    double *out);

/* The server-side split, as cumulative counters. */
typedef struct lp_lg_server_counters {
    bool present; /* the scrape worked and had the histograms */
    double queue_sum, queue_count;     /* seconds */
    double compute_sum, compute_count; /* seconds */
    double batch_sum, batch_count;     /* requests per batch */
    double e2e_sum, e2e_count; /* seconds from request received to reply sent */
} lp_lg_server_counters;

lp_lg_server_counters lp_lg_prom_server_counters(const char *text, size_t len,
                                                 const char *model);

/* Means over the interval between two scrapes; a mean is negative when the
 * interval saw no observations of it. Queue and end-to-end times are per
 * request, compute time is per executed batch (lepton observes it so). */
typedef struct lp_lg_server_split {
    bool present;
    double queue_ms, compute_ms, batch_mean, e2e_ms;
    double batches;
} lp_lg_server_split;

lp_lg_server_split lp_lg_server_split_between(const lp_lg_server_counters *before,
                                              const lp_lg_server_counters *after);

#endif
