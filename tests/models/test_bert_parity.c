/* BERT-family encoders against transformers / sentence-transformers, from the
 * fixtures tools/make_bert_fixtures.py writes (tests/fixtures/bert/<name>/:
 * the checkpoint as save_pretrained wrote it, and expected.json with the token
 * ids and the reference outputs computed one input at a time in fp32).
 *
 * Tolerance: max |lepton - reference| <= 1e-4 (the fixture's max_abs_tol) on
 * every logit / embedding value, and the same argmax for classifiers. Each
 * fixture runs three ways, which must all agree with the reference:
 *   - all inputs in one call (mixed lengths: the session sorts them and packs the real tokens),
 *   - one input per call,
 *   - one forward pass over every input padded to the longest (the attention
 *     mask alone must hide the padding).
 * A second identical call must not grow the activation arena (no malloc in
 * steady state). LP_BERT_EXTRA_FIXTURES=dir1:dir2 adds local-only fixtures
 * (e.g. the full-shape bert-base-chinese from make_bert_fixtures.py --full).
 * Last, four threads with a session each run one model at once. */
#include <cjson/cJSON.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/backend.h"
#include "models/encoder.h"
#include "tests/test_util.h"

typedef struct fixture {
    cJSON *doc;
    size_t n;
    lp_encoder_input *inputs;
    int32_t **ids, **types;
    int64_t width; /* floats per output row */
    float *expected; /* n x width */
    double tol;
    bool classify;
} fixture;

static int32_t *int_array(const cJSON *a, int64_t *len) {
    *len = cJSON_GetArraySize(a);
    int32_t *v = malloc((size_t)(*len > 0 ? *len : 1) * sizeof *v);
    int64_t i = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, a) v[i++] = (int32_t)it->valuedouble;
    return v;
}

static bool fixture_load(const char *dir, fixture *fx) {
    memset(fx, 0, sizeof *fx);
    char path[4096];
    snprintf(path, sizeof path, "%s/expected.json", dir);
    char *text = lp_test_read_file(path, NULL);
    CHECK_MSG(text != NULL, "cannot read %s", path);
    if (!text) return false;
    fx->doc = cJSON_Parse(text);
    free(text);
    CHECK_MSG(fx->doc != NULL, "%s is not JSON", path);
    if (!fx->doc) return false;
    const cJSON *inputs = cJSON_GetObjectItem(fx->doc, "inputs");
    const cJSON *outputs = cJSON_GetObjectItem(fx->doc, "outputs");
    fx->classify = !strcmp(cJSON_GetObjectItem(fx->doc, "task")->valuestring, "classify");
    fx->tol = cJSON_GetObjectItem(fx->doc, "max_abs_tol")->valuedouble;
    fx->n = (size_t)cJSON_GetArraySize(inputs);
    fx->width = cJSON_GetArraySize(cJSON_GetArrayItem(outputs, 0));
    fx->inputs = calloc(fx->n, sizeof *fx->inputs);
    fx->ids = calloc(fx->n, sizeof *fx->ids);
    fx->types = calloc(fx->n, sizeof *fx->types);
    fx->expected = malloc(fx->n * (size_t)fx->width * sizeof(float));
    for (size_t i = 0; i < fx->n; i++) {
        const cJSON *in = cJSON_GetArrayItem(inputs, (int)i);
        int64_t len, tlen;
        fx->ids[i] = int_array(cJSON_GetObjectItem(in, "ids"), &len);
        const cJSON *t = cJSON_GetObjectItem(in, "type_ids");
        if (cJSON_IsArray(t)) fx->types[i] = int_array(t, &tlen);
        fx->inputs[i] = (lp_encoder_input){fx->ids[i], fx->types[i], len};
        const cJSON *row = cJSON_GetArrayItem(outputs, (int)i);
        for (int64_t j = 0; j < fx->width; j++)
            fx->expected[i * (size_t)fx->width + (size_t)j] =
                (float)cJSON_GetArrayItem(row, (int)j)->valuedouble;
    }
    return true;
}

static void fixture_free(fixture *fx) {
    for (size_t i = 0; i < fx->n; i++) {
        free(fx->ids[i]);
        free(fx->types[i]);
    }
    free(fx->ids);
    free(fx->types);
    free(fx->inputs);
    free(fx->expected);
    cJSON_Delete(fx->doc);
}

static int64_t argmax(const float *x, int64_t n) {
    int64_t best = 0;
    for (int64_t i = 1; i < n; i++)
        if (x[i] > x[best]) best = i;
    return best;
}

/* max abs diff over everything, argmax per row for classifiers */
static void compare(const char *name, const char *how, const fixture *fx, const float *got) {
    size_t total = fx->n * (size_t)fx->width;
    double diff = lp_test_max_abs_diff(got, fx->expected, total);
    CHECK_MSG(diff <= fx->tol, "%s (%s): max abs diff %.3g > %.3g", name, how, diff, fx->tol);
    bool finite = true;
    for (size_t i = 0; i < total; i++) finite &= isfinite(got[i]) != 0;
    CHECK_MSG(finite, "%s (%s): non-finite output", name, how);
    if (fx->classify) {
        int bad = 0;
        for (size_t i = 0; i < fx->n; i++)
            bad += argmax(got + i * (size_t)fx->width, fx->width) !=
                   argmax(fx->expected + i * (size_t)fx->width, fx->width);
        CHECK_MSG(bad == 0, "%s (%s): argmax differs on %d inputs", name, how, bad);
    }
    printf("  %-16s %-22s max abs diff %.3g\n", name, how, diff);
}

static lp_status run_batch(lp_encoder_session *s, const fixture *fx, const lp_encoder_input *in,
                           size_t n, float *out, lp_error *err) {
    return fx->classify ? lp_encoder_classify_ids(s, in, n, out, err)
                        : lp_encoder_embed_ids(s, in, n, out, err);
}

/* Every input padded to the longest, one lp_bert_forward: exact masking. */
static void run_padded(const lp_encoder *enc, const fixture *fx, float *out, lp_error *err) {
    const lp_bert_model *model = lp_encoder_model(enc);
    const lp_bert_config *cfg = lp_encoder_config(enc);
    int64_t S = 0, B = (int64_t)fx->n;
    for (size_t i = 0; i < fx->n; i++) S = fx->inputs[i].len > S ? fx->inputs[i].len : S;
    int32_t *ids = calloc((size_t)(B * S), sizeof *ids), *types = calloc((size_t)(B * S), sizeof *types);
    uint8_t *mask = calloc((size_t)(B * S), 1);
    for (int64_t b = 0; b < B; b++)
        for (int64_t p = 0; p < S; p++) {
            bool real = p < fx->inputs[b].len;
            ids[b * S + p] = real ? fx->inputs[b].ids[p] : (int32_t)cfg->pad_token_id;
            types[b * S + p] = real && fx->inputs[b].type_ids ? fx->inputs[b].type_ids[p] : 0;
            mask[b * S + p] = real;
        }
    lp_ctx ctx;
    CHECK_OK(lp_ctx_init(&ctx, lp_backend_cpu(), NULL, err), err);
    lp_arena *arena = lp_arena_create(1 << 20);
    lp_bert_batch batch = {B, S, ids, types, mask};
    lp_tensor hidden, logits;
    lp_status st = lp_bert_forward(model, &ctx, arena, &batch, &hidden, err);
    CHECK_OK(st, err);
    if (st == LP_OK && fx->classify) {
        st = lp_bert_classify(model, &ctx, arena, &hidden, &logits, err);
        CHECK_OK(st, err);
        if (st == LP_OK) memcpy(out, logits.data, (size_t)(B * fx->width) * sizeof *out);
    } else if (st == LP_OK) {
        CHECK_OK(lp_pooling_apply(lp_encoder_pooling(enc), &hidden, mask, out, err), err);
    }
    lp_arena_destroy(arena);
    lp_ctx_release(&ctx);
    free(ids);
    free(types);
    free(mask);
}

static void test_fixture(const char *dir, lp_threadpool *pool) {
    const char *name = strrchr(dir, '/') ? strrchr(dir, '/') + 1 : dir;
    fixture fx;
    if (!fixture_load(dir, &fx)) return;
    lp_error err = {0};
    lp_encoder *enc = NULL;
    CHECK_OK(lp_encoder_load(dir, &enc, &err), &err);
    if (!enc) {
        fixture_free(&fx);
        return;
    }
    int64_t want = fx.classify ? lp_encoder_num_labels(enc) : lp_encoder_embedding_dim(enc);
    CHECK_MSG(want == fx.width, "%s: output width %lld, expected %lld", name, (long long)want,
              (long long)fx.width);
    if (fx.classify) {
        const cJSON *labels = cJSON_GetObjectItem(fx.doc, "labels");
        for (int i = 0; labels && i < cJSON_GetArraySize(labels); i++)
            CHECK_MSG(!strcmp(lp_encoder_label(enc, i), cJSON_GetArrayItem(labels, i)->valuestring),
                      "%s: label %d is %s", name, i, lp_encoder_label(enc, i));
    } else {
        const cJSON *msl = cJSON_GetObjectItem(fx.doc, "max_seq_length");
        if (msl) CHECK(lp_encoder_max_tokens(enc) == (int64_t)msl->valuedouble);
    }
    if (want == fx.width) {
        float *got = calloc(fx.n * (size_t)fx.width, sizeof *got);
        lp_encoder_session *s = NULL;
        CHECK_OK(lp_encoder_session_create(enc, pool, 32, &s, &err), &err);
        /* all at once (sorted by length, packed) */
        CHECK_OK(run_batch(s, &fx, fx.inputs, fx.n, got, &err), &err);
        compare(name, "one batch", &fx, got);
        size_t allocs = lp_encoder_session_system_allocs(s);
        memset(got, 0, fx.n * (size_t)fx.width * sizeof *got);
        CHECK_OK(run_batch(s, &fx, fx.inputs, fx.n, got, &err), &err);
        compare(name, "same batch again", &fx, got);
        CHECK_MSG(lp_encoder_session_system_allocs(s) == allocs,
                  "%s: the second identical batch grew the arena (%zu -> %zu mallocs)", name,
                  allocs, lp_encoder_session_system_allocs(s));
        /* one at a time */
        memset(got, 0, fx.n * (size_t)fx.width * sizeof *got);
        for (size_t i = 0; i < fx.n; i++)
            CHECK_OK(run_batch(s, &fx, &fx.inputs[i], 1, got + i * (size_t)fx.width, &err), &err);
        compare(name, "one input per call", &fx, got);
        lp_encoder_session_free(s);
        /* one padded batch */
        memset(got, 0, fx.n * (size_t)fx.width * sizeof *got);
        run_padded(enc, &fx, got, &err);
        compare(name, "padded to longest", &fx, got);
        free(got);
    }
    lp_encoder_free(enc);
    fixture_free(&fx);
}

/* Several worker threads, each with its own session, on one immutable model. */
typedef struct worker {
    const lp_encoder *enc;
    const fixture *fx;
    float *out;
    lp_status st;
    lp_error err;
} worker;

static void *worker_main(void *arg) {
    worker *w = arg;
    lp_encoder_session *s = NULL;
    w->st = lp_encoder_session_create(w->enc, NULL, 4, &s, &w->err);
    for (int rep = 0; rep < 3 && w->st == LP_OK; rep++)
        w->st = run_batch(s, w->fx, w->fx->inputs, w->fx->n, w->out, &w->err);
    lp_encoder_session_free(s);
    return NULL;
}

static void test_threads(const char *dir) {
    fixture fx;
    if (!fixture_load(dir, &fx)) return;
    lp_error err = {0};
    lp_encoder *enc = NULL;
    CHECK_OK(lp_encoder_load(dir, &enc, &err), &err);
    enum { NT = 4 };
    worker w[NT];
    pthread_t th[NT];
    for (int i = 0; enc && i < NT; i++) {
        w[i] = (worker){enc, &fx, calloc(fx.n * (size_t)fx.width, sizeof(float)), LP_OK, {0}};
        pthread_create(&th[i], NULL, worker_main, &w[i]);
    }
    for (int i = 0; enc && i < NT; i++) {
        pthread_join(th[i], NULL);
        CHECK_OK(w[i].st, &w[i].err);
        compare("threads", "4 sessions at once", &fx, w[i].out);
        free(w[i].out);
    }
    lp_encoder_free(enc);
    fixture_free(&fx);
}

int main(void) {
    static const char *const FIXTURES[] = {"bert-chinese-cls", "roberta-cls", "xlmr-cls",
                                           "distilbert-cls", "st-mean-norm", "st-cls-max"};
    lp_threadpool *pool = lp_threadpool_create(2);
    for (size_t i = 0; i < sizeof FIXTURES / sizeof FIXTURES[0]; i++) {
        char rel[256], dir[4096];
        snprintf(rel, sizeof rel, "tests/fixtures/bert/%s", FIXTURES[i]);
        lp_test_source_path(rel, dir, sizeof dir);
        test_fixture(dir, i % 2 ? pool : NULL);
    }
    const char *extra = getenv("LP_BERT_EXTRA_FIXTURES");
    if (extra && *extra) {
        char *list = strdup(extra), *save = NULL;
        for (char *d = strtok_r(list, ":", &save); d; d = strtok_r(NULL, ":", &save))
            test_fixture(d, pool);
        free(list);
    }
    lp_threadpool_destroy(pool);
    char dir[4096];
    lp_test_source_path("tests/fixtures/bert/bert-chinese-cls", dir, sizeof dir);
    test_threads(dir);
    return lp_test_finish();
}
