#include "tests/op_fixture.h"

#include <stdio.h>
#include <string.h>

#include "tests/test_util.h"

bool fixture_open(fixture *fx, const char *file) {
    char path[512], rel[128];
    snprintf(rel, sizeof rel, "tests/fixtures/ops/%s", file);
    lp_error err = {0};
    fx->file = file;
    fx->params = NULL;
    fx->index = -1;
    lp_status st = lp_safetensors_open(lp_test_source_path(rel, path, sizeof path), &fx->st, &err);
    CHECK_MSG(st == LP_OK, "cannot open %s: %s", path, err.msg);
    return st == LP_OK;
}

bool fixture_next(fixture *fx) {
    cJSON_Delete(fx->params);
    fx->params = NULL;
    char key[32];
    snprintf(key, sizeof key, "case%d", ++fx->index);
    const char *json = lp_safetensors_metadata(fx->st, key);
    if (!json) return false;
    fx->params = cJSON_Parse(json);
    CHECK_MSG(fx->params != NULL, "%s %s: metadata is not JSON: %s", fx->file, key, json);
    return fx->params != NULL;
}

void fixture_close(fixture *fx) {
    cJSON_Delete(fx->params);
    lp_safetensors_close(fx->st);
}

lp_tensor fixture_get(fixture *fx, const char *name, bool optional) {
    char full[64];
    snprintf(full, sizeof full, "case%d.%s", fx->index, name);
    lp_tensor t;
    memset(&t, 0, sizeof t);
    if (optional && !lp_safetensors_find(fx->st, full)) return t;
    lp_error err = {0};
    lp_status st = lp_safetensors_get(fx->st, full, &t, &err);
    CHECK_MSG(st == LP_OK, "%s: %s", fx->file, err.msg);
    return t;
}

const char *fixture_param_str(const fixture *fx, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(fx->params, key);
    return cJSON_IsString(v) ? v->valuestring : "";
}

bool fixture_param_bool(const fixture *fx, const char *key) {
    return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(fx->params, key));
}
