/* `lepton embed --model DIR [--batch-size N] [--threads N] [--device D]`: sentence
 * embeddings of stdin lines with a BERT-family encoder, pooled and normalised
 * as the directory's sentence-transformers modules say (modules.json,
 * 1_Pooling/config.json, Normalize; a bare encoder without them: mean pooling).
 *
 * Each line prints {"embedding": [...], "truncated": false}; floats are
 * printed with 9 significant digits (exact round trip of an f32). Lines are
 * read --batch-size at a time (default 32) and run as one batch. A model that
 * cannot be loaded or run is one error line on stderr and exit 1; bad usage
 * exits 2. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/encoder.h"
#include "tools/lepton/cli_util.h"
#include "tools/lepton/commands.h"

static int usage(FILE *out) {
    fprintf(out,
            "usage: lepton embed --model DIR [--batch-size N] [--threads N] [--device D]\n"
            "  reads texts from stdin, one per line; prints {\"embedding\": [...], \"truncated\": b}\n"
            "  --device D     cpu (default) or cuda[:N]; without a usable GPU: one line on stderr, then the CPU\n");
    return out == stdout ? 0 : 2;
}

static void print_embedding(const float *v, int64_t d, bool truncated) {
    fputs("{\"embedding\": [", stdout);
    for (int64_t j = 0; j < d; j++) printf(j ? ", %.9g" : "%.9g", (double)v[j]);
    printf("], \"truncated\": %s}\n", truncated ? "true" : "false");
}

int lp_cmd_embed(int argc, char **argv) {
    const char *model = NULL, *device = "cpu";
    int batch_size = 32, threads = lp_default_num_threads();
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return usage(stdout);
        if (!strcmp(argv[i], "--model") && i + 1 < argc) model = argv[++i];
        else if (!strcmp(argv[i], "--device") && i + 1 < argc) device = argv[++i];
        else if (!strcmp(argv[i], "--batch-size") && i + 1 < argc) {
            if (!lp_cli_parse_int(argv[++i], 1, 4096, &batch_size)) {
                fprintf(stderr, "lepton embed: --batch-size must be 1..4096\n");
                return 2;
            }
        } else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
            if (!lp_cli_parse_int(argv[++i], 1, 1024, &threads)) {
                fprintf(stderr, "lepton embed: --threads must be 1..1024\n");
                return 2;
            }
        } else {
            fprintf(stderr, "lepton embed: unknown or incomplete option '%s'\n", argv[i]);
            return usage(stderr);
        }
    }
    if (!model) return usage(stderr);
    const lp_backend *backend;
    if (!lp_cli_device("embed", device, &backend)) return 2;
    lp_error err = {0};
    lp_encoder *enc = NULL;
    if (lp_encoder_load(model, &enc, &err)) {
        fprintf(stderr, "lepton embed: %s\n", err.msg);
        return 1;
    }
    if (!lp_encoder_has_tokenizer(enc)) {
        fprintf(stderr, "lepton embed: %s: no usable tokenizer: %s\n", model,
                lp_encoder_tokenizer_error(enc));
        lp_encoder_free(enc);
        return 1;
    }
    lp_threadpool *pool = threads > 1 ? lp_threadpool_create(threads) : NULL;
    lp_encoder_session *s = NULL;
    int rc = 0;
    if (lp_encoder_session_create_on(enc, backend, pool, batch_size, &s, &err)) {
        fprintf(stderr, "lepton embed: %s\n", err.msg);
        rc = 1;
    }
    int64_t d = lp_encoder_embedding_dim(enc);
    lp_cli_lines b = {0};
    bool oom = false;
    lp_encoder_text *in = calloc((size_t)batch_size, sizeof *in);
    float *out = malloc((size_t)batch_size * (size_t)d * sizeof *out);
    bool *trunc = calloc((size_t)batch_size, sizeof *trunc);
    size_t n;
    while (rc == 0 && (n = lp_cli_read_lines(&b, (size_t)batch_size, &oom)) > 0) {
        for (size_t i = 0; i < n; i++) in[i] = (lp_encoder_text){b.lines[i], b.lens[i], NULL, 0};
        if (lp_encoder_embed_text(s, in, n, out, trunc, &err)) {
            fprintf(stderr, "lepton embed: %s\n", err.msg);
            rc = 1;
        } else {
            for (size_t i = 0; i < n; i++) print_embedding(out + i * (size_t)d, d, trunc[i]);
        }
    }
    fflush(stdout);
    lp_cli_lines_free(&b);
    if (oom) {
        fprintf(stderr, "lepton embed: out of memory reading input\n");
        rc = 1;
    }
    free(in);
    free(out);
    free(trunc);
    lp_encoder_session_free(s);
    lp_threadpool_destroy(pool);
    lp_encoder_free(enc);
    return rc;
}
