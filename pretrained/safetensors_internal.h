/* Helpers shared by the safetensors reader and writer; not part of the API. */
#ifndef LP_SAFETENSORS_INTERNAL_H
#define LP_SAFETENSORS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A tensor name made safe to quote in an error message: control characters
 * become '?', and long names are cut (on a character boundary) with "...". */
typedef struct lp_st_quoted {
    char text[96];
} lp_st_quoted;
lp_st_quoted lp_st_quote(const char *name);

/* Offset of the first byte that breaks UTF-8 well-formedness, or n when none. */
size_t lp_st_utf8_error_at(const char *s, size_t n);

#endif
