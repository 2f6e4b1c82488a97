/* The GPU suite's model section: the BERT-family, ResNet and Marian fixtures
 * end to end on the GPU (weights from the plugin's weight cache, activations
 * in device memory: what `lepton --device cuda` runs) against the same models
 * on the CPU backend.
 *
 * Tolerances: encoders and ResNet max |gpu - cpu| <= 1e-4 (1 + max |cpu|) on
 * logits, embeddings and
 * probabilities (f32 throughout, no TF32; cuDNN and cuBLASLt may pick
 * algorithms that sum in another order: the emulated run of the same code,
 * cuda.models, measures <= 4e-7); Marian the same token ids and scores within
 * 1e-4 (1 + |score|). Timings are not taken here. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/encoder.h"
#include "models/image_classifier.h"
#include "models/translator.h"
#include "tests/test_util.h"

void lp_gpu_suite_models(const lp_backend *gpu);

static void encoder(const lp_backend *gpu, const char *name, lp_rng *rng) {
    char rel[256], dir[4096];
    snprintf(rel, sizeof rel, "tests/fixtures/bert/%s", name);
    lp_error err = {0};
    lp_encoder *enc = NULL;
    CHECK_OK(lp_encoder_load(lp_test_source_path(rel, dir, sizeof dir), &enc, &err), &err);
    if (!enc) return;
    enum { N = 5, LEN = 17 };
    int32_t ids[N * LEN];
    lp_encoder_input in[N];
    int64_t vocab = lp_encoder_config(enc)->vocab_size;
    for (int i = 0; i < N; i++) {
        int64_t len = 1 + (int64_t)(lp_rng_next(rng) % LEN);
        for (int64_t p = 0; p < len; p++) ids[i * LEN + p] = (int32_t)(lp_rng_next(rng) % (uint64_t)vocab);
        in[i] = (lp_encoder_input){ids + i * LEN, NULL, len};
    }
    bool classify = lp_encoder_can_classify(enc);
    int64_t width = classify ? lp_encoder_num_labels(enc) : lp_encoder_embedding_dim(enc);
    float *want = calloc(N * (size_t)width, sizeof *want), *got = calloc(N * (size_t)width, sizeof *got);
    lp_encoder_session *cpu = NULL, *dev = NULL;
    CHECK_OK(lp_encoder_session_create_on(enc, lp_backend_cpu(), NULL, 8, &cpu, &err), &err);
    CHECK_OK(lp_encoder_session_create_on(enc, gpu, NULL, 8, &dev, &err), &err);
    if (cpu && dev) {
        if (classify) {
            CHECK_OK(lp_encoder_classify_ids(cpu, in, N, want, &err), &err);
            CHECK_OK(lp_encoder_classify_ids(dev, in, N, got, &err), &err);
        } else {
            CHECK_OK(lp_encoder_embed_ids(cpu, in, N, want, &err), &err);
            CHECK_OK(lp_encoder_embed_ids(dev, in, N, got, &err), &err);
        }
        double most = 0, diff = lp_test_max_abs_diff(got, want, N * (size_t)width);
        for (int64_t i = 0; i < N * width; i++) most = fmax(most, fabs(want[i]));
        CHECK_MSG(diff <= 1e-4 * (1 + most), "encoder %s: max |gpu - cpu| %.3g", name, diff);
        printf("  encoder %-15s %-10s max |gpu - cpu| %.2e\n", name, classify ? "logits" : "embeddings", diff);
    }
    lp_encoder_session_free(cpu);
    lp_encoder_session_free(dev);
    lp_encoder_free(enc);
    free(want);
    free(got);
}

static void resnet(const lp_backend *gpu, const char *name, lp_rng *rng) {
    char rel[256], dir[4096];
    snprintf(rel, sizeof rel, "tests/fixtures/resnet/%s", name);
    lp_error err = {0};
    lp_image_classifier *c = NULL;
    CHECK_OK(lp_image_classifier_load(lp_test_source_path(rel, dir, sizeof dir), NULL, &c, &err), &err);
    if (!c) return;
    const int64_t n = 2, h = 64, w = 48, classes = lp_image_classifier_num_classes(c);
    float *x = malloc(sizeof *x * (size_t)(n * 3 * h * w));
    float *want = malloc(sizeof *want * (size_t)(n * classes)), *got = malloc(sizeof *got * (size_t)(n * classes));
    lp_rng_fill_normal(rng, x, (size_t)(n * 3 * h * w), 1.0f);
    lp_image_session *cpu = NULL, *dev = NULL;
    CHECK_OK(lp_image_session_create(c, lp_backend_cpu(), NULL, &cpu, &err), &err);
    CHECK_OK(lp_image_session_create(c, gpu, NULL, &dev, &err), &err);
    lp_tensor tx = lp_tensor_4d(x, LP_F32, n, 3, h, w);
    for (int probs = 0; cpu && dev && probs < 2; probs++) {
        lp_tensor tw = lp_tensor_2d(want, LP_F32, n, classes), tg = lp_tensor_2d(got, LP_F32, n, classes);
        CHECK_OK(lp_image_session_forward(cpu, &tx, !probs, &tw, &err), &err);
        CHECK_OK(lp_image_session_forward(dev, &tx, !probs, &tg, &err), &err);
        double most = 0, diff = lp_test_max_abs_diff(got, want, (size_t)(n * classes));
        for (int64_t i = 0; i < n * classes; i++) most = fmax(most, fabs(want[i]));
        CHECK_MSG(diff <= 1e-4 * (1 + most), "resnet %s %s: max |gpu - cpu| %.3g", name, probs ? "probs" : "logits",
                  diff);
        printf("  resnet %-16s %-6s max |gpu - cpu| %.2e\n", name, probs ? "probs" : "logits", diff);
    }
    lp_image_session_free(cpu);
    lp_image_session_free(dev);
    lp_image_classifier_free(c);
    free(x);
    free(want);
    free(got);
}

static void marian(const lp_backend *gpu, const char *name, const char *const *texts, size_t n) {
    char rel[256], dir[4096];
    snprintf(rel, sizeof rel, "tests/fixtures/marian/%s", name);
    lp_error err = {0};
    lp_translator *tr = NULL;
    CHECK_OK(lp_translator_load(lp_test_source_path(rel, dir, sizeof dir), &tr, &err), &err);
    if (!tr) return;
    lp_translator_session *cpu = NULL, *dev = NULL;
    CHECK_OK(lp_translator_session_create_on(tr, lp_backend_cpu(), NULL, 2, &cpu, &err), &err);
    CHECK_OK(lp_translator_session_create_on(tr, gpu, NULL, 2, &dev, &err), &err);
    lp_translate_text *in = calloc(n, sizeof *in);
    for (size_t i = 0; i < n; i++) in[i] = (lp_translate_text){texts[i], strlen(texts[i])};
    for (int beams = 1; cpu && dev && beams <= 4; beams += 3) {
        lp_translate_options o = lp_translator_default_options(tr);
        o.num_beams = beams;
        o.max_new_tokens = 20;
        lp_translation *want = calloc(n, sizeof *want), *got = calloc(n, sizeof *got);
        lp_status s1 = lp_translate_texts(cpu, in, n, &o, want, &err);
        CHECK_OK(s1, &err);
        lp_status s2 = s1 ? s1 : lp_translate_texts(dev, in, n, &o, got, &err);
        CHECK_OK(s2, &err);
        double most = 0;
        for (size_t i = 0; i < n && !s1 && !s2; i++) {
            CHECK_MSG(got[i].n_ids == want[i].n_ids &&
                          (!want[i].n_ids || !memcmp(got[i].ids, want[i].ids, want[i].n_ids * sizeof *got[i].ids)),
                      "marian %s beams %d text %zu: other ids on the gpu", name, beams, i);
            double diff = fabs((double)got[i].score - want[i].score);
            CHECK_MSG(diff <= 1e-4 * (1 + fabs(want[i].score)), "marian %s beams %d text %zu: score %.7g vs %.7g",
                      name, beams, i, got[i].score, want[i].score);
            most = fmax(most, diff);
        }
        printf("  marian %-16s beams %d: same ids, max |score diff| %.2e\n", name, beams, most);
        if (!s1) lp_translations_free(want, n);
        if (!s2) lp_translations_free(got, n);
        free(want);
        free(got);
    }
    free(in);
    lp_translator_session_free(cpu);
    lp_translator_session_free(dev);
    lp_translator_free(tr);
}

void lp_gpu_suite_models(const lp_backend *gpu) {
    lp_rng rng = lp_rng_seed(7);
    static const char *const encoders[] = {"bert-chinese-cls", "roberta-cls", "distilbert-cls", "st-mean-norm"};
    for (size_t i = 0; i < sizeof encoders / sizeof *encoders; i++) encoder(gpu, encoders[i], &rng);
    static const char *const resnets[] = {"tv_basic", "tv_bottleneck", "hf_v1"};
    for (size_t i = 0; i < sizeof resnets / sizeof *resnets; i++) resnet(gpu, resnets[i], &rng);
    static const char *const zh[] = {"嗨。", "你在哪儿?", "我没有疑问。", "今天天气很好，我们去公园散步吧。"};
    static const char *const en[] = {"Hi.", "Where are you?", "I have no doubt.",
                                     "The weather is nice today, let's take a walk in the park."};
    marian(gpu, "zh-en-tiny", zh, 4);
    marian(gpu, "en-zh-tiny", en, 4);
}
