/* Class names for a ResNet: config.json id2label (transformers), label_names
 * (timm), labels.txt beside the weights, else "class_N". A label set whose
 * size differs from the classifier's is an error, not a guess.
 *
 * ImageNet names are not built in: a 1000-class checkpoint converted with
 * tools/convert_torchvision_resnet.py --labels gets a labels.txt beside it,
 * so the binary carries no data copied from elsewhere and every model says
 * where its names came from. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/image_decode.h"
#include "models/resnet_internal.h"

static lp_status set_label(lp_resnet *m, int i, const char *text, size_t len, lp_error *err) {
    char *s = malloc(len + 1);
    if (!s) return lp_fail(err, LP_ERR_NOMEM, "out of memory for labels");
    memcpy(s, text, len);
    s[len] = 0;
    m->labels[i] = s;
    return lp_resnet_own(m, s, err);
}

static lp_status from_id2label(lp_resnet *m, const cJSON *map, lp_error *err) {
    int n = cJSON_GetArraySize(map);
    if (n != m->classes)
        return lp_fail(err, LP_ERR_FORMAT, "config.json: id2label has %d labels but the classifier has %d outputs", n,
                       m->classes);
    const cJSON *e;
    cJSON_ArrayForEach(e, map) {
        char *end;
        long id = strtol(e->string, &end, 10);
        if (*end || end == e->string || id < 0 || id >= m->classes || !cJSON_IsString(e))
            return lp_fail(err, LP_ERR_FORMAT, "config.json: id2label key \"%s\" is not a class index 0..%d with a "
                           "string label", e->string, m->classes - 1);
        if (m->labels[id]) return lp_fail(err, LP_ERR_FORMAT, "config.json: id2label repeats index %ld", id);
        lp_status st = set_label(m, (int)id, e->valuestring, strlen(e->valuestring), err);
        if (st != LP_OK) return st;
    }
    m->label_source = "id2label";
    return LP_OK;
}

static lp_status from_list(lp_resnet *m, const cJSON *list, lp_error *err) {
    if (cJSON_GetArraySize(list) != m->classes)
        return lp_fail(err, LP_ERR_FORMAT, "config.json: label_names has %d labels but the classifier has %d outputs",
                       cJSON_GetArraySize(list), m->classes);
    int i = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, list) {
        if (!cJSON_IsString(e)) return lp_fail(err, LP_ERR_FORMAT, "config.json: label_names[%d] is not a string", i);
        lp_status st = set_label(m, i++, e->valuestring, strlen(e->valuestring), err);
        if (st != LP_OK) return st;
    }
    m->label_source = "label_names";
    return LP_OK;
}

static lp_status from_file(lp_resnet *m, const char *path, lp_error *err) {
    uint8_t *bytes;
    size_t n;
    lp_status st = lp_image_read_file(path, (size_t)16 << 20, &bytes, &n, err);
    if (st != LP_OK) return st;
    const char *p = (const char *)bytes, *end = p + n;
    int i = 0;
    while (p < end && st == LP_OK) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *e = nl ? nl : end;
        size_t len = (size_t)(e - p);
        if (len && p[len - 1] == '\r') len--;
        if (!(nl == NULL && len == 0)) { /* a final newline ends the file, it is no label */
            if (i >= m->classes) {
                st = lp_fail(err, LP_ERR_FORMAT, "%s has more than the classifier's %d labels", path, m->classes);
                break;
            }
            st = set_label(m, i++, p, len, err);
        }
        p = nl ? nl + 1 : end;
    }
    free(bytes);
    if (st == LP_OK && i != m->classes)
        st = lp_fail(err, LP_ERR_FORMAT, "%s has %d labels but the classifier has %d outputs", path, i, m->classes);
    m->label_source = "labels.txt";
    return st;
}

lp_status lp_resnet_load_labels(lp_resnet *m, const char *dir, const cJSON *cfg, lp_error *err) {
    m->labels = calloc((size_t)m->classes, sizeof *m->labels);
    if (!m->labels) return lp_fail(err, LP_ERR_NOMEM, "out of memory for labels");
    lp_status st = lp_resnet_own(m, m->labels, err);
    if (st != LP_OK) return st;
    const cJSON *map = cfg ? cJSON_GetObjectItemCaseSensitive(cfg, "id2label") : NULL;
    const cJSON *list = cfg ? cJSON_GetObjectItemCaseSensitive(cfg, "label_names") : NULL;
    if (cJSON_IsObject(map)) return from_id2label(m, map, err);
    if (cJSON_IsArray(list)) return from_list(m, list, err);
    char path[4096];
    snprintf(path, sizeof path, "%s/labels.txt", dir);
    FILE *f = fopen(path, "rb");
    if (f) {
        fclose(f);
        return from_file(m, path, err);
    }
    for (int i = 0; i < m->classes; i++) {
        char buf[32];
        int len = snprintf(buf, sizeof buf, "class_%d", i);
        if ((st = set_label(m, i, buf, (size_t)len, err)) != LP_OK) return st;
    }
    m->label_source = "none";
    return LP_OK;
}
