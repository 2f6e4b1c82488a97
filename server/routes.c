/* The router: authentication, health, /metrics, /v1/models, the /v1 task
 * endpoints and the KServe v2 routes. Runs on the event thread. */
#include <event2/http.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/kserve_handler.h"
#include "server/metrics.h"
#include "server/routes.h"
#include "server/server_priv.h"

/* Constant-time comparison, so the key cannot be guessed byte by byte. */
static bool same_secret(const char *a, const char *b) {
    size_t na = strlen(a), nb = strlen(b);
    unsigned char diff = (unsigned char)(na != nb);
    for (size_t i = 0; i < na; i++) diff |= (unsigned char)(a[i] ^ b[i % (nb ? nb : 1)]);
    return diff == 0;
}

static bool authorized(lp_srv_request *rq) {
    const char *key = rq->srv->opts->api_key;
    if (!key || !key[0]) return true;
    const char *h = rq->req ? evhttp_find_header(evhttp_request_get_input_headers(rq->req), "Authorization") : NULL;
    if (!h || strncasecmp(h, "Bearer ", 7) != 0) return false;
    h += 7;
    while (*h == ' ') h++;
    return same_secret(h, key);
}

static void reply_health_ready(lp_srv_request *rq) {
    lp_server *srv = rq->srv;
    if (lp_srv_ready(srv) && !srv->draining) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddBoolToObject(o, "ready", true);
        lp_srv_reply_json(rq, 200, o);
        return;
    }
    char list[512] = "";
    size_t used = 0;
    for (size_t i = 0; i < srv->n_models && used + 1 < sizeof list; i++) {
        lp_srv_model *m = &srv->models[i];
        int n = snprintf(list + used, sizeof list - used, "%s%s (%s)", used ? ", " : "", m->name,
                         lp_srv_model_state_name(atomic_load(&m->state)));
        if (n > 0) used += (size_t)n;
    }
    if (used >= sizeof list) used = sizeof list - 1;
    if (srv->draining) lp_srv_reply_error(rq, 503, "not ready: the server is shutting down");
    else lp_srv_reply_error(rq, 503, "not ready: models %s", list);
}

static cJSON *model_json(lp_srv_model *m) {
    cJSON *o = cJSON_CreateObject();
    int state = atomic_load(&m->state);
    cJSON_AddStringToObject(o, "name", m->name);
    cJSON_AddStringToObject(o, "state", lp_srv_model_state_name(state));
    if (state == LP_MODEL_FAILED) cJSON_AddStringToObject(o, "error", m->error);
    if (state == LP_MODEL_READY) {
        cJSON_AddStringToObject(o, "task", lp_srv_task_name(m->task));
        cJSON *eps = cJSON_AddArrayToObject(o, "endpoints");
        static const char *text_cls[] = {"/v1/classify", "/v1/sentiment"}, *emb[] = {"/v1/embed"},
                          *img[] = {"/v1/classify-image", "/v1/diagnose"}, *tr[] = {"/v1/translate"};
        const char **e = m->task == LP_TASK_CLASSIFY ? text_cls : m->task == LP_TASK_EMBED ? emb
                         : m->task == LP_TASK_IMAGE  ? img
                                                     : tr;
        int ne = m->task == LP_TASK_CLASSIFY || m->task == LP_TASK_IMAGE ? 2 : 1;
        for (int i = 0; i < ne; i++) cJSON_AddItemToArray(eps, cJSON_CreateString(e[i]));
        int64_t L = lp_srv_model_num_labels(m);
        if (L > 0) {
            cJSON *labels = cJSON_AddArrayToObject(o, "labels");
            for (int64_t i = 0; i < L; i++) cJSON_AddItemToArray(labels, cJSON_CreateString(lp_srv_model_label(m, i)));
        }
        if (m->encoder) {
            if (m->task == LP_TASK_EMBED) cJSON_AddNumberToObject(o, "dim", (double)lp_encoder_embedding_dim(m->encoder));
            cJSON_AddNumberToObject(o, "max_tokens", (double)lp_encoder_max_tokens(m->encoder));
        }
        if (m->translator) {
            cJSON_AddNumberToObject(o, "max_tokens", (double)lp_translator_max_source_tokens(m->translator));
            lp_translate_options d = lp_translator_default_options(m->translator);
            cJSON_AddNumberToObject(o, "beam", d.num_beams);
            cJSON_AddNumberToObject(o, "max_length", d.max_length);
        }
        if (m->image) {
            cJSON_AddStringToObject(o, "architecture", lp_image_classifier_describe(m->image));
            cJSON *th = cJSON_AddObjectToObject(o, "thresholds");
            for (int64_t i = 0; i < L; i++)
                cJSON_AddNumberToObject(th, lp_srv_model_label(m, i), lp_srv_threshold(m, lp_srv_model_label(m, i)));
        }
    }
    cJSON *lim = cJSON_AddObjectToObject(o, "limits");
    cJSON_AddNumberToObject(lim, "max_batch_size", m->cfg.max_batch_size);
    cJSON_AddNumberToObject(lim, "max_queue_delay_us", (double)m->cfg.max_queue_delay_us);
    cJSON_AddNumberToObject(lim, "max_queue_size", m->cfg.max_queue_size);
    cJSON_AddNumberToObject(lim, "timeout_ms", (double)m->cfg.timeout_ms);
    cJSON_AddNumberToObject(lim, "max_items", m->cfg.max_items);
    cJSON_AddNumberToObject(lim, "max_text_bytes", (double)m->cfg.max_text_bytes);
    cJSON_AddNumberToObject(lim, "workers", m->cfg.workers);
    const lp_backend *backend = m->srv->opts->backend;
    cJSON_AddStringToObject(o, "device", backend ? backend->name : "cpu");
    return o;
}

static void reply_models(lp_srv_request *rq, const char *one) {
    lp_server *srv = rq->srv;
    if (one) {
        lp_srv_model *m = lp_srv_find_model(srv, one);
        if (!m) {
            lp_srv_reply_error(rq, 404, "no model named '%.64s' is loaded (GET /v1/models lists them)", one);
            return;
        }
        lp_srv_request_set_model(rq, m->name);
        lp_srv_reply_json(rq, 200, model_json(m));
        return;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(o, "models");
    for (size_t i = 0; i < srv->n_models; i++) cJSON_AddItemToArray(arr, model_json(&srv->models[i]));
    cJSON_AddBoolToObject(o, "ready", lp_srv_ready(srv));
    lp_srv_reply_json(rq, 200, o);
}

static void reply_metrics(lp_srv_request *rq) {
    char *text = NULL;
    size_t len = 0;
    lp_error err = {0};
    if (lp_server_metrics_render(rq->srv->metrics, &text, &len, &err)) {
        lp_srv_reply_error(rq, 500, "cannot render metrics: %s", err.msg);
        return;
    }
    lp_srv_reply_raw(rq, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
    free(text);
}

typedef struct route {
    const char *path;
    int methods; /* EVHTTP_REQ_* */
    const char *endpoint;
    void (*handle)(lp_srv_request *rq);
} route;

static const route v1_routes[] = {
    {"/v1/classify", EVHTTP_REQ_POST, "classify", lp_srv_handle_classify},
    {"/v1/sentiment", EVHTTP_REQ_POST, "sentiment", lp_srv_handle_sentiment},
    {"/v1/embed", EVHTTP_REQ_POST, "embed", lp_srv_handle_embed},
    {"/v1/translate", EVHTTP_REQ_POST, "translate", lp_srv_handle_translate},
    {"/v1/classify-image", EVHTTP_REQ_POST, "classify_image", lp_srv_handle_classify_image},
    {"/v1/diagnose", EVHTTP_REQ_POST, "diagnose", lp_srv_handle_diagnose},
};

static void method_not_allowed(lp_srv_request *rq, const char *allow) {
    lp_srv_add_header(rq, "Allow", allow);
    lp_srv_reply_error(rq, 405, "%s does not take this method; use %s", rq->path, allow);
}

static bool is_get(const lp_srv_request *rq) { return rq->method == EVHTTP_REQ_GET || rq->method == EVHTTP_REQ_HEAD; }

void lp_srv_route(lp_srv_request *rq) {
    const char *p = rq->path;
    /* health: no key needed (load balancers and orchestrators probe it) */
    if (!strcmp(p, "/v2/health/live") || !strcmp(p, "/health") || !strcmp(p, "/healthz")) {
        rq->endpoint = "health";
        if (!is_get(rq)) return method_not_allowed(rq, "GET");
        cJSON *o = cJSON_CreateObject();
        cJSON_AddBoolToObject(o, "live", true);
        cJSON_AddBoolToObject(o, "ready", lp_srv_ready(rq->srv) && !rq->srv->draining);
        lp_srv_reply_json(rq, 200, o);
        return;
    }
    if (!strcmp(p, "/v2/health/ready") || !strcmp(p, "/readyz")) {
        rq->endpoint = "health";
        if (!is_get(rq)) return method_not_allowed(rq, "GET");
        return reply_health_ready(rq);
    }
    if (!authorized(rq)) {
        rq->endpoint = "auth";
        lp_srv_add_header(rq, "WWW-Authenticate", "Bearer");
        lp_srv_reply_error(rq, 401, "missing or wrong API key: send the header 'Authorization: Bearer <key>'");
        return;
    }
    if (!strcmp(p, "/metrics")) {
        rq->endpoint = "metrics";
        if (!is_get(rq)) return method_not_allowed(rq, "GET");
        return reply_metrics(rq);
    }
    if (!strcmp(p, "/v1/models") || !strncmp(p, "/v1/models/", 11)) {
        rq->endpoint = "models";
        if (!is_get(rq)) return method_not_allowed(rq, "GET");
        return reply_models(rq, p[10] == '/' ? p + 11 : NULL);
    }
    for (size_t i = 0; i < sizeof v1_routes / sizeof v1_routes[0]; i++) {
        const route *r = &v1_routes[i];
        if (strcmp(p, r->path)) continue;
        rq->endpoint = r->endpoint;
        if (!(rq->method & r->methods)) return method_not_allowed(rq, "POST");
        if (rq->body_len > rq->srv->opts->max_body_bytes)
            return lp_srv_reply_error(rq, 413, "the body is %zu bytes; this server takes at most %zu", rq->body_len,
                                      rq->srv->opts->max_body_bytes);
        return r->handle(rq);
    }
    if (!strcmp(p, "/v2") || !strncmp(p, "/v2/", 4)) {
        rq->endpoint = "kserve";
        if (rq->body_len > rq->srv->opts->max_body_bytes)
            return lp_srv_reply_error(rq, 413, "the body is %zu bytes; this server takes at most %zu", rq->body_len,
                                      rq->srv->opts->max_body_bytes);
        return lp_kserve_handle(rq); /* server/kserve_handler.c: metadata, ready, stats, infer */
    }
    rq->endpoint = "other";
    lp_srv_reply_error(rq, 404,
                       "no such endpoint: %.200s (POST /v1/classify, /v1/sentiment, /v1/embed, /v1/translate, "
                       "/v1/classify-image, /v1/diagnose; GET /v1/models, /metrics, /v2/...)",
                       p);
}
