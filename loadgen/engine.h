/* The load engine: one libevent loop on the calling thread drives many
 * keep-alive HTTP/1.1 connections (raw bufferevents, requests prepared in
 * advance), so one core can offer far more load than a model server serves.
 *
 * A level runs: warm-up, then measurement windows until the last three agree
 * (windows.h) or the cap, or one fixed window of `duration`; then the
 * requests still in flight are awaited (up to the timeout) so slow requests
 * are not left out of the percentiles.
 *
 * Closed loop: `concurrency` connections, each sends its next request as soon
 * as the previous response is in; latency is from send to the last byte.
 * Open loop: requests are due on an arrival schedule whatever the server
 * does; each goes out on an idle connection (a new one when none is idle, up to
 * max_connections; beyond that it is dropped and counted). Latency is measured
 * from the time the request was due, so a late send shows in the latency
 * instead of hiding it; sends more than 1 ms behind schedule count as late.
 *
 * Latency samples belong to the window in which the request was sent;
 * throughput per window counts the successful responses that completed in it.
 * A closed loop of fixed --duration (and the offline scenario) reports instead
 * the replies to the requests it sent over the time to the last of them; a
 * fixed run is extended (in steps of its duration, up to the timeout) until at
 * least one request sent in it has been answered. */
#ifndef LP_LOADGEN_ENGINE_H
#define LP_LOADGEN_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels/status.h"
#include "loadgen/prom.h"
#include "loadgen/request.h"
#include "loadgen/schedule.h"
#include "loadgen/stats.h"
#include "loadgen/url.h"
#include "loadgen/windows.h"

#define LP_LG_LATE_MS 1.0
#define LP_LG_MAX_CODES 16
#define LP_LG_CODE_CONN (-1)    /* connection refused/reset, malformed reply */
#define LP_LG_CODE_TIMEOUT (-2) /* no complete reply within the timeout */

typedef struct lp_lg_level_config {
    bool open_loop;
    int concurrency;  /* closed loop */
    double rate;      /* open loop */
    lp_lg_arrival arrival;
    uint64_t seed;
    int max_connections;
    double warmup, window, duration, stability, timeout;
    int max_windows;
    long total_requests; /* > 0: offline: exactly this many, one window to the last reply */
} lp_lg_level_config;

typedef struct lp_lg_code_count {
    int code;
    size_t count;
} lp_lg_code_count;

typedef struct lp_lg_level_result {
    lp_lg_level_config cfg;
    double seconds;        /* measured time (the windows reported) */
    size_t ok, errors;     /* replies in those windows */
    double throughput;     /* successful replies per second */
    double offered;        /* open loop: requests due per second */
    lp_lg_summary latency; /* of successful replies, ms */
    lp_lg_code_count codes[LP_LG_MAX_CODES];
    int n_codes;
    size_t due, late, dropped; /* open loop */
    double max_late_ms;
    int windows;        /* measured windows in all */
    int windows_used;   /* the ones the numbers come from */
    bool stable;
    int connections;    /* open at the end */
    lp_lg_server_split server;
} lp_lg_level_result;

typedef struct lp_lg_engine lp_lg_engine;

/* Progress after each window: which, how many so far, that window. */
typedef void (*lp_lg_progress_fn)(void *user, const lp_lg_level_config *cfg, int window,
                                  const lp_lg_window *w, bool warmup);

lp_status lp_lg_engine_new(lp_lg_engine **out, const lp_lg_url *url,
                           const lp_lg_requests *reqs, lp_error *err);
void lp_lg_engine_free(lp_lg_engine *e);
void lp_lg_engine_set_progress(lp_lg_engine *e, lp_lg_progress_fn fn, void *user);

/* Sends requests[0] once on a fresh connection: fails with a clear message when
 * nothing listens there or the reply is not 2xx (its status and the start of its
 * body in the message). */
lp_status lp_lg_engine_probe(lp_lg_engine *e, double timeout, lp_error *err);

/* One GET (e.g. /metrics): *status and the body (malloc'ed, NUL-terminated). */
lp_status lp_lg_engine_get(lp_lg_engine *e, const char *path, double timeout, int *status,
                           char **body, size_t *len, lp_error *err);

lp_status lp_lg_engine_run_level(lp_lg_engine *e, const lp_lg_level_config *cfg,
                                 lp_lg_level_result *res, lp_error *err);

/* Closes every connection (e.g. between scenarios). */
void lp_lg_engine_close_all(lp_lg_engine *e);

#endif
