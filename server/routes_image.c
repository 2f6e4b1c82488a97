/* POST /v1/classify-image and /v1/diagnose. The image comes as the raw body
 * (image/jpeg, image/png, ... or application/octet-stream; model and top_k in
 * the query string), as multipart/form-data (file parts; "model" and "top_k"
 * as fields), or as base64 in JSON ({"model", "image": b64 | "images": [b64...],
 * "top_k"}). Decoding happens on the worker, so a bad image is found there and
 * answered 422. */
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server/body_parse.h"
#include "server/routes.h"
#include "server/server_priv.h"

double lp_srv_threshold(const lp_srv_model *m, const char *label) {
    const cJSON *t = m->cfg.thresholds ? cJSON_GetObjectItemCaseSensitive(m->cfg.thresholds, label) : NULL;
    return cJSON_IsNumber(t) ? t->valuedouble : 0.5;
}

/* What the handler keeps alive until the job is done. */
typedef struct image_state {
    cJSON *json;
    lp_srv_part *parts;
    unsigned char **decoded; /* base64 buffers */
    size_t n_decoded;
    bool single, diagnose;
    int top_k;
} image_state;

static void state_free(void *p) {
    image_state *s = p;
    if (!s) return;
    cJSON_Delete(s->json);
    free(s->parts);
    for (size_t i = 0; i < s->n_decoded; i++) free(s->decoded[i]);
    free(s->decoded);
    free(s);
}

typedef struct image_list {
    const unsigned char *data[1024];
    size_t len[1024];
    size_t n;
} image_list;

static bool ct_is(const char *ct, const char *want) {
    size_t n = strlen(want);
    return ct && !strncasecmp(ct, want, n) && (ct[n] == 0 || ct[n] == ';' || ct[n] == ' ');
}

static bool parse_top_k(lp_srv_request *rq, const char *s, int *out) {
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < 1 || v > 100000) {
        lp_srv_reply_error(rq, 400, "'top_k' must be a whole number >= 1 (got '%.32s')", s);
        return false;
    }
    *out = (int)v;
    return true;
}

static bool add_image(lp_srv_request *rq, image_list *l, const unsigned char *d, size_t n) {
    if (l->n >= 1024) {
        lp_srv_reply_error(rq, 413, "more than 1024 images in one request");
        return false;
    }
    l->data[l->n] = d;
    l->len[l->n++] = n;
    return true;
}

static bool decode_b64(lp_srv_request *rq, image_state *st, image_list *l, const cJSON *v, const char *where) {
    if (!cJSON_IsString(v)) return lp_srv_reply_error(rq, 400, "%s must be a base64 string", where), false;
    char why[160];
    unsigned char *buf;
    size_t n;
    if (!lp_srv_base64_decode(v->valuestring, strlen(v->valuestring), &buf, &n, why, sizeof why))
        return lp_srv_reply_error(rq, 400, "%s is not valid base64: %s", where, why), false;
    unsigned char **g = realloc(st->decoded, (st->n_decoded + 1) * sizeof *g);
    if (!g) {
        free(buf);
        return lp_srv_reply_error(rq, 500, "out of memory"), false;
    }
    st->decoded = g;
    st->decoded[st->n_decoded++] = buf;
    if (n == 0) return lp_srv_reply_error(rq, 400, "%s decodes to 0 bytes; send an image", where), false;
    return add_image(rq, l, buf, n);
}

static bool from_json(lp_srv_request *rq, image_state *st, image_list *l, char *model, size_t msize) {
    const char *end = NULL;
    st->json = lp_srv_parse_json((const char *)rq->body, rq->body_len, &end);
    if (!st->json)
        return lp_srv_reply_error(rq, 400, "the body is not valid JSON (error near byte %zu)",
                                  end ? (size_t)(end - (const char *)rq->body) : (size_t)0),
               false;
    if (!cJSON_IsObject(st->json))
        return lp_srv_reply_error(rq, 400, "the body must be a JSON object, like {\"model\": ..., \"image\": \"<base64>\"}"),
               false;
    const cJSON *v, *images = NULL;
    const char *images_key = NULL;
    cJSON_ArrayForEach(v, st->json) {
        const char *k = v->string;
        if (!strcmp(k, "model")) {
            if (!cJSON_IsString(v)) return lp_srv_reply_error(rq, 400, "field 'model' must be a string"), false;
            snprintf(model, msize, "%s", v->valuestring);
        } else if (!strcmp(k, "image") || !strcmp(k, "images") || !strcmp(k, "inputs")) {
            if (images) return lp_srv_reply_error(rq, 400, "send only one of 'image', 'images', 'inputs'"), false;
            images = v;
            images_key = k;
        } else if (!strcmp(k, "top_k")) {
            if (!cJSON_IsNumber(v) || v->valuedouble < 1 || v->valuedouble > 100000 || v->valuedouble != floor(v->valuedouble))
                return lp_srv_reply_error(rq, 400, "field 'top_k' must be a whole number >= 1"), false;
            st->top_k = (int)v->valuedouble;
        } else {
            return lp_srv_reply_error(rq, 400, "unknown field '%.64s'", k), false;
        }
    }
    if (!images) return lp_srv_reply_error(rq, 400, "field 'image' is required: the image as a base64 string"), false;
    if (cJSON_IsString(images)) {
        st->single = true;
        char where[32];
        snprintf(where, sizeof where, "field '%s'", images_key);
        return decode_b64(rq, st, l, images, where);
    }
    if (!cJSON_IsArray(images))
        return lp_srv_reply_error(rq, 400, "field '%s' must be a base64 string or a list of them", images_key), false;
    size_t i = 0;
    cJSON_ArrayForEach(v, images) {
        char where[48];
        snprintf(where, sizeof where, "%s[%zu]", images_key, i++);
        if (!decode_b64(rq, st, l, v, where)) return false;
    }
    return true;
}

static bool from_multipart(lp_srv_request *rq, image_state *st, image_list *l, char *model, size_t msize) {
    char boundary[80], why[200];
    if (!lp_srv_multipart_boundary(rq->content_type, boundary, sizeof boundary))
        return lp_srv_reply_error(rq, 400, "multipart/form-data without a usable boundary parameter"), false;
    size_t n;
    if (!lp_srv_multipart_parse(rq->body, rq->body_len, boundary, &st->parts, &n, why, sizeof why))
        return lp_srv_reply_error(rq, 400, "%s", why), false;
    for (size_t i = 0; i < n; i++) {
        lp_srv_part *p = &st->parts[i];
        bool file = p->filename || (p->content_type && strncasecmp(p->content_type, "text/", 5)) ||
                    !strcmp(p->name, "image") || !strcmp(p->name, "file") || !strcmp(p->name, "images");
        if (!strcmp(p->name, "model") && !p->filename) {
            if (p->len == 0 || p->len >= msize)
                return lp_srv_reply_error(rq, 400, "form field 'model' must be 1..%zu bytes", msize - 1), false;
            memcpy(model, p->data, p->len);
            model[p->len] = 0;
        } else if (!strcmp(p->name, "top_k") && !p->filename) {
            char tmp[32];
            size_t k = p->len < sizeof tmp - 1 ? p->len : sizeof tmp - 1;
            memcpy(tmp, p->data, k);
            tmp[k] = 0;
            if (!parse_top_k(rq, tmp, &st->top_k)) return false;
        } else if (file) {
            if (p->len == 0) return lp_srv_reply_error(rq, 400, "form part '%.64s' is empty; send an image", p->name), false;
            if (!add_image(rq, l, p->data, p->len)) return false;
        } else {
            return lp_srv_reply_error(rq, 400, "unknown form field '%.64s' (send files, 'model', 'top_k')", p->name), false;
        }
    }
    if (l->n == 0) return lp_srv_reply_error(rq, 400, "the form has no image file part"), false;
    st->single = l->n == 1;
    return true;
}

static bool from_query(lp_srv_request *rq, image_state *st, char *model, size_t msize) {
    if (!rq->query) return true;
    struct evkeyvalq q;
    if (evhttp_parse_query_str(rq->query, &q) != 0)
        return lp_srv_reply_error(rq, 400, "the query string cannot be parsed"), false;
    bool ok = true;
    for (struct evkeyval *kv = q.tqh_first; kv && ok; kv = kv->next.tqe_next) {
        if (!strcmp(kv->key, "model")) snprintf(model, msize, "%s", kv->value);
        else if (!strcmp(kv->key, "top_k")) ok = parse_top_k(rq, kv->value, &st->top_k);
        else {
            lp_srv_reply_error(rq, 400, "unknown query parameter '%.64s' (use model, top_k)", kv->key);
            ok = false;
        }
    }
    evhttp_clear_headers(&q);
    return ok;
}

static cJSON *image_item(const lp_srv_job *job, size_t i, int top_k, bool diagnose) {
    const lp_srv_model *m = job->model;
    const float *p = job->out + i * (size_t)job->out_width;
    int64_t C = job->out_width;
    cJSON *o = cJSON_CreateObject();
    int k = top_k < C ? top_k : (int)C;
    /* top-k by selection: C is small next to the model's own cost */
    bool *used = calloc((size_t)C, 1);
    cJSON *top = cJSON_AddArrayToObject(o, "top");
    for (int r = 0; used && r < k; r++) {
        int64_t best = -1;
        for (int64_t c = 0; c < C; c++)
            if (!used[c] && (best < 0 || p[c] > p[best])) best = c;
        used[best] = true;
        if (r == 0) {
            cJSON_AddStringToObject(o, "label", lp_srv_model_label(m, best));
            cJSON_AddNumberToObject(o, "score", p[best]);
        }
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "label", lp_srv_model_label(m, best));
        cJSON_AddNumberToObject(e, "index", (double)best);
        cJSON_AddNumberToObject(e, "score", p[best]);
        cJSON_AddItemToArray(top, e);
    }
    free(used);
    if (diagnose) {
        cJSON *scores = cJSON_AddObjectToObject(o, "scores"), *findings = cJSON_AddArrayToObject(o, "findings");
        for (int64_t c = 0; c < C; c++) {
            const char *label = lp_srv_model_label(m, c);
            cJSON_AddNumberToObject(scores, label, p[c]);
            if (p[c] >= lp_srv_threshold(m, label)) cJSON_AddItemToArray(findings, cJSON_CreateString(label));
        }
    }
    return o;
}

static void image_done(lp_srv_job *job) {
    if (job->http_status != 200) {
        lp_srv_reply_error(job->rq, job->http_status, "%s", job->error);
        return;
    }
    image_state *st = job->user;
    for (size_t i = 0; i < job->n; i++)
        if (job->image_results[i].status != LP_OK) {
            if (st->single) lp_srv_reply_error(job->rq, 422, "the image cannot be used: %s", job->image_results[i].error);
            else lp_srv_reply_error(job->rq, 422, "image %zu cannot be used: %s", i, job->image_results[i].error);
            return;
        }
    const lp_srv_model *m = job->model;
    int top_k = st->top_k ? st->top_k : m->cfg.top_k;
    cJSON *o;
    if (st->single) {
        o = image_item(job, 0, top_k, st->diagnose);
    } else {
        o = cJSON_CreateObject();
        cJSON *res = cJSON_AddArrayToObject(o, "results");
        for (size_t i = 0; i < job->n; i++) cJSON_AddItemToArray(res, image_item(job, i, top_k, st->diagnose));
    }
    cJSON_AddStringToObject(o, "model", m->name);
    if (st->diagnose) {
        cJSON *labels = cJSON_AddArrayToObject(o, "labels"), *th = cJSON_AddObjectToObject(o, "thresholds");
        for (int64_t c = 0; c < job->out_width; c++) {
            const char *label = lp_srv_model_label(m, c);
            cJSON_AddItemToArray(labels, cJSON_CreateString(label));
            cJSON_AddNumberToObject(th, label, lp_srv_threshold(m, label));
        }
    }
    lp_srv_reply_json(job->rq, 200, o);
}

static void image_handler(lp_srv_request *rq, bool diagnose) {
    image_state *st = calloc(1, sizeof *st);
    image_list *l = calloc(1, sizeof *l);
    if (!st || !l) {
        free(st);
        free(l);
        return lp_srv_reply_error(rq, 500, "out of memory");
    }
    rq->user = st;
    rq->user_free = state_free;
    st->diagnose = diagnose;
    char model[128] = "";
    const char *ct = rq->content_type;
    bool ok;
    if (!from_query(rq, st, model, sizeof model)) ok = false;
    else if (ct_is(ct, "application/json")) ok = from_json(rq, st, l, model, sizeof model);
    else if (ct_is(ct, "multipart/form-data")) ok = from_multipart(rq, st, l, model, sizeof model);
    else if ((ct && !strncasecmp(ct, "image/", 6)) || ct_is(ct, "application/octet-stream")) {
        st->single = true;
        ok = rq->body_len > 0 || (lp_srv_reply_error(rq, 400, "the body is empty; send the image bytes"), false);
        if (ok) ok = add_image(rq, l, rq->body, rq->body_len);
    } else {
        lp_srv_reply_error(rq, 415,
                           "Content-Type '%.80s' is not accepted here: send the image as image/* "
                           "(or application/octet-stream), multipart/form-data, or base64 in application/json",
                           ct ? ct : "(none)");
        ok = false;
    }
    if (!ok) {
        free(l);
        return;
    }
    lp_srv_model *m = lp_srv_pick_model(rq, model[0] ? model : NULL, LP_TASK_IMAGE);
    if (!m) {
        free(l);
        return;
    }
    if (l->n > (size_t)m->cfg.max_items) {
        lp_srv_reply_error(rq, 413, "%zu images in one request; model '%s' takes at most %d", l->n, m->name,
                           m->cfg.max_items);
        free(l);
        return;
    }
    lp_srv_job *job = lp_srv_job_new(rq, m, LP_JOB_IMAGE_PROBS, l->n);
    if (!job) {
        free(l);
        return lp_srv_reply_error(rq, 500, "out of memory");
    }
    for (size_t i = 0; i < l->n; i++) job->images[i] = (lp_image_input){l->data[i], l->len[i]};
    free(l);
    rq->items = (int)job->n;
    job->done = image_done;
    job->user = st;
    lp_srv_submit(job);
}

void lp_srv_handle_classify_image(lp_srv_request *rq) { image_handler(rq, false); }
void lp_srv_handle_diagnose(lp_srv_request *rq) { image_handler(rq, true); }
