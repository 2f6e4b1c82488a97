/* Arrival schedules for the open loop: the gap before each next request.
 * Constant: every 1/rate seconds. Poisson: exponential gaps with mean 1/rate
 * (inverse-transform sampling), drawn from a seeded generator so a run can be
 * repeated exactly. */
#ifndef LP_LOADGEN_SCHEDULE_H
#define LP_LOADGEN_SCHEDULE_H

#include <stdint.h>

#include "kernels/status.h"

typedef enum lp_lg_arrival { LP_LG_ARRIVAL_CONSTANT, LP_LG_ARRIVAL_POISSON } lp_lg_arrival;

typedef struct lp_lg_schedule {
    lp_lg_arrival arrival;
    double rate; /* requests per second, > 0 */
    uint64_t rng;
} lp_lg_schedule;

/* splitmix64: a tiny, well-mixed generator; any seed (0 too) is fine. */
uint64_t lp_lg_rng_next(uint64_t *state);
/* Uniform in [0, 1) with 53 random bits. */
double lp_lg_rng_uniform(uint64_t *state);

lp_status lp_lg_schedule_init(lp_lg_schedule *s, lp_lg_arrival arrival, double rate,
                              uint64_t seed, lp_error *err);
/* Seconds from one arrival to the next. */
double lp_lg_schedule_next_gap(lp_lg_schedule *s);

#endif
