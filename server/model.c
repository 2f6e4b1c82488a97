/* Loading one served model: which task its checkpoint is for (from
 * config.json, unless the configuration says), then the model itself. Runs on
 * the loader thread; the event thread reads `state` to see when it is done. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "server/server_internal.h"

const char *lp_srv_task_name(lp_srv_task t) {
    switch (t) {
    case LP_TASK_CLASSIFY: return "classify";
    case LP_TASK_EMBED: return "embed";
    case LP_TASK_IMAGE: return "classify-image";
    case LP_TASK_TRANSLATE: return "translate";
    default: return "unknown";
    }
}

const char *lp_srv_model_state_name(lp_srv_model_state s) {
    switch (s) {
    case LP_MODEL_LOADING: return "loading";
    case LP_MODEL_READY: return "ready";
    default: return "failed";
    }
}

int64_t lp_srv_model_num_labels(const lp_srv_model *m) {
    if (atomic_load(&m->state) != LP_MODEL_READY) return 0;
    if (m->encoder && lp_encoder_can_classify(m->encoder)) return lp_encoder_num_labels(m->encoder);
    if (m->image) return lp_image_classifier_num_classes(m->image);
    return 0;
}

const char *lp_srv_model_label(const lp_srv_model *m, int64_t i) {
    if (i < 0 || i >= lp_srv_model_num_labels(m)) return NULL;
    if (m->encoder) return lp_encoder_label(m->encoder, i);
    return lp_image_classifier_label(m->image, (int)i);
}

/* The family a checkpoint directory holds, from its config.json: ResNet
 * (transformers model_type "resnet", a timm "architecture", or no config.json
 * at all: a torchvision state dict), Marian, else a BERT-family encoder. */
static lp_status guess_family(const char *dir, lp_srv_task *task, bool *encoder, lp_error *err) {
    char p[4096];
    snprintf(p, sizeof p, "%s/config.json", dir);
    FILE *f = fopen(p, "rb");
    *encoder = false;
    if (!f) {
        snprintf(p, sizeof p, "%s/model.safetensors", dir);
        struct stat st;
        if (stat(p, &st) != 0)
            return lp_fail(err, LP_ERR_IO, "%s holds neither config.json nor model.safetensors", dir);
        *task = LP_TASK_IMAGE;
        return LP_OK;
    }
    char *buf = malloc(1 << 20);
    size_t n = buf ? fread(buf, 1, (1 << 20) - 1, f) : 0;
    fclose(f);
    if (!buf) return lp_fail(err, LP_ERR_NOMEM, "out of memory");
    buf[n] = 0;
    cJSON *cfg = cJSON_Parse(buf);
    free(buf);
    if (!cJSON_IsObject(cfg)) {
        cJSON_Delete(cfg);
        return lp_fail(err, LP_ERR_FORMAT, "%s/config.json is not a JSON object", dir);
    }
    const cJSON *mt = cJSON_GetObjectItemCaseSensitive(cfg, "model_type");
    const cJSON *archs = cJSON_GetObjectItemCaseSensitive(cfg, "architectures");
    const cJSON *timm = cJSON_GetObjectItemCaseSensitive(cfg, "architecture");
    const char *arch0 = cJSON_IsArray(archs) && cJSON_IsString(cJSON_GetArrayItem(archs, 0))
                            ? cJSON_GetArrayItem(archs, 0)->valuestring
                            : "";
    const char *type = cJSON_IsString(mt) ? mt->valuestring : "";
    if (!strcmp(type, "resnet") || strstr(arch0, "ResNet") || (cJSON_IsString(timm) && strstr(timm->valuestring, "resnet")))
        *task = LP_TASK_IMAGE;
    else if (!strcmp(type, "marian") || strstr(arch0, "MarianMT"))
        *task = LP_TASK_TRANSLATE;
    else
        *encoder = true;
    cJSON_Delete(cfg);
    return LP_OK;
}

lp_status lp_srv_model_load(lp_srv_model *m, lp_error *err) {
    lp_srv_task task = LP_TASK_CLASSIFY;
    bool encoder = false;
    const char *dir = m->cfg.dir;
    if (guess_family(dir, &task, &encoder, err)) return err->status;
    if (encoder) {
        if (lp_encoder_load(dir, &m->encoder, err)) return err->status;
        if (!lp_encoder_has_tokenizer(m->encoder))
            return lp_fail(err, LP_ERR_FORMAT, "%s: no usable tokenizer: %s", dir,
                           lp_encoder_tokenizer_error(m->encoder));
        task = lp_encoder_can_classify(m->encoder) ? LP_TASK_CLASSIFY : LP_TASK_EMBED;
        if (m->cfg.task_given) {
            if (m->cfg.task == LP_TASK_CLASSIFY && task != LP_TASK_CLASSIFY)
                return lp_fail(err, LP_ERR_INVALID_ARG,
                               "%s has no classification head, so it cannot serve task classify (use embed)", dir);
            if (m->cfg.task != LP_TASK_CLASSIFY && m->cfg.task != LP_TASK_EMBED)
                return lp_fail(err, LP_ERR_INVALID_ARG, "%s is a text encoder: it serves classify or embed, not %s",
                               dir, lp_srv_task_name(m->cfg.task));
            task = m->cfg.task;
        }
    } else if (task == LP_TASK_IMAGE) {
        if (m->cfg.task_given && m->cfg.task != LP_TASK_IMAGE)
            return lp_fail(err, LP_ERR_INVALID_ARG, "%s is an image classifier: it serves classify-image or diagnose",
                           dir);
        if (lp_image_classifier_load(dir, NULL, &m->image, err)) return err->status;
    } else {
        if (m->cfg.task_given && m->cfg.task != LP_TASK_TRANSLATE)
            return lp_fail(err, LP_ERR_INVALID_ARG, "%s is a translation model: it serves translate", dir);
        if (lp_translator_load(dir, &m->translator, err)) return err->status;
    }
    m->task = task;
    return LP_OK;
}

void lp_srv_model_unload(lp_srv_model *m) {
    lp_encoder_free(m->encoder);
    m->encoder = NULL;
    lp_image_classifier_free(m->image);
    m->image = NULL;
    lp_translator_free(m->translator);
    m->translator = NULL;
}
