#include "loadgen/scenario.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *lp_lg_scenario_name(lp_lg_scenario s) {
    switch (s) {
    case LP_LG_SCENARIO_SWEEP: return "sweep";
    case LP_LG_SCENARIO_SINGLE_STREAM: return "single-stream";
    case LP_LG_SCENARIO_SERVER: return "server";
    case LP_LG_SCENARIO_OFFLINE: return "offline";
    }
    return "?";
}

static lp_lg_level_config base_config(const lp_lg_options *o) {
    lp_lg_level_config c;
    memset(&c, 0, sizeof c);
    c.arrival = o->arrival;
    c.seed = o->seed;
    c.max_connections = o->max_connections;
    c.warmup = o->warmup;
    c.window = o->window;
    c.duration = o->duration;
    c.stability = o->stability;
    c.timeout = o->timeout;
    c.max_windows = o->max_windows;
    return c;
}

static lp_lg_server_counters scrape(lp_lg_engine *e, const lp_lg_options *o, bool *enabled) {
    lp_lg_server_counters c;
    memset(&c, 0, sizeof c);
    if (!*enabled) return c;
    int status = 0;
    char *body = NULL;
    size_t len = 0;
    if (lp_lg_engine_get(e, o->metrics_path, 5, &status, &body, &len, NULL) || status != 200) {
        *enabled = false; /* no metrics here (e.g. Triton on another port): stop asking */
        free(body);
        return c;
    }
    c = lp_lg_prom_server_counters(body, len, o->model);
    free(body);
    return c;
}

typedef struct ctx {
    lp_lg_engine *e;
    const lp_lg_options *o;
    lp_lg_run *run;
    lp_lg_level_fn on_level;
    void *user;
    bool scrape_on;
} ctx;

static bool server_valid(const lp_lg_options *o, const lp_lg_level_result *r) {
    return r->ok > 0 && r->errors == 0 && r->dropped == 0 &&
           (!o->p99_bound_ms || r->latency.p99 <= o->p99_bound_ms);
}

static lp_status run_level(ctx *x, const lp_lg_level_config *cfg, const char *role,
                           lp_lg_result_row **out, lp_error *err) {
    if (x->run->n_rows == LP_LG_MAX_RESULTS)
        return lp_fail(err, LP_ERR_INVALID_ARG, "more than %d levels in one run", LP_LG_MAX_RESULTS);
    if (x->on_level) x->on_level(x->user, cfg, role);
    lp_lg_server_counters before = scrape(x->e, x->o, &x->scrape_on);
    lp_lg_result_row *row = &x->run->rows[x->run->n_rows];
    memset(row, 0, sizeof *row);
    snprintf(row->role, sizeof row->role, "%s", role);
    lp_status st = lp_lg_engine_run_level(x->e, cfg, &row->r, err);
    if (st) return st;
    lp_lg_server_counters after = scrape(x->e, x->o, &x->scrape_on);
    row->r.server = lp_lg_server_split_between(&before, &after);
    if (row->r.server.present) x->run->metrics_seen = true;
    row->valid = server_valid(x->o, &row->r);
    x->run->n_rows++;
    if (out) *out = row;
    return LP_OK;
}

static lp_status saturation(ctx *x, double *tput, lp_error *err) {
    lp_lg_level_config c = base_config(x->o);
    c.concurrency = LP_LG_SATURATION_CONCURRENCY;
    lp_lg_result_row *row;
    lp_status st = run_level(x, &c, "saturation", &row, err);
    if (st) return st;
    *tput = row->r.throughput;
    if (!(*tput > 0))
        return lp_fail(err, LP_ERR_IO, "the saturation probe completed no request; see the errors above");
    return LP_OK;
}

static lp_status open_level(ctx *x, double rate, const char *role, lp_lg_result_row **row,
                            lp_error *err) {
    lp_lg_level_config c = base_config(x->o);
    c.open_loop = true;
    c.rate = rate;
    return run_level(x, &c, role, row, err);
}

static lp_status server_search(ctx *x, lp_error *err) {
    double sat;
    lp_status st = saturation(x, &sat, err);
    if (st) return st;
    double lo = 0, hi = 1.2 * sat, best = 0;
    for (int i = 0; i < x->o->search_steps; i++) {
        double mid = (lo + hi) / 2;
        lp_lg_result_row *row;
        st = open_level(x, mid, "search", &row, err);
        if (st) return st;
        if (row->valid) {
            lo = mid;
            if (mid > best) best = mid;
        } else {
            hi = mid;
        }
    }
    x->run->figure = best;
    x->run->figure_name = "highest valid rate (req/s)";
    if (best > 0)
        snprintf(x->run->verdict, sizeof x->run->verdict,
                 "server: highest valid Poisson rate %.1f req/s (p99 <= %g ms, no errors or drops); "
                 "saturation %.1f req/s", best, x->o->p99_bound_ms, sat);
    else
        snprintf(x->run->verdict, sizeof x->run->verdict,
                 "server: no rate tried was valid (p99 <= %g ms); the lowest tried was %.2f req/s",
                 x->o->p99_bound_ms, lo + (hi - lo) / 2);
    return LP_OK;
}

lp_status lp_lg_run_scenario(lp_lg_engine *e, const lp_lg_options *o, lp_lg_run *run,
                             lp_lg_level_fn on_level, void *user, lp_error *err) {
    memset(run, 0, sizeof *run);
    ctx x = {e, o, run, on_level, user, o->metrics_path && o->metrics_path[0]};
    lp_status st = LP_OK;
    lp_lg_result_row *row = NULL;
    switch (o->scenario) {
    case LP_LG_SCENARIO_SERVER:
        if (!o->n_rates) return server_search(&x, err);
        for (int i = 0; i < o->n_rates && !st; i++) st = open_level(&x, o->rates[i], "level", &row, err);
        if (st) return st;
        {
            double best = 0;
            for (int i = 0; i < run->n_rows; i++)
                if (run->rows[i].valid && run->rows[i].r.cfg.rate > best) best = run->rows[i].r.cfg.rate;
            run->figure = best;
            run->figure_name = "highest valid rate (req/s)";
            const char *why = o->p99_bound_ms ? " (p99 under the bound, no errors or drops)"
                                              : " (no errors or drops; no p99 bound given)";
            if (best > 0)
                snprintf(run->verdict, sizeof run->verdict, "server: highest valid rate %.1f req/s%s",
                         best, why);
            else
                snprintf(run->verdict, sizeof run->verdict, "server: no rate was valid%s", why);
        }
        return LP_OK;
    case LP_LG_SCENARIO_OFFLINE: {
        lp_lg_level_config c = base_config(o);
        c.concurrency = o->concurrency[0];
        c.total_requests = o->offline_requests;
        st = run_level(&x, &c, "level", &row, err);
        if (st) return st;
        run->figure = row->r.throughput;
        run->figure_name = "throughput (req/s)";
        snprintf(run->verdict, sizeof run->verdict,
                 "offline: %zu of %d requests succeeded in %.2f s over %d connections: %.1f req/s",
                 row->r.ok, o->offline_requests, row->r.seconds, c.concurrency, row->r.throughput);
        return LP_OK;
    }
    case LP_LG_SCENARIO_SINGLE_STREAM: {
        lp_lg_level_config c = base_config(o);
        c.concurrency = 1;
        st = run_level(&x, &c, "level", &row, err);
        if (st) return st;
        run->figure = row->r.latency.p90;
        run->figure_name = "p90 latency (ms)";
        snprintf(run->verdict, sizeof run->verdict,
                 "single-stream: p90 latency %.2f ms over %zu requests (%.1f req/s)",
                 row->r.latency.p90, row->r.ok, row->r.throughput);
        return LP_OK;
    }
    case LP_LG_SCENARIO_SWEEP:
        break;
    }
    if (o->rate_sweep) {
        double sat;
        st = saturation(&x, &sat, err);
        static const double FRACTIONS[] = {0.25, 0.5, 0.75, 0.9, 1.0, 1.1};
        for (size_t i = 0; i < sizeof FRACTIONS / sizeof FRACTIONS[0] && !st; i++)
            st = open_level(&x, FRACTIONS[i] * sat, "level", NULL, err);
    } else if (o->n_rates) {
        for (int i = 0; i < o->n_rates && !st; i++) st = open_level(&x, o->rates[i], "level", NULL, err);
    } else {
        for (int i = 0; i < o->n_concurrency && !st; i++) {
            lp_lg_level_config c = base_config(o);
            c.concurrency = o->concurrency[i];
            st = run_level(&x, &c, "level", NULL, err);
        }
    }
    if (st) return st;
    double best = 0;
    for (int i = 0; i < run->n_rows; i++)
        if (run->rows[i].r.throughput > best) best = run->rows[i].r.throughput;
    run->figure = best;
    run->figure_name = "best throughput (req/s)";
    snprintf(run->verdict, sizeof run->verdict, "sweep: best throughput %.1f req/s", best);
    return LP_OK;
}
