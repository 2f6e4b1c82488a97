/* KServe v2 / Open Inference Protocol, the pure part: infer requests (JSON and
 * JSON + binary tail) with every validation, the plan against a model,
 * responses (JSON and binary), classification strings, metadata, statistics
 * and routes. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/kserve.h"
#include "tests/test_util.h"

static lp_status parse_str(const char *json, lp_kserve_infer_request *r, lp_error *err) {
    lp_error_clear(err);
    return lp_kserve_parse_infer((const unsigned char *)json, strlen(json), -1, r, err);
}

/* Body = json + tail (tail_len bytes); header length = strlen(json). */
static unsigned char *with_tail(const char *json, const void *tail, size_t tail_len, size_t *len) {
    size_t j = strlen(json);
    unsigned char *b = malloc(j + tail_len + 1);
    memcpy(b, json, j);
    if (tail_len) memcpy(b + j, tail, tail_len);
    *len = j + tail_len;
    return b;
}

static void test_parse_json(void) {
    lp_error err = {0};
    lp_kserve_infer_request r;
    CHECK_OK(parse_str("{\"id\":\"42\",\"inputs\":[{\"name\":\"text\",\"datatype\":\"BYTES\","
                       "\"shape\":[2],\"data\":[\"hello\",\"w\\u00f6rld\"]},"
                       "{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[2,2],"
                       "\"data\":[[1,2.5],[-3,4e-3]]},"
                       "{\"name\":\"b\",\"datatype\":\"BOOL\",\"shape\":[3],\"data\":[true,false,true]},"
                       "{\"name\":\"i\",\"datatype\":\"INT64\",\"shape\":[],\"data\":7}],"
                       "\"outputs\":[{\"name\":\"probabilities\",\"parameters\":{\"classification\":3,"
                       "\"binary_data\":true}},{\"name\":\"logits\"}],"
                       "\"parameters\":{\"binary_data_output\":true,\"timeout\":5000,\"custom\":1,"
                       "\"truncate\":false}}",
                       &r, &err),
             &err);
    CHECK(r.id && strcmp(r.id, "42") == 0);
    CHECK(r.n_inputs == 4 && r.n_outputs == 2);
    CHECK(r.binary_data_output && r.timeout_us == 5000 && r.truncate == 0);
    if (r.n_inputs == 4) {
        lp_kserve_tensor *t = &r.inputs[0];
        CHECK(t->dtype == LP_KS_BYTES && t->count == 2 && !t->binary);
        CHECK(t->elems[0].len == 5 && memcmp(t->elems[0].data, "hello", 5) == 0);
        CHECK(t->elems[1].len == 6 && memcmp(t->elems[1].data, "w\xc3\xb6rld", 6) == 0);
        lp_kserve_tensor *x = &r.inputs[1];
        const float *f = x->values;
        CHECK(x->dtype == LP_KS_FP32 && x->ndim == 2 && x->count == 4);
        CHECK(f[0] == 1 && f[1] == 2.5f && f[2] == -3 && f[3] == 4e-3f);
        const uint8_t *b = r.inputs[2].values;
        CHECK(b[0] == 1 && b[1] == 0 && b[2] == 1);
        CHECK(r.inputs[3].ndim == 0 && r.inputs[3].count == 1 &&
              ((const int64_t *)r.inputs[3].values)[0] == 7);
    }
    if (r.n_outputs == 2) {
        CHECK(strcmp(r.outputs[0].name, "probabilities") == 0 && r.outputs[0].classification == 3 &&
              r.outputs[0].binary_data == 1);
        CHECK(r.outputs[1].binary_data == -1 && r.outputs[1].classification == 0);
    }
    lp_kserve_infer_request_free(&r);
    lp_kserve_infer_request_free(&r); /* twice is harmless */
}

static void test_parse_binary(void) {
    lp_error err = {0};
    lp_kserve_infer_request r;
    /* two BYTES elements ("ab", ""), then 4 FP32 values */
    unsigned char tail[4 + 2 + 4 + 16];
    size_t o = 0;
    memcpy(tail + o, "\x02\x00\x00\x00" "ab" "\x00\x00\x00\x00", 10);
    o += 10;
    float vals[4] = {1.5f, -2, 0.25f, 1e30f};
    memcpy(tail + o, vals, 16);
    o += 16;
    const char *json = "{\"inputs\":[{\"name\":\"text\",\"datatype\":\"BYTES\",\"shape\":[2,1],"
                       "\"parameters\":{\"binary_data_size\":10}},"
                       "{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[1,4],"
                       "\"parameters\":{\"binary_data_size\":16}}]}";
    size_t len;
    unsigned char *body = with_tail(json, tail, o, &len);
    CHECK_OK(lp_kserve_parse_infer(body, len, (int64_t)strlen(json), &r, &err), &err);
    if (r.n_inputs == 2) {
        CHECK(r.inputs[0].binary && r.inputs[0].count == 2);
        CHECK(r.inputs[0].elems[0].len == 2 && memcmp(r.inputs[0].elems[0].data, "ab", 2) == 0);
        CHECK(r.inputs[0].elems[1].len == 0);
        CHECK(memcmp(r.inputs[1].values, vals, 16) == 0);
    }
    CHECK(r.n_outputs == 0 && !r.binary_data_output && r.timeout_us == -1 && r.truncate == -1);
    lp_kserve_infer_request_free(&r);

    /* the header length must cover exactly the JSON */
    CHECK_FAILS(lp_kserve_parse_infer(body, len, (int64_t)strlen(json) - 1, &r, &err),
                LP_ERR_FORMAT, &err, "malformed JSON");
    CHECK_FAILS(lp_kserve_parse_infer(body, len, (int64_t)strlen(json) + 1, &r, &err),
                LP_ERR_FORMAT, &err, "unexpected bytes after the JSON");
    CHECK_FAILS(lp_kserve_parse_infer(body, len, (int64_t)len + 1, &r, &err), LP_ERR_FORMAT, &err,
                "larger than the body");
    /* no header: the tail is garbage after the JSON */
    CHECK_FAILS(lp_kserve_parse_infer(body, len, -1, &r, &err), LP_ERR_FORMAT, &err,
                "Inference-Header-Content-Length");
    /* a missing byte of binary data */
    CHECK_FAILS(lp_kserve_parse_infer(body, len - 1, (int64_t)strlen(json), &r, &err),
                LP_ERR_FORMAT, &err, "binary_data_size 16 is more than the 15 bytes");
    free(body);

    /* extra bytes after the last tensor */
    body = with_tail(json, tail, o, &len);
    unsigned char *longer = malloc(len + 3);
    memcpy(longer, body, len);
    memcpy(longer + len, "xyz", 3);
    CHECK_FAILS(lp_kserve_parse_infer(longer, len + 3, (int64_t)strlen(json), &r, &err),
                LP_ERR_FORMAT, &err, "add up to 26");
    free(longer);
    free(body);

    /* BYTES element lengths that lie */
    const char *j1 = "{\"inputs\":[{\"name\":\"t\",\"datatype\":\"BYTES\",\"shape\":[1],"
                     "\"parameters\":{\"binary_data_size\":6}}]}";
    body = with_tail(j1, "\xff\xff\xff\x7f" "ab", 6, &len);
    CHECK_FAILS(lp_kserve_parse_infer(body, len, (int64_t)strlen(j1), &r, &err), LP_ERR_FORMAT,
                &err, "says 2147483647 bytes but only 2 are left");
    free(body);
    body = with_tail(j1, "\x01\x00\x00\x00" "ab", 6, &len);
    CHECK_FAILS(lp_kserve_parse_infer(body, len, (int64_t)strlen(j1), &r, &err), LP_ERR_FORMAT,
                &err, "left over");
    free(body);
    const char *j2 = "{\"inputs\":[{\"name\":\"t\",\"datatype\":\"BYTES\",\"shape\":[1000000000],"
                     "\"parameters\":{\"binary_data_size\":6}}]}";
    body = with_tail(j2, "\x01\x00\x00\x00" "ab", 6, &len);
    CHECK_FAILS(lp_kserve_parse_infer(body, len, (int64_t)strlen(j2), &r, &err), LP_ERR_FORMAT,
                &err, "cannot hold 1000000000 BYTES elements");
    free(body);
    const char *j3 = "{\"inputs\":[{\"name\":\"t\",\"datatype\":\"BYTES\",\"shape\":[2],"
                     "\"parameters\":{\"binary_data_size\":8}}]}";
    body = with_tail(j3, "\x02\x00\x00\x00" "ab\x01\x00", 8, &len);
    CHECK_FAILS(lp_kserve_parse_infer(body, len, (int64_t)strlen(j3), &r, &err), LP_ERR_FORMAT,
                &err, "ends inside the length of element 1");
    free(body);
    /* fixed-size types: size must be shape x element size */
    const char *j4 = "{\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[3],"
                     "\"parameters\":{\"binary_data_size\":8}}]}";
    body = with_tail(j4, vals, 8, &len);
    CHECK_FAILS(lp_kserve_parse_infer(body, len, (int64_t)strlen(j4), &r, &err), LP_ERR_FORMAT,
                &err, "needs 12 bytes");
    free(body);
    const char *j5 = "{\"inputs\":[{\"name\":\"x\",\"datatype\":\"BOOL\",\"shape\":[2],"
                     "\"parameters\":{\"binary_data_size\":2}}]}";
    body = with_tail(j5, "\x01\x02", 2, &len);
    CHECK_FAILS(lp_kserve_parse_infer(body, len, (int64_t)strlen(j5), &r, &err), LP_ERR_FORMAT,
                &err, "must be 0 or 1");
    free(body);

    int64_t h;
    CHECK_OK(lp_kserve_parse_header_length("123", 200, &h, &err), &err);
    CHECK(h == 123);
    CHECK_OK(lp_kserve_parse_header_length(NULL, 200, &h, &err), &err);
    CHECK(h == -1);
    CHECK_FAILS(lp_kserve_parse_header_length("-1", 200, &h, &err), LP_ERR_FORMAT, &err,
                "non-negative integer");
    CHECK_FAILS(lp_kserve_parse_header_length("12x", 200, &h, &err), LP_ERR_FORMAT, &err,
                "non-negative integer");
    CHECK_FAILS(lp_kserve_parse_header_length("201", 200, &h, &err), LP_ERR_FORMAT, &err,
                "larger than the body");
    CHECK_FAILS(lp_kserve_parse_header_length("99999999999999999999999", 200, &h, &err),
                LP_ERR_FORMAT, &err, "too large");
}

static void test_parse_errors(void) {
    lp_error err = {0};
    lp_kserve_infer_request r;
    struct {
        const char *json, *needle;
    } cases[] = {
        {"", "empty"},
        {"{\"inputs\":[", "malformed JSON"},
        {"[1,2]", "must be a JSON object"},
        {"{}", "\"inputs\" must be an array"},
        {"{\"inputs\":[]}", "1..64"},
        {"{\"inputs\":[1]}", "inputs[0] must be an object"},
        {"{\"inputs\":[{\"datatype\":\"FP32\",\"shape\":[1],\"data\":[1]}]}", "\"name\" must be a string"},
        {"{\"inputs\":[{\"name\":\"\",\"datatype\":\"FP32\",\"shape\":[1],\"data\":[1]}]}", "1..128 bytes"},
        {"{\"inputs\":[{\"name\":\"x\",\"datatype\":\"FLOAT\",\"shape\":[1],\"data\":[1]}]}", "unknown datatype 'FLOAT'"},
        {"{\"inputs\":[{\"name\":\"x\",\"datatype\":\"fp32\",\"shape\":[1],\"data\":[1]}]}", "unknown datatype"},
        {"{\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"data\":[1]}]}", "\"shape\" must be an array"},
        {"{\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[-1],\"data\":[1]}]}", "shape[0] must be an integer"},
        {"{\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[1.5],\"data\":[1]}]}", "shape[0] must be an integer"},
        {"{\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data\":[1]}]}", "9 dimensions"},
        {"{\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[100000,100000,100000],\"data\":[1]}]}", "more than"},
        {"{\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[3],\"data\":[1,2]}]}", "shape says 3 elements but \"data\" has 2"},
        {"{\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[2],\"data\":[1,\"a\"]}]}", "element 1 must be a number"},
        {"{\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[1],\"data\":[1e300]}]}", "out of the datatype's range"},
        {"{\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP16\",\"shape\":[1],\"data\":[70000]}]}", "out of the datatype's range"},
        {"{\"inputs\":[{\"name\":\"x\",\"datatype\":\"INT8\",\"shape\":[1],\"data\":[128]}]}", "-128..127"},
        {"{\"inputs\":[{\"name\":\"x\",\"datatype\":\"INT32\",\"shape\":[1],\"data\":[1.5]}]}", "32-bit integer"},
        {"{\"inputs\":[{\"name\":\"x\",\"datatype\":\"UINT8\",\"shape\":[1],\"data\":[-1]}]}", "0..255"},
        {"{\"inputs\":[{\"name\":\"x\",\"datatype\":\"BOOL\",\"shape\":[1],\"data\":[1]}]}", "true or false"},
        {"{\"inputs\":[{\"name\":\"x\",\"datatype\":\"BYTES\",\"shape\":[1],\"data\":[5]}]}", "must be a string"},
        {"{\"inputs\":[{\"name\":\"x\",\"datatype\":\"BYTES\",\"shape\":[1],\"data\":[{\"a\":1}]}]}", "array of values"},
        {"{\"inputs\":[{\"name\":\"x\",\"datatype\":\"BYTES\",\"shape\":[1],\"data\":\"a\"}]}", "must be an array"},
        {"{\"inputs\":[{\"name\":\"x\",\"datatype\":\"BYTES\",\"shape\":[1]}]}", "no \"data\""},
        {"{\"inputs\":[{\"name\":\"x\",\"datatype\":\"BYTES\",\"shape\":[1],\"data\":[\"a\"],\"parameters\":{\"binary_data_size\":1}}]}", "not both"},
        {"{\"inputs\":[{\"name\":\"x\",\"datatype\":\"BYTES\",\"shape\":[1],\"parameters\":{\"binary_data_size\":5}}]}", "no Inference-Header-Content-Length"},
        {"{\"inputs\":[{\"name\":\"x\",\"datatype\":\"BYTES\",\"shape\":[1],\"parameters\":{\"binary_data_size\":-5}}]}", "binary_data_size must be"},
        {"{\"inputs\":[{\"name\":\"x\",\"datatype\":\"BYTES\",\"shape\":[1],\"parameters\":{\"shared_memory_region\":\"r\"}}]}", "shared memory"},
        {"{\"inputs\":[{\"name\":\"x\",\"datatype\":\"BYTES\",\"shape\":[1],\"data\":[\"a\"]},{\"name\":\"x\",\"datatype\":\"BYTES\",\"shape\":[1],\"data\":[\"a\"]}]}", "given twice"},
        {"{\"inputs\":[{\"name\":\"x\",\"datatype\":\"BYTES\",\"shape\":[1],\"data\":[\"a\"]}],\"outputs\":{}}", "\"outputs\" must be an array"},
        {"{\"inputs\":[{\"name\":\"x\",\"datatype\":\"BYTES\",\"shape\":[1],\"data\":[\"a\"]}],\"outputs\":[{\"name\":\"o\",\"parameters\":{\"classification\":0}}]}", "positive integer"},
        {"{\"inputs\":[{\"name\":\"x\",\"datatype\":\"BYTES\",\"shape\":[1],\"data\":[\"a\"]}],\"outputs\":[{\"name\":\"o\",\"parameters\":{\"binary_data\":1}}]}", "binary_data must be true or false"},
        {"{\"inputs\":[{\"name\":\"x\",\"datatype\":\"BYTES\",\"shape\":[1],\"data\":[\"a\"]}],\"outputs\":[{\"name\":\"o\"},{\"name\":\"o\"}]}", "requested twice"},
        {"{\"id\":5,\"inputs\":[{\"name\":\"x\",\"datatype\":\"BYTES\",\"shape\":[1],\"data\":[\"a\"]}]}", "\"id\" must be a string"},
        {"{\"inputs\":[{\"name\":\"x\",\"datatype\":\"BYTES\",\"shape\":[1],\"data\":[\"a\"]}],\"parameters\":{\"timeout\":-1}}", "parameters.timeout"},
        {"{\"inputs\":[{\"name\":\"x\",\"datatype\":\"BYTES\",\"shape\":[1],\"data\":[\"a\"]}],\"parameters\":{\"binary_data_output\":\"yes\"}}", "binary_data_output"},
        {"{\"inputs\":[{\"name\":\"x\",\"datatype\":\"BYTES\",\"shape\":[1],\"data\":[\"a\"]}]} x", "unexpected bytes"},
        {"{\"inputs\":[{\"name\":\"x\",\"datatype\":\"BYTES\",\"shape\":[1],\"data\":[\"a\"]}],\"parameters\":{\"truncate\":0}}", "parameters.truncate"},
        {"{\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[1],\"data\":[[[[[[[[[[1]]]]]]]]]]}]}", "nested at most"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        lp_status st = parse_str(cases[i].json, &r, &err);
        bool ok = st == LP_ERR_FORMAT && strstr(err.msg, cases[i].needle) != NULL;
        CHECK_MSG(ok, "case %zu (%s): got %s '%s', want '%s'", i, cases[i].json, lp_status_name(st),
                  err.msg, cases[i].needle);
        CHECK(r.inputs == NULL && r.json == NULL); /* freed on failure */
    }
    /* a NUL inside the JSON is not accepted as the end */
    const char nul[] = "{\"inputs\":[{\"name\":\"x\",\"datatype\":\"BYTES\",\"shape\":[1],\"data\":[\"a\"]}]}\0garbage";
    lp_error_clear(&err);
    CHECK(lp_kserve_parse_infer((const unsigned char *)nul, sizeof nul - 1, -1, &r, &err) != LP_OK);
    lp_kserve_infer_request_free(&r);
}

/* ---- plans ---- */

static const char *labels3[] = {"negative", "neutral", "positive"};
static const char *label3(const void *ctx, int64_t i) {
    (void)ctx;
    return i >= 0 && i < 3 ? labels3[i] : NULL;
}

static lp_status plan_str(const lp_kserve_model_desc *m, const char *json, lp_kserve_infer_request *r,
                          lp_kserve_plan *p, int *http, lp_error *err) {
    lp_status st = parse_str(json, r, err);
    if (st != LP_OK) {
        *http = 400;
        return st;
    }
    return lp_kserve_plan_infer(m, r, p, http, err);
}

static void test_plan(void) {
    lp_kserve_model_desc cls = {.name = "sent", .kind = LP_KS_MODEL_TEXT_CLASSIFY, .width = 3,
                                .max_items = 4, .max_item_bytes = 10, .label = label3};
    lp_kserve_model_desc emb = {.name = "mini", .kind = LP_KS_MODEL_TEXT_EMBED, .width = 384};
    lp_kserve_model_desc img = {.name = "res", .kind = LP_KS_MODEL_IMAGE, .width = 3,
                                .image_h = 2, .image_w = 2};
    lp_error err = {0};
    lp_kserve_infer_request r;
    lp_kserve_plan p;
    int http;

    CHECK_OK(plan_str(&cls, "{\"inputs\":[{\"name\":\"text\",\"datatype\":\"BYTES\",\"shape\":[2,1],"
                            "\"data\":[\"a\",\"b\"]},{\"name\":\"text_pair\",\"datatype\":\"BYTES\","
                            "\"shape\":[2],\"data\":[\"c\",\"d\"]}],\"outputs\":[{\"name\":"
                            "\"probabilities\",\"parameters\":{\"classification\":9}}]}",
                      &r, &p, &http, &err),
             &err);
    CHECK(p.job == LP_KS_JOB_CLASSIFY && p.n == 2 && p.text == &r.inputs[0] && p.pair == &r.inputs[1]);
    CHECK(p.n_outputs == 1 && p.outputs[0].kind == LP_KS_OUT_KIND_PROBS &&
          p.outputs[0].classification == 3 && !p.outputs[0].binary);
    lp_kserve_infer_request_free(&r);

    /* no outputs named: all of them, binary per binary_data_output */
    CHECK_OK(plan_str(&cls, "{\"inputs\":[{\"name\":\"text\",\"datatype\":\"BYTES\",\"shape\":[1],"
                            "\"data\":[\"a\"]}],\"parameters\":{\"binary_data_output\":true}}",
                      &r, &p, &http, &err),
             &err);
    CHECK(p.n_outputs == 2 && p.outputs[0].kind == LP_KS_OUT_KIND_LOGITS && p.outputs[0].binary &&
          p.outputs[1].kind == LP_KS_OUT_KIND_PROBS && p.outputs[1].binary && !p.pair);
    lp_kserve_infer_request_free(&r);

    CHECK_OK(plan_str(&emb, "{\"inputs\":[{\"name\":\"text\",\"datatype\":\"BYTES\",\"shape\":[1],"
                            "\"data\":[\"a\"]}],\"outputs\":[{\"name\":\"embedding\",\"parameters\":"
                            "{\"binary_data\":true}}],\"parameters\":{\"binary_data_output\":false}}",
                      &r, &p, &http, &err),
             &err);
    CHECK(p.job == LP_KS_JOB_EMBED && p.n_outputs == 1 && p.outputs[0].binary);
    lp_kserve_infer_request_free(&r);

    CHECK_OK(plan_str(&img, "{\"inputs\":[{\"name\":\"pixel_values\",\"datatype\":\"FP32\","
                            "\"shape\":[1,3,2,2],\"data\":[0,1,2,3,4,5,6,7,8,9,10,11]}]}",
                      &r, &p, &http, &err),
             &err);
    CHECK(p.job == LP_KS_JOB_IMAGE_TENSOR && p.n == 1 && p.pixels_h == 2 && p.pixels_w == 2 &&
          p.pixels == &r.inputs[0]);
    lp_kserve_infer_request_free(&r);
    /* any size: the client did the preprocessing */
    CHECK_OK(plan_str(&img, "{\"inputs\":[{\"name\":\"pixel_values\",\"datatype\":\"FP32\","
                            "\"shape\":[2,3,1,2],\"data\":[0,1,2,3,4,5,6,7,8,9,10,11]}]}",
                      &r, &p, &http, &err),
             &err);
    CHECK(p.n == 2 && p.pixels_h == 1 && p.pixels_w == 2);
    lp_kserve_infer_request_free(&r);
    CHECK_OK(plan_str(&img, "{\"inputs\":[{\"name\":\"image\",\"datatype\":\"BYTES\","
                            "\"shape\":[1],\"data\":[\"\\u0089PNG\"]}]}",
                      &r, &p, &http, &err),
             &err);
    CHECK(p.job == LP_KS_JOB_IMAGE_BYTES && p.n == 1 && p.n_outputs == 1 &&
          p.outputs[0].kind == LP_KS_OUT_KIND_PROBS);
    lp_kserve_infer_request_free(&r);

    struct {
        const lp_kserve_model_desc *m;
        const char *json;
        int status;
        const char *needle;
    } bad[] = {
        {&cls, "{\"inputs\":[{\"name\":\"txt\",\"datatype\":\"BYTES\",\"shape\":[1],\"data\":[\"a\"]}]}",
         400, "model 'sent' has no input 'txt' (its inputs: text, text_pair)"},
        {&cls, "{\"inputs\":[{\"name\":\"text\",\"datatype\":\"FP32\",\"shape\":[1],\"data\":[1]}]}",
         400, "must have datatype BYTES, got FP32"},
        {&cls, "{\"inputs\":[{\"name\":\"text\",\"datatype\":\"BYTES\",\"shape\":[1,2],\"data\":[\"a\",\"b\"]}]}",
         400, "shape [n] or [n, 1]"},
        {&cls, "{\"inputs\":[{\"name\":\"text\",\"datatype\":\"BYTES\",\"shape\":[0],\"data\":[]}]}",
         400, "no items"},
        {&cls, "{\"inputs\":[{\"name\":\"text\",\"datatype\":\"BYTES\",\"shape\":[5],\"data\":[\"a\",\"b\",\"c\",\"d\",\"e\"]}]}",
         413, "at most 4 per request"},
        {&cls, "{\"inputs\":[{\"name\":\"text\",\"datatype\":\"BYTES\",\"shape\":[1],\"data\":[\"01234567890\"]}]}",
         413, "is 11 bytes; model 'sent' takes at most 10"},
        {&cls, "{\"inputs\":[{\"name\":\"text_pair\",\"datatype\":\"BYTES\",\"shape\":[1],\"data\":[\"a\"]}]}",
         400, "needs the input 'text'"},
        {&cls, "{\"inputs\":[{\"name\":\"text\",\"datatype\":\"BYTES\",\"shape\":[1],\"data\":[\"a\"]},"
               "{\"name\":\"text_pair\",\"datatype\":\"BYTES\",\"shape\":[2],\"data\":[\"a\",\"b\"]}]}",
         400, "'text_pair' has 2 items but 'text' has 1"},
        {&cls, "{\"inputs\":[{\"name\":\"text\",\"datatype\":\"BYTES\",\"shape\":[1],\"data\":[\"a\"]}],"
               "\"outputs\":[{\"name\":\"embedding\"}]}",
         400, "has no output 'embedding' (its outputs: logits, probabilities)"},
        {&img, "{\"inputs\":[{\"name\":\"pixel_values\",\"datatype\":\"FP32\",\"shape\":[1,1,2,2],\"data\":[0,1,2,3]}]}",
         400, "[n, 3, height, width]"},
        {&img, "{\"inputs\":[{\"name\":\"pixel_values\",\"datatype\":\"FP64\",\"shape\":[1],\"data\":[0]}]}",
         400, "must have datatype FP32"},
        {&img, "{\"inputs\":[{\"name\":\"image\",\"datatype\":\"BYTES\",\"shape\":[1],\"data\":[\"\"]}]}",
         400, "is empty"},
        {&img, "{\"inputs\":[{\"name\":\"image\",\"datatype\":\"BYTES\",\"shape\":[1],\"data\":[\"x\"]},"
               "{\"name\":\"pixel_values\",\"datatype\":\"FP32\",\"shape\":[1,3,2,2],\"data\":[0,1,2,3,4,5,6,7,8,9,10,11]}]}",
         400, "exactly one of the inputs"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        lp_status st = plan_str(bad[i].m, bad[i].json, &r, &p, &http, &err);
        CHECK_MSG(st != LP_OK && http == bad[i].status && strstr(err.msg, bad[i].needle),
                  "case %zu: got %d '%s', want %d '%s'", i, http, err.msg, bad[i].status,
                  bad[i].needle);
        lp_kserve_infer_request_free(&r);
    }

    /* invalid UTF-8 in a binary text element */
    const char *j = "{\"inputs\":[{\"name\":\"text\",\"datatype\":\"BYTES\",\"shape\":[1],"
                    "\"parameters\":{\"binary_data_size\":6}}]}";
    size_t len;
    unsigned char *body = with_tail(j, "\x02\x00\x00\x00\xc3\x28", 6, &len);
    CHECK_OK(lp_kserve_parse_infer(body, len, (int64_t)strlen(j), &r, &err), &err);
    CHECK(lp_kserve_plan_infer(&cls, &r, &p, &http, &err) == LP_ERR_FORMAT && http == 400 &&
          strstr(err.msg, "not valid UTF-8"));
    lp_kserve_infer_request_free(&r);
    free(body);
}

/* ---- responses ---- */

static void test_encode(void) {
    lp_error err = {0};
    float logits[6] = {0.5f, -1, 2, 0.1f, 0.2f, 0.3f};
    lp_kserve_output out = {.name = "logits", .dtype = LP_KS_FP32, .ndim = 2, .shape = {2, 3},
                            .values = logits};
    char *body;
    size_t len;
    int64_t hlen;
    CHECK_OK(lp_kserve_encode_response("sent", "1", "42", &out, 1, &body, &len, &hlen, &err), &err);
    const char *want = "{\"model_name\":\"sent\",\"model_version\":\"1\",\"id\":\"42\",\"outputs\":"
                       "[{\"name\":\"logits\",\"datatype\":\"FP32\",\"shape\":[2,3],"
                       "\"data\":[0.5,-1,2,0.1,0.2,0.3]}]}";
    CHECK_MSG(body && strcmp(body, want) == 0, "got %s", body);
    CHECK(hlen == -1 && len == strlen(want));
    free(body);

    cJSON *params = cJSON_Parse("{\"truncated\":[false,true]}");
    CHECK_OK(lp_kserve_encode_response_params("sent", "1", NULL, params, &out, 1, &body, &len, &hlen, &err),
             &err);
    const char *prefix = "{\"model_name\":\"sent\",\"model_version\":\"1\",\"parameters\":"
                         "{\"truncated\":[false,true]},\"outputs\":";
    CHECK_MSG(body && strncmp(body, prefix, strlen(prefix)) == 0, "got %s", body);
    free(body);
    cJSON_Delete(params);

    /* classification strings */
    lp_kserve_bytes *elems;
    void *block;
    CHECK_OK(lp_kserve_classification(logits, 2, 3, 2, label3, NULL, &elems, &block, &err), &err);
    const char *wantc[] = {"2.000000:2:positive", "0.500000:0:negative", "0.300000:2:positive",
                           "0.200000:1:neutral"};
    for (int i = 0; i < 4; i++)
        CHECK_MSG(elems[i].len == strlen(wantc[i]) && memcmp(elems[i].data, wantc[i], elems[i].len) == 0,
                  "element %d: %.*s", i, (int)elems[i].len, elems[i].data);
    float ties[3] = {1, 1, 1};
    lp_kserve_bytes *te;
    void *tb;
    CHECK_OK(lp_kserve_classification(ties, 1, 3, 3, NULL, NULL, &te, &tb, &err), &err);
    CHECK(te[0].len == 10 && memcmp(te[0].data, "1.000000:0", 10) == 0 &&
          memcmp(te[2].data, "1.000000:2", 10) == 0);
    free(tb);
    CHECK_FAILS(lp_kserve_classification(ties, 1, 3, 4, NULL, NULL, &te, &tb, &err),
                LP_ERR_INVALID_ARG, &err, "nothing to classify");

    /* mixed: the classification as binary BYTES, the logits as JSON */
    lp_kserve_output two[2] = {
        {.name = "probabilities", .dtype = LP_KS_BYTES, .ndim = 2, .shape = {2, 2}, .elems = elems,
         .binary = true},
        {.name = "logits", .dtype = LP_KS_FP32, .ndim = 2, .shape = {2, 3}, .values = logits,
         .binary = true},
    };
    CHECK_OK(lp_kserve_encode_response("sent", NULL, NULL, two, 2, &body, &len, &hlen, &err), &err);
    size_t bytes_size = 0;
    for (int i = 0; i < 4; i++) bytes_size += 4 + strlen(wantc[i]);
    CHECK(hlen > 0 && (size_t)hlen + bytes_size + 24 == len);
    if (hlen > 0) {
        cJSON *j = cJSON_ParseWithLength(body, (size_t)hlen);
        CHECK(j != NULL);
        cJSON *o0 = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "outputs"), 0);
        cJSON *bds = cJSON_GetObjectItem(cJSON_GetObjectItem(o0, "parameters"), "binary_data_size");
        CHECK(cJSON_IsNumber(bds) && (size_t)bds->valuedouble == bytes_size);
        CHECK(cJSON_GetObjectItem(o0, "data") == NULL);
        CHECK(strcmp(cJSON_GetObjectItem(o0, "datatype")->valuestring, "BYTES") == 0);
        cJSON_Delete(j);
        const unsigned char *t = (const unsigned char *)body + hlen;
        CHECK(t[0] == strlen(wantc[0]) && t[1] == 0 && memcmp(t + 4, wantc[0], strlen(wantc[0])) == 0);
        CHECK(memcmp(body + len - 24, logits, 24) == 0);
    }
    free(body);
    two[0].binary = false;
    two[1].binary = false;
    CHECK_OK(lp_kserve_encode_response("sent", NULL, NULL, two, 2, &body, &len, &hlen, &err), &err);
    CHECK(hlen == -1 && strstr(body, "\"data\":[\"2.000000:2:positive\",\"0.500000:0:negative\","));
    free(body);
    free(block);

    /* other datatypes in JSON */
    int64_t iv[2] = {-5, 9007199254740993LL};
    uint8_t bv[2] = {1, 0};
    uint16_t hv[1] = {0x3c00}; /* 1.0 in FP16 */
    float nan_inf[2] = {NAN, INFINITY};
    lp_kserve_output misc[4] = {
        {.name = "i", .dtype = LP_KS_INT64, .ndim = 1, .shape = {2}, .values = iv},
        {.name = "b", .dtype = LP_KS_BOOL, .ndim = 1, .shape = {2}, .values = bv},
        {.name = "h", .dtype = LP_KS_FP16, .ndim = 1, .shape = {1}, .values = hv},
        {.name = "f", .dtype = LP_KS_FP32, .ndim = 1, .shape = {2}, .values = nan_inf},
    };
    CHECK_OK(lp_kserve_encode_response("m", NULL, NULL, misc, 4, &body, &len, &hlen, &err), &err);
    CHECK_MSG(strstr(body, "\"data\":[-5,9007199254740993]") && strstr(body, "\"data\":[true,false]") &&
                  strstr(body, "\"data\":[1]") && strstr(body, "\"data\":[null,null]"),
              "got %s", body);
    cJSON *pj = cJSON_Parse(body);
    CHECK(pj != NULL);
    cJSON_Delete(pj);
    free(body);

    char *e = lp_kserve_error_json("bad \"x\"\n");
    CHECK(e && strcmp(e, "{\"error\":\"bad \\\"x\\\"\\n\"}") == 0);
    free(e);
}

/* Every float printed reads back exactly, never longer than %.9g; on a
 * sweep of random bit patterns and on the awkward values. */
static void test_format_f32(void) {
    char buf[64], ref[64];
    const float fixed[] = {1, -1, 0.1f, 0.5f, 100, 123456789, 1e-7f, 1.5e-45f, 3.4028235e38f,
                           1e30f, 16777216, 0.000123f, 1e-6f, 9.99999e-7f, 1e15f, 1e16f, 2.5f};
    /* 123456790 reads back as 123456792.f; 1e30 and the extremes are beyond the
     * fast path's exact powers of ten and come from %.9g */
    const char *want[] = {"1", "-1", "0.1", "0.5", "100", "123456790", "1e-7", "1.40129846e-45",
                          "3.40282347e+38", "1.00000002e30", "16777216", "1.23e-4", "1e-6",
                          "9.99999e-7", "1e15", "1e16", "2.5"};
    for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++) {
        lp_kserve_format_f32(fixed[i], buf);
        CHECK_MSG(strcmp(buf, want[i]) == 0, "%.9g printed as %s, want %s", (double)fixed[i], buf, want[i]);
    }
    lp_kserve_format_f32(NAN, buf);
    CHECK(strcmp(buf, "null") == 0);
    lp_kserve_format_f32(-INFINITY, buf);
    CHECK(strcmp(buf, "null") == 0);
    lp_kserve_format_f32(-0.0f, buf);
    CHECK(strcmp(buf, "0") == 0);
    lp_rng rng = lp_rng_seed(7);
    int bad = 0, longer = 0;
    for (int i = 0; i < 300000; i++) {
        uint32_t bits = (uint32_t)lp_rng_next(&rng);
        float f;
        memcpy(&f, &bits, 4);
        if (f != f || f - f != 0) continue;
        if (i % 2) f = lp_rng_normal(&rng); /* half of them in the range models produce */
        int n = lp_kserve_format_f32(f, buf);
        if ((float)strtod(buf, NULL) != f || (size_t)n != strlen(buf)) bad++;
        snprintf(ref, sizeof ref, "%.9g", (double)f);
        if (strlen(buf) > strlen(ref)) longer++;
    }
    CHECK_MSG(bad == 0, "%d floats do not read back", bad);
    CHECK_MSG(longer == 0, "%d floats printed longer than %%.9g", longer);
}

static void test_metadata_stats_routes(void) {
    lp_kserve_model_desc cls = {.name = "sent", .kind = LP_KS_MODEL_TEXT_CLASSIFY, .width = 3};
    cJSON *j = lp_kserve_model_metadata(&cls);
    char *s = cJSON_PrintUnformatted(j);
    const char *want = "{\"name\":\"sent\",\"versions\":[\"1\"],\"platform\":\"lepton\",\"inputs\":["
                       "{\"name\":\"text\",\"datatype\":\"BYTES\",\"shape\":[-1]},"
                       "{\"name\":\"text_pair\",\"datatype\":\"BYTES\",\"shape\":[-1]}],\"outputs\":["
                       "{\"name\":\"logits\",\"datatype\":\"FP32\",\"shape\":[-1,3]},"
                       "{\"name\":\"probabilities\",\"datatype\":\"FP32\",\"shape\":[-1,3]}]}";
    CHECK_MSG(strcmp(s, want) == 0, "got %s", s);
    free(s);
    cJSON_Delete(j);
    lp_kserve_model_desc img = {.name = "res", .kind = LP_KS_MODEL_IMAGE, .width = 1000,
                                .image_h = 224, .image_w = 224};
    j = lp_kserve_model_metadata(&img);
    s = cJSON_PrintUnformatted(j);
    CHECK_MSG(strstr(s, "{\"name\":\"pixel_values\",\"datatype\":\"FP32\",\"shape\":[-1,3,-1,-1]}") &&
                  strstr(s, "\"parameters\":{\"preprocess_height\":224,\"preprocess_width\":224}"),
              "got %s", s);
    free(s);
    cJSON_Delete(j);
    j = lp_kserve_server_metadata("0.1.0");
    s = cJSON_PrintUnformatted(j);
    CHECK(strcmp(s, "{\"name\":\"lepton\",\"version\":\"0.1.0\",\"extensions\":[\"binary_tensor_data\","
                    "\"classification\",\"statistics\"]}") == 0);
    free(s);
    cJSON_Delete(j);

    lp_batch_stat batches[1] = {{4, {2, 3000}}};
    lp_model_stats st = {.inference_count = 8, .execution_count = 2, .last_inference_ms = 1234,
                         .success = {2, 5000}, .fail = {1, 100}, .queue = {3, 700},
                         .compute_infer = {2, 3000}, .batches = batches, .n_batches = 1};
    j = lp_kserve_model_stats_json("sent", &st);
    s = cJSON_PrintUnformatted(j);
    CHECK_MSG(strstr(s, "\"name\":\"sent\",\"version\":\"1\",\"last_inference\":1234,"
                        "\"inference_count\":8,\"execution_count\":2,\"inference_stats\":{"
                        "\"success\":{\"count\":2,\"ns\":5000},\"fail\":{\"count\":1,\"ns\":100},"
                        "\"queue\":{\"count\":3,\"ns\":700}") &&
                  strstr(s, "\"compute_infer\":{\"count\":2,\"ns\":3000}") &&
                  strstr(s, "\"batch_stats\":[{\"batch_size\":4,\"compute_input\":{\"count\":0,"
                            "\"ns\":0},\"compute_infer\":{\"count\":2,\"ns\":3000}"),
              "got %s", s);
    free(s);
    cJSON_Delete(j);

    struct {
        const char *path;
        lp_kserve_route_kind kind;
        const char *model, *version;
    } routes[] = {
        {"/v1/embed", LP_KS_ROUTE_NONE, "", ""},
        {"/v2x", LP_KS_ROUTE_NONE, "", ""},
        {"/v2", LP_KS_ROUTE_SERVER_META, "", ""},
        {"/v2/", LP_KS_ROUTE_SERVER_META, "", ""},
        {"/v2/health/live", LP_KS_ROUTE_LIVE, "", ""},
        {"/v2/health/ready", LP_KS_ROUTE_READY, "", ""},
        {"/v2/health", LP_KS_ROUTE_BAD, "", ""},
        {"/v2/models/stats", LP_KS_ROUTE_ALL_STATS, "", ""},
        {"/v2/models/bert", LP_KS_ROUTE_MODEL_META, "bert", ""},
        {"/v2/models/bert/ready", LP_KS_ROUTE_MODEL_READY, "bert", ""},
        {"/v2/models/bert/stats", LP_KS_ROUTE_MODEL_STATS, "bert", ""},
        {"/v2/models/bert/infer", LP_KS_ROUTE_INFER, "bert", ""},
        {"/v2/models/bert/versions/1/infer", LP_KS_ROUTE_INFER, "bert", "1"},
        {"/v2/models/bert/versions/1", LP_KS_ROUTE_MODEL_META, "bert", "1"},
        {"/v2/models/bert/versions//infer", LP_KS_ROUTE_BAD, "bert", ""},
        {"/v2/models//infer", LP_KS_ROUTE_BAD, "", ""},
        {"/v2/models/bert/explain", LP_KS_ROUTE_BAD, "bert", ""},
    };
    for (size_t i = 0; i < sizeof routes / sizeof *routes; i++) {
        lp_kserve_route r = lp_kserve_match_route(routes[i].path);
        CHECK_MSG(r.kind == routes[i].kind && strcmp(r.model, routes[i].model) == 0 &&
                      strcmp(r.version, routes[i].version) == 0,
                  "%s: kind %d model '%s' version '%s'", routes[i].path, r.kind, r.model, r.version);
    }
    char longpath[400];
    snprintf(longpath, sizeof longpath, "/v2/models/%0200d/infer", 0);
    CHECK(lp_kserve_match_route(longpath).kind == LP_KS_ROUTE_BAD);
    CHECK(lp_kserve_match_route("/v2/models/bert/infer").post);
}

int main(void) {
    test_parse_json();
    test_parse_binary();
    test_parse_errors();
    test_plan();
    test_encode();
    test_format_f32();
    test_metadata_stats_routes();
    return lp_test_finish();
}
