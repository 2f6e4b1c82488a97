/* A backend is a table of op implementations. The front-end (ops.h) validates
 * arguments and calls through this table, so an implementation may assume
 * shapes, dtypes and strides are as ops.h documents.
 *
 * Backends: "cpu-ref" (the plain C oracle, kernels/cpu/ref_*.c), "cpu" (fast
 * paths, kernels/cpu/fast_*.c, falling back to the oracle where speed does not
 * matter) and later "cuda". Tests run every op on every backend and compare with
 * cpu-ref (tests/kernels). Training adds a backward entry beside each forward
 * entry here; forward ops keep no state, so that needs no other change. */
#ifndef LP_BACKEND_H
#define LP_BACKEND_H

#include "kernels/ops.h"

typedef enum lp_op_id {
    LP_OP_MATMUL = 0,
    LP_OP_LINEAR,
    LP_OP_CONV2D,
    LP_OP_MAXPOOL2D,
    LP_OP_GLOBAL_AVGPOOL2D,
    LP_OP_UNARY,
    LP_OP_ADD,
    LP_OP_LAYER_NORM,
    LP_OP_SOFTMAX,
    LP_OP_ATTENTION,
    LP_OP_EMBEDDING,
    LP_OP_SINUSOIDAL_POSITIONS,
    LP_OP_CAST,
    LP_OP_ARGMAX,
    LP_OP_TOPK,
    LP_OP_COUNT
} lp_op_id;

const char *lp_op_name(lp_op_id op);

struct lp_backend {
    const char *name;
    lp_device_kind device;
    lp_status (*matmul)(lp_ctx *ctx, const lp_tensor *a, const lp_tensor *b, bool trans_a,
                        bool trans_b, float alpha, lp_tensor *out, lp_error *err);
    lp_status (*linear)(lp_ctx *ctx, const lp_tensor *x, const lp_tensor *weight,
                        const lp_tensor *bias, lp_activation act, lp_tensor *out, lp_error *err);
    lp_status (*conv2d)(lp_ctx *ctx, const lp_tensor *x, const lp_tensor *weight,
                        const lp_tensor *bias, const lp_tensor *residual,
                        const lp_conv2d_params *params, lp_activation act, lp_tensor *out,
                        lp_error *err);
    lp_status (*maxpool2d)(lp_ctx *ctx, const lp_tensor *x, const lp_pool2d_params *params,
                           lp_tensor *out, lp_error *err);
    lp_status (*global_avgpool2d)(lp_ctx *ctx, const lp_tensor *x, lp_tensor *out, lp_error *err);
    lp_status (*unary)(lp_ctx *ctx, lp_activation act, const lp_tensor *x, lp_tensor *out,
                       lp_error *err);
    lp_status (*add)(lp_ctx *ctx, const lp_tensor *a, const lp_tensor *b, lp_activation act,
                     lp_tensor *out, lp_error *err);
    lp_status (*layer_norm)(lp_ctx *ctx, const lp_tensor *x, const lp_tensor *gamma,
                            const lp_tensor *beta, float eps, lp_tensor *out, lp_error *err);
    lp_status (*softmax)(lp_ctx *ctx, const lp_tensor *x, const lp_tensor *mask, float scale,
                         bool log, lp_tensor *out, lp_error *err);
    lp_status (*attention)(lp_ctx *ctx, const lp_tensor *q, const lp_tensor *k, const lp_tensor *v,
                           const lp_attention_mask *mask, float scale, lp_tensor *out,
                           lp_error *err);
    lp_status (*embedding)(lp_ctx *ctx, const lp_tensor *table, const lp_tensor *ids,
                           lp_tensor *out, lp_error *err);
    lp_status (*sinusoidal_positions)(lp_ctx *ctx, int64_t offset, lp_tensor *out, lp_error *err);
    lp_status (*cast)(lp_ctx *ctx, const lp_tensor *x, lp_tensor *out, lp_error *err);
    lp_status (*argmax)(lp_ctx *ctx, const lp_tensor *x, lp_tensor *out, lp_error *err);
    lp_status (*topk)(lp_ctx *ctx, const lp_tensor *x, int64_t k, lp_tensor *values,
                      lp_tensor *indices, lp_error *err);

    /* Device memory, added for the CUDA backend: backends whose tensors do not
     * live in host memory fill these; the CPU backends leave them NULL (host
     * memory is theirs). copy: host -> device when to_device, else device ->
     * host; it returns once the bytes are usable (device -> host waits for the
     * work queued before it). synchronize waits for every op queued by the
     * calling thread. */
    lp_status (*device_alloc)(size_t bytes, void **out, lp_error *err);
    void (*device_free)(void *ptr);
    lp_status (*copy)(void *dst, const void *src, size_t bytes, bool to_device, lp_error *err);
    lp_status (*synchronize)(lp_error *err);
    /* The device copy of a weight (a contiguous host tensor), uploaded the
     * first time any session asks and shared by all of them for the life of
     * the process; stored as dtype (the tensor's own, or f16 / bf16 for an f32
     * weight). NULL on backends whose tensors are host memory. */
    lp_status (*device_weight)(const lp_tensor *host, lp_dtype dtype, lp_tensor *dev,
                               lp_error *err);
    /* Drops (and frees) the device copies of weights whose host bytes
     * overlap [host, host + bytes). A model being freed calls it (through
     * lp_backend_forget_weights, kernels/backend_memory.h): the cache is keyed
     * by host address, and a model loaded later may get the same addresses.
     * No session may still use those weights. NULL where device_weight is. */
    void (*device_weight_forget)(const void *host, size_t bytes);
};

/* The CPU backends, always built. */
const lp_backend *lp_backend_cpu_ref(void);
const lp_backend *lp_backend_cpu(void);

#endif
