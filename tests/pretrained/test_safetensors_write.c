/* The safetensors writer: every dtype round-trips through the reader bit for
 * bit, the layout is the one the Python writer produces (byte-identical where
 * the tensor order agrees), bad input is refused before anything is written,
 * and a failed write leaves the old file in place.
 *
 * With `--interop DIR` it also writes DIR/from_c.safetensors and a manifest
 * (same format as tools/make_safetensors_fixtures.py) that
 * tests/tools/test_safetensors_interop.py loads with Python safetensors. */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pretrained/fs.h"
#include "pretrained/safetensors.h"
#include "tests/test_util.h"

/* ---- the tensors written ---------------------------------------------------- */

typedef struct spec {
    const char *name;
    lp_dtype dtype;
    int ndim;
    int64_t shape[LP_MAX_DIMS];
    int fill; /* >= 0: byte pattern tag; -1: float formula; -2: bool */
} spec;

/* Wider dtypes first, so every tensor stays aligned (as Python lays them out). */
static const spec SPECS[] = {
    {"f64", LP_F64, 2, {2, 3}, 0},
    {"i64", LP_I64, 1, {4}, 1},
    {"u64", LP_U64, 1, {3}, 2},
    {"f32", LP_F32, 3, {2, 2, 3}, 3},
    {"i32", LP_I32, 1, {5}, 4},
    {"u32", LP_U32, 5, {1, 1, 1, 1, 2}, 5},
    {"f32_values", LP_F32, 2, {3, 5}, -1},
    {"scalar_f32", LP_F32, 0, {0}, -1},
    {"empty_i32", LP_I32, 2, {0, 4}, 4},
    {"f16", LP_F16, 2, {3, 3}, 6},
    {"bf16", LP_BF16, 2, {4, 1}, 7},
    {"i16", LP_I16, 1, {6}, 8},
    {"u16", LP_U16, 2, {2, 2}, 9},
    {"f16_values", LP_F16, 1, {7}, -1},
    {"bf16_values", LP_BF16, 1, {9}, -1},
    {"i8", LP_I8, 1, {5}, 10},
    {"u8", LP_U8, 1, {3}, 11},
    {"f8_e4m3", LP_F8_E4M3, 1, {4}, 12},
    {"f8_e5m2", LP_F8_E5M2, 2, {2, 3}, 13},
    {"bool", LP_BOOL, 1, {7}, -2},
    {"名前.ünï\n", LP_U8, 1, {2}, 14},
};
#define NSPECS (sizeof SPECS / sizeof SPECS[0])

static const char *const META[][2] = {
    {"written_by", "lepton"}, {"ünï", "名前"}, {"empty", ""}, {"format", "pt"}};
#define NMETA (sizeof META / sizeof META[0])

/* The same formula as the fixture generator: ((k * 7) % 17 - 8) * 0.5. */
static float formula(int64_t k) { return (float)((k * 7) % 17 - 8) * 0.5f; }

static void fill(const spec *s, lp_tensor *t) {
    int64_t n = lp_tensor_numel(t);
    size_t nbytes = lp_tensor_nbytes(t);
    unsigned char *b = t->data;
    if (s->fill >= 0) {
        for (size_t i = 0; i < nbytes; i++) b[i] = (unsigned char)(i * 31 + (size_t)s->fill * 17 + 1);
    } else if (s->fill == -2) {
        for (int64_t i = 0; i < n; i++) b[i] = i % 3 == 0;
    } else {
        for (int64_t k = 0; k < n; k++) {
            if (t->dtype == LP_F32) ((float *)t->data)[k] = formula(k);
            else if (t->dtype == LP_F16) ((uint16_t *)t->data)[k] = lp_f32_to_f16(formula(k));
            else ((uint16_t *)t->data)[k] = lp_f32_to_bf16(formula(k));
        }
    }
}

typedef struct written {
    lp_tensor tensors[NSPECS];
    lp_st_entry entries[NSPECS];
} written;

static void make_all(written *w) {
    for (size_t i = 0; i < NSPECS; i++) {
        const spec *s = &SPECS[i];
        lp_tensor t = lp_tensor_make(NULL, s->dtype, s->ndim, s->shape);
        t.data = malloc(lp_tensor_nbytes(&t) + 1);
        fill(s, &t);
        w->tensors[i] = t;
        w->entries[i] = (lp_st_entry){s->name, &w->tensors[i]};
    }
}

static void free_all(written *w) {
    for (size_t i = 0; i < NSPECS; i++) free(w->tensors[i].data);
}

static char g_dir[64];

static const char *tmp_path(const char *name, char *buf, size_t size) {
    snprintf(buf, size, "%s/%s", g_dir, name);
    return buf;
}

/* ---- tests ------------------------------------------------------------------ */

static void test_roundtrip_every_dtype(void) {
    written w;
    make_all(&w);
    char path[256];
    lp_error err = {0};
    tmp_path("all.safetensors", path, sizeof path);
    CHECK_OK(lp_safetensors_write(path, w.entries, NSPECS, META, NMETA, &err), &err);
    lp_safetensors *st = NULL;
    CHECK_OK(lp_safetensors_open(path, &st, &err), &err);
    if (!st) {
        free_all(&w);
        return;
    }
    CHECK(lp_safetensors_count(st) == NSPECS);
    for (size_t i = 0; i < NSPECS; i++) {
        const lp_tensor *src = &w.tensors[i];
        /* laid out in the given order: the i-th by offset is the i-th given
         * (ties among zero-size tensors aside, and there is one here) */
        const lp_st_tensor *info = lp_safetensors_find(st, SPECS[i].name);
        if (!CHECK_MSG(info != NULL, "%s missing", SPECS[i].name)) continue;
        lp_tensor got;
        CHECK_OK(lp_safetensors_get(st, SPECS[i].name, &got, &err), &err);
        CHECK(got.dtype == src->dtype && lp_tensor_same_shape(&got, src));
        CHECK(got.data == info->data); /* aligned, so zero-copy */
        CHECK_MSG(!memcmp(got.data, src->data, lp_tensor_nbytes(src)), "%s bytes differ",
                  SPECS[i].name);
        if (i > 0) {
            const lp_st_tensor *prev = lp_safetensors_find(st, SPECS[i - 1].name);
            CHECK_MSG(prev && prev->end == info->begin, "%s does not follow %s", SPECS[i].name,
                      SPECS[i - 1].name);
        }
    }
    for (size_t i = 0; i < NMETA; i++) {
        const char *v = lp_safetensors_metadata(st, META[i][0]);
        CHECK(v && !strcmp(v, META[i][1]));
    }
    CHECK(lp_safetensors_metadata_count(st) == NMETA);
    lp_safetensors_close(st);

    /* header length is a multiple of 8, padded with spaces */
    char *bytes;
    size_t size;
    CHECK_OK(lp_fs_read_file(path, 1 << 20, &bytes, &size, &err), &err);
    if (!err.status) {
        uint64_t n = 0;
        for (int i = 7; i >= 0; i--) n = n << 8 | (unsigned char)bytes[i];
        CHECK(n % 8 == 0 && n + 8 <= size && bytes[8] == '{');
        size_t end = 8 + n;
        while (end > 8 && bytes[end - 1] == ' ') end--;
        CHECK(bytes[end - 1] == '}' && 8 + n - end < 8);
        free(bytes);
    }
    free_all(&w);
}

/* The exact bytes the Python writer produces for the same single tensor:
 * 8-byte length, compact JSON (dtype, shape, data_offsets), space padding. */
static void test_matches_reference_bytes(void) {
    float v[6] = {0, 1, 2, 3, 4, 5};
    lp_tensor t = lp_tensor_3d(v, LP_F32, 1, 2, 3);
    lp_st_entry e = {"attn.0", &t};
    char path[256];
    lp_error err = {0};
    tmp_path("ref.safetensors", path, sizeof path);
    CHECK_OK(lp_safetensors_write(path, &e, 1, NULL, 0, &err), &err);
    const char *json = "{\"attn.0\":{\"dtype\":\"F32\",\"shape\":[1,2,3],\"data_offsets\":[0,24]}}";
    size_t jn = strlen(json); /* 64: no padding needed */
    char *bytes;
    size_t size;
    CHECK_OK(lp_fs_read_file(path, 1 << 20, &bytes, &size, &err), &err);
    if (!err.status) {
        CHECK(jn == 64 && size == 8 + jn + 24);
        CHECK(bytes[0] == 64 && !memcmp(bytes + 1, "\0\0\0\0\0\0\0", 7));
        CHECK(!memcmp(bytes + 8, json, jn));
        CHECK(!memcmp(bytes + 8 + jn, v, 24));
        free(bytes);
    }
    /* no tensors, metadata only: {"__metadata__":{"framework":"pt"}} + 5 spaces */
    const char *const meta[][2] = {{"framework", "pt"}};
    CHECK_OK(lp_safetensors_write(path, NULL, 0, meta, 1, &err), &err);
    CHECK_OK(lp_fs_read_file(path, 1 << 20, &bytes, &size, &err), &err);
    if (!err.status) {
        const char *want = "{\"__metadata__\":{\"framework\":\"pt\"}}     ";
        CHECK(size == 8 + 40 && bytes[0] == 40 && !memcmp(bytes + 8, want, 40));
        free(bytes);
    }
    /* nothing at all: "{}" + 6 spaces */
    CHECK_OK(lp_safetensors_write(path, NULL, 0, NULL, 0, &err), &err);
    CHECK_OK(lp_fs_read_file(path, 1 << 20, &bytes, &size, &err), &err);
    if (!err.status) {
        CHECK(size == 16 && bytes[0] == 8 && !memcmp(bytes + 8, "{}      ", 8));
        free(bytes);
    }
}

static size_t count_dir_entries(void) {
    DIR *d = opendir(g_dir);
    size_t n = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        if (e->d_name[0] != '.') n++;
    if (d) closedir(d);
    return n;
}

/* Bad input is refused before anything is written: the file already at the
 * path survives and no temporary file is left behind. */
static void test_refusals(void) {
    char path[256];
    lp_error err = {0};
    tmp_path("keep.safetensors", path, sizeof path);
    float v[6] = {1, 2, 3, 4, 5, 6};
    lp_tensor t = lp_tensor_2d(v, LP_F32, 2, 3);
    lp_st_entry good = {"w", &t};
    CHECK_OK(lp_safetensors_write(path, &good, 1, NULL, 0, &err), &err);
    chmod(path, 0640);
    struct stat before;
    stat(path, &before);
    size_t files = count_dir_entries();

    lp_tensor tt = lp_tensor_transpose(&t, 0, 1);
    lp_st_entry noncontig = {"wt", &tt};
    CHECK_FAILS(lp_safetensors_write(path, &noncontig, 1, NULL, 0, &err), LP_ERR_INVALID_ARG, &err,
                "keep.safetensors: tensor 'wt' is not contiguous");
    lp_st_entry dup[2] = {{"w", &t}, {"w", &t}};
    CHECK_FAILS(lp_safetensors_write(path, dup, 2, NULL, 0, &err), LP_ERR_INVALID_ARG, &err,
                "two tensors are named 'w'");
    lp_st_entry reserved = {"__metadata__", &t};
    CHECK_FAILS(lp_safetensors_write(path, &reserved, 1, NULL, 0, &err), LP_ERR_INVALID_ARG, &err,
                "\"__metadata__\" is reserved");
    lp_st_entry bad_utf8 = {"w\xff", &t};
    CHECK_FAILS(lp_safetensors_write(path, &bad_utf8, 1, NULL, 0, &err), LP_ERR_INVALID_ARG, &err,
                "is not valid UTF-8");
    lp_st_entry surrogate = {"w\xed\xa0\x80", &t};
    CHECK_FAILS(lp_safetensors_write(path, &surrogate, 1, NULL, 0, &err), LP_ERR_INVALID_ARG, &err,
                "is not valid UTF-8");
    lp_st_entry noname = {NULL, &t};
    CHECK_FAILS(lp_safetensors_write(path, &noname, 1, NULL, 0, &err), LP_ERR_INVALID_ARG, &err,
                "tensor 0 has no name");
    lp_st_entry notensor = {"x", NULL};
    CHECK_FAILS(lp_safetensors_write(path, &notensor, 1, NULL, 0, &err), LP_ERR_INVALID_ARG, &err,
                "tensor 'x' is NULL");
    lp_tensor neg = t;
    neg.shape[0] = -2;
    lp_st_entry negative = {"n", &neg};
    CHECK_FAILS(lp_safetensors_write(path, &negative, 1, NULL, 0, &err), LP_ERR_INVALID_ARG, &err,
                "negative dimension");
    lp_tensor gpu = t;
    gpu.device.kind = LP_DEVICE_CUDA;
    lp_st_entry ongpu = {"g", &gpu};
    CHECK_FAILS(lp_safetensors_write(path, &ongpu, 1, NULL, 0, &err), LP_ERR_INVALID_ARG, &err,
                "not on the CPU");
    const char *const dupmeta[][2] = {{"k", "1"}, {"k", "2"}};
    CHECK_FAILS(lp_safetensors_write(path, &good, 1, dupmeta, 2, &err), LP_ERR_INVALID_ARG, &err,
                "metadata key 'k' is given twice");
    const char *const badmeta[][2] = {{"k", "\xc3"}};
    CHECK_FAILS(lp_safetensors_write(path, &good, 1, badmeta, 1, &err), LP_ERR_INVALID_ARG, &err,
                "metadata 'k': keys and values must be valid UTF-8");
    const char *const nullmeta[][2] = {{"k", NULL}};
    CHECK_FAILS(lp_safetensors_write(path, &good, 1, nullmeta, 1, &err), LP_ERR_INVALID_ARG, &err,
                "NULL key or value");

    struct stat after;
    stat(path, &after);
    CHECK(after.st_ino == before.st_ino && after.st_mtime == before.st_mtime);
    CHECK(count_dir_entries() == files);

    /* a replacement keeps the mode of the file it replaces */
    CHECK_OK(lp_safetensors_write(path, &good, 1, NULL, 0, &err), &err);
    stat(path, &after);
    CHECK(after.st_ino != before.st_ino && (after.st_mode & 0777) == 0640);
    CHECK(count_dir_entries() == files);

    CHECK_FAILS(lp_safetensors_write("/nonexistent-dir/x.safetensors", &good, 1, NULL, 0, &err),
                LP_ERR_IO, &err, "/nonexistent-dir/x.safetensors: cannot create a temporary file");
}

/* Names the JSON must escape survive the round trip. */
static void test_escaped_names(void) {
    uint8_t b[1] = {7};
    lp_tensor t = lp_tensor_1d(b, LP_U8, 1);
    const char *names[] = {"quote\"s", "back\\slash", "tab\tnew\nline", "", "\x01\x1f", "/",
                           "é"};
    lp_st_entry e[7];
    for (int i = 0; i < 7; i++) e[i] = (lp_st_entry){names[i], &t};
    char path[256];
    lp_error err = {0};
    tmp_path("names.safetensors", path, sizeof path);
    CHECK_OK(lp_safetensors_write(path, e, 7, NULL, 0, &err), &err);
    lp_safetensors *st = NULL;
    CHECK_OK(lp_safetensors_open(path, &st, &err), &err);
    if (!st) return;
    for (int i = 0; i < 7; i++) {
        const lp_st_tensor *x = lp_safetensors_find(st, names[i]);
        CHECK_MSG(x && *(const uint8_t *)x->data == 7, "name %d", i);
    }
    lp_safetensors_close(st);
}

/* ---- --interop DIR ---------------------------------------------------------- */

static void hex_line(FILE *f, const void *data, size_t n) {
    const unsigned char *b = data;
    for (size_t i = 0; i < n; i++) fprintf(f, "%02x", b[i]);
}

static int write_interop(const char *dir) {
    written w;
    make_all(&w);
    char path[512], manifest[600];
    snprintf(path, sizeof path, "%s/from_c.safetensors", dir);
    snprintf(manifest, sizeof manifest, "%s.expected", path);
    lp_error err = {0};
    lp_status s = lp_safetensors_write(path, w.entries, NSPECS, META, NMETA, &err);
    if (s != LP_OK) {
        fprintf(stderr, "%s\n", err.msg);
        free_all(&w);
        return 1;
    }
    FILE *f = fopen(manifest, "w");
    if (!f) {
        free_all(&w);
        return 1;
    }
    for (size_t i = 0; i < NSPECS; i++) {
        const lp_tensor *t = &w.tensors[i];
        /* the manifest escapes nothing: skip the name with a newline */
        if (strchr(SPECS[i].name, '\n')) continue;
        fprintf(f, "tensor\t%s\t%s\t", SPECS[i].name, lp_dtype_safetensors_name(t->dtype));
        for (int d = 0; d < t->ndim; d++) fprintf(f, "%s%lld", d ? "," : "", (long long)t->shape[d]);
        fputc('\t', f);
        hex_line(f, t->data, lp_tensor_nbytes(t));
        fputc('\n', f);
    }
    for (size_t i = 0; i < NMETA; i++) fprintf(f, "meta\t%s\t%s\n", META[i][0], META[i][1]);
    fclose(f);

    /* misaligned on purpose: 3 bytes, then an f32 at offset 3 */
    uint8_t pad[3] = {1, 2, 3};
    float v[2] = {1.5f, -2.25f};
    lp_tensor tp = lp_tensor_1d(pad, LP_U8, 3), tv = lp_tensor_1d(v, LP_F32, 2);
    lp_st_entry e[2] = {{"pad", &tp}, {"w", &tv}};
    snprintf(path, sizeof path, "%s/from_c_misaligned.safetensors", dir);
    s = lp_safetensors_write(path, e, 2, NULL, 0, &err);
    free_all(&w);
    if (s != LP_OK) fprintf(stderr, "%s\n", err.msg);
    return s == LP_OK ? 0 : 1;
}

int main(int argc, char **argv) {
    if (argc == 3 && !strcmp(argv[1], "--interop")) return write_interop(argv[2]);
    snprintf(g_dir, sizeof g_dir, "/tmp/lp_st_write_XXXXXX");
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_roundtrip_every_dtype();
    test_matches_reference_bytes();
    test_refusals();
    test_escaped_names();
    /* clean up */
    DIR *d = opendir(g_dir);
    for (struct dirent *e; d && (e = readdir(d));) {
        if (e->d_name[0] == '.' && (!e->d_name[1] || !strcmp(e->d_name, ".."))) continue;
        char p[512];
        snprintf(p, sizeof p, "%s/%s", g_dir, e->d_name);
        unlink(p);
    }
    if (d) closedir(d);
    rmdir(g_dir);
    return lp_test_finish();
}
