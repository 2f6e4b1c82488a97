/* `lepton bench`: load-tests a running server (lepton serve or any KServe v2
 * server) and reports latency percentiles and throughput per level. The
 * machinery is in loadgen/; this file wires options, inputs, the engine,
 * progress on stderr and the report. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loadgen/engine.h"
#include "loadgen/inputs.h"
#include "loadgen/options.h"
#include "loadgen/report.h"
#include "loadgen/request.h"
#include "loadgen/scenario.h"
#include "loadgen/url.h"
#include "tools/lepton/commands.h"

typedef struct progress {
    bool tty, quiet;
    char level[64];
    const char *role;
} progress;

static void on_level(void *user, const lp_lg_level_config *cfg, const char *role) {
    progress *p = user;
    if (cfg->open_loop) snprintf(p->level, sizeof p->level, "rate %.1f/s", cfg->rate);
    else snprintf(p->level, sizeof p->level, "concurrency %d", cfg->concurrency);
    p->role = role;
    if (p->quiet) return;
    fprintf(stderr, "%s%s %s: warming up %.1f s%s", p->tty ? "\r\033[K" : "", role, p->level,
            cfg->warmup, p->tty ? "" : "\n");
}

static void on_window(void *user, const lp_lg_level_config *cfg, int window,
                      const lp_lg_window *w, bool warmup) {
    progress *p = user;
    if (p->quiet || warmup) return;
    int cap = cfg->duration > 0 || cfg->total_requests > 0 ? 1 : cfg->max_windows;
    fprintf(stderr, "%s%s %s: window %d/%d %.1f req/s, mean %.2f ms%s",
            p->tty ? "\r\033[K" : "", p->role, p->level, window + 1, cap,
            lp_lg_window_throughput(w), lp_lg_window_mean_latency(w), p->tty ? "" : "\n");
}

static void loadavg(double out[3]) {
    out[0] = out[1] = out[2] = -1;
    if (getloadavg(out, 3) != 3) out[0] = out[1] = out[2] = -1;
}

static lp_status load_inputs(const lp_lg_options *o, lp_lg_inputs *in, lp_error *err) {
    if (o->input_path) return lp_lg_inputs_load(in, o->input_path, o->input_kind, err);
    return lp_lg_inputs_generate(in, (size_t)o->gen_count, o->gen_min_words, o->gen_max_words,
                                 o->seed, err);
}

int lp_cmd_bench(int argc, char **argv) {
    lp_lg_options o;
    lp_error err = {0};
    lp_lg_options_defaults(&o);
    if (lp_lg_options_parse(&o, argc, argv, &err)) {
        fprintf(stderr, "lepton bench: %s\n", err.msg);
        return 2;
    }
    if (o.help) {
        fputs(LP_LG_USAGE, stdout);
        return 0;
    }
    lp_lg_url url;
    if (lp_lg_url_parse(o.url, &url, &err)) {
        fprintf(stderr, "lepton bench: --url %s\n", err.msg);
        return 2;
    }
    int rc = 1;
    lp_lg_inputs in = {0};
    lp_lg_requests reqs = {0};
    lp_lg_engine *e = NULL;
    lp_lg_run *run = calloc(1, sizeof *run);
    if (!run) {
        fprintf(stderr, "lepton bench: out of memory\n");
        return 1;
    }
    double load_before[3], load_after[3];
    loadavg(load_before);
    if (load_inputs(&o, &in, &err) || lp_lg_url_resolve(&url, &err) ||
        lp_lg_requests_build(&reqs, &o, &url, &in, &err) || lp_lg_engine_new(&e, &url, &reqs, &err))
        goto fail;
    if (lp_lg_engine_probe(e, o.timeout < 10 ? o.timeout : 10, &err)) goto fail;
    progress p = {isatty(2) != 0, o.quiet, "", ""};
    lp_lg_engine_set_progress(e, on_window, &p);
    if (!o.quiet)
        fprintf(stderr, "lepton bench: %s %s%s, %zu distinct requests, scenario %s\n", reqs.method,
                o.url, reqs.path + strlen(url.prefix), reqs.n, lp_lg_scenario_name(o.scenario));
    if (lp_lg_run_scenario(e, &o, run, on_level, &p, &err)) goto fail;
    if (!o.quiet && p.tty) fprintf(stderr, "\r\033[K");
    loadavg(load_after);
    printf("lepton bench: %s %s, model %s, scenario %s; load average %.2f before, %.2f after\n\n",
           reqs.method, reqs.path, o.model[0] ? o.model : "-", lp_lg_scenario_name(o.scenario),
           load_before[0], load_after[0]);
    lp_lg_report_table(stdout, &o, run);
    if (!run->metrics_seen && o.metrics_path[0])
        printf("(server-side queue/compute split: %s had no lepton histograms for model '%s')\n",
               o.metrics_path, o.model);
    fflush(stdout);
    if (o.csv_path && lp_lg_report_csv(o.csv_path, run, &err)) goto fail;
    if (o.json_path &&
        lp_lg_report_json(o.json_path, &o, &reqs, run, load_before, load_after, &err))
        goto fail;
    rc = 0;
    goto out;
fail:
    if (!o.quiet && isatty(2)) fprintf(stderr, "\r\033[K");
    fprintf(stderr, "lepton bench: %s\n", err.msg);
out:
    lp_lg_engine_free(e);
    lp_lg_requests_free(&reqs);
    lp_lg_inputs_free(&in);
    free(run);
    return rc;
}
