/* `lepton serve`: the model server's public face, used by tools/lepton/serve.c.
 *
 *   lp_server_options o;  lp_server_options_init(&o);
 *   lp_server_add_model_arg(&o, "minilm=/path/to/dir", &err);   // or a config file
 *   lp_server *srv;  lp_server_create(&o, &srv, &err);           // binds the port
 *   lp_server_run(srv, &err);   // serves until SIGTERM/SIGINT, drains, returns
 *   lp_server_free(srv);  lp_server_options_free(&o);
 *
 * Models load on a background thread after lp_server_run starts, so
 * /v2/health/live answers at once and readiness turns true when all loaded. */
#ifndef LP_SERVER_H
#define LP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels/status.h"
#include "server/server_internal.h"

typedef struct lp_server_options {
    char *host;               /* default "127.0.0.1" */
    int port;                 /* default 8080; 0 picks a free one */
    char *api_key;            /* NULL: no authentication */
    size_t max_body_bytes;    /* default 32 MiB */
    double drain_timeout_s;   /* default 30 */
    int64_t load_delay_ms;    /* testing readiness probes: wait this long before loading */
    char *access_log_path;    /* NULL or "-": stderr */
    bool log_json;            /* access log as JSON lines (else key=value text) */
    bool quiet;               /* no access log */
    const struct lp_backend *backend; /* the models' backend (lp_backend_get); NULL: the CPU */
    lp_srv_model_config *models;
    size_t n_models;
} lp_server_options;

void lp_server_options_init(lp_server_options *o);
void lp_server_options_free(lp_server_options *o);

/* Defaults for one model's settings. */
void lp_srv_model_config_init(lp_srv_model_config *c);
void lp_srv_model_config_free(lp_srv_model_config *c);
/* True for names made of [A-Za-z0-9._-], 1..64 bytes, not "." or "..". */
bool lp_srv_model_name_ok(const char *name);

/* "NAME=DIR" from --model. */
lp_status lp_server_add_model_arg(lp_server_options *o, const char *arg, lp_error *err);
/* Every subdirectory of `dir` that holds a checkpoint (config.json or
 * model.safetensors), named after the subdirectory; names already present win. */
lp_status lp_server_add_models_dir(lp_server_options *o, const char *dir, lp_error *err);
/* A JSON config file:
 *   {"host": ..., "port": ..., "api_key": ..., "max_body_bytes": ..., "drain_timeout_s": ...,
 *    "models_dir": ...,
 *    "models": [{"name", "path", "task", "device", "max_batch_size", "max_queue_delay_us",
 *                "max_queue_size", "timeout_ms", "workers", "threads", "max_items",
 *                "max_text_bytes", "top_k", "thresholds": {"label": 0.5}}, ...]}
 * ("models" may also be an object keyed by name). Unknown keys are refused. */
lp_status lp_server_load_config(lp_server_options *o, const char *path, lp_error *err);

typedef struct lp_server lp_server;

lp_status lp_server_create(const lp_server_options *o, lp_server **out, lp_error *err);
/* The bound port (useful with port 0). */
int lp_server_port(const lp_server *srv);
/* Serves until SIGTERM/SIGINT, then stops accepting, drains in-flight and
 * queued work (at most drain_timeout_s) and returns. Fails when a model
 * cannot be loaded (the server then stops). */
lp_status lp_server_run(lp_server *srv, lp_error *err);
void lp_server_free(lp_server *srv);

#endif
