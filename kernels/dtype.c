#include "kernels/dtype.h"

#include <string.h>

typedef struct dtype_info {
    const char *name;
    const char *safetensors;
    size_t size;
    bool is_float;
} dtype_info;

static const dtype_info DTYPES[LP_DTYPE_COUNT] = {
    [LP_F32] = {"f32", "F32", 4, true},
    [LP_F16] = {"f16", "F16", 2, true},
    [LP_BF16] = {"bf16", "BF16", 2, true},
    [LP_I32] = {"i32", "I32", 4, false},
    [LP_I64] = {"i64", "I64", 8, false},
    [LP_U8] = {"u8", "U8", 1, false},
    [LP_F64] = {"f64", "F64", 8, true},
    [LP_I8] = {"i8", "I8", 1, false},
    [LP_I16] = {"i16", "I16", 2, false},
    [LP_U16] = {"u16", "U16", 2, false},
    [LP_U32] = {"u32", "U32", 4, false},
    [LP_U64] = {"u64", "U64", 8, false},
    [LP_BOOL] = {"bool", "BOOL", 1, false},
    [LP_F8_E4M3] = {"f8_e4m3", "F8_E4M3", 1, true},
    [LP_F8_E5M2] = {"f8_e5m2", "F8_E5M2", 1, true},
};

static bool valid(lp_dtype dtype) { return (unsigned)dtype < LP_DTYPE_COUNT; }

size_t lp_dtype_size(lp_dtype dtype) { return valid(dtype) ? DTYPES[dtype].size : 0; }

const char *lp_dtype_name(lp_dtype dtype) { return valid(dtype) ? DTYPES[dtype].name : "invalid"; }

const char *lp_dtype_safetensors_name(lp_dtype dtype) {
    return valid(dtype) ? DTYPES[dtype].safetensors : "INVALID";
}

bool lp_dtype_from_safetensors(const char *name, lp_dtype *out) {
    for (int i = 0; i < LP_DTYPE_COUNT; i++) {
        if (strcmp(name, DTYPES[i].safetensors) == 0) {
            *out = (lp_dtype)i;
            return true;
        }
    }
    return false;
}

bool lp_dtype_is_float(lp_dtype dtype) { return valid(dtype) && DTYPES[dtype].is_float; }

static uint32_t f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static float bits_f32(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

float lp_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t man = h & 0x3ffu;
    if (exp == 0x1f) return bits_f32(sign | 0x7f800000u | (man << 13)); /* inf / nan */
    if (exp == 0) {
        /* zero or subnormal: man * 2^-24, exact in f32 */
        float mag = (float)man * 5.9604644775390625e-8f;
        return sign ? -mag : mag;
    }
    return bits_f32(sign | ((exp + 112u) << 23) | (man << 13));
}

uint16_t lp_f32_to_f16(float f) {
    uint32_t u = f32_bits(f);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    uint32_t abs = u & 0x7fffffffu;
    if (abs >= 0x7f800000u) /* inf or nan; keep nan quiet and non-zero */
        return (uint16_t)(sign | 0x7c00u | (abs > 0x7f800000u ? 0x200u | ((abs >> 13) & 0x3ffu) : 0));
    if (abs >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u); /* rounds past 65504 */
    if (abs < 0x38800000u) {
        /* result is subnormal or zero: value / 2^-24, rounded to nearest even */
        float mag = bits_f32(abs) * 16777216.0f; /* exact: scaling by a power of two */
        uint32_t q = (uint32_t)mag;
        float rem = mag - (float)q;
        if (rem > 0.5f || (rem == 0.5f && (q & 1u))) q++;
        return (uint16_t)(sign | q);
    }
    uint32_t exp = ((abs >> 23) - 112u) << 10;
    uint32_t man = (abs >> 13) & 0x3ffu;
    uint32_t rest = abs & 0x1fffu;
    uint32_t h = exp | man;
    if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) h++; /* may carry into exponent: correct */
    return (uint16_t)(sign | h);
}

float lp_bf16_to_f32(uint16_t b) { return bits_f32((uint32_t)b << 16); }

uint16_t lp_f32_to_bf16(float f) {
    uint32_t u = f32_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40u); /* quiet nan */
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}
