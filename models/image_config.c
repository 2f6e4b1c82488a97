/* Preprocessing settings from a checkpoint's files: transformers'
 * preprocessor_config.json or timm's pretrained_cfg (see image_preprocess.h). */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/image_preprocess.h"

static lp_status read_text(const char *path, char **text, lp_error *err) {
    uint8_t *bytes;
    size_t n;
    lp_status st = lp_image_read_file(path, (size_t)16 << 20, &bytes, &n, err);
    if (st != LP_OK) return st;
    char *t = realloc(bytes, n + 1);
    if (!t) {
        free(bytes);
        return lp_fail(err, LP_ERR_NOMEM, "out of memory reading %s", path);
    }
    t[n] = '\0';
    *text = t;
    return LP_OK;
}

static bool file_exists(const char *path) {
    FILE *f = fopen(path, "rb");
    if (f) fclose(f);
    return f != NULL;
}

/* A positive integer field, absent -> false. */
static lp_status get_int(const cJSON *obj, const char *key, const char *label, int *out, bool *found,
                         lp_error *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    *found = false;
    if (!v || cJSON_IsNull(v)) return LP_OK;
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < 1 ||
        v->valuedouble > 65536)
        return lp_fail(err, LP_ERR_FORMAT, "%s: \"%s\" must be a positive integer", label, key);
    *out = (int)v->valuedouble;
    *found = true;
    return LP_OK;
}

static lp_status get_bool(const cJSON *obj, const char *key, const char *label, bool *out, lp_error *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v || cJSON_IsNull(v)) return LP_OK;
    if (!cJSON_IsBool(v)) return lp_fail(err, LP_ERR_FORMAT, "%s: \"%s\" must be true or false", label, key);
    *out = cJSON_IsTrue(v);
    return LP_OK;
}

/* A number or an array of 3 (a single number applies to all channels). */
static lp_status get_triple(const cJSON *obj, const char *key, const char *label, float out[3], lp_error *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v || cJSON_IsNull(v)) return LP_OK;
    if (cJSON_IsNumber(v)) {
        out[0] = out[1] = out[2] = (float)v->valuedouble;
        return LP_OK;
    }
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) != 3)
        return lp_fail(err, LP_ERR_FORMAT, "%s: \"%s\" must be a number or a list of 3 numbers (RGB)", label, key);
    for (int c = 0; c < 3; c++) {
        const cJSON *e = cJSON_GetArrayItem(v, c);
        if (!cJSON_IsNumber(e)) return lp_fail(err, LP_ERR_FORMAT, "%s: \"%s\"[%d] is not a number", label, key, c);
        out[c] = (float)e->valuedouble;
    }
    return LP_OK;
}

/* "size" / "crop_size": an int, or {"shortest_edge"} or {"height","width"}. */
static lp_status get_size(const cJSON *obj, const char *key, const char *label, int *shortest, int *h, int *w,
                          lp_error *err) {
    *shortest = *h = *w = 0;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v || cJSON_IsNull(v)) return LP_OK;
    bool found;
    if (cJSON_IsNumber(v)) {
        cJSON *tmp = cJSON_CreateObject();
        if (!tmp) return lp_fail(err, LP_ERR_NOMEM, "out of memory");
        cJSON_AddNumberToObject(tmp, "v", v->valuedouble);
        int n = 0;
        lp_status st = get_int(tmp, "v", label, &n, &found, err);
        cJSON_Delete(tmp);
        if (st != LP_OK) return lp_fail(err, LP_ERR_FORMAT, "%s: \"%s\"", label, key);
        *shortest = *h = *w = n;
        return LP_OK;
    }
    if (!cJSON_IsObject(v))
        return lp_fail(err, LP_ERR_FORMAT, "%s: \"%s\" must be an integer or an object", label, key);
    lp_status st = get_int(v, "shortest_edge", label, shortest, &found, err);
    if (st != LP_OK) return st;
    bool fh, fw;
    if ((st = get_int(v, "height", label, h, &fh, err)) != LP_OK) return st;
    if ((st = get_int(v, "width", label, w, &fw, err)) != LP_OK) return st;
    if (fh != fw) return lp_fail(err, LP_ERR_FORMAT, "%s: \"%s\" has only one of height/width", label, key);
    if (cJSON_GetObjectItemCaseSensitive(v, "longest_edge") && !found)
        return lp_fail(err, LP_ERR_UNSUPPORTED, "%s: \"%s\" with only longest_edge is not supported", label, key);
    if (!found && !fh)
        return lp_fail(err, LP_ERR_FORMAT, "%s: \"%s\" has neither shortest_edge nor height/width", label, key);
    return LP_OK;
}

static bool name_has(const cJSON *root, const char *needle) {
    const char *keys[] = {"image_processor_type", "feature_extractor_type"};
    for (int i = 0; i < 2; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, keys[i]);
        if (cJSON_IsString(v) && strstr(v->valuestring, needle)) return true;
    }
    return false;
}

static lp_status hf_apply(const cJSON *root, const char *label, lp_image_preprocess *p, lp_error *err) {
    lp_status st;
    lp_image_preprocess_default(p);
    p->crop_rounding = LP_CROP_FLOOR;
    bool do_resize = true, do_crop = false, do_rescale = true, do_norm = true;
    if ((st = get_bool(root, "do_resize", label, &do_resize, err)) != LP_OK) return st;
    if ((st = get_bool(root, "do_center_crop", label, &do_crop, err)) != LP_OK) return st;
    if ((st = get_bool(root, "do_rescale", label, &do_rescale, err)) != LP_OK) return st;
    if ((st = get_bool(root, "do_normalize", label, &do_norm, err)) != LP_OK) return st;
    int resample = LP_RESAMPLE_BILINEAR;
    bool found;
    const cJSON *rs = cJSON_GetObjectItemCaseSensitive(root, "resample");
    if (rs && !cJSON_IsNull(rs)) {
        if (!cJSON_IsNumber(rs) || rs->valuedouble < 0 || rs->valuedouble > 5 || rs->valuedouble != floor(rs->valuedouble))
            return lp_fail(err, LP_ERR_FORMAT, "%s: \"resample\" must be a PIL filter number 0..5", label);
        resample = (int)rs->valuedouble;
    }
    p->resample = (lp_image_resample)resample;
    const cJSON *rf = cJSON_GetObjectItemCaseSensitive(root, "rescale_factor");
    if (rf && !cJSON_IsNull(rf)) {
        if (!cJSON_IsNumber(rf) || !(rf->valuedouble > 0))
            return lp_fail(err, LP_ERR_FORMAT, "%s: \"rescale_factor\" must be a positive number", label);
        p->rescale = (float)rf->valuedouble;
    }
    if (!do_rescale) p->rescale = 1.0f;
    p->normalize = do_norm;
    if ((st = get_triple(root, "image_mean", label, p->mean, err)) != LP_OK) return st;
    if ((st = get_triple(root, "image_std", label, p->std, err)) != LP_OK) return st;

    int shortest, h, w, cs, ch, cw;
    if ((st = get_size(root, "size", label, &shortest, &h, &w, err)) != LP_OK) return st;
    if ((st = get_size(root, "crop_size", label, &cs, &ch, &cw, err)) != LP_OK) return st;
    (void)found;
    const cJSON *cp = cJSON_GetObjectItemCaseSensitive(root, "crop_pct");
    const bool convnext = name_has(root, "ConvNext");
    if (!do_resize) {
        p->resize_mode = LP_RESIZE_NONE;
    } else if (convnext) {
        /* ConvNextImageProcessor (microsoft/resnet-*): below 384, resize the
         * shorter side to int(size / crop_pct) and crop size x size; else warp. */
        if (!shortest) return lp_fail(err, LP_ERR_FORMAT, "%s: ConvNext-style \"size\" needs shortest_edge", label);
        double pct = 224.0 / 256.0;
        if (cp && !cJSON_IsNull(cp)) {
            if (!cJSON_IsNumber(cp) || !(cp->valuedouble > 0) || cp->valuedouble > 4)
                return lp_fail(err, LP_ERR_FORMAT, "%s: \"crop_pct\" must be a number in (0, 4]", label);
            pct = cp->valuedouble;
        }
        if (shortest < 384) {
            p->resize_mode = LP_RESIZE_SHORTEST_EDGE;
            p->shortest = (int)(shortest / pct);
            do_crop = true;
            ch = cw = shortest;
        } else {
            p->resize_mode = LP_RESIZE_EXACT;
            p->resize_h = p->resize_w = shortest;
            do_crop = false;
        }
    } else if (!cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(root, "size")) && shortest) {
        /* A bare integer (older configs): its meaning depends on the processor
         * class; resize-then-crop processors read it as the shortest edge,
         * the others as a square. */
        p->resize_mode = do_crop ? LP_RESIZE_SHORTEST_EDGE : LP_RESIZE_EXACT;
        p->shortest = p->resize_h = p->resize_w = shortest;
    } else if (shortest) {
        p->resize_mode = LP_RESIZE_SHORTEST_EDGE;
        p->shortest = shortest;
    } else {
        p->resize_mode = LP_RESIZE_EXACT;
        p->resize_h = h;
        p->resize_w = w;
    }
    if (do_resize && !convnext && !shortest && !h)
        return lp_fail(err, LP_ERR_FORMAT, "%s: \"do_resize\" is on but \"size\" is missing", label);
    p->center_crop = do_crop;
    if (do_crop && !convnext) {
        if (!ch || !cw) return lp_fail(err, LP_ERR_FORMAT, "%s: \"do_center_crop\" is on but \"crop_size\" is missing", label);
    }
    if (do_crop) {
        p->crop_h = ch;
        p->crop_w = cw;
    }
    snprintf(p->source, sizeof p->source, "%s", label);
    return lp_image_preprocess_validate(p, err);
}

lp_status lp_image_preprocess_from_hf_json(const char *json, const char *label, lp_image_preprocess *p,
                                           lp_error *err) {
    cJSON *root = cJSON_Parse(json);
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return lp_fail(err, LP_ERR_FORMAT, "%s is not a JSON object", label);
    }
    lp_status st = hf_apply(root, label, p, err);
    cJSON_Delete(root);
    return st;
}

/* timm's resolve_data_config + transforms_factory (eval): scale = floor(size /
 * crop_pct); "center" resizes the shorter side when the scale is square. */
static lp_status timm_apply(const cJSON *cfg, const char *label, lp_image_preprocess *p, lp_error *err) {
    lp_status st;
    lp_image_preprocess_default(p);
    int h = 224, w = 224;
    const cJSON *is = cJSON_GetObjectItemCaseSensitive(cfg, "input_size");
    if (is && !cJSON_IsNull(is)) {
        if (!cJSON_IsArray(is) || cJSON_GetArraySize(is) != 3 || !cJSON_IsNumber(cJSON_GetArrayItem(is, 0)) ||
            !cJSON_IsNumber(cJSON_GetArrayItem(is, 1)) || !cJSON_IsNumber(cJSON_GetArrayItem(is, 2)))
            return lp_fail(err, LP_ERR_FORMAT, "%s: \"input_size\" must be [3, height, width]", label);
        if (cJSON_GetArrayItem(is, 0)->valuedouble != 3)
            return lp_fail(err, LP_ERR_UNSUPPORTED, "%s: \"input_size\" has %g channels; only 3 (RGB) is supported",
                           label, cJSON_GetArrayItem(is, 0)->valuedouble);
        h = (int)cJSON_GetArrayItem(is, 1)->valuedouble;
        w = (int)cJSON_GetArrayItem(is, 2)->valuedouble;
        if (h < 1 || w < 1 || h > 8192 || w > 8192)
            return lp_fail(err, LP_ERR_FORMAT, "%s: \"input_size\" %dx%d is out of range", label, h, w);
    }
    double pct = 0.875;
    const cJSON *cp = cJSON_GetObjectItemCaseSensitive(cfg, "crop_pct");
    if (cp && !cJSON_IsNull(cp)) {
        if (!cJSON_IsNumber(cp) || !(cp->valuedouble > 0) || cp->valuedouble > 4)
            return lp_fail(err, LP_ERR_FORMAT, "%s: \"crop_pct\" must be a number in (0, 4]", label);
        pct = cp->valuedouble;
    }
    const cJSON *ip = cJSON_GetObjectItemCaseSensitive(cfg, "interpolation");
    p->resample = LP_RESAMPLE_BICUBIC; /* timm's default */
    if (ip && !cJSON_IsNull(ip)) {
        if (!cJSON_IsString(ip)) return lp_fail(err, LP_ERR_FORMAT, "%s: \"interpolation\" must be a string", label);
        if ((st = lp_image_resample_parse(ip->valuestring, &p->resample, err)) != LP_OK)
            return lp_fail(err, st, "%s", label);
    }
    const cJSON *cm = cJSON_GetObjectItemCaseSensitive(cfg, "crop_mode");
    const char *mode = cJSON_IsString(cm) ? cm->valuestring : "center";
    int sh = (int)floor(h / pct), sw = (int)floor(w / pct);
    if (!strcmp(mode, "center")) {
        if (sh != sw)
            return lp_fail(err, LP_ERR_UNSUPPORTED, "%s: a non-square scale (%dx%d, timm's ResizeKeepRatio) is not supported",
                           label, sw, sh);
        p->resize_mode = LP_RESIZE_SHORTEST_EDGE;
        p->shortest = sh;
    } else if (!strcmp(mode, "squash")) {
        p->resize_mode = LP_RESIZE_EXACT;
        p->resize_h = sh;
        p->resize_w = sw;
    } else {
        return lp_fail(err, LP_ERR_UNSUPPORTED, "%s: crop_mode \"%s\" is not supported (center, squash)", label, mode);
    }
    p->center_crop = true;
    p->crop_h = h;
    p->crop_w = w;
    p->crop_rounding = LP_CROP_ROUND_HALF_EVEN;
    if ((st = get_triple(cfg, "mean", label, p->mean, err)) != LP_OK) return st;
    if ((st = get_triple(cfg, "std", label, p->std, err)) != LP_OK) return st;
    snprintf(p->source, sizeof p->source, "%s", label);
    return lp_image_preprocess_validate(p, err);
}

lp_status lp_image_preprocess_from_timm_json(const char *json, const char *label, lp_image_preprocess *p,
                                             lp_error *err) {
    cJSON *root = cJSON_Parse(json);
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return lp_fail(err, LP_ERR_FORMAT, "%s is not a JSON object", label);
    }
    const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(root, "pretrained_cfg");
    if (!cfg) cfg = root; /* a bare pretrained_cfg */
    lp_status st = cJSON_IsObject(cfg) ? timm_apply(cfg, label, p, err)
                                       : lp_fail(err, LP_ERR_FORMAT, "%s: \"pretrained_cfg\" is not an object", label);
    cJSON_Delete(root);
    return st;
}

lp_status lp_image_preprocess_from_dir(const char *dir, lp_image_preprocess *p, lp_error *err) {
    char path[4096];
    char *text = NULL;
    lp_status st;
    snprintf(path, sizeof path, "%s/preprocessor_config.json", dir);
    if (file_exists(path)) {
        if ((st = read_text(path, &text, err)) != LP_OK) return st;
        st = lp_image_preprocess_from_hf_json(text, "preprocessor_config.json", p, err);
        free(text);
        return st != LP_OK ? lp_fail(err, st, "%s", dir) : LP_OK;
    }
    snprintf(path, sizeof path, "%s/config.json", dir);
    if (file_exists(path)) {
        if ((st = read_text(path, &text, err)) != LP_OK) return st;
        cJSON *root = cJSON_Parse(text);
        free(text);
        if (!root) return lp_fail(err, LP_ERR_FORMAT, "%s is not valid JSON", path);
        const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(root, "pretrained_cfg");
        st = LP_OK;
        if (cfg) {
            st = cJSON_IsObject(cfg) ? timm_apply(cfg, "config.json pretrained_cfg (timm)", p, err)
                                     : lp_fail(err, LP_ERR_FORMAT, "\"pretrained_cfg\" is not an object");
            cJSON_Delete(root);
            return st != LP_OK ? lp_fail(err, st, "%s", path) : LP_OK;
        }
        cJSON_Delete(root);
    }
    lp_image_preprocess_default(p);
    return LP_OK;
}
