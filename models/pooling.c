/* sentence-transformers pooling and normalisation (see pooling.h). */
#include "models/pooling.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static lp_status read_json(const char *path, cJSON **out, bool *missing, lp_error *err) {
    *out = NULL;
    *missing = false;
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errno == ENOENT) {
            *missing = true;
            return LP_OK;
        }
        return lp_fail(err, LP_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    }
    if (fseek(f, 0, SEEK_END) || ftell(f) < 0 || ftell(f) > (1 << 24)) {
        fclose(f);
        return lp_fail(err, LP_ERR_FORMAT, "%s: unreadable or larger than 16 MiB", path);
    }
    long n = ftell(f);
    rewind(f);
    char *buf = malloc((size_t)n + 1);
    if (!buf) {
        fclose(f);
        return lp_fail(err, LP_ERR_NOMEM, "out of memory reading %s", path);
    }
    size_t got = fread(buf, 1, (size_t)n, f);
    fclose(f);
    buf[got] = 0;
    *out = cJSON_Parse(buf);
    free(buf);
    if (!*out) return lp_fail(err, LP_ERR_FORMAT, "%s: not valid JSON", path);
    return LP_OK;
}

static bool flag(const cJSON *o, const char *key) {
    return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, key));
}

static lp_status read_pooling_config(const char *dir, const char *sub, int64_t hidden,
                                     lp_pooling *p, lp_error *err) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s/config.json", dir, sub);
    cJSON *cfg;
    bool missing;
    lp_status st = read_json(path, &cfg, &missing, err);
    if (st) return st;
    if (missing) return lp_fail(err, LP_ERR_FORMAT, "%s is missing (named by modules.json)", path);
    static const char *const UNSUPPORTED[] = {"pooling_mode_weightedmean_tokens",
                                              "pooling_mode_lasttoken"};
    for (size_t i = 0; i < 2; i++)
        if (flag(cfg, UNSUPPORTED[i])) {
            cJSON_Delete(cfg);
            return lp_fail(err, LP_ERR_UNSUPPORTED, "%s: %s = true is not supported", path,
                           UNSUPPORTED[i]);
        }
    const cJSON *dim = cJSON_GetObjectItemCaseSensitive(cfg, "word_embedding_dimension");
    if (cJSON_IsNumber(dim) && dim->valuedouble != (double)hidden) {
        cJSON_Delete(cfg);
        return lp_fail(err, LP_ERR_FORMAT,
                       "%s: word_embedding_dimension = %g but the encoder's hidden size is %lld",
                       path, dim->valuedouble, (long long)hidden);
    }
    p->cls = flag(cfg, "pooling_mode_cls_token");
    p->max = flag(cfg, "pooling_mode_max_tokens");
    p->mean = flag(cfg, "pooling_mode_mean_tokens");
    p->mean_sqrt_len = flag(cfg, "pooling_mode_mean_sqrt_len_tokens");
    cJSON_Delete(cfg);
    if (!p->cls && !p->max && !p->mean && !p->mean_sqrt_len)
        return lp_fail(err, LP_ERR_FORMAT, "%s: no pooling mode is set", path);
    return LP_OK;
}

static lp_status read_modules(const char *dir, const cJSON *mods, int64_t hidden, lp_pooling *p,
                              lp_error *err) {
    if (!cJSON_IsArray(mods))
        return lp_fail(err, LP_ERR_FORMAT, "%s/modules.json: not a JSON array", dir);
    bool pooled = false;
    const cJSON *m;
    cJSON_ArrayForEach(m, mods) {
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(m, "type");
        const cJSON *path = cJSON_GetObjectItemCaseSensitive(m, "path");
        if (!cJSON_IsString(type))
            return lp_fail(err, LP_ERR_FORMAT, "%s/modules.json: a module has no \"type\"", dir);
        const char *t = type->valuestring;
        const char *last = strrchr(t, '.');
        last = last ? last + 1 : t;
        if (!strcmp(last, "Transformer")) continue;
        if (!strcmp(last, "Pooling")) {
            if (!cJSON_IsString(path) || strstr(path->valuestring, ".."))
                return lp_fail(err, LP_ERR_FORMAT, "%s/modules.json: the Pooling module's \"path\" is invalid", dir);
            lp_status st = read_pooling_config(dir, path->valuestring, hidden, p, err);
            if (st) return st;
            pooled = true;
        } else if (!strcmp(last, "Normalize")) {
            p->normalize = true;
        } else {
            return lp_fail(err, LP_ERR_UNSUPPORTED,
                           "%s/modules.json: module type \"%s\" is not supported (Transformer, "
                           "Pooling, Normalize)",
                           dir, t);
        }
    }
    if (!pooled) return lp_fail(err, LP_ERR_FORMAT, "%s/modules.json: no Pooling module", dir);
    return LP_OK;
}

lp_status lp_pooling_load(const char *dir, int64_t hidden_size, lp_pooling *out, lp_error *err) {
    memset(out, 0, sizeof *out);
    char path[4096];
    snprintf(path, sizeof path, "%s/modules.json", dir);
    cJSON *mods;
    bool missing;
    lp_status st = read_json(path, &mods, &missing, err);
    if (st) return st;
    if (missing) {
        out->mean = true;
        return LP_OK;
    }
    out->sentence_transformers = true;
    st = read_modules(dir, mods, hidden_size, out, err);
    cJSON_Delete(mods);
    if (st) return st;
    snprintf(path, sizeof path, "%s/sentence_bert_config.json", dir);
    cJSON *sb;
    if ((st = read_json(path, &sb, &missing, err))) return st;
    if (sb) {
        const cJSON *msl = cJSON_GetObjectItemCaseSensitive(sb, "max_seq_length");
        if (cJSON_IsNumber(msl) && msl->valuedouble >= 2 && msl->valuedouble < 1e7)
            out->max_seq_length = (int64_t)msl->valuedouble;
        cJSON_Delete(sb);
    }
    return LP_OK;
}

int64_t lp_pooling_dim(const lp_pooling *p, int64_t hidden_size) {
    return hidden_size * ((int64_t)p->cls + p->max + p->mean + p->mean_sqrt_len);
}

lp_status lp_pooling_apply(const lp_pooling *p, const lp_tensor *hidden, const uint8_t *mask,
                           float *out, lp_error *err) {
    if (hidden->ndim != 3 || hidden->dtype != LP_F32 || !lp_tensor_is_contiguous(hidden) ||
        hidden->device.kind != LP_DEVICE_CPU)
        return lp_fail(err, LP_ERR_SHAPE, "pooling: hidden must be a contiguous f32 CPU [B, S, H]");
    int64_t B = hidden->shape[0], S = hidden->shape[1], H = hidden->shape[2];
    int64_t D = lp_pooling_dim(p, H);
    const float *h = hidden->data;
    for (int64_t b = 0; b < B; b++) {
        float *o = out + b * D;
        const float *hb = h + b * S * H;
        const uint8_t *mb = mask + b * S;
        int64_t count = 0;
        for (int64_t s = 0; s < S; s++) count += mb[s] != 0;
        if (p->cls) {
            memcpy(o, hb, (size_t)H * sizeof *o);
            o += H;
        }
        if (p->max) {
            /* sentence-transformers sets padding to -1e9 before the max */
            for (int64_t j = 0; j < H; j++) o[j] = count ? -INFINITY : 0.0f;
            for (int64_t s = 0; s < S; s++)
                if (mb[s])
                    for (int64_t j = 0; j < H; j++) o[j] = fmaxf(o[j], hb[s * H + j]);
            o += H;
        }
        if (p->mean || p->mean_sqrt_len) {
            float *sum = o;
            for (int64_t j = 0; j < H; j++) sum[j] = 0.0f;
            for (int64_t s = 0; s < S; s++)
                if (mb[s])
                    for (int64_t j = 0; j < H; j++) sum[j] += hb[s * H + j];
            float n = count ? (float)count : 1.0f;
            if (p->mean && p->mean_sqrt_len) memcpy(o + H, o, (size_t)H * sizeof *o);
            if (p->mean) {
                for (int64_t j = 0; j < H; j++) o[j] /= n;
                o += H;
            }
            if (p->mean_sqrt_len) {
                float r = sqrtf(n);
                for (int64_t j = 0; j < H; j++) o[j] /= r;
                o += H;
            }
        }
        if (p->normalize) {
            float *row = out + b * D;
            double ss = 0;
            for (int64_t j = 0; j < D; j++) ss += (double)row[j] * row[j];
            float norm = fmaxf((float)sqrt(ss), 1e-12f);
            for (int64_t j = 0; j < D; j++) row[j] /= norm;
        }
    }
    return LP_OK;
}
