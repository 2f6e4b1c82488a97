#include "loadgen/report.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

static void code_name(int code, char *buf, size_t size) {
    if (code == LP_LG_CODE_CONN) snprintf(buf, size, "conn");
    else if (code == LP_LG_CODE_TIMEOUT) snprintf(buf, size, "timeout");
    else snprintf(buf, size, "%d", code);
}

void lp_lg_format_codes(const lp_lg_level_result *r, char *buf, size_t size) {
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < r->n_codes && used + 1 < size; i++) {
        char name[16];
        code_name(r->codes[i].code, name, sizeof name);
        int n = snprintf(buf + used, size - used, "%s%s:%zu", used ? " " : "", name, r->codes[i].count);
        if (n < 0) break;
        used += (size_t)n;
    }
}

static void level_name(const lp_lg_level_result *r, char *buf, size_t size) {
    if (r->cfg.open_loop) snprintf(buf, size, "rate %.1f", r->cfg.rate);
    else if (r->cfg.total_requests > 0) snprintf(buf, size, "%ld @ c%d", r->cfg.total_requests, r->cfg.concurrency);
    else snprintf(buf, size, "c %d", r->cfg.concurrency);
}

static void ms_or_dash(char *buf, size_t size, double v) {
    if (v < 0) snprintf(buf, size, "-");
    else snprintf(buf, size, "%.2f", v);
}

void lp_lg_report_table(FILE *out, const lp_lg_options *o, const lp_lg_run *run) {
    (void)o;
    fprintf(out,
            "| role | level | ok | req/s | p50 ms | p90 ms | p95 ms | p99 ms | max ms | mean ms "
            "| errors | late | dropped | srv e2e ms | srv queue ms | srv compute ms/batch | srv batch | windows |\n"
            "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---|\n");
    for (int i = 0; i < run->n_rows; i++) {
        const lp_lg_result_row *row = &run->rows[i];
        const lp_lg_level_result *r = &row->r;
        char name[48], codes[160], q[24], c[24], b[24], e2e[24], late[24], drop[24], win[48];
        level_name(r, name, sizeof name);
        lp_lg_format_codes(r, codes, sizeof codes);
        ms_or_dash(q, sizeof q, r->server.present ? r->server.queue_ms : -1);
        ms_or_dash(c, sizeof c, r->server.present ? r->server.compute_ms : -1);
        ms_or_dash(b, sizeof b, r->server.present ? r->server.batch_mean : -1);
        ms_or_dash(e2e, sizeof e2e, r->server.present ? r->server.e2e_ms : -1);
        if (r->cfg.open_loop) {
            snprintf(late, sizeof late, "%zu", r->late);
            snprintf(drop, sizeof drop, "%zu", r->dropped);
        } else {
            snprintf(late, sizeof late, "-");
            snprintf(drop, sizeof drop, "-");
        }
        if (r->cfg.duration > 0 || r->cfg.total_requests > 0) snprintf(win, sizeof win, "fixed");
        else snprintf(win, sizeof win, "%d%s", r->windows, r->stable ? " stable" : " UNSTABLE");
        char role[40];
        snprintf(role, sizeof role, "%s%s", row->role,
                 o->scenario == LP_LG_SCENARIO_SERVER && strcmp(row->role, "saturation")
                     ? (row->valid ? " (valid)" : " (invalid)") : "");
        fprintf(out,
                "| %s | %s | %zu | %.1f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %s | %s | %s "
                "| %s | %s | %s | %s | %s |\n",
                role, name, r->ok, r->throughput, r->latency.p50, r->latency.p90, r->latency.p95,
                r->latency.p99, r->latency.max, r->latency.mean, codes[0] ? codes : "0", late,
                drop, e2e, q, c, b, win);
    }
    if (run->verdict[0]) fprintf(out, "\n%s\n", run->verdict);
}

/* Opens path.tmp.PID for writing. */
static FILE *open_tmp(const char *path, char *tmp, size_t size, lp_error *err) {
    snprintf(tmp, size, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f) lp_fail(err, LP_ERR_IO, "cannot write '%s': %s", tmp, strerror(errno));
    return f;
}

static lp_status close_rename(FILE *f, const char *tmp, const char *path, lp_error *err) {
    bool bad = fflush(f) != 0 || ferror(f);
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path)) {
        int e = errno;
        remove(tmp);
        return lp_fail(err, LP_ERR_IO, "cannot write '%s': %s", path, strerror(e));
    }
    return LP_OK;
}

lp_status lp_lg_report_csv(const char *path, const lp_lg_run *run, lp_error *err) {
    char tmp[4200];
    FILE *f = open_tmp(path, tmp, sizeof tmp, err);
    if (!f) return LP_ERR_IO;
    fprintf(f, "role,valid,mode,concurrency,rate,total_requests,arrival,ok,errors,seconds,"
               "throughput,offered,p50_ms,p90_ms,p95_ms,p99_ms,max_ms,mean_ms,min_ms,due,late,"
               "dropped,max_late_ms,windows,windows_used,stable,connections,server_e2e_ms,"
               "server_queue_ms,server_compute_ms_per_batch,server_batch_mean,codes\n");
    for (int i = 0; i < run->n_rows; i++) {
        const lp_lg_result_row *row = &run->rows[i];
        const lp_lg_level_result *r = &row->r;
        char codes[200];
        lp_lg_format_codes(r, codes, sizeof codes);
        fprintf(f,
                "%s,%d,%s,%d,%.4f,%ld,%s,%zu,%zu,%.4f,%.3f,%.3f,%.4f,%.4f,%.4f,%.4f,%.4f,%.4f,"
                "%.4f,%zu,%zu,%zu,%.3f,%d,%d,%d,%d,%.4f,%.4f,%.4f,%.4f,%s\n",
                row->role, row->valid, r->cfg.open_loop ? "open" : "closed",
                r->cfg.open_loop ? 0 : r->cfg.concurrency, r->cfg.open_loop ? r->cfg.rate : 0,
                r->cfg.total_requests,
                r->cfg.open_loop ? (r->cfg.arrival == LP_LG_ARRIVAL_POISSON ? "poisson" : "constant") : "",
                r->ok, r->errors, r->seconds, r->throughput, r->offered, r->latency.p50,
                r->latency.p90, r->latency.p95, r->latency.p99, r->latency.max, r->latency.mean,
                r->latency.min, r->due, r->late, r->dropped, r->max_late_ms, r->windows,
                r->windows_used, r->stable, r->connections,
                r->server.present ? r->server.e2e_ms : -1,
                r->server.present ? r->server.queue_ms : -1,
                r->server.present ? r->server.compute_ms : -1,
                r->server.present ? r->server.batch_mean : -1, codes);
    }
    return close_rename(f, tmp, path, err);
}

static cJSON *level_json(const lp_lg_result_row *row) {
    const lp_lg_level_result *r = &row->r;
    cJSON *j = cJSON_CreateObject();
    if (!j) return NULL;
    cJSON_AddStringToObject(j, "role", row->role);
    cJSON_AddBoolToObject(j, "valid", row->valid);
    cJSON_AddStringToObject(j, "mode", r->cfg.open_loop ? "open" : "closed");
    if (r->cfg.open_loop) {
        cJSON_AddNumberToObject(j, "rate", r->cfg.rate);
        cJSON_AddStringToObject(j, "arrival", r->cfg.arrival == LP_LG_ARRIVAL_POISSON ? "poisson" : "constant");
    } else {
        cJSON_AddNumberToObject(j, "concurrency", r->cfg.concurrency);
    }
    if (r->cfg.total_requests > 0) cJSON_AddNumberToObject(j, "total_requests", (double)r->cfg.total_requests);
    cJSON_AddNumberToObject(j, "ok", (double)r->ok);
    cJSON_AddNumberToObject(j, "errors", (double)r->errors);
    cJSON_AddNumberToObject(j, "seconds", r->seconds);
    cJSON_AddNumberToObject(j, "throughput", r->throughput);
    cJSON *lat = cJSON_AddObjectToObject(j, "latency_ms");
    if (lat) {
        cJSON_AddNumberToObject(lat, "p50", r->latency.p50);
        cJSON_AddNumberToObject(lat, "p90", r->latency.p90);
        cJSON_AddNumberToObject(lat, "p95", r->latency.p95);
        cJSON_AddNumberToObject(lat, "p99", r->latency.p99);
        cJSON_AddNumberToObject(lat, "max", r->latency.max);
        cJSON_AddNumberToObject(lat, "mean", r->latency.mean);
        cJSON_AddNumberToObject(lat, "min", r->latency.min);
    }
    cJSON *codes = cJSON_AddObjectToObject(j, "errors_by_code");
    for (int i = 0; codes && i < r->n_codes; i++) {
        char name[16];
        code_name(r->codes[i].code, name, sizeof name);
        cJSON_AddNumberToObject(codes, name, (double)r->codes[i].count);
    }
    if (r->cfg.open_loop) {
        cJSON_AddNumberToObject(j, "offered", r->offered);
        cJSON_AddNumberToObject(j, "due", (double)r->due);
        cJSON_AddNumberToObject(j, "late", (double)r->late);
        cJSON_AddNumberToObject(j, "dropped", (double)r->dropped);
        cJSON_AddNumberToObject(j, "max_late_ms", r->max_late_ms);
    }
    cJSON_AddNumberToObject(j, "windows", r->windows);
    cJSON_AddNumberToObject(j, "windows_used", r->windows_used);
    cJSON_AddBoolToObject(j, "stable", r->stable);
    cJSON_AddNumberToObject(j, "connections", r->connections);
    if (r->server.present) {
        cJSON *s = cJSON_AddObjectToObject(j, "server");
        if (s) {
            if (r->server.queue_ms >= 0) cJSON_AddNumberToObject(s, "queue_ms", r->server.queue_ms);
            if (r->server.e2e_ms >= 0) cJSON_AddNumberToObject(s, "e2e_ms", r->server.e2e_ms);
            if (r->server.compute_ms >= 0) cJSON_AddNumberToObject(s, "compute_ms_per_batch", r->server.compute_ms);
            if (r->server.batch_mean >= 0) cJSON_AddNumberToObject(s, "batch_mean", r->server.batch_mean);
            cJSON_AddNumberToObject(s, "batches", r->server.batches);
        }
    } else {
        cJSON_AddNullToObject(j, "server");
    }
    return j;
}

lp_status lp_lg_report_json(const char *path, const lp_lg_options *o, const lp_lg_requests *reqs,
                            const lp_lg_run *run, const double load_before[3],
                            const double load_after[3], lp_error *err) {
    cJSON *root = cJSON_CreateObject();
    if (!root) return lp_fail(err, LP_ERR_NOMEM, "no memory for the JSON report");
    char when[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    cJSON_AddStringToObject(root, "finished", when);
    cJSON_AddStringToObject(root, "url", o->url);
    cJSON_AddStringToObject(root, "method", reqs->method);
    cJSON_AddStringToObject(root, "path", reqs->path);
    cJSON_AddStringToObject(root, "model", o->model);
    cJSON_AddStringToObject(root, "scenario", lp_lg_scenario_name(o->scenario));
    cJSON *set = cJSON_AddObjectToObject(root, "settings");
    if (set) {
        cJSON_AddNumberToObject(set, "warmup_s", o->warmup);
        cJSON_AddNumberToObject(set, "window_s", o->window);
        cJSON_AddNumberToObject(set, "duration_s", o->duration);
        cJSON_AddNumberToObject(set, "max_windows", o->max_windows);
        cJSON_AddNumberToObject(set, "stability", o->stability);
        cJSON_AddNumberToObject(set, "timeout_s", o->timeout);
        cJSON_AddNumberToObject(set, "batch", o->batch);
        cJSON_AddNumberToObject(set, "distinct_requests", (double)reqs->n);
        cJSON_AddNumberToObject(set, "seed", (double)o->seed);
        cJSON_AddNumberToObject(set, "max_connections", o->max_connections);
        if (o->p99_bound_ms) cJSON_AddNumberToObject(set, "p99_bound_ms", o->p99_bound_ms);
        cJSON_AddStringToObject(set, "input", o->input_path ? o->input_path : "generated");
    }
    cJSON *m = cJSON_AddObjectToObject(root, "machine");
    if (m) {
        cJSON_AddNumberToObject(m, "cpus_online", (double)sysconf(_SC_NPROCESSORS_ONLN));
        cJSON *lb = cJSON_CreateDoubleArray(load_before, 3), *la = cJSON_CreateDoubleArray(load_after, 3);
        if (lb) cJSON_AddItemToObject(m, "loadavg_before", lb);
        if (la) cJSON_AddItemToObject(m, "loadavg_after", la);
    }
    cJSON_AddStringToObject(root, "verdict", run->verdict);
    if (run->figure_name) {
        cJSON_AddStringToObject(root, "figure_name", run->figure_name);
        cJSON_AddNumberToObject(root, "figure", run->figure);
    }
    cJSON_AddBoolToObject(root, "server_metrics", run->metrics_seen);
    cJSON *levels = cJSON_AddArrayToObject(root, "levels");
    for (int i = 0; levels && i < run->n_rows; i++) {
        cJSON *l = level_json(&run->rows[i]);
        if (l) cJSON_AddItemToArray(levels, l);
    }
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    if (!text) return lp_fail(err, LP_ERR_NOMEM, "no memory for the JSON report");
    char tmp[4200];
    FILE *f = open_tmp(path, tmp, sizeof tmp, err);
    if (!f) {
        free(text);
        return LP_ERR_IO;
    }
    fputs(text, f);
    fputc('\n', f);
    free(text);
    return close_rename(f, tmp, path, err);
}
