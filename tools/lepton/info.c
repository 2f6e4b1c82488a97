/* `lepton info PATH [--json]`: what a checkpoint holds. PATH is a
 * .safetensors file, a sharded checkpoint's model.safetensors.index.json, or a
 * model directory (config.json + model.safetensors or the index and shards).
 * Every file is fully validated by the reader; any problem is one line on
 * stderr naming the path, and exit code 1. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "pretrained/config.h"
#include "pretrained/fs.h"
#include "pretrained/safetensors.h"
#include "tools/lepton/commands.h"

#define INDEX_NAME "model.safetensors.index.json"
#define WEIGHTS_NAME "model.safetensors"
#define INDEX_MAX_BYTES ((size_t)64 << 20)
#define USAGE_HINT "usage: lepton info PATH [--json]  ('lepton info --help' says more)\n"

static void usage(FILE *out) {
    fprintf(out,
            "usage: lepton info PATH [--json]\n"
            "\n"
            "Shows what a checkpoint holds: every tensor (name, dtype, shape, bytes), the\n"
            "totals (tensors, parameters, bytes, dtypes), the file's metadata and, for a\n"
            "model directory, the architecture and sizes from its config.json.\n"
            "\n"
            "PATH is one of\n"
            "  a .safetensors file\n"
            "  a model directory: config.json with " WEIGHTS_NAME " (or a sharded\n"
            "    " INDEX_NAME " and its shards)\n"
            "  a " INDEX_NAME " file\n"
            "\n"
            "options:\n"
            "  --json      print one JSON object instead of text\n"
            "  -h, --help  show this help\n"
            "\n"
            "Every file is validated; a malformed one is reported with its path and the\n"
            "problem. Exit codes: 0 ok, 1 unreadable or malformed input, 2 bad usage.\n");
}

/* ---- the checkpoint, gathered ----------------------------------------------- */

typedef struct shard {
    char *path;
    char *name; /* as the index names it, or the file name */
    lp_safetensors *st;
    unsigned long long size;
} shard;

typedef struct tensor_ref {
    const lp_st_tensor *t;
    const shard *file;
} tensor_ref;

typedef struct checkpoint {
    char *path; /* as given */
    shard *shards;
    size_t nshards;
    char *index_path;
    cJSON *index; /* the parsed index, when sharded */
    lp_hf_config *config;
    tensor_ref *tensors; /* all files, sorted by name */
    size_t ntensors;
} checkpoint;

static void checkpoint_free(checkpoint *c) {
    for (size_t i = 0; i < c->nshards; i++) {
        lp_safetensors_close(c->shards[i].st);
        free(c->shards[i].path);
        free(c->shards[i].name);
    }
    free(c->shards);
    free(c->index_path);
    cJSON_Delete(c->index);
    lp_hf_config_free(c->config);
    free(c->tensors);
}

static char *join(const char *dir, const char *name) {
    size_t a = strlen(dir), b = strlen(name);
    char *p = malloc(a + b + 2);
    if (!p) return NULL;
    memcpy(p, dir, a);
    size_t at = a;
    if (a && dir[a - 1] != '/') p[at++] = '/';
    memcpy(p + at, name, b + 1);
    return p;
}

static char *dir_of(const char *path) {
    const char *slash = strrchr(path, '/');
    if (!slash) return strdup(".");
    if (slash == path) return strdup("/");
    return strndup(path, (size_t)(slash - path));
}

static bool is_file(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

static bool ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

static lp_status add_shard(checkpoint *c, const char *path, const char *name, lp_error *err) {
    shard *grown = realloc(c->shards, (c->nshards + 1) * sizeof *grown);
    if (!grown) return lp_fail(err, LP_ERR_NOMEM, "%s: out of memory", path);
    c->shards = grown;
    shard *s = &c->shards[c->nshards];
    memset(s, 0, sizeof *s);
    s->path = strdup(path);
    s->name = strdup(name);
    if (!s->path || !s->name) {
        free(s->path);
        free(s->name);
        return lp_fail(err, LP_ERR_NOMEM, "%s: out of memory", path);
    }
    c->nshards++;
    struct stat sb;
    if (stat(path, &sb) == 0) s->size = (unsigned long long)sb.st_size;
    return lp_safetensors_open(path, &s->st, err);
}

/* A shard name from an index must be a plain file name in the index's
 * directory: no path separators, nothing that climbs out. */
static bool is_plain_file_name(const char *name) {
    return *name && !strchr(name, '/') && strcmp(name, ".") && strcmp(name, "..");
}

static int by_string(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Opens every shard the index names (each once, in name order) and checks the
 * index and the shards agree tensor for tensor. */
static lp_status load_index(checkpoint *c, const char *index_path, lp_error *err) {
    c->index_path = strdup(index_path);
    if (!c->index_path) return lp_fail(err, LP_ERR_NOMEM, "out of memory");
    char *text;
    size_t size;
    lp_status s = lp_fs_read_file(index_path, INDEX_MAX_BYTES, &text, &size, err);
    if (s != LP_OK) return s;
    const char *end = NULL;
    bool utf8 = lp_st_utf8_valid(text, size);
    c->index = utf8 ? cJSON_ParseWithLengthOpts(text, size, &end, 0) : NULL;
    free(text);
    if (!utf8) return lp_fail(err, LP_ERR_FORMAT, "%s: not valid UTF-8", index_path);
    if (!c->index || !cJSON_IsObject(c->index))
        return lp_fail(err, LP_ERR_FORMAT, "%s: not a JSON object", index_path);
    const cJSON *map = cJSON_GetObjectItemCaseSensitive(c->index, "weight_map");
    if (!cJSON_IsObject(map))
        return lp_fail(err, LP_ERR_FORMAT, "%s: no \"weight_map\" object (is this a sharded "
                                           "checkpoint index?)",
                       index_path);
    size_t n = (size_t)cJSON_GetArraySize(map);
    const char **names = malloc((n ? n : 1) * sizeof *names);
    if (!names) return lp_fail(err, LP_ERR_NOMEM, "%s: out of memory", index_path);
    size_t k = 0;
    for (const cJSON *e = map->child; e; e = e->next) {
        if (!cJSON_IsString(e) || !is_plain_file_name(e->valuestring)) {
            free(names);
            return lp_fail(err, LP_ERR_FORMAT,
                           "%s: weight_map[\"%.80s\"] is not the file name of a shard in the "
                           "index's directory",
                           index_path, e->string);
        }
        names[k++] = e->valuestring;
    }
    qsort(names, n, sizeof *names, by_string);
    char *dir = dir_of(index_path);
    s = dir ? LP_OK : lp_fail(err, LP_ERR_NOMEM, "out of memory");
    for (size_t i = 0; s == LP_OK && i < n; i++) {
        if (i && !strcmp(names[i], names[i - 1])) continue;
        char *path = join(dir, names[i]);
        s = path ? add_shard(c, path, names[i], err) : lp_fail(err, LP_ERR_NOMEM, "out of memory");
        free(path);
    }
    free(dir);
    free(names);
    if (s != LP_OK) return s;

    /* every listed tensor is in its shard, once */
    for (const cJSON *e = map->child; e; e = e->next) {
        const shard *owner = NULL;
        for (size_t i = 0; i < c->nshards && !owner; i++)
            if (!strcmp(c->shards[i].name, e->valuestring)) owner = &c->shards[i];
        if (!lp_safetensors_find(owner->st, e->string))
            return lp_fail(err, LP_ERR_FORMAT,
                           "%s: the index puts tensor \"%.80s\" in %s, which does not hold it",
                           index_path, e->string, owner->path);
    }
    /* and every shard tensor is listed, for that shard */
    for (size_t i = 0; i < c->nshards; i++) {
        const shard *sh = &c->shards[i];
        for (size_t j = 0; j < lp_safetensors_count(sh->st); j++) {
            const char *name = lp_safetensors_at(sh->st, j)->name;
            const cJSON *e = cJSON_GetObjectItemCaseSensitive(map, name);
            if (!e)
                return lp_fail(err, LP_ERR_FORMAT,
                               "%s: holds tensor \"%.80s\", which the index %s does not list",
                               sh->path, name, index_path);
            if (strcmp(e->valuestring, sh->name))
                return lp_fail(err, LP_ERR_FORMAT,
                               "%s: holds tensor \"%.80s\", which the index %s puts in %s",
                               sh->path, name, index_path, e->valuestring);
        }
    }
    return LP_OK;
}

static lp_status load_directory(checkpoint *c, const char *dir, lp_error *err) {
    char *config = join(dir, "config.json");
    char *weights = join(dir, WEIGHTS_NAME);
    char *index = join(dir, INDEX_NAME);
    char *bin = join(dir, "pytorch_model.bin");
    lp_status s = LP_OK;
    if (!config || !weights || !index || !bin) s = lp_fail(err, LP_ERR_NOMEM, "out of memory");
    if (s == LP_OK && is_file(config)) s = lp_hf_config_load(config, &c->config, err);
    if (s == LP_OK) {
        if (is_file(weights)) s = add_shard(c, weights, WEIGHTS_NAME, err);
        else if (is_file(index)) s = load_index(c, index, err);
        else
            s = lp_fail(err, LP_ERR_IO,
                        "%s: no " WEIGHTS_NAME " or " INDEX_NAME " in this directory%s", dir,
                        is_file(bin) ? " (pytorch_model.bin is not read: convert it to "
                                       "safetensors)"
                                     : "");
    }
    free(config);
    free(weights);
    free(index);
    free(bin);
    return s;
}

/* Natural order: digit runs compare as numbers, so layer.2 < layer.10. */
static int natural_compare(const char *a, const char *b) {
    while (*a && *b) {
        if (*a >= '0' && *a <= '9' && *b >= '0' && *b <= '9') {
            while (*a == '0') a++;
            while (*b == '0') b++;
            size_t la = 0, lb = 0;
            while (a[la] >= '0' && a[la] <= '9') la++;
            while (b[lb] >= '0' && b[lb] <= '9') lb++;
            if (la != lb) return la < lb ? -1 : 1;
            int c = strncmp(a, b, la);
            if (c) return c;
            a += la;
            b += lb;
        } else {
            if (*a != *b) return (unsigned char)*a < (unsigned char)*b ? -1 : 1;
            a++;
            b++;
        }
    }
    return *a ? 1 : *b ? -1 : 0;
}

static int by_tensor_name(const void *x, const void *y) {
    const tensor_ref *a = x, *b = y;
    int c = natural_compare(a->t->name, b->t->name);
    return c ? c : strcmp(a->t->name, b->t->name);
}

static lp_status gather(checkpoint *c, lp_error *err) {
    size_t n = 0;
    for (size_t i = 0; i < c->nshards; i++) n += lp_safetensors_count(c->shards[i].st);
    c->tensors = calloc(n ? n : 1, sizeof *c->tensors);
    if (!c->tensors) return lp_fail(err, LP_ERR_NOMEM, "out of memory for %zu tensors", n);
    for (size_t i = 0; i < c->nshards; i++)
        for (size_t j = 0; j < lp_safetensors_count(c->shards[i].st); j++)
            c->tensors[c->ntensors++] = (tensor_ref){lp_safetensors_at(c->shards[i].st, j),
                                                     &c->shards[i]};
    qsort(c->tensors, c->ntensors, sizeof *c->tensors, by_tensor_name);
    return LP_OK;
}

static lp_status load(checkpoint *c, const char *path, lp_error *err) {
    struct stat sb;
    if (stat(path, &sb) != 0) {
        char why[128];
        return lp_fail(err, LP_ERR_IO, "%s: %s", path, strerror_r(errno, why, sizeof why));
    }
    lp_status s;
    if (S_ISDIR(sb.st_mode)) {
        s = load_directory(c, path, err);
    } else if (ends_with(path, ".index.json")) {
        char *dir = dir_of(path), *config = dir ? join(dir, "config.json") : NULL;
        s = config ? LP_OK : lp_fail(err, LP_ERR_NOMEM, "out of memory");
        if (s == LP_OK && is_file(config)) s = lp_hf_config_load(config, &c->config, err);
        if (s == LP_OK) s = load_index(c, path, err);
        free(dir);
        free(config);
    } else {
        const char *slash = strrchr(path, '/');
        s = add_shard(c, path, slash ? slash + 1 : path, err);
    }
    return s == LP_OK ? gather(c, err) : s;
}

/* ---- totals ----------------------------------------------------------------- */

typedef struct totals {
    unsigned long long params, bytes;
    unsigned long long dtype_tensors[LP_DTYPE_COUNT], dtype_params[LP_DTYPE_COUNT],
        dtype_bytes[LP_DTYPE_COUNT];
} totals;

static totals count(const checkpoint *c) {
    totals t;
    memset(&t, 0, sizeof t);
    for (size_t i = 0; i < c->ntensors; i++) {
        const lp_st_tensor *x = c->tensors[i].t;
        unsigned long long n = lp_st_tensor_numel(x), b = x->end - x->begin;
        t.params += n;
        t.bytes += b;
        t.dtype_tensors[x->dtype]++;
        t.dtype_params[x->dtype] += n;
        t.dtype_bytes[x->dtype] += b;
    }
    return t;
}

/* 22713728 -> "22.7M" */
static const char *human_count(unsigned long long n, char *buf, size_t size) {
    static const char units[] = "KMBT";
    if (n < 1000) {
        snprintf(buf, size, "%llu", n);
        return buf;
    }
    double v = (double)n;
    int u = -1;
    while (v >= 999.95 && u < 3) {
        v /= 1000;
        u++;
    }
    snprintf(buf, size, "%.1f%c", v, units[u]);
    return buf;
}

/* 90868224 -> "86.7 MiB" */
static const char *human_bytes(unsigned long long n, char *buf, size_t size) {
    static const char *units[] = {"KiB", "MiB", "GiB", "TiB"};
    if (n < 1024) {
        snprintf(buf, size, "%llu B", n);
        return buf;
    }
    double v = (double)n;
    int u = -1;
    while (v >= 1023.95 && u < 3) {
        v /= 1024;
        u++;
    }
    snprintf(buf, size, "%.1f %s", v, units[u]);
    return buf;
}

/* 22713728 -> "22,713,728" */
static const char *grouped(unsigned long long n, char *buf, size_t size) {
    char digits[32];
    int len = snprintf(digits, sizeof digits, "%llu", n);
    size_t out = 0;
    for (int i = 0; i < len && out + 2 < size; i++) {
        if (i && (len - i) % 3 == 0) buf[out++] = ',';
        buf[out++] = digits[i];
    }
    buf[out] = '\0';
    return buf;
}

/* ---- text output ------------------------------------------------------------ */

/* Names and values are printed as they are, except control characters. */
static void print_clean(FILE *out, const char *s) {
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p < 0x20 || *p == 0x7f) fprintf(out, "\\x%02x", *p);
        else fputc(*p, out);
    }
}

static void shape_text(const lp_st_tensor *t, char *buf, size_t size) {
    size_t at = (size_t)snprintf(buf, size, "[");
    for (int d = 0; d < t->ndim && at < size; d++)
        at += (size_t)snprintf(buf + at, size - at, "%s%lld", d ? ", " : "", (long long)t->shape[d]);
    if (at < size) snprintf(buf + at, size - at, "]");
}

static int display_width(const char *s) {
    int n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        n += *p < 0x20 || *p == 0x7f ? 4 : (*p & 0xC0) != 0x80;
    return n;
}

static void print_config_text(const lp_hf_config *cfg) {
    printf("config: ");
    print_clean(stdout, lp_hf_config_label(cfg));
    printf("\n");
    size_t na = lp_hf_config_architecture_count(cfg);
    if (na) {
        printf("  architectures: ");
        for (size_t i = 0; i < na; i++) {
            if (i) printf(", ");
            print_clean(stdout, lp_hf_config_architecture(cfg, i));
        }
        printf("\n");
    }
    if (lp_hf_config_model_type(cfg)) {
        printf("  model_type: ");
        print_clean(stdout, lp_hf_config_model_type(cfg));
        printf("\n");
    }
    const cJSON *root = lp_hf_config_json(cfg);
    for (const char *const *k = lp_hf_config_size_keys; *k; k++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, *k);
        if (!v || cJSON_IsNull(v)) continue;
        char *text = cJSON_PrintUnformatted(v);
        if (!text) continue;
        printf("  %s: ", *k);
        print_clean(stdout, text);
        printf("\n");
        free(text);
    }
    const cJSON *labels = cJSON_GetObjectItemCaseSensitive(root, "id2label");
    if (cJSON_IsObject(labels) && !cJSON_GetObjectItemCaseSensitive(root, "num_labels"))
        printf("  num_labels: %d (from id2label)\n", cJSON_GetArraySize(labels));
}

static void print_text(const checkpoint *c) {
    char a[64], b[64];
    for (size_t i = 0; i < c->nshards; i++) {
        const shard *s = &c->shards[i];
        printf("file: ");
        print_clean(stdout, s->path);
        printf(" (%s bytes, %zu tensors)\n", grouped(s->size, a, sizeof a),
               lp_safetensors_count(s->st));
        for (size_t j = 0; j < lp_safetensors_metadata_count(s->st); j++) {
            const char *k, *v;
            lp_safetensors_metadata_at(s->st, j, &k, &v);
            printf("  metadata ");
            print_clean(stdout, k);
            printf(": ");
            print_clean(stdout, v);
            printf("\n");
        }
    }
    if (c->index_path) {
        printf("index: ");
        print_clean(stdout, c->index_path);
        printf(" (%zu shards)\n", c->nshards);
    }
    if (c->config) print_config_text(c->config);

    int wname = 4, wshape = 5;
    char shape[256];
    for (size_t i = 0; i < c->ntensors; i++) {
        int w = display_width(c->tensors[i].t->name);
        if (w > wname) wname = w;
        shape_text(c->tensors[i].t, shape, sizeof shape);
        if ((int)strlen(shape) > wshape) wshape = (int)strlen(shape);
    }
    bool sharded = c->index_path != NULL;
    printf("tensors:\n  %-*s  %-7s  %-*s  %14s%s\n", wname, "NAME", "DTYPE", wshape, "SHAPE",
           "BYTES", sharded ? "  FILE" : "");
    for (size_t i = 0; i < c->ntensors; i++) {
        const lp_st_tensor *t = c->tensors[i].t;
        printf("  ");
        print_clean(stdout, t->name);
        printf("%*s", wname - display_width(t->name), "");
        shape_text(t, shape, sizeof shape);
        printf("  %-7s  %-*s  %14s", lp_dtype_safetensors_name(t->dtype), wshape, shape,
               grouped(t->end - t->begin, a, sizeof a));
        if (sharded) {
            printf("  ");
            print_clean(stdout, c->tensors[i].file->name);
        }
        printf("\n");
    }
    totals t = count(c);
    printf("summary:\n");
    printf("  tensors: %zu\n", c->ntensors);
    printf("  parameters: %s (%s)\n", grouped(t.params, a, sizeof a),
           human_count(t.params, b, sizeof b));
    printf("  bytes: %s (%s)\n", grouped(t.bytes, a, sizeof a), human_bytes(t.bytes, b, sizeof b));
    printf("  dtypes:");
    bool first = true;
    for (int d = 0; d < LP_DTYPE_COUNT; d++) {
        if (!t.dtype_tensors[d]) continue;
        printf("%s %s (%llu tensor%s, %s parameters)", first ? "" : ",",
               lp_dtype_safetensors_name((lp_dtype)d), t.dtype_tensors[d],
               t.dtype_tensors[d] == 1 ? "" : "s", grouped(t.dtype_params[d], a, sizeof a));
        first = false;
    }
    printf("%s\n", first ? " none" : "");
}

/* ---- JSON output ------------------------------------------------------------ */

static cJSON *metadata_json(const lp_safetensors *st) {
    cJSON *m = cJSON_CreateObject();
    for (size_t j = 0; m && j < lp_safetensors_metadata_count(st); j++) {
        const char *k, *v;
        lp_safetensors_metadata_at(st, j, &k, &v);
        cJSON_AddStringToObject(m, k, v);
    }
    return m;
}

static cJSON *config_json(const lp_hf_config *cfg) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "path", lp_hf_config_label(cfg));
    cJSON *arch = cJSON_AddArrayToObject(o, "architectures");
    for (size_t i = 0; i < lp_hf_config_architecture_count(cfg); i++)
        cJSON_AddItemToArray(arch, cJSON_CreateString(lp_hf_config_architecture(cfg, i)));
    const char *type = lp_hf_config_model_type(cfg);
    if (type) cJSON_AddStringToObject(o, "model_type", type);
    else cJSON_AddNullToObject(o, "model_type");
    const cJSON *root = lp_hf_config_json(cfg);
    for (const char *const *k = lp_hf_config_size_keys; *k; k++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, *k);
        if (v && !cJSON_IsNull(v)) cJSON_AddItemToObject(o, *k, cJSON_Duplicate(v, 1));
    }
    const cJSON *labels = cJSON_GetObjectItemCaseSensitive(root, "id2label");
    if (cJSON_IsObject(labels) && !cJSON_GetObjectItemCaseSensitive(o, "num_labels"))
        cJSON_AddNumberToObject(o, "num_labels", cJSON_GetArraySize(labels));
    return o;
}

static char *build_json(const checkpoint *c) {
    char buf[64];
    totals t = count(c);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "path", c->path);
    cJSON_AddStringToObject(o, "format", c->index_path ? "safetensors-sharded" : "safetensors");
    cJSON *files = cJSON_AddArrayToObject(o, "files");
    for (size_t i = 0; i < c->nshards; i++) {
        cJSON *f = cJSON_CreateObject();
        cJSON_AddStringToObject(f, "path", c->shards[i].path);
        cJSON_AddNumberToObject(f, "size", (double)c->shards[i].size);
        cJSON_AddNumberToObject(f, "tensors", (double)lp_safetensors_count(c->shards[i].st));
        cJSON_AddItemToObject(f, "metadata", metadata_json(c->shards[i].st));
        cJSON_AddItemToArray(files, f);
    }
    if (c->index_path) {
        cJSON *index = cJSON_AddObjectToObject(o, "index");
        cJSON_AddStringToObject(index, "path", c->index_path);
        const cJSON *meta = cJSON_GetObjectItemCaseSensitive(c->index, "metadata");
        cJSON_AddItemToObject(index, "metadata",
                              meta ? cJSON_Duplicate(meta, 1) : cJSON_CreateNull());
    }
    cJSON_AddItemToObject(o, "metadata", c->nshards ? metadata_json(c->shards[0].st)
                                                    : cJSON_CreateObject());
    cJSON_AddItemToObject(o, "config", c->config ? config_json(c->config) : cJSON_CreateNull());
    cJSON_AddNumberToObject(o, "tensor_count", (double)c->ntensors);
    cJSON_AddNumberToObject(o, "parameter_count", (double)t.params);
    cJSON_AddStringToObject(o, "parameters_human", human_count(t.params, buf, sizeof buf));
    cJSON_AddNumberToObject(o, "total_bytes", (double)t.bytes);
    cJSON_AddStringToObject(o, "total_bytes_human", human_bytes(t.bytes, buf, sizeof buf));
    cJSON *dtypes = cJSON_AddObjectToObject(o, "dtypes");
    for (int d = 0; d < LP_DTYPE_COUNT; d++) {
        if (!t.dtype_tensors[d]) continue;
        cJSON *x = cJSON_AddObjectToObject(dtypes, lp_dtype_safetensors_name((lp_dtype)d));
        cJSON_AddNumberToObject(x, "tensors", (double)t.dtype_tensors[d]);
        cJSON_AddNumberToObject(x, "parameters", (double)t.dtype_params[d]);
        cJSON_AddNumberToObject(x, "bytes", (double)t.dtype_bytes[d]);
    }
    cJSON *tensors = cJSON_AddArrayToObject(o, "tensors");
    for (size_t i = 0; i < c->ntensors; i++) {
        const lp_st_tensor *x = c->tensors[i].t;
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "name", x->name);
        cJSON_AddStringToObject(e, "dtype", lp_dtype_safetensors_name(x->dtype));
        cJSON *shape = cJSON_AddArrayToObject(e, "shape");
        for (int d = 0; d < x->ndim; d++)
            cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)x->shape[d]));
        cJSON_AddNumberToObject(e, "parameters", (double)lp_st_tensor_numel(x));
        cJSON_AddNumberToObject(e, "bytes", (double)(x->end - x->begin));
        cJSON_AddStringToObject(e, "file", c->tensors[i].file->name);
        cJSON_AddItemToArray(tensors, e);
    }
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
}

/* ---- the command ------------------------------------------------------------ */

int lp_cmd_info(int argc, char **argv) {
    const char *path = NULL;
    bool json = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(argv[i], "--json")) {
            json = true;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "lepton info: unknown option '%s'\n" USAGE_HINT, argv[i]);
            return 2;
        } else if (path) {
            fprintf(stderr, "lepton info: one PATH only ('%s' and '%s' given)\n" USAGE_HINT, path,
                    argv[i]);
            return 2;
        } else {
            path = argv[i];
        }
    }
    if (!path) {
        fprintf(stderr, "lepton info: a PATH is required\n" USAGE_HINT);
        return 2;
    }

    checkpoint c;
    memset(&c, 0, sizeof c);
    c.path = (char *)path;
    lp_error err = {0};
    lp_status s = load(&c, path, &err);
    int rc = 0;
    if (s != LP_OK) {
        fprintf(stderr, "lepton info: %s\n", err.msg);
        rc = 1;
    } else if (json) {
        char *text = build_json(&c);
        if (text) {
            printf("%s\n", text);
            free(text);
        } else {
            fprintf(stderr, "lepton info: %s: out of memory building the JSON output\n", path);
            rc = 1;
        }
    } else {
        print_text(&c);
    }
    checkpoint_free(&c);
    if (fflush(stdout) != 0) {
        fprintf(stderr, "lepton info: writing the output failed\n");
        rc = 1;
    }
    return rc;
}
