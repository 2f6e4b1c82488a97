/* The server's metric families and per-model KServe statistics, fed by the
 * events the event loop and the workers report. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server/metrics.h"

/* Seconds: from 0.5 ms (server overhead) up to 30 s (default deadlines). */
static const double duration_bounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                         0.25,   0.5,   1,      2.5,   5,    10,   30};
static const double batch_bounds[] = {1, 2, 4, 8, 16, 32, 64, 128, 256};

typedef struct model_entry {
    char *name;
    lp_model_stats stats; /* batches grows with distinct batch sizes */
    int batches_cap;
    struct model_entry *next;
} model_entry;

struct lp_server_metrics {
    lp_metrics *reg;
    lp_metric *requests, *request_duration, *queue_duration, *compute_duration, *batch_size,
        *inferences, *queue_depth, *inflight, *model_state;
    pthread_mutex_t lock; /* guards models and their stats */
    model_entry *models;
    int n_models;
};

/* Per-model stats are kept for at most this many names (names come from the
 * server's own model table, so this only guards against a caller's bug). */
#define MAX_MODELS 1024

const char *lp_model_state_name(lp_model_state s) {
    switch (s) {
    case LP_MODEL_STATE_LOADING: return "loading";
    case LP_MODEL_STATE_READY: return "ready";
    case LP_MODEL_STATE_FAILED: return "failed";
    case LP_MODEL_STATE_UNLOADED: return "unloaded";
    default: return "unknown";
    }
}

static const char *model_label(const char *model) { return model ? model : ""; }

lp_status lp_server_metrics_create(lp_server_metrics **out, lp_error *err) {
    *out = NULL;
    lp_server_metrics *sm = calloc(1, sizeof *sm);
    if (!sm) return lp_fail(err, LP_ERR_NOMEM, "metrics: out of memory");
    pthread_mutex_init(&sm->lock, NULL);
    lp_status st = lp_metrics_create(&sm->reg, err);
    const char *req_labels[] = {"model", "endpoint", "status", "reason"};
    const char *model_endpoint[] = {"model", "endpoint"};
    const char *model_only[] = {"model"};
    const char *model_state[] = {"model", "state"};
    int nd = (int)(sizeof duration_bounds / sizeof *duration_bounds);
    int nb = (int)(sizeof batch_bounds / sizeof *batch_bounds);
    struct {
        lp_metric **slot;
        lp_metric_type type;
        const char *name, *help;
        const char *const *labels;
        int n_labels;
        const double *bounds;
        int n_bounds;
    } fams[] = {
        {&sm->requests, LP_METRIC_COUNTER, "lepton_requests_total",
         "HTTP requests answered, by model, endpoint, status code and failure reason.", req_labels,
         4, NULL, 0},
        {&sm->request_duration, LP_METRIC_HISTOGRAM, "lepton_request_duration_seconds",
         "End-to-end time from request received to reply handed to the network.", model_endpoint,
         2, duration_bounds, nd},
        {&sm->queue_duration, LP_METRIC_HISTOGRAM, "lepton_queue_duration_seconds",
         "Time a request waited in its model's queue before its batch started.", model_only, 1,
         duration_bounds, nd},
        {&sm->compute_duration, LP_METRIC_HISTOGRAM, "lepton_compute_duration_seconds",
         "Compute time of each executed batch (preprocess, forward, postprocess).", model_only, 1,
         duration_bounds, nd},
        {&sm->batch_size, LP_METRIC_HISTOGRAM, "lepton_batch_size",
         "Items per executed batch.", model_only, 1, batch_bounds, nb},
        {&sm->inferences, LP_METRIC_COUNTER, "lepton_inferences_total",
         "Items (texts, images, tensor rows) inferred in executed batches.", model_only, 1, NULL, 0},
        {&sm->queue_depth, LP_METRIC_GAUGE, "lepton_queue_depth",
         "Requests waiting in the model's queue.", model_only, 1, NULL, 0},
        {&sm->inflight, LP_METRIC_GAUGE, "lepton_inflight_requests",
         "Requests accepted and not yet answered.", model_only, 1, NULL, 0},
        {&sm->model_state, LP_METRIC_GAUGE, "lepton_model_state",
         "1 for the model's current state (loading, ready, failed, unloaded), else 0.",
         model_state, 2, NULL, 0},
    };
    for (size_t i = 0; st == LP_OK && i < sizeof fams / sizeof *fams; i++)
        st = lp_metrics_add(sm->reg, fams[i].type, fams[i].name, fams[i].help, fams[i].labels,
                            fams[i].n_labels, fams[i].bounds, fams[i].n_bounds, fams[i].slot, err);
    if (st != LP_OK) {
        lp_server_metrics_destroy(sm);
        return st;
    }
    *out = sm;
    return LP_OK;
}

void lp_server_metrics_destroy(lp_server_metrics *sm) {
    if (!sm) return;
    model_entry *e = sm->models;
    while (e) {
        model_entry *next = e->next;
        free(e->name);
        free(e->stats.batches);
        free(e);
        e = next;
    }
    lp_metrics_destroy(sm->reg);
    pthread_mutex_destroy(&sm->lock);
    free(sm);
}

lp_metrics *lp_server_metrics_registry(lp_server_metrics *sm) { return sm ? sm->reg : NULL; }

/* The entry for `model`, created when new; call with sm->lock held. */
static model_entry *entry_locked(lp_server_metrics *sm, const char *model) {
    for (model_entry *e = sm->models; e; e = e->next)
        if (strcmp(e->name, model) == 0) return e;
    if (sm->n_models >= MAX_MODELS) return NULL;
    model_entry *e = calloc(1, sizeof *e);
    if (!e) return NULL;
    size_t n = strlen(model) + 1;
    e->name = malloc(n);
    if (!e->name) {
        free(e);
        return NULL;
    }
    memcpy(e->name, model, n);
    e->next = sm->models;
    sm->models = e;
    sm->n_models++;
    return e;
}

static uint64_t to_ns(double seconds) {
    if (!(seconds > 0)) return 0;
    if (seconds > 1e9) return (uint64_t)1e18;
    return (uint64_t)(seconds * 1e9 + 0.5);
}

static uint64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void lp_server_metrics_add_model(lp_server_metrics *sm, const char *model) {
    if (!sm || !model || !*model) return;
    pthread_mutex_lock(&sm->lock);
    entry_locked(sm, model);
    pthread_mutex_unlock(&sm->lock);
    const char *v[] = {model};
    lp_metric_labels(sm->queue_depth, v);
    lp_metric_labels(sm->inflight, v);
    lp_metric_labels(sm->queue_duration, v);
    lp_metric_labels(sm->compute_duration, v);
    lp_metric_labels(sm->batch_size, v);
    lp_metric_labels(sm->inferences, v);
}

void lp_server_metrics_request_done(lp_server_metrics *sm, const lp_request_record *r) {
    if (!sm || !r) return;
    const char *model = model_label(r->model);
    char status[16];
    int code = r->status >= 100 && r->status <= 999 ? r->status : 0;
    snprintf(status, sizeof status, "%d", code);
    const char *reason = r->reason ? r->reason : (code > 0 && code < 400 ? "ok" : "error");
    const char *endpoint = r->endpoint ? r->endpoint : "";
    const char *rl[] = {model, endpoint, status, reason};
    lp_metric_inc(sm->requests, rl, 1);
    const char *me[] = {model, endpoint};
    if (r->total_seconds >= 0) lp_metric_observe(sm->request_duration, me, r->total_seconds);
    const char *m1[] = {model};
    if (r->queue_seconds >= 0 && *model) lp_metric_observe(sm->queue_duration, m1, r->queue_seconds);

    /* KServe statistics count inference requests only (those that carried
     * items), not metadata, readiness or stats calls on the same model */
    if (!*model || r->items <= 0) return;
    bool ok = code > 0 && code < 400;
    pthread_mutex_lock(&sm->lock);
    model_entry *e = entry_locked(sm, model);
    if (e) {
        lp_model_stats *s = &e->stats;
        lp_duration_stat *d = ok ? &s->success : &s->fail;
        d->count++;
        d->ns += to_ns(r->total_seconds);
        if (r->queue_seconds >= 0) {
            s->queue.count++;
            s->queue.ns += to_ns(r->queue_seconds);
        }
        if (ok) {
            if (r->compute_seconds >= 0) {
                s->compute_infer.count++;
                s->compute_infer.ns += to_ns(r->compute_seconds);
            }
            s->inference_count += r->items > 0 ? (uint64_t)r->items : 0;
            s->last_inference_ms = now_ms();
        }
    }
    pthread_mutex_unlock(&sm->lock);
}

/* Adds one batch of `size` to the per-size table (kept sorted by size). */
static void add_batch_stat(model_entry *e, int size, uint64_t ns) {
    lp_model_stats *s = &e->stats;
    int i = 0;
    while (i < s->n_batches && s->batches[i].batch_size < size) i++;
    if (i == s->n_batches || s->batches[i].batch_size != size) {
        if (s->n_batches == e->batches_cap) {
            int cap = e->batches_cap ? e->batches_cap * 2 : 8;
            lp_batch_stat *g = realloc(s->batches, (size_t)cap * sizeof *g);
            if (!g) return;
            s->batches = g;
            e->batches_cap = cap;
        }
        memmove(s->batches + i + 1, s->batches + i, (size_t)(s->n_batches - i) * sizeof *s->batches);
        s->batches[i] = (lp_batch_stat){.batch_size = size};
        s->n_batches++;
    }
    s->batches[i].compute_infer.count++;
    s->batches[i].compute_infer.ns += ns;
}

void lp_server_metrics_batch_done(lp_server_metrics *sm, const char *model, int batch_size,
                                  double compute_seconds) {
    if (!sm || !model || !*model || batch_size <= 0) return;
    const char *v[] = {model};
    lp_metric_observe(sm->batch_size, v, batch_size);
    lp_metric_inc(sm->inferences, v, batch_size);
    if (compute_seconds >= 0) lp_metric_observe(sm->compute_duration, v, compute_seconds);
    pthread_mutex_lock(&sm->lock);
    model_entry *e = entry_locked(sm, model);
    if (e) {
        e->stats.execution_count++;
        add_batch_stat(e, batch_size, to_ns(compute_seconds));
    }
    pthread_mutex_unlock(&sm->lock);
}

void lp_server_metrics_set_queue_depth(lp_server_metrics *sm, const char *model, int depth) {
    if (!sm) return;
    const char *v[] = {model_label(model)};
    lp_metric_set(sm->queue_depth, v, depth);
}

void lp_server_metrics_inflight_add(lp_server_metrics *sm, const char *model, int delta) {
    if (!sm) return;
    const char *v[] = {model_label(model)};
    lp_metric_add(sm->inflight, v, delta);
}

void lp_server_metrics_set_model_state(lp_server_metrics *sm, const char *model,
                                       lp_model_state state) {
    if (!sm || !model) return;
    for (int s = 0; s < LP_MODEL_STATE_COUNT; s++) {
        const char *v[] = {model, lp_model_state_name((lp_model_state)s)};
        lp_metric_set(sm->model_state, v, s == (int)state ? 1 : 0);
    }
}

bool lp_server_metrics_model_stats(lp_server_metrics *sm, const char *model, lp_model_stats *out) {
    memset(out, 0, sizeof *out);
    if (!sm || !model) return false;
    bool found = false;
    pthread_mutex_lock(&sm->lock);
    for (model_entry *e = sm->models; e; e = e->next) {
        if (strcmp(e->name, model) != 0) continue;
        *out = e->stats;
        out->batches = NULL;
        out->n_batches = 0;
        if (e->stats.n_batches) {
            out->batches = malloc((size_t)e->stats.n_batches * sizeof *out->batches);
            if (out->batches) {
                memcpy(out->batches, e->stats.batches,
                       (size_t)e->stats.n_batches * sizeof *out->batches);
                out->n_batches = e->stats.n_batches;
            }
        }
        found = true;
        break;
    }
    pthread_mutex_unlock(&sm->lock);
    return found;
}

void lp_model_stats_free(lp_model_stats *s) {
    if (!s) return;
    free(s->batches);
    s->batches = NULL;
    s->n_batches = 0;
}

lp_status lp_server_metrics_render(lp_server_metrics *sm, char **out, size_t *len,
                                   lp_error *err) {
    if (!sm) {
        *out = NULL;
        return lp_fail(err, LP_ERR_INVALID_ARG, "metrics: no server metrics");
    }
    return lp_metrics_render(sm->reg, out, len, err);
}
