/* The /v2 routes: health, metadata, statistics and inference through the
 * model's batcher (event thread only). */
#include <event2/http.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/kserve_handler.h"

#ifndef LP_VERSION
#define LP_VERSION "0"
#endif

/* ---- models as the protocol sees them ---- */

static const char *model_label(const void *ctx, int64_t i) {
    return lp_srv_model_label((const lp_srv_model *)ctx, i);
}

bool lp_kserve_describe_model(lp_srv_model *m, lp_kserve_model_desc *d) {
    memset(d, 0, sizeof *d);
    d->name = m->name;
    if (atomic_load(&m->state) != LP_MODEL_READY) return false;
    d->max_items = m->cfg.max_items;
    d->label = model_label;
    d->label_ctx = m;
    switch (m->task) {
    case LP_TASK_CLASSIFY:
        if (!m->encoder) return false;
        d->kind = LP_KS_MODEL_TEXT_CLASSIFY;
        d->width = lp_srv_model_num_labels(m);
        d->max_item_bytes = m->cfg.max_text_bytes;
        return d->width > 0;
    case LP_TASK_EMBED:
        if (!m->encoder) return false;
        d->kind = LP_KS_MODEL_TEXT_EMBED;
        d->width = lp_encoder_embedding_dim(m->encoder);
        d->max_item_bytes = m->cfg.max_text_bytes;
        d->label = NULL;
        return d->width > 0;
    case LP_TASK_IMAGE:
        if (!m->image) return false;
        d->kind = LP_KS_MODEL_IMAGE;
        d->width = lp_srv_model_num_labels(m);
        lp_image_classifier_input_size(m->image, &d->image_h, &d->image_w);
        return d->width > 0;
    case LP_TASK_TRANSLATE:
        if (!m->translator) return false;
        d->kind = LP_KS_MODEL_TRANSLATE;
        d->max_item_bytes = m->cfg.max_text_bytes;
        d->label = NULL;
        return true;
    default:
        return false;
    }
}

/* ---- small replies ---- */

static bool is_get(const lp_srv_request *rq) {
    return rq->method == EVHTTP_REQ_GET || rq->method == EVHTTP_REQ_HEAD;
}

static const char *state_text(const lp_srv_model *m) {
    int s = atomic_load(&((lp_srv_model *)m)->state);
    return lp_srv_model_state_name((lp_srv_model_state)s);
}

/* The model a /v2/models/{name}[/versions/{v}] path names, or NULL after
 * answering 404. */
static lp_srv_model *find_model(lp_srv_request *rq, const lp_kserve_route *r) {
    lp_srv_model *m = lp_srv_find_model(rq->srv, r->model);
    if (!m) {
        rq->reason = "unknown_model";
        lp_srv_reply_error(rq, 404, "unknown model '%.128s'", r->model);
        return NULL;
    }
    lp_srv_request_set_model(rq, m->name);
    if (r->version[0] && strcmp(r->version, "1") != 0) {
        rq->reason = "unknown_version";
        lp_srv_reply_error(rq, 404, "model '%s' has no version '%s' (it serves version 1)", m->name,
                           r->version);
        return NULL;
    }
    return m;
}

/* Answers 503 unless the model is ready and the protocol can serve it. */
static bool require_ready(lp_srv_request *rq, lp_srv_model *m, lp_kserve_model_desc *d) {
    int state = atomic_load(&m->state);
    if (state == LP_MODEL_READY && lp_kserve_describe_model(m, d)) return true;
    rq->reason = "not_ready";
    if (state == LP_MODEL_FAILED)
        lp_srv_reply_error(rq, 503, "model '%s' failed to load: %s", m->name, m->error);
    else if (state != LP_MODEL_READY)
        lp_srv_reply_error(rq, 503, "model '%s' is not ready (%s)", m->name, state_text(m));
    else
        lp_srv_reply_error(rq, 501, "model '%s' (task %s) cannot be served over KServe v2 in this build",
                           m->name, lp_srv_task_name(m->task));
    return false;
}

static void reply_stats(lp_srv_request *rq, lp_srv_model *only) {
    cJSON *root = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(root, "model_stats");
    size_t n = lp_srv_num_models(rq->srv);
    for (size_t i = 0; i < n; i++) {
        lp_srv_model *m = lp_srv_model_at(rq->srv, i);
        if (only && m != only) continue;
        lp_model_stats st;
        lp_server_metrics_model_stats(lp_srv_metrics(rq->srv), m->name, &st);
        cJSON_AddItemToArray(arr, lp_kserve_model_stats_json(m->name, &st));
        lp_model_stats_free(&st);
    }
    lp_srv_reply_json(rq, 200, root);
}

static void reply_server_ready(lp_srv_request *rq) {
    if (lp_srv_ready(rq->srv)) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddBoolToObject(j, "ready", true);
        lp_srv_reply_json(rq, 200, j);
        return;
    }
    size_t n = lp_srv_num_models(rq->srv);
    for (size_t i = 0; i < n; i++) {
        lp_srv_model *m = lp_srv_model_at(rq->srv, i);
        if (atomic_load(&m->state) != LP_MODEL_READY) {
            rq->reason = "not_ready";
            lp_srv_reply_error(rq, 503, "not ready: model '%s' is %s", m->name, state_text(m));
            return;
        }
    }
    rq->reason = "not_ready";
    lp_srv_reply_error(rq, 503, "not ready");
}

static void reply_model_ready(lp_srv_request *rq, lp_srv_model *m) {
    bool ready = atomic_load(&m->state) == LP_MODEL_READY;
    if (!ready) {
        rq->reason = "not_ready";
        lp_srv_reply_error(rq, 503, "model '%s' is not ready (%s)", m->name, state_text(m));
        return;
    }
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "name", m->name);
    cJSON_AddBoolToObject(j, "ready", true);
    lp_srv_reply_json(rq, 200, j);
}

/* ---- inference ---- */

typedef struct infer_state {
    lp_kserve_infer_request req;
    lp_kserve_plan plan;
    lp_kserve_model_desc desc;
} infer_state;

static void infer_state_free(void *p) {
    infer_state *s = p;
    if (!s) return;
    lp_kserve_infer_request_free(&s->req);
    free(s);
}

/* Scratch owned by the reply being built. */
typedef struct reply_parts {
    lp_kserve_output outs[4];
    void *owned[8];
    int n_owned;
} reply_parts;

static void *keep(reply_parts *p, void *mem) {
    if (mem && p->n_owned < (int)(sizeof p->owned / sizeof *p->owned)) p->owned[p->n_owned++] = mem;
    return mem;
}

static void parts_free(reply_parts *p) {
    for (int i = 0; i < p->n_owned; i++) free(p->owned[i]);
}

/* The float matrix an output reads, [n, width]; NULL when out of memory. */
static const float *output_matrix(lp_srv_job *job, const infer_state *s, lp_kserve_out_kind kind,
                                  reply_parts *parts, float **probs_cache) {
    if (kind != LP_KS_OUT_KIND_PROBS || s->plan.job != LP_KS_JOB_CLASSIFY) return job->out;
    /* text classifiers give logits; scores per the model's problem type */
    if (*probs_cache) return *probs_cache;
    size_t w = (size_t)job->out_width;
    float *p = keep(parts, malloc(job->n * w * sizeof *p));
    if (!p) return NULL;
    for (size_t i = 0; i < job->n; i++)
        lp_encoder_scores(job->model->encoder, job->out + i * w, p + i * w);
    *probs_cache = p;
    return p;
}

static lp_status build_output(lp_srv_job *job, const infer_state *s, const lp_kserve_planned_output *po,
                              lp_kserve_output *o, reply_parts *parts, float **probs_cache,
                              lp_error *err) {
    memset(o, 0, sizeof *o);
    o->name = po->name;
    o->binary = po->binary;
    int64_t n = (int64_t)job->n;
    if (po->kind == LP_KS_OUT_KIND_TRANSLATION) {
        lp_kserve_bytes *e = keep(parts, calloc(job->n ? job->n : 1, sizeof *e));
        if (!e) return lp_fail(err, LP_ERR_NOMEM, "out of memory building the reply");
        for (size_t i = 0; i < job->n; i++) {
            const char *t = job->translations && job->translations[i] ? job->translations[i] : "";
            e[i] = (lp_kserve_bytes){(const unsigned char *)t, strlen(t)};
        }
        o->dtype = LP_KS_BYTES;
        o->ndim = 1;
        o->shape[0] = n;
        o->elems = e;
        return LP_OK;
    }
    if (!job->out || job->out_width < 1)
        return lp_fail(err, LP_ERR_INTERNAL, "the model returned no output for '%s'", po->name);
    const float *x = output_matrix(job, s, po->kind, parts, probs_cache);
    if (!x) return lp_fail(err, LP_ERR_NOMEM, "out of memory building the reply");
    int64_t w = job->out_width;
    if (po->classification > 0) {
        int k = po->classification < w ? po->classification : (int)w;
        lp_kserve_bytes *e;
        void *block;
        lp_status st = lp_kserve_classification(x, n, w, k, s->desc.label, s->desc.label_ctx, &e,
                                                &block, err);
        if (st != LP_OK) return st;
        keep(parts, block);
        o->dtype = LP_KS_BYTES;
        o->ndim = 2;
        o->shape[0] = n;
        o->shape[1] = k;
        o->elems = e;
        return LP_OK;
    }
    o->dtype = LP_KS_FP32;
    o->ndim = 2;
    o->shape[0] = n;
    o->shape[1] = w;
    o->values = x;
    return LP_OK;
}

static void infer_done(lp_srv_job *job) {
    lp_srv_request *rq = job->rq;
    infer_state *s = rq->user;
    if (job->http_status != 200) {
        lp_srv_reply_error(rq, job->http_status ? job->http_status : 500, "%s", job->error);
        return;
    }
    if (s->plan.job == LP_KS_JOB_IMAGE_BYTES) {
        /* one undecodable image fails the request, as in Triton (no partial tensors) */
        for (size_t i = 0; job->image_results && i < job->n; i++) {
            if (job->image_results[i].status == LP_OK) continue;
            lp_srv_reply_error(rq, 400, "input '%s' element %zu: %s", LP_KS_IN_IMAGE, i,
                               job->image_results[i].error);
            return;
        }
    }
    reply_parts parts;
    memset(&parts, 0, sizeof parts);
    float *probs = NULL;
    lp_error err = {0};
    lp_status st = LP_OK;
    for (int i = 0; st == LP_OK && i < s->plan.n_outputs; i++)
        st = build_output(job, s, &s->plan.outputs[i], &parts.outs[i], &parts, &probs, &err);
    char *body = NULL;
    size_t len = 0;
    int64_t header_len = -1;
    /* say which texts lost tokens to the model's length limit */
    cJSON *params = NULL;
    bool any_truncated = false;
    for (size_t i = 0; job->truncated && i < job->n; i++) any_truncated |= job->truncated[i];
    if (any_truncated) {
        params = cJSON_CreateObject();
        cJSON *t = cJSON_AddArrayToObject(params, "truncated");
        for (size_t i = 0; i < job->n; i++) cJSON_AddItemToArray(t, cJSON_CreateBool(job->truncated[i]));
    }
    if (st == LP_OK)
        st = lp_kserve_encode_response_params(s->desc.name, "1", s->req.id, params, parts.outs,
                                              s->plan.n_outputs, &body, &len, &header_len, &err);
    cJSON_Delete(params);
    parts_free(&parts);
    if (st != LP_OK) {
        lp_srv_reply_error(rq, 500, "%s", err.msg);
        return;
    }
    if (header_len >= 0) {
        char h[32];
        snprintf(h, sizeof h, "%lld", (long long)header_len);
        lp_srv_add_header(rq, "Inference-Header-Content-Length", h);
        lp_srv_reply_raw(rq, 200, "application/octet-stream", body, len);
    } else {
        lp_srv_reply_raw(rq, 200, "application/json", body, len);
    }
    free(body);
}

static lp_srv_job_kind job_kind(lp_kserve_job j) {
    switch (j) {
    case LP_KS_JOB_CLASSIFY: return LP_JOB_CLASSIFY;
    case LP_KS_JOB_EMBED: return LP_JOB_EMBED;
    case LP_KS_JOB_IMAGE_BYTES: return LP_JOB_IMAGE_PROBS;
    case LP_KS_JOB_IMAGE_TENSOR: return LP_JOB_IMAGE_TENSOR;
    case LP_KS_JOB_TRANSLATE:
    default: return LP_JOB_TRANSLATE;
    }
}

static const char *header(lp_srv_request *rq, const char *key) {
    if (!rq->req) return NULL;
    return evhttp_find_header(evhttp_request_get_input_headers(rq->req), key);
}

static void handle_infer(lp_srv_request *rq, lp_srv_model *m) {
    rq->endpoint = "kserve_infer";
    lp_kserve_model_desc desc;
    if (!require_ready(rq, m, &desc)) return;
    const char *enc = header(rq, "Content-Encoding");
    if (enc && strcmp(enc, "identity") != 0) {
        rq->reason = "unsupported_media_type";
        lp_srv_reply_error(rq, 415, "Content-Encoding '%.32s' is not supported: send the body uncompressed", enc);
        return;
    }
    lp_error err = {0};
    int64_t header_len;
    if (lp_kserve_parse_header_length(header(rq, "Inference-Header-Content-Length"), rq->body_len,
                                      &header_len, &err) != LP_OK) {
        lp_srv_reply_error(rq, 400, "%s", err.msg);
        return;
    }
    infer_state *s = calloc(1, sizeof *s);
    if (!s) {
        lp_srv_reply_error(rq, 500, "out of memory");
        return;
    }
    rq->user = s;
    rq->user_free = infer_state_free;
    s->desc = desc;
    if (lp_kserve_parse_infer(rq->body, rq->body_len, header_len, &s->req, &err) != LP_OK) {
        lp_srv_reply_error(rq, err.status == LP_ERR_NOMEM ? 500 : 400, "%s", err.msg);
        return;
    }
    int http = 400;
    if (lp_kserve_plan_infer(&s->desc, &s->req, &s->plan, &http, &err) != LP_OK) {
        if (http == 413) rq->reason = "too_large";
        lp_srv_reply_error(rq, http, "%s", err.msg);
        return;
    }
    const lp_kserve_plan *p = &s->plan;
    rq->items = (int)p->n;
    lp_srv_job *job = lp_srv_job_new(rq, m, job_kind(p->job), p->n);
    if (!job) {
        lp_srv_reply_error(rq, 500, "out of memory");
        return;
    }
    for (size_t i = 0; i < p->n; i++) {
        if (p->job == LP_KS_JOB_IMAGE_BYTES) {
            job->images[i] = (lp_image_input){p->text->elems[i].data, p->text->elems[i].len};
        } else if (p->job != LP_KS_JOB_IMAGE_TENSOR) {
            job->texts[i] = (lp_encoder_text){(const char *)p->text->elems[i].data, p->text->elems[i].len,
                                              p->pair ? (const char *)p->pair->elems[i].data : NULL,
                                              p->pair ? p->pair->elems[i].len : 0};
        }
    }
    if (p->job == LP_KS_JOB_IMAGE_TENSOR) {
        job->tensor = p->pixels->values;
        job->tensor_h = p->pixels_h;
        job->tensor_w = p->pixels_w;
    }
    /* Triton's "timeout" request parameter is in microseconds */
    if (s->req.timeout_us >= 0) job->timeout_ms = (s->req.timeout_us + 999) / 1000;
    job->forbid_truncation = s->req.truncate == 0;
    job->done = infer_done;
    lp_srv_submit(job);
}

/* ---- the router ---- */

static void method_not_allowed(lp_srv_request *rq, const char *allow) {
    lp_srv_add_header(rq, "Allow", allow);
    rq->reason = "method_not_allowed";
    lp_srv_reply_error(rq, 405, "%s takes %s", rq->path, allow);
}

void lp_kserve_handle(lp_srv_request *rq) {
    lp_kserve_route r = lp_kserve_match_route(rq->path);
    if (!rq->endpoint) rq->endpoint = "kserve";
    if (r.kind == LP_KS_ROUTE_NONE || r.kind == LP_KS_ROUTE_BAD) {
        rq->reason = "not_found";
        lp_srv_reply_error(rq, 404,
                           "no such KServe v2 endpoint: %.200s (GET /v2, /v2/health/live, "
                           "/v2/health/ready, /v2/models/{name}[/versions/1][/ready|/stats]; "
                           "POST /v2/models/{name}[/versions/1]/infer)",
                           rq->path);
        return;
    }
    if (r.post && rq->method != EVHTTP_REQ_POST) return method_not_allowed(rq, "POST");
    if (!r.post && !is_get(rq)) return method_not_allowed(rq, "GET");
    switch (r.kind) {
    case LP_KS_ROUTE_SERVER_META:
        lp_srv_reply_json(rq, 200, lp_kserve_server_metadata(LP_VERSION));
        return;
    case LP_KS_ROUTE_LIVE: {
        rq->endpoint = "health";
        cJSON *j = cJSON_CreateObject();
        cJSON_AddBoolToObject(j, "live", true);
        lp_srv_reply_json(rq, 200, j);
        return;
    }
    case LP_KS_ROUTE_READY:
        rq->endpoint = "health";
        reply_server_ready(rq);
        return;
    case LP_KS_ROUTE_ALL_STATS:
        rq->endpoint = "kserve_stats";
        reply_stats(rq, NULL);
        return;
    default:
        break;
    }
    lp_srv_model *m = find_model(rq, &r);
    if (!m) return;
    lp_kserve_model_desc desc;
    switch (r.kind) {
    case LP_KS_ROUTE_MODEL_META:
        rq->endpoint = "kserve_metadata";
        if (require_ready(rq, m, &desc)) lp_srv_reply_json(rq, 200, lp_kserve_model_metadata(&desc));
        return;
    case LP_KS_ROUTE_MODEL_READY:
        rq->endpoint = "kserve_ready";
        reply_model_ready(rq, m);
        return;
    case LP_KS_ROUTE_MODEL_STATS:
        rq->endpoint = "kserve_stats";
        reply_stats(rq, m);
        return;
    case LP_KS_ROUTE_INFER:
        handle_infer(rq, m);
        return;
    default:
        lp_srv_reply_error(rq, 404, "no such KServe v2 endpoint");
        return;
    }
}
