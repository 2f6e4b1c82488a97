/* `lepton classify --model DIR [--pair] [--batch-size N] [--threads N]
 *  [--device cpu|cuda[:N]]`:
 * sequence classification of stdin lines with a BERT-family checkpoint
 * (config.json + model.safetensors + tokenizer files in DIR).
 *
 * Each line (with --pair: two texts split at the first TAB; no TAB means an
 * empty second text) prints one JSON object:
 *   {"label": "positive", "score": 0.93, "scores": {"negative": 0.02, ...},
 *    "truncated": false}
 * scores are the softmax of the logits (sigmoid for multi-label models, the raw
 * value for regression); "truncated" says the tokenizer cut the input to the
 * model's maximum length. Lines are read --batch-size at a time (default 32)
 * and run as one batch. A model that cannot be loaded or run is one error line
 * on stderr and exit 1; bad usage exits 2. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/encoder.h"
#include "tools/lepton/cli_util.h"
#include "tools/lepton/commands.h"

static int usage(FILE *out) {
    fprintf(out,
            "usage: lepton classify --model DIR [--pair] [--batch-size N] [--threads N] [--device D]\n"
            "  reads texts from stdin, one per line (--pair: two texts split at a TAB),\n"
            "  prints one JSON object per line: {\"label\", \"score\", \"scores\", \"truncated\"}\n"
            "  --device D     cpu (default) or cuda[:N]; without a usable GPU: one line on stderr, then the CPU\n");
    return out == stdout ? 0 : 2;
}

static void print_result(const lp_encoder *enc, const float *logits, bool truncated) {
    int64_t L = lp_encoder_num_labels(enc);
    float *scores = malloc((size_t)L * sizeof *scores);
    int64_t top = lp_encoder_scores(enc, logits, scores);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "label", lp_encoder_label(enc, top));
    cJSON_AddNumberToObject(o, "score", scores[top]);
    cJSON *all = cJSON_AddObjectToObject(o, "scores");
    for (int64_t i = 0; i < L; i++) cJSON_AddNumberToObject(all, lp_encoder_label(enc, i), scores[i]);
    cJSON_AddBoolToObject(o, "truncated", truncated);
    char *s = cJSON_PrintUnformatted(o);
    puts(s);
    free(s);
    cJSON_Delete(o);
    free(scores);
}

int lp_cmd_classify(int argc, char **argv) {
    const char *model = NULL, *device = "cpu";
    bool pair = false;
    int batch_size = 32, threads = lp_default_num_threads();
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return usage(stdout);
        if (!strcmp(argv[i], "--pair")) pair = true;
        else if (!strcmp(argv[i], "--model") && i + 1 < argc) model = argv[++i];
        else if (!strcmp(argv[i], "--device") && i + 1 < argc) device = argv[++i];
        else if (!strcmp(argv[i], "--batch-size") && i + 1 < argc) {
            if (!lp_cli_parse_int(argv[++i], 1, 4096, &batch_size)) {
                fprintf(stderr, "lepton classify: --batch-size must be 1..4096\n");
                return 2;
            }
        } else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
            if (!lp_cli_parse_int(argv[++i], 1, 1024, &threads)) {
                fprintf(stderr, "lepton classify: --threads must be 1..1024\n");
                return 2;
            }
        } else {
            fprintf(stderr, "lepton classify: unknown or incomplete option '%s'\n", argv[i]);
            return usage(stderr);
        }
    }
    if (!model) return usage(stderr);
    const lp_backend *backend;
    if (!lp_cli_device("classify", device, &backend)) return 2;
    lp_error err = {0};
    lp_encoder *enc = NULL;
    if (lp_encoder_load(model, &enc, &err)) {
        fprintf(stderr, "lepton classify: %s\n", err.msg);
        return 1;
    }
    if (!lp_encoder_can_classify(enc) || !lp_encoder_has_tokenizer(enc)) {
        fprintf(stderr, "lepton classify: %s: %s\n", model,
                !lp_encoder_can_classify(enc)
                    ? "this model has no classification head (use lepton embed)"
                    : lp_encoder_tokenizer_error(enc));
        lp_encoder_free(enc);
        return 1;
    }
    lp_threadpool *pool = threads > 1 ? lp_threadpool_create(threads) : NULL;
    lp_encoder_session *s = NULL;
    int rc = 0;
    if (lp_encoder_session_create_on(enc, backend, pool, batch_size, &s, &err)) {
        fprintf(stderr, "lepton classify: %s\n", err.msg);
        rc = 1;
    }
    int64_t L = lp_encoder_num_labels(enc);
    lp_cli_lines b = {0};
    bool oom = false;
    lp_encoder_text *in = calloc((size_t)batch_size, sizeof *in);
    float *logits = malloc((size_t)batch_size * (size_t)L * sizeof *logits);
    bool *trunc = calloc((size_t)batch_size, sizeof *trunc);
    while (rc == 0 && lp_cli_read_lines(&b, (size_t)batch_size, &oom) > 0) {
        for (size_t i = 0; i < b.n; i++) {
            in[i] = (lp_encoder_text){b.lines[i], b.lens[i], NULL, 0};
            char *tab = pair ? memchr(b.lines[i], '\t', b.lens[i]) : NULL;
            if (tab) {
                in[i].len = (size_t)(tab - b.lines[i]);
                in[i].pair = tab + 1;
                in[i].pair_len = b.lens[i] - in[i].len - 1;
            } else if (pair) {
                in[i].pair = "";
            }
        }
        if (lp_encoder_classify_text(s, in, b.n, logits, trunc, &err)) {
            fprintf(stderr, "lepton classify: %s\n", err.msg);
            rc = 1;
        } else {
            for (size_t i = 0; i < b.n; i++) print_result(enc, logits + i * (size_t)L, trunc[i]);
        }
    }
    fflush(stdout);
    lp_cli_lines_free(&b);
    if (oom) {
        fprintf(stderr, "lepton classify: out of memory reading input\n");
        rc = 1;
    }
    free(in);
    free(logits);
    free(trunc);
    lp_encoder_session_free(s);
    lp_threadpool_destroy(pool);
    lp_encoder_free(enc);
    return rc;
}
