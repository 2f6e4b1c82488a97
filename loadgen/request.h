/* Prepared requests: every distinct HTTP/1.1 request of a run is serialized
 * once, before any load, so sending one is a single buffer copy. Bodies for
 * lepton's task endpoints are {"model": M, "inputs": [...]}; for KServe v2,
 * {"inputs": [{"name": I, "shape": [n], "datatype": "BYTES", "data": [...]}]};
 * images go in "inputs" as base64 strings, which lepton's /v1/classify-image
 * and /v1/diagnose accept; JSON-body inputs are sent as they are. */
#ifndef LP_LOADGEN_REQUEST_H
#define LP_LOADGEN_REQUEST_H

#include <stddef.h>

#include "kernels/status.h"
#include "loadgen/inputs.h"
#include "loadgen/options.h"
#include "loadgen/url.h"

typedef struct lp_lg_request {
    char *bytes; /* request line, headers and body */
    size_t len;
} lp_lg_request;

typedef struct lp_lg_requests {
    lp_lg_request *r;
    size_t n;
    char path[1024]; /* the request path, for the report */
    const char *method;
} lp_lg_requests;

/* One request per input (request k takes inputs k, k+1, ... k+batch-1, cycled). */
lp_status lp_lg_requests_build(lp_lg_requests *reqs, const lp_lg_options *o,
                               const lp_lg_url *url, const lp_lg_inputs *in, lp_error *err);

/* A GET of `path` (the /metrics scrape, health probes). */
lp_status lp_lg_request_get(lp_lg_request *req, const lp_lg_url *url, const char *path,
                            lp_error *err);

void lp_lg_requests_free(lp_lg_requests *reqs);

#endif
