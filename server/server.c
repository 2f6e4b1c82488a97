/* The server's lifecycle: bind, load models on a background thread, run the
 * event loop, and on SIGTERM/SIGINT stop accepting, drain, and tear down. */
#include <event2/event.h>
#include <event2/http.h>
#include <event2/thread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/access_log.h"
#include "server/metrics.h"
#include "server/server_priv.h"

lp_srv_model *lp_srv_find_model(lp_server *srv, const char *name) {
    if (!name) return NULL;
    for (size_t i = 0; i < srv->n_models; i++)
        if (!strcmp(srv->models[i].name, name)) return &srv->models[i];
    return NULL;
}

size_t lp_srv_num_models(const lp_server *srv) { return srv->n_models; }
lp_srv_model *lp_srv_model_at(lp_server *srv, size_t i) { return i < srv->n_models ? &srv->models[i] : NULL; }
bool lp_srv_ready(const lp_server *srv) { return atomic_load(&srv->ready); }
struct lp_server_metrics *lp_srv_metrics(lp_server *srv) { return srv->metrics; }
int lp_server_port(const lp_server *srv) { return srv->port; }

static void on_request(struct evhttp_request *req, void *arg) { lp_srv_request_begin(arg, req); }

static lp_model_state metric_state(lp_srv_model_state s) {
    return s == LP_MODEL_READY ? LP_MODEL_STATE_READY
           : s == LP_MODEL_FAILED ? LP_MODEL_STATE_FAILED
                                  : LP_MODEL_STATE_LOADING;
}

/* ---- loading (background thread) ----------------------------------------- */

static void *loader_main(void *arg) {
    lp_server *srv = arg;
    if (srv->opts->load_delay_ms > 0) usleep((useconds_t)(srv->opts->load_delay_ms * 1000));
    bool all = true;
    for (size_t i = 0; i < srv->n_models; i++) {
        lp_srv_model *m = &srv->models[i];
        lp_error err = {0};
        double t0 = lp_srv_now_s();
        lp_status st = lp_srv_model_load(m, &err);
        if (st == LP_OK) st = lp_srv_queue_start(m, &err);
        if (st != LP_OK) {
            snprintf(m->error, sizeof m->error, "%s", err.msg);
            atomic_store(&m->state, LP_MODEL_FAILED);
            if (!srv->load_error[0])
                snprintf(srv->load_error, sizeof srv->load_error, "model '%s' (%s): %s", m->name, m->cfg.dir, err.msg);
            fprintf(stderr, "lepton serve: model '%s' failed to load: %s\n", m->name, err.msg);
            all = false;
        } else {
            atomic_store(&m->state, LP_MODEL_READY);
            fprintf(stderr, "lepton serve: model '%s' ready (%s, %s) in %.2f s\n", m->name,
                    lp_srv_task_name(m->task), m->cfg.dir, lp_srv_now_s() - t0);
        }
        lp_server_metrics_set_model_state(srv->metrics, m->name, metric_state(atomic_load(&m->state)));
        if (!all) break;
    }
    if (all) atomic_store(&srv->ready, true);
    else atomic_store(&srv->load_failed, true);
    event_active(srv->loaded_ev, EV_READ, 1);
    return NULL;
}

static void begin_drain(lp_server *srv, const char *why);

static void on_loaded(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    lp_server *srv = arg;
    if (atomic_load(&srv->load_failed)) begin_drain(srv, "a model failed to load");
    else fprintf(stderr, "lepton serve: ready on http://%s:%d\n", srv->opts->host ? srv->opts->host : "127.0.0.1",
                 srv->port);
}

/* ---- draining ------------------------------------------------------------- */

static void check_drained(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    lp_server *srv = arg;
    double now = lp_srv_now_s();
    if (srv->live_requests == 0 && srv->unflushed && srv->flush_deadline == 0)
        srv->flush_deadline = now + 2; /* a client that stopped reading does not hold us long */
    bool flushed = srv->unflushed == 0 || (srv->flush_deadline > 0 && now >= srv->flush_deadline);
    if ((srv->live_requests == 0 && flushed) || now >= srv->drain_deadline) {
        if (srv->live_requests)
            fprintf(stderr, "lepton serve: drain timeout: %zu requests unanswered\n", srv->live_requests);
        event_base_loopexit(srv->base, NULL);
        return;
    }
    struct timeval tv = {0, 10000};
    evtimer_add(srv->drain_ev, &tv);
}

static void begin_drain(lp_server *srv, const char *why) {
    if (srv->draining) return;
    srv->draining = true;
    fprintf(stderr, "lepton serve: %s: no new connections; finishing %zu requests (at most %.0f s)\n", why,
            srv->live_requests, srv->opts->drain_timeout_s);
    if (srv->sock) {
        evhttp_del_accept_socket(srv->http, srv->sock);
        srv->sock = NULL;
    }
    srv->drain_deadline = lp_srv_now_s() + srv->opts->drain_timeout_s;
    /* queued work no longer waits for company */
    for (size_t i = 0; i < srv->n_models; i++) {
        lp_srv_model *m = &srv->models[i];
        if (m->queue) lp_srv_queue_flush(m);
    }
    check_drained(-1, 0, srv);
}

static void on_signal(evutil_socket_t sig, short what, void *arg) {
    (void)what;
    begin_drain(arg, sig == SIGTERM ? "SIGTERM" : "SIGINT");
}

/* ---- create / run / free -------------------------------------------------- */

lp_status lp_server_create(const lp_server_options *o, lp_server **out, lp_error *err) {
    *out = NULL;
    if (o->n_models == 0)
        return lp_fail(err, LP_ERR_INVALID_ARG, "no models to serve: give --model NAME=DIR, --models-dir or --config");
    static bool threads_on;
    if (!threads_on) {
        if (evthread_use_pthreads() != 0) return lp_fail(err, LP_ERR_INTERNAL, "libevent has no pthreads support");
        threads_on = true;
    }
    lp_server *srv = calloc(1, sizeof *srv);
    if (!srv) return lp_fail(err, LP_ERR_NOMEM, "out of memory");
    srv->opts = o;
    pthread_mutex_init(&srv->done_mu, NULL);
    *out = srv;
    srv->models = calloc(o->n_models, sizeof *srv->models);
    if (!srv->models) return lp_fail(err, LP_ERR_NOMEM, "out of memory");
    srv->n_models = o->n_models;
    if (lp_server_metrics_create(&srv->metrics, err)) return err->status;
    if (!o->quiet && lp_access_log_open(o->access_log_path, o->log_json ? LP_ACCESS_LOG_JSON : LP_ACCESS_LOG_PLAIN,
                                        &srv->access_log, err))
        return err->status;
    for (size_t i = 0; i < o->n_models; i++) {
        lp_srv_model *m = &srv->models[i];
        m->srv = srv;
        m->cfg = o->models[i]; /* borrowed: the options outlive the server */
        m->name = m->cfg.name;
        atomic_store(&m->state, LP_MODEL_LOADING);
        lp_server_metrics_add_model(srv->metrics, m->name);
        lp_server_metrics_set_model_state(srv->metrics, m->name, LP_MODEL_STATE_LOADING);
    }
    srv->base = event_base_new();
    srv->http = srv->base ? evhttp_new(srv->base) : NULL;
    if (!srv->http) return lp_fail(err, LP_ERR_INTERNAL, "cannot create the libevent HTTP server");
    srv->done_ev = event_new(srv->base, -1, 0, lp_srv_on_jobs_done, srv);
    srv->loaded_ev = event_new(srv->base, -1, 0, on_loaded, srv);
    srv->drain_ev = evtimer_new(srv->base, check_drained, srv);
    srv->sigterm_ev = evsignal_new(srv->base, SIGTERM, on_signal, srv);
    srv->sigint_ev = evsignal_new(srv->base, SIGINT, on_signal, srv);
    if (!srv->done_ev || !srv->loaded_ev || !srv->drain_ev || !srv->sigterm_ev || !srv->sigint_ev)
        return lp_fail(err, LP_ERR_NOMEM, "out of memory");
    /* Bodies beyond our own limit get our JSON 413; libevent's cap (with its
     * HTML 413) only stops absurd uploads before they are buffered. */
    evhttp_set_max_body_size(srv->http, (ev_ssize_t)(o->max_body_bytes * 2 + (1 << 20)));
    evhttp_set_max_headers_size(srv->http, 64 * 1024);
    evhttp_set_timeout(srv->http, 60); /* slow or idle clients are dropped */
    evhttp_set_allowed_methods(srv->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT |
                                              EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
    evhttp_set_gencb(srv->http, on_request, srv);
    const char *host = o->host ? o->host : "127.0.0.1";
    srv->sock = evhttp_bind_socket_with_handle(srv->http, host, (ev_uint16_t)o->port);
    if (!srv->sock) return lp_fail(err, LP_ERR_IO, "cannot listen on %s:%d (in use, or not an address here)", host, o->port);
    struct sockaddr_storage ss;
    ev_socklen_t len = sizeof ss;
    evutil_socket_t fd = evhttp_bound_socket_get_fd(srv->sock);
    if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0)
        srv->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                   : ((struct sockaddr_in *)&ss)->sin_port);
    return LP_OK;
}

lp_status lp_server_run(lp_server *srv, lp_error *err) {
    event_add(srv->sigterm_ev, NULL);
    event_add(srv->sigint_ev, NULL);
    if (pthread_create(&srv->loader, NULL, loader_main, srv) != 0)
        return lp_fail(err, LP_ERR_INTERNAL, "cannot start the model loader thread");
    srv->loader_started = true;
    fprintf(stderr, "lepton serve: listening on http://%s:%d (loading %zu models)\n",
            srv->opts->host ? srv->opts->host : "127.0.0.1", srv->port, srv->n_models);
    event_base_dispatch(srv->base);
    pthread_join(srv->loader, NULL);
    srv->loader_started = false;
    if (atomic_load(&srv->load_failed)) return lp_fail(err, LP_ERR_IO, "%s", srv->load_error);
    return LP_OK;
}

void lp_server_free(lp_server *srv) {
    if (!srv) return;
    if (srv->loader_started) pthread_join(srv->loader, NULL);
    for (size_t i = 0; i < srv->n_models; i++) lp_srv_queue_stop(&srv->models[i]);
    /* Requests still unanswered (drain timeout) are dropped; their jobs that
     * the workers handed back after the loop stopped are then freed. */
    lp_srv_free_all_requests(srv);
    if (srv->done_ev) lp_srv_on_jobs_done(-1, 0, srv);
    if (srv->http) evhttp_free(srv->http);
    for (size_t i = 0; i < srv->n_models; i++) lp_srv_model_unload(&srv->models[i]);
    struct event *evs[] = {srv->done_ev, srv->loaded_ev, srv->drain_ev, srv->sigterm_ev, srv->sigint_ev};
    for (size_t i = 0; i < sizeof evs / sizeof evs[0]; i++)
        if (evs[i]) event_free(evs[i]);
    if (srv->base) event_base_free(srv->base);
    lp_server_metrics_destroy(srv->metrics);
    lp_access_log_close(srv->access_log);
    free(srv->models);
    pthread_mutex_destroy(&srv->done_mu);
    free(srv);
}
