/* `lepton serve`: the HTTP model server (server/server.h).
 *
 *   lepton serve --model NAME=DIR [--model ...] [--models-dir DIR] [--config FILE]
 *                [--host H] [--port P] [--api-key KEY] [--max-body-bytes N]
 *                [--drain-timeout S] [--access-log PATH|-] [--log-json] [--quiet]
 *
 * The API key may also come from LEPTON_API_KEY. Exit 0 after a clean
 * SIGTERM/SIGINT drain, 1 when the server cannot start or a model cannot be
 * loaded, 2 on bad usage. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/server.h"
#include "tools/lepton/cli_util.h"
#include "tools/lepton/commands.h"

static int usage(FILE *out) {
    fprintf(out,
            "usage: lepton serve --model NAME=DIR [--model NAME=DIR ...] [--models-dir DIR] [--config FILE]\n"
            "                    [--host 127.0.0.1] [--port 8080] [--api-key KEY] [--max-body-bytes N]\n"
            "                    [--drain-timeout SECONDS] [--access-log PATH|-] [--log-json] [--quiet]\n"
            "                    [--device cpu|cuda[:N]]\n"
            "  --model NAME=DIR     serve the checkpoint in DIR as NAME (the task is inferred: an encoder\n"
            "                       with labels classifies, one without embeds, a ResNet classifies images)\n"
            "  --models-dir DIR     serve every checkpoint directory inside DIR, named after it\n"
            "  --config FILE        JSON: {\"models\": [{\"name\", \"path\", \"task\", \"max_batch_size\",\n"
            "                       \"max_queue_delay_us\", \"max_queue_size\", \"timeout_ms\", \"workers\", ...}]}\n"
            "  --api-key KEY        require 'Authorization: Bearer KEY' (also LEPTON_API_KEY); health is open\n"
            "  --load-delay-ms N    wait N ms before loading models (to exercise readiness probes)\n"
            "  --device D           cpu (default) or cuda[:N]; without a usable GPU: one line on stderr, then the CPU\n"
            "Endpoints: POST /v1/classify /v1/sentiment /v1/embed /v1/translate /v1/classify-image\n"
            "/v1/diagnose; GET /v1/models /metrics /v2/health/live /v2/health/ready; KServe v2 /v2/models/...\n");
    return out == stdout ? 0 : 2;
}

static char *dup_str(const char *s) {
    char *d = malloc(strlen(s) + 1);
    if (d) strcpy(d, s);
    return d;
}

int lp_cmd_serve(int argc, char **argv) {
    lp_server_options o;
    lp_server_options_init(&o);
    lp_error err = {0};
    int rc = 0;
    const char *models_dir = NULL, *device = "cpu";
    for (int i = 1; i < argc && rc == 0; i++) {
        const char *a = argv[i];
        bool has = i + 1 < argc;
        int v;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            lp_server_options_free(&o);
            return usage(stdout);
        } else if (!strcmp(a, "--model") && has) {
            if (lp_server_add_model_arg(&o, argv[++i], &err)) rc = 2;
        } else if (!strcmp(a, "--config") && has) {
            if (lp_server_load_config(&o, argv[++i], &err)) rc = 2;
        } else if (!strcmp(a, "--device") && has) {
            device = argv[++i];
        } else if (!strcmp(a, "--models-dir") && has) {
            models_dir = argv[++i];
        } else if (!strcmp(a, "--host") && has) {
            free(o.host);
            o.host = dup_str(argv[++i]);
        } else if (!strcmp(a, "--port") && has) {
            if (!lp_cli_parse_int(argv[++i], 0, 65535, &o.port)) rc = 2, lp_fail(&err, LP_ERR_INVALID_ARG, "--port must be 0..65535");
        } else if (!strcmp(a, "--api-key") && has) {
            free(o.api_key);
            o.api_key = dup_str(argv[++i]);
        } else if (!strcmp(a, "--max-body-bytes") && has) {
            if (!lp_cli_parse_int(argv[++i], 1024, 1 << 30, &v)) rc = 2, lp_fail(&err, LP_ERR_INVALID_ARG, "--max-body-bytes must be 1024..1073741824");
            else o.max_body_bytes = (size_t)v;
        } else if (!strcmp(a, "--drain-timeout") && has) {
            if (!lp_cli_parse_int(argv[++i], 0, 3600, &v)) rc = 2, lp_fail(&err, LP_ERR_INVALID_ARG, "--drain-timeout must be 0..3600 seconds");
            else o.drain_timeout_s = v;
        } else if (!strcmp(a, "--load-delay-ms") && has) {
            if (!lp_cli_parse_int(argv[++i], 0, 3600000, &v)) rc = 2, lp_fail(&err, LP_ERR_INVALID_ARG, "--load-delay-ms must be 0..3600000");
            else o.load_delay_ms = v;
        } else if (!strcmp(a, "--access-log") && has) {
            free(o.access_log_path);
            o.access_log_path = dup_str(argv[++i]);
        } else if (!strcmp(a, "--log-json")) {
            o.log_json = true;
        } else if (!strcmp(a, "--quiet")) {
            o.quiet = true;
        } else {
            fprintf(stderr, "lepton serve: unknown or incomplete option '%s'\n", a);
            lp_server_options_free(&o);
            return usage(stderr);
        }
    }
    if (rc == 0 && models_dir && lp_server_add_models_dir(&o, models_dir, &err)) rc = 2;
    if (rc == 0 && !o.api_key && getenv("LEPTON_API_KEY") && getenv("LEPTON_API_KEY")[0])
        o.api_key = dup_str(getenv("LEPTON_API_KEY"));
    if (rc != 0) {
        fprintf(stderr, "lepton serve: %s\n", err.msg);
        lp_server_options_free(&o);
        return rc;
    }
    if (!lp_cli_device("serve", device, &o.backend)) {
        lp_server_options_free(&o);
        return 2;
    }
    if (o.n_models == 0) {
        fprintf(stderr, "lepton serve: no models to serve\n");
        lp_server_options_free(&o);
        return usage(stderr);
    }
    lp_server *srv = NULL;
    if (lp_server_create(&o, &srv, &err) || lp_server_run(srv, &err)) {
        fprintf(stderr, "lepton serve: %s\n", err.msg);
        rc = 1;
    } else {
        fprintf(stderr, "lepton serve: stopped\n");
    }
    lp_server_free(srv);
    lp_server_options_free(&o);
    return rc;
}
