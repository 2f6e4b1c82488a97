/* KServe v2: an infer request checked against a model (what to run, what to
 * send back), the metadata a model shows, and the /v2 routes. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "server/kserve.h"

/* ---- what each model kind takes and gives ---- */

typedef struct kind_io {
    const char *inputs[2];
    int n_inputs;
    const char *outputs[2];
    lp_kserve_out_kind out_kinds[2];
    int n_outputs;
} kind_io;

static kind_io io_of(lp_kserve_model_kind k) {
    switch (k) {
    case LP_KS_MODEL_TEXT_CLASSIFY:
        return (kind_io){{LP_KS_IN_TEXT, LP_KS_IN_TEXT_PAIR}, 2,
                         {LP_KS_OUT_LOGITS, LP_KS_OUT_PROBS},
                         {LP_KS_OUT_KIND_LOGITS, LP_KS_OUT_KIND_PROBS}, 2};
    case LP_KS_MODEL_TEXT_EMBED:
        return (kind_io){{LP_KS_IN_TEXT, NULL}, 1, {LP_KS_OUT_EMBEDDING, NULL},
                         {LP_KS_OUT_KIND_EMBEDDING, 0}, 1};
    case LP_KS_MODEL_IMAGE:
        return (kind_io){{LP_KS_IN_IMAGE, LP_KS_IN_PIXELS}, 2, {LP_KS_OUT_PROBS, NULL},
                         {LP_KS_OUT_KIND_PROBS, 0}, 1};
    case LP_KS_MODEL_TRANSLATE:
    default:
        return (kind_io){{LP_KS_IN_TEXT, NULL}, 1, {LP_KS_OUT_TRANSLATION, NULL},
                         {LP_KS_OUT_KIND_TRANSLATION, 0}, 1};
    }
}

static void join_names(const char *const *names, int n, char *buf, size_t size) {
    buf[0] = '\0';
    size_t len = 0;
    for (int i = 0; i < n; i++) {
        int w = snprintf(buf + len, size - len, "%s%s", i ? ", " : "", names[i]);
        if (w < 0 || (size_t)w >= size - len) break;
        len += (size_t)w;
    }
}

/* ---- checks ---- */

static bool valid_utf8(const unsigned char *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        int len = c >= 0xc2 && c < 0xe0 ? 2 : c >= 0xe0 && c < 0xf0 ? 3 : c >= 0xf0 && c < 0xf5 ? 4 : 0;
        if (!len || n - i < (size_t)len) return false;
        for (int k = 1; k < len; k++)
            if ((s[i + k] & 0xc0) != 0x80) return false;
        if (len == 3 && ((c == 0xe0 && s[i + 1] < 0xa0) || (c == 0xed && s[i + 1] > 0x9f))) return false;
        if (len == 4 && ((c == 0xf0 && s[i + 1] < 0x90) || (c == 0xf4 && s[i + 1] > 0x8f))) return false;
        i += (size_t)len;
    }
    return true;
}

static lp_status fail_at(int *http, int status, lp_error *err, lp_status st, const char *msg) {
    *http = status;
    return lp_fail(err, st, "%s", msg);
}

/* A list of BYTES items: shape [n] or [n, 1], n >= 1. */
static lp_status check_items(const lp_kserve_model_desc *m, const lp_kserve_tensor *t, bool text,
                             int *http, lp_error *err) {
    char msg[LP_ERROR_MSG_MAX];
    if (t->dtype != LP_KS_BYTES) {
        snprintf(msg, sizeof msg, "input '%s' must have datatype BYTES, got %s", t->name,
                 lp_kserve_dtype_name(t->dtype));
        return fail_at(http, 400, err, LP_ERR_FORMAT, msg);
    }
    if (!(t->ndim == 1 || (t->ndim == 2 && t->shape[1] == 1))) {
        snprintf(msg, sizeof msg, "input '%s' must have shape [n] or [n, 1] (one %s per row), got %d dimensions%s",
                 t->name, text ? "text" : "image", t->ndim,
                 t->ndim == 2 ? " with a second dimension other than 1" : "");
        return fail_at(http, 400, err, LP_ERR_FORMAT, msg);
    }
    if (t->count < 1) {
        snprintf(msg, sizeof msg, "input '%s' has no items (shape [0])", t->name);
        return fail_at(http, 400, err, LP_ERR_FORMAT, msg);
    }
    if (m->max_items > 0 && t->count > m->max_items) {
        snprintf(msg, sizeof msg, "input '%s' has %lld items; model '%s' takes at most %d per request",
                 t->name, (long long)t->count, m->name, m->max_items);
        return fail_at(http, 413, err, LP_ERR_INVALID_ARG, msg);
    }
    for (int64_t i = 0; i < t->count; i++) {
        const lp_kserve_bytes *e = &t->elems[i];
        if (m->max_item_bytes > 0 && e->len > m->max_item_bytes) {
            snprintf(msg, sizeof msg, "input '%s' element %lld is %zu bytes; model '%s' takes at most %zu",
                     t->name, (long long)i, e->len, m->name, m->max_item_bytes);
            return fail_at(http, 413, err, LP_ERR_INVALID_ARG, msg);
        }
        if (text && !valid_utf8(e->data, e->len)) {
            snprintf(msg, sizeof msg, "input '%s' element %lld is not valid UTF-8", t->name, (long long)i);
            return fail_at(http, 400, err, LP_ERR_FORMAT, msg);
        }
        if (!text && e->len == 0) {
            snprintf(msg, sizeof msg, "input '%s' element %lld is empty (expected an encoded image)",
                     t->name, (long long)i);
            return fail_at(http, 400, err, LP_ERR_FORMAT, msg);
        }
    }
    return LP_OK;
}

static lp_status check_pixels(const lp_kserve_model_desc *m, const lp_kserve_tensor *t,
                              lp_kserve_plan *plan, int *http, lp_error *err) {
    char msg[LP_ERROR_MSG_MAX];
    if (t->dtype != LP_KS_FP32) {
        snprintf(msg, sizeof msg, "input '%s' must have datatype FP32, got %s", t->name,
                 lp_kserve_dtype_name(t->dtype));
        return fail_at(http, 400, err, LP_ERR_FORMAT, msg);
    }
    if (t->ndim != 4 || t->shape[1] != 3 || t->shape[0] < 1 || t->shape[2] < 1 || t->shape[3] < 1) {
        snprintf(msg, sizeof msg, "input '%s' must have shape [n, 3, height, width] with n, height, width >= 1",
                 t->name);
        return fail_at(http, 400, err, LP_ERR_FORMAT, msg);
    }
    if (t->shape[2] > 8192 || t->shape[3] > 8192) {
        snprintf(msg, sizeof msg, "input '%s': height and width must be at most 8192", t->name);
        return fail_at(http, 413, err, LP_ERR_INVALID_ARG, msg);
    }
    if (m->max_items > 0 && t->shape[0] > m->max_items) {
        snprintf(msg, sizeof msg, "input '%s' has %lld images; model '%s' takes at most %d per request",
                 t->name, (long long)t->shape[0], m->name, m->max_items);
        return fail_at(http, 413, err, LP_ERR_INVALID_ARG, msg);
    }
    const float *x = t->values;
    for (int64_t i = 0; i < t->count; i++) {
        if (!isfinite(x[i])) {
            snprintf(msg, sizeof msg, "input '%s' element %lld is not a finite number", t->name, (long long)i);
            return fail_at(http, 400, err, LP_ERR_FORMAT, msg);
        }
    }
    plan->pixels = t;
    plan->pixels_h = (int)t->shape[2];
    plan->pixels_w = (int)t->shape[3];
    plan->n = (size_t)t->shape[0];
    return LP_OK;
}

static lp_status plan_inputs(const lp_kserve_model_desc *m, const lp_kserve_infer_request *r,
                             lp_kserve_plan *plan, int *http, lp_error *err) {
    kind_io io = io_of(m->kind);
    char msg[LP_ERROR_MSG_MAX], names[160];
    const lp_kserve_tensor *first = NULL, *second = NULL;
    for (int i = 0; i < r->n_inputs; i++) {
        const lp_kserve_tensor *t = &r->inputs[i];
        if (io.n_inputs > 0 && strcmp(t->name, io.inputs[0]) == 0) first = t;
        else if (io.n_inputs > 1 && strcmp(t->name, io.inputs[1]) == 0) second = t;
        else {
            join_names(io.inputs, io.n_inputs, names, sizeof names);
            snprintf(msg, sizeof msg, "model '%s' has no input '%s' (its inputs: %s)", m->name,
                     t->name, names);
            return fail_at(http, 400, err, LP_ERR_FORMAT, msg);
        }
    }
    lp_status st;
    if (m->kind == LP_KS_MODEL_IMAGE) {
        if ((first != NULL) == (second != NULL)) {
            snprintf(msg, sizeof msg, "model '%s' takes exactly one of the inputs '%s' (BYTES, encoded "
                     "images) or '%s' (FP32 [n, 3, height, width])", m->name, LP_KS_IN_IMAGE, LP_KS_IN_PIXELS);
            return fail_at(http, 400, err, LP_ERR_FORMAT, msg);
        }
        if (second) {
            plan->job = LP_KS_JOB_IMAGE_TENSOR;
            return check_pixels(m, second, plan, http, err);
        }
        st = check_items(m, first, false, http, err);
        if (st != LP_OK) return st;
        plan->job = LP_KS_JOB_IMAGE_BYTES;
        plan->text = first;
        plan->n = (size_t)first->count;
        return LP_OK;
    }
    if (!first) {
        snprintf(msg, sizeof msg, "model '%s' needs the input '%s' (BYTES, one text per row)", m->name,
                 LP_KS_IN_TEXT);
        return fail_at(http, 400, err, LP_ERR_FORMAT, msg);
    }
    st = check_items(m, first, true, http, err);
    if (st == LP_OK && second) st = check_items(m, second, true, http, err);
    if (st != LP_OK) return st;
    if (second && second->count != first->count) {
        snprintf(msg, sizeof msg, "input '%s' has %lld items but '%s' has %lld (one pair per row)",
                 LP_KS_IN_TEXT_PAIR, (long long)second->count, LP_KS_IN_TEXT, (long long)first->count);
        return fail_at(http, 400, err, LP_ERR_FORMAT, msg);
    }
    plan->job = m->kind == LP_KS_MODEL_TEXT_CLASSIFY ? LP_KS_JOB_CLASSIFY
                : m->kind == LP_KS_MODEL_TEXT_EMBED  ? LP_KS_JOB_EMBED
                                                     : LP_KS_JOB_TRANSLATE;
    plan->text = first;
    plan->pair = second;
    plan->n = (size_t)first->count;
    return LP_OK;
}

static lp_status plan_outputs(const lp_kserve_model_desc *m, const lp_kserve_infer_request *r,
                              lp_kserve_plan *plan, int *http, lp_error *err) {
    kind_io io = io_of(m->kind);
    char msg[LP_ERROR_MSG_MAX], names[160];
    if (r->n_outputs == 0) {
        for (int i = 0; i < io.n_outputs; i++)
            plan->outputs[i] = (lp_kserve_planned_output){io.outputs[i], io.out_kinds[i],
                                                          r->binary_data_output, 0};
        plan->n_outputs = io.n_outputs;
        return LP_OK;
    }
    for (int i = 0; i < r->n_outputs; i++) {
        const lp_kserve_output_request *o = &r->outputs[i];
        int which = -1;
        for (int k = 0; k < io.n_outputs; k++)
            if (strcmp(o->name, io.outputs[k]) == 0) which = k;
        if (which < 0) {
            join_names(io.outputs, io.n_outputs, names, sizeof names);
            snprintf(msg, sizeof msg, "model '%s' has no output '%s' (its outputs: %s)", m->name,
                     o->name, names);
            return fail_at(http, 400, err, LP_ERR_FORMAT, msg);
        }
        int k = o->classification;
        if (k > 0 && io.out_kinds[which] == LP_KS_OUT_KIND_TRANSLATION) {
            snprintf(msg, sizeof msg, "output '%s' is text: the classification parameter does not apply",
                     o->name);
            return fail_at(http, 400, err, LP_ERR_FORMAT, msg);
        }
        if (k > m->width) k = (int)m->width;
        plan->outputs[plan->n_outputs++] = (lp_kserve_planned_output){
            io.outputs[which], io.out_kinds[which],
            o->binary_data >= 0 ? o->binary_data == 1 : r->binary_data_output, k};
    }
    return LP_OK;
}

lp_status lp_kserve_plan_infer(const lp_kserve_model_desc *m, const lp_kserve_infer_request *r,
                               lp_kserve_plan *plan, int *http_status, lp_error *err) {
    memset(plan, 0, sizeof *plan);
    *http_status = 200;
    lp_status st = plan_inputs(m, r, plan, http_status, err);
    if (st == LP_OK) st = plan_outputs(m, r, plan, http_status, err);
    return st;
}

/* ---- metadata ---- */

static cJSON *tensor_meta(const char *name, const char *dtype, const int64_t *shape, int nd) {
    cJSON *t = cJSON_CreateObject();
    cJSON_AddStringToObject(t, "name", name);
    cJSON_AddStringToObject(t, "datatype", dtype);
    cJSON *s = cJSON_AddArrayToObject(t, "shape");
    for (int i = 0; i < nd; i++) cJSON_AddItemToArray(s, cJSON_CreateNumber((double)shape[i]));
    return t;
}

cJSON *lp_kserve_server_metadata(const char *version) {
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "name", "lepton");
    cJSON_AddStringToObject(j, "version", version ? version : "");
    cJSON *ext = cJSON_AddArrayToObject(j, "extensions");
    const char *names[] = {"binary_tensor_data", "classification", "statistics"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        cJSON_AddItemToArray(ext, cJSON_CreateString(names[i]));
    return j;
}

cJSON *lp_kserve_model_metadata(const lp_kserve_model_desc *m) {
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "name", m->name);
    cJSON *versions = cJSON_AddArrayToObject(j, "versions");
    cJSON_AddItemToArray(versions, cJSON_CreateString("1"));
    cJSON_AddStringToObject(j, "platform", "lepton");
    cJSON *in = cJSON_AddArrayToObject(j, "inputs");
    cJSON *out = cJSON_AddArrayToObject(j, "outputs");
    int64_t items[1] = {-1};
    int64_t rows[2] = {-1, m->width > 0 ? m->width : -1};
    switch (m->kind) {
    case LP_KS_MODEL_TEXT_CLASSIFY:
        cJSON_AddItemToArray(in, tensor_meta(LP_KS_IN_TEXT, "BYTES", items, 1));
        cJSON_AddItemToArray(in, tensor_meta(LP_KS_IN_TEXT_PAIR, "BYTES", items, 1));
        cJSON_AddItemToArray(out, tensor_meta(LP_KS_OUT_LOGITS, "FP32", rows, 2));
        cJSON_AddItemToArray(out, tensor_meta(LP_KS_OUT_PROBS, "FP32", rows, 2));
        break;
    case LP_KS_MODEL_TEXT_EMBED:
        cJSON_AddItemToArray(in, tensor_meta(LP_KS_IN_TEXT, "BYTES", items, 1));
        cJSON_AddItemToArray(out, tensor_meta(LP_KS_OUT_EMBEDDING, "FP32", rows, 2));
        break;
    case LP_KS_MODEL_IMAGE: {
        /* a ResNet takes any size: the client preprocesses (image_h/w, what the
         * model's own preprocessing makes, is reported as parameters) */
        int64_t px[4] = {-1, 3, -1, -1};
        cJSON_AddItemToArray(in, tensor_meta(LP_KS_IN_IMAGE, "BYTES", items, 1));
        cJSON_AddItemToArray(in, tensor_meta(LP_KS_IN_PIXELS, "FP32", px, 4));
        cJSON_AddItemToArray(out, tensor_meta(LP_KS_OUT_PROBS, "FP32", rows, 2));
        if (m->image_h > 0) {
            cJSON *p = cJSON_AddObjectToObject(j, "parameters");
            cJSON_AddNumberToObject(p, "preprocess_height", m->image_h);
            cJSON_AddNumberToObject(p, "preprocess_width", m->image_w);
        }
        break;
    }
    case LP_KS_MODEL_TRANSLATE:
        cJSON_AddItemToArray(in, tensor_meta(LP_KS_IN_TEXT, "BYTES", items, 1));
        cJSON_AddItemToArray(out, tensor_meta(LP_KS_OUT_TRANSLATION, "BYTES", items, 1));
        break;
    }
    return j;
}

static cJSON *duration(const lp_duration_stat *d) {
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "count", (double)d->count);
    cJSON_AddNumberToObject(j, "ns", (double)d->ns);
    return j;
}

cJSON *lp_kserve_model_stats_json(const char *name, const lp_model_stats *s) {
    static const lp_duration_stat zero = {0, 0};
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "name", name);
    cJSON_AddStringToObject(j, "version", "1");
    cJSON_AddNumberToObject(j, "last_inference", (double)s->last_inference_ms);
    cJSON_AddNumberToObject(j, "inference_count", (double)s->inference_count);
    cJSON_AddNumberToObject(j, "execution_count", (double)s->execution_count);
    cJSON *is = cJSON_AddObjectToObject(j, "inference_stats");
    cJSON_AddItemToObject(is, "success", duration(&s->success));
    cJSON_AddItemToObject(is, "fail", duration(&s->fail));
    cJSON_AddItemToObject(is, "queue", duration(&s->queue));
    /* lepton times preprocessing, forward and postprocessing as one step */
    cJSON_AddItemToObject(is, "compute_input", duration(&zero));
    cJSON_AddItemToObject(is, "compute_infer", duration(&s->compute_infer));
    cJSON_AddItemToObject(is, "compute_output", duration(&zero));
    cJSON_AddItemToObject(is, "cache_hit", duration(&zero));
    cJSON_AddItemToObject(is, "cache_miss", duration(&zero));
    cJSON *bs = cJSON_AddArrayToObject(j, "batch_stats");
    for (int i = 0; i < s->n_batches; i++) {
        cJSON *b = cJSON_CreateObject();
        cJSON_AddNumberToObject(b, "batch_size", s->batches[i].batch_size);
        cJSON_AddItemToObject(b, "compute_input", duration(&zero));
        cJSON_AddItemToObject(b, "compute_infer", duration(&s->batches[i].compute_infer));
        cJSON_AddItemToObject(b, "compute_output", duration(&zero));
        cJSON_AddItemToArray(bs, b);
    }
    return j;
}

/* ---- routes ---- */

/* Copies the segment [s, e) into buf (size cap); false when too long or empty. */
static bool take_segment(const char *s, const char *e, char *buf, size_t cap) {
    size_t n = (size_t)(e - s);
    if (n == 0 || n >= cap) return false;
    memcpy(buf, s, n);
    buf[n] = '\0';
    return true;
}

lp_kserve_route lp_kserve_match_route(const char *path) {
    lp_kserve_route r;
    memset(&r, 0, sizeof r);
    if (!path || strncmp(path, "/v2", 3) != 0 || (path[3] != '\0' && path[3] != '/')) return r;
    const char *p = path + 3;
    r.kind = LP_KS_ROUTE_BAD;
    if (strcmp(p, "") == 0 || strcmp(p, "/") == 0) {
        r.kind = LP_KS_ROUTE_SERVER_META;
        return r;
    }
    if (strcmp(p, "/health/live") == 0) {
        r.kind = LP_KS_ROUTE_LIVE;
        return r;
    }
    if (strcmp(p, "/health/ready") == 0) {
        r.kind = LP_KS_ROUTE_READY;
        return r;
    }
    if (strcmp(p, "/models/stats") == 0) {
        r.kind = LP_KS_ROUTE_ALL_STATS;
        return r;
    }
    if (strncmp(p, "/models/", 8) != 0) return r;
    p += 8;
    const char *slash = strchr(p, '/');
    const char *end = slash ? slash : p + strlen(p);
    if (!take_segment(p, end, r.model, sizeof r.model)) return r;
    p = end;
    if (strncmp(p, "/versions/", 10) == 0) {
        p += 10;
        slash = strchr(p, '/');
        end = slash ? slash : p + strlen(p);
        if (!take_segment(p, end, r.version, sizeof r.version)) return r;
        p = end;
    }
    if (*p == '\0') r.kind = LP_KS_ROUTE_MODEL_META;
    else if (strcmp(p, "/ready") == 0) r.kind = LP_KS_ROUTE_MODEL_READY;
    else if (strcmp(p, "/stats") == 0) r.kind = LP_KS_ROUTE_MODEL_STATS;
    else if (strcmp(p, "/infer") == 0) {
        r.kind = LP_KS_ROUTE_INFER;
        r.post = true;
    }
    return r;
}
