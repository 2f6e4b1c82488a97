/* POST /v1/classify, /v1/sentiment, /v1/embed, /v1/translate: JSON in,
 * validated field by field on the event thread, one job to the model's
 * batcher, JSON out when it comes back. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server/kserve.h"
#include "server/routes.h"
#include "server/server_priv.h"

bool lp_srv_utf8_ok(const char *s, size_t n) {
    const unsigned char *p = (const unsigned char *)s, *e = p + n;
    while (p < e) {
        unsigned c = *p;
        size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        if (!len || (size_t)(e - p) < len) return false;
        unsigned cp = len == 1 ? c : len == 2 ? c & 0x1f : len == 3 ? c & 0x0f : c & 0x07;
        for (size_t i = 1; i < len; i++) {
            if ((p[i] & 0xc0) != 0x80) return false;
            cp = (cp << 6) | (p[i] & 0x3f);
        }
        static const unsigned min[5] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < min[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
        p += len;
    }
    return true;
}

static const char *task_endpoint(lp_srv_task t) {
    switch (t) {
    case LP_TASK_CLASSIFY: return "/v1/classify or /v1/sentiment";
    case LP_TASK_EMBED: return "/v1/embed";
    case LP_TASK_IMAGE: return "/v1/classify-image or /v1/diagnose";
    default: return "/v1/translate";
    }
}

lp_srv_model *lp_srv_pick_model(lp_srv_request *rq, const char *name, lp_srv_task task) {
    lp_server *srv = rq->srv;
    if (name) {
        lp_srv_model *m = lp_srv_find_model(srv, name);
        if (!m) {
            lp_srv_reply_error(rq, 404, "no model named '%.64s' is loaded (GET /v1/models lists them)", name);
            return NULL;
        }
        lp_srv_request_set_model(rq, m->name);
        int state = atomic_load(&m->state);
        if (state != LP_MODEL_READY) {
            lp_srv_reply_error(rq, 503, "model '%s' is %s", m->name,
                               state == LP_MODEL_FAILED ? "not available (it failed to load)" : "still loading");
            return NULL;
        }
        if (m->task != task) {
            lp_srv_reply_error(rq, 400, "model '%s' is a %s model; send it to %s", m->name, lp_srv_task_name(m->task),
                               task_endpoint(m->task));
            return NULL;
        }
        return m;
    }
    lp_srv_model *found = NULL;
    int count = 0;
    for (size_t i = 0; i < srv->n_models; i++) {
        lp_srv_model *m = &srv->models[i];
        if (atomic_load(&m->state) == LP_MODEL_READY && m->task == task) {
            found = m;
            count++;
        }
    }
    if (count != 1) {
        if (!lp_srv_ready(srv)) lp_srv_reply_error(rq, 503, "models are still loading; retry when /v2/health/ready says ready");
        else lp_srv_reply_error(rq, 400, "field 'model' is required: %s (GET /v1/models lists them)",
                                count ? "several loaded models serve this task" : "no loaded model serves this task");
        return NULL;
    }
    lp_srv_request_set_model(rq, found->name);
    return found;
}

static bool content_type_is(const char *ct, const char *want) {
    size_t n = strlen(want);
    if (!ct) return false;
    while (*ct == ' ') ct++;
    return !strncasecmp(ct, want, n) && (ct[n] == 0 || ct[n] == ';' || ct[n] == ' ');
}

cJSON *lp_srv_parse_json(const char *body, size_t len, const char **end) {
    *end = NULL;
    const char *nul = memchr(body, 0, len);
    if (nul) { /* cJSON would stop there and ignore the rest */
        *end = nul;
        return NULL;
    }
    return cJSON_ParseWithLengthOpts(body, len + 1, end, true); /* the body is NUL-terminated */
}

static void delete_json(void *p) { cJSON_Delete(p); }

cJSON *lp_srv_parse_json_body(lp_srv_request *rq) {
    if (rq->content_type && !content_type_is(rq->content_type, "application/json")) {
        lp_srv_reply_error(rq, 415, "Content-Type must be application/json (got '%.80s')", rq->content_type);
        return NULL;
    }
    if (rq->body_len == 0) {
        lp_srv_reply_error(rq, 400, "the body is empty; send a JSON object");
        return NULL;
    }
    const char *end = NULL;
    cJSON *root = lp_srv_parse_json((const char *)rq->body, rq->body_len, &end);
    if (!root) {
        size_t at = end ? (size_t)(end - (const char *)rq->body) : 0;
        lp_srv_reply_error(rq, 400, "the body is not valid JSON (error near byte %zu)", at);
        return NULL;
    }
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        lp_srv_reply_error(rq, 400, "the body must be a JSON object, like {\"model\": ..., \"inputs\": ...}");
        return NULL;
    }
    rq->user = root;
    rq->user_free = delete_json;
    return root;
}

/* Common fields; replies and returns false on a bad one. */
typedef struct text_request {
    const char *model;
    const cJSON *inputs;
    bool truncate;
    int64_t timeout_ms;
    int beam, max_length;
} text_request;

static bool read_fields(lp_srv_request *rq, cJSON *root, const char *const *extra, text_request *t) {
    memset(t, 0, sizeof *t);
    t->truncate = true;
    t->timeout_ms = -1;
    const cJSON *v;
    cJSON_ArrayForEach(v, root) {
        const char *k = v->string;
        if (!strcmp(k, "model")) {
            if (!cJSON_IsString(v)) return lp_srv_reply_error(rq, 400, "field 'model' must be a string"), false;
            t->model = v->valuestring;
        } else if (!strcmp(k, "inputs")) {
            t->inputs = v;
        } else if (!strcmp(k, "truncate")) {
            if (!cJSON_IsBool(v)) return lp_srv_reply_error(rq, 400, "field 'truncate' must be true or false"), false;
            t->truncate = cJSON_IsTrue(v);
        } else if (!strcmp(k, "timeout_ms")) {
            if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 3600e3 || v->valuedouble != floor(v->valuedouble))
                return lp_srv_reply_error(rq, 400, "field 'timeout_ms' must be a whole number of ms in 0..3600000"), false;
            t->timeout_ms = (int64_t)v->valuedouble;
        } else {
            bool known = false;
            for (int i = 0; extra && extra[i]; i++) known = known || !strcmp(k, extra[i]);
            if (!known) return lp_srv_reply_error(rq, 400, "unknown field '%.64s'", k), false;
        }
    }
    if (!t->inputs) return lp_srv_reply_error(rq, 400, "field 'inputs' is required: a text or a list of texts"), false;
    return true;
}

/* Checks one text; replies and returns false when it is not acceptable. */
static bool check_text(lp_srv_request *rq, const lp_srv_model *m, const cJSON *v, const char *where) {
    if (!cJSON_IsString(v)) return lp_srv_reply_error(rq, 400, "%s must be a string", where), false;
    size_t n = strlen(v->valuestring);
    if (n > m->cfg.max_text_bytes)
        return lp_srv_reply_error(rq, 413, "%s is %zu bytes; model '%s' takes at most %zu bytes per text", where, n,
                                  m->name, m->cfg.max_text_bytes),
               false;
    if (!lp_srv_utf8_ok(v->valuestring, n)) return lp_srv_reply_error(rq, 400, "%s is not valid UTF-8", where), false;
    return true;
}

/* Fills job texts from `inputs`: a string, a list of strings, or (pairs
 * allowed) a list of [a, b]. *single says a lone string was sent. */
static lp_srv_job *texts_job(lp_srv_request *rq, lp_srv_model *m, lp_srv_job_kind kind, const cJSON *inputs,
                             bool pairs, bool *single) {
    *single = cJSON_IsString(inputs);
    if (!*single && !cJSON_IsArray(inputs)) {
        lp_srv_reply_error(rq, 400, "field 'inputs' must be a string or a list of %s",
                           pairs ? "strings or [text, text] pairs" : "strings");
        return NULL;
    }
    size_t n = *single ? 1 : (size_t)cJSON_GetArraySize(inputs);
    if (n == 0) {
        lp_srv_reply_error(rq, 400, "field 'inputs' is an empty list; send at least one text");
        return NULL;
    }
    if (n > (size_t)m->cfg.max_items) {
        lp_srv_reply_error(rq, 413, "field 'inputs' has %zu items; model '%s' takes at most %d per request", n, m->name,
                           m->cfg.max_items);
        return NULL;
    }
    lp_srv_job *job = lp_srv_job_new(rq, m, kind, n);
    if (!job) {
        lp_srv_reply_error(rq, 500, "out of memory");
        return NULL;
    }
    rq->items = (int)n;
    char where[64];
    if (*single) {
        if (!check_text(rq, m, inputs, "field 'inputs'")) return NULL;
        job->texts[0] = (lp_encoder_text){inputs->valuestring, strlen(inputs->valuestring), NULL, 0};
        return job;
    }
    size_t i = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, inputs) {
        snprintf(where, sizeof where, "inputs[%zu]", i);
        if (pairs && cJSON_IsArray(v)) {
            if (cJSON_GetArraySize(v) != 2) {
                lp_srv_reply_error(rq, 400, "%s must be a pair [text, text] (it has %d items)", where,
                                   cJSON_GetArraySize(v));
                return NULL;
            }
            const cJSON *a = cJSON_GetArrayItem(v, 0), *b = cJSON_GetArrayItem(v, 1);
            snprintf(where, sizeof where, "inputs[%zu][0]", i);
            if (!check_text(rq, m, a, where)) return NULL;
            snprintf(where, sizeof where, "inputs[%zu][1]", i);
            if (!check_text(rq, m, b, where)) return NULL;
            job->texts[i] = (lp_encoder_text){a->valuestring, strlen(a->valuestring), b->valuestring,
                                              strlen(b->valuestring)};
        } else {
            if (!check_text(rq, m, v, where)) return NULL;
            job->texts[i] = (lp_encoder_text){v->valuestring, strlen(v->valuestring), NULL, 0};
        }
        i++;
    }
    return job;
}

/* ---- classify / sentiment ---------------------------------------------------- */

static bool job_failed(lp_srv_job *job) {
    if (job->http_status == 200) return false;
    lp_srv_reply_error(job->rq, job->http_status, "%s", job->error);
    return true;
}

static cJSON *classify_item(const lp_srv_model *m, const float *logits, bool truncated) {
    int64_t L = lp_encoder_num_labels(m->encoder);
    float scores[1024];
    float *s = L <= 1024 ? scores : malloc((size_t)L * sizeof *s);
    cJSON *o = cJSON_CreateObject();
    if (!s || !o) {
        if (s != scores) free(s);
        cJSON_Delete(o);
        return NULL;
    }
    int64_t top = lp_encoder_scores(m->encoder, logits, s);
    cJSON_AddStringToObject(o, "label", lp_encoder_label(m->encoder, top));
    cJSON_AddNumberToObject(o, "score", s[top]);
    cJSON *all = cJSON_AddObjectToObject(o, "scores");
    for (int64_t i = 0; i < L; i++) cJSON_AddNumberToObject(all, lp_encoder_label(m->encoder, i), s[i]);
    cJSON_AddBoolToObject(o, "truncated", truncated);
    if (s != scores) free(s);
    return o;
}

static void classify_done(lp_srv_job *job) {
    if (job_failed(job)) return;
    bool single = job->user != NULL;
    cJSON *o;
    if (single) {
        o = classify_item(job->model, job->out, job->truncated[0]);
        if (o) cJSON_AddItemToObject(o, "model", cJSON_CreateString(job->model->name));
    } else {
        o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "model", job->model->name);
        cJSON *res = cJSON_AddArrayToObject(o, "results");
        for (size_t i = 0; i < job->n; i++)
            cJSON_AddItemToArray(res, classify_item(job->model, job->out + i * (size_t)job->out_width, job->truncated[i]));
    }
    lp_srv_reply_json(job->rq, 200, o);
}

static void text_handler(lp_srv_request *rq, lp_srv_task task, lp_srv_job_kind kind, lp_srv_done_fn done) {
    cJSON *root = lp_srv_parse_json_body(rq);
    if (!root) return;
    text_request t;
    static const char *const translate_extra[] = {"beam", "max_length", NULL};
    if (!read_fields(rq, root, kind == LP_JOB_TRANSLATE ? translate_extra : NULL, &t)) return;
    lp_srv_model *m = lp_srv_pick_model(rq, t.model, task);
    if (!m) return;
    bool single;
    lp_srv_job *job = texts_job(rq, m, kind, t.inputs, kind == LP_JOB_CLASSIFY, &single);
    if (!job) return;
    job->forbid_truncation = !t.truncate;
    job->timeout_ms = t.timeout_ms;
    job->done = done;
    job->user = single ? (void *)1 : NULL;
    lp_srv_submit(job);
}

void lp_srv_handle_classify(lp_srv_request *rq) { text_handler(rq, LP_TASK_CLASSIFY, LP_JOB_CLASSIFY, classify_done); }
void lp_srv_handle_sentiment(lp_srv_request *rq) { text_handler(rq, LP_TASK_CLASSIFY, LP_JOB_CLASSIFY, classify_done); }

/* ---- embed ------------------------------------------------------------------ */

/* A float vector as raw JSON text, each number the shortest that reads back
 * as the same f32 (NaN/Inf as null: never a made-up value). Much cheaper on
 * the event thread than cJSON's double printing (format, parse back, maybe
 * format again). */
static cJSON *vector(const float *v, int64_t d) {
    size_t cap = (size_t)d * 33 + 3, n = 0;
    char *buf = malloc(cap);
    if (!buf) return NULL;
    buf[n++] = '[';
    for (int64_t i = 0; i < d; i++) {
        if (i) buf[n++] = ',';
        n += (size_t)lp_kserve_format_f32(v[i], buf + n);
    }
    buf[n++] = ']';
    buf[n] = 0;
    cJSON *a = cJSON_CreateRaw(buf);
    free(buf);
    return a;
}

static void embed_done(lp_srv_job *job) {
    if (job_failed(job)) return;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "model", job->model->name);
    cJSON_AddNumberToObject(o, "dim", (double)job->out_width);
    if (job->user) {
        cJSON_AddItemToObject(o, "embedding", vector(job->out, job->out_width));
        cJSON_AddBoolToObject(o, "truncated", job->truncated[0]);
    } else {
        cJSON *e = cJSON_AddArrayToObject(o, "embeddings"), *t = cJSON_AddArrayToObject(o, "truncated");
        for (size_t i = 0; i < job->n; i++) {
            cJSON_AddItemToArray(e, vector(job->out + i * (size_t)job->out_width, job->out_width));
            cJSON_AddItemToArray(t, cJSON_CreateBool(job->truncated[i]));
        }
    }
    lp_srv_reply_json(job->rq, 200, o);
}

void lp_srv_handle_embed(lp_srv_request *rq) { text_handler(rq, LP_TASK_EMBED, LP_JOB_EMBED, embed_done); }

/* ---- translate ------------------------------------------------------------- */

static void translate_done(lp_srv_job *job) {
    if (job_failed(job)) return;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "model", job->model->name);
    if (job->user) {
        cJSON_AddStringToObject(o, "translation", job->translations[0]);
        cJSON_AddNumberToObject(o, "score", job->out[0]);
        cJSON_AddBoolToObject(o, "hit_max_length", job->hit_max_length[0]);
    } else {
        cJSON *t = cJSON_AddArrayToObject(o, "translations"), *sc = cJSON_AddArrayToObject(o, "scores"),
              *h = cJSON_AddArrayToObject(o, "hit_max_length");
        for (size_t i = 0; i < job->n; i++) {
            cJSON_AddItemToArray(t, cJSON_CreateString(job->translations[i]));
            cJSON_AddItemToArray(sc, cJSON_CreateNumber(job->out[i]));
            cJSON_AddItemToArray(h, cJSON_CreateBool(job->hit_max_length[i]));
        }
    }
    lp_srv_reply_json(job->rq, 200, o);
}

static bool small_int(lp_srv_request *rq, const cJSON *root, const char *key, int lo, int hi, int *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!v) return true;
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < lo || v->valuedouble > hi) {
        lp_srv_reply_error(rq, 400, "field '%s' must be a whole number in %d..%d", key, lo, hi);
        return false;
    }
    *out = (int)v->valuedouble;
    return true;
}

void lp_srv_handle_translate(lp_srv_request *rq) {
    cJSON *root = lp_srv_parse_json_body(rq);
    if (!root) return;
    text_request t;
    static const char *const extra[] = {"beam", "max_length", NULL};
    if (!read_fields(rq, root, extra, &t)) return;
    int beam = 0, max_length = 0;
    if (!small_int(rq, root, "beam", 1, 64, &beam) || !small_int(rq, root, "max_length", 2, 4096, &max_length)) return;
    lp_server *srv = rq->srv;
    bool any = false;
    for (size_t i = 0; i < srv->n_models; i++) any = any || srv->models[i].task == LP_TASK_TRANSLATE;
    if (!any && !t.model && lp_srv_ready(srv)) {
        lp_srv_reply_error(rq, 404, "no translation model is loaded on this server (GET /v1/models lists the models)");
        return;
    }
    lp_srv_model *m = lp_srv_pick_model(rq, t.model, LP_TASK_TRANSLATE);
    if (!m) return;
    bool single;
    lp_srv_job *job = texts_job(rq, m, LP_JOB_TRANSLATE, t.inputs, false, &single);
    if (!job) return;
    for (size_t i = 0; i < job->n; i++) {
        lp_error e = {0};
        if (lp_translator_check_text(m->translator, job->texts[i].text, job->texts[i].len, &e)) {
            if (single) lp_srv_reply_error(rq, 422, "field 'inputs': %s", e.msg);
            else lp_srv_reply_error(rq, 422, "inputs[%zu]: %s", i, e.msg);
            return;
        }
    }
    job->beam = beam;
    job->max_length = max_length;
    job->timeout_ms = t.timeout_ms;
    job->done = translate_done;
    job->user = single ? (void *)1 : NULL;
    lp_srv_submit(job);
}
