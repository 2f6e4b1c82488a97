/* Helpers the subcommands share: option values and batches of stdin lines. */
#ifndef LP_CLI_UTIL_H
#define LP_CLI_UTIL_H

#include <stdbool.h>
#include <stddef.h>

#include "kernels/backend.h"

/* A whole decimal integer in [lo, hi]; false for anything else. */
bool lp_cli_parse_int(const char *s, int lo, int hi, int *out);

/* Up to `max` stdin lines at a time, without their "\n" (and a "\r" before
 * it); each line is NUL-terminated and may contain NUL bytes (see lens). */
typedef struct lp_cli_lines {
    char **lines;
    size_t *lens;
    size_t n, cap;
} lp_cli_lines;

/* Reads the next batch (frees the previous one); returns how many lines, 0 at
 * the end of input; false in *oom when memory ran out. */
size_t lp_cli_read_lines(lp_cli_lines *b, size_t max, bool *oom);
void lp_cli_lines_free(lp_cli_lines *b);

/* --device SPEC for every command that runs a model: "cpu" (the default),
 * "cpu-ref", "cuda" or "cuda:N". The backend to run on goes to *out. When
 * the CUDA backend cannot be used, the command runs on the CPU and exactly
 * one line on stderr says so and why ("lepton CMD: --device cuda: ...;
 * using the CPU backend"): no plugin or CUDA libraries, no driver, no GPU.
 * With a usable GPU every command's models run there (weights uploaded once
 * per process, activations in device memory). Returns false (the
 * reason printed; exit 2) only for a malformed spec or a cuda:N beyond the
 * GPUs present. */
bool lp_cli_device(const char *cmd, const char *spec, const lp_backend **out);

#endif
