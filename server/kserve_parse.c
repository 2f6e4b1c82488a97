/* Parsing a KServe v2 infer request: the JSON header and the binary tail. */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/dtype.h"
#include "server/kserve.h"

static const char *const dtype_names[LP_KS_DTYPE_COUNT] = {
    "BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16",
    "INT32", "INT64", "FP16",  "FP32",   "FP64",   "BF16", "BYTES"};
static const size_t dtype_sizes[LP_KS_DTYPE_COUNT] = {1, 1, 2, 4, 8, 1, 2, 4, 8, 2, 4, 8, 2, 0};

const char *lp_kserve_dtype_name(lp_kserve_dtype t) {
    return (unsigned)t < LP_KS_DTYPE_COUNT ? dtype_names[t] : "?";
}

bool lp_kserve_dtype_parse(const char *name, lp_kserve_dtype *out) {
    if (!name) return false;
    for (int i = 0; i < LP_KS_DTYPE_COUNT; i++) {
        if (strcmp(name, dtype_names[i]) == 0) {
            *out = (lp_kserve_dtype)i;
            return true;
        }
    }
    return false;
}

size_t lp_kserve_dtype_size(lp_kserve_dtype t) {
    return (unsigned)t < LP_KS_DTYPE_COUNT ? dtype_sizes[t] : 0;
}

lp_status lp_kserve_parse_header_length(const char *value, size_t body_len, int64_t *out,
                                        lp_error *err) {
    *out = -1;
    if (!value) return LP_OK;
    const char *p = value;
    while (*p == ' ' || *p == '\t') p++;
    if (*p < '0' || *p > '9')
        return lp_fail(err, LP_ERR_FORMAT,
                       "Inference-Header-Content-Length must be a non-negative integer");
    int64_t v = 0;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (v > (INT64_MAX - 9) / 10)
            return lp_fail(err, LP_ERR_FORMAT, "Inference-Header-Content-Length is too large");
        v = v * 10 + (*p - '0');
    }
    while (*p == ' ' || *p == '\t') p++;
    if (*p)
        return lp_fail(err, LP_ERR_FORMAT,
                       "Inference-Header-Content-Length must be a non-negative integer");
    if ((uint64_t)v > body_len)
        return lp_fail(err, LP_ERR_FORMAT,
                       "Inference-Header-Content-Length %lld is larger than the body (%zu bytes)",
                       (long long)v, body_len);
    *out = v;
    return LP_OK;
}

/* ---- helpers ---- */

static char *dup_str(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

static lp_status get_name(const cJSON *obj, const char *what, int index, char **out,
                          lp_error *err) {
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(obj, "name");
    if (!cJSON_IsString(name))
        return lp_fail(err, LP_ERR_FORMAT, "%s[%d]: \"name\" must be a string", what, index);
    size_t n = strlen(name->valuestring);
    if (n == 0 || n > LP_KSERVE_MAX_NAME)
        return lp_fail(err, LP_ERR_FORMAT, "%s[%d]: \"name\" must be 1..%d bytes", what, index,
                       LP_KSERVE_MAX_NAME);
    *out = dup_str(name->valuestring);
    if (!*out) return lp_fail(err, LP_ERR_NOMEM, "out of memory");
    return LP_OK;
}

/* A JSON number that is a whole number within [lo, hi]. */
static bool whole_in(const cJSON *v, double lo, double hi, double *out) {
    if (!cJSON_IsNumber(v)) return false;
    double d = v->valuedouble;
    if (!(d >= lo && d <= hi) || floor(d) != d) return false;
    *out = d;
    return true;
}

static lp_status parse_shape(const cJSON *in, int index, lp_kserve_tensor *t, lp_error *err) {
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(in, "shape");
    if (!cJSON_IsArray(shape))
        return lp_fail(err, LP_ERR_FORMAT, "inputs[%d] '%s': \"shape\" must be an array of integers",
                       index, t->name);
    int nd = cJSON_GetArraySize(shape);
    if (nd > LP_KSERVE_MAX_DIMS)
        return lp_fail(err, LP_ERR_FORMAT, "inputs[%d] '%s': \"shape\" has %d dimensions (at most %d)",
                       index, t->name, nd, LP_KSERVE_MAX_DIMS);
    int64_t count = 1;
    int d = 0;
    const cJSON *dim;
    cJSON_ArrayForEach(dim, shape) {
        double v;
        if (!whole_in(dim, 0, (double)LP_KSERVE_MAX_ELEMENTS, &v))
            return lp_fail(err, LP_ERR_FORMAT,
                           "inputs[%d] '%s': shape[%d] must be an integer in 0..%lld", index,
                           t->name, d, (long long)LP_KSERVE_MAX_ELEMENTS);
        t->shape[d++] = (int64_t)v;
        if (count && (int64_t)v > LP_KSERVE_MAX_ELEMENTS / (count ? count : 1))
            return lp_fail(err, LP_ERR_FORMAT, "inputs[%d] '%s': shape has more than %lld elements",
                           index, t->name, (long long)LP_KSERVE_MAX_ELEMENTS);
        count *= (int64_t)v;
    }
    t->ndim = nd;
    t->count = count;
    return LP_OK;
}

/* Counts the leaves of a (possibly nested) JSON data array; -1 when it nests
 * deeper than the shape allows or holds objects. */
static int64_t count_leaves(const cJSON *a, int depth) {
    if (!cJSON_IsArray(a)) return 1;
    if (depth > LP_KSERVE_MAX_DIMS) return -1;
    int64_t n = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, a) {
        if (cJSON_IsObject(e)) return -1;
        int64_t k = count_leaves(e, depth + 1);
        if (k < 0) return -1;
        n += k;
    }
    return n;
}

typedef struct fill_state {
    lp_kserve_tensor *t;
    int64_t i;
    const char *bad; /* why the first bad leaf is bad */
    int64_t bad_at;
} fill_state;

static bool store_number(lp_kserve_tensor *t, int64_t i, const cJSON *v, const char **why) {
    double d;
    switch (t->dtype) {
    case LP_KS_BOOL:
        if (!cJSON_IsBool(v)) { *why = "must be true or false"; return false; }
        ((uint8_t *)t->values)[i] = cJSON_IsTrue(v) ? 1 : 0;
        return true;
    case LP_KS_UINT8:
        if (!whole_in(v, 0, 255, &d)) { *why = "must be an integer in 0..255"; return false; }
        ((uint8_t *)t->values)[i] = (uint8_t)d;
        return true;
    case LP_KS_UINT16:
        if (!whole_in(v, 0, 65535, &d)) { *why = "must be an integer in 0..65535"; return false; }
        ((uint16_t *)t->values)[i] = (uint16_t)d;
        return true;
    case LP_KS_UINT32:
        if (!whole_in(v, 0, 4294967295.0, &d)) { *why = "must be an integer in 0..4294967295"; return false; }
        ((uint32_t *)t->values)[i] = (uint32_t)d;
        return true;
    case LP_KS_UINT64:
        if (!whole_in(v, 0, 9007199254740992.0, &d)) {
            *why = "must be an integer in 0..2^53 (send larger values as binary data)";
            return false;
        }
        ((uint64_t *)t->values)[i] = (uint64_t)d;
        return true;
    case LP_KS_INT8:
        if (!whole_in(v, -128, 127, &d)) { *why = "must be an integer in -128..127"; return false; }
        ((int8_t *)t->values)[i] = (int8_t)d;
        return true;
    case LP_KS_INT16:
        if (!whole_in(v, -32768, 32767, &d)) { *why = "must be an integer in -32768..32767"; return false; }
        ((int16_t *)t->values)[i] = (int16_t)d;
        return true;
    case LP_KS_INT32:
        if (!whole_in(v, -2147483648.0, 2147483647.0, &d)) { *why = "must be a 32-bit integer"; return false; }
        ((int32_t *)t->values)[i] = (int32_t)d;
        return true;
    case LP_KS_INT64:
        if (!whole_in(v, -9007199254740992.0, 9007199254740992.0, &d)) {
            *why = "must be an integer in -2^53..2^53 (send larger values as binary data)";
            return false;
        }
        ((int64_t *)t->values)[i] = (int64_t)d;
        return true;
    case LP_KS_FP16:
    case LP_KS_BF16:
    case LP_KS_FP32:
    case LP_KS_FP64: {
        if (!cJSON_IsNumber(v)) { *why = "must be a number"; return false; }
        d = v->valuedouble;
        double lim = t->dtype == LP_KS_FP16 ? 65504.0 : t->dtype == LP_KS_FP64 ? DBL_MAX : FLT_MAX;
        if (!isfinite(d) || fabs(d) > lim) { *why = "is out of the datatype's range"; return false; }
        if (t->dtype == LP_KS_FP16) ((uint16_t *)t->values)[i] = lp_f32_to_f16((float)d);
        else if (t->dtype == LP_KS_BF16) ((uint16_t *)t->values)[i] = lp_f32_to_bf16((float)d);
        else if (t->dtype == LP_KS_FP32) ((float *)t->values)[i] = (float)d;
        else ((double *)t->values)[i] = d;
        return true;
    }
    default:
        *why = "has an unsupported datatype";
        return false;
    }
}

static void fill_leaves(const cJSON *a, fill_state *s) {
    if (s->bad) return;
    if (cJSON_IsArray(a)) {
        const cJSON *e;
        cJSON_ArrayForEach(e, a) fill_leaves(e, s);
        return;
    }
    lp_kserve_tensor *t = s->t;
    if (t->dtype == LP_KS_BYTES) {
        if (!cJSON_IsString(a)) {
            s->bad = "must be a string";
            s->bad_at = s->i;
            return;
        }
        t->elems[s->i].data = (const unsigned char *)a->valuestring;
        t->elems[s->i].len = strlen(a->valuestring);
    } else if (!store_number(t, s->i, a, &s->bad)) {
        s->bad_at = s->i;
        return;
    }
    s->i++;
}

static lp_status alloc_data(lp_kserve_tensor *t, lp_error *err) {
    size_t n = t->count ? (size_t)t->count : 1;
    if (t->dtype == LP_KS_BYTES) t->elems = calloc(n, sizeof *t->elems);
    else t->values = calloc(n, lp_kserve_dtype_size(t->dtype));
    if (!t->elems && !t->values)
        return lp_fail(err, LP_ERR_NOMEM, "input '%s': out of memory for %lld elements", t->name,
                       (long long)t->count);
    return LP_OK;
}

static lp_status parse_json_data(const cJSON *data, int index, lp_kserve_tensor *t, lp_error *err) {
    int64_t leaves = count_leaves(data, 0);
    if (leaves < 0)
        return lp_fail(err, LP_ERR_FORMAT,
                       "inputs[%d] '%s': \"data\" must be an array of values (nested at most %d deep)",
                       index, t->name, LP_KSERVE_MAX_DIMS);
    if (!cJSON_IsArray(data) && t->ndim != 0)
        return lp_fail(err, LP_ERR_FORMAT, "inputs[%d] '%s': \"data\" must be an array", index,
                       t->name);
    if (leaves != t->count)
        return lp_fail(err, LP_ERR_FORMAT,
                       "inputs[%d] '%s': shape says %lld elements but \"data\" has %lld", index,
                       t->name, (long long)t->count, (long long)leaves);
    lp_status st = alloc_data(t, err);
    if (st != LP_OK) return st;
    fill_state s = {t, 0, NULL, 0};
    fill_leaves(data, &s);
    if (s.bad)
        return lp_fail(err, LP_ERR_FORMAT, "inputs[%d] '%s': element %lld %s (datatype %s)", index,
                       t->name, (long long)s.bad_at, s.bad, lp_kserve_dtype_name(t->dtype));
    return LP_OK;
}

/* BYTES in binary: each element is a little-endian u32 length and its bytes. */
static lp_status parse_binary_bytes(const unsigned char *p, size_t size, int index,
                                    lp_kserve_tensor *t, lp_error *err) {
    if ((uint64_t)t->count > size / 4 && t->count > 0)
        return lp_fail(err, LP_ERR_FORMAT,
                       "inputs[%d] '%s': %zu bytes of binary data cannot hold %lld BYTES elements "
                       "(each needs a 4-byte length)",
                       index, t->name, size, (long long)t->count);
    lp_status st = alloc_data(t, err);
    if (st != LP_OK) return st;
    size_t off = 0;
    for (int64_t i = 0; i < t->count; i++) {
        if (size - off < 4)
            return lp_fail(err, LP_ERR_FORMAT,
                           "inputs[%d] '%s': binary data ends inside the length of element %lld",
                           index, t->name, (long long)i);
        uint32_t n = (uint32_t)p[off] | (uint32_t)p[off + 1] << 8 | (uint32_t)p[off + 2] << 16 |
                     (uint32_t)p[off + 3] << 24;
        off += 4;
        if (n > size - off)
            return lp_fail(err, LP_ERR_FORMAT,
                           "inputs[%d] '%s': element %lld says %u bytes but only %zu are left",
                           index, t->name, (long long)i, n, size - off);
        t->elems[i].data = p + off;
        t->elems[i].len = n;
        off += n;
    }
    if (off != size)
        return lp_fail(err, LP_ERR_FORMAT,
                       "inputs[%d] '%s': %zu bytes of binary data left over after %lld BYTES "
                       "elements (binary_data_size is %zu)",
                       index, t->name, size - off, (long long)t->count, size);
    return LP_OK;
}

static lp_status parse_binary_data(const unsigned char *p, size_t size, int index,
                                   lp_kserve_tensor *t, lp_error *err) {
    if (t->dtype == LP_KS_BYTES) return parse_binary_bytes(p, size, index, t, err);
    size_t es = lp_kserve_dtype_size(t->dtype);
    if ((uint64_t)t->count * es != size)
        return lp_fail(err, LP_ERR_FORMAT,
                       "inputs[%d] '%s': binary_data_size is %zu but shape x %s needs %llu bytes",
                       index, t->name, size, lp_kserve_dtype_name(t->dtype),
                       (unsigned long long)t->count * es);
    lp_status st = alloc_data(t, err);
    if (st != LP_OK) return st;
    if (size) memcpy(t->values, p, size); /* copied: the tail is not aligned */
    if (t->dtype == LP_KS_BOOL) {
        for (size_t i = 0; i < size; i++)
            if (p[i] > 1)
                return lp_fail(err, LP_ERR_FORMAT,
                               "inputs[%d] '%s': BOOL element %zu is %u (must be 0 or 1)", index,
                               t->name, i, p[i]);
    }
    return LP_OK;
}

/* ---- the request ---- */

static lp_status parse_params(const cJSON *root, lp_kserve_infer_request *r, lp_error *err) {
    r->timeout_us = -1;
    r->truncate = -1;
    const cJSON *params = cJSON_GetObjectItemCaseSensitive(root, "parameters");
    if (!params) return LP_OK;
    if (!cJSON_IsObject(params))
        return lp_fail(err, LP_ERR_FORMAT, "\"parameters\" must be an object");
    const cJSON *bdo = cJSON_GetObjectItemCaseSensitive(params, "binary_data_output");
    if (bdo) {
        if (!cJSON_IsBool(bdo))
            return lp_fail(err, LP_ERR_FORMAT, "parameters.binary_data_output must be true or false");
        r->binary_data_output = cJSON_IsTrue(bdo);
    }
    const cJSON *truncate = cJSON_GetObjectItemCaseSensitive(params, "truncate");
    if (truncate) {
        if (!cJSON_IsBool(truncate))
            return lp_fail(err, LP_ERR_FORMAT, "parameters.truncate must be true or false");
        r->truncate = cJSON_IsTrue(truncate) ? 1 : 0;
    }
    const cJSON *timeout = cJSON_GetObjectItemCaseSensitive(params, "timeout");
    if (timeout) {
        double v;
        if (!whole_in(timeout, 0, 9.2e18, &v))
            return lp_fail(err, LP_ERR_FORMAT,
                           "parameters.timeout must be a non-negative integer (microseconds)");
        r->timeout_us = (int64_t)v;
    }
    return LP_OK;
}

static lp_status parse_input(const cJSON *in, int index, lp_kserve_tensor *t, int64_t *binary_size,
                             const cJSON **data, lp_error *err) {
    *binary_size = -1;
    *data = NULL;
    if (!cJSON_IsObject(in))
        return lp_fail(err, LP_ERR_FORMAT, "inputs[%d] must be an object", index);
    lp_status st = get_name(in, "inputs", index, &t->name, err);
    if (st != LP_OK) return st;
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(in, "datatype");
    if (!cJSON_IsString(dt))
        return lp_fail(err, LP_ERR_FORMAT, "inputs[%d] '%s': \"datatype\" must be a string", index,
                       t->name);
    if (!lp_kserve_dtype_parse(dt->valuestring, &t->dtype))
        return lp_fail(err, LP_ERR_FORMAT,
                       "inputs[%d] '%s': unknown datatype '%.32s' (BOOL, UINT8..UINT64, "
                       "INT8..INT64, FP16, FP32, FP64, BF16, BYTES)",
                       index, t->name, dt->valuestring);
    st = parse_shape(in, index, t, err);
    if (st != LP_OK) return st;
    const cJSON *params = cJSON_GetObjectItemCaseSensitive(in, "parameters");
    if (params && !cJSON_IsObject(params))
        return lp_fail(err, LP_ERR_FORMAT, "inputs[%d] '%s': \"parameters\" must be an object",
                       index, t->name);
    const cJSON *bds = params ? cJSON_GetObjectItemCaseSensitive(params, "binary_data_size") : NULL;
    if (params && (cJSON_GetObjectItemCaseSensitive(params, "shared_memory_region")))
        return lp_fail(err, LP_ERR_FORMAT,
                       "inputs[%d] '%s': shared memory is not supported by this server", index,
                       t->name);
    *data = cJSON_GetObjectItemCaseSensitive(in, "data");
    if (bds) {
        double v;
        if (!whole_in(bds, 0, 9.2e18, &v))
            return lp_fail(err, LP_ERR_FORMAT,
                           "inputs[%d] '%s': binary_data_size must be a non-negative integer",
                           index, t->name);
        if (*data)
            return lp_fail(err, LP_ERR_FORMAT,
                           "inputs[%d] '%s': give either \"data\" or binary_data_size, not both",
                           index, t->name);
        *binary_size = (int64_t)v;
    } else if (!*data) {
        return lp_fail(err, LP_ERR_FORMAT,
                       "inputs[%d] '%s': no \"data\" and no binary_data_size parameter", index,
                       t->name);
    }
    return LP_OK;
}

static lp_status parse_outputs(const cJSON *root, lp_kserve_infer_request *r, lp_error *err) {
    const cJSON *outs = cJSON_GetObjectItemCaseSensitive(root, "outputs");
    if (!outs) return LP_OK;
    if (!cJSON_IsArray(outs)) return lp_fail(err, LP_ERR_FORMAT, "\"outputs\" must be an array");
    int n = cJSON_GetArraySize(outs);
    if (n > LP_KSERVE_MAX_TENSORS)
        return lp_fail(err, LP_ERR_FORMAT, "\"outputs\" has %d entries (at most %d)", n,
                       LP_KSERVE_MAX_TENSORS);
    if (n == 0) return LP_OK;
    r->outputs = calloc((size_t)n, sizeof *r->outputs);
    if (!r->outputs) return lp_fail(err, LP_ERR_NOMEM, "out of memory");
    const cJSON *o;
    cJSON_ArrayForEach(o, outs) {
        int i = r->n_outputs;
        lp_kserve_output_request *out = &r->outputs[i];
        out->binary_data = -1;
        if (!cJSON_IsObject(o)) return lp_fail(err, LP_ERR_FORMAT, "outputs[%d] must be an object", i);
        r->n_outputs++;
        lp_status st = get_name(o, "outputs", i, &out->name, err);
        if (st != LP_OK) return st;
        for (int j = 0; j < i; j++)
            if (strcmp(r->outputs[j].name, out->name) == 0)
                return lp_fail(err, LP_ERR_FORMAT, "outputs[%d]: output '%s' is requested twice",
                               i, out->name);
        const cJSON *params = cJSON_GetObjectItemCaseSensitive(o, "parameters");
        if (!params) continue;
        if (!cJSON_IsObject(params))
            return lp_fail(err, LP_ERR_FORMAT, "outputs[%d] '%s': \"parameters\" must be an object",
                           i, out->name);
        const cJSON *bd = cJSON_GetObjectItemCaseSensitive(params, "binary_data");
        if (bd) {
            if (!cJSON_IsBool(bd))
                return lp_fail(err, LP_ERR_FORMAT,
                               "outputs[%d] '%s': binary_data must be true or false", i, out->name);
            out->binary_data = cJSON_IsTrue(bd) ? 1 : 0;
        }
        const cJSON *cls = cJSON_GetObjectItemCaseSensitive(params, "classification");
        if (cls) {
            double v;
            if (!whole_in(cls, 1, 1e6, &v))
                return lp_fail(err, LP_ERR_FORMAT,
                               "outputs[%d] '%s': classification must be a positive integer "
                               "(how many classes to return)",
                               i, out->name);
            out->classification = (int)v;
        }
        if (cJSON_GetObjectItemCaseSensitive(params, "shared_memory_region"))
            return lp_fail(err, LP_ERR_FORMAT,
                           "outputs[%d] '%s': shared memory is not supported by this server", i,
                           out->name);
    }
    return LP_OK;
}

static lp_status parse_request(const unsigned char *body, size_t len, int64_t header_len,
                               lp_kserve_infer_request *r, lp_error *err) {
    size_t json_len = header_len < 0 ? len : (size_t)header_len;
    if (header_len >= 0 && (uint64_t)header_len > len)
        return lp_fail(err, LP_ERR_FORMAT,
                       "Inference-Header-Content-Length %lld is larger than the body (%zu bytes)",
                       (long long)header_len, len);
    if (json_len == 0) return lp_fail(err, LP_ERR_FORMAT, "the request body is empty (expected JSON)");
    const char *end = NULL;
    r->json = cJSON_ParseWithLengthOpts((const char *)body, json_len, &end, false);
    if (!r->json) {
        size_t at = end && end >= (const char *)body ? (size_t)(end - (const char *)body) : 0;
        return lp_fail(err, LP_ERR_FORMAT, "malformed JSON at byte %zu of the request header", at);
    }
    for (const char *p = end; p && p < (const char *)body + json_len; p++) {
        if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n' && *p != '\0')
            return lp_fail(err, LP_ERR_FORMAT,
                           "unexpected bytes after the JSON object at byte %zu (binary data needs "
                           "the Inference-Header-Content-Length header)",
                           (size_t)(p - (const char *)body));
    }
    const cJSON *root = r->json;
    if (!cJSON_IsObject(root)) return lp_fail(err, LP_ERR_FORMAT, "the request must be a JSON object");
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(root, "id");
    if (id) {
        if (!cJSON_IsString(id)) return lp_fail(err, LP_ERR_FORMAT, "\"id\" must be a string");
        r->id = dup_str(id->valuestring);
        if (!r->id) return lp_fail(err, LP_ERR_NOMEM, "out of memory");
    }
    lp_status st = parse_params(root, r, err);
    if (st != LP_OK) return st;

    const cJSON *inputs = cJSON_GetObjectItemCaseSensitive(root, "inputs");
    if (!cJSON_IsArray(inputs))
        return lp_fail(err, LP_ERR_FORMAT, "\"inputs\" must be an array of input tensors");
    int n = cJSON_GetArraySize(inputs);
    if (n < 1 || n > LP_KSERVE_MAX_TENSORS)
        return lp_fail(err, LP_ERR_FORMAT, "\"inputs\" has %d entries (1..%d)", n,
                       LP_KSERVE_MAX_TENSORS);
    r->inputs = calloc((size_t)n, sizeof *r->inputs);
    if (!r->inputs) return lp_fail(err, LP_ERR_NOMEM, "out of memory");

    const unsigned char *tail = body + json_len;
    size_t tail_len = len - json_len, used = 0;
    const cJSON *in;
    cJSON_ArrayForEach(in, inputs) {
        int i = r->n_inputs;
        lp_kserve_tensor *t = &r->inputs[i];
        r->n_inputs++;
        int64_t bsize;
        const cJSON *data;
        st = parse_input(in, i, t, &bsize, &data, err);
        if (st != LP_OK) return st;
        for (int j = 0; j < i; j++)
            if (strcmp(r->inputs[j].name, t->name) == 0)
                return lp_fail(err, LP_ERR_FORMAT, "inputs[%d]: input '%s' is given twice", i,
                               t->name);
        if (bsize < 0) {
            st = parse_json_data(data, i, t, err);
        } else {
            if (header_len < 0)
                return lp_fail(err, LP_ERR_FORMAT,
                               "inputs[%d] '%s': binary_data_size given but the request has no "
                               "Inference-Header-Content-Length header",
                               i, t->name);
            if ((uint64_t)bsize > tail_len - used)
                return lp_fail(err, LP_ERR_FORMAT,
                               "inputs[%d] '%s': binary_data_size %lld is more than the %zu bytes "
                               "of binary data left in the body",
                               i, t->name, (long long)bsize, tail_len - used);
            t->binary = true;
            st = parse_binary_data(tail + used, (size_t)bsize, i, t, err);
            used += (size_t)bsize;
        }
        if (st != LP_OK) return st;
    }
    if (used != tail_len)
        return lp_fail(err, LP_ERR_FORMAT,
                       "the body has %zu bytes after the JSON header but the inputs' "
                       "binary_data_size add up to %zu",
                       tail_len, used);
    return parse_outputs(root, r, err);
}

lp_status lp_kserve_parse_infer(const unsigned char *body, size_t len, int64_t header_len,
                                lp_kserve_infer_request *out, lp_error *err) {
    memset(out, 0, sizeof *out);
    out->timeout_us = -1;
    out->truncate = -1;
    if (!body && len) return lp_fail(err, LP_ERR_INVALID_ARG, "no body");
    lp_status st = parse_request(body ? body : (const unsigned char *)"", len, header_len, out, err);
    if (st != LP_OK) lp_kserve_infer_request_free(out);
    return st;
}

void lp_kserve_infer_request_free(lp_kserve_infer_request *r) {
    if (!r) return;
    for (int i = 0; i < r->n_inputs; i++) {
        free(r->inputs[i].name);
        free(r->inputs[i].values);
        free(r->inputs[i].elems);
    }
    free(r->inputs);
    for (int i = 0; i < r->n_outputs; i++) free(r->outputs[i].name);
    free(r->outputs);
    free(r->id);
    cJSON_Delete(r->json);
    memset(r, 0, sizeof *r);
    r->timeout_us = -1;
    r->truncate = -1;
}
