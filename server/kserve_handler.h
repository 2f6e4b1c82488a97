/* The KServe v2 / Open Inference Protocol routes of `lepton serve` (event
 * thread): GET /v2, /v2/health/live, /v2/health/ready, /v2/models/{name}
 * [/versions/{v}] (metadata), .../ready, .../stats, /v2/models/stats and
 * POST .../infer, which submits a job to the model's batcher and answers from
 * its done callback. The router calls lp_kserve_handle for every path under
 * /v2 (lp_kserve_match_route(path).kind != LP_KS_ROUTE_NONE) after its own
 * checks (API key except for /v2/health/..., body size); the handler answers
 * every request exactly once, errors as {"error": "..."}. */
#ifndef LP_SERVER_KSERVE_HANDLER_H
#define LP_SERVER_KSERVE_HANDLER_H

#include "server/kserve.h"
#include "server/server_internal.h"

void lp_kserve_handle(lp_srv_request *rq);

/* The protocol's view of a loaded model (labels read through the model).
 * False when the model is not ready or serves no KServe kind. */
bool lp_kserve_describe_model(lp_srv_model *m, lp_kserve_model_desc *out);

#endif
