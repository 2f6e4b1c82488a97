/* libFuzzer target for the KServe v2 infer-request parser and planner: the
 * first 4 bytes (little-endian) give the Inference-Header-Content-Length
 * (0xffffffff: no header), the rest is the body. Any input either parses into
 * tensors whose element counts match their shapes and whose BYTES elements lie
 * inside the body or the parsed JSON, or is refused with a message; a parsed
 * request is planned against each model kind and, when accepted, answered
 * with synthetic outputs (JSON and binary) and classification strings. FP32
 * inputs also check the float printer: every value reads back exactly. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/kserve.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *label(const void *ctx, int64_t i) {
    (void)ctx;
    static const char *names[] = {"a", "b\"c", "\xe4\xb8\xad"};
    return i >= 0 && i < 3 ? names[i] : NULL;
}

static void check_request(const lp_kserve_infer_request *r, const uint8_t *body, size_t len) {
    for (int i = 0; i < r->n_inputs; i++) {
        const lp_kserve_tensor *t = &r->inputs[i];
        int64_t count = 1;
        for (int d = 0; d < t->ndim; d++) count *= t->shape[d];
        if (count != t->count) abort();
        if (t->dtype == LP_KS_BYTES) {
            volatile uint8_t sink = 0;
            for (int64_t k = 0; k < t->count; k++) {
                const lp_kserve_bytes *e = &t->elems[k];
                if (t->binary && (e->data < body || e->data + e->len > body + len)) abort();
                if (e->len) sink ^= e->data[e->len - 1];
            }
            (void)sink;
        } else if (!t->values) {
            abort();
        } else if (t->dtype == LP_KS_FP32) {
            /* every finite float prints as a number that reads back exactly */
            const float *f = t->values;
            for (int64_t k = 0; k < t->count && k < 256; k++) {
                char buf[64];
                int n = lp_kserve_format_f32(f[k], buf);
                if (n <= 0 || (size_t)n != strlen(buf)) abort();
                if (f[k] == f[k] && f[k] - f[k] == 0 && (float)strtod(buf, NULL) != f[k]) abort();
            }
        }
    }
}

static void answer(const lp_kserve_model_desc *m, const lp_kserve_plan *p) {
    size_t n = p->n < 64 ? p->n : 64;
    int64_t w = m->width > 0 ? m->width : 1;
    float *x = calloc(n * (size_t)w + 1, sizeof *x);
    if (!x) return;
    for (size_t i = 0; i < n * (size_t)w; i++) x[i] = (float)((i * 7919) % 13) - 6.0f;
    lp_kserve_output outs[4];
    void *blocks[4] = {0};
    memset(outs, 0, sizeof outs);
    lp_kserve_bytes tr[64];
    for (size_t i = 0; i < n; i++) tr[i] = (lp_kserve_bytes){(const unsigned char *)"xyz", 3};
    for (int k = 0; k < p->n_outputs; k++) {
        lp_kserve_output *o = &outs[k];
        o->name = p->outputs[k].name;
        o->binary = p->outputs[k].binary;
        o->shape[0] = (int64_t)n;
        if (p->outputs[k].kind == LP_KS_OUT_KIND_TRANSLATION) {
            o->dtype = LP_KS_BYTES;
            o->ndim = 1;
            o->elems = tr;
        } else if (p->outputs[k].classification > 0) {
            lp_kserve_bytes *e;
            lp_error err = {0};
            int c = p->outputs[k].classification;
            if (lp_kserve_classification(x, (int64_t)n, w, c, m->label, NULL, &e, &blocks[k], &err) != LP_OK)
                abort(); /* planned k is within the width */
            o->dtype = LP_KS_BYTES;
            o->ndim = 2;
            o->shape[1] = c;
            o->elems = e;
        } else {
            o->dtype = LP_KS_FP32;
            o->ndim = 2;
            o->shape[1] = w;
            o->values = x;
        }
    }
    char *body;
    size_t len;
    int64_t hlen;
    lp_error err = {0};
    if (lp_kserve_encode_response(m->name, "1", "id", outs, p->n_outputs, &body, &len, &hlen, &err) == LP_OK) {
        if (hlen > (int64_t)len) abort();
        free(body);
    }
    for (int k = 0; k < 4; k++) free(blocks[k]);
    free(x);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 4) return 0;
    uint32_t h = (uint32_t)data[0] | (uint32_t)data[1] << 8 | (uint32_t)data[2] << 16 | (uint32_t)data[3] << 24;
    const uint8_t *body = data + 4;
    size_t len = size - 4;
    int64_t header_len = h == 0xffffffffu ? -1 : (int64_t)(h <= len ? h : len);
    lp_kserve_infer_request r;
    lp_error err = {0};
    if (lp_kserve_parse_infer(body, len, header_len, &r, &err) != LP_OK) {
        if (!err.msg[0] || r.inputs || r.json) abort();
        return 0;
    }
    check_request(&r, body, len);
    const lp_kserve_model_desc models[] = {
        {.name = "cls", .kind = LP_KS_MODEL_TEXT_CLASSIFY, .width = 3, .max_items = 64,
         .max_item_bytes = 4096, .label = label},
        {.name = "emb", .kind = LP_KS_MODEL_TEXT_EMBED, .width = 8, .max_items = 64},
        {.name = "img", .kind = LP_KS_MODEL_IMAGE, .width = 3, .max_items = 64, .label = label},
        {.name = "img2", .kind = LP_KS_MODEL_IMAGE, .width = 3, .image_h = 2, .image_w = 2},
        {.name = "mt", .kind = LP_KS_MODEL_TRANSLATE, .max_items = 64},
    };
    for (size_t i = 0; i < sizeof models / sizeof *models; i++) {
        lp_kserve_plan p;
        int http = 0;
        lp_error e = {0};
        if (lp_kserve_plan_infer(&models[i], &r, &p, &http, &e) != LP_OK) {
            if (!e.msg[0] || (http != 400 && http != 413)) abort();
            continue;
        }
        if (p.n < 1 || p.n_outputs < 1) abort();
        answer(&models[i], &p);
    }
    lp_kserve_infer_request_free(&r);
    return 0;
}
