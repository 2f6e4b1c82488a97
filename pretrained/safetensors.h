/* safetensors files: read (memory-mapped, zero-copy where alignment allows) and
 * write (atomically: temporary file, fsync, rename).
 *
 * Format: 8-byte little-endian header length N, N bytes of UTF-8 JSON
 * {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
 *  "__metadata__": {"key": "value"}}, then the data section; offsets are
 * relative to the data section. Every input is validated: a malformed file is
 * refused with a message naming the file and the tensor, never a crash. */
#ifndef LP_SAFETENSORS_H
#define LP_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/status.h"
#include "kernels/tensor.h"

/* Headers larger than this are refused (the reference implementation's limit). */
#define LP_ST_MAX_HEADER_BYTES ((uint64_t)100 * 1000 * 1000)
/* Ranks above this are refused at open; lp_tensor views take at most LP_MAX_DIMS. */
#define LP_ST_MAX_DIMS 8

typedef struct lp_st_tensor {
    const char *name;
    lp_dtype dtype;
    int ndim;
    int64_t shape[LP_ST_MAX_DIMS];
    uint64_t begin, end; /* byte offsets into the data section */
    const void *data;    /* points into the file's bytes */
} lp_st_tensor;

typedef struct lp_safetensors lp_safetensors;

/* Maps and validates a file. The path appears in every error message. */
lp_status lp_safetensors_open(const char *path, lp_safetensors **out, lp_error *err);

/* Validates a file already in memory (the bytes must outlive the result);
 * `label` names it in messages. The fuzz target enters here. */
lp_status lp_safetensors_parse(const void *bytes, size_t size, const char *label,
                               lp_safetensors **out, lp_error *err);

void lp_safetensors_close(lp_safetensors *st);

/* Tensors in data-offset order. */
size_t lp_safetensors_count(const lp_safetensors *st);
const lp_st_tensor *lp_safetensors_at(const lp_safetensors *st, size_t index);
/* NULL when absent. */
const lp_st_tensor *lp_safetensors_find(const lp_safetensors *st, const char *name);

/* A CPU tensor view of a stored tensor (zero-copy when the data is aligned for
 * its dtype, else an aligned copy owned by `st`). Fails, naming the file and
 * tensor, when it is absent or has more than LP_MAX_DIMS dimensions. */
lp_status lp_safetensors_get(lp_safetensors *st, const char *name, lp_tensor *out, lp_error *err);

/* __metadata__ lookup; NULL when absent. */
const char *lp_safetensors_metadata(const lp_safetensors *st, const char *key);
size_t lp_safetensors_metadata_count(const lp_safetensors *st);
void lp_safetensors_metadata_at(const lp_safetensors *st, size_t index, const char **key,
                                const char **value);

typedef struct lp_st_entry {
    const char *name;
    const lp_tensor *tensor; /* contiguous CPU tensor */
} lp_st_entry;

/* Writes `count` tensors (and metadata: `nmeta` key/value pairs, may be 0) to
 * path atomically. Names must be unique valid UTF-8 and not "__metadata__". */
lp_status lp_safetensors_write(const char *path, const lp_st_entry *entries, size_t count,
                               const char *const (*metadata)[2], size_t nmeta, lp_error *err);

#endif
