/* `lepton bench` arguments: levels, defaults, and one clear message for each
 * kind of mistake; the server URL. */
#include <string.h>

#include "loadgen/options.h"
#include "loadgen/url.h"
#include "tests/test_util.h"

static lp_status parse(lp_lg_options *o, lp_error *err, const char *const *args) {
    char *argv[64];
    int argc = 0;
    argv[argc++] = (char *)"bench";
    for (; *args; args++) argv[argc++] = (char *)*args;
    lp_lg_options_defaults(o);
    lp_error_clear(err);
    return lp_lg_options_parse(o, argc, argv, err);
}

#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})

static void expect_error(const char *const *args, const char *needle) {
    lp_lg_options o;
    lp_error err = {0};
    CHECK_FAILS(parse(&o, &err, args), LP_ERR_INVALID_ARG, &err, needle);
}

static void test_levels(void) {
    int v[LP_LG_MAX_LEVELS], n;
    lp_error err = {0};
    CHECK_OK(lp_lg_parse_levels("1:64:x2", v, LP_LG_MAX_LEVELS, &n, &err), &err);
    CHECK(n == 7 && v[0] == 1 && v[1] == 2 && v[6] == 64);
    CHECK_OK(lp_lg_parse_levels("1:16:+4", v, LP_LG_MAX_LEVELS, &n, &err), &err);
    CHECK(n == 4 && v[0] == 1 && v[1] == 5 && v[3] == 13);
    CHECK_OK(lp_lg_parse_levels("3:100:x3", v, LP_LG_MAX_LEVELS, &n, &err), &err);
    CHECK(n == 4 && v[3] == 81);
    CHECK_OK(lp_lg_parse_levels("1,2,8", v, LP_LG_MAX_LEVELS, &n, &err), &err);
    CHECK(n == 3 && v[2] == 8);
    CHECK_OK(lp_lg_parse_levels("12", v, LP_LG_MAX_LEVELS, &n, &err), &err);
    CHECK(n == 1 && v[0] == 12);
    CHECK_OK(lp_lg_parse_levels("4:4", v, LP_LG_MAX_LEVELS, &n, &err), &err);
    CHECK(n == 1 && v[0] == 4);
    const char *bad[] = {"0:4", "8:4", "1:64:x1", "1:64:y2", "1:64:+0", "a", "1,,x", "", "-1",
                         "1:2:3:4", "1:100000000", "1:100:+1"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        lp_error_clear(&err);
        lp_status st = lp_lg_parse_levels(bad[i], v, LP_LG_MAX_LEVELS, &n, &err);
        CHECK_MSG(st == LP_ERR_INVALID_ARG && strstr(err.msg, bad[i]), "'%s' accepted (%s)", bad[i], err.msg);
    }
}

static void test_defaults_and_modes(void) {
    lp_lg_options o;
    lp_error err = {0};
    CHECK_OK(parse(&o, &err, ARGS("--url", "http://127.0.0.1:1", "--model", "m")), &err);
    CHECK(!o.open_loop && o.n_concurrency == 7 && o.concurrency[6] == 64);
    CHECK(o.endpoint == LP_LG_ENDPOINT_TASK && !strcmp(o.task, "embed"));
    CHECK(o.stability == 0.10 && o.max_windows == 10 && o.arrival == LP_LG_ARRIVAL_POISSON);
    CHECK_OK(parse(&o, &err, ARGS("--url", "http://h", "--model", "m", "--rate", "10,20.5",
                                  "--arrival", "constant", "--stability", "5")), &err);
    CHECK(o.open_loop && o.n_rates == 2 && o.rates[1] == 20.5 && o.arrival == LP_LG_ARRIVAL_CONSTANT);
    CHECK(o.stability == 0.05);
    CHECK_OK(parse(&o, &err, ARGS("--url", "http://h", "--model", "m", "--scenario", "server",
                                  "--p99-bound", "50")), &err);
    CHECK(o.open_loop && o.scenario == LP_LG_SCENARIO_SERVER && o.p99_bound_ms == 50);
    CHECK_OK(parse(&o, &err, ARGS("--url", "http://h", "--model", "m", "--scenario", "offline",
                                  "--concurrency", "16", "--offline-requests", "500")), &err);
    CHECK(!o.open_loop && o.concurrency[0] == 16 && o.offline_requests == 500);
    CHECK_OK(parse(&o, &err, ARGS("--url", "http://h", "--model", "m", "--scenario", "single-stream")), &err);
    CHECK(o.n_concurrency == 1 && o.concurrency[0] == 1);
    CHECK_OK(parse(&o, &err, ARGS("--url", "http://h", "--endpoint", "get")), &err);
    CHECK(o.endpoint == LP_LG_ENDPOINT_GET);
    CHECK_OK(parse(&o, &err, ARGS("--url", "http://h", "--model", "m", "--endpoint", "v2",
                                  "--gen", "10:1:3", "--batch", "4", "--seed", "7")), &err);
    CHECK(o.endpoint == LP_LG_ENDPOINT_V2 && o.gen_count == 10 && o.gen_max_words == 3 &&
          o.batch == 4 && o.seed == 7);
    CHECK_OK(parse(&o, &err, ARGS("--help")), &err);
    CHECK(o.help);
}

static void test_mistakes(void) {
    expect_error(ARGS("--model", "m"), "--url is required");
    expect_error(ARGS("--url", "http://h"), "--model is required");
    expect_error(ARGS("--url", "http://h", "--model", "m", "--frobnicate", "1"), "unknown option '--frobnicate'");
    expect_error(ARGS("--url", "http://h", "--model", "m", "--duration"), "--duration needs a value");
    expect_error(ARGS("--url", "http://h", "--model", "m", "--duration", "abc"), "--duration: bad value 'abc'");
    expect_error(ARGS("--url", "http://h", "--model", "m", "--duration", "-1"), "--duration: bad value");
    expect_error(ARGS("--url", "http://h", "--model", "m", "--concurrency", "0:8"), "--concurrency");
    expect_error(ARGS("--url", "http://h", "--model", "m", "--rate", "fast"), "--rate: 'fast'");
    expect_error(ARGS("--url", "http://h", "--model", "m", "--rate", "0"), "--rate: '0'");
    expect_error(ARGS("--url", "http://h", "--model", "m", "--rate", "5", "--concurrency", "4"), "give one of them");
    expect_error(ARGS("--url", "http://h", "--model", "m", "--rate", "5", "--rate-sweep"), "not both");
    expect_error(ARGS("--url", "http://h", "--model", "m", "--scenario", "batch"), "--scenario 'batch'");
    expect_error(ARGS("--url", "http://h", "--model", "m", "--scenario", "server"), "needs --rate R");
    expect_error(ARGS("--url", "http://h", "--model", "m", "--p99-bound", "10"), "belongs to --scenario server");
    expect_error(ARGS("--url", "http://h", "--model", "m", "--arrival", "bursty"), "--arrival 'bursty'");
    expect_error(ARGS("--url", "http://h", "--model", "m", "--endpoint", "Bad/Path"), "--endpoint 'Bad/Path'");
    expect_error(ARGS("--url", "http://h", "--model", "a b"), "--model 'a b'");
    expect_error(ARGS("--url", "http://h", "--model", "m", "--input-format", "json"), "needs --input FILE");
    expect_error(ARGS("--url", "http://h", "--model", "m", "--gen", "10:5:2"), "--gen '10:5:2'");
    expect_error(ARGS("--url", "http://h", "--model", "m", "--max-windows", "2"), "--max-windows: bad value '2'");
    expect_error(ARGS("--url", "http://h", "--model", "m", "stray"), "unexpected argument 'stray'");
    expect_error(ARGS("--url", "http://h", "--model", "m", "--scenario", "single-stream", "--concurrency", "4"), "one request at a time");
    expect_error(ARGS("--url", "http://h", "--model", "m", "--path", "no-slash"), "--path: bad value");
}

static void test_url(void) {
    lp_lg_url u;
    lp_error err = {0};
    CHECK_OK(lp_lg_url_parse("http://127.0.0.1:8080/base/", &u, &err), &err);
    CHECK(!strcmp(u.host, "127.0.0.1") && u.port == 8080 && !strcmp(u.prefix, "/base"));
    CHECK(!strcmp(u.host_header, "127.0.0.1:8080"));
    CHECK_OK(lp_lg_url_parse("localhost", &u, &err), &err);
    CHECK(!strcmp(u.host, "localhost") && u.port == 80 && !u.prefix[0] && !strcmp(u.host_header, "localhost"));
    CHECK_OK(lp_lg_url_parse("http://[::1]:9000", &u, &err), &err);
    CHECK(!strcmp(u.host, "::1") && u.port == 9000);
    CHECK_OK(lp_lg_url_parse("http://127.0.0.1:8080", &u, &err), &err);
    CHECK_OK(lp_lg_url_resolve(&u, &err), &err);
    CHECK(u.addr_len > 0);
    CHECK_FAILS(lp_lg_url_parse("https://h", &u, &err), LP_ERR_UNSUPPORTED, &err, "https is not supported");
    const char *bad[] = {"ftp://h", "http://", "http://h:0", "http://h:70000", "http://h:8x", "http://h/a b", "http://[::1"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        lp_error_clear(&err);
        lp_status st = lp_lg_url_parse(bad[i], &u, &err);
        CHECK_MSG(st == LP_ERR_INVALID_ARG && strstr(err.msg, bad[i]), "'%s' accepted (%s)", bad[i], err.msg);
    }
    lp_error_clear(&err);
    CHECK_OK(lp_lg_url_parse("http://no-such-host.invalid:1", &u, &err), &err);
    CHECK_FAILS(lp_lg_url_resolve(&u, &err), LP_ERR_IO, &err, "cannot resolve host 'no-such-host.invalid'");
}

int main(void) {
    test_levels();
    test_defaults_and_modes();
    test_mistakes();
    test_url();
    return lp_test_finish();
}
