/* Everything `lepton bench` can be told, parsed from the command line with
 * one clear message per mistake (the CLI exits 2 on them). */
#ifndef LP_LOADGEN_OPTIONS_H
#define LP_LOADGEN_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>

#include "kernels/status.h"
#include "loadgen/inputs.h"
#include "loadgen/schedule.h"

#define LP_LG_MAX_LEVELS 64

typedef enum lp_lg_scenario {
    LP_LG_SCENARIO_SWEEP,         /* no --scenario: concurrency or rate sweep */
    LP_LG_SCENARIO_SINGLE_STREAM, /* one request at a time; p90 is the figure */
    LP_LG_SCENARIO_SERVER,        /* Poisson at a rate; valid when p99 <= bound */
    LP_LG_SCENARIO_OFFLINE        /* everything at once; throughput */
} lp_lg_scenario;

typedef enum lp_lg_endpoint_kind {
    LP_LG_ENDPOINT_TASK, /* POST {prefix}/v1/{task} {"model":..., "inputs":[...]} */
    LP_LG_ENDPOINT_V2,   /* POST {prefix}/v2/models/{model}/infer (KServe v2) */
    LP_LG_ENDPOINT_GET   /* GET {prefix}{path}: the generator's own ceiling */
} lp_lg_endpoint_kind;

typedef struct lp_lg_options {
    const char *url;
    const char *model;
    lp_lg_endpoint_kind endpoint;
    char task[64];          /* for LP_LG_ENDPOINT_TASK: embed, classify, ... */
    const char *path;       /* overrides the endpoint's path */
    const char *v2_input;   /* KServe v2 input tensor name */
    lp_lg_scenario scenario;

    /* closed loop: levels[] are concurrencies; open loop: rates[] */
    int concurrency[LP_LG_MAX_LEVELS];
    int n_concurrency;
    double rates[LP_LG_MAX_LEVELS];
    int n_rates;
    bool rate_sweep; /* rates found from a measured saturation throughput */
    bool open_loop;
    lp_lg_arrival arrival;
    int max_connections; /* open loop: in-flight cap; beyond it a send is dropped */

    double duration;   /* > 0: each level runs this long, no stability rule */
    double window;     /* seconds per measurement window */
    int max_windows;   /* the cap */
    double stability;  /* fraction */
    double warmup;     /* seconds */
    double timeout;    /* seconds a request may take before it counts as an error */

    double p99_bound_ms; /* server scenario; 0 = none */
    int search_steps;    /* server scenario: bisection steps */
    int offline_requests;

    const char *input_path;
    lp_lg_input_kind input_kind;
    int gen_count, gen_min_words, gen_max_words;
    int batch; /* inputs per request */
    uint64_t seed;

    const char *csv_path;
    const char *json_path;
    const char *metrics_path; /* "" disables the /metrics scrape */
    bool quiet;               /* no progress line */
    bool help;
} lp_lg_options;

void lp_lg_options_defaults(lp_lg_options *o);

/* argv[0] is the command's own name. Strings point into argv. */
lp_status lp_lg_options_parse(lp_lg_options *o, int argc, char **argv, lp_error *err);

/* "1:64:x2" (geometric), "1:16:+4" (arithmetic), "1,2,8", or "8". */
lp_status lp_lg_parse_levels(const char *text, int *out, int max, int *n, lp_error *err);

extern const char LP_LG_USAGE[];

#endif
