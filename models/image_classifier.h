/* Image classification for servers and the CLI: load a model directory once,
 * then classify batches of encoded images from worker threads.
 *
 *   lp_image_classifier  the loaded model and its preprocessing; read-only
 *                        after load, shared by every worker.
 *   lp_image_session     one per worker thread: its op context (backend,
 *                        threads), activation arena and batch buffers. After
 *                        the first batch of a given size, a batch allocates
 *                        nothing but the decoder's image buffers.
 *
 * One bad image in a batch fails only its own item (with a message); the
 * others are still classified. Scores are softmax probabilities. */
#ifndef LP_IMAGE_CLASSIFIER_H
#define LP_IMAGE_CLASSIFIER_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/backend.h"
#include "kernels/status.h"
#include "kernels/tensor.h"
#include "kernels/threadpool.h"
#include "models/image_decode.h"
#include "models/image_preprocess.h"

typedef struct lp_image_classifier lp_image_classifier;
typedef struct lp_image_session lp_image_session;

typedef struct lp_image_classifier_opts {
    uint64_t max_pixels; /* decode limit per image; 0 = LP_IMAGE_DEFAULT_MAX_PIXELS */
} lp_image_classifier_opts;

/* dir: a ResNet directory (see models/resnet.h) with its preprocessing config
 * (see models/image_preprocess.h). opts may be NULL. */
lp_status lp_image_classifier_load(const char *dir, const lp_image_classifier_opts *opts,
                                   lp_image_classifier **out, lp_error *err);
void lp_image_classifier_free(lp_image_classifier *c);

int lp_image_classifier_num_classes(const lp_image_classifier *c);
const char *lp_image_classifier_label(const lp_image_classifier *c, int index);
const char *lp_image_classifier_label_source(const lp_image_classifier *c);
/* "resnet50 (transformers layout)". */
const char *lp_image_classifier_describe(const lp_image_classifier *c);
const lp_image_preprocess *lp_image_classifier_preprocess(const lp_image_classifier *c);
/* The model's input size when fixed by the preprocessing (a crop or an exact
 * resize); 0 and 0 when it varies with the image. */
void lp_image_classifier_input_size(const lp_image_classifier *c, int *height, int *width);

/* backend NULL = lp_backend_cpu(); pool may be NULL (single-threaded) and is
 * not owned. On a device backend (CUDA) the session's weights are the
 * backend's device copies (uploaded once per process, shared by every
 * session), its activations live in device memory, and inputs and results
 * are copied in and out. */
lp_status lp_image_session_create(const lp_image_classifier *c, const lp_backend *backend,
                                  lp_threadpool *pool, lp_image_session **out, lp_error *err);
void lp_image_session_free(lp_image_session *s);

typedef struct lp_image_input {
    const void *bytes;
    size_t size;
} lp_image_input;

/* One item's answer: `k` entries of index and score (descending), or a
 * failure status with its message. */
typedef struct lp_image_result {
    lp_status status;
    char error[LP_ERROR_MSG_MAX];
    int k;
    int64_t *index; /* caller-provided, top_k entries */
    float *score;   /* caller-provided, top_k entries */
} lp_image_result;

/* Decodes, preprocesses and classifies n images. results[i].index/score must
 * point at top_k entries each (top_k is clamped to the class count; k says how
 * many were written). Returns non-OK only when the batch as a whole could not
 * run (then err says why); per-image failures are in results[i]. */
lp_status lp_image_session_classify(lp_image_session *s, const lp_image_input *inputs, size_t n,
                                    int top_k, lp_image_result *results, lp_error *err);

/* Already-preprocessed input (as KServe FP32 tensors): x f32 [N, 3, H, W] ->
 * probs f32 [N, classes] (softmax) or, when `logits_only`, the raw logits. */
lp_status lp_image_session_forward(lp_image_session *s, const lp_tensor *x, bool logits_only,
                                   lp_tensor *out, lp_error *err);

/* Per-op timing of this session's forwards (see lp_ctx_enable_profile); the
 * table has LP_OP_COUNT entries, NULL while profiling is off. */
lp_status lp_image_session_enable_profile(lp_image_session *s, bool on, lp_error *err);
const lp_op_profile *lp_image_session_profile(const lp_image_session *s);

#endif
