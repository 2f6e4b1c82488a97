/* The safetensors reader: files written by the Python reference writer read
 * back bit for bit (every dtype, scalars, empty tensors, NaN payloads,
 * metadata), and every kind of malformed header is refused with a message
 * naming the file, the tensor and the problem. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pretrained/fs.h"
#include "pretrained/safetensors.h"
#include "tests/test_util.h"

/* ---- fixtures written by tools/make_safetensors_fixtures.py ---------------- */

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

/* Splits `line` at tabs into at most `max` fields; returns the count. */
static int split_tabs(char *line, char **fields, int max) {
    int n = 0;
    fields[n++] = line;
    for (char *p = line; *p && n < max; p++)
        if (*p == '\t') {
            *p = '\0';
            fields[n++] = p + 1;
        }
    return n;
}

/* Compares one tensor with a manifest line: dtype, shape and every byte. */
static void check_manifest_tensor(lp_safetensors *st, char **f, const char *fixture) {
    const char *name = f[1];
    const lp_st_tensor *t = lp_safetensors_find(st, name);
    if (!CHECK_MSG(t != NULL, "%s: tensor '%s' missing", fixture, name)) return;
    lp_dtype want;
    CHECK(lp_dtype_from_safetensors(f[2], &want));
    CHECK_MSG(t->dtype == want, "%s: %s dtype", fixture, name);
    int ndim = 0;
    int64_t shape[LP_ST_MAX_DIMS];
    for (char *p = f[3]; *p;) {
        shape[ndim++] = strtoll(p, &p, 10);
        if (*p == ',') p++;
    }
    bool same = ndim == t->ndim;
    for (int i = 0; same && i < ndim; i++) same = shape[i] == t->shape[i];
    CHECK_MSG(same, "%s: %s shape", fixture, name);

    size_t nbytes = strlen(f[4]) / 2;
    CHECK_MSG(t->end - t->begin == nbytes, "%s: %s holds %llu bytes, want %zu", fixture, name,
              (unsigned long long)(t->end - t->begin), nbytes);
    if (t->end - t->begin != nbytes) return;
    const unsigned char *bytes = t->data;
    lp_tensor view;
    lp_error err = {0};
    if (ndim > LP_MAX_DIMS) { /* stored fine, but no lp_tensor view of it */
        CHECK_FAILS(lp_safetensors_get(st, name, &view, &err), LP_ERR_SHAPE, &err, "dimensions");
    } else {
        CHECK_OK(lp_safetensors_get(st, name, &view, &err), &err);
        CHECK(view.dtype == want && view.ndim == ndim && lp_tensor_nbytes(&view) == nbytes);
        CHECK_MSG((uintptr_t)view.data % lp_dtype_size(want) == 0, "%s: %s misaligned view",
                  fixture, name);
        CHECK_MSG(view.data == t->data, "%s: %s: not zero-copy", fixture, name);
        bytes = view.data;
    }
    size_t bad = 0;
    for (size_t i = 0; i < nbytes; i++) {
        int b = hexval(f[4][2 * i]) << 4 | hexval(f[4][2 * i + 1]);
        if (bytes[i] != b) bad++;
    }
    CHECK_MSG(bad == 0, "%s: %s: %zu of %zu bytes differ from what Python wrote", fixture, name,
              bad, nbytes);
}

/* `path` against `path`.expected; `fixture` names it in failures. */
static void check_file(const char *path, const char *fixture) {
    char manifest_path[600];
    snprintf(manifest_path, sizeof manifest_path, "%s.expected", path);
    lp_error err = {0};
    char *manifest;
    CHECK_OK(lp_fs_read_file(manifest_path, 1 << 24, &manifest, NULL, &err), &err);
    if (err.status) return;
    lp_safetensors *st = NULL;
    CHECK_OK(lp_safetensors_open(path, &st, &err), &err);
    if (!st) {
        free(manifest);
        return;
    }
    CHECK(!strcmp(lp_safetensors_label(st), path));
    size_t tensors = 0, metas = 0;
    for (char *line = strtok(manifest, "\n"); line; line = strtok(NULL, "\n")) {
        char *f[5];
        int n = split_tabs(line, f, 5);
        if (n == 5 && !strcmp(f[0], "tensor")) {
            tensors++;
            check_manifest_tensor(st, f, fixture);
        } else if (n == 3 && !strcmp(f[0], "meta")) {
            metas++;
            const char *v = lp_safetensors_metadata(st, f[1]);
            CHECK_MSG(v && !strcmp(v, f[2]), "%s: metadata %s", fixture, f[1]);
        } else {
            CHECK_MSG(false, "%s: bad manifest line '%s'", fixture, line);
        }
    }
    CHECK_MSG(lp_safetensors_count(st) == tensors, "%s: %zu tensors, manifest has %zu", fixture,
              lp_safetensors_count(st), tensors);
    CHECK(lp_safetensors_metadata_count(st) == metas);
    /* data-offset order, tiling the data section */
    uint64_t at = 0;
    for (size_t i = 0; i < lp_safetensors_count(st); i++) {
        const lp_st_tensor *t = lp_safetensors_at(st, i);
        CHECK(t->begin == at);
        at = t->end;
        CHECK(lp_safetensors_find(st, t->name) == t);
    }
    CHECK(lp_safetensors_at(st, lp_safetensors_count(st)) == NULL);
    CHECK(lp_safetensors_find(st, "no such tensor") == NULL);
    lp_safetensors_close(st);
    free(manifest);
}

static void check_fixture(const char *fixture) {
    char path[512];
    lp_test_source_path(fixture, path, sizeof path);
    check_file(path, fixture);
}

/* The generator's float formula, recomputed: ((k * 7) % 17 - 8) * 0.5. */
static void test_float_values(void) {
    char path[512];
    lp_test_source_path("tests/fixtures/safetensors/all_dtypes.safetensors", path, sizeof path);
    lp_safetensors *st = NULL;
    lp_error err = {0};
    CHECK_OK(lp_safetensors_open(path, &st, &err), &err);
    if (!st) return;
    const char *names[] = {"f64", "f32", "f16", "bf16"};
    for (int which = 0; which < 4; which++) {
        lp_tensor t;
        CHECK_OK(lp_safetensors_get(st, names[which], &t, &err), &err);
        if (err.status) continue;
        int64_t n = lp_tensor_numel(&t);
        int bad = 0;
        for (int64_t k = 0; k < n; k++) {
            double want = (double)((k * 7) % 17 - 8) * 0.5, got;
            switch (t.dtype) {
            case LP_F64: got = ((const double *)t.data)[k]; break;
            case LP_F32: got = ((const float *)t.data)[k]; break;
            case LP_F16: got = lp_f16_to_f32(((const uint16_t *)t.data)[k]); break;
            default: got = lp_bf16_to_f32(((const uint16_t *)t.data)[k]); break;
            }
            if (got != want) bad++;
        }
        CHECK_MSG(bad == 0 && n > 0, "%s: %d of %lld values wrong", names[which], bad, (long long)n);
    }
    lp_tensor s;
    CHECK_OK(lp_safetensors_get(st, "ünïcode.名前.weight", &s, &err), &err);
    CHECK(s.ndim == 2 && s.shape[0] == 2 && s.shape[1] == 2);
    lp_safetensors_close(st);

    /* scalars: ndim 0, one element */
    lp_test_source_path("tests/fixtures/safetensors/scalars_empty.safetensors", path, sizeof path);
    CHECK_OK(lp_safetensors_open(path, &st, &err), &err);
    if (!st) return;
    CHECK_OK(lp_safetensors_get(st, "scalar_f32", &s, &err), &err);
    CHECK(s.ndim == 0 && lp_tensor_numel(&s) == 1 && *(const float *)s.data == -4.0f);
    const lp_st_tensor *e = lp_safetensors_find(st, "empty_f16_3x0x2");
    CHECK(e && lp_st_tensor_numel(e) == 0 && e->begin == e->end && e->ndim == 3);
    CHECK(lp_st_tensor_numel(lp_safetensors_find(st, "scalar_i64")) == 1);
    lp_safetensors_close(st);
}

/* A dtype the format defines but lepton does not hold is refused by name. */
static void test_unsupported_dtype_fixture(void) {
    char path[512];
    lp_test_source_path("tests/fixtures/safetensors/unsupported_f8_e8m0.safetensors", path,
                        sizeof path);
    lp_safetensors *st = NULL;
    lp_error err = {0};
    CHECK_FAILS(lp_safetensors_open(path, &st, &err), LP_ERR_DTYPE, &err, "F8_E8M0");
    CHECK(st == NULL);
}

/* ---- hand-made headers ------------------------------------------------------ */

typedef struct buf {
    unsigned char *p;
    size_t n;
} buf;

/* 8-byte length + header (padded with spaces to a multiple of 8, as writers
 * do) + `data_size` bytes of data (0, 1, 2, ...). */
static buf make_file(const char *header, size_t data_size) {
    size_t len = strlen(header), h = (len + 7) / 8 * 8;
    buf b = {malloc(8 + h + data_size + 1), 8 + h + data_size};
    for (int i = 0; i < 8; i++) b.p[i] = (unsigned char)((uint64_t)h >> (8 * i));
    memcpy(b.p + 8, header, len);
    memset(b.p + 8 + len, ' ', h - len);
    for (size_t i = 0; i < data_size; i++) b.p[8 + h + i] = (unsigned char)i;
    return b;
}

/* Parses header+data and expects failure with `status` and `needle`. */
static void expect_bad(const char *header, size_t data_size, lp_status status, const char *needle) {
    buf b = make_file(header, data_size);
    lp_safetensors *st = (lp_safetensors *)1;
    lp_error err = {0};
    lp_status s = lp_safetensors_parse(b.p, b.n, "bad.safetensors", &st, &err);
    bool named = strstr(err.msg, "bad.safetensors") != NULL;
    if (!CHECK_MSG(named || s == LP_OK, "message does not name the file: %s", err.msg))
        fprintf(stderr, "  header: %s\n", header);
    if (!lp_test_check_fails(s, status, &err, needle, __FILE__, __LINE__, header))
        fprintf(stderr, "  header: %s\n", header);
    CHECK(st == NULL);
    if (s == LP_OK) lp_safetensors_close(st);
    free(b.p);
}

static lp_safetensors *expect_good(const char *header, size_t data_size, buf *keep) {
    *keep = make_file(header, data_size);
    lp_safetensors *st = NULL;
    lp_error err = {0};
    lp_status s = lp_safetensors_parse(keep->p, keep->n, "good.safetensors", &st, &err);
    CHECK_MSG(s == LP_OK, "%s -> %s", header, err.msg);
    return st;
}

static void test_bad_framing(void) {
    lp_safetensors *st = (lp_safetensors *)1;
    lp_error err = {0};
    unsigned char small[7] = {2, 0, 0, 0, 0, 0, 0};
    CHECK_FAILS(lp_safetensors_parse(small, sizeof small, "tiny", &st, &err), LP_ERR_FORMAT, &err,
                "too short");
    CHECK_FAILS(lp_safetensors_parse(NULL, 0, "nothing", &st, &err), LP_ERR_FORMAT, &err,
                "nothing: the file is 0 bytes");
    unsigned char big[16] = {0x01, 0xe1, 0xf5, 0x05, 0, 0, 0, 0, '{', '}'}; /* 100000001 */
    CHECK_FAILS(lp_safetensors_parse(big, sizeof big, "big", &st, &err), LP_ERR_FORMAT, &err,
                "above the limit");
    unsigned char huge[16] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    CHECK_FAILS(lp_safetensors_parse(huge, sizeof huge, "huge", &st, &err), LP_ERR_FORMAT, &err,
                "above the limit");
    unsigned char past[16] = {9, 0, 0, 0, 0, 0, 0, 0, '{', '}', ' ', ' ', ' ', ' ', ' ', ' '};
    CHECK_FAILS(lp_safetensors_parse(past, sizeof past, "past", &st, &err), LP_ERR_FORMAT, &err,
                "runs past the end");
    CHECK(st == NULL);
    unsigned char exact[16] = {8, 0, 0, 0, 0, 0, 0, 0, '{', '}', ' ', ' ', ' ', ' ', ' ', ' '};
    CHECK_OK(lp_safetensors_parse(exact, sizeof exact, "empty", &st, &err), &err);
    if (st) {
        CHECK(lp_safetensors_count(st) == 0 && lp_safetensors_metadata_count(st) == 0);
        lp_safetensors_close(st);
    }
}

static void test_bad_json(void) {
    expect_bad("{\"a\":", 0, LP_ERR_FORMAT, "not valid JSON");
    expect_bad("[]", 0, LP_ERR_FORMAT, "not a JSON object");
    expect_bad("\"x\"", 0, LP_ERR_FORMAT, "not a JSON object");
    expect_bad("\xef\xbb\xbf{}", 0, LP_ERR_FORMAT, "not a JSON object"); /* BOM */
    expect_bad("{} x", 0, LP_ERR_FORMAT, "bytes after its JSON object");
    expect_bad("{}{}", 0, LP_ERR_FORMAT, "bytes after its JSON object");
    expect_bad("{\"a\x01\":1}", 0, LP_ERR_FORMAT, "control byte 0x01");
    expect_bad("{\"\xff\":{}}", 0, LP_ERR_FORMAT, "not valid UTF-8");
    expect_bad("{\"\xc0\xaf\":{}}", 0, LP_ERR_FORMAT, "not valid UTF-8");     /* overlong */
    expect_bad("{\"\xed\xa0\x80\":{}}", 0, LP_ERR_FORMAT, "not valid UTF-8"); /* surrogate */
    expect_bad("{\"\xf4\x90\x80\x80\":{}}", 0, LP_ERR_FORMAT, "not valid UTF-8");
    expect_bad("{\"a\\u0000b\":{}}", 0, LP_ERR_FORMAT, "NUL");
    expect_bad("{\"a\\ud800\":{}}", 0, LP_ERR_FORMAT, "not valid JSON"); /* lone surrogate */
    /* an escaped backslash before "u0000" is not an escaped NUL */
    buf keep;
    lp_safetensors *st = expect_good(
        "{\"a\\\\u0000\":{\"dtype\":\"U8\",\"shape\":[],\"data_offsets\":[0,1]}}", 1, &keep);
    if (st) {
        CHECK(lp_safetensors_find(st, "a\\u0000") != NULL);
        lp_safetensors_close(st);
    }
    free(keep.p);
}

static void test_bad_entries(void) {
    expect_bad("{\"w\":3}", 0, LP_ERR_FORMAT, "tensor 'w': the entry is not a JSON object");
    expect_bad("{\"w\":{\"shape\":[],\"data_offsets\":[0,4]}}", 4, LP_ERR_FORMAT,
               "tensor 'w': no \"dtype\"");
    expect_bad("{\"w\":{\"dtype\":4,\"shape\":[],\"data_offsets\":[0,4]}}", 4, LP_ERR_FORMAT,
               "\"dtype\" is not a string");
    expect_bad("{\"w\":{\"dtype\":\"F33\",\"shape\":[],\"data_offsets\":[0,4]}}", 4, LP_ERR_FORMAT,
               "tensor 'w': unknown dtype 'F33'");
    expect_bad("{\"w\":{\"dtype\":\"f32\",\"shape\":[],\"data_offsets\":[0,4]}}", 4, LP_ERR_FORMAT,
               "unknown dtype 'f32'");
    expect_bad("{\"w\":{\"dtype\":\"F4\",\"shape\":[2],\"data_offsets\":[0,1]}}", 1, LP_ERR_DTYPE,
               "dtype F4 is defined by the format but not supported");
    expect_bad("{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, LP_ERR_FORMAT,
               "tensor 'w': no \"shape\"");
    expect_bad("{\"w\":{\"dtype\":\"F32\",\"shape\":4,\"data_offsets\":[0,4]}}", 4, LP_ERR_FORMAT,
               "\"shape\" is not an array");
    const char *bad_dims[] = {"-1", "1.0", "1e0", "01", "-0", "\"1\"", "null", "[1]",
                              "18446744073709551616", "1.5"};
    for (size_t i = 0; i < sizeof bad_dims / sizeof bad_dims[0]; i++) {
        char h[256];
        snprintf(h, sizeof h, "{\"w\":{\"dtype\":\"F32\",\"shape\":[%s],\"data_offsets\":[0,4]}}",
                 bad_dims[i]);
        expect_bad(h, 4, LP_ERR_FORMAT, "tensor 'w': shape[0] is not a non-negative JSON integer");
    }
    expect_bad("{\"w\":{\"dtype\":\"U8\",\"shape\":[0,9223372036854775808],\"data_offsets\":[0,0]}}",
               0, LP_ERR_FORMAT, "shape[1] = 9223372036854775808 is too large");
    expect_bad("{\"w\":{\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,1]}}", 1,
               LP_ERR_FORMAT, "rank 9 is above the limit of 8");
    expect_bad("{\"w\":{\"dtype\":\"U8\",\"shape\":[4294967296,4294967296,0],\"data_offsets\":[0,0]}}",
               0, LP_ERR_FORMAT, "overflows 64 bits");
    expect_bad("{\"w\":{\"dtype\":\"F64\",\"shape\":[2305843009213693952],\"data_offsets\":[0,0]}}",
               0, LP_ERR_FORMAT, "overflows 64 bits");
    expect_bad("{\"w\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, LP_ERR_FORMAT,
               "tensor 'w': no \"data_offsets\"");
    const char *bad_offsets[] = {"[0]", "[0,4,8]", "[0,\"4\"]", "{}", "[-0,4]", "[0,4.0]", "[]"};
    for (size_t i = 0; i < sizeof bad_offsets / sizeof bad_offsets[0]; i++) {
        char h[256];
        snprintf(h, sizeof h, "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":%s}}",
                 bad_offsets[i]);
        expect_bad(h, 4, LP_ERR_FORMAT, "\"data_offsets\" is not an array of two");
    }
    expect_bad("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}}", 4, LP_ERR_FORMAT,
               "data_offsets [4, 0] begin after they end");
    expect_bad("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4, LP_ERR_FORMAT,
               "tensor 'w': data_offsets [0, 8] run past the data section (4 bytes)");
    expect_bad("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4, LP_ERR_FORMAT,
               "hold 4 bytes but F32 shape of 2 elements needs 8");
}

static void test_bad_layout(void) {
    const char *two = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[%d,%d]},"
                      "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[%d,%d]}}";
    char h[512];
    snprintf(h, sizeof h, two, 0, 8, 4, 12);
    expect_bad(h, 12, LP_ERR_FORMAT, "tensor 'b': data_offsets [4, 12] overlap tensor 'a'");
    snprintf(h, sizeof h, two, 0, 8, 0, 8);
    expect_bad(h, 8, LP_ERR_FORMAT, "overlap tensor 'a'");
    snprintf(h, sizeof h, two, 0, 8, 12, 20);
    expect_bad(h, 20, LP_ERR_FORMAT, "leave bytes [8, 12) of the data section to no tensor");
    snprintf(h, sizeof h, two, 4, 12, 12, 20);
    expect_bad(h, 20, LP_ERR_FORMAT, "tensor 'a': data_offsets [4, 12] leave bytes [0, 4)");
    snprintf(h, sizeof h, two, 0, 8, 8, 16);
    expect_bad(h, 17, LP_ERR_FORMAT, "end at byte 16 of the data section but it holds 17");
    expect_bad("{}", 3, LP_ERR_FORMAT, "end at byte 0 of the data section but it holds 3");
    expect_bad("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
               "\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]}}",
               2, LP_ERR_FORMAT, "tensor name 'a' appears twice");
}

static void test_metadata(void) {
    expect_bad("{\"__metadata__\":[]}", 0, LP_ERR_FORMAT, "\"__metadata__\" is not a JSON object");
    expect_bad("{\"__metadata__\":{\"k\":1}}", 0, LP_ERR_FORMAT,
               "__metadata__ key 'k': the value is not a string");
    expect_bad("{\"__metadata__\":{\"a\":\"1\",\"k\":\"1\",\"k\":\"2\"}}", 0, LP_ERR_FORMAT,
               "__metadata__ key 'k' appears twice");
    expect_bad("{\"__metadata__\":{},\"__metadata__\":{}}", 0, LP_ERR_FORMAT,
               "\"__metadata__\" appears twice");
    buf keep;
    lp_safetensors *st = expect_good("{\"__metadata__\":null}", 0, &keep);
    if (st) {
        CHECK(lp_safetensors_metadata_count(st) == 0);
        lp_safetensors_close(st);
    }
    free(keep.p);
    st = expect_good("{\"__metadata__\":{\"z\":\"last\",\"a\":\"first\",\"m\":\"\"}}", 0, &keep);
    if (st) {
        const char *k, *v;
        CHECK(lp_safetensors_metadata_count(st) == 3);
        lp_safetensors_metadata_at(st, 0, &k, &v);
        CHECK(!strcmp(k, "a") && !strcmp(v, "first"));
        lp_safetensors_metadata_at(st, 2, &k, &v);
        CHECK(!strcmp(k, "z") && !strcmp(v, "last"));
        lp_safetensors_metadata_at(st, 3, &k, &v);
        CHECK(k == NULL && v == NULL);
        CHECK(!strcmp(lp_safetensors_metadata(st, "m"), ""));
        CHECK(lp_safetensors_metadata(st, "x") == NULL);
        lp_safetensors_close(st);
    }
    free(keep.p);
}

/* What the reference accepts, lepton accepts: extra keys, any key order,
 * leading whitespace, zero-size tensors sharing an offset, big exact dims. */
static void test_accepted_variants(void) {
    buf keep;
    lp_safetensors *st = expect_good(
        "  \n{\"b\":{\"data_offsets\":[4,8],\"shape\":[1],\"dtype\":\"F32\",\"extra\":[1.5,{}]},"
        "\"z\":{\"dtype\":\"U8\",\"shape\":[0,9007199254740993],\"data_offsets\":[4,4]},"
        "\"a\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}}\t\r\n ",
        8, &keep);
    if (st) {
        CHECK(lp_safetensors_count(st) == 3);
        CHECK(!strcmp(lp_safetensors_at(st, 0)->name, "a"));
        CHECK(!strcmp(lp_safetensors_at(st, 1)->name, "z")); /* [4, 4] sorts before [4, 8] */
        CHECK(!strcmp(lp_safetensors_at(st, 2)->name, "b"));
        const lp_st_tensor *z = lp_safetensors_find(st, "z");
        CHECK(z && z->shape[1] == 9007199254740993LL && lp_st_tensor_numel(z) == 0);
        lp_safetensors_close(st);
    }
    free(keep.p);
}

/* Hand-made files may misalign data: get copies it once, aligned. Ranks above
 * LP_MAX_DIMS open but cannot become lp_tensor views. */
static void test_misaligned_and_rank(void) {
    buf keep;
    lp_safetensors *st = expect_good(
        "{\"pad\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
        "\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[1,9]},"
        "\"r6\":{\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1],\"data_offsets\":[9,10]}}",
        10, &keep);
    if (!st) {
        free(keep.p);
        return;
    }
    lp_error err = {0};
    lp_tensor w, w2;
    const lp_st_tensor *info = lp_safetensors_find(st, "w");
    CHECK_OK(lp_safetensors_get(st, "w", &w, &err), &err);
    CHECK(w.data != info->data && (uintptr_t)w.data % 4 == 0);
    CHECK(!memcmp(w.data, info->data, 8));
    CHECK_OK(lp_safetensors_get(st, "w", &w2, &err), &err);
    CHECK(w2.data == w.data);
    CHECK_FAILS(lp_safetensors_get(st, "r6", &w, &err), LP_ERR_SHAPE, &err,
                "tensor 'r6' has 6 dimensions");
    CHECK_FAILS(lp_safetensors_get(st, "nope", &w, &err), LP_ERR_INVALID_ARG, &err,
                "good.safetensors: no tensor named 'nope'");
    lp_safetensors_close(st);
    free(keep.p);
}

/* ---- files on disk ---------------------------------------------------------- */

static void test_open_errors(void) {
    lp_safetensors *st = NULL;
    lp_error err = {0};
    CHECK_FAILS(lp_safetensors_open("/nonexistent/x.safetensors", &st, &err), LP_ERR_IO, &err,
                "/nonexistent/x.safetensors: cannot open: No such file");
    CHECK_FAILS(lp_safetensors_open("/tmp", &st, &err), LP_ERR_IO, &err, "/tmp: is a directory");
    char dir[] = "/tmp/lp_st_read_XXXXXX";
    if (!CHECK(mkdtemp(dir) != NULL)) return;
    char path[256];
    snprintf(path, sizeof path, "%s/empty.safetensors", dir);
    CHECK_OK(lp_fs_write_atomic(path, "", 0, &err), &err);
    CHECK_FAILS(lp_safetensors_open(path, &st, &err), LP_ERR_FORMAT, &err, "empty.safetensors: the file is 0 bytes");
    buf b = make_file("{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 16);
    CHECK_OK(lp_fs_write_atomic(path, b.p, b.n - 5, &err), &err); /* truncated */
    CHECK_FAILS(lp_safetensors_open(path, &st, &err), LP_ERR_FORMAT, &err,
                "empty.safetensors: tensor 'w': data_offsets [0, 16] run past the data section (11 bytes)");
    CHECK_OK(lp_fs_write_atomic(path, b.p, b.n, &err), &err);
    CHECK_OK(lp_safetensors_open(path, &st, &err), &err);
    if (st) {
        lp_tensor w;
        CHECK_OK(lp_safetensors_get(st, "w", &w, &err), &err);
        CHECK(w.data == lp_safetensors_find(st, "w")->data); /* zero-copy */
        CHECK(((const unsigned char *)w.data)[15] == 15);
        lp_safetensors_close(st);
    }
    free(b.p);
    unlink(path);
    rmdir(dir);
}

/* `--check FILE`: compares FILE with FILE.expected (tests/tools/
 * test_safetensors_interop.py writes random files with Python this way). */
int main(int argc, char **argv) {
    if (argc == 3 && !strcmp(argv[1], "--check")) {
        check_file(argv[2], argv[2]);
        return lp_test_finish();
    }
    check_fixture("tests/fixtures/safetensors/all_dtypes.safetensors");
    check_fixture("tests/fixtures/safetensors/scalars_empty.safetensors");
    check_fixture("tests/fixtures/safetensors/specials.safetensors");
    check_fixture("tests/fixtures/safetensors/metadata_only.safetensors");
    check_fixture("tests/fixtures/safetensors/tiny_bert/model.safetensors");
    test_float_values();
    test_unsupported_dtype_fixture();
    test_bad_framing();
    test_bad_json();
    test_bad_entries();
    test_bad_layout();
    test_metadata();
    test_accepted_variants();
    test_misaligned_and_rank();
    test_open_errors();
    return lp_test_finish();
}
