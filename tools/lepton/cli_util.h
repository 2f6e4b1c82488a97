/* Helpers the subcommands share: option values and batches of stdin lines. */
#ifndef LP_CLI_UTIL_H
#define LP_CLI_UTIL_H

#include <stdbool.h>
#include <stddef.h>

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

#endif
