/* What a route handler uses inside `lepton serve`: the request context, the
 * loaded models, and jobs submitted to a model's dynamic batcher.
 *
 * Threads. Everything here runs on the one event-loop thread unless a comment
 * says otherwise. A handler parses and validates the request, fills a job and
 * submits it; the model's worker threads run batches of jobs and hand each
 * finished job back to the event thread, where its `done` callback builds the
 * reply. A handler never computes and never blocks.
 *
 * The flow of a handler (this is how /v1/embed and the KServe handler work):
 *
 *   void handle(lp_srv_request *rq) {                       // event thread
 *       lp_srv_model *m = lp_srv_find_model(rq->srv, name);  // NULL: 404
 *       lp_srv_request_set_model(rq, m->name);               // for logs/metrics
 *       lp_srv_job *job = lp_srv_job_new(rq, m, LP_JOB_EMBED, n);  // owned by rq
 *       job->texts[i] = (lp_encoder_text){...};               // point into rq's body
 *       job->done = my_done;  job->user = my_state;
 *       lp_srv_submit(job);   // always completes: my_done is called later, or
 *                             // at once for a full queue (status 503)
 *   }
 *   void my_done(lp_srv_job *job) {                         // event thread
 *       if (job->http_status != 200) {
 *           lp_srv_reply_error(job->rq, job->http_status, "%s", job->error); return; }
 *       ... build cJSON from job->out / job->truncated / job->images ...
 *       lp_srv_reply_json(job->rq, 200, json);   // sends, logs, counts; frees rq and job
 *   }
 *
 * Deadlines and disconnects are handled by the server: a job still queued at
 * its deadline is removed and its `done` called with http_status 504; a job
 * whose client disconnected is removed and freed WITHOUT calling `done` (its
 * request is gone). A job that is already running when either happens runs to
 * the end and is then dropped (504 has already been sent, or nobody listens).
 *
 * Every reply goes through lp_srv_reply_*: exactly one per request; it writes
 * the access-log line and the request metrics, sets X-Request-Id, and frees
 * the request (and its jobs). */
#ifndef LP_SERVER_INTERNAL_H
#define LP_SERVER_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "kernels/status.h"
#include "models/encoder.h"
#include "models/image_classifier.h"
#include "models/translator.h"

struct evhttp_request;
struct event;
typedef struct lp_server lp_server;
typedef struct lp_srv_model lp_srv_model;
typedef struct lp_srv_job lp_srv_job;
typedef struct lp_srv_request lp_srv_request;
typedef struct lp_srv_queue lp_srv_queue;

/* ---- models -------------------------------------------------------------- */

typedef enum lp_srv_task {
    LP_TASK_CLASSIFY = 0, /* text classification (also /v1/sentiment) */
    LP_TASK_EMBED,        /* sentence embeddings */
    LP_TASK_IMAGE,        /* image classification (also /v1/diagnose) */
    LP_TASK_TRANSLATE,    /* text to text */
    LP_TASK_COUNT
} lp_srv_task;

const char *lp_srv_task_name(lp_srv_task t); /* "classify", "embed", "classify-image", "translate" */

typedef enum lp_srv_model_state {
    LP_MODEL_LOADING = 0,
    LP_MODEL_READY,
    LP_MODEL_FAILED,
} lp_srv_model_state;

const char *lp_srv_model_state_name(lp_srv_model_state s); /* "loading", "ready", "failed" */

/* Per-model settings from the command line or the config file. */
typedef struct lp_srv_model_config {
    char *name;               /* [A-Za-z0-9._-]{1,64}; looked up, never a path */
    char *dir;                /* checkpoint directory */
    lp_srv_task task;
    bool task_given;          /* false: inferred from the checkpoint at load */
    char device[16];          /* "cpu" (the only one this build serves on) */
    int max_batch_size;       /* items per batch (default 32) */
    int64_t max_queue_delay_us; /* how long the oldest queued item may wait for company (default 0) */
    int max_queue_size;       /* items queued before 503 (default 1024) */
    int64_t timeout_ms;       /* default per-request deadline (default 30000; 0 = none) */
    int workers;              /* worker threads, each with its own session (default 1) */
    int threads;              /* compute threads per worker (default: cores / workers) */
    int max_items;            /* items per request (default 256) */
    size_t max_text_bytes;    /* bytes per text (default 65536) */
    int top_k;                /* image top-k default (default 5) */
    /* diagnosis: per-label thresholds (default 0.5 each), NULL when none given */
    cJSON *thresholds;
} lp_srv_model_config;

struct lp_srv_model {
    lp_server *srv;
    lp_srv_model_config cfg;
    const char *name;                 /* == cfg.name */
    _Atomic int state;                /* lp_srv_model_state */
    char error[LP_ERROR_MSG_MAX];     /* why loading failed */
    lp_srv_task task;                 /* valid once READY */
    lp_encoder *encoder;              /* CLASSIFY / EMBED */
    lp_image_classifier *image;       /* IMAGE */
    lp_translator *translator;        /* TRANSLATE */
    lp_srv_queue *queue;
};

/* Label `i` of a classifier model (text or image); NULL when out of range or
 * the model has no labels. */
int64_t lp_srv_model_num_labels(const lp_srv_model *m);
const char *lp_srv_model_label(const lp_srv_model *m, int64_t i);

/* The model named `name` (exact match, any length: it is only compared), or NULL. */
lp_srv_model *lp_srv_find_model(lp_server *srv, const char *name);
size_t lp_srv_num_models(const lp_server *srv);
lp_srv_model *lp_srv_model_at(lp_server *srv, size_t i);
/* True once every model has loaded. */
bool lp_srv_ready(const lp_server *srv);
/* The server's metrics (server/metrics.h), e.g. for KServe's stats. */
struct lp_server_metrics *lp_srv_metrics(lp_server *srv);

/* ---- jobs ---------------------------------------------------------------- */

typedef enum lp_srv_job_kind {
    LP_JOB_CLASSIFY = 0, /* texts -> logits [n, labels] (+ truncated) */
    LP_JOB_EMBED,        /* texts -> embeddings [n, dim] (+ truncated) */
    LP_JOB_IMAGE,        /* images -> top-k per image in image_results */
    LP_JOB_IMAGE_PROBS,  /* images -> all class probabilities [n, classes] in out */
    LP_JOB_IMAGE_TENSOR, /* pre-processed f32 [n, 3, h, w] in `tensor` -> probs [n, classes] */
    LP_JOB_TRANSLATE,    /* texts -> translations[] */
} lp_srv_job_kind;

typedef void (*lp_srv_done_fn)(lp_srv_job *job);

struct lp_srv_job {
    /* ---- set by lp_srv_job_new ---- */
    lp_srv_request *rq;
    lp_srv_model *model;
    lp_srv_job_kind kind;
    size_t n;                 /* items */
    lp_encoder_text *texts;   /* n, for text kinds (point into memory the request owns) */
    lp_image_input *images;   /* n, for image kinds */
    /* ---- optional inputs, set by the handler ---- */
    bool forbid_truncation;   /* text longer than the model takes: 422 instead of truncating */
    int top_k;                /* LP_JOB_IMAGE (0: the model's default) */
    const float *tensor;      /* LP_JOB_IMAGE_TENSOR: n x 3 x h x w */
    int tensor_h, tensor_w;
    int beam, max_length;     /* LP_JOB_TRANSLATE (0: the model's generation_config defaults) */
    int64_t timeout_ms;       /* < 0: the model's default; 0: no deadline */
    lp_srv_done_fn done;
    void *user;
    /* ---- results, valid in done() ---- */
    int http_status;          /* 200, or the error status (422 bad item, 500, 503, 504) */
    char error[LP_ERROR_MSG_MAX];
    int64_t out_width;        /* per-item floats in out */
    float *out;               /* n x out_width (logits, embeddings or probabilities) */
    bool *truncated;          /* n, text kinds */
    lp_image_result *image_results; /* n, LP_JOB_IMAGE (per-item status and top-k) */
    char **translations;      /* n, LP_JOB_TRANSLATE (scores in out, out_width 1) */
    bool *hit_max_length;     /* n, LP_JOB_TRANSLATE: stopped at max_length, not at eos */
    int batch_items;          /* items in the batch this job ran in */
    double queue_ms, compute_ms;
    /* ---- the server's own ---- */
    lp_srv_job *next_in_queue, *prev_in_queue;
    lp_srv_job *next_done;
    lp_srv_job *next_of_request;
    int phase;                /* queued / running / finished (under the queue lock) */
    bool abandoned;           /* answered or cancelled while running: drop when it comes back */
    bool counted_in_flight;   /* queued once: in the in-flight gauge until freed */
    double t_submit, t_deadline;
    struct event *deadline_ev;
};

/* A job of `n` items for `model`, owned by `rq` (freed with it). NULL when
 * out of memory (answer 500). */
lp_srv_job *lp_srv_job_new(lp_srv_request *rq, lp_srv_model *model, lp_srv_job_kind kind, size_t n);

/* Hands the job to the model's batcher. done() is always called exactly once
 * (on the event thread, possibly before lp_srv_submit returns, e.g. 503 for a
 * full queue or a model that is not ready), except when the client disconnects
 * first. */
void lp_srv_submit(lp_srv_job *job);

/* ---- requests and replies ------------------------------------------------ */

struct lp_srv_request {
    lp_server *srv;
    struct evhttp_request *req;
    char id[80];              /* X-Request-Id (the client's, when sane) */
    char model[72];           /* for the access log and metrics; "" when none */
    const char *path;         /* decoded path without the query */
    const char *query;        /* raw query string or NULL */
    int method;               /* EVHTTP_REQ_* */
    const unsigned char *body;/* the whole body, NUL-terminated (len bytes before it) */
    size_t body_len;
    const char *content_type; /* NULL when absent */
    double t_start;           /* lp_srv_now_s() at arrival */
    bool replied, gone;       /* gone: the client disconnected */
    lp_srv_job *jobs;         /* owned */
    void *user;               /* handler state, freed with the request by user_free */
    void (*user_free)(void *);
    /* the server's own */
    lp_srv_request *live_prev, *live_next;
    struct event *watch;      /* notices the client closing while we work */
    const char *endpoint;     /* route family for metrics: "classify", "embed", "kserve_infer", ... */
    const char *reason;       /* failure reason token for metrics (NULL: from the status) */
    int items;                /* items the request carried */
    int batch_items;          /* for the access log: the batch the request's job ran in */
    double queue_ms, compute_ms;
};

double lp_srv_now_s(void); /* CLOCK_MONOTONIC seconds */

void lp_srv_request_set_model(lp_srv_request *rq, const char *name);
/* Sends `json` (consumed) with the given status; Content-Type application/json. */
void lp_srv_reply_json(lp_srv_request *rq, int status, cJSON *json);
/* Sends raw bytes with a content type (e.g. Prometheus text). */
void lp_srv_reply_raw(lp_srv_request *rq, int status, const char *content_type, const void *body, size_t len);
/* Sends {"error": "<message>"} (and Retry-After for 503). The metrics'
 * failure reason comes from the status ("bad_request", "not_found",
 * "overloaded", "timeout", ...). */
void lp_srv_reply_error(lp_srv_request *rq, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Adds a response header before a reply (e.g. Allow for 405). */
void lp_srv_add_header(lp_srv_request *rq, const char *key, const char *value);

#endif
