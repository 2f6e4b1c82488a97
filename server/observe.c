/* The server's observations: request, batch and queue events go to the
 * metrics (server/metrics.h). */
#include <string.h>

#include <event2/http.h>
#include <stdio.h>

#include "server/access_log.h"
#include "server/metrics.h"
#include "server/server_priv.h"

void lp_srv_observe_queue_depth(lp_srv_model *m, size_t depth) {
    lp_server_metrics_set_queue_depth(m->srv->metrics, m->name, (int)depth);
}

void lp_srv_observe_in_flight(lp_srv_model *m, int delta) {
    lp_server_metrics_inflight_add(m->srv->metrics, m->name, delta);
}

void lp_srv_observe_batch(lp_srv_model *m, int items, double compute_s) {
    lp_server_metrics_batch_done(m->srv->metrics, m->name, items, compute_s);
}

static const char *reason_of(int status) {
    switch (status) {
    case 400: return "bad_request";
    case 401: return "unauthorized";
    case 404: return "not_found";
    case 405: return "method_not_allowed";
    case 413: return "too_large";
    case 415: return "unsupported_media_type";
    case 422: return "unprocessable";
    case 499: return "cancelled";
    case 503: return "unavailable";
    case 504: return "timeout";
    default: return status < 400 ? "ok" : "error";
    }
}

static const char *method_name(int m) {
    switch (m) {
    case EVHTTP_REQ_GET: return "GET";
    case EVHTTP_REQ_POST: return "POST";
    case EVHTTP_REQ_HEAD: return "HEAD";
    case EVHTTP_REQ_PUT: return "PUT";
    case EVHTTP_REQ_DELETE: return "DELETE";
    case EVHTTP_REQ_OPTIONS: return "OPTIONS";
    case EVHTTP_REQ_PATCH: return "PATCH";
    default: return "OTHER";
    }
}

void lp_srv_observe_reply(lp_srv_request *rq, int status, size_t bytes, const char *error) {
    lp_server *srv = rq->srv;
    /* only names of loaded models become labels, never raw client input */
    const char *model = rq->model[0] && lp_srv_find_model(srv, rq->model) ? rq->model : "";
    lp_request_record r = {
        .model = model,
        .endpoint = rq->endpoint ? rq->endpoint : "other",
        .status = status,
        .reason = rq->reason ? rq->reason : reason_of(status),
        .queue_seconds = rq->batch_items ? rq->queue_ms * 1e-3 : -1,
        .compute_seconds = rq->batch_items ? rq->compute_ms * 1e-3 : -1,
        .total_seconds = lp_srv_now_s() - rq->t_start,
        .items = rq->items,
    };
    lp_server_metrics_request_done(srv->metrics, &r);
    lp_srv_observe_access(rq, status, bytes, error);
}

void lp_srv_observe_access(lp_srv_request *rq, int status, size_t bytes, const char *error) {
    lp_server *srv = rq->srv;
    if (!srv->access_log) return;
    lp_access_entry e = {
        .request_id = rq->id,
        .method = method_name(rq->method),
        .path = rq->path,
        .model = rq->model[0] ? rq->model : NULL,
        .status = status,
        .batch_size = rq->batch_items,
        .queue_ms = rq->batch_items ? rq->queue_ms : -1,
        .compute_ms = rq->batch_items ? rq->compute_ms : -1,
        .total_ms = (lp_srv_now_s() - rq->t_start) * 1e3,
        .bytes_in = rq->body_len,
        .bytes_out = bytes,
        .error = error,
    };
    lp_access_log_write(srv->access_log, &e, NULL);
}
