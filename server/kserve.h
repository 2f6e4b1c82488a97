/* KServe v2 / Open Inference Protocol over HTTP/REST, with Triton's binary
 * tensor data, classification and statistics extensions: the pure part (no
 * libevent, no models), so it can be unit-tested and fuzzed.
 *
 *  - lp_kserve_parse_infer: an infer request body (JSON, or JSON followed by
 *    binary tensor data whose JSON length the Inference-Header-Content-Length
 *    header gives) -> a neutral struct, every field validated.
 *  - lp_kserve_plan_infer: that request against a model's description ->
 *    what to run (texts, pairs, encoded images or an FP32 tensor) and which
 *    outputs to send how (JSON or binary, raw or `classification`).
 *  - lp_kserve_encode_response: output tensors -> the response body (JSON, or
 *    JSON + binary tail).
 *  - metadata, readiness and statistics JSON.
 *
 * Sizes from the network are never trusted: shapes are checked against the
 * element counts, binary_data_size against the bytes present, BYTES element
 * lengths against what is left; counts are capped before anything is
 * allocated from them. */
#ifndef LP_SERVER_KSERVE_H
#define LP_SERVER_KSERVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "kernels/status.h"
#include "server/metrics.h"

#define LP_KSERVE_MAX_DIMS 8
#define LP_KSERVE_MAX_TENSORS 64 /* inputs or outputs per request */
#define LP_KSERVE_MAX_NAME 128   /* bytes in a tensor name */
#define LP_KSERVE_MAX_ELEMENTS ((int64_t)1 << 32)

typedef enum lp_kserve_dtype {
    LP_KS_BOOL = 0,
    LP_KS_UINT8,
    LP_KS_UINT16,
    LP_KS_UINT32,
    LP_KS_UINT64,
    LP_KS_INT8,
    LP_KS_INT16,
    LP_KS_INT32,
    LP_KS_INT64,
    LP_KS_FP16,
    LP_KS_FP32,
    LP_KS_FP64,
    LP_KS_BF16,
    LP_KS_BYTES,
    LP_KS_DTYPE_COUNT
} lp_kserve_dtype;

/* "BOOL", "UINT8", ..., "FP32", "BYTES". */
const char *lp_kserve_dtype_name(lp_kserve_dtype t);
/* Exact, case-sensitive as the protocol says; false for unknown names. */
bool lp_kserve_dtype_parse(const char *name, lp_kserve_dtype *out);
/* Bytes per element; 0 for BYTES (variable). */
size_t lp_kserve_dtype_size(lp_kserve_dtype t);

/* One BYTES element: points into the request body or the parsed JSON. */
typedef struct lp_kserve_bytes {
    const unsigned char *data;
    size_t len;
} lp_kserve_bytes;

typedef struct lp_kserve_tensor {
    char *name;
    lp_kserve_dtype dtype;
    int ndim;
    int64_t shape[LP_KSERVE_MAX_DIMS];
    int64_t count;          /* product of shape */
    bool binary;            /* data came from the binary tail */
    void *values;           /* numeric: count elements, native byte order, owned;
                               FP16/BF16 kept as uint16 bit patterns */
    lp_kserve_bytes *elems; /* BYTES: count elements (owned array, borrowed bytes) */
} lp_kserve_tensor;

typedef struct lp_kserve_output_request {
    char *name;
    int binary_data;    /* -1 not given, 0 false, 1 true */
    int classification; /* 0 = raw tensor; k > 0 = top-k "value:index[:label]" strings */
} lp_kserve_output_request;

typedef struct lp_kserve_infer_request {
    char *id;                   /* NULL when absent */
    lp_kserve_tensor *inputs;
    int n_inputs;
    lp_kserve_output_request *outputs;
    int n_outputs;              /* 0: the client asked for every output */
    bool binary_data_output;    /* parameters.binary_data_output */
    int64_t timeout_us;         /* parameters.timeout (Triton: microseconds); -1 absent */
    int truncate;               /* parameters.truncate: -1 absent, 0 = refuse texts longer
                                   than the model takes (422), 1 = truncate (the default) */
    cJSON *json;                /* the parsed header (JSON BYTES data point into it) */
} lp_kserve_infer_request;

/* Parses an infer request. `body` (len bytes) must outlive `out` (binary BYTES
 * elements point into it). header_len: the Inference-Header-Content-Length
 * value, or -1 when the header is absent (then the whole body is JSON).
 * Errors are LP_ERR_FORMAT with a message naming the field (answer 400). */
lp_status lp_kserve_parse_infer(const unsigned char *body, size_t len, int64_t header_len,
                                lp_kserve_infer_request *out, lp_error *err);
void lp_kserve_infer_request_free(lp_kserve_infer_request *r);

/* Parses the Inference-Header-Content-Length header value: a decimal integer
 * 0 .. body_len. -1 when `value` is NULL (no header). */
lp_status lp_kserve_parse_header_length(const char *value, size_t body_len, int64_t *out,
                                        lp_error *err);

/* ---- models as the protocol sees them ---------------------------------- */

typedef enum lp_kserve_model_kind {
    LP_KS_MODEL_TEXT_CLASSIFY = 0, /* text (+ text_pair) -> logits, probabilities */
    LP_KS_MODEL_TEXT_EMBED,        /* text -> embedding */
    LP_KS_MODEL_IMAGE,             /* image (encoded) or pixel_values -> probabilities */
    LP_KS_MODEL_TRANSLATE,         /* text -> translation */
} lp_kserve_model_kind;

typedef struct lp_kserve_model_desc {
    const char *name;
    lp_kserve_model_kind kind;
    int64_t width;        /* labels (classify, image) or embedding dim; 0 for translate */
    int image_h, image_w; /* the size the model's own preprocessing makes (0: varies);
                             pixel_values of any size are accepted */
    int max_items;        /* items per request (0: no limit here) */
    size_t max_item_bytes; /* bytes per text or image (0: no limit here) */
    /* label i, or NULL (for classification strings); ctx is label_ctx */
    const char *(*label)(const void *ctx, int64_t i);
    const void *label_ctx;
} lp_kserve_model_desc;

/* Tensor names the server uses. */
#define LP_KS_IN_TEXT "text"
#define LP_KS_IN_TEXT_PAIR "text_pair"
#define LP_KS_IN_IMAGE "image"
#define LP_KS_IN_PIXELS "pixel_values"
#define LP_KS_OUT_LOGITS "logits"
#define LP_KS_OUT_PROBS "probabilities"
#define LP_KS_OUT_EMBEDDING "embedding"
#define LP_KS_OUT_TRANSLATION "translation"

typedef enum lp_kserve_job {
    LP_KS_JOB_CLASSIFY = 0, /* texts -> logits [n, width] */
    LP_KS_JOB_EMBED,        /* texts -> embeddings [n, width] */
    LP_KS_JOB_IMAGE_BYTES,  /* encoded images -> probabilities [n, width] */
    LP_KS_JOB_IMAGE_TENSOR, /* FP32 [n, 3, h, w] -> probabilities [n, width] */
    LP_KS_JOB_TRANSLATE,    /* texts -> strings */
} lp_kserve_job;

typedef enum lp_kserve_out_kind {
    LP_KS_OUT_KIND_LOGITS = 0,
    LP_KS_OUT_KIND_PROBS,
    LP_KS_OUT_KIND_EMBEDDING,
    LP_KS_OUT_KIND_TRANSLATION,
} lp_kserve_out_kind;

typedef struct lp_kserve_planned_output {
    const char *name; /* one of the LP_KS_OUT_* names */
    lp_kserve_out_kind kind;
    bool binary;
    int classification; /* 0, or top-k (clamped to width) */
} lp_kserve_planned_output;

typedef struct lp_kserve_plan {
    lp_kserve_job job;
    size_t n;                          /* items */
    const lp_kserve_tensor *text;      /* BYTES, n elements (texts or images) */
    const lp_kserve_tensor *pair;      /* BYTES text_pair or NULL */
    const lp_kserve_tensor *pixels;    /* FP32 [n,3,h,w] or NULL */
    int pixels_h, pixels_w;
    int n_outputs;
    lp_kserve_planned_output outputs[4];
} lp_kserve_plan;

/* Checks the request against the model: input names, datatypes, shapes
 * ([n] or [n, 1] for BYTES), item limits, UTF-8 texts, requested outputs and
 * their parameters. On failure *http_status is 400 (bad request) or 413 (too
 * many items / an item too large) and err says which field and why. */
lp_status lp_kserve_plan_infer(const lp_kserve_model_desc *m, const lp_kserve_infer_request *r,
                               lp_kserve_plan *plan, int *http_status, lp_error *err);

/* ---- responses ----------------------------------------------------------- */

typedef struct lp_kserve_output {
    const char *name;
    lp_kserve_dtype dtype;
    int ndim;
    int64_t shape[LP_KSERVE_MAX_DIMS];
    const void *values;           /* numeric, native order */
    const lp_kserve_bytes *elems; /* BYTES */
    bool binary;
} lp_kserve_output;

/* Builds the body. *header_len is the JSON part's length when any output is
 * binary (send Inference-Header-Content-Length and application/octet-stream),
 * else -1 (application/json). The body is malloc'd (caller frees). id may be NULL. */
lp_status lp_kserve_encode_response(const char *model_name, const char *model_version,
                                    const char *id, const lp_kserve_output *outs, int n,
                                    char **body, size_t *body_len, int64_t *header_len,
                                    lp_error *err);

/* The same with top-level response "parameters" (borrowed, copied; NULL: none),
 * e.g. {"truncated": [false, true]}. */
lp_status lp_kserve_encode_response_params(const char *model_name, const char *model_version,
                                           const char *id, const cJSON *params,
                                           const lp_kserve_output *outs, int n, char **body,
                                           size_t *body_len, int64_t *header_len, lp_error *err);

/* Top-k classification strings, Triton's "value:index[:label]" (value printed
 * as %f like Triton), rows x k elements, row by row, best first (ties: lower
 * index first). One allocation (*buf) holds both the elements and their bytes;
 * free(*buf) releases everything. */
lp_status lp_kserve_classification(const float *x, int64_t rows, int64_t width, int k,
                                   const char *(*label)(const void *ctx, int64_t i),
                                   const void *label_ctx, lp_kserve_bytes **elems, void **buf,
                                   lp_error *err);

/* A float as the shortest JSON number that reads back as the same float
 * (through a double, as JSON readers do); "null" for NaN and infinities.
 * buf holds >= 32 bytes; returns the length. ~10x faster than "%.9g". */
int lp_kserve_format_f32(float f, char *buf);

/* {"error": message} as a string (malloc'd). */
char *lp_kserve_error_json(const char *message);

/* GET /v2: name, version, extensions. */
cJSON *lp_kserve_server_metadata(const char *version);
/* GET /v2/models/{name}: versions, platform, inputs and outputs. */
cJSON *lp_kserve_model_metadata(const lp_kserve_model_desc *m);
/* One $model_stat object of the statistics extension. */
cJSON *lp_kserve_model_stats_json(const char *name, const lp_model_stats *s);

/* ---- routes ---------------------------------------------------------------- */

typedef enum lp_kserve_route_kind {
    LP_KS_ROUTE_NONE = 0,       /* not a /v2 path */
    LP_KS_ROUTE_BAD,            /* under /v2 but no such route (404) */
    LP_KS_ROUTE_SERVER_META,    /* GET /v2 */
    LP_KS_ROUTE_LIVE,           /* GET /v2/health/live */
    LP_KS_ROUTE_READY,          /* GET /v2/health/ready */
    LP_KS_ROUTE_MODEL_META,     /* GET /v2/models/{name}[/versions/{v}] */
    LP_KS_ROUTE_MODEL_READY,    /* GET /v2/models/{name}[/versions/{v}]/ready */
    LP_KS_ROUTE_MODEL_STATS,    /* GET /v2/models/{name}[/versions/{v}]/stats */
    LP_KS_ROUTE_ALL_STATS,      /* GET /v2/models/stats */
    LP_KS_ROUTE_INFER,          /* POST /v2/models/{name}[/versions/{v}]/infer */
} lp_kserve_route_kind;

typedef struct lp_kserve_route {
    lp_kserve_route_kind kind;
    char model[LP_KSERVE_MAX_NAME + 1]; /* percent-decoded by the caller's path */
    char version[32];                   /* "" when not given */
    bool post;                          /* the route takes POST (else GET/HEAD) */
} lp_kserve_route;

/* Splits a decoded path (no query). A model segment longer than
 * LP_KSERVE_MAX_NAME or a version longer than 31 bytes gives LP_KS_ROUTE_BAD. */
lp_kserve_route lp_kserve_match_route(const char *path);

#endif
