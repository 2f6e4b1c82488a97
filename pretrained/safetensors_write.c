/* The safetensors writer: validate everything first, build the header, then
 * stream header and tensor bytes into an atomic file. */
#include "pretrained/fs.h"
#include "pretrained/safetensors.h"
#include "pretrained/safetensors_internal.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int by_string(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The first duplicate in `names` (sorted in place), or NULL. */
static const char *find_duplicate(const char **names, size_t n) {
    qsort(names, n, sizeof *names, by_string);
    for (size_t i = 1; i < n; i++)
        if (!strcmp(names[i - 1], names[i])) return names[i];
    return NULL;
}

static lp_status check_entry(const char *path, size_t i, const lp_st_entry *e, lp_error *err) {
    if (!e->name)
        return lp_fail(err, LP_ERR_INVALID_ARG, "%s: tensor %zu has no name", path, i);
    lp_st_quoted q = lp_st_quote(e->name);
    if (!lp_st_utf8_valid(e->name, strlen(e->name)))
        return lp_fail(err, LP_ERR_INVALID_ARG, "%s: tensor %zu: the name '%s' is not valid UTF-8",
                       path, i, q.text);
    if (!strcmp(e->name, "__metadata__"))
        return lp_fail(err, LP_ERR_INVALID_ARG,
                       "%s: \"__metadata__\" is reserved for metadata and cannot name a tensor", path);
    const lp_tensor *t = e->tensor;
    if (!t) return lp_fail(err, LP_ERR_INVALID_ARG, "%s: tensor '%s' is NULL", path, q.text);
    if (t->device.kind != LP_DEVICE_CPU)
        return lp_fail(err, LP_ERR_INVALID_ARG,
                       "%s: tensor '%s' is not on the CPU; copy it to the host first", path, q.text);
    if ((unsigned)t->dtype >= LP_DTYPE_COUNT)
        return lp_fail(err, LP_ERR_INVALID_ARG, "%s: tensor '%s' has an invalid dtype %d", path,
                       q.text, (int)t->dtype);
    if (t->ndim < 0 || t->ndim > LP_MAX_DIMS)
        return lp_fail(err, LP_ERR_INVALID_ARG, "%s: tensor '%s' has rank %d", path, q.text,
                       t->ndim);
    uint64_t numel = 1, nbytes;
    for (int d = 0; d < t->ndim; d++) {
        if (t->shape[d] < 0)
            return lp_fail(err, LP_ERR_INVALID_ARG, "%s: tensor '%s' has a negative dimension",
                           path, q.text);
        if (__builtin_mul_overflow(numel, (uint64_t)t->shape[d], &numel))
            return lp_fail(err, LP_ERR_INVALID_ARG, "%s: tensor '%s': the shape overflows", path,
                           q.text);
    }
    if (__builtin_mul_overflow(numel, (uint64_t)lp_dtype_size(t->dtype), &nbytes) ||
        nbytes > SIZE_MAX)
        return lp_fail(err, LP_ERR_INVALID_ARG, "%s: tensor '%s': the shape overflows", path,
                       q.text);
    if (!lp_tensor_is_contiguous(t))
        return lp_fail(err, LP_ERR_INVALID_ARG,
                       "%s: tensor '%s' is not contiguous; make a contiguous copy before writing",
                       path, q.text);
    if (nbytes && !t->data)
        return lp_fail(err, LP_ERR_INVALID_ARG, "%s: tensor '%s' has no data", path, q.text);
    return LP_OK;
}

static lp_status check_inputs(const char *path, const lp_st_entry *entries, size_t count,
                              const char *const (*metadata)[2], size_t nmeta, lp_error *err) {
    if (count && !entries)
        return lp_fail(err, LP_ERR_INVALID_ARG, "%s: entries is NULL", path);
    if (nmeta && !metadata)
        return lp_fail(err, LP_ERR_INVALID_ARG, "%s: metadata is NULL", path);
    for (size_t i = 0; i < count; i++) {
        lp_status s = check_entry(path, i, &entries[i], err);
        if (s != LP_OK) return s;
    }
    for (size_t i = 0; i < nmeta; i++) {
        const char *k = metadata[i][0], *v = metadata[i][1];
        if (!k || !v)
            return lp_fail(err, LP_ERR_INVALID_ARG, "%s: metadata entry %zu has a NULL key or value",
                           path, i);
        lp_st_quoted q = lp_st_quote(k);
        if (!lp_st_utf8_valid(k, strlen(k)) || !lp_st_utf8_valid(v, strlen(v)))
            return lp_fail(err, LP_ERR_INVALID_ARG,
                           "%s: metadata '%s': keys and values must be valid UTF-8", path, q.text);
    }
    size_t most = count > nmeta ? count : nmeta;
    const char **names = malloc((most ? most : 1) * sizeof *names);
    if (!names) return lp_fail(err, LP_ERR_NOMEM, "%s: out of memory", path);
    for (size_t i = 0; i < count; i++) names[i] = entries[i].name;
    const char *dup = find_duplicate(names, count);
    lp_status s = LP_OK;
    if (dup) {
        lp_st_quoted q = lp_st_quote(dup);
        s = lp_fail(err, LP_ERR_INVALID_ARG, "%s: two tensors are named '%s'", path, q.text);
    } else {
        for (size_t i = 0; i < nmeta; i++) names[i] = metadata[i][0];
        dup = find_duplicate(names, nmeta);
        if (dup) {
            lp_st_quoted q = lp_st_quote(dup);
            s = lp_fail(err, LP_ERR_INVALID_ARG, "%s: metadata key '%s' is given twice", path,
                        q.text);
        }
    }
    free(names);
    return s;
}

/* Integers go in as raw JSON text: cJSON would print numbers above 2^53 in
 * exponent form, which readers refuse. */
static bool add_integer(cJSON *array, uint64_t v) {
    char text[24];
    snprintf(text, sizeof text, "%" PRIu64, v);
    cJSON *item = cJSON_CreateRaw(text);
    if (item && cJSON_AddItemToArray(array, item)) return true;
    cJSON_Delete(item);
    return false;
}

/* The header JSON, padded with spaces to a multiple of 8 bytes (so the data
 * section starts 8-aligned), as the reference writer does. NULL when out of
 * memory. */
static char *build_header(const lp_st_entry *entries, size_t count,
                          const char *const (*metadata)[2], size_t nmeta, size_t *len) {
    cJSON *root = cJSON_CreateObject();
    bool ok = root != NULL;
    if (ok && nmeta) {
        cJSON *meta = cJSON_AddObjectToObject(root, "__metadata__");
        ok = meta != NULL;
        for (size_t i = 0; ok && i < nmeta; i++)
            ok = cJSON_AddStringToObject(meta, metadata[i][0], metadata[i][1]) != NULL;
    }
    uint64_t offset = 0;
    for (size_t i = 0; ok && i < count; i++) {
        const lp_tensor *t = entries[i].tensor;
        uint64_t nbytes = lp_tensor_nbytes(t);
        cJSON *info = cJSON_CreateObject();
        ok = info && cJSON_AddItemToObject(root, entries[i].name, info);
        if (!ok) {
            cJSON_Delete(info);
            break;
        }
        ok = cJSON_AddStringToObject(info, "dtype", lp_dtype_safetensors_name(t->dtype)) != NULL;
        cJSON *shape = ok ? cJSON_AddArrayToObject(info, "shape") : NULL;
        ok = shape != NULL;
        for (int d = 0; ok && d < t->ndim; d++) ok = add_integer(shape, (uint64_t)t->shape[d]);
        cJSON *offsets = ok ? cJSON_AddArrayToObject(info, "data_offsets") : NULL;
        ok = offsets && add_integer(offsets, offset) && add_integer(offsets, offset + nbytes);
        offset += nbytes;
    }
    char *json = ok ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    if (!json) return NULL;
    size_t n = strlen(json), padded = (n + 7) / 8 * 8;
    char *out = realloc(json, padded + 1);
    if (!out) {
        free(json);
        return NULL;
    }
    memset(out + n, ' ', padded - n);
    out[padded] = '\0';
    *len = padded;
    return out;
}

lp_status lp_safetensors_write(const char *path, const lp_st_entry *entries, size_t count,
                               const char *const (*metadata)[2], size_t nmeta, lp_error *err) {
    if (!path || !*path)
        return lp_fail(err, LP_ERR_INVALID_ARG, "lp_safetensors_write: a path is required");
    lp_status s = check_inputs(path, entries, count, metadata, nmeta, err);
    if (s != LP_OK) return s;
    size_t header_len = 0;
    char *header = build_header(entries, count, metadata, nmeta, &header_len);
    if (!header) return lp_fail(err, LP_ERR_NOMEM, "%s: out of memory building the header", path);
    if (header_len > LP_ST_MAX_HEADER_BYTES) {
        free(header);
        return lp_fail(err, LP_ERR_INVALID_ARG,
                       "%s: the header would be %zu bytes, above the format's limit of %llu", path,
                       header_len, (unsigned long long)LP_ST_MAX_HEADER_BYTES);
    }
    unsigned char len_le[8];
    for (int i = 0; i < 8; i++) len_le[i] = (unsigned char)((uint64_t)header_len >> (8 * i));

    lp_atomic_file *f = NULL;
    s = lp_fs_atomic_open(path, &f, err);
    if (s == LP_OK) s = lp_fs_atomic_write(f, len_le, sizeof len_le, err);
    if (s == LP_OK) s = lp_fs_atomic_write(f, header, header_len, err);
    for (size_t i = 0; s == LP_OK && i < count; i++)
        s = lp_fs_atomic_write(f, entries[i].tensor->data, lp_tensor_nbytes(entries[i].tensor), err);
    free(header);
    if (s != LP_OK) {
        if (f) lp_fs_atomic_abort(f);
        return s;
    }
    return lp_fs_atomic_commit(f, err);
}
