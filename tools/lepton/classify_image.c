/* `lepton classify-image --model DIR [--top-k K] [--threads N] [--batch B] [--device D] IMAGE...`
 * One JSON object per image on stdout:
 *   {"file": ..., "top": [{"label": ..., "index": ..., "score": ...}, ...]}
 * or {"file": ..., "error": ...} for an image that cannot be read. Exit code 0
 * when every image was classified, 1 when any failed, 2 on bad usage. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels/backend.h"

#include "models/image_classifier.h"
#include "tools/lepton/cli_util.h"
#include "tools/lepton/commands.h"

static void usage(FILE *out) {
    fprintf(out,
            "usage: lepton classify-image --model DIR [--top-k K] [--threads N] [--batch B] IMAGE...\n"
            "  --model DIR    a ResNet directory: model.safetensors (torchvision, timm or transformers\n"
            "                 layout) with config.json / preprocessor_config.json / labels.txt\n"
            "  --top-k K      classes per image (default 5, at most the class count)\n"
            "  --threads N    compute threads (default 2)\n"
            "  --batch B      images per forward pass (default 8)\n"
            "  --device D     cpu (default) or cuda[:N]; without a usable GPU: one line on stderr, then the CPU\n"
            "  --repeat N     benchmark: after classifying, run the forward N more times on the\n"
            "                 first B images (preprocessed once) and print timings as JSON on stderr\n"
            "  --profile      with --repeat: add the per-op time of those runs\n"
            "Images: JPEG, PNG, BMP, GIF, binary PNM. Prints one JSON object per image.\n");
}

static void print_json(cJSON *o) {
    char *s = cJSON_PrintUnformatted(o);
    if (s) puts(s);
    free(s);
    cJSON_Delete(o);
}

static void print_error(const char *file, const char *msg) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "file", file);
    cJSON_AddStringToObject(o, "error", msg);
    print_json(o);
}

static int classify_files(lp_image_classifier *c, lp_image_session *s, char **files, int n, int k) {
    int failed = 0;
    lp_image_input *in = calloc((size_t)n, sizeof *in);
    lp_image_result *res = calloc((size_t)n, sizeof *res);
    int64_t *idx = calloc((size_t)n * k, sizeof *idx);
    float *score = calloc((size_t)n * k, sizeof *score);
    char (*read_err)[LP_ERROR_MSG_MAX] = calloc((size_t)n, sizeof *read_err);
    if (!in || !res || !idx || !score || !read_err) {
        fprintf(stderr, "lepton classify-image: out of memory\n");
        failed = n;
        goto done;
    }
    for (int i = 0; i < n; i++) {
        lp_error e = {0};
        uint8_t *bytes = NULL;
        size_t size = 0;
        if (lp_image_read_file(files[i], 0, &bytes, &size, &e) != LP_OK) snprintf(read_err[i], LP_ERROR_MSG_MAX, "%s", e.msg);
        in[i].bytes = bytes;
        in[i].size = size;
        res[i].index = idx + (size_t)i * k;
        res[i].score = score + (size_t)i * k;
    }
    /* Files that could not be read are left out of the batch. */
    lp_image_input *ok_in = calloc((size_t)n, sizeof *ok_in);
    lp_image_result *ok_res = calloc((size_t)n, sizeof *ok_res);
    int *map = calloc((size_t)n, sizeof *map);
    int m = 0;
    for (int i = 0; i < n && ok_in && ok_res && map; i++)
        if (!read_err[i][0]) {
            ok_in[m] = in[i];
            ok_res[m] = res[i];
            map[m++] = i;
        }
    lp_error err = {0};
    lp_status st = ok_in && ok_res && map ? lp_image_session_classify(s, ok_in, (size_t)m, k, ok_res, &err)
                                          : lp_fail(&err, LP_ERR_NOMEM, "out of memory");
    for (int j = 0; j < m; j++) res[map[j]] = ok_res[j];
    free(ok_in);
    free(ok_res);
    free(map);
    for (int i = 0; i < n; i++) {
        if (read_err[i][0]) {
            print_error(files[i], read_err[i]);
            failed++;
        } else if (st != LP_OK) {
            print_error(files[i], err.msg);
            failed++;
        } else if (res[i].status != LP_OK) {
            print_error(files[i], res[i].error);
            failed++;
        } else {
            cJSON *o = cJSON_CreateObject(), *top = cJSON_CreateArray();
            cJSON_AddStringToObject(o, "file", files[i]);
            for (int j = 0; j < res[i].k; j++) {
                cJSON *e = cJSON_CreateObject();
                cJSON_AddStringToObject(e, "label", lp_image_classifier_label(c, (int)res[i].index[j]));
                cJSON_AddNumberToObject(e, "index", (double)res[i].index[j]);
                cJSON_AddNumberToObject(e, "score", res[i].score[j]);
                cJSON_AddItemToArray(top, e);
            }
            cJSON_AddItemToObject(o, "top", top);
            print_json(o);
        }
    }
done:
    for (int i = 0; in && i < n; i++) free((void *)in[i].bytes);
    free(in);
    free(res);
    free(idx);
    free(score);
    free(read_err);
    return failed;
}

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* --repeat: forward-only timings of a batch of `batch` images (the files
 * repeated as needed), preprocessed once; JSON on stderr. */
static int bench(lp_image_classifier *c, lp_image_session *s, char **files, int nfiles, int batch, int repeat,
                 int threads, bool profile) {
    int h, w;
    lp_image_classifier_input_size(c, &h, &w);
    lp_error err = {0};
    if (!h) {
        fprintf(stderr, "lepton classify-image: --repeat needs a fixed input size (a crop in the preprocessing)\n");
        return 1;
    }
    const size_t per = (size_t)3 * h * w, classes = (size_t)lp_image_classifier_num_classes(c);
    float *x = malloc(sizeof(float) * per * batch), *out = malloc(sizeof(float) * classes * batch);
    double *ms = malloc(sizeof(double) * repeat);
    int rc = 1;
    if (!x || !out || !ms) goto done;
    for (int i = 0; i < batch; i++) {
        uint8_t *bytes;
        size_t size;
        if (lp_image_read_file(files[i % nfiles], 0, &bytes, &size, &err) != LP_OK) goto fail;
        lp_status st = lp_image_preprocess_bytes(lp_image_classifier_preprocess(c), NULL, bytes, size,
                                                 x + per * i, h, w, &err);
        free(bytes);
        if (st != LP_OK) goto fail;
    }
    lp_tensor xt = lp_tensor_4d(x, LP_F32, batch, 3, h, w), ot = lp_tensor_2d(out, LP_F32, batch, (int64_t)classes);
    if (lp_image_session_forward(s, &xt, true, &ot, &err) != LP_OK) goto fail; /* warm-up */
    if (profile && lp_image_session_enable_profile(s, true, &err) != LP_OK) goto fail;
    for (int r = 0; r < repeat; r++) {
        double t0 = now_ms();
        if (lp_image_session_forward(s, &xt, true, &ot, &err) != LP_OK) goto fail;
        ms[r] = now_ms() - t0;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "model", lp_image_classifier_describe(c));
    cJSON_AddNumberToObject(o, "batch", batch);
    cJSON_AddNumberToObject(o, "threads", threads);
    cJSON_AddNumberToObject(o, "height", h);
    cJSON_AddNumberToObject(o, "width", w);
    cJSON_AddItemToObject(o, "forward_ms", cJSON_CreateDoubleArray(ms, repeat));
    qsort(ms, (size_t)repeat, sizeof *ms, cmp_double);
    cJSON_AddNumberToObject(o, "median_ms", ms[repeat / 2]);
    const lp_op_profile *prof = lp_image_session_profile(s);
    if (prof) {
        cJSON *p = cJSON_CreateObject();
        for (int op = 0; op < LP_OP_COUNT; op++) {
            if (!prof[op].calls) continue;
            cJSON *e = cJSON_CreateObject();
            cJSON_AddNumberToObject(e, "calls", (double)prof[op].calls);
            cJSON_AddNumberToObject(e, "ms", (double)prof[op].nanoseconds / 1e6);
            cJSON_AddNumberToObject(e, "gflop", prof[op].flops / 1e9);
            cJSON_AddItemToObject(p, lp_op_name((lp_op_id)op), e);
        }
        cJSON_AddItemToObject(o, "profile", p);
    }
    char *text = cJSON_PrintUnformatted(o);
    if (text) fprintf(stderr, "%s\n", text);
    free(text);
    cJSON_Delete(o);
    rc = 0;
    goto done;
fail:
    fprintf(stderr, "lepton classify-image: --repeat: %s\n", err.msg);
done:
    free(x);
    free(out);
    free(ms);
    return rc;
}

int lp_cmd_classify_image(int argc, char **argv) {
    const char *model = NULL, *device = "cpu";
    int k = 5, threads = 2, batch = 8, repeat = 0;
    bool profile = false;
    int first = argc;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        }
        bool has_value = i + 1 < argc;
        if (!strcmp(a, "--model") && has_value) {
            model = argv[++i];
        } else if (!strcmp(a, "--device") && has_value) {
            device = argv[++i];
        } else if (!strcmp(a, "--top-k") && has_value) {
            if (!lp_cli_parse_int(argv[++i], 1, 100000, &k)) {
                fprintf(stderr, "lepton classify-image: --top-k wants a positive integer, got '%s'\n", argv[i]);
                return 2;
            }
        } else if (!strcmp(a, "--threads") && has_value) {
            if (!lp_cli_parse_int(argv[++i], 1, 1024, &threads)) {
                fprintf(stderr, "lepton classify-image: --threads wants 1..1024, got '%s'\n", argv[i]);
                return 2;
            }
        } else if (!strcmp(a, "--batch") && has_value) {
            if (!lp_cli_parse_int(argv[++i], 1, 1024, &batch)) {
                fprintf(stderr, "lepton classify-image: --batch wants 1..1024, got '%s'\n", argv[i]);
                return 2;
            }
        } else if (!strcmp(a, "--repeat") && has_value) {
            if (!lp_cli_parse_int(argv[++i], 1, 1000000, &repeat)) {
                fprintf(stderr, "lepton classify-image: --repeat wants a positive integer, got '%s'\n", argv[i]);
                return 2;
            }
        } else if (!strcmp(a, "--profile")) {
            profile = true;
        } else if (!strcmp(a, "--")) {
            first = i + 1;
            break;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "lepton classify-image: unknown option or missing value: '%s'\n\n", a);
            usage(stderr);
            return 2;
        } else {
            first = i;
            break;
        }
    }
    if (!model || first >= argc) {
        fprintf(stderr, "lepton classify-image: %s\n\n", !model ? "--model DIR is required" : "no IMAGE given");
        usage(stderr);
        return 2;
    }
    for (int i = first; i < argc; i++)
        if (argv[i][0] == '-' && argv[i][1] && strcmp(argv[i], "-")) {
            fprintf(stderr, "lepton classify-image: options go before the images ('%s')\n", argv[i]);
            return 2;
        }
    const lp_backend *backend;
    if (!lp_cli_device("classify-image", device, &backend)) return 2;
    lp_error err = {0};
    lp_image_classifier *c;
    if (lp_image_classifier_load(model, NULL, &c, &err) != LP_OK) {
        fprintf(stderr, "lepton classify-image: %s\n", err.msg);
        return 1;
    }
    lp_threadpool *pool = threads > 1 ? lp_threadpool_create(threads) : NULL;
    lp_image_session *s;
    if (lp_image_session_create(c, backend, pool, &s, &err) != LP_OK) {
        fprintf(stderr, "lepton classify-image: %s\n", err.msg);
        lp_image_classifier_free(c);
        lp_threadpool_destroy(pool);
        return 1;
    }
    int failed = 0;
    for (int i = first; i < argc; i += batch) {
        int n = argc - i < batch ? argc - i : batch;
        failed += classify_files(c, s, argv + i, n, k);
        fflush(stdout);
    }
    if (repeat && !failed && bench(c, s, argv + first, argc - first, batch, repeat, threads, profile) != 0) failed = 1;
    lp_image_session_free(s);
    lp_image_classifier_free(c);
    lp_threadpool_destroy(pool);
    return failed ? 1 : 0;
}
