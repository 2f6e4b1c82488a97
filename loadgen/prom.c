#include "loadgen/prom.h"

#include <stdlib.h>
#include <string.h>

/* True when the label block "{...}" at [p, end) contains model="NAME". */
static bool labels_match(const char *p, const char *end, const char *model) {
    if (!model || !*model) return true;
    size_t mlen = strlen(model);
    for (const char *q = p; q + 7 + mlen + 1 <= end; q++) {
        if ((q == p || q[-1] == '{' || q[-1] == ',' || q[-1] == ' ') &&
            !strncmp(q, "model=\"", 7) && !strncmp(q + 7, model, mlen) && q[7 + mlen] == '"')
            return true;
    }
    return false;
}

bool lp_lg_prom_sum(const char *text, size_t len, const char *metric, const char *model,
                    double *out) {
    size_t mlen = strlen(metric);
    const char *p = text, *end = text + len;
    bool found = false;
    double sum = 0;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol) eol = end;
        if (*p != '#' && (size_t)(eol - p) > mlen && !strncmp(p, metric, mlen) &&
            (p[mlen] == '{' || p[mlen] == ' ')) {
            const char *v = p + mlen;
            bool ok = true;
            if (*v == '{') {
                const char *close = memchr(v, '}', (size_t)(eol - v));
                ok = close && labels_match(v, close, model);
                v = close ? close + 1 : eol;
            } else if (model && *model) {
                ok = false; /* an unlabelled series belongs to no model */
            }
            if (ok) {
                char num[64];
                while (v < eol && *v == ' ') v++;
                size_t n = strcspn(v, " \n");
                if (n && n < sizeof num && v + n <= eol) {
                    memcpy(num, v, n);
                    num[n] = '\0';
                    char *e;
                    double x = strtod(num, &e);
                    if (!*e) {
                        sum += x;
                        found = true;
                    }
                }
            }
        }
        p = eol + 1;
    }
    if (found) *out = sum;
    return found;
}

lp_lg_server_counters lp_lg_prom_server_counters(const char *text, size_t len,
                                                 const char *model) {
    lp_lg_server_counters c;
    memset(&c, 0, sizeof c);
    c.present = lp_lg_prom_sum(text, len, "lepton_queue_duration_seconds_sum", model, &c.queue_sum) &&
                lp_lg_prom_sum(text, len, "lepton_queue_duration_seconds_count", model, &c.queue_count) &&
                lp_lg_prom_sum(text, len, "lepton_compute_duration_seconds_sum", model, &c.compute_sum) &&
                lp_lg_prom_sum(text, len, "lepton_compute_duration_seconds_count", model, &c.compute_count);
    /* Batch size is optional: a server without batching may not export it. */
    lp_lg_prom_sum(text, len, "lepton_batch_size_sum", model, &c.batch_sum);
    lp_lg_prom_sum(text, len, "lepton_batch_size_count", model, &c.batch_count);
    lp_lg_prom_sum(text, len, "lepton_request_duration_seconds_sum", model, &c.e2e_sum);
    lp_lg_prom_sum(text, len, "lepton_request_duration_seconds_count", model, &c.e2e_count);
    return c;
}

lp_lg_server_split lp_lg_server_split_between(const lp_lg_server_counters *before,
                                              const lp_lg_server_counters *after) {
    lp_lg_server_split s = {false, -1, -1, -1, -1, 0};
    if (!before->present || !after->present) return s;
    s.present = true;
    double qn = after->queue_count - before->queue_count;
    double cn = after->compute_count - before->compute_count;
    double bn = after->batch_count - before->batch_count;
    if (qn > 0) s.queue_ms = 1e3 * (after->queue_sum - before->queue_sum) / qn;
    if (cn > 0) s.compute_ms = 1e3 * (after->compute_sum - before->compute_sum) / cn;
    if (bn > 0) s.batch_mean = (after->batch_sum - before->batch_sum) / bn;
    double en = after->e2e_count - before->e2e_count;
    if (en > 0) s.e2e_ms = 1e3 * (after->e2e_sum - before->e2e_sum) / en;
    s.batches = bn > 0 ? bn : 0;
    return s;
}
