/* The image classifier API: a batch with good and bad images (bad ones fail
 * alone, with a message), results equal to the single-image path and to
 * softmax(expected logits) from torchvision (fixtures of test_resnet.c), top-k
 * order, two sessions (fast and reference backends) on one model. */
#include <cjson/cJSON.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/image_classifier.h"
#include "pretrained/safetensors.h"
#include "tests/test_util.h"

typedef struct file {
    uint8_t *bytes;
    size_t size;
} file;

static file read_rel(const char *rel) {
    char path[4096];
    file f = {0};
    lp_error err = {0};
    CHECK_OK(lp_image_read_file(lp_test_source_path(rel, path, sizeof path), 0, &f.bytes, &f.size, &err), &err);
    return f;
}

/* Several workers, each with its own session, on one shared classifier. */
typedef struct worker {
    const lp_image_classifier *c;
    const lp_image_input *in;
    size_t n;
    int64_t top1[8];
    int failures;
} worker;

static void *work(void *arg) {
    worker *w = arg;
    lp_error err = {0};
    lp_image_session *s;
    if (lp_image_session_create(w->c, NULL, NULL, &s, &err) != LP_OK) {
        w->failures++;
        return NULL;
    }
    for (int round = 0; round < 3; round++) {
        int64_t idx[8];
        float score[8];
        lp_image_result r[8];
        for (size_t i = 0; i < w->n; i++) {
            r[i].index = &idx[i];
            r[i].score = &score[i];
        }
        if (lp_image_session_classify(s, w->in, w->n, 1, r, &err) != LP_OK) w->failures++;
        for (size_t i = 0; i < w->n; i++) {
            int64_t t = r[i].status == LP_OK ? r[i].index[0] : -1;
            if (round == 0) w->top1[i] = t;
            else if (w->top1[i] != t) w->failures++;
        }
    }
    lp_image_session_free(s);
    return NULL;
}

int main(void) {
    char dir[4096], path[4096];
    lp_error err = {0};
    lp_image_classifier *c;
    lp_test_source_path("tests/fixtures/resnet/tv_bottleneck", dir, sizeof dir);
    CHECK_OK(lp_image_classifier_load(dir, NULL, &c, &err), &err);
    if (!c) return lp_test_finish();
    CHECK(lp_image_classifier_num_classes(c) == 3);
    CHECK(!strcmp(lp_image_classifier_label(c, 2), "malignant"));
    int h, w;
    lp_image_classifier_input_size(c, &h, &w);
    CHECK(h == 224 && w == 224);
    printf("  %s, labels from %s, preprocessing: %s\n", lp_image_classifier_describe(c),
           lp_image_classifier_label_source(c), lp_image_classifier_preprocess(c)->source);

    /* Expected probabilities: softmax of torchvision's logits (e2e fixtures). */
    lp_safetensors *expd;
    CHECK_OK(lp_safetensors_open(lp_test_source_path("tests/fixtures/resnet/expected.safetensors", path, sizeof path),
                                 &expd, &err),
             &err);
    const char *names[] = {"tests/fixtures/images/rgb8.png", "tests/fixtures/images/gray8.png",
                           "tests/fixtures/images/exif_6.jpg", "tests/fixtures/images/rgb_baseline.jpg"};
    const char *keys[] = {"e2e.rgb8", NULL, "e2e.exif_6", "e2e.rgb_baseline"};
    enum { N = 6, K = 3 };
    file files[4];
    for (int i = 0; i < 4; i++) files[i] = read_rel(names[i]);
    uint8_t junk[] = "definitely not an image";
    lp_image_input in[N] = {{files[0].bytes, files[0].size}, {junk, sizeof junk}, {files[1].bytes, files[1].size},
                            {files[2].bytes, files[2].size}, {files[3].bytes, files[3].size},
                            {files[3].bytes, files[3].size / 3}};
    const int file_of[N] = {0, -1, 1, 2, 3, -1};
    int64_t idx[N][K];
    float score[N][K];
    lp_image_result res[N];
    for (int i = 0; i < N; i++) {
        res[i].index = idx[i];
        res[i].score = score[i];
    }
    lp_threadpool *pool = lp_threadpool_create(2);
    lp_image_session *s, *s2;
    CHECK_OK(lp_image_session_create(c, NULL, pool, &s, &err), &err);
    CHECK_OK(lp_image_session_create(c, lp_backend_cpu_ref(), NULL, &s2, &err), &err);
    CHECK_OK(lp_image_session_classify(s, in, N, K + 5, res, &err), &err);
    for (int i = 0; i < N; i++) {
        if (file_of[i] < 0) {
            CHECK_MSG(res[i].status != LP_OK && res[i].error[0] && res[i].k == 0, "item %d should fail", i);
            printf("  item %d refused: %s\n", i, res[i].error);
            continue;
        }
        CHECK_MSG(res[i].status == LP_OK && res[i].k == K, "item %d: %s", i, res[i].error);
        double sum = 0;
        for (int j = 0; j < res[i].k; j++) {
            sum += res[i].score[j];
            if (j) CHECK(res[i].score[j] <= res[i].score[j - 1]);
        }
        CHECK_MSG(fabs(sum - 1.0) < 1e-5, "item %d: probabilities sum to %g", i, sum);
        const char *key = keys[file_of[i]];
        if (!key) continue;
        lp_tensor ref;
        CHECK_OK(lp_safetensors_get(expd, key, &ref, &err), &err);
        const float *l = ref.data;
        double mx = l[0], z = 0;
        for (int j = 1; j < 3; j++) mx = l[j] > mx ? l[j] : mx;
        for (int j = 0; j < 3; j++) z += exp(l[j] - mx);
        double worst = 0;
        for (int j = 0; j < res[i].k; j++) {
            double p = exp(l[res[i].index[j]] - mx) / z;
            worst = fmax(worst, fabs(p - res[i].score[j]));
        }
        printf("  item %d (%s): top-1 %s %.5f, max |p - torchvision p| %.2g\n", i, names[file_of[i]],
               lp_image_classifier_label(c, (int)res[i].index[0]), res[i].score[0], worst);
        CHECK_MSG(worst < 2e-3, "item %d: probabilities differ from torchvision's by %g", i, worst);
    }
    /* The same images one at a time, on the reference backend: same answers. */
    for (int i = 0; i < N; i++) {
        if (file_of[i] < 0) continue;
        int64_t i1[K];
        float s1[K];
        lp_image_result r1 = {.index = i1, .score = s1};
        CHECK_OK(lp_image_session_classify(s2, &in[i], 1, K, &r1, &err), &err);
        CHECK(r1.status == LP_OK && r1.index[0] == res[i].index[0] && fabsf(r1.score[0] - res[i].score[0]) < 1e-5f);
    }
    /* Three threads with their own sessions agree with the batch above. */
    worker wk[3];
    pthread_t th[3];
    for (int t = 0; t < 3; t++) {
        wk[t] = (worker){.c = c, .in = in, .n = N};
        CHECK(pthread_create(&th[t], NULL, work, &wk[t]) == 0);
    }
    for (int t = 0; t < 3; t++) {
        pthread_join(th[t], NULL);
        CHECK_MSG(wk[t].failures == 0, "worker %d: %d failures", t, wk[t].failures);
        for (int i = 0; i < N; i++)
            CHECK_MSG(wk[t].top1[i] == (file_of[i] < 0 ? -1 : res[i].index[0]), "worker %d item %d", t, i);
    }
    /* Bad arguments. */
    CHECK_FAILS(lp_image_session_classify(s, in, 1, 0, res, &err), LP_ERR_INVALID_ARG, &err, "top_k");
    lp_error_clear(&err);
    CHECK_OK(lp_image_session_classify(s, in, 0, 1, res, &err), &err);
    lp_image_session_free(s);
    lp_image_session_free(s2);
    lp_threadpool_destroy(pool);
    lp_safetensors_close(expd);
    for (int i = 0; i < 4; i++) free(files[i].bytes);
    lp_image_classifier_free(c);
    CHECK_FAILS(lp_image_classifier_load("/nonexistent", NULL, &c, &err), LP_ERR_IO, &err, "nonexistent");
    return lp_test_finish();
}
