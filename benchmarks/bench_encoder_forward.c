/* The encoder's forward pass alone (no tokenizer, no JSON), timed the way
 * ONNX Runtime is timed in bench_encoder.py: token ids made once, then the
 * same batch run again and again. Prints one JSON object: the best and median
 * milliseconds per batch, and the per-op profile of one extra pass.
 *
 *   bench_encoder_forward MODEL_DIR LENGTHS [THREADS] [ITERS]
 *
 * LENGTHS: comma-separated sequence lengths of the batch, e.g. 128 or
 * 16,20,...,128. Ids are a repeated ordinary token between [CLS] and [SEP]
 * (the ids bench_encoder.py feeds the peers). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels/backend.h"
#include "kernels/context.h"
#include "models/encoder.h"

enum { MAX_BATCH = 256, CLS = 101, SEP = 102, WORD = 7592 };

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static size_t parse_lengths(char *spec, int64_t *lengths) {
    size_t n = 0;
    for (char *tok = strtok(spec, ","); tok && n < MAX_BATCH; tok = strtok(NULL, ","))
        lengths[n++] = strtoll(tok, NULL, 10);
    return n;
}

static void print_profile(const lp_op_profile *profile) {
    printf(", \"profile\": {");
    const char *sep = "";
    for (int op = 0; op < LP_OP_COUNT; op++) {
        if (!profile[op].calls) continue;
        printf("%s\"%s\": {\"calls\": %llu, \"ms\": %.3f, \"gflops\": %.1f}", sep, lp_op_name(op),
               (unsigned long long)profile[op].calls, profile[op].nanoseconds / 1e6,
               profile[op].nanoseconds ? profile[op].flops / profile[op].nanoseconds : 0.0);
        sep = ", ";
    }
    printf("}");
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s MODEL_DIR LENGTHS [THREADS] [ITERS]\n", argv[0]);
        return 2;
    }
    int64_t lengths[MAX_BATCH];
    size_t n = parse_lengths(argv[2], lengths);
    int threads = argc > 3 ? atoi(argv[3]) : 2;
    int iters = argc > 4 ? atoi(argv[4]) : 20;
    if (!n || iters < 1 || threads < 1) {
        fprintf(stderr, "bench_encoder_forward: need lengths, ITERS >= 1, THREADS >= 1\n");
        return 2;
    }

    lp_error err = {0};
    lp_encoder *enc = NULL;
    lp_encoder_session *s = NULL;
    lp_threadpool *pool = threads > 1 ? lp_threadpool_create(threads) : NULL;
    if (lp_encoder_load(argv[1], &enc, &err) ||
        lp_encoder_session_create(enc, pool, (int)n, &s, &err)) {
        fprintf(stderr, "bench_encoder_forward: %s\n", err.msg);
        return 1;
    }

    int32_t *ids = malloc(sizeof(int32_t) * MAX_BATCH * 512);
    lp_encoder_input inputs[MAX_BATCH];
    int32_t *next = ids;
    for (size_t i = 0; i < n; i++) {
        int64_t len = lengths[i] < 2 ? 2 : lengths[i] > 512 ? 512 : lengths[i];
        for (int64_t t = 0; t < len; t++) next[t] = t == 0 ? CLS : t == len - 1 ? SEP : WORD;
        inputs[i] = (lp_encoder_input){.ids = next, .len = len};
        next += len;
    }
    float *out = malloc(sizeof(float) * n * (size_t)lp_encoder_embedding_dim(enc));

    double *ms = malloc(sizeof(double) * (size_t)iters);
    int rc = 0;
    for (int i = -2; i < iters && !rc; i++) { /* two warm-up passes */
        double t = now_ms();
        rc = lp_encoder_embed_ids(s, inputs, n, out, &err) != LP_OK;
        if (i >= 0) ms[i] = now_ms() - t;
    }
    lp_ctx *ctx = lp_encoder_session_ctx(s);
    if (!rc) rc = lp_ctx_enable_profile(ctx, true, &err) || lp_encoder_embed_ids(s, inputs, n, out, &err);
    if (rc) {
        fprintf(stderr, "bench_encoder_forward: %s\n", err.msg);
        return 1;
    }
    qsort(ms, (size_t)iters, sizeof *ms, cmp_double);
    printf("{\"batch\": %zu, \"threads\": %d, \"iters\": %d, \"best_ms\": %.3f, \"median_ms\": %.3f",
           n, threads, iters, ms[0], ms[iters / 2]);
    print_profile(ctx->profile);
    printf("}\n");

    free(ms);
    free(out);
    free(ids);
    lp_encoder_session_free(s);
    lp_encoder_free(enc);
    lp_threadpool_destroy(pool);
    return 0;
}
