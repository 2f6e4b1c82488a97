/* What the translator must refuse, with a message that says what and where:
 * bad checkpoints (missing files, wrong model_type, a missing or misshapen
 * tensor, a truncated safetensors file, a broken vocab.json), bad texts
 * (invalid UTF-8, too many bytes, a sentence longer than the model's
 * positions), bad options and ids. Also what it must accept: empty and
 * whitespace-only lines (empty results), NUL bytes, long texts split into
 * sentences (each sentence translated as it would be alone). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "models/translator.h"
#include "pretrained/safetensors.h"
#include "tests/test_util.h"

static char g_src[4096];
static char g_shared[4096];

static char *read_all(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    rewind(f);
    char *buf = malloc((size_t)len + 1);
    *n = fread(buf, 1, (size_t)len, f);
    buf[*n] = 0;
    fclose(f);
    return buf;
}

static void write_all(const char *path, const char *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return;
    fwrite(data, 1, n, f);
    fclose(f);
}

static void copy_file(const char *from_dir, const char *to_dir, const char *name) {
    char a[8192], b[8192];
    snprintf(a, sizeof a, "%s/%s", from_dir, name);
    snprintf(b, sizeof b, "%s/%s", to_dir, name);
    size_t n = 0;
    char *d = read_all(a, &n);
    CHECK_MSG(d != NULL, "cannot read %s", a);
    if (d) write_all(b, d, n);
    free(d);
}

/* A fresh copy of the fixture directory (tokenizer files from shared data). */
static void make_copy(const char *dir) {
    char cmd[9000];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
    mkdir(dir, 0755);
    copy_file(g_src, dir, "config.json");
    copy_file(g_src, dir, "generation_config.json");
    copy_file(g_src, dir, "model.safetensors");
    copy_file(g_shared, dir, "source.spm");
    copy_file(g_shared, dir, "target.spm");
    copy_file(g_shared, dir, "vocab.json");
}

static void expect_load_fails(const char *dir, lp_status want, const char *needle) {
    lp_translator *tr = NULL;
    lp_error err = {0};
    CHECK_FAILS(lp_translator_load(dir, &tr, &err), want, &err, needle);
    CHECK(tr == NULL);
    lp_translator_free(tr);
}

/* Rewrites the fixture's weights with one tensor dropped or reshaped. */
static void rewrite_weights(const char *dir, const char *name, bool drop) {
    char path[8192];
    snprintf(path, sizeof path, "%s/model.safetensors", g_src);
    lp_error err = {0};
    lp_safetensors *st = NULL;
    CHECK_OK(lp_safetensors_open(path, &st, &err), &err);
    if (!st) return;
    size_t n = lp_safetensors_count(st), k = 0;
    lp_st_entry *e = calloc(n, sizeof *e);
    lp_tensor *v = calloc(n, sizeof *v);
    for (size_t i = 0; i < n; i++) {
        const lp_st_tensor *t = lp_safetensors_at(st, i);
        if (!strcmp(t->name, name) && drop) continue;
        CHECK_OK(lp_safetensors_get(st, t->name, &v[k], &err), &err);
        if (!strcmp(t->name, name)) { /* [o, i] -> [o / 2, 2 i] */
            v[k].shape[0] /= 2;
            v[k].shape[1] *= 2;
            v[k].stride[0] = v[k].shape[1];
        }
        e[k].name = t->name;
        e[k].tensor = &v[k];
        k++;
    }
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    CHECK_OK(lp_safetensors_write(path, e, k, NULL, 0, &err), &err);
    free(e);
    free(v);
    lp_safetensors_close(st);
}

static void test_bad_checkpoints(void) {
    char dir[4096];
    snprintf(dir, sizeof dir, "/tmp/lp_marian_errors_%d", (int)getpid());
    char path[8192], cmd[9000];
    expect_load_fails("/nonexistent/model", LP_ERR_IO, "config.json");

    make_copy(dir);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    size_t n;
    char *w = read_all(path, &n);
    write_all(path, w, n / 2); /* truncated */
    expect_load_fails(dir, LP_ERR_FORMAT, "model.safetensors");
    write_all(path, w, n);
    free(w);

    snprintf(path, sizeof path, "%s/config.json", dir);
    char *cfg = read_all(path, &n);
    char *bad = malloc(n + 64);
    char *at = strstr(cfg, "\"marian\"");
    CHECK(at != NULL);
    if (at) {
        size_t pre = (size_t)(at - cfg);
        memcpy(bad, cfg, pre);
        strcpy(bad + pre, "\"bart\"");
        strcpy(bad + pre + 6, at + 8);
        write_all(path, bad, strlen(bad));
        expect_load_fails(dir, LP_ERR_UNSUPPORTED, "marian");
    }
    at = strstr(cfg, "\"d_model\": 16");
    CHECK(at != NULL);
    if (at) {
        size_t pre = (size_t)(at - cfg);
        memcpy(bad, cfg, pre);
        strcpy(bad + pre, "\"d_model\": 32");
        strcpy(bad + pre + 13, at + 13);
        write_all(path, bad, strlen(bad));
        expect_load_fails(dir, LP_ERR_SHAPE, "config.json implies");
    }
    write_all(path, "{\"model_type\": \"marian\",", 24);
    expect_load_fails(dir, LP_ERR_FORMAT, "config.json");
    write_all(path, cfg, n);
    free(bad);
    free(cfg);

    rewrite_weights(dir, "model.decoder.layers.1.fc2.weight", true);
    expect_load_fails(dir, LP_ERR_FORMAT, "model.decoder.layers.1.fc2.weight");
    rewrite_weights(dir, "model.encoder.layers.0.fc1.weight", false);
    expect_load_fails(dir, LP_ERR_SHAPE, "model.encoder.layers.0.fc1.weight");
    copy_file(g_src, dir, "model.safetensors");

    snprintf(path, sizeof path, "%s/vocab.json", dir);
    write_all(path, "{\"</s>\": 0, \"<unk>\": 1, \"x\": -3}", 33);
    expect_load_fails(dir, LP_ERR_FORMAT, "vocab.json");
    write_all(path, "[1, 2]", 6);
    expect_load_fails(dir, LP_ERR_FORMAT, "vocab.json");
    copy_file(g_shared, dir, "vocab.json");
    snprintf(path, sizeof path, "%s/source.spm", dir);
    write_all(path, "not a sentencepiece model", 25);
    expect_load_fails(dir, LP_ERR_FORMAT, "source.spm");
    unlink(path);
    expect_load_fails(dir, LP_ERR_IO, "source.spm");

    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
}

static void test_bad_inputs(lp_translator *tr) {
    lp_translator_session *s = NULL;
    lp_error err = {0};
    CHECK_OK(lp_translator_session_create(tr, NULL, 4, &s, &err), &err);
    if (!s) return;
    lp_translate_options o = lp_translator_default_options(tr);
    o.max_length = 16;
    lp_translation r[3];

    lp_translate_text bad_utf8[2] = {{"ok", 2}, {"caf\xc3(", 5}};
    CHECK_FAILS(lp_translate_texts(s, bad_utf8, 2, &o, r, &err), LP_ERR_INVALID_ARG, &err, "input 1");
    lp_error e2 = {0};
    lp_translate_texts(s, bad_utf8, 2, &o, r, &e2);
    CHECK_MSG(strstr(e2.msg, "input 1") && strstr(e2.msg, "UTF-8"), "%s", e2.msg);
    CHECK_FAILS(lp_translator_check_text(tr, "\xed\xa0\x80", 3, &err), LP_ERR_INVALID_ARG, &err, "UTF-8");

    size_t big = LP_TRANSLATE_MAX_TEXT_BYTES + 1;
    char *huge = malloc(big);
    memset(huge, 'a', big);
    lp_translate_text t_huge = {huge, big};
    CHECK_FAILS(lp_translate_texts(s, &t_huge, 1, &o, r, &err), LP_ERR_INVALID_ARG, &err, "bytes");
    /* one "sentence" of 600 tokens: nowhere to split */
    size_t nz = 600 * 3;
    for (size_t i = 0; i < nz; i += 3) memcpy(huge + i, "长", 3);
    lp_translate_text t_long = {huge, nz};
    CHECK_FAILS(lp_translate_texts(s, &t_long, 1, &o, r, &err), LP_ERR_INVALID_ARG, &err, "positions");

    /* 300 sentences of a few tokens: split and translated, each as alone */
    size_t k = 0;
    for (int i = 0; i < 300; i++) k += (size_t)sprintf(huge + k, "%s", i % 2 ? "我很好。" : "He is here. ");
    lp_translate_text t_many = {huge, k};
    CHECK_OK(lp_translate_texts(s, &t_many, 1, &o, r, &err), &err);
    CHECK(r[0].pieces == 300);
    lp_translate_text one[2] = {{"He is here.", 11}, {"我很好。", 12}};
    lp_translation alone[2];
    CHECK_OK(lp_translate_texts(s, one, 2, &o, alone, &err), &err);
    size_t expect = 150 * (alone[0].n_ids + alone[1].n_ids);
    CHECK_MSG(r[0].n_ids == expect, "split: %zu ids, want %zu", r[0].n_ids, expect);
    if (r[0].n_ids == expect && alone[0].n_ids)
        CHECK(!memcmp(r[0].ids, alone[0].ids, alone[0].n_ids * sizeof(int32_t)) &&
              !memcmp(r[0].ids + alone[0].n_ids, alone[1].ids, alone[1].n_ids * sizeof(int32_t)));
    lp_translations_free(r, 1);
    /* splitting on demand gives the same pieces */
    lp_translate_options os = o;
    os.split_over_tokens = 1;
    lp_translate_text two = {"He is here. 我很好。", strlen("He is here. 我很好。")};
    CHECK_OK(lp_translate_texts(s, &two, 1, &os, r, &err), &err);
    CHECK(r[0].pieces == 2 && r[0].n_ids == alone[0].n_ids + alone[1].n_ids);
    lp_translations_free(r, 1);
    lp_translations_free(alone, 2);
    free(huge);

    /* empty and whitespace-only lines: empty results; NUL bytes are text */
    lp_translate_text mixed[3] = {{"", 0}, {" \t ", 3}, {"a\0b", 3}};
    CHECK_OK(lp_translate_texts(s, mixed, 3, &o, r, &err), &err);
    CHECK(r[0].text && !r[0].text[0] && r[0].n_ids == 0 && r[0].pieces == 0);
    CHECK(r[1].text && !r[1].text[0] && r[1].n_ids == 0);
    CHECK(r[2].pieces == 1 && r[2].n_ids >= 1);
    lp_translations_free(r, 3);

    /* options */
    lp_translate_text hi = {"你好", 6};
    lp_translate_options ob = o;
    ob.num_beams = 0;
    CHECK_FAILS(lp_translate_texts(s, &hi, 1, &ob, r, &err), LP_ERR_INVALID_ARG, &err, "num_beams");
    ob = o;
    ob.max_length = 100000;
    CHECK_FAILS(lp_translate_texts(s, &hi, 1, &ob, r, &err), LP_ERR_INVALID_ARG, &err, "max_length");
    ob = o;
    ob.max_new_tokens = 5;
    CHECK_OK(lp_translate_texts(s, &hi, 1, &ob, r, &err), &err);
    CHECK(r[0].n_ids >= 1 && r[0].n_ids <= 5);
    lp_translations_free(r, 1);

    /* ids */
    int32_t ids[3] = {5, 70000, 0};
    lp_translate_ids_input in = {ids, 3};
    CHECK_FAILS(lp_translate_ids(s, &in, 1, &o, r, &err), LP_ERR_INVALID_ARG, &err, "vocabulary");
    in.len = 0;
    CHECK_FAILS(lp_translate_ids(s, &in, 1, &o, r, &err), LP_ERR_INVALID_ARG, &err, "tokens");
    char *txt = NULL;
    size_t tl = 0;
    CHECK_FAILS(lp_translator_decode(tr, ids, 3, &txt, &tl, &err), LP_ERR_INVALID_ARG, &err, "vocabulary");
    lp_translator_session_free(s);
}

int main(void) {
    lp_test_source_path("tests/fixtures/marian/zh-en-tiny", g_src, sizeof g_src);
    lp_test_source_path("../shared/data/tokenizers/opus-mt-zh-en", g_shared, sizeof g_shared);
    test_bad_checkpoints();
    lp_translator *tr = NULL;
    lp_error err = {0};
    CHECK_OK(lp_translator_load(g_src, &tr, &err), &err);
    if (tr) test_bad_inputs(tr);
    lp_translator_free(tr);
    return lp_test_finish();
}
