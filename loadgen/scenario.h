/* The runs `lepton bench` makes out of levels, MLPerf LoadGen style:
 *   sweep          closed loop over concurrencies, or open loop over rates
 *                  (--rate-sweep: 0.25 .. 1.1 x the saturation throughput
 *                  measured first with a closed loop at 32 connections);
 *   single-stream  one request at a time; the figure is p90 latency;
 *   server         Poisson arrivals; a rate is valid when p99 <= bound and no
 *                  request failed or was dropped; with a bound and no rate,
 *                  bisection over [0, 1.2 x saturation] finds the highest
 *                  valid rate;
 *   offline        N requests sent at once over C connections; the figure is
 *                  throughput (N / time to the last reply).
 * Around every level the server's /metrics is scraped (when it has one) to
 * split server-side time into queue and compute; those means cover the
 * level's warm-up too. */
#ifndef LP_LOADGEN_SCENARIO_H
#define LP_LOADGEN_SCENARIO_H

#include <stdbool.h>

#include "loadgen/engine.h"
#include "loadgen/options.h"

#define LP_LG_MAX_RESULTS 128
#define LP_LG_SATURATION_CONCURRENCY 32

typedef struct lp_lg_result_row {
    char role[16]; /* "level", "saturation", "search" */
    bool valid;    /* server scenario: met the bound */
    lp_lg_level_result r;
} lp_lg_result_row;

typedef struct lp_lg_run {
    lp_lg_result_row rows[LP_LG_MAX_RESULTS];
    int n_rows;
    bool metrics_seen;      /* /metrics answered with lepton's histograms */
    char verdict[256];      /* the scenario's one-line answer */
    double figure;          /* p90 ms, highest valid rate, or throughput */
    const char *figure_name;
} lp_lg_run;

/* Progress: a level starts (row index, its config). */
typedef void (*lp_lg_level_fn)(void *user, const lp_lg_level_config *cfg, const char *role);

lp_status lp_lg_run_scenario(lp_lg_engine *e, const lp_lg_options *o, lp_lg_run *run,
                             lp_lg_level_fn on_level, void *user, lp_error *err);

const char *lp_lg_scenario_name(lp_lg_scenario s);

#endif
