/* pretrained/config (HF config.json) and pretrained/fs (whole-file reads,
 * atomic writes): typed lookups, refusals naming the file and key, limits. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pretrained/config.h"
#include "pretrained/fs.h"
#include "tests/test_util.h"

static lp_hf_config *parse(const char *text) {
    lp_hf_config *c = NULL;
    lp_error err = {0};
    CHECK_OK(lp_hf_config_parse(text, strlen(text), "cfg.json", &c, &err), &err);
    return c;
}

static void test_fixture_config(void) {
    char path[512];
    lp_test_source_path("tests/fixtures/safetensors/tiny_bert/config.json", path, sizeof path);
    lp_hf_config *c = NULL;
    lp_error err = {0};
    CHECK_OK(lp_hf_config_load(path, &c, &err), &err);
    if (!c) return;
    CHECK(!strcmp(lp_hf_config_label(c), path));
    CHECK(lp_hf_config_architecture_count(c) == 1);
    CHECK(!strcmp(lp_hf_config_architecture(c, 0), "BertModel"));
    CHECK(lp_hf_config_architecture(c, 1) == NULL);
    CHECK(!strcmp(lp_hf_config_model_type(c), "bert"));
    int64_t v = 0;
    CHECK_OK(lp_hf_config_int(c, "hidden_size", &v, &err), &err);
    CHECK(v == 8);
    double eps = 0;
    CHECK_OK(lp_hf_config_float(c, "layer_norm_eps", &eps, &err), &err);
    CHECK(eps == 1e-12);
    const char *act = NULL;
    CHECK_OK(lp_hf_config_string(c, "hidden_act", &act, &err), &err);
    CHECK(act && !strcmp(act, "gelu"));
    lp_hf_config_free(c);
}

static void test_lookups(void) {
    lp_hf_config *c = parse("{\"n\": 12, \"f\": 0.5, \"big\": 1e300, \"neg\": -3, \"s\": \"x\","
                            " \"b\": true, \"z\": null, \"half\": 2.5}");
    if (!c) return;
    lp_error err = {0};
    int64_t i = 0;
    double d = 0;
    bool b = false;
    const char *s = NULL;
    CHECK_OK(lp_hf_config_int(c, "neg", &i, &err), &err);
    CHECK(i == -3);
    CHECK_FAILS(lp_hf_config_int(c, "half", &i, &err), LP_ERR_FORMAT, &err,
                "cfg.json: \"half\" is not an integer");
    CHECK_FAILS(lp_hf_config_int(c, "big", &i, &err), LP_ERR_FORMAT, &err, "not an integer");
    CHECK_FAILS(lp_hf_config_int(c, "s", &i, &err), LP_ERR_FORMAT, &err, "not an integer");
    CHECK_FAILS(lp_hf_config_int(c, "missing", &i, &err), LP_ERR_FORMAT, &err,
                "cfg.json: no \"missing\"");
    CHECK_OK(lp_hf_config_float(c, "n", &d, &err), &err);
    CHECK(d == 12);
    CHECK_FAILS(lp_hf_config_float(c, "b", &d, &err), LP_ERR_FORMAT, &err, "not a number");
    CHECK_OK(lp_hf_config_bool(c, "b", &b, &err), &err);
    CHECK(b);
    CHECK_FAILS(lp_hf_config_bool(c, "n", &b, &err), LP_ERR_FORMAT, &err, "not true or false");
    CHECK_FAILS(lp_hf_config_string(c, "n", &s, &err), LP_ERR_FORMAT, &err, "not a string");
    CHECK_OK(lp_hf_config_int_or(c, "missing", 7, &i, &err), &err);
    CHECK(i == 7);
    CHECK_OK(lp_hf_config_int_or(c, "z", 9, &i, &err), &err); /* null means "not set" */
    CHECK(i == 9);
    CHECK_OK(lp_hf_config_int_or(c, "n", 7, &i, &err), &err);
    CHECK(i == 12);
    CHECK_FAILS(lp_hf_config_int_or(c, "s", 7, &i, &err), LP_ERR_FORMAT, &err, "not an integer");
    CHECK_OK(lp_hf_config_float_or(c, "missing", 0.25, &d, &err), &err);
    CHECK(d == 0.25);
    CHECK(lp_hf_config_has(c, "z") && !lp_hf_config_has(c, "missing"));
    CHECK(lp_hf_config_model_type(c) == NULL && lp_hf_config_architecture_count(c) == 0);
    lp_hf_config_free(c);
}

static void expect_bad(const char *text, const char *needle) {
    lp_hf_config *c = (lp_hf_config *)1;
    lp_error err = {0};
    CHECK_FAILS(lp_hf_config_parse(text, strlen(text), "cfg.json", &c, &err), LP_ERR_FORMAT, &err,
                needle);
    CHECK(c == NULL);
}

static void test_refusals(void) {
    expect_bad("", "cfg.json: not valid JSON");
    expect_bad("{\"a\":", "not valid JSON");
    expect_bad("[1]", "not a JSON object");
    expect_bad("{} {}", "bytes after the JSON object");
    expect_bad("{\"a\":\"\xff\"}", "not valid UTF-8");
    expect_bad("{\"architectures\":\"BertModel\"}", "\"architectures\" is not an array of strings");
    expect_bad("{\"architectures\":[\"A\",1]}", "\"architectures\" is not an array of strings");
    expect_bad("{\"model_type\":3}", "\"model_type\" is not a string");
}

static void test_fs(void) {
    char dir[] = "/tmp/lp_fs_XXXXXX";
    if (!CHECK(mkdtemp(dir) != NULL)) return;
    char path[128];
    snprintf(path, sizeof path, "%s/f.txt", dir);
    lp_error err = {0};
    CHECK_OK(lp_fs_write_atomic(path, "hello", 5, &err), &err);
    char *text = NULL;
    size_t n = 0;
    CHECK_OK(lp_fs_read_file(path, 5, &text, &n, &err), &err);
    CHECK(n == 5 && text && !strcmp(text, "hello"));
    free(text);
    CHECK_FAILS(lp_fs_read_file(path, 4, &text, &n, &err), LP_ERR_FORMAT, &err,
                "5 bytes is above the limit of 4");
    CHECK_FAILS(lp_fs_read_file(dir, 100, &text, &n, &err), LP_ERR_IO, &err, "is a directory");
    CHECK_FAILS(lp_fs_read_file("/nonexistent/x", 100, &text, &n, &err), LP_ERR_IO, &err,
                "/nonexistent/x: cannot open");
    /* an aborted atomic file leaves the old content and no temporary */
    lp_atomic_file *f = NULL;
    CHECK_OK(lp_fs_atomic_open(path, &f, &err), &err);
    CHECK_OK(lp_fs_atomic_write(f, "partial", 7, &err), &err);
    lp_fs_atomic_abort(f);
    CHECK_OK(lp_fs_read_file(path, 100, &text, &n, &err), &err);
    CHECK(text && !strcmp(text, "hello"));
    free(text);
    struct stat sb;
    CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0644);
    CHECK(unlink(path) == 0);
    CHECK(rmdir(dir) == 0); /* fails if a temporary file was left behind */
}

int main(void) {
    test_fixture_config();
    test_lookups();
    test_refusals();
    test_fs();
    return lp_test_finish();
}
