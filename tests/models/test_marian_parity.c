/* The Marian translator against transformers (fixtures from
 * tools/make_marian_fixtures.py, model tests/fixtures/marian/zh-en-tiny: the
 * real opus-mt-zh-en config and vocabulary, random weights):
 * - MarianTokenizer: ids identical on every Tatoeba sentence (both sides) and
 *   odd inputs; decode(skip_special_tokens=True) identical on random ids;
 * - generate(): ids identical for greedy and beam 4 on 223 inputs (Chinese
 *   and English, 1 .. 196 source tokens) run together in batches of 16, and
 *   scores within 1e-4 (absolute); the same from text;
 * - two sessions on two threads give the same results as one.
 * - beam search with early_stopping, length_penalty 0.6 / 2 / -0.5, max_length 21 / 30,
 *   2 .. 5 beams: 224 more rows, ids identical.
 * The same for the en->zh direction (tests/fixtures/marian/en-zh-tiny: SentencePiece
 * models trained on the Tatoeba pairs, a 2762-piece shared vocabulary): 131 inputs. */
#include <cjson/cJSON.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/translator.h"
#include "tests/test_util.h"

#define SCORE_TOL 1e-4
#define MAX_LENGTH 48

typedef struct row {
    char *text;
    int32_t *src;
    size_t nsrc;
    int32_t *ids[2];
    size_t nids[2];
    double score[2];
} row;

static char *read_file(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    char *buf = malloc((size_t)n + 1);
    size_t got = fread(buf, 1, (size_t)n, f);
    buf[got] = 0;
    fclose(f);
    if (size) *size = got;
    return buf;
}

static int32_t *int_array(const cJSON *a, size_t *n) {
    *n = (size_t)cJSON_GetArraySize(a);
    int32_t *v = malloc((*n ? *n : 1) * sizeof *v);
    size_t i = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, a) v[i++] = (int32_t)e->valuedouble;
    return v;
}

static bool same_ids(const int32_t *a, size_t na, const int32_t *b, size_t nb) {
    return na == nb && (na == 0 || !memcmp(a, b, na * sizeof *a));
}

/* Each line of a JSON-lines file, parsed. */
static cJSON **read_jsonl(const char *rel, size_t *n) {
    char path[4096];
    size_t size;
    char *text = read_file(lp_test_source_path(rel, path, sizeof path), &size);
    CHECK_MSG(text != NULL, "cannot read %s", path);
    *n = 0;
    if (!text) return NULL;
    size_t cap = 1024;
    cJSON **v = malloc(cap * sizeof *v);
    for (char *line = text; *line;) {
        char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        if (len) {
            if (*n == cap) v = realloc(v, (cap *= 2) * sizeof *v);
            v[(*n)++] = cJSON_ParseWithLength(line, len);
        }
        line += len + (nl ? 1 : 0);
    }
    free(text);
    return v;
}

static void test_tokenizer(const lp_translator *tr, const char *file, size_t min_encodes) {
    size_t n;
    cJSON **v = read_jsonl(file, &n);
    size_t enc_ok = 0, enc_n = 0, dec_ok = 0, dec_n = 0;
    for (size_t i = 0; i < n; i++) {
        const char *kind = cJSON_GetObjectItem(v[i], "kind")->valuestring;
        size_t nref;
        int32_t *ref = int_array(cJSON_GetObjectItem(v[i], "ids"), &nref);
        const char *text = cJSON_GetObjectItem(v[i], "text")->valuestring;
        lp_error err = {0};
        if (!strcmp(kind, "encode")) {
            int32_t *ids = NULL;
            size_t m = 0;
            enc_n++;
            lp_status st = lp_translator_encode(tr, text, strlen(text), &ids, &m, &err);
            bool ok = st == LP_OK && same_ids(ids, m, ref, nref);
            enc_ok += ok;
            CHECK_MSG(ok, "encode \"%.60s\": %s (%zu ids, want %zu)", text, st ? err.msg : "ids differ", m, nref);
            free(ids);
        } else {
            char *out = NULL;
            size_t len = 0;
            dec_n++;
            lp_status st = lp_translator_decode(tr, ref, nref, &out, &len, &err);
            bool ok = st == LP_OK && len == strlen(text) && !memcmp(out, text, len);
            dec_ok += ok;
            CHECK_MSG(ok, "decode to \"%.60s\": got \"%.60s\" %s", text, out ? out : "", st ? err.msg : "");
            free(out);
        }
        free(ref);
        cJSON_Delete(v[i]);
    }
    free(v);
    printf("tokenizer: encode %zu/%zu identical, decode %zu/%zu identical\n", enc_ok, enc_n, dec_ok, dec_n);
    CHECK(enc_n >= min_encodes && dec_n > 300);
}

static row *read_rows(const char *file, size_t *n) {
    cJSON **v = read_jsonl(file, n);
    row *rows = calloc(*n ? *n : 1, sizeof *rows);
    for (size_t i = 0; i < *n; i++) {
        rows[i].text = strdup(cJSON_GetObjectItem(v[i], "text")->valuestring);
        rows[i].src = int_array(cJSON_GetObjectItem(v[i], "src"), &rows[i].nsrc);
        const char *modes[2] = {"greedy", "beam4"};
        for (int m = 0; m < 2; m++) {
            const cJSON *o = cJSON_GetObjectItem(v[i], modes[m]);
            rows[i].ids[m] = int_array(cJSON_GetObjectItem(o, "ids"), &rows[i].nids[m]);
            rows[i].score[m] = cJSON_GetObjectItem(o, "score")->valuedouble;
            /* the fixture's greedy score is the sum of log-probabilities;
             * lepton normalises it by length as beam search does */
            if (m == 0 && rows[i].nids[0]) rows[i].score[0] /= (double)rows[i].nids[0];
        }
        cJSON_Delete(v[i]);
    }
    free(v);
    return rows;
}

static void free_rows(row *rows, size_t n) {
    for (size_t i = 0; i < n; i++) {
        free(rows[i].text);
        free(rows[i].src);
        free(rows[i].ids[0]);
        free(rows[i].ids[1]);
    }
    free(rows);
}

/* Compares results with the reference; returns how many match in ids and score. */
static size_t compare(const char *what, const row *rows, const size_t *idx, size_t n, int mode,
                      const lp_translation *res) {
    size_t ok_ids = 0, ok = 0;
    double worst = 0;
    for (size_t k = 0; k < n; k++) {
        const row *r = &rows[idx[k]];
        bool ids = same_ids(res[k].ids, res[k].n_ids, r->ids[mode], r->nids[mode]);
        double d = fabs((double)res[k].score - r->score[mode]);
        ok_ids += ids;
        if (ids && d > worst) worst = d;
        ok += ids && d <= SCORE_TOL;
        CHECK_MSG(ids, "%s: input %zu \"%.40s\": %zu ids, want %zu", what, idx[k], r->text, res[k].n_ids,
                  r->nids[mode]);
        CHECK_MSG(!ids || d <= SCORE_TOL, "%s: input %zu: score %.6f, want %.6f", what, idx[k], (double)res[k].score,
                  r->score[mode]);
    }
    printf("%s: %zu/%zu ids identical, %zu with score within %g (largest difference %.2e)\n", what, ok_ids, n, ok,
           SCORE_TOL, worst);
    return ok;
}

static void test_generate(lp_translator_session *s, const row *rows, size_t n, size_t min_inputs,
                          size_t min_src) {
    size_t *idx = malloc(n * sizeof *idx);
    lp_translate_ids_input *in = malloc(n * sizeof *in);
    lp_translation *res = calloc(n, sizeof *res);
    for (size_t i = 0; i < n; i++) {
        idx[i] = i;
        in[i] = (lp_translate_ids_input){rows[i].src, rows[i].nsrc};
    }
    size_t lens[2] = {0, 0}, early = 0, maxlen = 0;
    for (size_t i = 0; i < n; i++) {
        if (rows[i].nsrc > lens[1]) lens[1] = rows[i].nsrc;
        if (!lens[0] || rows[i].nsrc < lens[0]) lens[0] = rows[i].nsrc;
        early += rows[i].nids[1] < MAX_LENGTH - 1;
        maxlen += rows[i].nids[1] == MAX_LENGTH - 1;
    }
    /* The fixture must exercise short and long sources and both endings. */
    CHECK_MSG(n >= min_inputs && lens[0] == 1 && lens[1] >= min_src && early >= 20 && maxlen >= 20,
              "%zu inputs, source lengths %zu .. %zu, %zu end early, %zu at max_length", n, lens[0], lens[1], early,
              maxlen);
    for (int mode = 0; mode < 2; mode++) {
        lp_translate_options o = {.num_beams = mode ? 4 : 1, .max_length = MAX_LENGTH, .length_penalty = 1.0f,
                                  .early_stopping = false};
        lp_error err = {0};
        CHECK_OK(lp_translate_ids(s, in, n, &o, res, &err), &err);
        size_t ok = compare(mode ? "ids beam 4" : "ids greedy", rows, idx, n, mode, res);
        CHECK(ok == n);
        lp_translations_free(res, n);
    }
    free(idx);
    free(in);
    free(res);
}

/* From text: the translator's own tokenizer (empty texts are left out: the
 * API answers them without running the model). */
static void test_text(lp_translator_session *s, const row *rows, size_t n) {
    size_t *idx = calloc(n ? n : 1, sizeof *idx), k = 0;
    lp_translate_text *in = malloc(n * sizeof *in);
    for (size_t i = 0; i < n; i++)
        if (strspn(rows[i].text, " \t") != strlen(rows[i].text)) {
            idx[k] = i;
            in[k++] = (lp_translate_text){rows[i].text, strlen(rows[i].text)};
        }
    lp_translation *res = calloc(k, sizeof *res);
    lp_translate_options o = {.num_beams = 4, .max_length = MAX_LENGTH, .length_penalty = 1.0f};
    lp_error err = {0};
    CHECK_OK(lp_translate_texts(s, in, k, &o, res, &err), &err);
    CHECK(compare("text beam 4", rows, idx, k, 1, res) == k);
    for (size_t i = 0; i < k; i++) CHECK(res[i].pieces == 1 && res[i].text != NULL);
    lp_translations_free(res, k);
    free(res);
    free(idx);
    free(in);
}

typedef struct job {
    const lp_translator *tr;
    const row *rows;
    size_t n;
    lp_translation *res;
    lp_status st;
} job;

static void *run_job(void *arg) {
    job *j = arg;
    lp_translator_session *s = NULL;
    lp_error err = {0};
    j->st = lp_translator_session_create(j->tr, NULL, 8, &s, &err);
    lp_translate_ids_input *in = malloc(j->n * sizeof *in);
    for (size_t i = 0; i < j->n; i++) in[i] = (lp_translate_ids_input){j->rows[i].src, j->rows[i].nsrc};
    lp_translate_options o = {.num_beams = 4, .max_length = MAX_LENGTH, .length_penalty = 1.0f};
    if (!j->st) j->st = lp_translate_ids(s, in, j->n, &o, j->res, &err);
    free(in);
    lp_translator_session_free(s);
    return NULL;
}

static void test_threads(const lp_translator *tr, const row *rows, size_t n) {
    if (n > 48) n = 48;
    job jobs[2];
    pthread_t th[2];
    for (int t = 0; t < 2; t++) {
        jobs[t] = (job){tr, rows, n, calloc(n, sizeof(lp_translation)), LP_OK};
        pthread_create(&th[t], NULL, run_job, &jobs[t]);
    }
    for (int t = 0; t < 2; t++) pthread_join(th[t], NULL);
    CHECK(jobs[0].st == LP_OK && jobs[1].st == LP_OK);
    size_t same = 0;
    for (size_t i = 0; i < n; i++)
        same += same_ids(jobs[0].res[i].ids, jobs[0].res[i].n_ids, rows[i].ids[1], rows[i].nids[1]) &&
                same_ids(jobs[1].res[i].ids, jobs[1].res[i].n_ids, rows[i].ids[1], rows[i].nids[1]);
    printf("threads: %zu/%zu identical on both sessions\n", same, n);
    CHECK(same == n);
    for (int t = 0; t < 2; t++) {
        lp_translations_free(jobs[t].res, n);
        free(jobs[t].res);
    }
}

/* Beam search with other options: early_stopping, length_penalty (0.6, 2, -0.5),
 * max_length (21, 30), 2 .. 5 beams (generate-options.jsonl). Each option set runs
 * as one batch. */
static void test_options(lp_translator_session *s) {
    size_t n;
    cJSON **v = read_jsonl("tests/fixtures/marian/generate-options.jsonl", &n);
    size_t ok_ids = 0, ok = 0, sets = 0;
    double worst = 0;
    for (size_t start = 0; start < n;) {
        const cJSON *o = cJSON_GetObjectItem(v[start], "opts");
        char *key = cJSON_PrintUnformatted(o);
        size_t end = start;
        while (end < n) {
            char *k2 = cJSON_PrintUnformatted(cJSON_GetObjectItem(v[end], "opts"));
            bool same = !strcmp(key, k2);
            free(k2);
            if (!same) break;
            end++;
        }
        size_t m = end - start;
        lp_translate_ids_input *in = calloc(m, sizeof *in);
        int32_t **src = calloc(m, sizeof *src);
        for (size_t i = 0; i < m; i++) {
            src[i] = int_array(cJSON_GetObjectItem(v[start + i], "src"), &in[i].len);
            in[i].ids = src[i];
        }
        lp_translate_options opt = {
            .num_beams = (int)cJSON_GetObjectItem(o, "num_beams")->valuedouble,
            .max_length = (int)cJSON_GetObjectItem(o, "max_length")->valuedouble,
            .length_penalty = (float)cJSON_GetObjectItem(o, "length_penalty")->valuedouble,
            .early_stopping = cJSON_IsTrue(cJSON_GetObjectItem(o, "early_stopping"))};
        lp_translation *res = calloc(m, sizeof *res);
        lp_error err = {0};
        CHECK_OK(lp_translate_ids(s, in, m, &opt, res, &err), &err);
        for (size_t i = 0; i < m; i++) {
            size_t nref;
            int32_t *ref = int_array(cJSON_GetObjectItem(v[start + i], "ids"), &nref);
            double score = cJSON_GetObjectItem(v[start + i], "score")->valuedouble;
            bool same = same_ids(res[i].ids, res[i].n_ids, ref, nref);
            /* a negative length_penalty multiplies sums of log-probabilities
             * into the hundreds, where f32 spacing is 3e-5 .. 6e-5: there the
             * tolerance is 1e-6 relative */
            double d = fabs((double)res[i].score - score), tol = fmax(SCORE_TOL, 1e-6 * fabs(score));
            ok_ids += same;
            ok += same && d <= tol;
            if (same && d > worst) worst = d;
            CHECK_MSG(same && d <= tol, "options %s, input %zu: %zu ids (want %zu), score %.6f (want %.6f)", key,
                      i, res[i].n_ids, nref, (double)res[i].score, score);
            free(ref);
        }
        lp_translations_free(res, m);
        free(res);
        for (size_t i = 0; i < m; i++) free(src[i]);
        free(src);
        free(in);
        free(key);
        sets++;
        start = end;
    }
    for (size_t i = 0; i < n; i++) cJSON_Delete(v[i]);
    free(v);
    printf("options (%zu sets): %zu/%zu ids identical, %zu with score within %g or 1e-6 relative (largest "
           "difference %.2e)\n",
           sets, ok_ids, n, ok, SCORE_TOL, worst);
    CHECK(sets == 4 && n >= 200 && ok == n);
}

static void run_direction(const char *model, const char *tok_file, size_t min_encodes, const char *gen_file,
                          size_t min_inputs, size_t min_src) {
    char dir[4096];
    lp_test_source_path(model, dir, sizeof dir);
    printf("-- %s\n", model);
    lp_translator *tr = NULL;
    lp_error err = {0};
    CHECK_OK(lp_translator_load(dir, &tr, &err), &err);
    if (!tr) return;
    test_tokenizer(tr, tok_file, min_encodes);
    size_t n;
    row *rows = read_rows(gen_file, &n);
    lp_translator_session *s = NULL;
    CHECK_OK(lp_translator_session_create(tr, NULL, 16, &s, &err), &err);
    test_generate(s, rows, n, min_inputs, min_src);
    test_text(s, rows, n);
    test_threads(tr, rows, n);
    if (strstr(model, "zh-en")) test_options(s);
    lp_translator_session_free(s);
    free_rows(rows, n);
    lp_translator_free(tr);
}

int main(void) {
    run_direction("tests/fixtures/marian/zh-en-tiny", "tests/fixtures/marian/tokenizer.jsonl", 5800,
                  "tests/fixtures/marian/generate.jsonl", 200, 150);
    run_direction("tests/fixtures/marian/en-zh-tiny", "tests/fixtures/marian/tokenizer-en-zh.jsonl", 950,
                  "tests/fixtures/marian/generate-en-zh.jsonl", 120, 20);
    return lp_test_finish();
}
