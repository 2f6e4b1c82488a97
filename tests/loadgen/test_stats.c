/* Latency statistics on recorded samples: nearest-rank percentiles against
 * hand-computed values, measurement windows and the three-window stability
 * rule. Exact comparisons: the percentile is one of the samples, not an
 * interpolation. */
#include <math.h>
#include <string.h>

#include "loadgen/stats.h"
#include "loadgen/windows.h"
#include "tests/test_util.h"

static lp_lg_samples record(const double *v, size_t n) {
    lp_lg_samples s = {0};
    lp_error err = {0};
    for (size_t i = 0; i < n; i++) CHECK_OK(lp_lg_samples_push(&s, v[i], &err), &err);
    return s;
}

/* Ten samples recorded out of order: 1..10 ms.
 * p50: ceil(0.50*10) = 5th smallest = 5; p90: 9th = 9; p95: ceil(9.5) = 10th = 10;
 * p99: 10th = 10; mean 55/10 = 5.5. */
static void test_ten(void) {
    const double v[] = {7, 3, 10, 1, 9, 2, 8, 5, 4, 6};
    lp_lg_samples s = record(v, 10);
    lp_lg_summary r = lp_lg_summarize(&s);
    CHECK(r.n == 10);
    CHECK(r.p50 == 5 && r.p90 == 9 && r.p95 == 10 && r.p99 == 10);
    CHECK(r.min == 1 && r.max == 10);
    CHECK(fabs(r.mean - 5.5) < 1e-12);
    lp_lg_samples_free(&s);
}

/* A skewed set like real latencies: most fast, one slow outlier.
 * {2.5, 2.0, 2.25, 40.0}: p50 = 2nd smallest = 2.25; p90 = ceil(3.6) = 4th = 40;
 * mean = 46.75 / 4 = 11.6875. */
static void test_outlier(void) {
    const double v[] = {2.5, 2.0, 2.25, 40.0};
    lp_lg_samples s = record(v, 4);
    lp_lg_summary r = lp_lg_summarize(&s);
    CHECK(r.p50 == 2.25);
    CHECK(r.p90 == 40 && r.p99 == 40 && r.max == 40);
    CHECK(fabs(r.mean - 11.6875) < 1e-12);
    lp_lg_samples_free(&s);
}

/* 200 samples 0.5, 1.0, ... 100.0 ms (sample k = k/2, pushed in reverse order):
 * p99 = 198th smallest = 99.0 (198 = 0.99*200 exactly: no rounding up to 199);
 * p95 = 190th = 95.0; p90 = 180th = 90.0; p50 = 100th = 50.0. More than the
 * first 4096-sample allocation is covered by the next test. */
static void test_exact_ranks(void) {
    lp_lg_samples s = {0};
    lp_error err = {0};
    for (int k = 200; k >= 1; k--) CHECK_OK(lp_lg_samples_push(&s, k / 2.0, &err), &err);
    lp_lg_summary r = lp_lg_summarize(&s);
    CHECK_MSG(r.p99 == 99.0, "p99 %g", r.p99);
    CHECK_MSG(r.p95 == 95.0, "p95 %g", r.p95);
    CHECK_MSG(r.p90 == 90.0, "p90 %g", r.p90);
    CHECK_MSG(r.p50 == 50.0, "p50 %g", r.p50);
    CHECK(r.min == 0.5 && r.max == 100.0);
    CHECK(fabs(r.mean - 50.25) < 1e-12); /* (0.5 + 100) / 2 */
    lp_lg_samples_free(&s);
}

/* 10001 samples 0..10000: p99 = ceil(9900.99) = 9901st smallest = 9900;
 * p50 = ceil(5000.5) = 5001st = 5000. Grows past the first allocation. */
static void test_large(void) {
    lp_lg_samples s = {0};
    lp_error err = {0};
    for (int k = 0; k <= 10000; k++) CHECK_OK(lp_lg_samples_push(&s, (k * 7919) % 10001, &err), &err);
    lp_lg_summary r = lp_lg_summarize(&s);
    CHECK_MSG(r.p99 == 9900, "p99 %g", r.p99);
    CHECK_MSG(r.p50 == 5000, "p50 %g", r.p50);
    CHECK(r.max == 10000 && r.min == 0);
    lp_lg_samples_free(&s);
}

static void test_edges(void) {
    lp_lg_samples s = {0};
    lp_lg_summary r = lp_lg_summarize(&s);
    CHECK(r.n == 0 && r.p99 == 0 && r.mean == 0);
    const double one[] = {3.5};
    s = record(one, 1);
    r = lp_lg_summarize(&s);
    CHECK(r.p50 == 3.5 && r.p99 == 3.5 && r.max == 3.5 && r.mean == 3.5);
    const double sorted[] = {1, 2, 3};
    CHECK(lp_lg_percentile_sorted(sorted, 3, 0) == 1);
    CHECK(lp_lg_percentile_sorted(sorted, 3, 100) == 3);
    CHECK(lp_lg_percentile_sorted(sorted, 3, 33.3) == 1);  /* ceil(0.999) = 1st */
    CHECK(lp_lg_percentile_sorted(sorted, 3, 33.34) == 2); /* ceil(1.0002) = 2nd */
    lp_lg_samples_clear(&s);
    CHECK(s.n == 0);
    lp_lg_samples_free(&s);
}

static lp_lg_window win(double seconds, size_t completed, double mean_ms) {
    lp_lg_window w = {seconds, completed, mean_ms * (double)completed};
    return w;
}

static void test_windows(void) {
    lp_lg_window w = win(2.0, 300, 12.5);
    CHECK(fabs(lp_lg_window_throughput(&w) - 150) < 1e-12);
    CHECK(fabs(lp_lg_window_mean_latency(&w) - 12.5) < 1e-12);
    lp_lg_window empty = win(2.0, 0, 0);
    CHECK(lp_lg_window_throughput(&empty) == 0 && lp_lg_window_mean_latency(&empty) == 0);
}

/* The rule: each of the last three within tolerance of their average, for
 * throughput and mean latency both. */
static void test_stability(void) {
    /* throughputs 100, 105, 95 (mean 100, max deviation 5%); latencies 10, 10.5, 9.8 */
    lp_lg_window a[] = {win(1, 40, 30), win(1, 100, 10), win(1, 105, 10.5), win(1, 95, 9.8)};
    CHECK(lp_lg_windows_stable(a, 4, 0.10));
    CHECK(!lp_lg_windows_stable(a, 4, 0.04)); /* 5% deviation > 4% */
    CHECK(!lp_lg_windows_stable(a, 3, 0.10)); /* the first window (40/s) is among the last three */
    CHECK(!lp_lg_windows_stable(a, 2, 0.50)); /* fewer than three windows */
    /* 100, 100, 125: mean 108.33, 125 is 15.4% above it */
    lp_lg_window b[] = {win(1, 100, 10), win(1, 100, 10), win(1, 125, 10)};
    CHECK(!lp_lg_windows_stable(b, 3, 0.10));
    CHECK(lp_lg_windows_stable(b, 3, 0.16));
    /* steady throughput, drifting latency 10, 10, 14 (mean 11.33, 23.5% off) */
    lp_lg_window c[] = {win(1, 100, 10), win(1, 100, 10), win(1, 100, 14)};
    CHECK(!lp_lg_windows_stable(c, 3, 0.10));
    /* a window that completed nothing is never stable */
    lp_lg_window d[] = {win(1, 0, 0), win(1, 0, 0), win(1, 0, 0)};
    CHECK(!lp_lg_windows_stable(d, 3, 0.10));
    /* boundary: 90, 100, 110 deviate exactly 10% */
    const double x[] = {90, 100, 110};
    CHECK(lp_lg_values_agree(x, 3, 0.10));
    CHECK(!lp_lg_values_agree(x, 3, 0.099));
    CHECK(!lp_lg_values_agree(x, 0, 0.10));
}

int main(void) {
    test_ten();
    test_outlier();
    test_exact_ranks();
    test_large();
    test_edges();
    test_windows();
    test_stability();
    return lp_test_finish();
}
