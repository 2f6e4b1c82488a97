/* The inputs a run sends, cycled: texts (one per line of a file), JSON
 * request bodies (one per line, sent as they are), images (one path per
 * line, sent base64-encoded), or texts generated with a length distribution
 * from a seeded generator, so a run can be repeated. */
#ifndef LP_LOADGEN_INPUTS_H
#define LP_LOADGEN_INPUTS_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/status.h"

typedef enum lp_lg_input_kind {
    LP_LG_INPUT_TEXT,
    LP_LG_INPUT_JSON,  /* whole request bodies */
    LP_LG_INPUT_IMAGE  /* base64 of the file's bytes */
} lp_lg_input_kind;

typedef struct lp_lg_inputs {
    lp_lg_input_kind kind;
    char **items; /* NUL-terminated */
    size_t *lens;
    size_t n;
} lp_lg_inputs;

/* Reads FILE as `kind`; empty lines are skipped; at least one item. */
lp_status lp_lg_inputs_load(lp_lg_inputs *in, const char *path, lp_lg_input_kind kind,
                            lp_error *err);

/* `count` texts of min_words..max_words words (uniform), words drawn from a
 * fixed English list. */
lp_status lp_lg_inputs_generate(lp_lg_inputs *in, size_t count, int min_words, int max_words,
                                uint64_t seed, lp_error *err);

void lp_lg_inputs_free(lp_lg_inputs *in);

/* Standard base64 with padding; *out is malloc'ed and NUL-terminated. */
lp_status lp_lg_base64(const unsigned char *data, size_t n, char **out, size_t *out_len,
                       lp_error *err);

#endif
