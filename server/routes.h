/* The /v1 task handlers (event thread) and helpers they share. */
#ifndef LP_SERVER_ROUTES_H
#define LP_SERVER_ROUTES_H

#include "server/server_internal.h"

void lp_srv_handle_classify(lp_srv_request *rq);
void lp_srv_handle_sentiment(lp_srv_request *rq);
void lp_srv_handle_embed(lp_srv_request *rq);
void lp_srv_handle_translate(lp_srv_request *rq);
void lp_srv_handle_classify_image(lp_srv_request *rq);
void lp_srv_handle_diagnose(lp_srv_request *rq);

/* A diagnosis model's threshold for `label` (config "thresholds", default 0.5). */
double lp_srv_threshold(const lp_srv_model *m, const char *label);

/* The model a request names: `name` when given (404 when unknown, 400 when it
 * serves another task), else the only model serving `task` (400 when there
 * are none or several). Replies and returns NULL on failure. */
lp_srv_model *lp_srv_pick_model(lp_srv_request *rq, const char *name, lp_srv_task task);

/* Parses a NUL-terminated body of `len` bytes as JSON (NULL when it is not,
 * *end near the error). */
cJSON *lp_srv_parse_json(const char *body, size_t len, const char **end);

/* True when [s, s+n) is valid UTF-8. */
bool lp_srv_utf8_ok(const char *s, size_t n);

#endif
