/* Hugging Face config.json: the generic fields every tool wants
 * (architectures, model_type, the size fields) and typed lookups of any
 * top-level key, each failing with a message that names the file and key.
 * Model families read their own fields through these. */
#ifndef LP_CONFIG_H
#define LP_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels/status.h"

struct cJSON;
typedef struct lp_hf_config lp_hf_config;

/* Larger config files are refused. */
#define LP_HF_CONFIG_MAX_BYTES ((size_t)16 << 20)

/* Reads and validates: a JSON object in UTF-8; "architectures", when present,
 * an array of strings; "model_type", when present, a string. */
lp_status lp_hf_config_load(const char *path, lp_hf_config **out, lp_error *err);
/* Same from memory; `label` names it in messages. */
lp_status lp_hf_config_parse(const char *text, size_t size, const char *label, lp_hf_config **out,
                             lp_error *err);
void lp_hf_config_free(lp_hf_config *c);

const char *lp_hf_config_label(const lp_hf_config *c);
/* NULL when absent. */
const char *lp_hf_config_model_type(const lp_hf_config *c);
size_t lp_hf_config_architecture_count(const lp_hf_config *c);
const char *lp_hf_config_architecture(const lp_hf_config *c, size_t index);

bool lp_hf_config_has(const lp_hf_config *c, const char *key);
/* Typed lookups of a top-level key. Absent or of another type: LP_ERR_FORMAT
 * naming the file and key. Integers must be exact (3, not 3.5) and within
 * +-2^53; floats accept any JSON number. */
lp_status lp_hf_config_int(const lp_hf_config *c, const char *key, int64_t *out, lp_error *err);
lp_status lp_hf_config_float(const lp_hf_config *c, const char *key, double *out, lp_error *err);
lp_status lp_hf_config_string(const lp_hf_config *c, const char *key, const char **out,
                              lp_error *err);
lp_status lp_hf_config_bool(const lp_hf_config *c, const char *key, bool *out, lp_error *err);
/* Same, but an absent (or null) key gives `fallback`; a wrong type still fails. */
lp_status lp_hf_config_int_or(const lp_hf_config *c, const char *key, int64_t fallback,
                              int64_t *out, lp_error *err);
lp_status lp_hf_config_float_or(const lp_hf_config *c, const char *key, double fallback,
                                double *out, lp_error *err);

/* The keys that describe a model's size across the common families (BERT,
 * Marian/BART, GPT-2, ResNet ...), NULL-terminated, in display order. */
extern const char *const lp_hf_config_size_keys[];

/* The parsed document, for tools that show or copy it (read-only). */
const struct cJSON *lp_hf_config_json(const lp_hf_config *c);

#endif
