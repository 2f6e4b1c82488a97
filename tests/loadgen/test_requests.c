/* What a run sends and reads besides latency: inputs (files, generated
 * texts, base64), the prepared requests for lepton's task endpoints and
 * KServe v2, and the Prometheus text that gives the server-side split. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "loadgen/inputs.h"
#include "loadgen/prom.h"
#include "loadgen/request.h"
#include "tests/test_util.h"

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f) return;
    fputs(text, f);
    fclose(f);
}

static void test_base64(void) {
    const char *in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    const char *out[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"}; /* RFC 4648 */
    for (int i = 0; i < 7; i++) {
        char *s;
        size_t n;
        lp_error err = {0};
        CHECK_OK(lp_lg_base64((const unsigned char *)in[i], strlen(in[i]), &s, &n, &err), &err);
        CHECK_MSG(!strcmp(s, out[i]) && n == strlen(out[i]), "'%s' -> '%s'", in[i], s);
        free(s);
    }
}

static void test_generate(void) {
    lp_lg_inputs a, b;
    lp_error err = {0};
    CHECK_OK(lp_lg_inputs_generate(&a, 500, 3, 7, 11, &err), &err);
    CHECK_OK(lp_lg_inputs_generate(&b, 500, 3, 7, 11, &err), &err);
    CHECK(a.n == 500);
    int seen[8] = {0}, same = 0;
    for (size_t i = 0; i < a.n; i++) {
        int words = 1;
        for (const char *p = a.items[i]; *p; p++) words += *p == ' ';
        CHECK(words >= 3 && words <= 7);
        if (words >= 3 && words <= 7) seen[words]++;
        CHECK(strlen(a.items[i]) == a.lens[i]);
        same += !strcmp(a.items[i], b.items[i]);
    }
    CHECK(same == 500); /* the same seed gives the same texts */
    for (int w = 3; w <= 7; w++) CHECK_MSG(seen[w] > 50, "%d-word texts: %d of 500", w, seen[w]);
    lp_lg_inputs_free(&a);
    lp_lg_inputs_free(&b);
    CHECK_FAILS(lp_lg_inputs_generate(&a, 5, 4, 2, 1, &err), LP_ERR_INVALID_ARG, &err, "MIN:MAX");
}

static void test_load(void) {
    char dir[] = "/tmp/lp_lg_test_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char texts[300], json[300], bad[300], imgs[300], img[300], empty[300];
    snprintf(texts, sizeof texts, "%s/texts.txt", dir);
    snprintf(json, sizeof json, "%s/bodies.jsonl", dir);
    snprintf(bad, sizeof bad, "%s/bad.jsonl", dir);
    snprintf(imgs, sizeof imgs, "%s/images.txt", dir);
    snprintf(img, sizeof img, "%s/a.bin", dir);
    snprintf(empty, sizeof empty, "%s/empty.txt", dir);
    write_file(texts, "first line\r\n\nsecond \"quoted\" line\n\n");
    write_file(json, "{\"model\": \"m\", \"inputs\": [\"x\"]}\n{\"inputs\": []}\n");
    write_file(bad, "{\"ok\": 1}\n[1, 2]\n");
    write_file(imgs, "a.bin\n");
    write_file(img, "foobar");
    write_file(empty, "\n\n");
    lp_lg_inputs in;
    lp_error err = {0};
    CHECK_OK(lp_lg_inputs_load(&in, texts, LP_LG_INPUT_TEXT, &err), &err);
    CHECK(in.n == 2 && !strcmp(in.items[0], "first line") && !strcmp(in.items[1], "second \"quoted\" line"));
    lp_lg_inputs_free(&in);
    CHECK_OK(lp_lg_inputs_load(&in, json, LP_LG_INPUT_JSON, &err), &err);
    CHECK(in.n == 2);
    lp_lg_inputs_free(&in);
    CHECK_OK(lp_lg_inputs_load(&in, imgs, LP_LG_INPUT_IMAGE, &err), &err);
    CHECK(in.n == 1 && !strcmp(in.items[0], "Zm9vYmFy"));
    lp_lg_inputs_free(&in);
    CHECK_FAILS(lp_lg_inputs_load(&in, bad, LP_LG_INPUT_JSON, &err), LP_ERR_FORMAT, &err, "line 2 is not a JSON object");
    lp_error_clear(&err);
    CHECK_FAILS(lp_lg_inputs_load(&in, empty, LP_LG_INPUT_TEXT, &err), LP_ERR_FORMAT, &err, "has no inputs");
    lp_error_clear(&err);
    CHECK_FAILS(lp_lg_inputs_load(&in, "/nonexistent/inputs.txt", LP_LG_INPUT_TEXT, &err), LP_ERR_IO, &err, "cannot open '/nonexistent/inputs.txt'");
    const char *files[] = {texts, json, bad, imgs, img, empty};
    for (int i = 0; i < 6; i++) unlink(files[i]);
    rmdir(dir);
}

/* The body of a prepared request, parsed back. */
static cJSON *body_of(const lp_lg_request *r, char *first_line, size_t size) {
    const char *eol = strstr(r->bytes, "\r\n");
    snprintf(first_line, size, "%.*s", (int)(eol - r->bytes), r->bytes);
    const char *body = strstr(r->bytes, "\r\n\r\n") + 4;
    char cl[64];
    snprintf(cl, sizeof cl, "Content-Length: %zu\r\n", strlen(body));
    CHECK_MSG(strstr(r->bytes, cl) != NULL, "%s", r->bytes);
    return cJSON_Parse(body);
}

static void test_requests(void) {
    lp_lg_options o;
    lp_lg_options_defaults(&o);
    o.model = "minilm";
    o.batch = 2;
    lp_lg_url url;
    lp_error err = {0};
    CHECK_OK(lp_lg_url_parse("http://127.0.0.1:8080/api", &url, &err), &err);
    lp_lg_inputs in = {0};
    char *items[] = {"a \"b\"", "c", "d"};
    size_t lens[] = {5, 1, 1};
    in.items = items;
    in.lens = lens;
    in.n = 3;
    lp_lg_requests reqs;
    CHECK_OK(lp_lg_requests_build(&reqs, &o, &url, &in, &err), &err);
    CHECK(reqs.n == 3 && !strcmp(reqs.path, "/api/v1/embed") && !strcmp(reqs.method, "POST"));
    char line[200];
    cJSON *j = body_of(&reqs.r[2], line, sizeof line); /* inputs 2, 0 (cycled) */
    CHECK(!strcmp(line, "POST /api/v1/embed HTTP/1.1"));
    CHECK(strstr(reqs.r[2].bytes, "Host: 127.0.0.1:8080\r\n") != NULL);
    cJSON *inputs = cJSON_GetObjectItem(j, "inputs");
    CHECK(!strcmp(cJSON_GetObjectItem(j, "model")->valuestring, "minilm"));
    CHECK(cJSON_GetArraySize(inputs) == 2);
    CHECK(!strcmp(cJSON_GetArrayItem(inputs, 0)->valuestring, "d"));
    CHECK(!strcmp(cJSON_GetArrayItem(inputs, 1)->valuestring, "a \"b\""));
    cJSON_Delete(j);
    lp_lg_requests_free(&reqs);

    o.endpoint = LP_LG_ENDPOINT_V2;
    o.v2_input = "TEXT";
    o.batch = 1;
    CHECK_OK(lp_lg_requests_build(&reqs, &o, &url, &in, &err), &err);
    j = body_of(&reqs.r[0], line, sizeof line);
    CHECK(!strcmp(line, "POST /api/v2/models/minilm/infer HTTP/1.1"));
    cJSON *t = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "inputs"), 0);
    CHECK(t && !strcmp(cJSON_GetObjectItem(t, "name")->valuestring, "TEXT"));
    CHECK(t && !strcmp(cJSON_GetObjectItem(t, "datatype")->valuestring, "BYTES"));
    CHECK(t && cJSON_GetArrayItem(cJSON_GetObjectItem(t, "shape"), 0)->valueint == 1);
    CHECK(t && !strcmp(cJSON_GetArrayItem(cJSON_GetObjectItem(t, "data"), 0)->valuestring, "a \"b\""));
    cJSON_Delete(j);
    lp_lg_requests_free(&reqs);

    o.endpoint = LP_LG_ENDPOINT_GET;
    CHECK_OK(lp_lg_requests_build(&reqs, &o, &url, &in, &err), &err);
    CHECK(reqs.n == 1 && !strncmp(reqs.r[0].bytes, "GET /api/v2/health/live HTTP/1.1\r\n", 34));
    lp_lg_requests_free(&reqs);
}

static void test_prom(void) {
    const char *text =
        "# HELP lepton_queue_duration_seconds time in the queue\n"
        "# TYPE lepton_queue_duration_seconds histogram\n"
        "lepton_queue_duration_seconds_bucket{model=\"minilm\",le=\"0.001\"} 3\n"
        "lepton_queue_duration_seconds_sum{model=\"minilm\"} 0.25\n"
        "lepton_queue_duration_seconds_count{model=\"minilm\"} 100\n"
        "lepton_queue_duration_seconds_sum{model=\"minilm2\"} 9\n"
        "lepton_queue_duration_seconds_sum{model=\"other\"} 7\n"
        "lepton_compute_duration_seconds_sum{task=\"embed\",model=\"minilm\"} 1.5\n"
        "lepton_compute_duration_seconds_count{task=\"embed\",model=\"minilm\"} 50\n"
        "lepton_compute_duration_seconds_sum{task=\"classify\",model=\"minilm\"} 0.5\n"
        "lepton_compute_duration_seconds_count{task=\"classify\",model=\"minilm\"} 10\n"
        "lepton_batch_size_sum{model=\"minilm\"} 200\n"
        "lepton_batch_size_count{model=\"minilm\"} 60\n"
        "lepton_requests_total 5\n";
    double v = 0;
    size_t n = strlen(text);
    CHECK(lp_lg_prom_sum(text, n, "lepton_queue_duration_seconds_sum", "minilm", &v) && v == 0.25);
    CHECK(lp_lg_prom_sum(text, n, "lepton_queue_duration_seconds_sum", "", &v) && v == 16.25);
    CHECK(lp_lg_prom_sum(text, n, "lepton_compute_duration_seconds_sum", "minilm", &v) && v == 2.0);
    CHECK(!lp_lg_prom_sum(text, n, "lepton_queue_duration_seconds_sum", "nope", &v));
    CHECK(!lp_lg_prom_sum(text, n, "lepton_queue_duration_seconds", "minilm", &v)); /* names are exact */
    CHECK(lp_lg_prom_sum(text, n, "lepton_requests_total", NULL, &v) && v == 5);
    CHECK(!lp_lg_prom_sum(text, n, "lepton_requests_total", "minilm", &v));
    lp_lg_server_counters before = lp_lg_prom_server_counters("", 0, "minilm");
    CHECK(!before.present);
    lp_lg_server_counters after = lp_lg_prom_server_counters(text, n, "minilm");
    CHECK(after.present && after.compute_count == 60);
    memset(&before, 0, sizeof before);
    before.present = true;
    before.queue_sum = 0.05;
    before.queue_count = 60;
    lp_lg_server_split s = lp_lg_server_split_between(&before, &after);
    /* queue: (0.25 - 0.05) s / 40 = 5 ms; compute 2 s / 60 = 33.3 ms; batch 200 / 60 */
    CHECK(s.present && fabs(s.queue_ms - 5.0) < 1e-9);
    CHECK(fabs(s.compute_ms - 2000.0 / 60) < 1e-9 && fabs(s.batch_mean - 200.0 / 60) < 1e-9);
    lp_lg_server_split none = lp_lg_server_split_between(&after, &after);
    CHECK(none.present && none.queue_ms < 0 && none.compute_ms < 0);
}

int main(void) {
    test_base64();
    test_generate();
    test_load();
    test_requests();
    test_prom();
    return lp_test_finish();
}
