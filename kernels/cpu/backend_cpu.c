/* The two CPU backend tables. */
#include "kernels/cpu/cpu_ops.h"

static const lp_backend CPU_REF = {
    .name = "cpu-ref",
    .device = LP_DEVICE_CPU,
    .matmul = lp_cpu_ref_matmul,
    .linear = lp_cpu_ref_linear,
    .conv2d = lp_cpu_ref_conv2d,
    .maxpool2d = lp_cpu_ref_maxpool2d,
    .global_avgpool2d = lp_cpu_ref_global_avgpool2d,
    .unary = lp_cpu_ref_unary,
    .add = lp_cpu_ref_add,
    .layer_norm = lp_cpu_ref_layer_norm,
    .softmax = lp_cpu_ref_softmax,
    .attention = lp_cpu_ref_attention,
    .embedding = lp_cpu_ref_embedding,
    .sinusoidal_positions = lp_cpu_ref_sinusoidal_positions,
    .cast = lp_cpu_ref_cast,
    .argmax = lp_cpu_ref_argmax,
    .topk = lp_cpu_ref_topk,
};

static const lp_backend CPU_FAST = {
    .name = "cpu",
    .device = LP_DEVICE_CPU,
    .matmul = lp_cpu_fast_matmul,
    .linear = lp_cpu_fast_linear,
    .conv2d = lp_cpu_fast_conv2d,
    .maxpool2d = lp_cpu_fast_maxpool2d,
    .global_avgpool2d = lp_cpu_fast_global_avgpool2d,
    .unary = lp_cpu_fast_unary,
    .add = lp_cpu_fast_add,
    .layer_norm = lp_cpu_fast_layer_norm,
    .softmax = lp_cpu_fast_softmax,
    .attention = lp_cpu_fast_attention,
    /* no fast path needed: memory-bound gathers and O(n) selections */
    .embedding = lp_cpu_ref_embedding,
    .sinusoidal_positions = lp_cpu_ref_sinusoidal_positions,
    .cast = lp_cpu_ref_cast,
    .argmax = lp_cpu_ref_argmax,
    .topk = lp_cpu_ref_topk,
};

const lp_backend *lp_backend_cpu_ref(void) { return &CPU_REF; }
const lp_backend *lp_backend_cpu(void) { return &CPU_FAST; }
