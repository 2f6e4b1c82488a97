/* Arrival schedules: the Poisson schedule's rate and spread for fixed seeds,
 * the constant schedule, reproducibility, refusals. The seeds are fixed, so
 * the numbers are deterministic; the tolerances are what a correct
 * exponential generator meets with room (for 100,000 gaps the standard error
 * of the mean gap is 0.3% and of the coefficient of variation about 0.5%). */
#include <math.h>

#include "loadgen/schedule.h"
#include "tests/test_util.h"

#define N 100000

static void gap_stats(lp_lg_schedule *s, double *mean, double *cv, double *min) {
    double sum = 0, sum2 = 0;
    *min = INFINITY;
    for (int i = 0; i < N; i++) {
        double g = lp_lg_schedule_next_gap(s);
        sum += g;
        sum2 += g * g;
        if (g < *min) *min = g;
    }
    *mean = sum / N;
    double var = sum2 / N - *mean * *mean;
    *cv = sqrt(var) / *mean;
}

static void test_poisson(void) {
    const double rates[] = {1, 50, 1234.5};
    const uint64_t seeds[] = {1, 42, 0xdeadbeef};
    for (int k = 0; k < 3; k++) {
        lp_lg_schedule s;
        lp_error err = {0};
        CHECK_OK(lp_lg_schedule_init(&s, LP_LG_ARRIVAL_POISSON, rates[k], seeds[k], &err), &err);
        double mean, cv, min;
        gap_stats(&s, &mean, &cv, &min);
        double want = 1.0 / rates[k];
        /* rate within 2%, CV of exponential gaps = 1 within 3% */
        CHECK_MSG(fabs(mean - want) <= 0.02 * want, "rate %g: mean gap %g, want %g", rates[k], mean, want);
        CHECK_MSG(fabs(cv - 1.0) <= 0.03, "rate %g: coefficient of variation %g, want 1", rates[k], cv);
        CHECK(min >= 0);
    }
}

/* Counts in windows of 1/rate x 10 arrivals: a Poisson process has
 * variance = mean (index of dispersion 1); constant arrivals have ~0. */
static void test_dispersion(void) {
    lp_lg_schedule s;
    lp_error err = {0};
    CHECK_OK(lp_lg_schedule_init(&s, LP_LG_ARRIVAL_POISSON, 100, 7, &err), &err);
    enum { BINS = 5000 };
    static int counts[BINS];
    double t = 0, bin = 0.1; /* 10 arrivals per bin on average */
    for (;;) {
        t += lp_lg_schedule_next_gap(&s);
        int b = (int)(t / bin);
        if (b >= BINS) break;
        counts[b]++;
    }
    double m = 0, v = 0;
    for (int i = 0; i < BINS; i++) m += counts[i];
    m /= BINS;
    for (int i = 0; i < BINS; i++) v += (counts[i] - m) * (counts[i] - m);
    v /= BINS - 1;
    CHECK_MSG(fabs(m - 10) < 0.3, "mean count per bin %g, want 10", m);
    CHECK_MSG(fabs(v / m - 1) < 0.08, "index of dispersion %g, want 1", v / m);
}

static void test_constant(void) {
    lp_lg_schedule s;
    lp_error err = {0};
    CHECK_OK(lp_lg_schedule_init(&s, LP_LG_ARRIVAL_CONSTANT, 250, 3, &err), &err);
    int exact = 0;
    for (int i = 0; i < N; i++) exact += lp_lg_schedule_next_gap(&s) == 1.0 / 250;
    CHECK(exact == N); /* every gap is 1/rate: no spread at all */
}

static void test_repeatable(void) {
    lp_lg_schedule a, b, c;
    lp_error err = {0};
    CHECK_OK(lp_lg_schedule_init(&a, LP_LG_ARRIVAL_POISSON, 10, 99, &err), &err);
    CHECK_OK(lp_lg_schedule_init(&b, LP_LG_ARRIVAL_POISSON, 10, 99, &err), &err);
    CHECK_OK(lp_lg_schedule_init(&c, LP_LG_ARRIVAL_POISSON, 10, 100, &err), &err);
    int same = 0, differ = 0;
    for (int i = 0; i < 1000; i++) {
        double x = lp_lg_schedule_next_gap(&a), y = lp_lg_schedule_next_gap(&b),
               z = lp_lg_schedule_next_gap(&c);
        same += x == y;
        differ += x != z;
    }
    CHECK(same == 1000);
    CHECK(differ > 990);
    uint64_t st = 5;
    double u_min = 1, u_max = 0;
    for (int i = 0; i < N; i++) {
        double u = lp_lg_rng_uniform(&st);
        if (u < u_min) u_min = u;
        if (u > u_max) u_max = u;
    }
    CHECK(u_min >= 0 && u_min < 1e-3 && u_max < 1 && u_max > 1 - 1e-3);
}

static void test_refusals(void) {
    lp_lg_schedule s;
    lp_error err = {0};
    CHECK_FAILS(lp_lg_schedule_init(&s, LP_LG_ARRIVAL_POISSON, 0, 1, &err), LP_ERR_INVALID_ARG, &err, "positive");
    lp_error_clear(&err);
    CHECK_FAILS(lp_lg_schedule_init(&s, LP_LG_ARRIVAL_POISSON, -3, 1, &err), LP_ERR_INVALID_ARG, &err, "positive");
    lp_error_clear(&err);
    CHECK_FAILS(lp_lg_schedule_init(&s, LP_LG_ARRIVAL_CONSTANT, NAN, 1, &err), LP_ERR_INVALID_ARG, &err, "positive");
    lp_error_clear(&err);
    CHECK_FAILS(lp_lg_schedule_init(&s, LP_LG_ARRIVAL_CONSTANT, INFINITY, 1, &err), LP_ERR_INVALID_ARG, &err, "positive");
}

int main(void) {
    test_poisson();
    test_dispersion();
    test_constant();
    test_repeatable();
    test_refusals();
    return lp_test_finish();
}
