#include "loadgen/request.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

static lp_status serialize(lp_lg_request *req, const char *method, const lp_lg_url *url,
                           const char *path, const char *body, size_t body_len, lp_error *err) {
    char head[2048];
    int n;
    if (body)
        n = snprintf(head, sizeof head,
                     "%s %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\nConnection: keep-alive\r\n\r\n",
                     method, path, url->host_header, body_len);
    else
        n = snprintf(head, sizeof head, "%s %s HTTP/1.1\r\nHost: %s\r\n\r\n", method, path,
                     url->host_header);
    if (n < 0 || (size_t)n >= sizeof head)
        return lp_fail(err, LP_ERR_INVALID_ARG, "request path too long");
    req->len = (size_t)n + (body ? body_len : 0);
    req->bytes = malloc(req->len + 1);
    if (!req->bytes) return lp_fail(err, LP_ERR_NOMEM, "no memory for a %zu-byte request", req->len);
    memcpy(req->bytes, head, (size_t)n);
    if (body) memcpy(req->bytes + n, body, body_len);
    req->bytes[req->len] = '\0';
    return LP_OK;
}

lp_status lp_lg_request_get(lp_lg_request *req, const lp_lg_url *url, const char *path,
                            lp_error *err) {
    char full[1024];
    snprintf(full, sizeof full, "%s%s", url->prefix, path);
    return serialize(req, "GET", url, full, NULL, 0, err);
}

/* The JSON body for inputs [k, k+batch) (cycled); NULL when out of memory. */
static char *make_body(const lp_lg_options *o, const lp_lg_inputs *in, size_t k) {
    cJSON *root = cJSON_CreateObject(), *list = cJSON_CreateArray();
    bool ok = root && list;
    for (int b = 0; ok && b < o->batch; b++) {
        const char *item = in->items[(k + (size_t)b) % in->n];
        /* a text, or an image's base64 (lepton's image routes take both as strings) */
        cJSON *x = cJSON_CreateString(item);
        ok = x != NULL;
        if (x) cJSON_AddItemToArray(list, x);
    }
    if (!ok) {
        cJSON_Delete(root);
        if (!root) cJSON_Delete(list);
        return NULL;
    }
    if (o->endpoint == LP_LG_ENDPOINT_V2) {
        cJSON *inputs = cJSON_AddArrayToObject(root, "inputs");
        cJSON *t = cJSON_CreateObject();
        cJSON *shape = cJSON_CreateArray();
        if (!inputs || !t || !shape) {
            cJSON_Delete(t);
            cJSON_Delete(shape);
            cJSON_Delete(list);
            cJSON_Delete(root);
            return NULL;
        }
        cJSON_AddItemToArray(inputs, t);
        cJSON_AddStringToObject(t, "name", o->v2_input);
        cJSON_AddItemToArray(shape, cJSON_CreateNumber(o->batch));
        cJSON_AddItemToObject(t, "shape", shape);
        cJSON_AddStringToObject(t, "datatype", "BYTES");
        cJSON_AddItemToObject(t, "data", list);
    } else {
        cJSON_AddStringToObject(root, "model", o->model);
        cJSON_AddItemToObject(root, "inputs", list);
    }
    char *s = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return s;
}

lp_status lp_lg_requests_build(lp_lg_requests *reqs, const lp_lg_options *o,
                               const lp_lg_url *url, const lp_lg_inputs *in, lp_error *err) {
    memset(reqs, 0, sizeof *reqs);
    if (o->path) snprintf(reqs->path, sizeof reqs->path, "%s%s", url->prefix, o->path);
    else if (o->endpoint == LP_LG_ENDPOINT_V2)
        snprintf(reqs->path, sizeof reqs->path, "%s/v2/models/%s/infer", url->prefix, o->model);
    else if (o->endpoint == LP_LG_ENDPOINT_GET)
        snprintf(reqs->path, sizeof reqs->path, "%s/v2/health/live", url->prefix);
    else snprintf(reqs->path, sizeof reqs->path, "%s/v1/%s", url->prefix, o->task);
    reqs->method = o->endpoint == LP_LG_ENDPOINT_GET ? "GET" : "POST";
    size_t n = o->endpoint == LP_LG_ENDPOINT_GET ? 1 : in->n;
    reqs->r = calloc(n, sizeof *reqs->r);
    if (!reqs->r) return lp_fail(err, LP_ERR_NOMEM, "no memory for %zu requests", n);
    reqs->n = n;
    for (size_t k = 0; k < n; k++) {
        lp_status st;
        if (o->endpoint == LP_LG_ENDPOINT_GET) {
            st = serialize(&reqs->r[k], "GET", url, reqs->path, NULL, 0, err);
        } else if (in->kind == LP_LG_INPUT_JSON) {
            st = serialize(&reqs->r[k], "POST", url, reqs->path, in->items[k], in->lens[k], err);
        } else {
            char *body = make_body(o, in, k);
            if (!body) st = lp_fail(err, LP_ERR_NOMEM, "no memory for request bodies");
            else st = serialize(&reqs->r[k], "POST", url, reqs->path, body, strlen(body), err);
            free(body);
        }
        if (st) {
            lp_lg_requests_free(reqs);
            return st;
        }
    }
    return LP_OK;
}

void lp_lg_requests_free(lp_lg_requests *reqs) {
    for (size_t i = 0; i < reqs->n; i++) free(reqs->r[i].bytes);
    free(reqs->r);
    memset(reqs, 0, sizeof *reqs);
}
