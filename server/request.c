/* Requests, jobs and replies: the life of one HTTP request on the event
 * thread, from arrival to the single reply (or the client going away), and
 * the hand-back of finished jobs from the workers. */
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <sys/socket.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server/access_log.h"
#include "server/server_priv.h"

double lp_srv_now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* ---- jobs ---------------------------------------------------------------- */

lp_srv_job *lp_srv_job_new(lp_srv_request *rq, lp_srv_model *model, lp_srv_job_kind kind, size_t n) {
    lp_srv_job *j = calloc(1, sizeof *j);
    if (!j) return NULL;
    j->rq = rq;
    j->model = model;
    j->kind = kind;
    j->n = n;
    j->timeout_ms = -1;
    bool text = kind == LP_JOB_CLASSIFY || kind == LP_JOB_EMBED || kind == LP_JOB_TRANSLATE;
    bool image = kind == LP_JOB_IMAGE || kind == LP_JOB_IMAGE_PROBS;
    if (text) j->texts = calloc(n ? n : 1, sizeof *j->texts);
    if (image) j->images = calloc(n ? n : 1, sizeof *j->images);
    if ((text && !j->texts) || (image && !j->images)) {
        free(j->texts);
        free(j->images);
        free(j);
        return NULL;
    }
    j->next_of_request = rq->jobs;
    rq->jobs = j;
    return j;
}

void lp_srv_job_free(lp_srv_job *j) {
    if (!j) return;
    if (j->deadline_ev) event_free(j->deadline_ev);
    if (j->counted_in_flight) lp_srv_observe_in_flight(j->model, -1);
    free(j->texts);
    free(j->images);
    free(j->out);
    free(j->truncated);
    free(j->image_results);
    if (j->translations)
        for (size_t i = 0; i < j->n; i++) free(j->translations[i]);
    free(j->translations);
    free(j->hit_max_length);
    free(j);
}

void lp_srv_job_complete(lp_srv_job *job) {
    if (job->deadline_ev) {
        event_free(job->deadline_ev);
        job->deadline_ev = NULL;
    }
    if (job->phase != LP_JOB_QUEUED) job->phase = LP_JOB_FINISHED;
    lp_srv_request *rq = job->rq;
    if (rq) {
        rq->batch_items = job->batch_items;
        rq->queue_ms = job->queue_ms;
        rq->compute_ms = job->compute_ms;
    }
    if (job->done) job->done(job);
    else if (rq) lp_srv_reply_error(rq, 500, "internal error: a job without a completion");
}

void lp_srv_post_done(lp_server *srv, lp_srv_job *job) {
    pthread_mutex_lock(&srv->done_mu);
    if (srv->done_tail) srv->done_tail->next_done = job;
    else srv->done_head = job;
    srv->done_tail = job;
    pthread_mutex_unlock(&srv->done_mu);
    event_active(srv->done_ev, EV_READ, 1);
}

/* The done_ev callback: every job the workers handed back since last time. */
void lp_srv_on_jobs_done(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    lp_server *srv = arg;
    pthread_mutex_lock(&srv->done_mu);
    lp_srv_job *j = srv->done_head;
    srv->done_head = srv->done_tail = NULL;
    pthread_mutex_unlock(&srv->done_mu);
    while (j) {
        lp_srv_job *next = j->next_done;
        j->next_done = NULL;
        if (j->abandoned && !j->rq) lp_srv_job_free(j);     /* answered or cancelled meanwhile */
        else if (j->abandoned) j->phase = LP_JOB_FINISHED; /* its request frees it */
        else lp_srv_job_complete(j);
        j = next;
    }
}

/* ---- requests ------------------------------------------------------------ */

static void on_close(struct evhttp_connection *evcon, void *arg);

static void request_free(lp_srv_request *rq) {
    lp_server *srv = rq->srv;
    lp_srv_job *j = rq->jobs, *next;
    for (; j; j = next) {
        next = j->next_of_request;
        if (j->phase == LP_JOB_QUEUED || j->phase == LP_JOB_RUNNING) {
            if (!lp_srv_queue_remove(j)) {
                /* running: the worker still uses it; dropped when it comes back */
                if (j->deadline_ev) {
                    event_free(j->deadline_ev);
                    j->deadline_ev = NULL;
                }
                j->rq = NULL;
                j->abandoned = true;
                continue;
            }
        }
        lp_srv_job_free(j);
    }
    if (rq->user_free) rq->user_free(rq->user);
    if (rq->watch) event_free(rq->watch);
    if (rq->live_prev) rq->live_prev->live_next = rq->live_next;
    else srv->requests = rq->live_next;
    if (rq->live_next) rq->live_next->live_prev = rq->live_prev;
    srv->live_requests--;
    free((void *)rq->body);
    free((void *)rq->path);
    free(rq);
}

static void on_close(struct evhttp_connection *evcon, void *arg) {
    lp_srv_request *rq = arg;
    evhttp_connection_set_closecb(evcon, NULL, NULL);
    rq->gone = true;
    /* A request whose connection failed before the reply is detached from it
     * and left to us (libevent frees it only with its connection otherwise). */
    if (evhttp_request_get_connection(rq->req) == NULL) evhttp_request_free(rq->req);
    rq->req = NULL;
    lp_srv_observe_reply(rq, 499, 0, "client disconnected");
    request_free(rq);
}

/* libevent does not read a connection while its request is being handled, so
 * a client that goes away would go unnoticed until the reply. This watcher
 * looks at the socket: end of stream means the client closed, and its request
 * is cancelled by closing the connection (on_close does the rest). Data means
 * a pipelined request; the watch then ends and libevent reads it later. */
static void on_readable(evutil_socket_t fd, short what, void *arg) {
    (void)what;
    lp_srv_request *rq = arg;
    char b;
    ssize_t n = recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n > 0 || (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))) {
        if (n < 0) event_add(rq->watch, NULL);
        return;
    }
    struct evhttp_connection *c = rq->req ? evhttp_request_get_connection(rq->req) : NULL;
    if (c) evhttp_connection_free(c); /* calls on_close, which frees rq */
}

static void watch_connection(lp_srv_request *rq) {
    struct evhttp_connection *c = evhttp_request_get_connection(rq->req);
    struct bufferevent *bev = c ? evhttp_connection_get_bufferevent(c) : NULL;
    evutil_socket_t fd = bev ? bufferevent_getfd(bev) : -1;
    if (fd < 0) return;
    rq->watch = event_new(rq->srv->base, fd, EV_READ, on_readable, rq);
    if (rq->watch) event_add(rq->watch, NULL);
}

void lp_srv_free_all_requests(lp_server *srv) {
    while (srv->requests) {
        lp_srv_request *rq = srv->requests;
        if (rq->req) {
            struct evhttp_connection *c = evhttp_request_get_connection(rq->req);
            if (c) evhttp_connection_set_closecb(c, NULL, NULL);
        }
        request_free(rq);
    }
}

static void set_request_id(lp_srv_request *rq, const char *given) {
    if (given && lp_request_id_valid(given)) snprintf(rq->id, sizeof rq->id, "%s", given);
    else lp_request_id_generate(rq->id, sizeof rq->id);
}

void lp_srv_request_begin(lp_server *srv, struct evhttp_request *req) {
    lp_srv_request *rq = calloc(1, sizeof *rq);
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    unsigned char *body = rq ? malloc(len + 1) : NULL;
    const char *uri = evhttp_request_get_uri(req);
    const char *q = strchr(uri, '?');
    size_t plen = q ? (size_t)(q - uri) : strlen(uri);
    char *path = rq ? malloc(plen + 1) : NULL;
    if (!rq || !body || !path) {
        free(rq);
        free(body);
        free(path);
        evhttp_send_error(req, 500, "out of memory");
        return;
    }
    evbuffer_remove(in, body, len);
    body[len] = 0;
    memcpy(path, uri, plen);
    path[plen] = 0;
    rq->srv = srv;
    rq->req = req;
    rq->body = body;
    rq->body_len = len;
    rq->path = path;
    rq->query = q ? q + 1 : NULL;
    rq->method = (int)evhttp_request_get_command(req);
    rq->t_start = lp_srv_now_s();
    struct evkeyvalq *h = evhttp_request_get_input_headers(req);
    rq->content_type = evhttp_find_header(h, "Content-Type");
    set_request_id(rq, evhttp_find_header(h, "X-Request-Id"));
    rq->live_next = srv->requests;
    if (srv->requests) srv->requests->live_prev = rq;
    srv->requests = rq;
    srv->live_requests++;
    struct evhttp_connection *c = evhttp_request_get_connection(req);
    if (c) evhttp_connection_set_closecb(c, on_close, rq);
    watch_connection(rq);
    lp_srv_route(rq);
}

void lp_srv_request_set_model(lp_srv_request *rq, const char *name) {
    snprintf(rq->model, sizeof rq->model, "%s", name ? name : "");
}

void lp_srv_add_header(lp_srv_request *rq, const char *key, const char *value) {
    if (rq->req) evhttp_add_header(evhttp_request_get_output_headers(rq->req), key, value);
}

static void on_sent(struct evhttp_request *req, void *arg) {
    (void)req;
    lp_server *srv = arg;
    if (srv->unflushed) srv->unflushed--;
}

static void reply(lp_srv_request *rq, int status, const char *content_type, const void *body, size_t len,
                  const char *error) {
    if (rq->replied) return;
    rq->replied = true;
    struct evhttp_request *req = rq->req;
    if (req) {
        struct evhttp_connection *c = evhttp_request_get_connection(req);
        if (c) evhttp_connection_set_closecb(c, NULL, NULL);
        struct evkeyvalq *h = evhttp_request_get_output_headers(req);
        evhttp_add_header(h, "Content-Type", content_type);
        evhttp_add_header(h, "X-Request-Id", rq->id);
        if (rq->srv->draining) evhttp_add_header(h, "Connection", "close");
        if (rq->batch_items) { /* where the time went (W3C Server-Timing, in ms) */
            char timing[128];
            snprintf(timing, sizeof timing, "queue;dur=%.3f, compute;dur=%.3f, total;dur=%.3f, batch;desc=\"%d\"",
                     rq->queue_ms, rq->compute_ms, (lp_srv_now_s() - rq->t_start) * 1e3, rq->batch_items);
            evhttp_add_header(h, "Server-Timing", timing);
        }
        struct evbuffer *out = evbuffer_new();
        if (out) evbuffer_add(out, body, len);
        const char *reason = status == 200 ? "OK" : NULL;
        /* draining waits until replies are written, not just queued */
        rq->srv->unflushed++;
        evhttp_request_set_on_complete_cb(req, on_sent, rq->srv);
        evhttp_send_reply(req, status, reason, out);
        if (out) evbuffer_free(out);
        rq->req = NULL;
    }
    lp_srv_observe_reply(rq, status, len, error);
    request_free(rq);
}

void lp_srv_reply_raw(lp_srv_request *rq, int status, const char *content_type, const void *body, size_t len) {
    reply(rq, status, content_type, body, len, NULL);
}

void lp_srv_reply_json(lp_srv_request *rq, int status, cJSON *json) {
    char *text = json ? cJSON_PrintUnformatted(json) : NULL;
    cJSON_Delete(json);
    if (!text) {
        static const char oom[] = "{\"error\":\"out of memory building the reply\"}";
        lp_srv_reply_raw(rq, 500, "application/json", oom, sizeof oom - 1);
        return;
    }
    lp_srv_reply_raw(rq, status, "application/json", text, strlen(text));
    free(text);
}

void lp_srv_reply_error(lp_srv_request *rq, int status, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (status == 503) lp_srv_add_header(rq, "Retry-After", "1");
    cJSON *o = cJSON_CreateObject();
    char *text = NULL;
    if (o && cJSON_AddStringToObject(o, "error", msg)) text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!text) {
        static const char oom[] = "{\"error\":\"out of memory building the reply\"}";
        reply(rq, 500, "application/json", oom, sizeof oom - 1, msg);
        return;
    }
    reply(rq, status, "application/json", text, strlen(text), msg);
    free(text);
}
