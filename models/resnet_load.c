/* Loading a ResNet: detect the layout, map names, infer the structure from the
 * tensor shapes, fold batch norm into the convolutions. Every tensor of the
 * file must be used (besides BN's num_batches_tracked): an unknown variant is
 * refused by naming the first tensor lepton does not understand. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/resnet_internal.h"
#include "pretrained/config.h"
#include "pretrained/safetensors.h"

#define BN_EPS 1e-5f /* nn.BatchNorm2d's default, used by torchvision, timm and transformers */

typedef struct loader {
    lp_resnet *m;
    lp_safetensors *st;
    const char *path;
    bool *used; /* per tensor index */
    size_t count;
} loader;

lp_status lp_resnet_own(lp_resnet *m, void *p, lp_error *err) {
    if (m->nowned == m->capowned) {
        size_t cap = m->capowned ? m->capowned * 2 : 64;
        void **n = realloc(m->owned, cap * sizeof *n);
        if (!n) {
            free(p);
            return lp_fail(err, LP_ERR_NOMEM, "out of memory loading the model");
        }
        m->owned = n;
        m->capowned = cap;
    }
    m->owned[m->nowned++] = p;
    return LP_OK;
}

static void mark_used(loader *L, const char *name) {
    for (size_t i = 0; i < L->count; i++)
        if (!strcmp(lp_safetensors_at(L->st, i)->name, name)) L->used[i] = true;
}

static bool has(loader *L, const char *name) { return lp_safetensors_find(L->st, name) != NULL; }

/* An owned f32 copy of a stored tensor of rank `ndim` (f32, f16, bf16 stored). */
static lp_status get_f32(loader *L, const char *name, int ndim, lp_tensor *out, lp_error *err) {
    const lp_st_tensor *t = lp_safetensors_find(L->st, name);
    if (!t) return lp_fail(err, LP_ERR_FORMAT, "%s: tensor '%s' is missing", L->path, name);
    if (t->ndim != ndim)
        return lp_fail(err, LP_ERR_FORMAT, "%s: tensor '%s' has %d dimensions, expected %d", L->path, name, t->ndim, ndim);
    lp_tensor v;
    lp_status st = lp_safetensors_get(L->st, name, &v, err);
    if (st != LP_OK) return st;
    int64_t n = lp_tensor_numel(&v);
    if (n <= 0) return lp_fail(err, LP_ERR_FORMAT, "%s: tensor '%s' is empty", L->path, name);
    float *buf = malloc(sizeof(float) * (size_t)n);
    if (!buf) return lp_fail(err, LP_ERR_NOMEM, "out of memory for '%s'", name);
    if ((st = lp_resnet_own(L->m, buf, err)) != LP_OK) return st;
    const void *src = v.data;
    switch (v.dtype) {
    case LP_F32: memcpy(buf, src, sizeof(float) * (size_t)n); break;
    case LP_F16:
        for (int64_t i = 0; i < n; i++) buf[i] = lp_f16_to_f32(((const uint16_t *)src)[i]);
        break;
    case LP_BF16:
        for (int64_t i = 0; i < n; i++) buf[i] = lp_bf16_to_f32(((const uint16_t *)src)[i]);
        break;
    default:
        return lp_fail(err, LP_ERR_DTYPE, "%s: tensor '%s' is %s; expected f32, f16 or bf16", L->path, name,
                       lp_dtype_name(v.dtype));
    }
    *out = lp_tensor_make(buf, LP_F32, ndim, v.shape);
    mark_used(L, name);
    return LP_OK;
}

/* The conv's plan, recorded in m->plans so lp_resnet_free can free it. */
static lp_status add_plan(lp_resnet *m, lp_resnet_conv *c, lp_error *err) {
    lp_conv2d_plan **n = realloc(m->plans, (size_t)(m->nplans + 1) * sizeof *n);
    if (!n) return lp_fail(err, LP_ERR_NOMEM, "out of memory loading the model");
    m->plans = n;
    lp_status st = lp_conv2d_plan_create(&c->weight, &c->bias, &c->params, &c->plan, err);
    if (st != LP_OK) return st;
    m->plans[m->nplans++] = c->plan;
    return LP_OK;
}

/* conv weight `wname` + batch norm `bn` (prefix of .weight/.bias/.running_*)
 * -> folded conv. cin: channels coming in; stride as the architecture says. */
static lp_status load_conv(loader *L, const char *wname, const char *bn, int cin, int stride, lp_resnet_conv *c,
                           lp_error *err) {
    lp_tensor w, g, b, mu, var;
    char n[512];
    lp_status st = get_f32(L, wname, 4, &w, err);
    if (st != LP_OK) return st;
    const int64_t cout = w.shape[0], cpg = w.shape[1], kh = w.shape[2], kw = w.shape[3];
    if (kh != kw || kh % 2 == 0)
        return lp_fail(err, LP_ERR_FORMAT, "%s: '%s' has a %lldx%lld kernel; expected a square odd kernel", L->path,
                       wname, (long long)kh, (long long)kw);
    if (cpg <= 0 || cin % cpg != 0 || cout % (cin / cpg) != 0)
        return lp_fail(err, LP_ERR_FORMAT, "%s: '%s' has %lld input channels per group, which does not divide the %d "
                       "channels coming in", L->path, wname, (long long)cpg, cin);
    const char *part[4] = {"weight", "bias", "running_mean", "running_var"};
    lp_tensor *dst[4] = {&g, &b, &mu, &var};
    for (int i = 0; i < 4; i++) {
        snprintf(n, sizeof n, "%s.%s", bn, part[i]);
        if ((st = get_f32(L, n, 1, dst[i], err)) != LP_OK) return st;
        if (dst[i]->shape[0] != cout)
            return lp_fail(err, LP_ERR_FORMAT, "%s: '%s' has %lld entries; the convolution '%s' has %lld outputs", L->path,
                           n, (long long)dst[i]->shape[0], wname, (long long)cout);
    }
    snprintf(n, sizeof n, "%s.num_batches_tracked", bn);
    mark_used(L, n);
    float *bias = malloc(sizeof(float) * (size_t)cout);
    if (!bias) return lp_fail(err, LP_ERR_NOMEM, "out of memory");
    if ((st = lp_resnet_own(L->m, bias, err)) != LP_OK) return st;
    c->bias = lp_tensor_1d(bias, LP_F32, cout);
    c->weight = w; /* owned copy: folded in place */
    st = lp_fold_batchnorm(&w, NULL, &g, &b, &mu, &var, BN_EPS, &c->weight, &c->bias, err);
    if (st != LP_OK) return lp_fail(err, st, "%s: folding '%s' into '%s'", L->path, bn, wname);
    c->cin = cin;
    c->cout = (int)cout;
    c->k = (int)kh;
    c->params = (lp_conv2d_params){.stride_h = stride, .stride_w = stride, .pad_h = (int)kh / 2, .pad_w = (int)kh / 2,
                                   .dilation_h = 1, .dilation_w = 1, .groups = (int)(cin / cpg)};
    return add_plan(L->m, c, err);
}

/* ---- names per layout ------------------------------------------------- */

static void conv_names(lp_resnet_layout lay, int s, int i, int j, char *w, char *bn, size_t n) {
    if (lay == LP_RESNET_HF) {
        snprintf(w, n, "resnet.encoder.stages.%d.layers.%d.layer.%d.convolution.weight", s, i, j);
        snprintf(bn, n, "resnet.encoder.stages.%d.layers.%d.layer.%d.normalization", s, i, j);
    } else {
        snprintf(w, n, "layer%d.%d.conv%d.weight", s + 1, i, j + 1);
        snprintf(bn, n, "layer%d.%d.bn%d", s + 1, i, j + 1);
    }
}

static void down_names(lp_resnet_layout lay, int s, int i, char *w, char *bn, size_t n) {
    if (lay == LP_RESNET_HF) {
        snprintf(w, n, "resnet.encoder.stages.%d.layers.%d.shortcut.convolution.weight", s, i);
        snprintf(bn, n, "resnet.encoder.stages.%d.layers.%d.shortcut.normalization", s, i);
    } else {
        snprintf(w, n, "layer%d.%d.downsample.0.weight", s + 1, i);
        snprintf(bn, n, "layer%d.%d.downsample.1", s + 1, i);
    }
}

/* ---- structure -------------------------------------------------------- */

typedef struct arch {
    int nstages, depths[LP_RESNET_MAX_STAGES];
    bool bottleneck;
    bool stride_first_stage; /* HF downsample_in_first_stage */
    bool stride_on_1x1;      /* HF downsample_in_bottleneck (v1) */
} arch;

static lp_status tv_arch(loader *L, arch *a, lp_error *err) {
    char n[256];
    if (has(L, "conv1.0.weight") || has(L, "conv1.1.weight"))
        return lp_fail(err, LP_ERR_UNSUPPORTED, "%s: 'conv1.0.weight': deep-stem ResNets (timm resnet*c/d/s) are not "
                       "supported; only the 7x7 single-convolution stem", L->path);
    if (!has(L, "conv1.weight") || !has(L, "fc.weight"))
        return lp_fail(err, LP_ERR_FORMAT, "%s: no 'conv1.weight' and 'fc.weight': not a torchvision/timm ResNet", L->path);
    memset(a, 0, sizeof *a);
    a->bottleneck = has(L, "layer1.0.conv3.weight");
    for (int s = 0; s < LP_RESNET_MAX_STAGES; s++) {
        int d = 0;
        for (;; d++) {
            snprintf(n, sizeof n, "layer%d.%d.conv1.weight", s + 1, d);
            if (!has(L, n)) break;
        }
        if (!d) break;
        a->depths[a->nstages++] = d;
    }
    if (!a->nstages) return lp_fail(err, LP_ERR_FORMAT, "%s: no 'layer1.0.conv1.weight': not a ResNet", L->path);
    snprintf(n, sizeof n, "layer%d.0.downsample.2.weight", 2);
    if (has(L, n)) return lp_fail(err, LP_ERR_UNSUPPORTED, "%s: '%s': average-pool downsampling (timm resnet*d) is "
                                  "not supported", L->path, n);
    return LP_OK;
}

static lp_status hf_arch(loader *L, const cJSON *cfg, arch *a, lp_error *err) {
    memset(a, 0, sizeof *a);
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(cfg, "depths");
    if (!cJSON_IsArray(d) || cJSON_GetArraySize(d) < 1 || cJSON_GetArraySize(d) > LP_RESNET_MAX_STAGES)
        return lp_fail(err, LP_ERR_FORMAT, "%s/config.json: \"depths\" must be a list of 1..%d integers", L->path,
                       LP_RESNET_MAX_STAGES);
    const cJSON *e;
    cJSON_ArrayForEach(e, d) {
        if (!cJSON_IsNumber(e) || e->valuedouble < 1 || e->valuedouble > 1000)
            return lp_fail(err, LP_ERR_FORMAT, "config.json: \"depths\" entries must be positive integers");
        a->depths[a->nstages++] = (int)e->valuedouble;
    }
    const cJSON *lt = cJSON_GetObjectItemCaseSensitive(cfg, "layer_type");
    const char *type = cJSON_IsString(lt) ? lt->valuestring : "bottleneck";
    if (!strcmp(type, "bottleneck"))
        a->bottleneck = true;
    else if (strcmp(type, "basic"))
        return lp_fail(err, LP_ERR_UNSUPPORTED, "config.json: \"layer_type\" \"%s\" (basic or bottleneck)", type);
    const cJSON *act = cJSON_GetObjectItemCaseSensitive(cfg, "hidden_act");
    if (cJSON_IsString(act) && strcmp(act->valuestring, "relu"))
        return lp_fail(err, LP_ERR_UNSUPPORTED, "config.json: \"hidden_act\" \"%s\": only relu", act->valuestring);
    a->stride_first_stage = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cfg, "downsample_in_first_stage"));
    a->stride_on_1x1 = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cfg, "downsample_in_bottleneck"));
    return LP_OK;
}

static lp_status build(loader *L, const arch *a, lp_error *err) {
    lp_resnet *m = L->m;
    lp_status st;
    char w[512], bn[512];
    m->bottleneck = a->bottleneck;
    m->nstages = a->nstages;
    memcpy(m->depths, a->depths, sizeof a->depths);
    const bool hf = m->layout == LP_RESNET_HF;
    if ((st = load_conv(L, hf ? "resnet.embedder.embedder.convolution.weight" : "conv1.weight",
                        hf ? "resnet.embedder.embedder.normalization" : "bn1", 3, 2, &m->stem, err)) != LP_OK)
        return st;
    m->nblocks = 0;
    for (int s = 0; s < a->nstages; s++) m->nblocks += a->depths[s];
    m->blocks = calloc((size_t)m->nblocks, sizeof *m->blocks);
    if (!m->blocks) return lp_fail(err, LP_ERR_NOMEM, "out of memory");
    if ((st = lp_resnet_own(m, m->blocks, err)) != LP_OK) return st;
    int ch = m->stem.cout, b = 0;
    for (int s = 0; s < a->nstages; s++) {
        for (int i = 0; i < a->depths[s]; i++, b++) {
            lp_resnet_block *blk = &m->blocks[b];
            const int stride = i > 0 ? 1 : (s > 0 || (hf && a->stride_first_stage)) ? 2 : 1;
            blk->nconv = a->bottleneck ? 3 : 2;
            int cin = ch;
            for (int j = 0; j < blk->nconv; j++) {
                /* v1.5: the stride is on the 3x3 (conv 1 of a bottleneck, conv 0 of a basic block). */
                int sj = a->bottleneck ? ((a->stride_on_1x1 ? j == 0 : j == 1) ? stride : 1) : (j == 0 ? stride : 1);
                conv_names(m->layout, s, i, j, w, bn, sizeof w);
                if ((st = load_conv(L, w, bn, cin, sj, &blk->conv[j], err)) != LP_OK) return st;
                cin = blk->conv[j].cout;
            }
            down_names(m->layout, s, i, w, bn, sizeof w);
            blk->has_down = has(L, w);
            if (blk->has_down) {
                if ((st = load_conv(L, w, bn, ch, stride, &blk->down, err)) != LP_OK) return st;
                if (blk->down.k != 1)
                    return lp_fail(err, LP_ERR_FORMAT, "%s: '%s' is %dx%d; the shortcut must be 1x1", L->path, w,
                                   blk->down.k, blk->down.k);
            } else if (stride != 1 || cin != ch) {
                return lp_fail(err, LP_ERR_FORMAT, "%s: block %d.%d changes the shape (%d -> %d channels, stride %d) "
                               "but has no shortcut convolution '%s'", L->path, s, i, ch, cin, stride, w);
            }
            ch = cin;
        }
    }
    m->features = ch;
    const char *fw = hf ? "classifier.1.weight" : "fc.weight", *fb = hf ? "classifier.1.bias" : "fc.bias";
    if ((st = get_f32(L, fw, 2, &m->fc_weight, err)) != LP_OK) return st;
    if ((st = get_f32(L, fb, 1, &m->fc_bias, err)) != LP_OK) return st;
    if (m->fc_weight.shape[1] != ch || m->fc_bias.shape[0] != m->fc_weight.shape[0])
        return lp_fail(err, LP_ERR_FORMAT, "%s: '%s' is [%lld, %lld] but the features have %d channels (bias %lld)",
                       L->path, fw, (long long)m->fc_weight.shape[0], (long long)m->fc_weight.shape[1], ch,
                       (long long)m->fc_bias.shape[0]);
    m->classes = (int)m->fc_weight.shape[0];
    return LP_OK;
}

static void describe(lp_resnet *m) {
    static const struct {
        const char *name;
        bool bottleneck;
        int d[4];
    } known[] = {{"resnet18", false, {2, 2, 2, 2}}, {"resnet34", false, {3, 4, 6, 3}}, {"resnet50", true, {3, 4, 6, 3}},
                 {"resnet101", true, {3, 4, 23, 3}}, {"resnet152", true, {3, 8, 36, 3}}};
    for (size_t k = 0; k < sizeof known / sizeof known[0]; k++)
        if (m->nstages == 4 && m->bottleneck == known[k].bottleneck && !memcmp(m->depths, known[k].d, sizeof known[k].d) &&
            m->stem.cout == 64) {
            snprintf(m->describe, sizeof m->describe, "%s", known[k].name);
            return;
        }
    int n = snprintf(m->describe, sizeof m->describe, "resnet(%s, [", m->bottleneck ? "bottleneck" : "basic");
    for (int s = 0; s < m->nstages && n < (int)sizeof m->describe; s++)
        n += snprintf(m->describe + n, sizeof m->describe - (size_t)n, "%s%d", s ? ", " : "", m->depths[s]);
    if (n < (int)sizeof m->describe) snprintf(m->describe + n, sizeof m->describe - (size_t)n, "])");
}

static lp_status read_config(const char *dir, cJSON **out, lp_error *err) {
    char path[4096];
    *out = NULL;
    snprintf(path, sizeof path, "%s/config.json", dir);
    FILE *f = fopen(path, "rb");
    if (!f) return LP_OK;
    fclose(f);
    lp_hf_config *c;
    lp_status st = lp_hf_config_load(path, &c, err);
    if (st != LP_OK) return st;
    *out = cJSON_Duplicate(lp_hf_config_json(c), 1);
    lp_hf_config_free(c);
    if (!*out) return lp_fail(err, LP_ERR_NOMEM, "out of memory reading %s", path);
    return LP_OK;
}

static lp_status load(lp_resnet *m, const char *dir, lp_error *err) {
    char path[4096];
    cJSON *cfg = NULL;
    lp_status st = read_config(dir, &cfg, err);
    if (st != LP_OK) return st;
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    loader L = {.m = m, .path = path};
    if ((st = lp_safetensors_open(path, &L.st, err)) != LP_OK) {
        cJSON_Delete(cfg);
        if (st == LP_ERR_IO)
            return lp_fail(err, st, "ResNet weights must be %s (a .pth state dict converts with "
                           "tools/convert_torchvision_resnet.py)", path);
        return st;
    }
    L.count = lp_safetensors_count(L.st);
    L.used = calloc(L.count ? L.count : 1, sizeof *L.used);
    if (!L.used) {
        st = lp_fail(err, LP_ERR_NOMEM, "out of memory");
        goto done;
    }
    const cJSON *mt = cfg ? cJSON_GetObjectItemCaseSensitive(cfg, "model_type") : NULL;
    arch a;
    if (cJSON_IsString(mt) && !strcmp(mt->valuestring, "resnet")) {
        m->layout = LP_RESNET_HF;
        st = hf_arch(&L, cfg, &a, err);
    } else if (cJSON_IsString(mt)) {
        st = lp_fail(err, LP_ERR_UNSUPPORTED, "%s/config.json: model_type \"%s\" is not a ResNet", dir, mt->valuestring);
    } else if (has(&L, "resnet.embedder.embedder.convolution.weight")) {
        st = lp_fail(err, LP_ERR_FORMAT, "%s: transformers ResNet tensors but no config.json with model_type \"resnet\" "
                     "(it holds depths and layer_type)", dir);
    } else {
        m->layout = cfg && (cJSON_GetObjectItemCaseSensitive(cfg, "pretrained_cfg") ||
                            cJSON_GetObjectItemCaseSensitive(cfg, "architecture"))
                        ? LP_RESNET_TIMM
                        : LP_RESNET_TORCHVISION;
        st = tv_arch(&L, &a, err);
    }
    if (st == LP_OK) st = build(&L, &a, err);
    for (size_t i = 0; st == LP_OK && i < L.count; i++) {
        const char *n = lp_safetensors_at(L.st, i)->name;
        size_t nl = strlen(n);
        if (!L.used[i] && !(nl > 20 && !strcmp(n + nl - 20, ".num_batches_tracked")))
            st = lp_fail(err, LP_ERR_UNSUPPORTED, "%s: tensor '%s' is not part of a plain %s ResNet (a variant lepton "
                         "does not implement)", path, n, lp_resnet_layout_name(m->layout));
    }
    if (st == LP_OK) st = lp_resnet_load_labels(m, dir, cfg, err);
    if (st == LP_OK) describe(m);
done:
    free(L.used);
    lp_safetensors_close(L.st);
    cJSON_Delete(cfg);
    return st;
}

lp_status lp_resnet_load(const char *dir, lp_resnet **out, lp_error *err) {
    *out = NULL;
    lp_resnet *m = calloc(1, sizeof *m);
    if (!m) return lp_fail(err, LP_ERR_NOMEM, "out of memory");
    lp_status st = load(m, dir, err);
    if (st != LP_OK) {
        lp_resnet_free(m);
        return st;
    }
    *out = m;
    return LP_OK;
}

void lp_resnet_free(lp_resnet *m) {
    if (!m) return;
    lp_resnet_forget_device_weights(m);
    for (int i = 0; i < m->nplans; i++) lp_conv2d_plan_free(m->plans[i]);
    free(m->plans);
    for (size_t i = 0; i < m->nowned; i++) free(m->owned[i]);
    free(m->owned);
    free(m);
}

lp_resnet_layout lp_resnet_get_layout(const lp_resnet *m) { return m->layout; }

const char *lp_resnet_layout_name(lp_resnet_layout layout) {
    switch (layout) {
    case LP_RESNET_TORCHVISION: return "torchvision";
    case LP_RESNET_TIMM: return "timm";
    case LP_RESNET_HF: return "transformers";
    }
    return "unknown";
}

const char *lp_resnet_describe(const lp_resnet *m) { return m->describe; }
int lp_resnet_num_classes(const lp_resnet *m) { return m->classes; }
const char *lp_resnet_label(const lp_resnet *m, int i) {
    return i >= 0 && i < m->classes && m->labels ? m->labels[i] : "?";
}
const char *lp_resnet_label_source(const lp_resnet *m) { return m->label_source; }
