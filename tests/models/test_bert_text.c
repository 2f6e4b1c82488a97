/* End to end from text: the tokenizer from each fixture's directory, then the
 * encoder, against the outputs transformers / sentence-transformers computed
 * from the same texts (tests/fixtures/bert/<name>/expected.json; tolerance: max
 * abs diff <= 1e-4, same argmax). Pairs go in as pairs. The truncated flag must
 * be set exactly where the tokenizer cut the input: in these fixtures, exactly
 * the inputs whose reference ids fill the model's max tokens. Also: a directory
 * without tokenizer files loads, and its text calls say there is no tokenizer. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/encoder.h"
#include "tests/test_util.h"

static void test_fixture(const char *name, lp_threadpool *pool) {
    char rel[256], dir[4096], path[8192];
    snprintf(rel, sizeof rel, "tests/fixtures/bert/%s", name);
    lp_test_source_path(rel, dir, sizeof dir);
    snprintf(path, sizeof path, "%s/expected.json", dir);
    char *text = lp_test_read_file(path, NULL);
    cJSON *doc = text ? cJSON_Parse(text) : NULL;
    free(text);
    CHECK_MSG(doc != NULL, "cannot read %s", path);
    if (!doc) return;
    lp_error err = {0};
    lp_encoder *enc = NULL;
    CHECK_OK(lp_encoder_load(dir, &enc, &err), &err);
    if (!enc) {
        cJSON_Delete(doc);
        return;
    }
    CHECK(lp_encoder_has_tokenizer(enc));
    bool classify = !strcmp(cJSON_GetObjectItem(doc, "task")->valuestring, "classify");
    const cJSON *inputs = cJSON_GetObjectItem(doc, "inputs");
    const cJSON *outputs = cJSON_GetObjectItem(doc, "outputs");
    size_t n = (size_t)cJSON_GetArraySize(inputs);
    int64_t w = cJSON_GetArraySize(cJSON_GetArrayItem(outputs, 0));
    lp_encoder_text *in = calloc(n, sizeof *in);
    float *want = calloc(n * (size_t)w, sizeof *want), *got = calloc(n * (size_t)w, sizeof *got);
    bool *trunc = calloc(n, sizeof *trunc), *want_trunc = calloc(n, sizeof *want_trunc);
    for (size_t i = 0; i < n; i++) {
        const cJSON *x = cJSON_GetArrayItem(inputs, (int)i);
        const cJSON *t = cJSON_GetObjectItem(x, "text"), *p = cJSON_GetObjectItem(x, "pair");
        in[i].text = t->valuestring;
        in[i].len = strlen(t->valuestring);
        if (cJSON_IsString(p)) {
            in[i].pair = p->valuestring;
            in[i].pair_len = strlen(p->valuestring);
        }
        want_trunc[i] = cJSON_GetArraySize(cJSON_GetObjectItem(x, "ids")) == lp_encoder_max_tokens(enc);
        for (int64_t j = 0; j < w; j++)
            want[i * (size_t)w + (size_t)j] =
                (float)cJSON_GetArrayItem(cJSON_GetArrayItem(outputs, (int)i), (int)j)->valuedouble;
    }
    lp_encoder_session *s = NULL;
    CHECK_OK(lp_encoder_session_create(enc, pool, 16, &s, &err), &err);
    if (s) {
        lp_status st = classify ? lp_encoder_classify_text(s, in, n, got, trunc, &err)
                                : lp_encoder_embed_text(s, in, n, got, trunc, &err);
        CHECK_OK(st, &err);
        double diff = lp_test_max_abs_diff(got, want, n * (size_t)w);
        CHECK_MSG(diff <= 1e-4, "%s from text: max abs diff %.3g", name, diff);
        int bad_top = 0, bad_trunc = 0, n_trunc = 0;
        for (size_t i = 0; i < n; i++) {
            if (classify) {
                float scores[64];
                int64_t top = w <= 64 ? lp_encoder_scores(enc, got + i * (size_t)w, scores) : 0;
                int64_t ref = 0;
                for (int64_t j = 1; j < w; j++)
                    if (want[i * (size_t)w + (size_t)j] > want[i * (size_t)w + (size_t)ref]) ref = j;
                bad_top += top != ref;
            }
            bad_trunc += trunc[i] != want_trunc[i];
            n_trunc += trunc[i];
        }
        CHECK_MSG(bad_top == 0, "%s: top label differs on %d inputs", name, bad_top);
        CHECK_MSG(bad_trunc == 0, "%s: truncated flag wrong on %d inputs", name, bad_trunc);
        printf("  %-16s from text: %zu inputs (%d truncated), max abs diff %.3g\n", name, n, n_trunc,
               diff);
        lp_encoder_session_free(s);
    }
    free(in);
    free(want);
    free(got);
    free(trunc);
    free(want_trunc);
    lp_encoder_free(enc);
    cJSON_Delete(doc);
}

static void test_no_tokenizer(void) {
    char dir[4096];
    lp_test_source_path("tests/fixtures/bert/roberta-cls", dir, sizeof dir);
    lp_error err = {0};
    lp_encoder *enc = NULL;
    CHECK_OK(lp_encoder_load(dir, &enc, &err), &err);
    if (!enc) return;
    CHECK(!lp_encoder_has_tokenizer(enc));
    lp_encoder_session *s = NULL;
    CHECK_OK(lp_encoder_session_create(enc, NULL, 8, &s, &err), &err);
    lp_encoder_text t = {"hello", 5, NULL, 0};
    float logits[2];
    CHECK_FAILS(lp_encoder_classify_text(s, &t, 1, logits, NULL, &err), LP_ERR_INVALID_ARG, &err,
                "no tokenizer");
    lp_encoder_session_free(s);
    lp_encoder_free(enc);
}

int main(void) {
    static const char *const FIXTURES[] = {"bert-chinese-cls", "xlmr-cls", "distilbert-cls",
                                           "st-mean-norm", "st-cls-max"};
    lp_threadpool *pool = lp_threadpool_create(2);
    for (size_t i = 0; i < sizeof FIXTURES / sizeof FIXTURES[0]; i++)
        test_fixture(FIXTURES[i], i % 2 ? pool : NULL);
    lp_threadpool_destroy(pool);
    test_no_tokenizer();
    return lp_test_finish();
}
