/* bench_gemm: lepton's GEMM-family ops against the SGEMM libraries, in one run.
 *
 *   build/benchmarks/bench_gemm [out.json [passes]]
 *       (default benchmarks/out/bench_gemm.json, 5 passes)
 *
 * Tables (markdown on stdout, every number also in the JSON file):
 *  1. Square SGEMM 512/1024/2048 on 1 and 2 threads: lp_matmul next to raw
 *     OpenBLAS cblas_sgemm and raw oneDNN dnnl_sgemm, and lepton / best BLAS.
 *  2. The shapes that decide the library: BERT's linear layers (x W^T, the
 *     weight transposed) and ResNet-50's im2col GEMMs, raw libraries vs lepton.
 *  3. ResNet-50's 3x3 convolutions (all four stages, batch 1) and the stem
 *     through lp_conv2d, as GFLOP/s and as a fraction of the measured peak
 *     (the best 2-thread SGEMM of table 1).
 * Each number is the best over `passes` runs of all tables, each run timing a
 * loop of >= 0.1 s three times: spreading the samples over minutes lets
 * every cell find a quiet moment on a shared machine.
 *
 * The libraries are loaded with dlopen so that the benchmark builds whichever
 * one lepton links (cmake/LeptonGemm.cmake), and so that a missing one is a
 * "n/a" instead of a build failure. Their thread pools spin for a while after
 * each call and would steal cores from the next library, so the benchmark
 * sleeps between libraries. */
#include <dlfcn.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "kernels/backend.h"
#include "kernels/cpu/gemm.h"
#include "kernels/ops.h"

/* ---- the libraries, loaded at run time --------------------------------- */

typedef void (*cblas_sgemm_fn)(int order, int ta, int tb, int m, int n, int k, float alpha,
                               const float *a, int lda, const float *b, int ldb, float beta,
                               float *c, int ldc);
typedef int (*dnnl_sgemm_fn)(char ta, char tb, int64_t m, int64_t n, int64_t k, float alpha,
                             const float *a, int64_t lda, const float *b, int64_t ldb, float beta,
                             float *c, int64_t ldc);
typedef void (*set_threads_fn)(int);

static cblas_sgemm_fn openblas_sgemm;
static set_threads_fn openblas_threads;
static dnnl_sgemm_fn dnnl_sgemm_ptr;
static set_threads_fn omp_threads;

enum { CBLAS_ROW_MAJOR = 101, CBLAS_NO_TRANS = 111, CBLAS_TRANS = 112 };

static void load_libraries(void) {
    void *ob = dlopen("libopenblas.so.0", RTLD_NOW | RTLD_LOCAL);
    if (ob) {
        openblas_sgemm = (cblas_sgemm_fn)dlsym(ob, "cblas_sgemm");
        openblas_threads = (set_threads_fn)dlsym(ob, "openblas_set_num_threads");
    }
    void *dn = dlopen("libdnnl.so.2", RTLD_NOW | RTLD_GLOBAL);
    if (dn) {
        dnnl_sgemm_ptr = (dnnl_sgemm_fn)dlsym(dn, "dnnl_sgemm");
        omp_threads = (set_threads_fn)dlsym(dn, "omp_set_num_threads");
    }
    if (!openblas_threads) openblas_sgemm = NULL;
    if (!omp_threads) dnnl_sgemm_ptr = NULL;
}

/* ---- timing ------------------------------------------------------------- */

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Lets the previous library's spinning threads go to sleep. */
static void settle(void) {
    struct timespec ts = {0, 200 * 1000 * 1000};
    nanosleep(&ts, NULL);
}

/* Results are printed on the last pass only, with each cell's best time. */
static bool final_pass;

#define MAX_CELLS 256
static struct {
    char key[96];
    double best;
} cells[MAX_CELLS];
static int ncells;

/* The best of t and every earlier pass's time for this cell (< 0: failed). */
static double keep_best(const char *table, const char *name, const char *impl, int threads,
                        double t) {
    char key[96];
    snprintf(key, sizeof key, "%s/%s/%s/%d", table, name, impl, threads);
    for (int i = 0; i < ncells; i++)
        if (!strcmp(cells[i].key, key)) {
            if (t > 0 && (cells[i].best <= 0 || t < cells[i].best)) cells[i].best = t;
            return cells[i].best;
        }
    if (ncells < MAX_CELLS) {
        snprintf(cells[ncells].key, sizeof cells[ncells].key, "%s", key);
        cells[ncells++].best = t;
    }
    return t;
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...) {
    if (!final_pass) return;
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
}

typedef struct job job;
typedef int (*run_fn)(job *j); /* 0 on success */

/* One measured thing: a library call or a lepton op on fixed operands. */
struct job {
    run_fn run;
    int threads;
    int64_t m, n, k;
    bool trans_b;
    const float *a, *b;
    float *c;
    lp_ctx *ctx;
    /* lepton ops */
    lp_tensor ta, tb, tbias, tout;
    lp_conv2d_params conv;
    lp_activation act;
};

/* Best seconds per call over 3 repetitions of a >= 0.1 s loop; < 0 on failure. */
static double time_job(job *j) {
    if (j->run(j)) return -1; /* warm-up: primitive creation, page faults */
    double best = 1e30;
    int reps = 1;
    for (;;) { /* calibrate */
        double t0 = now_s();
        for (int i = 0; i < reps; i++) j->run(j);
        double t = now_s() - t0;
        if (t >= 0.1 || reps >= 1 << 20) {
            best = t / reps;
            break;
        }
        reps *= t > 0.025 ? 2 : 8;
    }
    for (int r = 1; r < 3; r++) {
        double t0 = now_s();
        for (int i = 0; i < reps; i++) j->run(j);
        double t = (now_s() - t0) / reps;
        if (t < best) best = t;
    }
    return best;
}

static int run_openblas(job *j) {
    openblas_threads(j->threads);
    openblas_sgemm(CBLAS_ROW_MAJOR, CBLAS_NO_TRANS, j->trans_b ? CBLAS_TRANS : CBLAS_NO_TRANS,
                   (int)j->m, (int)j->n, (int)j->k, 1.0f, j->a, (int)j->k, j->b,
                   (int)(j->trans_b ? j->k : j->n), 0.0f, j->c, (int)j->n);
    return 0;
}

static int run_dnnl(job *j) {
    omp_threads(j->threads);
    return dnnl_sgemm_ptr('N', j->trans_b ? 'T' : 'N', j->m, j->n, j->k, 1.0f, j->a, j->k, j->b,
                          j->trans_b ? j->k : j->n, 0.0f, j->c, j->n);
}

static lp_error bench_err;

static int run_lp_matmul(job *j) {
    return lp_matmul(j->ctx, &j->ta, &j->tb, false, j->trans_b, 1.0f, &j->tout, &bench_err);
}

static int run_lp_linear(job *j) {
    return lp_linear(j->ctx, &j->ta, &j->tb, &j->tbias, j->act, &j->tout, &bench_err);
}

static int run_lp_conv(job *j) {
    return lp_conv2d(j->ctx, &j->ta, &j->tb, &j->tbias, NULL, &j->conv, j->act, &j->tout,
                     &bench_err);
}

/* ---- output -------------------------------------------------------------- */

static FILE *json;
static int json_rows;

static void json_row(const char *table, const char *name, const char *impl, int threads,
                     double flops, double seconds) {
    if (!final_pass) return;
    fprintf(json,
            "%s\n    {\"table\": \"%s\", \"name\": \"%s\", \"impl\": \"%s\", \"threads\": %d, ",
            json_rows++ ? "," : "", table, name, impl, threads);
    if (seconds > 0)
        fprintf(json, "\"ms\": %.4f, \"gflops\": %.2f}", seconds * 1e3, flops / seconds * 1e-9);
    else
        fprintf(json, "\"ms\": null, \"gflops\": null}");
}

static double gflops(double flops, double seconds) {
    return seconds > 0 ? flops / seconds * 1e-9 : 0;
}

static const char *fmt_gf(char *buf, double flops, double seconds) {
    if (seconds <= 0) return "n/a";
    snprintf(buf, 32, "%.1f", gflops(flops, seconds));
    return buf;
}

/* "model name", cores and AVX-512 from /proc/cpuinfo (what lscpu shows). */
static void machine(char *model, size_t size, bool *avx512) {
    snprintf(model, size, "unknown");
    *avx512 = false;
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[4096];
    bool have_model = false;
    while (fgets(line, sizeof line, f)) {
        if (!have_model && !strncmp(line, "model name", 10)) {
            const char *v = strchr(line, ':');
            if (v) {
                snprintf(model, size, "%s", v + 2);
                model[strcspn(model, "\n")] = 0;
                have_model = true;
            }
        }
        if (!strncmp(line, "flags", 5) && strstr(line, " avx512f")) *avx512 = true;
    }
    fclose(f);
}

static float *random_floats(size_t n, unsigned seed) {
    float *x = malloc(n * sizeof *x);
    if (!x) {
        fprintf(stderr, "bench_gemm: out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        x[i] = (float)((seed >> 8) & 0xffff) / 65536.0f - 0.5f;
    }
    return x;
}

/* ---- the tables ------------------------------------------------------------ */

static lp_ctx ctx1, ctx2; /* "cpu" backend on 1- and 2-thread pools */

static lp_ctx *ctx_for(int threads) { return threads == 1 ? &ctx1 : &ctx2; }

/* Table 1; returns the best 2-thread library SGEMM, the measured peak. */
static double square_table(void) {
    static const int sizes[] = {512, 1024, 2048};
    double peak = 0;
    say("\n### 1. Square SGEMM (C = A B, row-major), GFLOP/s\n\n");
    say("| n | threads | lepton lp_matmul | OpenBLAS | oneDNN | lepton / best BLAS |\n");
    say("|---:|---:|---:|---:|---:|---:|\n");
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        int64_t n = sizes[s];
        float *a = random_floats((size_t)(n * n), 1), *b = random_floats((size_t)(n * n), 2);
        float *c = random_floats((size_t)(n * n), 3);
        double flops = 2.0 * n * n * n;
        for (int threads = 1; threads <= 2; threads++) {
            char name[32];
            snprintf(name, sizeof name, "sgemm %lld", (long long)n);
            job j = {.threads = threads, .m = n, .n = n, .k = n, .a = a, .b = b, .c = c};
            j.ctx = ctx_for(threads);
            j.ta = lp_tensor_2d(a, LP_F32, n, n);
            j.tb = lp_tensor_2d(b, LP_F32, n, n);
            j.tout = lp_tensor_2d(c, LP_F32, n, n);
            j.run = run_lp_matmul;
            double t_lp = keep_best("square", name, "lepton", threads, time_job(&j));
            settle();
            double t_ob = -1, t_dn = -1;
            if (openblas_sgemm) {
                j.run = run_openblas;
                t_ob = keep_best("square", name, "openblas", threads, time_job(&j));
                settle();
            }
            if (dnnl_sgemm_ptr) {
                j.run = run_dnnl;
                t_dn = keep_best("square", name, "onednn", threads, time_job(&j));
                settle();
            }
            double best_blas = 0;
            if (t_ob > 0) best_blas = gflops(flops, t_ob);
            if (t_dn > 0 && gflops(flops, t_dn) > best_blas) best_blas = gflops(flops, t_dn);
            if (threads == 2 && best_blas > peak) peak = best_blas;
            char b1[32], b2[32], b3[32];
            say("| %lld | %d | %s | %s | %s | %.2f |\n", (long long)n, threads,
                   fmt_gf(b1, flops, t_lp), fmt_gf(b2, flops, t_ob), fmt_gf(b3, flops, t_dn),
                   best_blas > 0 ? gflops(flops, t_lp) / best_blas : 0.0);
            json_row("square", name, "lepton", threads, flops, t_lp);
            json_row("square", name, "openblas", threads, flops, t_ob);
            json_row("square", name, "onednn", threads, flops, t_dn);
        }
        free(a), free(b), free(c);
    }
    return peak;
}

/* Table 2: BERT-base linear layers (rows = tokens) and ResNet-50 im2col GEMMs. */
static void shapes_table(void) {
    typedef struct shape {
        const char *name;
        int64_t m, n, k;
        bool linear; /* x [m, k] W^T with W [n, k], bias + act */
        lp_activation act;
    } shape;
    static const shape shapes[] = {
        {"BERT qkv/out 128 tok", 128, 768, 768, true, LP_ACT_NONE},
        {"BERT ffn-up 128 tok (gelu)", 128, 3072, 768, true, LP_ACT_GELU_ERF},
        {"BERT ffn-down 128 tok", 128, 768, 3072, true, LP_ACT_NONE},
        {"BERT ffn-up 8x128 tok (gelu)", 1024, 3072, 768, true, LP_ACT_GELU_ERF},
        {"BERT ffn-down 8x128 tok", 1024, 768, 3072, true, LP_ACT_NONE},
        {"decoder step 1 tok", 1, 768, 768, true, LP_ACT_NONE},
        {"decoder 8 tok", 8, 2048, 512, true, LP_ACT_RELU},
        {"ResNet 3x3 64 @56 (im2col)", 64, 3136, 576, false, LP_ACT_NONE},
        {"ResNet 3x3 128 @28 (im2col)", 128, 784, 1152, false, LP_ACT_NONE},
        {"ResNet 3x3 256 @14 (im2col)", 256, 196, 2304, false, LP_ACT_NONE},
        {"ResNet 3x3 512 @7 (im2col)", 512, 49, 4608, false, LP_ACT_NONE},
        {"ResNet 1x1 256->64 @56", 64, 3136, 256, false, LP_ACT_NONE},
        {"ResNet 1x1 512->2048 @7", 2048, 49, 512, false, LP_ACT_NONE},
    };
    say("\n### 2. Model shapes, 2 threads, GFLOP/s (m x n x k; linear = x W^T, W "
           "transposed)\n\n");
    say("| shape | m | n | k | lepton | OpenBLAS | oneDNN sgemm | lepton / best BLAS |\n");
    say("|---|---:|---:|---:|---:|---:|---:|---:|\n");
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const shape *sh = &shapes[s];
        float *a = random_floats((size_t)(sh->m * sh->k), 4);
        float *b = random_floats((size_t)(sh->k * sh->n), 5);
        float *c = random_floats((size_t)(sh->m * sh->n), 6);
        float *bias = random_floats((size_t)sh->n, 7);
        double flops = 2.0 * sh->m * sh->n * sh->k;
        job j = {.threads = 2,
                 .m = sh->m,
                 .n = sh->n,
                 .k = sh->k,
                 .trans_b = sh->linear,
                 .a = a,
                 .b = b,
                 .c = c,
                 .ctx = &ctx2,
                 .act = sh->act};
        j.ta = lp_tensor_2d(a, LP_F32, sh->m, sh->k);
        j.tb = sh->linear ? lp_tensor_2d(b, LP_F32, sh->n, sh->k)
                          : lp_tensor_2d(b, LP_F32, sh->k, sh->n);
        j.tbias = lp_tensor_1d(bias, LP_F32, sh->n);
        j.tout = lp_tensor_2d(c, LP_F32, sh->m, sh->n);
        j.run = sh->linear ? run_lp_linear : run_lp_matmul;
        double t_lp = keep_best("shapes", sh->name, "lepton", 2, time_job(&j));
        settle();
        double t_ob = -1, t_dn = -1;
        if (openblas_sgemm) {
            j.run = run_openblas;
            t_ob = keep_best("shapes", sh->name, "openblas", 2, time_job(&j));
            settle();
        }
        if (dnnl_sgemm_ptr) {
            j.run = run_dnnl;
            t_dn = keep_best("shapes", sh->name, "onednn", 2, time_job(&j));
            settle();
        }
        double best = fmax(gflops(flops, t_ob), gflops(flops, t_dn));
        char b1[32], b2[32], b3[32];
        say("| %s | %lld | %lld | %lld | %s | %s | %s | %.2f |\n", sh->name, (long long)sh->m,
               (long long)sh->n, (long long)sh->k, fmt_gf(b1, flops, t_lp), fmt_gf(b2, flops, t_ob),
               fmt_gf(b3, flops, t_dn), best > 0 ? gflops(flops, t_lp) / best : 0.0);
        json_row("shapes", sh->name, sh->linear ? "lepton lp_linear" : "lepton lp_matmul", 2, flops,
                 t_lp);
        json_row("shapes", sh->name, "openblas", 2, flops, t_ob);
        json_row("shapes", sh->name, "onednn", 2, flops, t_dn);
        free(a), free(b), free(c), free(bias);
    }
}

/* Table 3: lp_conv2d (bias + ReLU fused) on ResNet-50's 3x3 convolutions. */
static void conv_table(double peak) {
    typedef struct conv {
        const char *name;
        int64_t c, hw, cout, k;
        int stride, pad;
    } conv;
    static const conv convs[] = {
        {"stem 7x7/2 3->64 @224", 3, 224, 64, 7, 2, 3},
        {"stage1 3x3 64 @56", 64, 56, 64, 3, 1, 1},
        {"stage2 3x3/2 128 @56->28", 128, 56, 128, 3, 2, 1},
        {"stage2 3x3 128 @28", 128, 28, 128, 3, 1, 1},
        {"stage3 3x3/2 256 @28->14", 256, 28, 256, 3, 2, 1},
        {"stage3 3x3 256 @14", 256, 14, 256, 3, 1, 1},
        {"stage4 3x3/2 512 @14->7", 512, 14, 512, 3, 2, 1},
        {"stage4 3x3 512 @7", 512, 7, 512, 3, 1, 1},
    };
    say("\n### 3. lp_conv2d on ResNet-50 convolutions, batch 1, bias + ReLU fused\n\n");
    say("Peak = best 2-thread library SGEMM of table 1: %.1f GFLOP/s.\n\n", peak);
    say("| conv | ms (1 thr) | GFLOP/s (1 thr) | ms (2 thr) | GFLOP/s (2 thr) | of peak |\n");
    say("|---|---:|---:|---:|---:|---:|\n");
    for (size_t s = 0; s < sizeof convs / sizeof convs[0]; s++) {
        const conv *cv = &convs[s];
        int64_t ho = lp_conv_out_size(cv->hw, (int)cv->k, cv->stride, cv->pad, 1);
        float *x = random_floats((size_t)(cv->c * cv->hw * cv->hw), 8);
        float *w = random_floats((size_t)(cv->cout * cv->c * cv->k * cv->k), 9);
        float *bias = random_floats((size_t)cv->cout, 10);
        float *y = random_floats((size_t)(cv->cout * ho * ho), 11);
        double flops = 2.0 * cv->cout * ho * ho * cv->c * cv->k * cv->k;
        double t[3] = {0};
        for (int threads = 1; threads <= 2; threads++) {
            job j = {.threads = threads, .ctx = ctx_for(threads), .act = LP_ACT_RELU};
            j.ta = lp_tensor_4d(x, LP_F32, 1, cv->c, cv->hw, cv->hw);
            j.tb = lp_tensor_4d(w, LP_F32, cv->cout, cv->c, cv->k, cv->k);
            j.tbias = lp_tensor_1d(bias, LP_F32, cv->cout);
            j.tout = lp_tensor_4d(y, LP_F32, 1, cv->cout, ho, ho);
            j.conv = (lp_conv2d_params){cv->stride, cv->stride, cv->pad, cv->pad, 1, 1, 1};
            j.run = run_lp_conv;
            t[threads] = keep_best("conv", cv->name, "lepton", threads, time_job(&j));
            json_row("resnet50_conv", cv->name, "lepton lp_conv2d", threads, flops, t[threads]);
        }
        char b1[32], b2[32];
        say("| %s | %.3f | %s | %.3f | %s | %.0f%% |\n", cv->name, t[1] * 1e3,
               fmt_gf(b1, flops, t[1]), t[2] * 1e3, fmt_gf(b2, flops, t[2]),
               peak > 0 ? 100.0 * gflops(flops, t[2]) / peak : 0.0);
        free(x), free(w), free(bias), free(y);
    }
}

static int make_parent_dirs(const char *path) {
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(buf, 0777) != 0 && errno != EEXIST) return -1;
        *p = '/';
    }
    return 0;
}

int main(int argc, char **argv) {
    const char *out_path = argc > 1 ? argv[1] : "benchmarks/out/bench_gemm.json";
    int passes = argc > 2 ? atoi(argv[2]) : 5;
    if (passes < 1 || passes > 100) {
        fprintf(stderr, "usage: bench_gemm [out.json [passes 1..100]]\n");
        return 2;
    }
    if (make_parent_dirs(out_path) != 0 || !(json = fopen(out_path, "w"))) {
        fprintf(stderr, "bench_gemm: cannot write %s: %s\n", out_path, strerror(errno));
        return 1;
    }
    load_libraries();
    lp_threadpool *pool1 = lp_threadpool_create(1), *pool2 = lp_threadpool_create(2);
    lp_error err = {0};
    if (!pool1 || !pool2 || lp_ctx_init(&ctx1, lp_backend_cpu(), pool1, &err) != LP_OK ||
        lp_ctx_init(&ctx2, lp_backend_cpu(), pool2, &err) != LP_OK) {
        fprintf(stderr, "bench_gemm: cannot set up: %s\n", err.msg);
        return 1;
    }
    char model[256];
    bool avx512;
    machine(model, sizeof model, &avx512);
    double load[3] = {0};
    getloadavg(load, 3);
    printf("## bench_gemm\n\n");
    printf("Machine: %s, %ld cores online, AVX-512 %s; load average %.2f at start.\n", model,
           sysconf(_SC_NPROCESSORS_ONLN), avx512 ? "yes" : "no", load[0]);
    printf("lepton's GEMM library: %s. Raw peers loaded: OpenBLAS %s, oneDNN %s.\n",
           lp_gemm_library(), openblas_sgemm ? "yes" : "no", dnnl_sgemm_ptr ? "yes" : "no");
    fprintf(json,
            "{\n  \"machine\": {\"model\": \"%s\", \"cores\": %ld, \"avx512\": %s, "
            "\"load_start\": %.2f},\n  \"lepton_gemm\": \"%s\",\n  \"rows\": [",
            model, sysconf(_SC_NPROCESSORS_ONLN), avx512 ? "true" : "false", load[0],
            lp_gemm_library());

    double peak = 0;
    for (int pass = 1; pass <= passes; pass++) {
        final_pass = pass == passes;
        if (!final_pass) fprintf(stderr, "bench_gemm: pass %d of %d\n", pass, passes);
        peak = square_table();
        shapes_table();
        conv_table(peak);
    }

    getloadavg(load, 3);
    printf("\nLoad average %.2f at the end. Results: %s\n", load[0], out_path);
    fprintf(json, "\n  ],\n  \"peak_gflops\": %.2f,\n  \"passes\": %d,\n  \"load_end\": %.2f\n}\n",
            peak, passes, load[0]);
    fclose(json);
    lp_ctx_release(&ctx1);
    lp_ctx_release(&ctx2);
    lp_threadpool_destroy(pool1);
    lp_threadpool_destroy(pool2);
    return 0;
}
