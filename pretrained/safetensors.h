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

#include <stdbool.h>
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

/* What the reader enforces (the reference implementation, the Rust
 * `safetensors` crate, enforces the same unless marked "stricter"):
 * - at least 8 bytes; header length <= LP_ST_MAX_HEADER_BYTES and within the file;
 * - the header is well-formed UTF-8 JSON whose top level is an object, followed
 *   only by whitespace (the writer's padding); no control bytes, no \u0000
 *   escapes (stricter: C strings cannot hold a NUL);
 * - each entry other than "__metadata__" is an object with "dtype" (a name the
 *   format defines and lepton supports), "shape" (an array of at most
 *   LP_ST_MAX_DIMS non-negative integers written as JSON integers) and
 *   "data_offsets" (two such integers, begin <= end <= data section size);
 *   other keys in an entry are ignored, as the reference does. Integers above
 *   INT64_MAX in a shape are refused (stricter);
 * - end - begin == numel * dtype size, computed with overflow checks;
 * - sorted by (begin, end), the tensors cover the data section exactly: the
 *   first starts at 0, each starts where the previous ended (no overlap, no
 *   gap) and the last ends at the end of the file;
 * - names are unique (stricter: the reference keeps the last duplicate);
 * - "__metadata__", when present and not null, is an object of strings with
 *   unique keys (stricter on duplicates);
 * - rank <= LP_ST_MAX_DIMS (stricter: the reference has no limit).
 * More lenient: number spellings cJSON accepts and serde_json refuses ("1.",
 * leading zeros) pass inside keys lepton ignores; every value lepton reads is
 * checked exactly.
 * All arithmetic is checked; no input makes the reader crash (it is fuzzed).
 * A file truncated by someone else *while mapped* can still raise SIGBUS on
 * access, as with any mmap reader. */

/* Maps and validates a file. The path appears in every error message. */
lp_status lp_safetensors_open(const char *path, lp_safetensors **out, lp_error *err);

/* Validates a file already in memory (the bytes must outlive the result);
 * `label` names it in messages. The fuzz target enters here. */
lp_status lp_safetensors_parse(const void *bytes, size_t size, const char *label,
                               lp_safetensors **out, lp_error *err);

void lp_safetensors_close(lp_safetensors *st);

/* The path (or label) given at open/parse. */
const char *lp_safetensors_label(const lp_safetensors *st);

/* Tensors in data-offset order. */
size_t lp_safetensors_count(const lp_safetensors *st);
const lp_st_tensor *lp_safetensors_at(const lp_safetensors *st, size_t index);
/* NULL when absent. */
const lp_st_tensor *lp_safetensors_find(const lp_safetensors *st, const char *name);

/* Elements in a stored tensor (1 for a scalar, 0 for an empty tensor). */
uint64_t lp_st_tensor_numel(const lp_st_tensor *t);

/* A CPU tensor view of a stored tensor (zero-copy when the data is aligned for
 * its dtype, else an aligned copy owned by `st`, made once and kept until
 * close; safe to call from several threads). The data is read-only: a file's
 * mapping is PROT_READ. Fails, naming the file and tensor, when it is absent
 * (LP_ERR_INVALID_ARG) or has more than LP_MAX_DIMS dimensions (LP_ERR_SHAPE). */
lp_status lp_safetensors_get(lp_safetensors *st, const char *name, lp_tensor *out, lp_error *err);

/* __metadata__ lookup; NULL when absent. Entries are sorted by key. */
const char *lp_safetensors_metadata(const lp_safetensors *st, const char *key);
size_t lp_safetensors_metadata_count(const lp_safetensors *st);
void lp_safetensors_metadata_at(const lp_safetensors *st, size_t index, const char **key,
                                const char **value);

typedef struct lp_st_entry {
    const char *name;
    const lp_tensor *tensor; /* contiguous CPU tensor */
} lp_st_entry;

/* Writes `count` tensors (and metadata: `nmeta` key/value pairs, may be 0) to
 * path atomically (lp_fs_atomic_*: a crash never leaves a partial file at
 * `path`). Tensors are laid out in the given order, the header is padded with
 * spaces to a multiple of 8 bytes, as the Python writer does; put wider dtypes
 * first to keep every tensor aligned (the reader copies misaligned ones).
 * Names must be unique valid UTF-8 and not "__metadata__"; tensors must be
 * contiguous CPU tensors of at most LP_MAX_DIMS dimensions; metadata keys
 * unique, keys and values valid UTF-8. Refusals are LP_ERR_INVALID_ARG. */
lp_status lp_safetensors_write(const char *path, const lp_st_entry *entries, size_t count,
                               const char *const (*metadata)[2], size_t nmeta, lp_error *err);

/* True when s[0..n) is well-formed UTF-8 (no overlong forms, surrogates or
 * code points above U+10FFFF): the rule names and metadata must follow. */
bool lp_st_utf8_valid(const char *s, size_t n);

#endif
