/* Prometheus metrics: a thread-safe registry of counters, gauges and histograms
 * with label sets, rendered in the text exposition format (version 0.0.4), and a
 * facade (lp_server_metrics) that turns the server's events into the metric
 * families GET /metrics shows and the per-model numbers KServe's
 * /v2/models/{name}/stats reports.
 *
 * Threads: every update may come from any thread (workers and the event thread).
 * Looking up a series by its label values takes the family's mutex for a short
 * scan; the update itself is a lock-free atomic. A caller on a hot path can keep
 * the lp_metric_series pointer (it lives as long as the registry) and skip the
 * lookup. Rendering takes each family's mutex in turn.
 *
 * Cardinality: a family holds at most LP_METRICS_MAX_SERIES series; beyond that
 * lookups return NULL, updates on NULL are no-ops, and the registry's own
 * lepton_metrics_series_dropped_total counts them. Never use raw client input
 * (an unknown model name, a path) as a label value. */
#ifndef LP_SERVER_METRICS_H
#define LP_SERVER_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels/status.h"

#define LP_METRICS_MAX_LABELS 8
#define LP_METRICS_MAX_BUCKETS 32
#define LP_METRICS_MAX_SERIES 4096

typedef enum lp_metric_type {
    LP_METRIC_COUNTER,
    LP_METRIC_GAUGE,
    LP_METRIC_HISTOGRAM
} lp_metric_type;

typedef struct lp_metrics lp_metrics;             /* the registry */
typedef struct lp_metric lp_metric;               /* one family: name, help, label names */
typedef struct lp_metric_series lp_metric_series; /* one label-value tuple of a family */

lp_status lp_metrics_create(lp_metrics **out, lp_error *err);
void lp_metrics_destroy(lp_metrics *m);

/* Registers a family. `label_names` has `n_labels` entries (0..LP_METRICS_MAX_LABELS),
 * each a valid Prometheus label name ("le" is reserved for histograms). Histograms
 * take `n_bounds` strictly increasing finite upper bounds (the +Inf bucket is
 * implicit); counters and gauges pass NULL, 0. A family without labels has its
 * single series from the start, so it renders as 0 before its first update. The
 * returned family lives as long as the registry. Registering a name twice fails. */
lp_status lp_metrics_add(lp_metrics *m, lp_metric_type type, const char *name, const char *help,
                         const char *const *label_names, int n_labels, const double *bounds,
                         int n_bounds, lp_metric **out, lp_error *err);

/* The series for `label_values` (n_labels strings, copied), created on first use.
 * NULL when the family is full or memory ran out (updates on NULL do nothing). */
lp_metric_series *lp_metric_labels(lp_metric *family, const char *const *label_values);

/* Counters only go up: a negative or NaN `v` is ignored. */
void lp_metric_series_inc(lp_metric_series *s, double v);
/* Gauges: set or add (delta may be negative). */
void lp_metric_series_set(lp_metric_series *s, double v);
void lp_metric_series_add(lp_metric_series *s, double delta);
/* Histograms: one observation (NaN is ignored). */
void lp_metric_series_observe(lp_metric_series *s, double v);
/* The current value of a counter or gauge series (0 for NULL); a histogram's sum. */
double lp_metric_series_value(const lp_metric_series *s);
/* A histogram series' observation count (0 for NULL or other types). */
uint64_t lp_metric_series_count(const lp_metric_series *s);

/* Convenience: lookup + update in one call. */
void lp_metric_inc(lp_metric *family, const char *const *label_values, double v);
void lp_metric_set(lp_metric *family, const char *const *label_values, double v);
void lp_metric_add(lp_metric *family, const char *const *label_values, double delta);
void lp_metric_observe(lp_metric *family, const char *const *label_values, double v);

/* Renders every family in registration order, series sorted by label values,
 * into a NUL-terminated malloc'd string (*out, length *len) the caller frees.
 * Content-Type: text/plain; version=0.0.4; charset=utf-8 */
lp_status lp_metrics_render(lp_metrics *m, char **out, size_t *len, lp_error *err);

/* Formats a sample value as Prometheus expects: shortest decimal that reads
 * back exactly, "+Inf", "-Inf", "NaN". Returns the length written (buf >= 32). */
int lp_metrics_format_value(double v, char *buf, size_t size);

/* ---- The server's metrics ------------------------------------------------ */

typedef enum lp_model_state {
    LP_MODEL_STATE_LOADING = 0,
    LP_MODEL_STATE_READY,
    LP_MODEL_STATE_FAILED,
    LP_MODEL_STATE_UNLOADED,
    LP_MODEL_STATE_COUNT
} lp_model_state;

/* "loading", "ready", "failed", "unloaded". */
const char *lp_model_state_name(lp_model_state state);

/* One finished request, as the event thread sees it when the reply is sent.
 * Times are seconds; a negative time means the request never reached that stage
 * (e.g. rejected before queueing) and is not observed. */
typedef struct lp_request_record {
    const char *model;    /* a loaded model's name, or NULL/"" when not attributable */
    const char *endpoint; /* route family: "classify", "embed", "kserve_infer", "metrics", ... */
    int status;           /* HTTP status sent */
    const char *reason;   /* "ok" on success, else a short fixed token: "bad_request",
                             "not_found", "queue_full", "timeout", "cancelled",
                             "model_error", "too_large", "unauthorized", ... (NULL = "ok"
                             for status < 400, "error" otherwise) */
    double queue_seconds;   /* enqueue -> batch start */
    double compute_seconds; /* the compute time of the batch the request ran in */
    double total_seconds;   /* request received -> reply handed to libevent */
    int items;              /* items (texts, images, tensor rows) the request carried; the
                               per-model KServe statistics count only requests with items > 0 */
} lp_request_record;

/* KServe / Triton statistics for one model (times in nanoseconds). */
typedef struct lp_duration_stat {
    uint64_t count;
    uint64_t ns;
} lp_duration_stat;

typedef struct lp_batch_stat {
    int batch_size;
    lp_duration_stat compute_infer;
} lp_batch_stat;

typedef struct lp_model_stats {
    uint64_t inference_count; /* items inferred in successful requests */
    uint64_t execution_count; /* batches executed */
    uint64_t last_inference_ms; /* ms since the Unix epoch of the last success, 0 if none */
    lp_duration_stat success; /* end-to-end time of successful requests */
    lp_duration_stat fail;    /* end-to-end time of failed requests */
    lp_duration_stat queue;   /* queue time of requests that were queued */
    lp_duration_stat compute_infer; /* per successful request: its batch's compute */
    lp_batch_stat *batches;   /* per batch size seen, ascending (malloc'd; caller frees) */
    int n_batches;
} lp_model_stats;

typedef struct lp_server_metrics lp_server_metrics;

lp_status lp_server_metrics_create(lp_server_metrics **out, lp_error *err);
void lp_server_metrics_destroy(lp_server_metrics *sm);
/* The registry behind it, for callers that add families of their own. */
lp_metrics *lp_server_metrics_registry(lp_server_metrics *sm);

/* Registers a model so its gauges and stats exist (at 0) before any traffic. */
void lp_server_metrics_add_model(lp_server_metrics *sm, const char *model);
void lp_server_metrics_request_done(lp_server_metrics *sm, const lp_request_record *r);
void lp_server_metrics_batch_done(lp_server_metrics *sm, const char *model, int batch_size,
                                  double compute_seconds);
void lp_server_metrics_set_queue_depth(lp_server_metrics *sm, const char *model, int depth);
/* In-flight = accepted and not yet answered; +1 on accept, -1 on reply. */
void lp_server_metrics_inflight_add(lp_server_metrics *sm, const char *model, int delta);
void lp_server_metrics_set_model_state(lp_server_metrics *sm, const char *model,
                                       lp_model_state state);

/* A snapshot of `model`'s statistics; false when the model was never seen (out is
 * then zeroed). Free out->batches with free() (or lp_model_stats_free). */
bool lp_server_metrics_model_stats(lp_server_metrics *sm, const char *model, lp_model_stats *out);
void lp_model_stats_free(lp_model_stats *s);

lp_status lp_server_metrics_render(lp_server_metrics *sm, char **out, size_t *len,
                                   lp_error *err);

#endif
