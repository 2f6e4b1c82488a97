/* Measurement windows and the stability rule. A level is measured in windows
 * of equal length; it is stable when the last three windows agree: for both
 * throughput and mean latency, every one of the three is within `tolerance`
 * (a fraction, 0.10 = 10%) of the three's average (the rule Triton's
 * perf_analyzer uses). Measurement stops when stable or at a cap on windows. */
#ifndef LP_LOADGEN_WINDOWS_H
#define LP_LOADGEN_WINDOWS_H

#include <stdbool.h>
#include <stddef.h>

#define LP_LG_STABLE_WINDOWS 3

typedef struct lp_lg_window {
    double seconds;      /* length of the window */
    size_t completed;    /* successful responses that completed inside it */
    double latency_sum;  /* sum of their latencies, ms */
} lp_lg_window;

double lp_lg_window_throughput(const lp_lg_window *w);
double lp_lg_window_mean_latency(const lp_lg_window *w);

/* True when the values agree: max |x_i - mean| <= tolerance * mean (n > 0;
 * all zeros agree). */
bool lp_lg_values_agree(const double *x, size_t n, double tolerance);

/* The rule above on the last LP_LG_STABLE_WINDOWS of w[0..n): false when
 * fewer windows exist or one of them completed nothing. */
bool lp_lg_windows_stable(const lp_lg_window *w, size_t n, double tolerance);

#endif
