/* Element types: every dtype the safetensors format defines, so that checkpoints
 * can be described exactly; ops accept the subset they implement (f32, f16, bf16,
 * i32, i64, u8 at the time of writing) and refuse the rest with LP_ERR_DTYPE. */
#ifndef LP_DTYPE_H
#define LP_DTYPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum lp_dtype {
    LP_F32 = 0,
    LP_F16,
    LP_BF16,
    LP_I32,
    LP_I64,
    LP_U8,
    LP_F64,
    LP_I8,
    LP_I16,
    LP_U16,
    LP_U32,
    LP_U64,
    LP_BOOL,
    LP_F8_E4M3,
    LP_F8_E5M2,
    LP_DTYPE_COUNT
} lp_dtype;

/* Bytes per element; 0 for an out-of-range value. */
size_t lp_dtype_size(lp_dtype dtype);

/* Lower-case name used in messages and CLI output ("f32", "bf16", ...). */
const char *lp_dtype_name(lp_dtype dtype);

/* The safetensors header spelling ("F32", "BF16", "F8_E4M3", ...) and back.
 * lp_dtype_from_safetensors returns false for a name the format does not define. */
const char *lp_dtype_safetensors_name(lp_dtype dtype);
bool lp_dtype_from_safetensors(const char *name, lp_dtype *out);

bool lp_dtype_is_float(lp_dtype dtype);

/* IEEE half and bfloat16 conversions: round to nearest even, NaN stays NaN
 * (quiet), overflow goes to infinity, subnormals are exact. */
float lp_f16_to_f32(uint16_t h);
uint16_t lp_f32_to_f16(float f);
float lp_bf16_to_f32(uint16_t b);
uint16_t lp_f32_to_bf16(float f);

#endif
