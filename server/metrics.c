/* The Prometheus registry: families of series, atomic updates, text rendering. */
#include "server/metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct lp_metric_series {
    lp_metric *family;
    char **values;           /* n_labels copies */
    uint64_t hash;
    _Atomic uint64_t bits;   /* counter/gauge value, or histogram sum, as double bits */
    _Atomic uint64_t *buckets; /* histogram: n_bounds + 1 (last = +Inf), not cumulative */
};

struct lp_metric {
    lp_metrics *registry;
    lp_metric_type type;
    char *name;
    char *help;
    int n_labels;
    char *labels[LP_METRICS_MAX_LABELS];
    int n_bounds;
    double bounds[LP_METRICS_MAX_BUCKETS];
    pthread_mutex_t lock; /* guards series/n_series/cap */
    lp_metric_series **series;
    int n_series, cap;
    lp_metric *next;
};

struct lp_metrics {
    pthread_mutex_t lock; /* guards the family list */
    lp_metric *first, *last;
    lp_metric *dropped;   /* lepton_metrics_series_dropped_total */
};

/* ---- atomic doubles ---- */

static double bits_to_double(uint64_t b) {
    double d;
    memcpy(&d, &b, sizeof d);
    return d;
}

static uint64_t double_to_bits(double d) {
    uint64_t b;
    memcpy(&b, &d, sizeof b);
    return b;
}

static void atomic_double_add(_Atomic uint64_t *a, double v) {
    uint64_t old = atomic_load_explicit(a, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(a, &old, double_to_bits(bits_to_double(old) + v),
                                                  memory_order_relaxed, memory_order_relaxed)) {
    }
}

/* ---- names ---- */

static bool valid_name(const char *s, bool allow_colon) {
    if (!s || !*s) return false;
    for (const char *p = s; *p; p++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                  (allow_colon && c == ':') || (p != s && c >= '0' && c <= '9');
        if (!ok) return false;
    }
    return true;
}

static char *dup_str(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

/* ---- registry ---- */

static void family_free(lp_metric *f) {
    if (!f) return;
    for (int i = 0; i < f->n_series; i++) {
        lp_metric_series *s = f->series[i];
        for (int j = 0; j < f->n_labels; j++) free(s->values[j]);
        free(s->values);
        free(s->buckets);
        free(s);
    }
    free(f->series);
    for (int j = 0; j < f->n_labels; j++) free(f->labels[j]);
    free(f->name);
    free(f->help);
    pthread_mutex_destroy(&f->lock);
    free(f);
}

lp_status lp_metrics_create(lp_metrics **out, lp_error *err) {
    *out = NULL;
    lp_metrics *m = calloc(1, sizeof *m);
    if (!m) return lp_fail(err, LP_ERR_NOMEM, "metrics: out of memory creating the registry");
    pthread_mutex_init(&m->lock, NULL);
    const char *reason_label[] = {"metric"};
    lp_status st = lp_metrics_add(m, LP_METRIC_COUNTER, "lepton_metrics_series_dropped_total",
                                  "Metric updates dropped because a family reached its series limit.",
                                  reason_label, 1, NULL, 0, &m->dropped, err);
    if (st != LP_OK) {
        lp_metrics_destroy(m);
        return st;
    }
    *out = m;
    return LP_OK;
}

void lp_metrics_destroy(lp_metrics *m) {
    if (!m) return;
    lp_metric *f = m->first;
    while (f) {
        lp_metric *next = f->next;
        family_free(f);
        f = next;
    }
    pthread_mutex_destroy(&m->lock);
    free(m);
}

static lp_status check_family(lp_metrics *m, lp_metric_type type, const char *name,
                              const char *const *label_names, int n_labels, const double *bounds,
                              int n_bounds, lp_error *err) {
    if (!valid_name(name, true))
        return lp_fail(err, LP_ERR_INVALID_ARG,
                       "metrics: '%s' is not a valid metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)",
                       name ? name : "(null)");
    if (n_labels < 0 || n_labels > LP_METRICS_MAX_LABELS || (n_labels > 0 && !label_names))
        return lp_fail(err, LP_ERR_INVALID_ARG, "metrics: %s: 0..%d label names, got %d", name,
                       LP_METRICS_MAX_LABELS, n_labels);
    for (int i = 0; i < n_labels; i++) {
        if (!valid_name(label_names[i], false) || strncmp(label_names[i], "__", 2) == 0)
            return lp_fail(err, LP_ERR_INVALID_ARG, "metrics: %s: '%s' is not a valid label name",
                           name, label_names[i] ? label_names[i] : "(null)");
        if (type == LP_METRIC_HISTOGRAM && strcmp(label_names[i], "le") == 0)
            return lp_fail(err, LP_ERR_INVALID_ARG,
                           "metrics: %s: the label 'le' is reserved for histogram buckets", name);
        for (int j = 0; j < i; j++)
            if (strcmp(label_names[i], label_names[j]) == 0)
                return lp_fail(err, LP_ERR_INVALID_ARG, "metrics: %s: label '%s' given twice",
                               name, label_names[i]);
    }
    if (type == LP_METRIC_HISTOGRAM) {
        if (n_bounds < 1 || n_bounds > LP_METRICS_MAX_BUCKETS || !bounds)
            return lp_fail(err, LP_ERR_INVALID_ARG,
                           "metrics: histogram %s needs 1..%d bucket bounds, got %d", name,
                           LP_METRICS_MAX_BUCKETS, n_bounds);
        for (int i = 0; i < n_bounds; i++) {
            if (!isfinite(bounds[i]) || (i > 0 && !(bounds[i] > bounds[i - 1])))
                return lp_fail(err, LP_ERR_INVALID_ARG,
                               "metrics: histogram %s: bounds must be finite and strictly "
                               "increasing (bound %d)", name, i);
        }
    } else if (n_bounds != 0) {
        return lp_fail(err, LP_ERR_INVALID_ARG, "metrics: %s: only histograms take bucket bounds",
                       name);
    }
    for (lp_metric *f = m->first; f; f = f->next)
        if (strcmp(f->name, name) == 0)
            return lp_fail(err, LP_ERR_INVALID_ARG, "metrics: '%s' is already registered", name);
    return LP_OK;
}

lp_status lp_metrics_add(lp_metrics *m, lp_metric_type type, const char *name, const char *help,
                         const char *const *label_names, int n_labels, const double *bounds,
                         int n_bounds, lp_metric **out, lp_error *err) {
    if (out) *out = NULL;
    if (!m) return lp_fail(err, LP_ERR_INVALID_ARG, "metrics: no registry");
    pthread_mutex_lock(&m->lock);
    lp_status st = check_family(m, type, name, label_names, n_labels, bounds, n_bounds, err);
    if (st != LP_OK) {
        pthread_mutex_unlock(&m->lock);
        return st;
    }
    lp_metric *f = calloc(1, sizeof *f);
    bool ok = f != NULL;
    if (ok) {
        pthread_mutex_init(&f->lock, NULL);
        f->registry = m;
        f->type = type;
        f->name = dup_str(name);
        f->help = dup_str(help ? help : "");
        f->n_labels = n_labels;
        ok = f->name && f->help;
        for (int i = 0; i < n_labels; i++) {
            f->labels[i] = dup_str(label_names[i]);
            ok = ok && f->labels[i];
        }
        f->n_bounds = n_bounds;
        for (int i = 0; i < n_bounds; i++) f->bounds[i] = bounds[i];
    }
    if (!ok) {
        if (f) {
            f->n_labels = n_labels;
            family_free(f);
        }
        pthread_mutex_unlock(&m->lock);
        return lp_fail(err, LP_ERR_NOMEM, "metrics: out of memory registering %s", name);
    }
    if (m->last) m->last->next = f;
    else m->first = f;
    m->last = f;
    pthread_mutex_unlock(&m->lock);
    /* A label-less family has exactly one series: create it so it renders as 0. */
    if (n_labels == 0 && !lp_metric_labels(f, NULL))
        return lp_fail(err, LP_ERR_NOMEM, "metrics: out of memory registering %s", name);
    if (out) *out = f;
    return LP_OK;
}

/* ---- series ---- */

static uint64_t hash_values(const char *const *values, int n) {
    uint64_t h = 1469598103934665603ull;
    for (int i = 0; i < n; i++) {
        for (const unsigned char *p = (const unsigned char *)(values[i] ? values[i] : ""); *p; p++)
            h = (h ^ *p) * 1099511628211ull;
        h = (h ^ 0xff) * 1099511628211ull; /* separator: ("ab","c") != ("a","bc") */
    }
    return h;
}

static bool same_values(const lp_metric_series *s, const char *const *values, int n) {
    for (int i = 0; i < n; i++)
        if (strcmp(s->values[i], values[i] ? values[i] : "") != 0) return false;
    return true;
}

static lp_metric_series *new_series(lp_metric *f, const char *const *values, uint64_t h) {
    lp_metric_series *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->family = f;
    s->hash = h;
    s->values = calloc((size_t)(f->n_labels ? f->n_labels : 1), sizeof *s->values);
    bool ok = s->values != NULL;
    for (int i = 0; ok && i < f->n_labels; i++) {
        s->values[i] = dup_str(values[i] ? values[i] : "");
        ok = s->values[i] != NULL;
    }
    if (ok && f->type == LP_METRIC_HISTOGRAM) {
        s->buckets = calloc((size_t)f->n_bounds + 1, sizeof *s->buckets);
        ok = s->buckets != NULL;
    }
    if (!ok) {
        if (s->values)
            for (int i = 0; i < f->n_labels; i++) free(s->values[i]);
        free(s->values);
        free(s);
        return NULL;
    }
    return s;
}

static void count_dropped(lp_metric *f) {
    lp_metrics *m = f->registry;
    if (!m->dropped || f == m->dropped) return;
    const char *v[] = {f->name};
    lp_metric_series_inc(lp_metric_labels(m->dropped, v), 1);
}

lp_metric_series *lp_metric_labels(lp_metric *f, const char *const *values) {
    if (!f || (f->n_labels > 0 && !values)) return NULL;
    uint64_t h = hash_values(values, f->n_labels);
    pthread_mutex_lock(&f->lock);
    for (int i = 0; i < f->n_series; i++) {
        lp_metric_series *s = f->series[i];
        if (s->hash == h && same_values(s, values, f->n_labels)) {
            pthread_mutex_unlock(&f->lock);
            return s;
        }
    }
    lp_metric_series *s = NULL;
    bool full = f->n_series >= LP_METRICS_MAX_SERIES;
    if (!full && f->n_series == f->cap) {
        int cap = f->cap ? f->cap * 2 : 8;
        lp_metric_series **grown = realloc(f->series, (size_t)cap * sizeof *grown);
        if (grown) {
            f->series = grown;
            f->cap = cap;
        }
    }
    if (!full && f->n_series < f->cap) {
        s = new_series(f, values, h);
        if (s) f->series[f->n_series++] = s;
    }
    pthread_mutex_unlock(&f->lock);
    if (!s) count_dropped(f);
    return s;
}

void lp_metric_series_inc(lp_metric_series *s, double v) {
    if (!s || !(v >= 0)) return;
    atomic_double_add(&s->bits, v);
}

void lp_metric_series_set(lp_metric_series *s, double v) {
    if (!s) return;
    atomic_store_explicit(&s->bits, double_to_bits(v), memory_order_relaxed);
}

void lp_metric_series_add(lp_metric_series *s, double delta) {
    if (!s || isnan(delta)) return;
    atomic_double_add(&s->bits, delta);
}

void lp_metric_series_observe(lp_metric_series *s, double v) {
    if (!s || !s->buckets || isnan(v)) return;
    const lp_metric *f = s->family;
    /* the first bucket whose upper bound holds v; bounds are few, a scan is fine */
    int b = 0;
    while (b < f->n_bounds && v > f->bounds[b]) b++;
    atomic_double_add(&s->bits, v);
    atomic_fetch_add_explicit(&s->buckets[b], 1, memory_order_relaxed);
}

double lp_metric_series_value(const lp_metric_series *s) {
    if (!s) return 0;
    return bits_to_double(atomic_load_explicit(&((lp_metric_series *)s)->bits, memory_order_relaxed));
}

uint64_t lp_metric_series_count(const lp_metric_series *s) {
    if (!s || !s->buckets) return 0;
    uint64_t n = 0;
    for (int b = 0; b <= s->family->n_bounds; b++)
        n += atomic_load_explicit(&s->buckets[b], memory_order_relaxed);
    return n;
}

void lp_metric_inc(lp_metric *f, const char *const *values, double v) {
    lp_metric_series_inc(lp_metric_labels(f, values), v);
}

void lp_metric_set(lp_metric *f, const char *const *values, double v) {
    lp_metric_series_set(lp_metric_labels(f, values), v);
}

void lp_metric_add(lp_metric *f, const char *const *values, double delta) {
    lp_metric_series_add(lp_metric_labels(f, values), delta);
}

void lp_metric_observe(lp_metric *f, const char *const *values, double v) {
    lp_metric_series_observe(lp_metric_labels(f, values), v);
}

/* ---- rendering ---- */

typedef struct textbuf {
    char *p;
    size_t len, cap;
    bool oom;
} textbuf;

static void tb_reserve(textbuf *b, size_t extra) {
    if (b->oom || b->len + extra + 1 <= b->cap) return;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + extra + 1) cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
        b->oom = true;
        return;
    }
    b->p = p;
    b->cap = cap;
}

static void tb_put(textbuf *b, const char *s, size_t n) {
    tb_reserve(b, n);
    if (b->oom) return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void tb_str(textbuf *b, const char *s) { tb_put(b, s, strlen(s)); }

/* HELP text escapes \ and newline; label values also escape ". */
static void tb_escaped(textbuf *b, const char *s, bool quote) {
    for (const char *p = s; *p; p++) {
        if (*p == '\\') tb_put(b, "\\\\", 2);
        else if (*p == '\n') tb_put(b, "\\n", 2);
        else if (quote && *p == '"') tb_put(b, "\\\"", 2);
        else tb_put(b, p, 1);
    }
}

int lp_metrics_format_value(double v, char *buf, size_t size) {
    if (isnan(v)) return snprintf(buf, size, "NaN");
    if (isinf(v)) return snprintf(buf, size, v > 0 ? "+Inf" : "-Inf");
    if (v == 0) return snprintf(buf, size, "0"); /* also -0 */
    /* whole numbers (counts) in plain digits: %g would write 10 as 1e+01 */
    if (fabs(v) < 1e15 && v == (double)(long long)v) return snprintf(buf, size, "%lld", (long long)v);
    for (int prec = 1; prec <= 17; prec++) {
        int n = snprintf(buf, size, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) return n;
    }
    return snprintf(buf, size, "%.17g", v);
}

static void tb_value(textbuf *b, double v) {
    char num[64];
    int n = lp_metrics_format_value(v, num, sizeof num);
    tb_put(b, num, (size_t)n);
}

static void tb_u64(textbuf *b, uint64_t v) {
    char num[32];
    int n = snprintf(num, sizeof num, "%llu", (unsigned long long)v);
    tb_put(b, num, (size_t)n);
}

/* {a="x",b="y"[,le="..."]} or nothing when there are no labels. */
static void tb_labels(textbuf *b, const lp_metric *f, const lp_metric_series *s, const char *le) {
    if (f->n_labels == 0 && !le) return;
    tb_put(b, "{", 1);
    for (int i = 0; i < f->n_labels; i++) {
        if (i) tb_put(b, ",", 1);
        tb_str(b, f->labels[i]);
        tb_put(b, "=\"", 2);
        tb_escaped(b, s->values[i], true);
        tb_put(b, "\"", 1);
    }
    if (le) {
        if (f->n_labels) tb_put(b, ",", 1);
        tb_put(b, "le=\"", 4);
        tb_str(b, le);
        tb_put(b, "\"", 1);
    }
    tb_put(b, "}", 1);
}

static int g_n_labels_for_sort; /* qsort has no context pointer; guarded by sort_lock */
static pthread_mutex_t sort_lock = PTHREAD_MUTEX_INITIALIZER;

static int cmp_series(const void *a, const void *b) {
    const lp_metric_series *x = *(lp_metric_series *const *)a;
    const lp_metric_series *y = *(lp_metric_series *const *)b;
    for (int i = 0; i < g_n_labels_for_sort; i++) {
        int c = strcmp(x->values[i], y->values[i]);
        if (c) return c;
    }
    return 0;
}

static const char *type_name(lp_metric_type t) {
    return t == LP_METRIC_COUNTER ? "counter" : t == LP_METRIC_GAUGE ? "gauge" : "histogram";
}

static void render_series(textbuf *b, const lp_metric *f, const lp_metric_series *s) {
    if (f->type != LP_METRIC_HISTOGRAM) {
        tb_str(b, f->name);
        tb_labels(b, f, s, NULL);
        tb_put(b, " ", 1);
        tb_value(b, lp_metric_series_value(s));
        tb_put(b, "\n", 1);
        return;
    }
    /* One read of each bucket: the cumulative counts, +Inf and _count agree even
     * while other threads observe (the sum may be a moment newer). */
    uint64_t cum = 0;
    for (int i = 0; i <= f->n_bounds; i++) {
        cum += atomic_load_explicit(&s->buckets[i], memory_order_relaxed);
        char le[64];
        if (i < f->n_bounds) lp_metrics_format_value(f->bounds[i], le, sizeof le);
        else snprintf(le, sizeof le, "+Inf");
        tb_str(b, f->name);
        tb_str(b, "_bucket");
        tb_labels(b, f, s, le);
        tb_put(b, " ", 1);
        tb_u64(b, cum);
        tb_put(b, "\n", 1);
    }
    tb_str(b, f->name);
    tb_str(b, "_sum");
    tb_labels(b, f, s, NULL);
    tb_put(b, " ", 1);
    tb_value(b, lp_metric_series_value(s));
    tb_put(b, "\n", 1);
    tb_str(b, f->name);
    tb_str(b, "_count");
    tb_labels(b, f, s, NULL);
    tb_put(b, " ", 1);
    tb_u64(b, cum);
    tb_put(b, "\n", 1);
}

static bool render_family(textbuf *b, lp_metric *f) {
    tb_str(b, "# HELP ");
    tb_str(b, f->name);
    tb_put(b, " ", 1);
    tb_escaped(b, f->help, false);
    tb_str(b, "\n# TYPE ");
    tb_str(b, f->name);
    tb_put(b, " ", 1);
    tb_str(b, type_name(f->type));
    tb_put(b, "\n", 1);

    pthread_mutex_lock(&f->lock);
    int n = f->n_series;
    lp_metric_series **sorted = n ? malloc((size_t)n * sizeof *sorted) : NULL;
    if (n && !sorted) {
        pthread_mutex_unlock(&f->lock);
        return false;
    }
    if (n) memcpy(sorted, f->series, (size_t)n * sizeof *sorted);
    pthread_mutex_unlock(&f->lock);
    /* series are never removed, so the pointers stay valid without the lock */
    pthread_mutex_lock(&sort_lock);
    g_n_labels_for_sort = f->n_labels;
    if (n > 1) qsort(sorted, (size_t)n, sizeof *sorted, cmp_series);
    pthread_mutex_unlock(&sort_lock);
    for (int i = 0; i < n; i++) render_series(b, f, sorted[i]);
    free(sorted);
    return true;
}

lp_status lp_metrics_render(lp_metrics *m, char **out, size_t *len, lp_error *err) {
    *out = NULL;
    if (len) *len = 0;
    if (!m) return lp_fail(err, LP_ERR_INVALID_ARG, "metrics: no registry");
    textbuf b = {0};
    tb_reserve(&b, 0);
    pthread_mutex_lock(&m->lock);
    lp_metric *first = m->first;
    pthread_mutex_unlock(&m->lock);
    /* families are only appended, never removed: walk the list without the lock
     * except to read each next pointer */
    bool ok = true;
    for (lp_metric *f = first; f && ok;) {
        ok = render_family(&b, f);
        pthread_mutex_lock(&m->lock);
        f = f->next;
        pthread_mutex_unlock(&m->lock);
    }
    if (!ok || b.oom) {
        free(b.p);
        return lp_fail(err, LP_ERR_NOMEM, "metrics: out of memory rendering");
    }
    *out = b.p;
    if (len) *len = b.len;
    return LP_OK;
}
