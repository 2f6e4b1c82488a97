/* The Prometheus registry and the server's metrics facade: exact exposition
 * text for a small registry, escaping, validation, the series cap, KServe
 * per-model statistics, and updates from many threads at once. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/metrics.h"
#include "tests/test_util.h"

static void check_text(const char *got, const char *want) {
    bool same = got && strcmp(got, want) == 0;
    CHECK_MSG(same, "rendered text differs");
    if (!same) fprintf(stderr, "---- got:\n%s---- want:\n%s----\n", got ? got : "(null)", want);
}

static void test_exact_text(void) {
    lp_error err = {0};
    lp_metrics *m = NULL;
    CHECK_OK(lp_metrics_create(&m, &err), &err);
    lp_metric *req = NULL, *temp = NULL, *lat = NULL, *up = NULL;
    const char *req_labels[] = {"model", "code"};
    CHECK_OK(lp_metrics_add(m, LP_METRIC_COUNTER, "t_requests_total", "Requests.\nBy \\model.",
                            req_labels, 2, NULL, 0, &req, &err),
             &err);
    const char *temp_labels[] = {"room"};
    CHECK_OK(lp_metrics_add(m, LP_METRIC_GAUGE, "t_temperature", "Temperature.", temp_labels, 1,
                            NULL, 0, &temp, &err),
             &err);
    const double bounds[] = {0.1, 0.5, 2};
    const char *lat_labels[] = {"model"};
    CHECK_OK(lp_metrics_add(m, LP_METRIC_HISTOGRAM, "t_latency_seconds", "Latency.", lat_labels,
                            1, bounds, 3, &lat, &err),
             &err);
    CHECK_OK(lp_metrics_add(m, LP_METRIC_GAUGE, "t_up", "Up.", NULL, 0, NULL, 0, &up, &err), &err);

    const char *b200[] = {"bert", "200"}, *a500[] = {"a\"b\\c\nd", "500"};
    lp_metric_inc(req, b200, 1);
    lp_metric_inc(req, b200, 2);
    lp_metric_inc(req, a500, 1);
    lp_metric_inc(req, a500, -5); /* counters never go down */
    const char *kitchen[] = {"kitchen"};
    lp_metric_set(temp, kitchen, 21.5);
    lp_metric_add(temp, kitchen, -1.25);
    const char *bert[] = {"bert"};
    lp_metric_observe(lat, bert, 0.05);
    lp_metric_observe(lat, bert, 0.1); /* le is inclusive */
    lp_metric_observe(lat, bert, 0.3);
    lp_metric_observe(lat, bert, 7);

    char *text = NULL;
    size_t len = 0;
    CHECK_OK(lp_metrics_render(m, &text, &len, &err), &err);
    const char *want =
        "# HELP lepton_metrics_series_dropped_total Metric updates dropped because a family "
        "reached its series limit.\n"
        "# TYPE lepton_metrics_series_dropped_total counter\n"
        "# HELP t_requests_total Requests.\\nBy \\\\model.\n"
        "# TYPE t_requests_total counter\n"
        "t_requests_total{model=\"a\\\"b\\\\c\\nd\",code=\"500\"} 1\n"
        "t_requests_total{model=\"bert\",code=\"200\"} 3\n"
        "# HELP t_temperature Temperature.\n"
        "# TYPE t_temperature gauge\n"
        "t_temperature{room=\"kitchen\"} 20.25\n"
        "# HELP t_latency_seconds Latency.\n"
        "# TYPE t_latency_seconds histogram\n"
        "t_latency_seconds_bucket{model=\"bert\",le=\"0.1\"} 2\n"
        "t_latency_seconds_bucket{model=\"bert\",le=\"0.5\"} 3\n"
        "t_latency_seconds_bucket{model=\"bert\",le=\"2\"} 3\n"
        "t_latency_seconds_bucket{model=\"bert\",le=\"+Inf\"} 4\n"
        "t_latency_seconds_sum{model=\"bert\"} 7.45\n"
        "t_latency_seconds_count{model=\"bert\"} 4\n"
        "# HELP t_up Up.\n"
        "# TYPE t_up gauge\n"
        "t_up 0\n";
    check_text(text, want);
    CHECK(len == strlen(want));
    free(text);
    lp_metrics_destroy(m);
}

static void test_values_and_validation(void) {
    char buf[64];
    lp_metrics_format_value(0.1, buf, sizeof buf);
    CHECK(strcmp(buf, "0.1") == 0);
    lp_metrics_format_value(1.0 / 3, buf, sizeof buf);
    CHECK(strtod(buf, NULL) == 1.0 / 3);
    lp_metrics_format_value(1e21, buf, sizeof buf);
    CHECK(strcmp(buf, "1e+21") == 0);
    lp_metrics_format_value(-1.0 / 0.0, buf, sizeof buf);
    CHECK(strcmp(buf, "-Inf") == 0);
    lp_metrics_format_value(0.0 / 0.0, buf, sizeof buf);
    CHECK(strcmp(buf, "NaN") == 0);
    lp_metrics_format_value(123456789.0, buf, sizeof buf);
    CHECK(strcmp(buf, "123456789") == 0);

    lp_error err = {0};
    lp_metrics *m = NULL;
    CHECK_OK(lp_metrics_create(&m, &err), &err);
    lp_metric *f = NULL;
    CHECK_FAILS(lp_metrics_add(m, LP_METRIC_COUNTER, "9bad", "", NULL, 0, NULL, 0, &f, &err),
                LP_ERR_INVALID_ARG, &err, "not a valid metric name");
    const char *bad_label[] = {"a-b"};
    CHECK_FAILS(lp_metrics_add(m, LP_METRIC_COUNTER, "x", "", bad_label, 1, NULL, 0, &f, &err),
                LP_ERR_INVALID_ARG, &err, "not a valid label name");
    const char *le[] = {"le"};
    const double b1[] = {1};
    CHECK_FAILS(lp_metrics_add(m, LP_METRIC_HISTOGRAM, "h", "", le, 1, b1, 1, &f, &err),
                LP_ERR_INVALID_ARG, &err, "reserved");
    const double b_bad[] = {1, 1};
    CHECK_FAILS(lp_metrics_add(m, LP_METRIC_HISTOGRAM, "h", "", NULL, 0, b_bad, 2, &f, &err),
                LP_ERR_INVALID_ARG, &err, "strictly increasing");
    CHECK_FAILS(lp_metrics_add(m, LP_METRIC_HISTOGRAM, "h", "", NULL, 0, NULL, 0, &f, &err),
                LP_ERR_INVALID_ARG, &err, "bucket bounds");
    const char *twice[] = {"a", "a"};
    CHECK_FAILS(lp_metrics_add(m, LP_METRIC_GAUGE, "g", "", twice, 2, NULL, 0, &f, &err),
                LP_ERR_INVALID_ARG, &err, "given twice");
    CHECK_OK(lp_metrics_add(m, LP_METRIC_GAUGE, "g", "", NULL, 0, NULL, 0, &f, &err), &err);
    CHECK_FAILS(lp_metrics_add(m, LP_METRIC_GAUGE, "g", "", NULL, 0, NULL, 0, &f, &err),
                LP_ERR_INVALID_ARG, &err, "already registered");

    /* the series cap: past it lookups give NULL and the drop is counted */
    lp_metric *c = NULL;
    const char *one[] = {"k"};
    CHECK_OK(lp_metrics_add(m, LP_METRIC_COUNTER, "many_total", "", one, 1, NULL, 0, &c, &err),
             &err);
    int got = 0;
    for (int i = 0; i < LP_METRICS_MAX_SERIES + 10; i++) {
        char v[32];
        snprintf(v, sizeof v, "v%d", i);
        const char *vals[] = {v};
        if (lp_metric_labels(c, vals)) got++;
    }
    CHECK(got == LP_METRICS_MAX_SERIES);
    char *text = NULL;
    CHECK_OK(lp_metrics_render(m, &text, NULL, &err), &err);
    CHECK(text && strstr(text, "lepton_metrics_series_dropped_total{metric=\"many_total\"} 10\n"));
    free(text);
    lp_metric_series_inc(NULL, 1); /* no-op, no crash */
    lp_metrics_destroy(m);
}

static void test_server_facade(void) {
    lp_error err = {0};
    lp_server_metrics *sm = NULL;
    CHECK_OK(lp_server_metrics_create(&sm, &err), &err);
    lp_server_metrics_add_model(sm, "bert");
    lp_server_metrics_set_model_state(sm, "bert", LP_MODEL_STATE_LOADING);
    lp_server_metrics_set_model_state(sm, "bert", LP_MODEL_STATE_READY);
    lp_server_metrics_inflight_add(sm, "bert", 1);
    lp_server_metrics_inflight_add(sm, "bert", 1);
    lp_server_metrics_inflight_add(sm, "bert", -1);
    lp_server_metrics_set_queue_depth(sm, "bert", 3);
    lp_server_metrics_batch_done(sm, "bert", 4, 0.020);
    lp_server_metrics_batch_done(sm, "bert", 1, 0.005);
    lp_server_metrics_batch_done(sm, "bert", 4, 0.030);
    lp_request_record ok = {.model = "bert", .endpoint = "classify", .status = 200,
                            .reason = "ok", .queue_seconds = 0.002, .compute_seconds = 0.020,
                            .total_seconds = 0.025, .items = 3};
    lp_server_metrics_request_done(sm, &ok);
    lp_request_record fail = {.model = "bert", .endpoint = "classify", .status = 504,
                              .reason = "timeout", .queue_seconds = 1.5, .compute_seconds = -1,
                              .total_seconds = 1.5, .items = 1};
    lp_server_metrics_request_done(sm, &fail);
    lp_request_record nomodel = {.model = NULL, .endpoint = "classify", .status = 404,
                                 .reason = "not_found", .queue_seconds = -1,
                                 .compute_seconds = -1, .total_seconds = 0.0001};
    lp_server_metrics_request_done(sm, &nomodel);
    lp_request_record meta = {.model = "bert", .endpoint = "kserve_metadata", .status = 200,
                              .queue_seconds = -1, .compute_seconds = -1, .total_seconds = 0.001};
    lp_server_metrics_request_done(sm, &meta); /* counted in requests_total, not in stats */

    char *text = NULL;
    CHECK_OK(lp_server_metrics_render(sm, &text, NULL, &err), &err);
    const char *needles[] = {
        "# TYPE lepton_requests_total counter\n",
        "lepton_requests_total{model=\"\",endpoint=\"classify\",status=\"404\",reason=\"not_found\"} 1\n",
        "lepton_requests_total{model=\"bert\",endpoint=\"classify\",status=\"200\",reason=\"ok\"} 1\n",
        "lepton_requests_total{model=\"bert\",endpoint=\"classify\",status=\"504\",reason=\"timeout\"} 1\n",
        "lepton_request_duration_seconds_count{model=\"bert\",endpoint=\"classify\"} 2\n",
        "lepton_queue_duration_seconds_bucket{model=\"bert\",le=\"0.0025\"} 1\n",
        "lepton_queue_duration_seconds_count{model=\"bert\"} 2\n",
        "lepton_compute_duration_seconds_count{model=\"bert\"} 3\n",
        "lepton_batch_size_bucket{model=\"bert\",le=\"1\"} 1\n",
        "lepton_batch_size_bucket{model=\"bert\",le=\"2\"} 1\n",
        "lepton_batch_size_bucket{model=\"bert\",le=\"4\"} 3\n",
        "lepton_batch_size_sum{model=\"bert\"} 9\n",
        "lepton_batch_size_count{model=\"bert\"} 3\n",
        "lepton_inferences_total{model=\"bert\"} 9\n",
        "lepton_queue_depth{model=\"bert\"} 3\n",
        "lepton_inflight_requests{model=\"bert\"} 1\n",
        "lepton_model_state{model=\"bert\",state=\"loading\"} 0\n",
        "lepton_model_state{model=\"bert\",state=\"ready\"} 1\n",
    };
    for (size_t i = 0; i < sizeof needles / sizeof *needles; i++)
        CHECK_MSG(text && strstr(text, needles[i]), "missing: %s", needles[i]);
    free(text);

    lp_model_stats st;
    CHECK(lp_server_metrics_model_stats(sm, "bert", &st));
    CHECK(st.success.count == 1 && st.success.ns == 25000000);
    CHECK(st.fail.count == 1 && st.fail.ns == 1500000000);
    CHECK(st.queue.count == 2 && st.queue.ns == 1502000000);
    CHECK(st.compute_infer.count == 1 && st.compute_infer.ns == 20000000);
    CHECK(st.inference_count == 3);
    CHECK(st.execution_count == 3);
    CHECK(st.last_inference_ms > 1600000000000ull);
    CHECK(st.n_batches == 2);
    if (st.n_batches == 2) {
        CHECK(st.batches[0].batch_size == 1 && st.batches[0].compute_infer.count == 1 &&
              st.batches[0].compute_infer.ns == 5000000);
        CHECK(st.batches[1].batch_size == 4 && st.batches[1].compute_infer.count == 2 &&
              st.batches[1].compute_infer.ns == 50000000);
    }
    lp_model_stats_free(&st);
    CHECK(!lp_server_metrics_model_stats(sm, "nope", &st));
    CHECK(st.success.count == 0 && st.batches == NULL);
    lp_server_metrics_destroy(sm);
}

/* ---- many threads ---- */

#define THREADS 8
#define ITERS 20000

typedef struct worker_arg {
    lp_server_metrics *sm;
    int id;
} worker_arg;

static void *worker(void *p) {
    worker_arg *a = p;
    const char *models[] = {"m0", "m1", "m2"};
    for (int i = 0; i < ITERS; i++) {
        const char *model = models[(i + a->id) % 3];
        lp_server_metrics_inflight_add(a->sm, model, 1);
        lp_server_metrics_batch_done(a->sm, model, 1 + i % 8, 0.001);
        lp_request_record r = {.model = model, .endpoint = "embed",
                               .status = i % 10 == 0 ? 503 : 200,
                               .reason = i % 10 == 0 ? "queue_full" : "ok",
                               .queue_seconds = 0.0005, .compute_seconds = 0.001,
                               .total_seconds = 0.002, .items = 1};
        lp_server_metrics_request_done(a->sm, &r);
        lp_server_metrics_inflight_add(a->sm, model, -1);
        if (i % 1000 == 0) {
            char *text = NULL;
            lp_error err = {0};
            if (lp_server_metrics_render(a->sm, &text, NULL, &err) == LP_OK) free(text);
        }
    }
    return NULL;
}

static double sum_series(const char *text, const char *prefix) {
    double total = 0;
    size_t n = strlen(prefix);
    for (const char *p = text; p && *p;) {
        const char *eol = strchr(p, '\n');
        if (strncmp(p, prefix, n) == 0) {
            const char *end = eol ? eol : p + strlen(p);
            const char *sp = end;
            while (sp > p && sp[-1] != ' ') sp--;
            if (sp > p) total += strtod(sp, NULL);
        }
        p = eol ? eol + 1 : NULL;
    }
    return total;
}

static void test_threads(void) {
    lp_error err = {0};
    lp_server_metrics *sm = NULL;
    CHECK_OK(lp_server_metrics_create(&sm, &err), &err);
    pthread_t t[THREADS];
    worker_arg args[THREADS];
    for (int i = 0; i < THREADS; i++) {
        args[i] = (worker_arg){sm, i};
        pthread_create(&t[i], NULL, worker, &args[i]);
    }
    for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);

    char *text = NULL;
    CHECK_OK(lp_server_metrics_render(sm, &text, NULL, &err), &err);
    double total = (double)THREADS * ITERS;
    CHECK(sum_series(text, "lepton_requests_total{") == total);
    CHECK(sum_series(text, "lepton_requests_total{model=\"m0\",endpoint=\"embed\",status=\"503\"") +
              sum_series(text, "lepton_requests_total{model=\"m1\",endpoint=\"embed\",status=\"503\"") +
              sum_series(text, "lepton_requests_total{model=\"m2\",endpoint=\"embed\",status=\"503\"") ==
          total / 10);
    CHECK(sum_series(text, "lepton_batch_size_count{") == total);
    CHECK(sum_series(text, "lepton_batch_size_sum{") == (double)THREADS * (ITERS / 8) * 36);
    CHECK(sum_series(text, "lepton_inflight_requests{") == 0);
    CHECK(sum_series(text, "lepton_request_duration_seconds_bucket{model=\"m1\",endpoint=\"embed\",le=\"+Inf\"}") ==
          sum_series(text, "lepton_request_duration_seconds_count{model=\"m1\""));
    free(text);
    uint64_t succ = 0, fail = 0, exec = 0;
    const char *models[] = {"m0", "m1", "m2"};
    for (int i = 0; i < 3; i++) {
        lp_model_stats st;
        CHECK(lp_server_metrics_model_stats(sm, models[i], &st));
        succ += st.success.count;
        fail += st.fail.count;
        exec += st.execution_count;
        CHECK(st.n_batches == 8);
        lp_model_stats_free(&st);
    }
    CHECK(succ + fail == (uint64_t)total && fail == (uint64_t)total / 10);
    CHECK(exec == (uint64_t)total);
    lp_server_metrics_destroy(sm);
}

int main(void) {
    test_exact_text();
    test_values_and_validation();
    test_server_facade();
    test_threads();
    return lp_test_finish();
}
