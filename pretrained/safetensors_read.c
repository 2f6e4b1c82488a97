/* The safetensors reader: map the file, validate the header completely, then
 * hand out views into the mapping. What is enforced is listed in
 * safetensors.h; every check names the file and, where there is one, the tensor. */
#include "pretrained/safetensors.h"
#include "pretrained/safetensors_internal.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

struct lp_safetensors {
    char *label;
    void *map; /* owned mapping (open), NULL for parse */
    size_t map_size;
    const uint8_t *data; /* the data section */
    uint64_t data_size;
    lp_st_tensor *tensors; /* sorted by (begin, end) */
    size_t count;
    const lp_st_tensor **by_name; /* sorted by name */
    char **meta_keys, **meta_values; /* sorted by key */
    size_t nmeta;
    void **copies; /* aligned copies of misaligned tensors, made on demand */
    pthread_mutex_t copies_lock;
};

/* ---- header text checks, before JSON parsing -------------------------------- */

static bool is_json_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

/* Raw control bytes are invalid JSON everywhere but as whitespace; an escaped
 * NUL would silently cut a name short in C, so it is refused too. */
static lp_status check_header_bytes(const char *label, const char *h, size_t n, lp_error *err) {
    size_t bad = lp_st_utf8_error_at(h, n);
    if (bad != n)
        return lp_fail(err, LP_ERR_FORMAT, "%s: the header is not valid UTF-8 (byte %zu of the header)",
                       label, bad);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)h[i];
        if (c < 0x20 && !is_json_space((char)c))
            return lp_fail(err, LP_ERR_FORMAT,
                           "%s: the header holds control byte 0x%02x at byte %zu; it is not JSON",
                           label, c, i);
        if (c == '\\' && i + 1 < n) {
            if (h[i + 1] == 'u' && i + 5 < n && !memcmp(h + i + 2, "0000", 4))
                return lp_fail(err, LP_ERR_FORMAT,
                               "%s: the header escapes a NUL character (\\u0000) at byte %zu; "
                               "names and metadata cannot hold NUL",
                               label, i);
            i++; /* skip the escaped character (it may be a backslash) */
        }
    }
    size_t i = 0;
    while (i < n && is_json_space(h[i])) i++;
    if (i == n || h[i] != '{')
        return lp_fail(err, LP_ERR_FORMAT, "%s: the header is not a JSON object (it must start with '{')",
                       label);
    return LP_OK;
}

/* cJSON keeps numbers as doubles, which cannot say whether the text was "3",
 * "3.0" or "3e0", nor hold every 64-bit integer. So the header is scanned once
 * more: number tokens appear in the text in the same order as number nodes in
 * a pre-order walk of the tree, and each node's `valueint` (unused here) is
 * overwritten with the offset of its text, which exact_integer() then reads. */
typedef struct number_scan {
    const char *text;
    size_t size, pos;
} number_scan;

static bool next_number_token(number_scan *s, size_t *start) {
    bool in_string = false;
    for (; s->pos < s->size; s->pos++) {
        char c = s->text[s->pos];
        if (in_string) {
            if (c == '\\') s->pos++;
            else if (c == '"') in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            *start = s->pos;
            while (s->pos < s->size && strchr("0123456789+-.eE", s->text[s->pos]) && s->text[s->pos])
                s->pos++;
            return true;
        }
    }
    return false;
}

static bool tag_numbers(cJSON *node, number_scan *s) {
    for (; node; node = node->next) {
        if (cJSON_IsNumber(node)) {
            size_t start;
            if (!next_number_token(s, &start)) return false;
            node->valueint = (int)start; /* header <= 100 MB < INT_MAX */
        }
        if (node->child && !tag_numbers(node->child, s)) return false;
    }
    return true;
}

/* A JSON integer as the reference reads one (0 or [1-9][0-9]*, no sign,
 * fraction or exponent) that fits in 64 bits. */
static bool exact_integer(const number_scan *s, const cJSON *node, uint64_t *out) {
    if (!cJSON_IsNumber(node)) return false;
    size_t i = (size_t)node->valueint;
    const char *t = s->text;
    if (i >= s->size || t[i] < '0' || t[i] > '9') return false;
    if (t[i] == '0' && i + 1 < s->size && t[i + 1] >= '0' && t[i + 1] <= '9') return false;
    uint64_t v = 0;
    for (; i < s->size && t[i] >= '0' && t[i] <= '9'; i++) {
        uint64_t d = (uint64_t)(t[i] - '0');
        if (v > (UINT64_MAX - d) / 10) return false;
        v = v * 10 + d;
    }
    if (i < s->size && strchr("+-.eE", t[i]) && t[i]) return false;
    *out = v;
    return true;
}

/* ---- one tensor entry ------------------------------------------------------- */

/* Dtypes newer versions of the format define that lepton does not hold. */
static bool is_known_unsupported_dtype(const char *name) {
    static const char *const names[] = {"F4", "F6_E2M3", "F6_E3M2", "F8_E8M0", "C64"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(name, names[i])) return true;
    return false;
}

static lp_status parse_entry(const char *label, const cJSON *entry, const number_scan *scan,
                             uint64_t data_size, lp_st_tensor *t, lp_error *err) {
    lp_st_quoted q = lp_st_quote(t->name);
    if (!cJSON_IsObject(entry))
        return lp_fail(err, LP_ERR_FORMAT, "%s: tensor '%s': the entry is not a JSON object", label,
                       q.text);

    const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(entry, "dtype");
    if (!dtype)
        return lp_fail(err, LP_ERR_FORMAT, "%s: tensor '%s': no \"dtype\"", label, q.text);
    if (!cJSON_IsString(dtype))
        return lp_fail(err, LP_ERR_FORMAT, "%s: tensor '%s': \"dtype\" is not a string", label,
                       q.text);
    if (!lp_dtype_from_safetensors(dtype->valuestring, &t->dtype)) {
        lp_st_quoted d = lp_st_quote(dtype->valuestring);
        if (is_known_unsupported_dtype(dtype->valuestring))
            return lp_fail(err, LP_ERR_DTYPE,
                           "%s: tensor '%s': dtype %s is defined by the format but not supported "
                           "by lepton",
                           label, q.text, d.text);
        return lp_fail(err, LP_ERR_FORMAT, "%s: tensor '%s': unknown dtype '%s'", label, q.text,
                       d.text);
    }

    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(entry, "shape");
    if (!shape)
        return lp_fail(err, LP_ERR_FORMAT, "%s: tensor '%s': no \"shape\"", label, q.text);
    if (!cJSON_IsArray(shape))
        return lp_fail(err, LP_ERR_FORMAT, "%s: tensor '%s': \"shape\" is not an array", label,
                       q.text);
    int ndim = cJSON_GetArraySize(shape);
    if (ndim > LP_ST_MAX_DIMS)
        return lp_fail(err, LP_ERR_FORMAT, "%s: tensor '%s': rank %d is above the limit of %d",
                       label, q.text, ndim, LP_ST_MAX_DIMS);
    t->ndim = ndim;
    uint64_t numel = 1;
    bool overflow = false;
    int d = 0;
    for (const cJSON *dim = shape->child; dim; dim = dim->next, d++) {
        uint64_t v;
        if (!exact_integer(scan, dim, &v))
            return lp_fail(err, LP_ERR_FORMAT,
                           "%s: tensor '%s': shape[%d] is not a non-negative JSON integer", label,
                           q.text, d);
        if (v > (uint64_t)INT64_MAX)
            return lp_fail(err, LP_ERR_FORMAT, "%s: tensor '%s': shape[%d] = %llu is too large",
                           label, q.text, d, (unsigned long long)v);
        t->shape[d] = (int64_t)v;
        /* Checked in order, as the reference does: an overflow before a zero
         * dimension is still an overflow. */
        if (!overflow && __builtin_mul_overflow(numel, v, &numel)) overflow = true;
    }
    uint64_t nbytes = 0;
    if (overflow || __builtin_mul_overflow(numel, (uint64_t)lp_dtype_size(t->dtype), &nbytes))
        return lp_fail(err, LP_ERR_FORMAT,
                       "%s: tensor '%s': the shape's size overflows 64 bits", label, q.text);

    const cJSON *offsets = cJSON_GetObjectItemCaseSensitive(entry, "data_offsets");
    if (!offsets)
        return lp_fail(err, LP_ERR_FORMAT, "%s: tensor '%s': no \"data_offsets\"", label, q.text);
    if (!cJSON_IsArray(offsets) || cJSON_GetArraySize(offsets) != 2 ||
        !exact_integer(scan, offsets->child, &t->begin) ||
        !exact_integer(scan, offsets->child->next, &t->end))
        return lp_fail(err, LP_ERR_FORMAT,
                       "%s: tensor '%s': \"data_offsets\" is not an array of two non-negative "
                       "JSON integers",
                       label, q.text);
    if (t->begin > t->end)
        return lp_fail(err, LP_ERR_FORMAT,
                       "%s: tensor '%s': data_offsets [%llu, %llu] begin after they end", label,
                       q.text, (unsigned long long)t->begin, (unsigned long long)t->end);
    if (t->end > data_size)
        return lp_fail(err, LP_ERR_FORMAT,
                       "%s: tensor '%s': data_offsets [%llu, %llu] run past the data section "
                       "(%llu bytes); the file is truncated or the offsets are wrong",
                       label, q.text, (unsigned long long)t->begin, (unsigned long long)t->end,
                       (unsigned long long)data_size);
    if (t->end - t->begin != nbytes)
        return lp_fail(err, LP_ERR_FORMAT,
                       "%s: tensor '%s': data_offsets [%llu, %llu] hold %llu bytes but %s shape "
                       "of %llu elements needs %llu",
                       label, q.text, (unsigned long long)t->begin, (unsigned long long)t->end,
                       (unsigned long long)(t->end - t->begin), lp_dtype_safetensors_name(t->dtype),
                       (unsigned long long)numel, (unsigned long long)nbytes);
    return LP_OK;
}

/* ---- the whole header ------------------------------------------------------- */

static int by_offsets(const void *a, const void *b) {
    const lp_st_tensor *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return strcmp(x->name, y->name); /* only zero-size tensors tie */
}

static int by_name(const void *a, const void *b) {
    return strcmp((*(const lp_st_tensor *const *)a)->name, (*(const lp_st_tensor *const *)b)->name);
}

/* The tensors, sorted by offsets, must tile the data section exactly. */
static lp_status check_coverage(const lp_safetensors *st, lp_error *err) {
    uint64_t at = 0;
    for (size_t i = 0; i < st->count; i++) {
        const lp_st_tensor *t = &st->tensors[i];
        lp_st_quoted q = lp_st_quote(t->name);
        if (t->begin < at) {
            lp_st_quoted prev = lp_st_quote(st->tensors[i - 1].name);
            return lp_fail(err, LP_ERR_FORMAT,
                           "%s: tensor '%s': data_offsets [%llu, %llu] overlap tensor '%s' "
                           "(which ends at %llu)",
                           st->label, q.text, (unsigned long long)t->begin,
                           (unsigned long long)t->end, prev.text, (unsigned long long)at);
        }
        if (t->begin > at)
            return lp_fail(err, LP_ERR_FORMAT,
                           "%s: tensor '%s': data_offsets [%llu, %llu] leave bytes [%llu, %llu) of "
                           "the data section to no tensor (safetensors data must be contiguous)",
                           st->label, q.text, (unsigned long long)t->begin,
                           (unsigned long long)t->end, (unsigned long long)at,
                           (unsigned long long)t->begin);
        at = t->end;
    }
    if (at != st->data_size)
        return lp_fail(err, LP_ERR_FORMAT,
                       "%s: the tensors end at byte %llu of the data section but it holds %llu "
                       "bytes (trailing bytes belong to no tensor)",
                       st->label, (unsigned long long)at, (unsigned long long)st->data_size);
    return LP_OK;
}

static int by_key(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static lp_status parse_metadata(lp_safetensors *st, const cJSON *meta, lp_error *err) {
    if (cJSON_IsNull(meta)) return LP_OK; /* the reference reads null as "none" */
    if (!cJSON_IsObject(meta))
        return lp_fail(err, LP_ERR_FORMAT, "%s: \"__metadata__\" is not a JSON object", st->label);
    size_t n = (size_t)cJSON_GetArraySize(meta);
    if (n == 0) return LP_OK;
    /* Keys and values in one array so that one sort orders both. */
    char **pairs = calloc(2 * n, sizeof *pairs);
    st->meta_keys = calloc(n, sizeof *st->meta_keys);
    st->meta_values = calloc(n, sizeof *st->meta_values);
    if (!pairs || !st->meta_keys || !st->meta_values) {
        free(pairs);
        return lp_fail(err, LP_ERR_NOMEM, "%s: out of memory reading __metadata__", st->label);
    }
    size_t i = 0;
    for (const cJSON *item = meta->child; item; item = item->next, i++) {
        lp_st_quoted q = lp_st_quote(item->string);
        if (!cJSON_IsString(item)) {
            for (size_t k = 0; k < 2 * i; k++) free(pairs[k]);
            free(pairs);
            return lp_fail(err, LP_ERR_FORMAT,
                           "%s: __metadata__ key '%s': the value is not a string", st->label,
                           q.text);
        }
        pairs[2 * i] = strdup(item->string);
        pairs[2 * i + 1] = strdup(item->valuestring);
        if (!pairs[2 * i] || !pairs[2 * i + 1]) {
            for (size_t k = 0; k < 2 * i + 2; k++) free(pairs[k]);
            free(pairs);
            return lp_fail(err, LP_ERR_NOMEM, "%s: out of memory reading __metadata__", st->label);
        }
    }
    qsort(pairs, n, 2 * sizeof *pairs, by_key);
    for (i = 0; i < n; i++) {
        st->meta_keys[i] = pairs[2 * i];
        st->meta_values[i] = pairs[2 * i + 1];
    }
    st->nmeta = n;
    free(pairs);
    for (i = 1; i < n; i++)
        if (!strcmp(st->meta_keys[i - 1], st->meta_keys[i])) {
            lp_st_quoted q = lp_st_quote(st->meta_keys[i]);
            return lp_fail(err, LP_ERR_FORMAT, "%s: __metadata__ key '%s' appears twice",
                           st->label, q.text);
        }
    return LP_OK;
}

static lp_status parse_tree(lp_safetensors *st, cJSON *root, const number_scan *scan,
                            lp_error *err) {
    const cJSON *meta = NULL;
    size_t n = 0;
    for (const cJSON *item = root->child; item; item = item->next) {
        if (!strcmp(item->string, "__metadata__")) {
            if (meta)
                return lp_fail(err, LP_ERR_FORMAT, "%s: \"__metadata__\" appears twice",
                               st->label);
            meta = item;
        } else {
            n++;
        }
    }
    st->tensors = calloc(n ? n : 1, sizeof *st->tensors);
    st->by_name = calloc(n ? n : 1, sizeof *st->by_name);
    st->copies = calloc(n ? n : 1, sizeof *st->copies);
    if (!st->tensors || !st->by_name || !st->copies)
        return lp_fail(err, LP_ERR_NOMEM, "%s: out of memory for %zu tensors", st->label, n);

    for (const cJSON *item = root->child; item; item = item->next) {
        if (item == meta) continue;
        lp_st_tensor *t = &st->tensors[st->count];
        size_t len = strlen(item->string);
        if (!lp_st_utf8_valid(item->string, len)) /* cJSON decodes escapes; recheck */
            return lp_fail(err, LP_ERR_FORMAT, "%s: a tensor name is not valid UTF-8", st->label);
        char *name = strdup(item->string);
        if (!name) return lp_fail(err, LP_ERR_NOMEM, "%s: out of memory", st->label);
        t->name = name;
        st->count++;
        lp_status s = parse_entry(st->label, item, scan, st->data_size, t, err);
        if (s != LP_OK) return s;
        t->data = st->data + t->begin;
    }
    if (meta) {
        lp_status s = parse_metadata(st, meta, err);
        if (s != LP_OK) return s;
    }

    qsort(st->tensors, st->count, sizeof *st->tensors, by_offsets);
    for (size_t i = 0; i < st->count; i++) st->by_name[i] = &st->tensors[i];
    qsort(st->by_name, st->count, sizeof *st->by_name, by_name);
    for (size_t i = 1; i < st->count; i++) {
        const char *a = st->by_name[i - 1]->name, *b = st->by_name[i]->name;
        if (!strcmp(a, b)) {
            lp_st_quoted q = lp_st_quote(b);
            return lp_fail(err, LP_ERR_FORMAT, "%s: tensor name '%s' appears twice in the header",
                           st->label, q.text);
        }
    }
    return check_coverage(st, err);
}

static lp_status parse_json(lp_safetensors *st, const char *header, size_t n, lp_error *err) {
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(header, n, &end, 0);
    if (!root) {
        size_t at = end && end >= header && end <= header + n ? (size_t)(end - header) : 0;
        return lp_fail(err, LP_ERR_FORMAT, "%s: the header is not valid JSON (near byte %zu of %zu)",
                       st->label, at, n);
    }
    size_t at = (size_t)(end - header);
    while (at < n && is_json_space(header[at])) at++;
    if (at != n) {
        cJSON_Delete(root);
        return lp_fail(err, LP_ERR_FORMAT,
                       "%s: the header has bytes after its JSON object (at byte %zu of %zu)",
                       st->label, at, n);
    }
    number_scan scan = {header, n, 0};
    lp_status s;
    if (!cJSON_IsObject(root))
        s = lp_fail(err, LP_ERR_FORMAT, "%s: the header is not a JSON object", st->label);
    else if (!tag_numbers(root->child, &scan))
        s = lp_fail(err, LP_ERR_INTERNAL, "%s: JSON numbers and header text disagree", st->label);
    else
        s = parse_tree(st, root, &scan, err);
    cJSON_Delete(root);
    return s;
}

static lp_status parse_header(lp_safetensors *st, const uint8_t *bytes, size_t size,
                              lp_error *err) {
    if (size < 8)
        return lp_fail(err, LP_ERR_FORMAT,
                       "%s: the file is %zu bytes, too short for a safetensors file (an 8-byte "
                       "header length comes first)",
                       st->label, size);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = n << 8 | bytes[i];
    if (n > LP_ST_MAX_HEADER_BYTES)
        return lp_fail(err, LP_ERR_FORMAT,
                       "%s: header length %llu is above the limit of %llu bytes (is this a "
                       "safetensors file?)",
                       st->label, (unsigned long long)n, (unsigned long long)LP_ST_MAX_HEADER_BYTES);
    if (n > size - 8)
        return lp_fail(err, LP_ERR_FORMAT,
                       "%s: header length %llu runs past the end of the file (%zu bytes); the "
                       "file is truncated or not safetensors",
                       st->label, (unsigned long long)n, size);
    const char *header = (const char *)bytes + 8;
    st->data = bytes + 8 + n;
    st->data_size = size - 8 - n;

    lp_status s = check_header_bytes(st->label, header, (size_t)n, err);
    if (s != LP_OK) return s;
    /* cJSON reads a NUL-terminated copy: the mapped header is not terminated,
     * and may end exactly at the end of the mapping. */
    char *text = malloc((size_t)n + 1);
    if (!text) return lp_fail(err, LP_ERR_NOMEM, "%s: out of memory for the header", st->label);
    memcpy(text, header, (size_t)n);
    text[n] = '\0';
    s = parse_json(st, text, (size_t)n, err);
    free(text);
    return s;
}

/* ---- public API ------------------------------------------------------------- */

static lp_safetensors *new_reader(const char *label) {
    lp_safetensors *st = calloc(1, sizeof *st);
    if (!st) return NULL;
    st->label = strdup(label ? label : "<memory>");
    if (!st->label) {
        free(st);
        return NULL;
    }
    pthread_mutex_init(&st->copies_lock, NULL);
    return st;
}

lp_status lp_safetensors_parse(const void *bytes, size_t size, const char *label,
                               lp_safetensors **out, lp_error *err) {
    if (!out)
        return lp_fail(err, LP_ERR_INVALID_ARG, "lp_safetensors_parse: out must not be NULL");
    *out = NULL;
    if (!bytes && size)
        return lp_fail(err, LP_ERR_INVALID_ARG, "lp_safetensors_parse: bytes is NULL");
    lp_safetensors *st = new_reader(label);
    if (!st) return lp_fail(err, LP_ERR_NOMEM, "%s: out of memory", label ? label : "<memory>");
    static const uint8_t none[1];
    lp_status s = parse_header(st, bytes ? bytes : none, size, err);
    if (s != LP_OK) {
        lp_safetensors_close(st);
        return s;
    }
    *out = st;
    return LP_OK;
}

lp_status lp_safetensors_open(const char *path, lp_safetensors **out, lp_error *err) {
    if (!out || !path)
        return lp_fail(err, LP_ERR_INVALID_ARG, "lp_safetensors_open: path and out are required");
    *out = NULL;
    char why[128];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return lp_fail(err, LP_ERR_IO, "%s: cannot open: %s", path,
                       strerror_r(errno, why, sizeof why));
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int e = errno;
        close(fd);
        return lp_fail(err, LP_ERR_IO, "%s: cannot stat: %s", path, strerror_r(e, why, sizeof why));
    }
    if (S_ISDIR(sb.st_mode)) {
        close(fd);
        return lp_fail(err, LP_ERR_IO, "%s: is a directory, not a safetensors file", path);
    }
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        return lp_fail(err, LP_ERR_IO, "%s: is not a regular file", path);
    }
    size_t size = (size_t)sb.st_size;
    if (size < 8) {
        close(fd);
        return lp_fail(err, LP_ERR_FORMAT,
                       "%s: the file is %zu bytes, too short for a safetensors file (an 8-byte "
                       "header length comes first)",
                       path, size);
    }
    void *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    close(fd);
    if (map == MAP_FAILED)
        return lp_fail(err, LP_ERR_IO, "%s: cannot map %zu bytes: %s", path, size,
                       strerror_r(e, why, sizeof why));
    lp_safetensors *st = new_reader(path);
    if (!st) {
        munmap(map, size);
        return lp_fail(err, LP_ERR_NOMEM, "%s: out of memory", path);
    }
    st->map = map;
    st->map_size = size;
    lp_status s = parse_header(st, map, size, err);
    if (s != LP_OK) {
        lp_safetensors_close(st);
        return s;
    }
    *out = st;
    return LP_OK;
}

void lp_safetensors_close(lp_safetensors *st) {
    if (!st) return;
    for (size_t i = 0; i < st->count; i++) {
        free((char *)st->tensors[i].name);
        if (st->copies) free(st->copies[i]);
    }
    for (size_t i = 0; i < st->nmeta; i++) {
        free(st->meta_keys[i]);
        free(st->meta_values[i]);
    }
    free(st->meta_keys);
    free(st->meta_values);
    free(st->tensors);
    free(st->by_name);
    free(st->copies);
    if (st->map) munmap(st->map, st->map_size);
    pthread_mutex_destroy(&st->copies_lock);
    free(st->label);
    free(st);
}

const char *lp_safetensors_label(const lp_safetensors *st) { return st->label; }

size_t lp_safetensors_count(const lp_safetensors *st) { return st->count; }

const lp_st_tensor *lp_safetensors_at(const lp_safetensors *st, size_t index) {
    return index < st->count ? &st->tensors[index] : NULL;
}

const lp_st_tensor *lp_safetensors_find(const lp_safetensors *st, const char *name) {
    size_t lo = 0, hi = st->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const lp_st_tensor *t = st->by_name[mid];
        int c = strcmp(name, t->name);
        if (c == 0) return t;
        if (c < 0) hi = mid;
        else lo = mid + 1;
    }
    return NULL;
}

uint64_t lp_st_tensor_numel(const lp_st_tensor *t) {
    uint64_t n = 1;
    for (int i = 0; i < t->ndim; i++) n *= (uint64_t)t->shape[i]; /* validated at open */
    return n;
}

lp_status lp_safetensors_get(lp_safetensors *st, const char *name, lp_tensor *out, lp_error *err) {
    const lp_st_tensor *t = lp_safetensors_find(st, name);
    if (!t) {
        lp_st_quoted q = lp_st_quote(name);
        return lp_fail(err, LP_ERR_INVALID_ARG, "%s: no tensor named '%s' (the file holds %zu)",
                       st->label, q.text, st->count);
    }
    if (t->ndim > LP_MAX_DIMS) {
        lp_st_quoted q = lp_st_quote(name);
        return lp_fail(err, LP_ERR_SHAPE,
                       "%s: tensor '%s' has %d dimensions; lepton tensors hold at most %d",
                       st->label, q.text, t->ndim, LP_MAX_DIMS);
    }
    const void *data = t->data;
    size_t align = lp_dtype_size(t->dtype);
    size_t nbytes = (size_t)(t->end - t->begin);
    if (nbytes && (uintptr_t)data % align) {
        /* Only hand-made files misalign data; copy once and keep the copy. */
        size_t index = (size_t)(t - st->tensors);
        pthread_mutex_lock(&st->copies_lock);
        if (!st->copies[index]) {
            void *copy = aligned_alloc(64, (nbytes + 63) / 64 * 64);
            if (copy) memcpy(copy, data, nbytes);
            st->copies[index] = copy;
        }
        data = st->copies[index];
        pthread_mutex_unlock(&st->copies_lock);
        if (!data) {
            lp_st_quoted q = lp_st_quote(name);
            return lp_fail(err, LP_ERR_NOMEM,
                           "%s: out of memory copying misaligned tensor '%s' (%zu bytes)",
                           st->label, q.text, nbytes);
        }
    }
    *out = lp_tensor_make((void *)data, t->dtype, t->ndim, t->shape);
    return LP_OK;
}

const char *lp_safetensors_metadata(const lp_safetensors *st, const char *key) {
    size_t lo = 0, hi = st->nmeta;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(key, st->meta_keys[mid]);
        if (c == 0) return st->meta_values[mid];
        if (c < 0) hi = mid;
        else lo = mid + 1;
    }
    return NULL;
}

size_t lp_safetensors_metadata_count(const lp_safetensors *st) { return st->nmeta; }

void lp_safetensors_metadata_at(const lp_safetensors *st, size_t index, const char **key,
                                const char **value) {
    if (index >= st->nmeta) {
        if (key) *key = NULL;
        if (value) *value = NULL;
        return;
    }
    if (key) *key = st->meta_keys[index];
    if (value) *value = st->meta_values[index];
}
