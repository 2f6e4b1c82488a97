/* Server and per-model settings: defaults, --model NAME=DIR, --models-dir and
 * the JSON config file. Every value from outside is range-checked here, so the
 * rest of the server can trust its configuration. */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "server/server.h"

static char *dup_str(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

void lp_srv_model_config_init(lp_srv_model_config *c) {
    memset(c, 0, sizeof *c);
    snprintf(c->device, sizeof c->device, "cpu");
    c->max_batch_size = 32;
    c->max_queue_delay_us = 0; /* as Triton: under load, batches form while the workers are busy */
    c->max_queue_size = 1024;
    c->timeout_ms = 30000;
    c->workers = 1;
    c->threads = 0;
    c->max_items = 256;
    c->max_text_bytes = 65536;
    c->top_k = 5;
}

void lp_srv_model_config_free(lp_srv_model_config *c) {
    free(c->name);
    free(c->dir);
    cJSON_Delete(c->thresholds);
    memset(c, 0, sizeof *c);
}

void lp_server_options_init(lp_server_options *o) {
    memset(o, 0, sizeof *o);
    o->port = 8080;
    o->max_body_bytes = (size_t)32 << 20;
    o->drain_timeout_s = 30;
}

void lp_server_options_free(lp_server_options *o) {
    for (size_t i = 0; i < o->n_models; i++) lp_srv_model_config_free(&o->models[i]);
    free(o->models);
    free(o->host);
    free(o->api_key);
    free(o->access_log_path);
    memset(o, 0, sizeof *o);
}

bool lp_srv_model_name_ok(const char *name) {
    size_t n = strlen(name);
    if (n == 0 || n > 64 || !strcmp(name, ".") || !strcmp(name, "..")) return false;
    for (size_t i = 0; i < n; i++) {
        char ch = name[i];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                  ch == '.' || ch == '_' || ch == '-';
        if (!ok) return false;
    }
    return true;
}

static bool has_model(const lp_server_options *o, const char *name) {
    for (size_t i = 0; i < o->n_models; i++)
        if (!strcmp(o->models[i].name, name)) return true;
    return false;
}

/* Appends a default-initialised model config; NULL when out of memory. */
static lp_srv_model_config *push_model(lp_server_options *o, const char *name, const char *dir, lp_error *err) {
    if (!lp_srv_model_name_ok(name)) {
        lp_fail(err, LP_ERR_INVALID_ARG,
                "model name '%s' is not allowed: use 1-64 characters from A-Z a-z 0-9 . _ -", name);
        return NULL;
    }
    if (has_model(o, name)) {
        lp_fail(err, LP_ERR_INVALID_ARG, "model name '%s' is given twice", name);
        return NULL;
    }
    lp_srv_model_config *m = realloc(o->models, (o->n_models + 1) * sizeof *m);
    if (!m) {
        lp_fail(err, LP_ERR_NOMEM, "out of memory");
        return NULL;
    }
    o->models = m;
    lp_srv_model_config *c = &m[o->n_models];
    lp_srv_model_config_init(c);
    c->name = dup_str(name);
    c->dir = dup_str(dir);
    if (!c->name || !c->dir) {
        lp_srv_model_config_free(c);
        lp_fail(err, LP_ERR_NOMEM, "out of memory");
        return NULL;
    }
    o->n_models++;
    return c;
}

lp_status lp_server_add_model_arg(lp_server_options *o, const char *arg, lp_error *err) {
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg || !eq[1])
        return lp_fail(err, LP_ERR_INVALID_ARG, "--model takes NAME=DIR (got '%s')", arg);
    char name[128];
    size_t n = (size_t)(eq - arg);
    if (n >= sizeof name) return lp_fail(err, LP_ERR_INVALID_ARG, "model name in '%s' is too long", arg);
    memcpy(name, arg, n);
    name[n] = 0;
    return push_model(o, name, eq + 1, err) ? LP_OK : err->status;
}

static bool is_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

lp_status lp_server_add_models_dir(lp_server_options *o, const char *dir, lp_error *err) {
    DIR *d = opendir(dir);
    if (!d) return lp_fail(err, LP_ERR_IO, "cannot open models directory %s: %s", dir, strerror(errno));
    char **names = NULL;
    size_t n = 0;
    lp_status st = LP_OK;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char p[4096];
        snprintf(p, sizeof p, "%s/%s/config.json", dir, e->d_name);
        bool ok = is_file(p);
        snprintf(p, sizeof p, "%s/%s/model.safetensors", dir, e->d_name);
        ok = ok || is_file(p);
        if (!ok) continue;
        char **g = realloc(names, (n + 1) * sizeof *g);
        if (!g || !(g[n] = dup_str(e->d_name))) {
            names = g ? g : names;
            st = lp_fail(err, LP_ERR_NOMEM, "out of memory");
            break;
        }
        names = g;
        n++;
    }
    closedir(d);
    if (names) qsort(names, n, sizeof *names, cmp_str); /* a stable order for /v1/models */
    for (size_t i = 0; i < n && st == LP_OK; i++) {
        if (has_model(o, names[i])) continue;
        if (!lp_srv_model_name_ok(names[i])) {
            st = lp_fail(err, LP_ERR_INVALID_ARG,
                         "models directory %s: subdirectory '%s' is not a valid model name "
                         "(1-64 characters from A-Z a-z 0-9 . _ -); rename it", dir, names[i]);
            break;
        }
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        if (!push_model(o, names[i], p, err)) st = err->status;
    }
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
    return st;
}

/* ---- the config file ----------------------------------------------------- */

static lp_status get_int(const cJSON *v, const char *what, double lo, double hi, double *out, lp_error *err) {
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < lo || v->valuedouble > hi)
        return lp_fail(err, LP_ERR_INVALID_ARG, "config: %s must be a whole number in %.0f..%.0f", what, lo, hi);
    *out = v->valuedouble;
    return LP_OK;
}

static lp_status parse_task(const char *s, lp_srv_task *t, lp_error *err) {
    static const struct { const char *name; lp_srv_task task; } names[] = {
        {"classify", LP_TASK_CLASSIFY},  {"sentiment", LP_TASK_CLASSIFY}, {"embed", LP_TASK_EMBED},
        {"classify-image", LP_TASK_IMAGE}, {"diagnose", LP_TASK_IMAGE},   {"translate", LP_TASK_TRANSLATE},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(s, names[i].name)) {
            *t = names[i].task;
            return LP_OK;
        }
    return lp_fail(err, LP_ERR_INVALID_ARG,
                   "config: task '%s' is not one of classify, sentiment, embed, classify-image, diagnose, translate", s);
}

static lp_status parse_model(lp_server_options *o, const char *name, const cJSON *m, const char *base, lp_error *err) {
    if (!cJSON_IsObject(m)) return lp_fail(err, LP_ERR_INVALID_ARG, "config: each model must be an object");
    const cJSON *path = cJSON_GetObjectItemCaseSensitive(m, "path");
    if (!name) {
        const cJSON *nm = cJSON_GetObjectItemCaseSensitive(m, "name");
        if (!cJSON_IsString(nm)) return lp_fail(err, LP_ERR_INVALID_ARG, "config: a model has no \"name\" string");
        name = nm->valuestring;
    }
    if (!cJSON_IsString(path))
        return lp_fail(err, LP_ERR_INVALID_ARG, "config: model '%s' has no \"path\" string", name);
    char dir[8192]; /* a relative path is relative to the config file */
    int len = path->valuestring[0] == '/' || !base ? snprintf(dir, sizeof dir, "%s", path->valuestring)
                                                   : snprintf(dir, sizeof dir, "%s/%s", base, path->valuestring);
    if (len < 0 || (size_t)len >= sizeof dir) return lp_fail(err, LP_ERR_INVALID_ARG, "config: %s.path is too long", name);
    lp_srv_model_config *c = push_model(o, name, dir, err);
    if (!c) return err->status;
    const cJSON *v;
    cJSON_ArrayForEach(v, m) {
        const char *k = v->string;
        double x = 0;
        if (!strcmp(k, "name") || !strcmp(k, "path")) continue;
        if (!strcmp(k, "task")) {
            if (!cJSON_IsString(v)) return lp_fail(err, LP_ERR_INVALID_ARG, "config: %s.task must be a string", name);
            if (parse_task(v->valuestring, &c->task, err)) return err->status;
            c->task_given = true;
        } else if (!strcmp(k, "device")) {
            if (!cJSON_IsString(v) || (strcmp(v->valuestring, "cpu") && strcmp(v->valuestring, "auto")))
                return lp_fail(err, LP_ERR_UNSUPPORTED,
                               "config: %s.device: this server runs models on \"cpu\" (or \"auto\")", name);
        } else if (!strcmp(k, "max_batch_size")) {
            if (get_int(v, "max_batch_size", 1, 4096, &x, err)) return err->status;
            c->max_batch_size = (int)x;
        } else if (!strcmp(k, "max_queue_delay_us")) {
            if (get_int(v, "max_queue_delay_us", 0, 60e6, &x, err)) return err->status;
            c->max_queue_delay_us = (int64_t)x;
        } else if (!strcmp(k, "max_queue_size")) {
            if (get_int(v, "max_queue_size", 1, 1e7, &x, err)) return err->status;
            c->max_queue_size = (int)x;
        } else if (!strcmp(k, "timeout_ms") || !strcmp(k, "timeout")) {
            if (get_int(v, "timeout_ms", 0, 3600e3, &x, err)) return err->status;
            c->timeout_ms = (int64_t)x;
        } else if (!strcmp(k, "workers")) {
            if (get_int(v, "workers", 1, 64, &x, err)) return err->status;
            c->workers = (int)x;
        } else if (!strcmp(k, "threads")) {
            if (get_int(v, "threads", 1, 1024, &x, err)) return err->status;
            c->threads = (int)x;
        } else if (!strcmp(k, "max_items")) {
            if (get_int(v, "max_items", 1, 1e6, &x, err)) return err->status;
            c->max_items = (int)x;
        } else if (!strcmp(k, "max_text_bytes")) {
            if (get_int(v, "max_text_bytes", 1, 64e6, &x, err)) return err->status;
            c->max_text_bytes = (size_t)x;
        } else if (!strcmp(k, "top_k")) {
            if (get_int(v, "top_k", 1, 100000, &x, err)) return err->status;
            c->top_k = (int)x;
        } else if (!strcmp(k, "thresholds")) {
            const cJSON *t;
            if (!cJSON_IsObject(v)) return lp_fail(err, LP_ERR_INVALID_ARG, "config: %s.thresholds must be an object", name);
            cJSON_ArrayForEach(t, v) if (!cJSON_IsNumber(t) || t->valuedouble < 0 || t->valuedouble > 1) return lp_fail(
                err, LP_ERR_INVALID_ARG, "config: %s.thresholds.%s must be a number in 0..1", name, t->string);
            c->thresholds = cJSON_Duplicate(v, 1);
        } else {
            return lp_fail(err, LP_ERR_INVALID_ARG, "config: model '%s': unknown key \"%s\"", name, k);
        }
    }
    return LP_OK;
}

static char *read_text(const char *path, lp_error *err) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        lp_fail(err, LP_ERR_IO, "cannot open config %s: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 8192;
            if (cap > ((size_t)16 << 20)) {
                free(buf);
                fclose(f);
                lp_fail(err, LP_ERR_FORMAT, "config %s is larger than 16 MiB", path);
                return NULL;
            }
            char *g = realloc(buf, cap);
            if (!g) {
                free(buf);
                fclose(f);
                lp_fail(err, LP_ERR_NOMEM, "out of memory");
                return NULL;
            }
            buf = g;
        }
        size_t r = fread(buf + n, 1, cap - n - 1, f);
        n += r;
        if (r == 0) break;
    }
    fclose(f);
    buf[n] = 0;
    return buf;
}

lp_status lp_server_load_config(lp_server_options *o, const char *path, lp_error *err) {
    char *text = read_text(path, err);
    if (!text) return err->status;
    cJSON *root = cJSON_Parse(text);
    free(text);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return lp_fail(err, LP_ERR_FORMAT, "config %s is not a JSON object", path);
    }
    char base[4096];
    snprintf(base, sizeof base, "%s", path);
    char *slash = strrchr(base, '/');
    if (slash) *slash = 0;
    const char *basep = slash ? base : NULL;
    lp_status st = LP_OK;
    const cJSON *v;
    cJSON_ArrayForEach(v, root) {
        const char *k = v->string;
        double x = 0;
        if (!strcmp(k, "host") && cJSON_IsString(v)) {
            free(o->host);
            o->host = dup_str(v->valuestring);
        } else if (!strcmp(k, "port")) {
            if ((st = get_int(v, "port", 0, 65535, &x, err))) break;
            o->port = (int)x;
        } else if (!strcmp(k, "api_key") && cJSON_IsString(v)) {
            free(o->api_key);
            o->api_key = dup_str(v->valuestring);
        } else if (!strcmp(k, "max_body_bytes")) {
            if ((st = get_int(v, "max_body_bytes", 1024, 1e9, &x, err))) break;
            o->max_body_bytes = (size_t)x;
        } else if (!strcmp(k, "drain_timeout_s")) {
            if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 3600) {
                st = lp_fail(err, LP_ERR_INVALID_ARG, "config: drain_timeout_s must be 0..3600");
                break;
            }
            o->drain_timeout_s = v->valuedouble;
        } else if (!strcmp(k, "models_dir") && cJSON_IsString(v)) {
            continue; /* after the explicit models, below */
        } else if (!strcmp(k, "models") && cJSON_IsArray(v)) {
            const cJSON *m;
            cJSON_ArrayForEach(m, v) if ((st = parse_model(o, NULL, m, basep, err))) break;
            if (st) break;
        } else if (!strcmp(k, "models") && cJSON_IsObject(v)) {
            const cJSON *m;
            cJSON_ArrayForEach(m, v) if ((st = parse_model(o, m->string, m, basep, err))) break;
            if (st) break;
        } else {
            st = lp_fail(err, LP_ERR_INVALID_ARG, "config %s: unknown key \"%s\" or wrong type for it", path, k);
            break;
        }
    }
    const cJSON *md = cJSON_GetObjectItemCaseSensitive(root, "models_dir");
    if (!st && cJSON_IsString(md)) {
        char dir[8192];
        int n = md->valuestring[0] == '/' || !basep ? snprintf(dir, sizeof dir, "%s", md->valuestring)
                                                    : snprintf(dir, sizeof dir, "%s/%s", basep, md->valuestring);
        st = n < 0 || (size_t)n >= sizeof dir ? lp_fail(err, LP_ERR_INVALID_ARG, "config: models_dir is too long")
                                              : lp_server_add_models_dir(o, dir, err);
    }
    cJSON_Delete(root);
    return st;
}
