/* ResNet against torchvision / timm / transformers on the same weights
 * (fixtures from tools/make_resnet_fixtures.py): every layout, batch 1 and 8,
 * on the CPU fast path and the CPU reference backend.
 *
 * Tolerance: max |lepton - reference| / max |reference| <= 1e-4 on the logits
 * (f32 throughout; BN folding and summation order move the last bits only).
 * End to end (decode + preprocess + forward against torchvision's PIL
 * pipeline): lossless images <= 1e-4 as above; JPEG decodes differ by about a
 * level on some pixels (stb vs libjpeg), so there <= 2e-2 and the same top-1.
 *
 * LP_RESNET_FULL_FIXTURES=DIR (make_resnet_fixtures.py --full DIR) adds the
 * full ResNet-50 models in all three layouts. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kernels/backend.h"
#include "kernels/ops.h"
#include "models/image_preprocess.h"
#include "models/resnet.h"
#include "pretrained/safetensors.h"
#include "tests/test_util.h"

static double rel_diff(const float *x, const float *ref, size_t n) {
    double mx = 0, mref = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)x[i] - ref[i]);
        if (d > mx || isnan(d)) mx = isnan(d) ? INFINITY : d;
        if (fabs(ref[i]) > mref) mref = fabs(ref[i]);
    }
    return mx / (mref > 0 ? mref : 1);
}

static int argmax(const float *x, int n) {
    int b = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[b]) b = i;
    return b;
}

/* x (f16 stored) as f32 [n, 3, H, W]. */
static float *load_input(lp_safetensors *st, const char *name, lp_tensor *x) {
    lp_tensor t;
    lp_error err = {0};
    CHECK_OK(lp_safetensors_get(st, name, &t, &err), &err);
    if (t.dtype != LP_F16 || t.ndim != 4) return NULL;
    int64_t n = lp_tensor_numel(&t);
    float *f = malloc(sizeof(float) * (size_t)n);
    for (int64_t i = 0; i < n; i++) f[i] = lp_f16_to_f32(((const uint16_t *)t.data)[i]);
    *x = lp_tensor_make(f, LP_F32, 4, t.shape);
    return f;
}

static void check_model(const char *dir, const char *name, const char *want_layout, lp_safetensors *exp,
                        const lp_tensor *x, lp_ctx *ctx, const char *backend) {
    lp_error err = {0};
    lp_resnet *m;
    lp_status s = lp_resnet_load(dir, &m, &err);
    CHECK_OK(s, &err);
    if (s != LP_OK) return;
    if (want_layout)
        CHECK_MSG(!strcmp(lp_resnet_layout_name(lp_resnet_get_layout(m)), want_layout), "%s: layout %s, want %s", name,
                  lp_resnet_layout_name(lp_resnet_get_layout(m)), want_layout);
    lp_arena *arena = lp_arena_create(0);
    const int C = lp_resnet_num_classes(m);
    for (int pass = 0; pass < 2; pass++) {
        const int64_t n = pass == 0 ? 1 : x->shape[0];
        char key[256];
        snprintf(key, sizeof key, "%s.b%lld", name, (long long)n);
        lp_tensor ref;
        CHECK_OK(lp_safetensors_get(exp, key, &ref, &err), &err);
        float *out = calloc((size_t)(n * C), sizeof(float));
        lp_tensor logits = lp_tensor_2d(out, LP_F32, n, C);
        lp_tensor xin = lp_tensor_narrow(x, 0, 0, n);
        s = lp_resnet_forward(m, ctx, arena, &xin, &logits, &err);
        CHECK_OK(s, &err);
        lp_arena_reset(arena);
        if (s == LP_OK && ref.ndim == 2 && ref.shape[0] == n && ref.shape[1] == C) {
            double r = rel_diff(out, ref.data, (size_t)(n * C));
            double ma = lp_test_max_abs_diff(out, ref.data, (size_t)(n * C));
            printf("  %-18s %-12s %-12s batch %lld: max|diff| %.3g, / max|logit| = %.3g (%s, %s)\n", name,
                   lp_resnet_layout_name(lp_resnet_get_layout(m)), lp_resnet_describe(m), (long long)n, ma, r,
                   backend, lp_resnet_label_source(m));
            CHECK_MSG(r <= 1e-4, "%s batch %lld: relative diff %.3g > 1e-4", name, (long long)n, r);
        }
        free(out);
        /* Steady state: the same forward again allocates nothing. */
        if (pass == 1 && s == LP_OK) {
            size_t before = lp_arena_system_allocs(arena);
            out = calloc((size_t)(n * C), sizeof(float));
            logits = lp_tensor_2d(out, LP_F32, n, C);
            CHECK_OK(lp_resnet_forward(m, ctx, arena, &xin, &logits, &err), &err);
            lp_arena_reset(arena);
            CHECK_MSG(lp_arena_system_allocs(arena) == before, "%s: a repeated forward allocated (%zu -> %zu)", name,
                      before, lp_arena_system_allocs(arena));
            free(out);
        }
    }
    lp_arena_destroy(arena);
    lp_resnet_free(m);
}

static void test_labels(const char *root) {
    char dir[8192];
    lp_error err = {0};
    lp_resnet *m;
    struct {
        const char *dir, *label0, *source;
    } cases[] = {{"tv_bottleneck", "normal", "labels.txt"},
                 {"tv_basic", "class_0", "none"},
                 {"timm_bottleneck", "normal", "label_names"},
                 {"hf_bottleneck", "normal", "id2label"},
                 {"hf_basic", "a", "id2label"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(dir, sizeof dir, "%s/%s", root, cases[i].dir);
        if (lp_resnet_load(dir, &m, &err) != LP_OK) {
            CHECK_MSG(0, "%s: %s", cases[i].dir, err.msg);
            lp_error_clear(&err);
            continue;
        }
        CHECK_MSG(!strcmp(lp_resnet_label(m, 0), cases[i].label0) &&
                      !strcmp(lp_resnet_label_source(m), cases[i].source),
                  "%s: label 0 '%s' from %s", cases[i].dir, lp_resnet_label(m, 0), lp_resnet_label_source(m));
        CHECK(!strcmp(lp_resnet_label(m, -1), "?"));
        lp_resnet_free(m);
    }
}

/* Refusals, on copies of a fixture with one thing broken. */
static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static void test_refusals(const char *root) {
    lp_error err = {0};
    lp_resnet *m;
    char src[8192], tmp[] = "/tmp/lp_resnet_test_XXXXXX", path[8400];
    CHECK_FAILS(lp_resnet_load("/nonexistent/model", &m, &err), LP_ERR_IO, &err, "model.safetensors");
    lp_error_clear(&err);
    if (!mkdtemp(tmp)) return;
    snprintf(src, sizeof src, "%s/tv_bottleneck/model.safetensors", root);
    lp_safetensors *st;
    CHECK_OK(lp_safetensors_open(src, &st, &err), &err);
    size_t n = lp_safetensors_count(st);
    lp_st_entry *e = calloc(n + 1, sizeof *e);
    lp_tensor *views = calloc(n + 1, sizeof *views);
    for (size_t i = 0; i < n; i++) {
        e[i].name = lp_safetensors_at(st, i)->name;
        lp_safetensors_get(st, e[i].name, &views[i], &err);
        e[i].tensor = &views[i];
    }
    snprintf(path, sizeof path, "%s/model.safetensors", tmp);
    /* 1. a missing BN tensor */
    size_t skip = 0;
    for (size_t i = 0; i < n; i++)
        if (!strcmp(e[i].name, "layer2.0.bn2.running_var")) skip = i;
    lp_st_entry *f = calloc(n + 1, sizeof *f);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (i != skip) f[k++] = e[i];
    CHECK_OK(lp_safetensors_write(path, f, k, NULL, 0, &err), &err);
    CHECK_FAILS(lp_resnet_load(tmp, &m, &err), LP_ERR_FORMAT, &err, "layer2.0.bn2.running_var");
    lp_error_clear(&err);
    /* 2. an extra tensor of a variant (squeeze-excitation) */
    float se[4] = {0};
    lp_tensor sev = lp_tensor_1d(se, LP_F32, 4);
    e[n].name = "layer1.0.se.fc1.bias";
    e[n].tensor = &sev;
    CHECK_OK(lp_safetensors_write(path, e, n + 1, NULL, 0, &err), &err);
    CHECK_FAILS(lp_resnet_load(tmp, &m, &err), LP_ERR_UNSUPPORTED, &err, "layer1.0.se.fc1.bias");
    lp_error_clear(&err);
    /* 3. labels.txt of the wrong length; 4. id2label of the wrong size; 5. another model_type */
    CHECK_OK(lp_safetensors_write(path, e, n, NULL, 0, &err), &err);
    snprintf(path, sizeof path, "%s/labels.txt", tmp);
    write_file(path, "a\nb\n");
    CHECK_FAILS(lp_resnet_load(tmp, &m, &err), LP_ERR_FORMAT, &err, "2 labels");
    lp_error_clear(&err);
    unlink(path);
    snprintf(path, sizeof path, "%s/config.json", tmp);
    write_file(path, "{\"architecture\": \"resnet50\", \"label_names\": [\"x\"]}");
    CHECK_FAILS(lp_resnet_load(tmp, &m, &err), LP_ERR_FORMAT, &err, "label_names has 1");
    lp_error_clear(&err);
    write_file(path, "{\"model_type\": \"bert\"}");
    CHECK_FAILS(lp_resnet_load(tmp, &m, &err), LP_ERR_UNSUPPORTED, &err, "\"bert\"");
    lp_error_clear(&err);
    write_file(path, "{\"model_type\": \"resnet\", \"depths\": [1, 1, 1, 1], \"layer_type\": \"bottleneck\"}");
    CHECK_FAILS(lp_resnet_load(tmp, &m, &err), LP_ERR_FORMAT, &err, "resnet.embedder");
    lp_error_clear(&err);
    unlink(path);
    snprintf(path, sizeof path, "%s/model.safetensors", tmp);
    unlink(path);
    rmdir(tmp);
    free(e);
    free(f);
    free(views);
    lp_safetensors_close(st);
}

static void test_e2e(const char *root, const cJSON *man, lp_safetensors *exp, lp_ctx *ctx, int size) {
    char dir[8192], path[8192];
    lp_error err = {0};
    snprintf(dir, sizeof dir, "%s/%s", root, cJSON_GetObjectItem(man, "e2e_model")->valuestring);
    lp_resnet *m;
    if (lp_resnet_load(dir, &m, &err) != LP_OK) return;
    lp_image_preprocess p;
    CHECK_OK(lp_image_preprocess_from_dir(dir, &p, &err), &err);
    lp_arena *arena = lp_arena_create(0);
    float *x = malloc(sizeof(float) * 3 * size * size);
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(man, "e2e")) {
        const char *img = cJSON_GetObjectItem(c, "image")->valuestring;
        if (img[0] == '/')
            snprintf(path, sizeof path, "%s", img);
        else
            lp_test_source_path(img, path, sizeof path);
        if (access(path, R_OK) != 0) {
            printf("  skip %s: not present\n", img);
            continue;
        }
        lp_image im;
        CHECK_OK(lp_image_load_file(path, NULL, &im, &err), &err);
        CHECK_OK(lp_image_preprocess_run(&p, &im, x, size, size, &err), &err);
        lp_image_free(&im);
        lp_tensor ref, xin = lp_tensor_4d(x, LP_F32, 1, 3, size, size);
        CHECK_OK(lp_safetensors_get(exp, cJSON_GetObjectItem(c, "logits")->valuestring, &ref, &err), &err);
        float out[1000];
        lp_tensor logits = lp_tensor_2d(out, LP_F32, 1, lp_resnet_num_classes(m));
        lp_status fs = lp_resnet_forward(m, ctx, arena, &xin, &logits, &err);
        lp_arena_reset(arena);
        if (fs != LP_OK) {
            CHECK_MSG(0, "%s: %s", img, err.msg);
            continue;
        }
        const int C = lp_resnet_num_classes(m);
        double r = rel_diff(out, ref.data, (size_t)C);
        const size_t len = strlen(img);
        const bool lossy = len > 4 && !strcmp(img + len - 4, ".jpg");
        printf("  e2e %-56s top-1 %d (%s) vs %d, rel diff %.3g\n", img, argmax(out, C), lp_resnet_label(m, argmax(out, C)),
               argmax(ref.data, C), r);
        CHECK_MSG(argmax(out, C) == argmax(ref.data, C), "%s: top-1 differs", img);
        CHECK_MSG(r <= (lossy ? 2e-2 : 1e-4), "%s: relative logit diff %.3g", img, r);
    }
    free(x);
    lp_arena_destroy(arena);
    lp_resnet_free(m);
}

static void run_set(const char *root, bool e2e, lp_ctx *ctx, const char *backend) {
    char path[8192];
    snprintf(path, sizeof path, "%s/manifest.json", root);
    char *text = lp_test_read_file(path, NULL);
    CHECK_MSG(text != NULL, "cannot read %s", path);
    if (!text) return;
    cJSON *man = cJSON_Parse(text);
    free(text);
    snprintf(path, sizeof path, "%s/expected.safetensors", root);
    lp_safetensors *exp;
    lp_error err = {0};
    CHECK_OK(lp_safetensors_open(path, &exp, &err), &err);
    lp_tensor x;
    float *xbuf = load_input(exp, cJSON_GetObjectItem(man, "input")->valuestring, &x);
    const cJSON *layouts = cJSON_GetObjectItem(man, "layouts");
    const cJSON *mname;
    cJSON_ArrayForEach(mname, cJSON_GetObjectItem(man, "models")) {
        char dir[8192];
        snprintf(dir, sizeof dir, "%s/%s", root, mname->valuestring);
        const cJSON *lay = layouts ? cJSON_GetObjectItem(layouts, mname->valuestring) : NULL;
        if (xbuf) check_model(dir, mname->valuestring, lay ? lay->valuestring : NULL, exp, &x, ctx, backend);
    }
    if (e2e && cJSON_GetObjectItem(man, "e2e")) test_e2e(root, man, exp, ctx, 224);
    free(xbuf);
    lp_safetensors_close(exp);
    cJSON_Delete(man);
}

int main(void) {
    char root[4096];
    lp_test_source_path("tests/fixtures/resnet", root, sizeof root);
    lp_error err = {0};
    lp_threadpool *pool = lp_threadpool_create(2);
    lp_ctx fast, ref;
    CHECK_OK(lp_ctx_init(&fast, lp_backend_cpu(), pool, &err), &err);
    CHECK_OK(lp_ctx_init(&ref, lp_backend_cpu_ref(), NULL, &err), &err);
    test_labels(root);
    test_refusals(root);
    run_set(root, true, &fast, "cpu");
    run_set(root, false, &ref, "cpu-ref");
    const char *full = getenv("LP_RESNET_FULL_FIXTURES");
    if (full && *full) run_set(full, true, &fast, "cpu");
    lp_ctx_release(&fast);
    lp_ctx_release(&ref);
    lp_threadpool_destroy(pool);
    return lp_test_finish();
}
