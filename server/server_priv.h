/* The server's own state, shared by its files (not for route handlers: they
 * use server_internal.h). */
#ifndef LP_SERVER_PRIV_H
#define LP_SERVER_PRIV_H

#include <pthread.h>
#include <stdatomic.h>

#include "server/server.h"
#include "server/server_internal.h"

struct event_base;
struct evhttp;
struct evhttp_bound_socket;
#include <event2/util.h>

enum { LP_JOB_NEW = 0, LP_JOB_QUEUED, LP_JOB_RUNNING, LP_JOB_FINISHED };

struct lp_server {
    const lp_server_options *opts;
    struct event_base *base;
    struct evhttp *http;
    struct evhttp_bound_socket *sock;
    int port;
    lp_srv_model *models;
    size_t n_models;
    atomic_bool ready;
    atomic_bool load_failed;
    char load_error[2048];
    pthread_t loader;
    bool loader_started;
    struct event *loaded_ev, *done_ev, *sigterm_ev, *sigint_ev, *drain_ev;
    pthread_mutex_t done_mu;
    lp_srv_job *done_head, *done_tail;
    bool draining;
    double drain_deadline;
    size_t live_requests;     /* requests not yet replied to */
    size_t unflushed;         /* replies handed to libevent and not yet written out */
    double flush_deadline;    /* draining: how long to wait for them */
    lp_srv_request *requests; /* every live request (for teardown) */
    struct lp_server_metrics *metrics;
    struct lp_access_log *access_log; /* NULL: no access log */
};

/* A live request is linked in srv->requests through these. */
typedef struct lp_srv_request_link {
    lp_srv_request *prev, *next;
} lp_srv_request_link;

/* model.c */
lp_status lp_srv_model_load(lp_srv_model *m, lp_error *err);
void lp_srv_model_unload(lp_srv_model *m);

/* batcher.c: the per-model queue and its worker threads. */
lp_status lp_srv_queue_start(lp_srv_model *m, lp_error *err);
/* Lets the workers finish what is queued, then joins them (draining). */
void lp_srv_queue_stop(lp_srv_model *m);
/* Draining: queued work runs at once, then the workers end. */
void lp_srv_queue_flush(lp_srv_model *m);
size_t lp_srv_queue_depth(lp_srv_model *m);
/* Event thread: takes a job out of its queue. True when it was queued (now
 * removed, owned by the caller); false when it is running (it comes back). */
bool lp_srv_queue_remove(lp_srv_job *job);

/* request.c */
void lp_srv_request_begin(lp_server *srv, struct evhttp_request *req);
void lp_srv_job_free(lp_srv_job *job);
/* Event thread: a job handed back by a worker (or failed before queueing). */
void lp_srv_job_complete(lp_srv_job *job);
/* Worker threads: hands a finished job to the event thread. */
void lp_srv_post_done(lp_server *srv, lp_srv_job *job);
/* Teardown: frees every request still live without replying. */
void lp_srv_free_all_requests(lp_server *srv);
/* The event callback that takes finished jobs from the workers. */
void lp_srv_on_jobs_done(evutil_socket_t fd, short what, void *arg);

/* routes.c */
void lp_srv_route(lp_srv_request *rq);

/* json_util.c */
/* Parses rq's body as a JSON object; replies 400/415 and returns NULL when it is not one. */
cJSON *lp_srv_parse_json_body(lp_srv_request *rq);


/* observe.c: metrics and access log (server/metrics.h, server/access_log.h).
 * The batch and queue calls come from worker threads. */
void lp_srv_observe_queue_depth(lp_srv_model *m, size_t depth);
void lp_srv_observe_in_flight(lp_srv_model *m, int delta);
void lp_srv_observe_batch(lp_srv_model *m, int items, double compute_s);
void lp_srv_observe_reply(lp_srv_request *rq, int status, size_t bytes, const char *error);
void lp_srv_observe_access(lp_srv_request *rq, int status, size_t bytes, const char *error);
#endif
