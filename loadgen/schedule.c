#include "loadgen/schedule.h"

#include <math.h>

uint64_t lp_lg_rng_next(uint64_t *state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

double lp_lg_rng_uniform(uint64_t *state) {
    return (double)(lp_lg_rng_next(state) >> 11) * 0x1.0p-53;
}

lp_status lp_lg_schedule_init(lp_lg_schedule *s, lp_lg_arrival arrival, double rate,
                              uint64_t seed, lp_error *err) {
    if (!(rate > 0) || !isfinite(rate))
        return lp_fail(err, LP_ERR_INVALID_ARG,
                       "request rate must be a positive number of requests per second");
    if (arrival != LP_LG_ARRIVAL_CONSTANT && arrival != LP_LG_ARRIVAL_POISSON)
        return lp_fail(err, LP_ERR_INVALID_ARG, "unknown arrival process");
    s->arrival = arrival;
    s->rate = rate;
    s->rng = seed;
    return LP_OK;
}

double lp_lg_schedule_next_gap(lp_lg_schedule *s) {
    if (s->arrival == LP_LG_ARRIVAL_CONSTANT) return 1.0 / s->rate;
    /* 1 - u is in (0, 1], so the log is finite. */
    return -log(1.0 - lp_lg_rng_uniform(&s->rng)) / s->rate;
}
