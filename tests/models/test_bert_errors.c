/* Checkpoints lepton must refuse, with messages that name the field, tensor and
 * file: corrupt copies of the committed bert-chinese-cls fixture are written to
 * a temporary directory (missing tensor, wrong shape, wrong dtype), and configs
 * with unsupported values are parsed. Also: bad inputs to a loaded encoder. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "models/encoder.h"
#include "pretrained/safetensors.h"
#include "tests/test_util.h"

static char g_src[4096]; /* the fixture directory */

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    fputs(text, f);
    fclose(f);
}

/* A copy of the fixture in `dir` whose weights have one change:
 * drop `name`, or give it `new_shape`/`new_dtype`. */
typedef enum change { DROP, RESHAPE, RETYPE } change;

static void make_corrupt(const char *dir, const char *name, change how) {
    char path[8192];
    lp_error err = {0};
    mkdir(dir, 0755);
    snprintf(path, sizeof path, "%s/config.json", g_src);
    char *cfg = lp_test_read_file(path, NULL);
    snprintf(path, sizeof path, "%s/config.json", dir);
    write_text(path, cfg);
    free(cfg);
    snprintf(path, sizeof path, "%s/model.safetensors", g_src);
    lp_safetensors *st = NULL;
    CHECK_OK(lp_safetensors_open(path, &st, &err), &err);
    if (!st) return;
    size_t n = lp_safetensors_count(st), k = 0;
    lp_st_entry *entries = calloc(n, sizeof *entries);
    lp_tensor *views = calloc(n, sizeof *views);
    void *scratch = NULL;
    for (size_t i = 0; i < n; i++) {
        const lp_st_tensor *t = lp_safetensors_at(st, i);
        lp_safetensors_get(st, t->name, &views[k], &err);
        if (!strcmp(t->name, name)) {
            if (how == DROP) continue;
            if (how == RESHAPE) views[k].shape[0] -= 1; /* a row short, still valid data */
            if (how == RETYPE) {
                scratch = calloc((size_t)lp_tensor_numel(&views[k]), sizeof(int32_t));
                views[k].data = scratch;
                views[k].dtype = LP_I32;
            }
        }
        entries[k] = (lp_st_entry){t->name, &views[k]};
        k++;
    }
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    CHECK_OK(lp_safetensors_write(path, entries, k, NULL, 0, &err), &err);
    free(scratch);
    free(entries);
    free(views);
    lp_safetensors_close(st);
}

static void remove_dir(const char *dir) {
    char path[8192];
    snprintf(path, sizeof path, "%s/config.json", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    unlink(path);
    rmdir(dir);
}

static void expect_load_fails(const char *dir, lp_status status, const char *needle1,
                              const char *needle2) {
    lp_error err = {0};
    lp_encoder *enc = NULL;
    lp_status st = lp_encoder_load(dir, &enc, &err);
    lp_error saved = err; /* CHECK_FAILS clears err */
    CHECK_FAILS(st, status, &err, needle1);
    if (needle2) CHECK_MSG(strstr(saved.msg, needle2) != NULL, "'%s' not in: %s", needle2, saved.msg);
    CHECK(enc == NULL);
    printf("  refused: %s\n", saved.msg);
}

static void test_corrupt_weights(const char *tmp) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/missing", tmp);
    make_corrupt(dir, "bert.encoder.layer.1.output.dense.weight", DROP);
    expect_load_fails(dir, LP_ERR_FORMAT, "bert.encoder.layer.1.output.dense.weight", "missing");
    CHECK(strstr(dir, "missing") != NULL);
    remove_dir(dir);

    snprintf(dir, sizeof dir, "%s/shape", tmp);
    make_corrupt(dir, "classifier.weight", RESHAPE);
    expect_load_fails(dir, LP_ERR_SHAPE, "classifier.weight", "[2, 32]");
    remove_dir(dir);

    snprintf(dir, sizeof dir, "%s/dtype", tmp);
    make_corrupt(dir, "bert.pooler.dense.bias", RETYPE);
    expect_load_fails(dir, LP_ERR_DTYPE, "bert.pooler.dense.bias", "i32");
    remove_dir(dir);

    snprintf(dir, sizeof dir, "%s/nothing-here", tmp);
    mkdir(dir, 0755);
    expect_load_fails(dir, LP_ERR_IO, "config.json", NULL);
    char path[8192];
    snprintf(path, sizeof path, "%s/config.json", g_src);
    char *cfg = lp_test_read_file(path, NULL);
    snprintf(path, sizeof path, "%s/config.json", dir);
    write_text(path, cfg);
    free(cfg);
    expect_load_fails(dir, LP_ERR_IO, "model.safetensors", NULL);
    snprintf(path, sizeof path, "%s/pytorch_model.bin", dir);
    write_text(path, "not read");
    expect_load_fails(dir, LP_ERR_UNSUPPORTED, "pytorch_model.bin", "tools/convert_hf_bin.py");
    unlink(path);
    snprintf(path, sizeof path, "%s/model.safetensors.index.json", dir);
    write_text(path, "{}");
    expect_load_fails(dir, LP_ERR_UNSUPPORTED, "sharded", NULL);
    unlink(path);
    remove_dir(dir);
}

static void expect_config_fails(const char *json, lp_status status, const char *needle) {
    lp_bert_config cfg;
    lp_error err = {0};
    lp_status st = lp_bert_config_parse(json, "test/config.json", &cfg, &err);
    lp_error saved = err; /* CHECK_FAILS clears err */
    CHECK_FAILS(st, status, &err, needle);
    CHECK_MSG(strstr(saved.msg, "test/config.json") != NULL, "file not named: %s", saved.msg);
    printf("  refused: %s\n", saved.msg);
}

#define BASE "\"hidden_size\": 32, \"num_hidden_layers\": 2, \"num_attention_heads\": 4, " \
             "\"intermediate_size\": 64, \"vocab_size\": 100"

static void test_configs(void) {
    lp_bert_config cfg;
    lp_error err = {0};
    CHECK_OK(lp_bert_config_parse("{\"model_type\": \"bert\", " BASE "}", "ok", &cfg, &err), &err);
    CHECK(cfg.kind.family == LP_FAMILY_BERT && cfg.kind.head == LP_HEAD_NONE);
    CHECK(cfg.hidden_act == LP_ACT_GELU_ERF && cfg.type_vocab_size == 2 && cfg.pad_token_id == 0);
    lp_bert_config_release(&cfg);
    CHECK_OK(lp_bert_config_parse("{\"model_type\": \"roberta\", \"architectures\": "
                                  "[\"RobertaForSequenceClassification\"], \"hidden_act\": "
                                  "\"gelu_new\", " BASE "}",
                                  "ok", &cfg, &err),
             &err);
    CHECK(cfg.kind.family == LP_FAMILY_ROBERTA && cfg.num_labels == 2 && cfg.pad_token_id == 1);
    CHECK(cfg.hidden_act == LP_ACT_GELU_TANH && !strcmp(cfg.id2label[1], "LABEL_1"));
    CHECK(lp_bert_max_tokens(&cfg) == 512 - 2);
    lp_bert_config_release(&cfg);

    expect_config_fails("{\"model_type\": \"bert\", \"architectures\": [\"BertForTokenClassification\"], " BASE "}",
                        LP_ERR_UNSUPPORTED, "architectures[0] = \"BertForTokenClassification\"");
    expect_config_fails("{\"model_type\": \"gpt2\", " BASE "}", LP_ERR_UNSUPPORTED,
                        "model_type = \"gpt2\"");
    expect_config_fails("{\"model_type\": \"roberta\", \"architectures\": [\"BertModel\"], " BASE "}",
                        LP_ERR_UNSUPPORTED, "does not go with");
    expect_config_fails("{\"model_type\": \"bert\", \"position_embedding_type\": \"relative_key\", " BASE "}",
                        LP_ERR_UNSUPPORTED, "position_embedding_type = \"relative_key\"");
    expect_config_fails("{\"model_type\": \"bert\", \"hidden_act\": \"swish\", " BASE "}",
                        LP_ERR_UNSUPPORTED, "hidden_act = \"swish\"");
    expect_config_fails("{\"model_type\": \"bert\", \"hidden_size\": 30, \"num_hidden_layers\": 2, "
                        "\"num_attention_heads\": 4, \"intermediate_size\": 64, \"vocab_size\": 100}",
                        LP_ERR_FORMAT, "not a multiple");
    expect_config_fails("{\"model_type\": \"bert\", \"num_hidden_layers\": 2}", LP_ERR_FORMAT,
                        "\"vocab_size\" is missing");
    expect_config_fails("{\"model_type\": \"bert\", \"hidden_size\": -4, \"num_hidden_layers\": 2, "
                        "\"num_attention_heads\": 4, \"intermediate_size\": 64, \"vocab_size\": 100}",
                        LP_ERR_FORMAT, "hidden_size");
    expect_config_fails("{\"model_type\": \"bert\", \"architectures\": [\"BertForSequenceClassification\"], "
                        "\"id2label\": {\"0\": \"a\", \"2\": \"b\"}, " BASE "}",
                        LP_ERR_FORMAT, "id2label");
    expect_config_fails("[1, 2]", LP_ERR_FORMAT, "not a JSON object");
    expect_config_fails("{\"model_type\": \"bert\", ", LP_ERR_FORMAT, "not valid JSON");
    expect_config_fails("{\"model_type\": \"distilbert\", \"dim\": 32, \"n_layers\": 2, \"n_heads\": 4, "
                        "\"hidden_dim\": 64, \"vocab_size\": 100, \"activation\": \"silu\"}",
                        LP_ERR_UNSUPPORTED, "activation = \"silu\"");
}

static void test_bad_inputs(void) {
    lp_error err = {0};
    lp_encoder *enc = NULL;
    CHECK_OK(lp_encoder_load(g_src, &enc, &err), &err);
    if (!enc) return;
    CHECK(!lp_bert_converted_at_load(lp_encoder_model(enc))); /* f32: zero-copy views */
    lp_encoder_session *s = NULL;
    CHECK_OK(lp_encoder_session_create(enc, NULL, 8, &s, &err), &err);
    float logits[3 * 2];
    int32_t ok_ids[3] = {101, 700, 102}, bad_ids[3] = {101, 999999, 102}, bad_types[3] = {0, 5, 0};
    lp_encoder_input in[2] = {{ok_ids, NULL, 3}, {ok_ids, NULL, 0}};
    CHECK_FAILS(lp_encoder_classify_ids(s, in, 2, logits, &err), LP_ERR_INVALID_ARG, &err,
                "input 1 has no tokens");
    in[1] = (lp_encoder_input){ok_ids, NULL, 513};
    CHECK_FAILS(lp_encoder_classify_ids(s, in, 2, logits, &err), LP_ERR_INVALID_ARG, &err,
                "at most 512");
    in[1] = (lp_encoder_input){bad_ids, NULL, 3};
    CHECK_FAILS(lp_encoder_classify_ids(s, in, 2, logits, &err), LP_ERR_INVALID_ARG, &err,
                "token id 999999");
    in[1] = (lp_encoder_input){ok_ids, bad_types, 3};
    CHECK_FAILS(lp_encoder_classify_ids(s, in, 2, logits, &err), LP_ERR_INVALID_ARG, &err,
                "token type 5");
    lp_encoder_session_free(s);
    lp_encoder_free(enc);

    /* an encoder without a head refuses to classify; f16 weights are converted at load */
    char dir[4096];
    lp_test_source_path("tests/fixtures/bert/st-mean-norm", dir, sizeof dir);
    CHECK_OK(lp_encoder_load(dir, &enc, &err), &err);
    if (enc) {
        CHECK(!lp_encoder_can_classify(enc));
        CHECK_OK(lp_encoder_session_create(enc, NULL, 8, &s, &err), &err);
        in[0] = (lp_encoder_input){ok_ids, NULL, 3};
        CHECK_FAILS(lp_encoder_classify_ids(s, in, 1, logits, &err), LP_ERR_INVALID_ARG, &err,
                    "no classification head");
        lp_encoder_session_free(s);
        lp_encoder_free(enc);
    }
    lp_test_source_path("tests/fixtures/bert/roberta-cls", dir, sizeof dir);
    CHECK_OK(lp_encoder_load(dir, &enc, &err), &err);
    if (enc) {
        CHECK(lp_bert_converted_at_load(lp_encoder_model(enc)));
        lp_encoder_free(enc);
    }
}

int main(void) {
    lp_test_source_path("tests/fixtures/bert/bert-chinese-cls", g_src, sizeof g_src);
    char tmp[] = "/tmp/lp_bert_errors_XXXXXX";
    CHECK(mkdtemp(tmp) != NULL);
    test_corrupt_weights(tmp);
    rmdir(tmp);
    test_configs();
    test_bad_inputs();
    return lp_test_finish();
}
