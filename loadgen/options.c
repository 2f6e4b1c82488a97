#include "loadgen/options.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

const char LP_LG_USAGE[] =
    "usage: lepton bench --url URL --model NAME [options]\n"
    "\n"
    "Load-tests a running server (lepton serve, or any KServe v2 server such as Triton).\n"
    "\n"
    "what to send:\n"
    "  --url URL              http://host:port of the server (required)\n"
    "  --model NAME           model name in the request (required except --endpoint get)\n"
    "  --endpoint E           embed | classify | <task> (POST /v1/<task>), v2 (POST\n"
    "                         /v2/models/NAME/infer), get (GET --path, default\n"
    "                         /v2/health/live; measures the generator itself) [embed]\n"
    "  --path P               use this request path instead of the endpoint's\n"
    "  --v2-input NAME        KServe v2 input tensor name [text]\n"
    "  --input FILE           inputs, one per line, cycled [generated texts]\n"
    "  --input-format F       text | json (whole request bodies) | image (file paths) [text]\n"
    "  --gen N:MIN:MAX        generate N texts of MIN..MAX words (uniform) [256:8:64]\n"
    "  --batch N              inputs per request [1]\n"
    "  --seed N               seed for generated texts and Poisson arrivals [1]\n"
    "\n"
    "how to load it:\n"
    "  --scenario S           single-stream | server | offline (MLPerf LoadGen-like);\n"
    "                         without it: a concurrency sweep, or a rate sweep with --rate\n"
    "  --concurrency LEVELS   closed loop: 1:64:x2, 1:16:+4, 1,2,8 or 8 [1:64:x2]\n"
    "  --rate R[,R..]         open loop at these requests/s\n"
    "  --rate-sweep           open loop at 0.25..1.1 x the measured saturation throughput\n"
    "  --arrival A            poisson | constant [poisson]\n"
    "  --max-connections N    open loop: connections (requests in flight) at most [256]\n"
    "  --p99-bound MS         server scenario: a rate is valid when p99 <= MS\n"
    "  --search-steps N       server scenario: bisection steps for the highest rate [6]\n"
    "  --offline-requests N   offline scenario: requests sent at once [1024]\n"
    "\n"
    "how long:\n"
    "  --warmup S             seconds of load before measuring each level [2]\n"
    "  --duration S           measure each level for S seconds (no stability rule)\n"
    "  --window S             seconds per measurement window [2]\n"
    "  --stability PCT        a level ends when its last three windows agree within PCT%\n"
    "                         on throughput and mean latency [10]...\n"
    "  --max-windows N        ...or after N windows [10]\n"
    "  --timeout S            a request slower than this is an error [30]\n"
    "\n"
    "output:\n"
    "  --csv FILE, --json FILE   results per level (the table goes to stdout)\n"
    "  --metrics-path P       where the server's Prometheus text is [/metrics]; '' = off\n"
    "  --quiet                no progress line on stderr\n";

void lp_lg_options_defaults(lp_lg_options *o) {
    memset(o, 0, sizeof *o);
    o->endpoint = LP_LG_ENDPOINT_TASK;
    strcpy(o->task, "embed");
    o->v2_input = "text";
    o->arrival = LP_LG_ARRIVAL_POISSON;
    o->max_connections = 256;
    o->window = 2;
    o->max_windows = 10;
    o->stability = 0.10;
    o->warmup = 2;
    o->timeout = 30;
    o->search_steps = 6;
    o->offline_requests = 1024;
    o->input_kind = LP_LG_INPUT_TEXT;
    o->gen_count = 256;
    o->gen_min_words = 8;
    o->gen_max_words = 64;
    o->batch = 1;
    o->seed = 1;
    o->metrics_path = "/metrics";
}

static bool parse_double(const char *s, double lo, double hi, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v) || v < lo || v > hi) return false;
    *out = v;
    return true;
}

static bool parse_int(const char *s, long lo, long hi, int *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) return false;
    *out = (int)v;
    return true;
}

#define MAX_CONC 100000

lp_status lp_lg_parse_levels(const char *text, int *out, int max, int *n, lp_error *err) {
    *n = 0;
    char buf[256];
    if (strlen(text) >= sizeof buf || !*text)
        return lp_fail(err, LP_ERR_INVALID_ARG, "'%s': empty or too long level list", text);
    strcpy(buf, text);
    if (strchr(buf, ':')) {
        /* start:end:xF or start:end:+S */
        char *a = buf, *b = strchr(a, ':'), *c;
        *b++ = '\0';
        c = strchr(b, ':');
        if (c) *c++ = '\0';
        int start, end, step = 2;
        bool geometric = true;
        if (!parse_int(a, 1, MAX_CONC, &start) || !parse_int(b, 1, MAX_CONC, &end) || end < start)
            return lp_fail(err, LP_ERR_INVALID_ARG,
                           "'%s': want START:END[:xF|:+S] with 1 <= START <= END <= %d", text,
                           MAX_CONC);
        if (c) {
            geometric = c[0] == 'x' || c[0] == '*';
            if ((c[0] != 'x' && c[0] != '*' && c[0] != '+') ||
                !parse_int(c + 1, geometric ? 2 : 1, MAX_CONC, &step))
                return lp_fail(err, LP_ERR_INVALID_ARG,
                               "'%s': the step must be xF (F >= 2) or +S (S >= 1)", text);
        }
        for (long v = start; v <= end; v = geometric ? v * step : v + step) {
            if (*n == max)
                return lp_fail(err, LP_ERR_INVALID_ARG, "'%s': more than %d levels", text, max);
            out[(*n)++] = (int)v;
        }
        return LP_OK;
    }
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        if (*n == max) return lp_fail(err, LP_ERR_INVALID_ARG, "'%s': more than %d levels", text, max);
        if (!parse_int(tok, 1, MAX_CONC, &out[*n]))
            return lp_fail(err, LP_ERR_INVALID_ARG, "'%s': '%s' is not a concurrency in 1..%d",
                           text, tok, MAX_CONC);
        (*n)++;
    }
    if (!*n) return lp_fail(err, LP_ERR_INVALID_ARG, "'%s': no levels", text);
    return LP_OK;
}

static lp_status parse_rates(lp_lg_options *o, const char *text, lp_error *err) {
    char buf[512];
    if (strlen(text) >= sizeof buf || !*text)
        return lp_fail(err, LP_ERR_INVALID_ARG, "--rate '%s': empty or too long", text);
    strcpy(buf, text);
    o->n_rates = 0;
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        if (o->n_rates == LP_LG_MAX_LEVELS)
            return lp_fail(err, LP_ERR_INVALID_ARG, "--rate: more than %d rates", LP_LG_MAX_LEVELS);
        if (!parse_double(tok, 1e-3, 1e7, &o->rates[o->n_rates]))
            return lp_fail(err, LP_ERR_INVALID_ARG,
                           "--rate: '%s' is not a rate in requests/s (0.001..1e7)", tok);
        o->n_rates++;
    }
    if (!o->n_rates) return lp_fail(err, LP_ERR_INVALID_ARG, "--rate '%s': no rates", text);
    return LP_OK;
}

static lp_status parse_endpoint(lp_lg_options *o, const char *v, lp_error *err) {
    if (!strcmp(v, "v2")) {
        o->endpoint = LP_LG_ENDPOINT_V2;
        return LP_OK;
    }
    if (!strcmp(v, "get")) {
        o->endpoint = LP_LG_ENDPOINT_GET;
        return LP_OK;
    }
    size_t n = strlen(v);
    bool ok = n > 0 && n < sizeof o->task;
    for (size_t i = 0; ok && i < n; i++)
        ok = (v[i] >= 'a' && v[i] <= 'z') || (v[i] >= '0' && v[i] <= '9') || v[i] == '-' ||
             v[i] == '_';
    if (!ok)
        return lp_fail(err, LP_ERR_INVALID_ARG,
                       "--endpoint '%s': want a task name (embed, classify, ...), v2 or get", v);
    o->endpoint = LP_LG_ENDPOINT_TASK;
    strcpy(o->task, v);
    return LP_OK;
}

static lp_status parse_gen(lp_lg_options *o, const char *v, lp_error *err) {
    char buf[64];
    if (strlen(v) >= sizeof buf) goto bad;
    strcpy(buf, v);
    char *a = buf, *b = strchr(a, ':'), *c = NULL;
    if (!b) goto bad;
    *b++ = '\0';
    c = strchr(b, ':');
    if (!c) goto bad;
    *c++ = '\0';
    if (!parse_int(a, 1, 1000000, &o->gen_count) || !parse_int(b, 1, 100000, &o->gen_min_words) ||
        !parse_int(c, 1, 100000, &o->gen_max_words) || o->gen_max_words < o->gen_min_words)
        goto bad;
    return LP_OK;
bad:
    return lp_fail(err, LP_ERR_INVALID_ARG,
                   "--gen '%s': want N:MIN:MAX (N texts of MIN..MAX words, 1 <= MIN <= MAX)", v);
}

lp_status lp_lg_options_parse(lp_lg_options *o, int argc, char **argv, lp_error *err) {
    const char *conc = NULL, *scenario = NULL;
    double pct = -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            o->help = true;
            return LP_OK;
        }
        if (!strcmp(a, "--rate-sweep")) {
            o->rate_sweep = true;
            continue;
        }
        if (!strcmp(a, "--quiet")) {
            o->quiet = true;
            continue;
        }
        if (strncmp(a, "--", 2))
            return lp_fail(err, LP_ERR_INVALID_ARG, "unexpected argument '%s' (options start with --)", a);
        if (i + 1 >= argc) return lp_fail(err, LP_ERR_INVALID_ARG, "%s needs a value", a);
        const char *v = argv[++i];
        bool ok = true;
        lp_status st = LP_OK;
        if (!strcmp(a, "--url")) o->url = v;
        else if (!strcmp(a, "--model")) o->model = v;
        else if (!strcmp(a, "--endpoint")) st = parse_endpoint(o, v, err);
        else if (!strcmp(a, "--path")) {
            o->path = v;
            ok = v[0] == '/' && !strpbrk(v, " \t\r\n");
        } else if (!strcmp(a, "--v2-input")) o->v2_input = v, ok = *v != '\0';
        else if (!strcmp(a, "--scenario")) scenario = v;
        else if (!strcmp(a, "--concurrency")) conc = v;
        else if (!strcmp(a, "--rate")) st = parse_rates(o, v, err);
        else if (!strcmp(a, "--arrival")) {
            if (!strcmp(v, "poisson")) o->arrival = LP_LG_ARRIVAL_POISSON;
            else if (!strcmp(v, "constant")) o->arrival = LP_LG_ARRIVAL_CONSTANT;
            else return lp_fail(err, LP_ERR_INVALID_ARG, "--arrival '%s': want poisson or constant", v);
        } else if (!strcmp(a, "--max-connections")) ok = parse_int(v, 1, 100000, &o->max_connections);
        else if (!strcmp(a, "--duration")) ok = parse_double(v, 0.01, 86400, &o->duration);
        else if (!strcmp(a, "--window")) ok = parse_double(v, 0.01, 3600, &o->window);
        else if (!strcmp(a, "--max-windows")) ok = parse_int(v, 3, 10000, &o->max_windows);
        else if (!strcmp(a, "--stability")) ok = parse_double(v, 0.1, 100, &pct);
        else if (!strcmp(a, "--warmup")) ok = parse_double(v, 0, 3600, &o->warmup);
        else if (!strcmp(a, "--timeout")) ok = parse_double(v, 0.001, 3600, &o->timeout);
        else if (!strcmp(a, "--p99-bound")) ok = parse_double(v, 0.001, 1e7, &o->p99_bound_ms);
        else if (!strcmp(a, "--search-steps")) ok = parse_int(v, 1, 30, &o->search_steps);
        else if (!strcmp(a, "--offline-requests")) ok = parse_int(v, 1, 10000000, &o->offline_requests);
        else if (!strcmp(a, "--input")) o->input_path = v;
        else if (!strcmp(a, "--input-format")) {
            if (!strcmp(v, "text")) o->input_kind = LP_LG_INPUT_TEXT;
            else if (!strcmp(v, "json")) o->input_kind = LP_LG_INPUT_JSON;
            else if (!strcmp(v, "image")) o->input_kind = LP_LG_INPUT_IMAGE;
            else return lp_fail(err, LP_ERR_INVALID_ARG, "--input-format '%s': want text, json or image", v);
        } else if (!strcmp(a, "--gen")) st = parse_gen(o, v, err);
        else if (!strcmp(a, "--batch")) ok = parse_int(v, 1, 4096, &o->batch);
        else if (!strcmp(a, "--seed")) {
            char *end;
            errno = 0;
            unsigned long long s = strtoull(v, &end, 10);
            ok = !errno && end != v && !*end && v[0] != '-';
            o->seed = s;
        } else if (!strcmp(a, "--csv")) o->csv_path = v;
        else if (!strcmp(a, "--json")) o->json_path = v;
        else if (!strcmp(a, "--metrics-path")) {
            o->metrics_path = v;
            ok = !*v || (v[0] == '/' && !strpbrk(v, " \t\r\n"));
        } else return lp_fail(err, LP_ERR_INVALID_ARG, "unknown option '%s' (see lepton bench --help)", a);
        if (st) return st;
        if (!ok) return lp_fail(err, LP_ERR_INVALID_ARG, "%s: bad value '%s' (see lepton bench --help)", a, v);
    }
    if (pct > 0) o->stability = pct / 100.0;
    if (!o->url) return lp_fail(err, LP_ERR_INVALID_ARG, "--url is required (e.g. --url http://127.0.0.1:8080)");
    if (!o->model && o->endpoint != LP_LG_ENDPOINT_GET)
        return lp_fail(err, LP_ERR_INVALID_ARG, "--model is required (the model name the server knows)");
    if (!o->model) o->model = "";
    for (const char *c = o->model; *c; c++)
        if ((unsigned char)*c <= ' ' || *c == '/' || *c == '?' || *c == '#' || *c == '%')
            return lp_fail(err, LP_ERR_INVALID_ARG, "--model '%s': spaces, '/', '?', '#' and '%%' are not allowed", o->model);
    if (scenario) {
        if (!strcmp(scenario, "single-stream")) o->scenario = LP_LG_SCENARIO_SINGLE_STREAM;
        else if (!strcmp(scenario, "server")) o->scenario = LP_LG_SCENARIO_SERVER;
        else if (!strcmp(scenario, "offline")) o->scenario = LP_LG_SCENARIO_OFFLINE;
        else return lp_fail(err, LP_ERR_INVALID_ARG, "--scenario '%s': want single-stream, server or offline", scenario);
    }
    if (o->n_rates && o->rate_sweep)
        return lp_fail(err, LP_ERR_INVALID_ARG, "give either --rate or --rate-sweep, not both");
    if (conc && (o->n_rates || o->rate_sweep))
        return lp_fail(err, LP_ERR_INVALID_ARG,
                       "--concurrency is the closed loop and --rate the open loop: give one of them");
    if (o->scenario == LP_LG_SCENARIO_SINGLE_STREAM && (conc || o->n_rates || o->rate_sweep))
        return lp_fail(err, LP_ERR_INVALID_ARG, "the single-stream scenario sends one request at a time; drop --concurrency/--rate");
    if (o->scenario == LP_LG_SCENARIO_SERVER) {
        if (conc) return lp_fail(err, LP_ERR_INVALID_ARG, "the server scenario is open loop: give --rate or --p99-bound, not --concurrency");
        if (!o->n_rates && !o->p99_bound_ms)
            return lp_fail(err, LP_ERR_INVALID_ARG, "the server scenario needs --rate R (measure at R) or --p99-bound MS (search the highest valid rate)");
        o->arrival = LP_LG_ARRIVAL_POISSON;
    }
    if (o->scenario == LP_LG_SCENARIO_OFFLINE && (o->n_rates || o->rate_sweep))
        return lp_fail(err, LP_ERR_INVALID_ARG, "the offline scenario sends everything at once; drop --rate");
    if (o->p99_bound_ms && o->scenario != LP_LG_SCENARIO_SERVER)
        return lp_fail(err, LP_ERR_INVALID_ARG, "--p99-bound belongs to --scenario server");
    if (o->input_kind != LP_LG_INPUT_TEXT && !o->input_path)
        return lp_fail(err, LP_ERR_INVALID_ARG, "--input-format needs --input FILE");
    if (o->input_kind == LP_LG_INPUT_IMAGE && o->endpoint == LP_LG_ENDPOINT_V2)
        return lp_fail(err, LP_ERR_UNSUPPORTED, "images over KServe v2 JSON are not supported; send prepared bodies with --input-format json");
    if (o->window * 3 > 1e6) return lp_fail(err, LP_ERR_INVALID_ARG, "--window too long");
    o->open_loop = o->n_rates || o->rate_sweep || o->scenario == LP_LG_SCENARIO_SERVER;
    if (conc) {
        lp_status st = lp_lg_parse_levels(conc, o->concurrency, LP_LG_MAX_LEVELS, &o->n_concurrency, err);
        if (st) return lp_fail(err, st, "--concurrency");
    } else if (o->scenario == LP_LG_SCENARIO_SINGLE_STREAM) {
        o->concurrency[0] = 1;
        o->n_concurrency = 1;
    } else if (o->scenario == LP_LG_SCENARIO_OFFLINE) {
        o->concurrency[0] = 64;
        o->n_concurrency = 1;
    } else {
        lp_lg_parse_levels("1:64:x2", o->concurrency, LP_LG_MAX_LEVELS, &o->n_concurrency, err);
    }
    if (o->scenario == LP_LG_SCENARIO_OFFLINE && o->n_concurrency != 1)
        return lp_fail(err, LP_ERR_INVALID_ARG, "the offline scenario takes one --concurrency (connections in flight)");
    return LP_OK;
}
