/* KServe v2 responses: output tensors as JSON or binary, classification
 * strings, error bodies. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/dtype.h"
#include "server/kserve.h"

char *lp_kserve_error_json(const char *message) {
    cJSON *j = cJSON_CreateObject();
    if (!j) return NULL;
    cJSON_AddStringToObject(j, "error", message ? message : "");
    char *s = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    return s;
}

/* ---- a growable byte buffer ---- */

typedef struct buf {
    char *p;
    size_t len, cap;
    bool oom;
} buf;

static void reserve(buf *b, size_t extra) {
    if (b->oom || b->len + extra + 1 <= b->cap) return;
    size_t cap = b->cap ? b->cap : 1024;
    while (cap < b->len + extra + 1) {
        if (cap > ((size_t)1 << 40)) {
            b->oom = true;
            return;
        }
        cap *= 2;
    }
    char *p = realloc(b->p, cap);
    if (!p) {
        b->oom = true;
        return;
    }
    b->p = p;
    b->cap = cap;
}

static void append(buf *b, const void *s, size_t n) {
    reserve(b, n);
    if (b->oom) return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static int64_t count_of(const lp_kserve_output *o) {
    int64_t n = 1;
    for (int i = 0; i < o->ndim; i++) n *= o->shape[i];
    return n;
}

/* ---- fast float printing ---- */

static const double pow10_table[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                       1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                       1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* D x 10^k as a reader computes it: exact operands, one correctly rounded
 * operation (|k| <= 22, D < 2^53), so this is what strtod gives for the text. */
static double scaled(uint64_t d, int k) {
    return k >= 0 ? (double)d * pow10_table[k] : (double)d / pow10_table[-k];
}

int lp_kserve_format_f32(float f, char *buf) {
    if (f != f || f - f != 0) return snprintf(buf, 32, "null");
    if (f == 0) return snprintf(buf, 32, "0");
    double a = fabs((double)f);
    /* the decimal exponent from the binary one (may be one low: harmless, the
     * check below is by value and trailing zeros are stripped) */
    int e2;
    frexp(a, &e2);
    int e10 = (int)floor((e2 - 1) * 0.30102999566398120);
    int up = e10 + 1; /* one low when a >= 10^(e10+1) */
    if (up >= 0 && up <= 22 && a >= pow10_table[up]) e10 = up;
    else if (up < 0 && up >= -22 && a * pow10_table[-up] >= 1.0) e10 = up;
    char *p = buf;
    if (f < 0) *p++ = '-';
    /* The shortest digit count whose value reads back as the same float (a
     * JSON reader parses a double and narrows it, as the check does). Reading
     * back is monotonic in the digit count: start at 7, walk to the edge. */
    uint64_t best_d = 0;
    int best_k = 0, best_digits = 0;
    int digits = 7, step = 0;
    for (;;) {
        int k = e10 - digits + 1;
        bool ok = false;
        uint64_t d = 0;
        if (k >= -22 && k <= 22) {
            double q = k >= 0 ? a / pow10_table[k] : a * pow10_table[-k];
            d = (uint64_t)(q + 0.5); /* 0 < q < 10^10 */
            ok = d != 0 && (float)scaled(d, k) == (float)a;
        }
        if (ok) {
            best_d = d;
            best_k = k;
            best_digits = digits;
        }
        if (step == 0) step = ok ? -1 : 1;
        if ((step < 0 && !ok) || (step > 0 && ok)) break;
        digits += step;
        if (digits < 1 || digits > 9) break;
    }
    /* (ten digits: the exponent estimate was one low near the table's end) */
    if (best_digits && best_d < 1000000000ull) {
        uint64_t d = best_d;
        int k = best_k;
        char dig[24];
        int n = 0;
        char rev[24];
        do {
            rev[n++] = (char)('0' + d % 10);
            d /= 10;
        } while (d);
        for (int i = 0; i < n; i++) dig[i] = rev[n - 1 - i];
        dig[n] = '\0';
        while (n > 1 && dig[n - 1] == '0') { /* 100 at 1 digit of 3 -> "1", k + 2 */
            dig[--n] = '\0';
            k++;
        }
        int x = k + n - 1; /* decimal exponent of the first digit */
        char ex[8];
        int ex_len = 0, ax = x < 0 ? -x : x;
        ex[ex_len++] = 'e';
        if (x < 0) ex[ex_len++] = '-';
        if (ax >= 10) ex[ex_len++] = (char)('0' + ax / 10);
        ex[ex_len++] = (char)('0' + ax % 10);
        int sci_len = n + (n > 1) + ex_len;
        int plain_len = x >= 0 ? (n > x + 1 ? n + 1 : x + 1) : 2 + (-x - 1) + n;
        if (plain_len <= sci_len && x >= 0) {
            /* digits, then zeros or a point */
            if (n <= x + 1) {
                memcpy(p, dig, (size_t)n);
                p += n;
                for (int z = 0; z < x + 1 - n; z++) *p++ = '0';
            } else {
                memcpy(p, dig, (size_t)x + 1);
                p += x + 1;
                *p++ = '.';
                memcpy(p, dig + x + 1, (size_t)(n - x - 1));
                p += n - x - 1;
            }
        } else if (plain_len <= sci_len) {
            *p++ = '0';
            *p++ = '.';
            for (int z = 0; z < -x - 1; z++) *p++ = '0';
            memcpy(p, dig, (size_t)n);
            p += n;
        } else {
            *p++ = dig[0];
            if (n > 1) {
                *p++ = '.';
                memcpy(p, dig + 1, (size_t)n - 1);
                p += n - 1;
            }
            memcpy(p, ex, (size_t)ex_len);
            p += ex_len;
        }
        *p = '\0';
        return (int)(p - buf);
    }
    return snprintf(buf, 32, "%.9g", (double)f); /* reads back exactly */
}

/* One element of a numeric tensor as JSON text. */
static int format_elem(const lp_kserve_output *o, int64_t i, char *s, size_t size) {
    const void *v = o->values;
    switch (o->dtype) {
    case LP_KS_BOOL: return snprintf(s, size, "%s", ((const uint8_t *)v)[i] ? "true" : "false");
    case LP_KS_UINT8: return snprintf(s, size, "%u", ((const uint8_t *)v)[i]);
    case LP_KS_UINT16: return snprintf(s, size, "%u", ((const uint16_t *)v)[i]);
    case LP_KS_UINT32: return snprintf(s, size, "%u", ((const uint32_t *)v)[i]);
    case LP_KS_UINT64: return snprintf(s, size, "%llu", (unsigned long long)((const uint64_t *)v)[i]);
    case LP_KS_INT8: return snprintf(s, size, "%d", ((const int8_t *)v)[i]);
    case LP_KS_INT16: return snprintf(s, size, "%d", ((const int16_t *)v)[i]);
    case LP_KS_INT32: return snprintf(s, size, "%d", ((const int32_t *)v)[i]);
    case LP_KS_INT64: return snprintf(s, size, "%lld", (long long)((const int64_t *)v)[i]);
    case LP_KS_FP16:
    case LP_KS_BF16:
    case LP_KS_FP32: {
        uint16_t h = o->dtype == LP_KS_FP32 ? 0 : ((const uint16_t *)v)[i];
        float f = o->dtype == LP_KS_FP32   ? ((const float *)v)[i]
                  : o->dtype == LP_KS_FP16 ? lp_f16_to_f32(h)
                                           : lp_bf16_to_f32(h);
        (void)size; /* s holds 40 bytes, more than any float needs */
        return lp_kserve_format_f32(f, s); /* NaN/Inf: null (JSON has none) */
    }
    case LP_KS_FP64: {
        double d = ((const double *)v)[i];
        if (d != d || d - d != 0) return snprintf(s, size, "null");
        return snprintf(s, size, "%.17g", d);
    }
    default: return snprintf(s, size, "null");
    }
}

static char *numeric_json(const lp_kserve_output *o, int64_t n) {
    buf b = {0};
    reserve(&b, (size_t)n * 12 + 2);
    append(&b, "[", 1);
    for (int64_t i = 0; i < n && !b.oom; i++) {
        char num[40];
        int w = format_elem(o, i, num, sizeof num);
        if (i) append(&b, ",", 1);
        append(&b, num, (size_t)w);
    }
    append(&b, "]", 1);
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

static cJSON *bytes_json(const lp_kserve_output *o, int64_t n) {
    cJSON *a = cJSON_CreateArray();
    for (int64_t i = 0; a && i < n; i++) {
        const lp_kserve_bytes *e = &o->elems[i];
        char *s = malloc(e->len + 1);
        if (!s) {
            cJSON_Delete(a);
            return NULL;
        }
        if (e->len) memcpy(s, e->data, e->len);
        s[e->len] = '\0';
        cJSON_AddItemToArray(a, cJSON_CreateString(s));
        free(s);
    }
    return a;
}

/* Bytes of a tensor's binary form. */
static size_t binary_size(const lp_kserve_output *o, int64_t n) {
    if (o->dtype != LP_KS_BYTES) return (size_t)n * lp_kserve_dtype_size(o->dtype);
    size_t total = 0;
    for (int64_t i = 0; i < n; i++) total += 4 + o->elems[i].len;
    return total;
}

static void append_binary(buf *b, const lp_kserve_output *o, int64_t n) {
    if (o->dtype != LP_KS_BYTES) {
        append(b, o->values, (size_t)n * lp_kserve_dtype_size(o->dtype));
        return;
    }
    for (int64_t i = 0; i < n; i++) {
        uint32_t len = (uint32_t)o->elems[i].len;
        unsigned char le[4] = {(unsigned char)len, (unsigned char)(len >> 8),
                               (unsigned char)(len >> 16), (unsigned char)(len >> 24)};
        append(b, le, 4);
        append(b, o->elems[i].data, o->elems[i].len);
    }
}

lp_status lp_kserve_encode_response(const char *model_name, const char *model_version,
                                    const char *id, const lp_kserve_output *outs, int n,
                                    char **body, size_t *body_len, int64_t *header_len,
                                    lp_error *err) {
    return lp_kserve_encode_response_params(model_name, model_version, id, NULL, outs, n, body,
                                            body_len, header_len, err);
}

lp_status lp_kserve_encode_response_params(const char *model_name, const char *model_version,
                                           const char *id, const cJSON *params,
                                           const lp_kserve_output *outs, int n, char **body,
                                           size_t *body_len, int64_t *header_len, lp_error *err) {
    *body = NULL;
    *body_len = 0;
    *header_len = -1;
    cJSON *root = cJSON_CreateObject();
    if (!root) return lp_fail(err, LP_ERR_NOMEM, "out of memory encoding the response");
    cJSON_AddStringToObject(root, "model_name", model_name ? model_name : "");
    cJSON_AddStringToObject(root, "model_version", model_version ? model_version : "1");
    if (id) cJSON_AddStringToObject(root, "id", id);
    if (params) cJSON_AddItemToObject(root, "parameters", cJSON_Duplicate(params, true));
    cJSON *arr = cJSON_AddArrayToObject(root, "outputs");
    bool any_binary = false, ok = arr != NULL;
    for (int k = 0; ok && k < n; k++) {
        const lp_kserve_output *o = &outs[k];
        int64_t count = count_of(o);
        cJSON *t = cJSON_CreateObject();
        ok = t != NULL;
        if (!ok) break;
        cJSON_AddItemToArray(arr, t);
        cJSON_AddStringToObject(t, "name", o->name);
        cJSON_AddStringToObject(t, "datatype", lp_kserve_dtype_name(o->dtype));
        cJSON *shape = cJSON_AddArrayToObject(t, "shape");
        for (int d = 0; d < o->ndim; d++)
            cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)o->shape[d]));
        if (o->binary) {
            any_binary = true;
            cJSON *p = cJSON_AddObjectToObject(t, "parameters");
            cJSON_AddNumberToObject(p, "binary_data_size", (double)binary_size(o, count));
        } else if (o->dtype == LP_KS_BYTES) {
            cJSON *a = bytes_json(o, count);
            ok = a != NULL;
            if (ok) cJSON_AddItemToObject(t, "data", a);
        } else {
            char *raw = numeric_json(o, count);
            ok = raw != NULL;
            if (ok) cJSON_AddItemToObject(t, "data", cJSON_CreateRaw(raw));
            free(raw);
        }
    }
    char *json = ok ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    if (!json) return lp_fail(err, LP_ERR_NOMEM, "out of memory encoding the response");
    if (!any_binary) {
        *body = json;
        *body_len = strlen(json);
        return LP_OK;
    }
    buf b = {0};
    size_t jlen = strlen(json);
    append(&b, json, jlen);
    free(json);
    for (int k = 0; k < n; k++)
        if (outs[k].binary) append_binary(&b, &outs[k], count_of(&outs[k]));
    if (b.oom) {
        free(b.p);
        return lp_fail(err, LP_ERR_NOMEM, "out of memory encoding the response");
    }
    *body = b.p;
    *body_len = b.len;
    *header_len = (int64_t)jlen;
    return LP_OK;
}

/* ---- classification ---- */

typedef struct scored {
    float v;
    int64_t i;
} scored;

static int by_value_desc(const void *a, const void *b) {
    const scored *x = a, *y = b;
    if (x->v > y->v) return -1;
    if (x->v < y->v) return 1;
    /* NaN sorts last, then lower index first */
    bool xn = x->v != x->v, yn = y->v != y->v;
    if (xn != yn) return xn ? 1 : -1;
    return x->i < y->i ? -1 : x->i > y->i;
}

static int format_class(char *s, size_t size, float v, int64_t idx, const char *label) {
    if (label) return snprintf(s, size, "%f:%lld:%s", (double)v, (long long)idx, label);
    return snprintf(s, size, "%f:%lld", (double)v, (long long)idx);
}

lp_status lp_kserve_classification(const float *x, int64_t rows, int64_t width, int k,
                                   const char *(*label)(const void *ctx, int64_t i),
                                   const void *label_ctx, lp_kserve_bytes **elems, void **out_buf,
                                   lp_error *err) {
    *elems = NULL;
    *out_buf = NULL;
    if (rows < 0 || width < 1 || k < 1 || k > width || rows > LP_KSERVE_MAX_ELEMENTS / k)
        return lp_fail(err, LP_ERR_INVALID_ARG,
                       "classification: %lld rows of %lld values, top %d: nothing to classify",
                       (long long)rows, (long long)width, k);
    scored *tmp = malloc((size_t)width * sizeof *tmp);
    if (!tmp) return lp_fail(err, LP_ERR_NOMEM, "classification: out of memory");
    /* pass 1 measures the strings, pass 2 writes them after the element array */
    size_t n_elems = (size_t)(rows * k), text = 0;
    char *block = NULL;
    lp_kserve_bytes *e = NULL;
    for (int pass = 0; pass < 2; pass++) {
        size_t off = 0;
        for (int64_t r = 0; r < rows; r++) {
            for (int64_t c = 0; c < width; c++) tmp[c] = (scored){x[r * width + c], c};
            qsort(tmp, (size_t)width, sizeof *tmp, by_value_desc);
            for (int j = 0; j < k; j++) {
                const char *l = label ? label(label_ctx, tmp[j].i) : NULL;
                if (pass == 0) {
                    text += (size_t)format_class(NULL, 0, tmp[j].v, tmp[j].i, l) + 1;
                    continue;
                }
                char *s = block + n_elems * sizeof *e + off;
                int w = format_class(s, text - off, tmp[j].v, tmp[j].i, l);
                e[r * k + j] = (lp_kserve_bytes){(const unsigned char *)s, (size_t)w};
                off += (size_t)w + 1;
            }
        }
        if (pass == 0) {
            block = malloc(n_elems * sizeof *e + text + 1);
            if (!block) {
                free(tmp);
                return lp_fail(err, LP_ERR_NOMEM, "classification: out of memory");
            }
            e = (lp_kserve_bytes *)block;
        }
    }
    free(tmp);
    *elems = e;
    *out_buf = block;
    return LP_OK;
}
