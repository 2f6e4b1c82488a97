/* The report of a run: a table for the terminal, CSV (one row per level) and
 * JSON (settings, the machine's load, the verdict and every level). Files are
 * written to a temporary name and renamed, so a crash never leaves half a
 * report where a good one was. */
#ifndef LP_LOADGEN_REPORT_H
#define LP_LOADGEN_REPORT_H

#include <stdio.h>

#include "kernels/status.h"
#include "loadgen/options.h"
#include "loadgen/request.h"
#include "loadgen/scenario.h"

void lp_lg_report_table(FILE *out, const lp_lg_options *o, const lp_lg_run *run);
lp_status lp_lg_report_csv(const char *path, const lp_lg_run *run, lp_error *err);
lp_status lp_lg_report_json(const char *path, const lp_lg_options *o, const lp_lg_requests *reqs,
                            const lp_lg_run *run, const double load_before[3],
                            const double load_after[3], lp_error *err);

/* "200:1234 503:5 conn:1" */
void lp_lg_format_codes(const lp_lg_level_result *r, char *buf, size_t size);

#endif
