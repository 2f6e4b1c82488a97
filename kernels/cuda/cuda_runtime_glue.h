/* What the CUDA backend table (backend_cuda.c) needs from a runtime: streams,
 * device memory, copies, launch-error translation, and the two library-backed
 * ops (GEMM through cuBLASLt, convolution through cuDNN).
 *
 * Two implementations: kernels/cuda/gpu_runtime.c + gpu_cublaslt.c +
 * gpu_cudnn.c in the plugin (the real CUDA runtime and libraries), and
 * tests/cuda/emu_runtime.c in the emulated build (host memory, GEMMs routed
 * through the CPU implementation of the same call description, convolutions
 * through the CPU oracle). */
#ifndef LP_CUDA_RUNTIME_GLUE_H
#define LP_CUDA_RUNTIME_GLUE_H

#include <stddef.h>

#include "kernels/backend.h"
#include "kernels/cuda/gemm_desc.h"
#include "kernels/cuda/mem_pool.h"

/* The stream the calling thread's ops run on (the per-thread default stream:
 * one stream per worker thread without any bookkeeping). */
void *lp_cuda_rt_stream(void);

/* A launcher's return code (cudaError_t) as a status; names the op. */
lp_status lp_cuda_rt_check(int code, const char *op, lp_error *err);

/* A per-thread device int, for kernels that report a bad input position. */
lp_status lp_cuda_rt_flag(int **dev_flag, lp_error *err);

typedef enum { LP_CUDA_H2D = 1, LP_CUDA_D2H = 2, LP_CUDA_D2D = 3 } lp_cuda_copy_kind;
/* Stream-ordered copy; a D2H copy waits for the stream before returning. */
lp_status lp_cuda_rt_copy(void *dst, const void *src, size_t bytes, lp_cuda_copy_kind kind,
                          lp_error *err);

lp_status lp_cuda_rt_alloc(size_t bytes, void **out, lp_error *err);
void lp_cuda_rt_free(void *p);
lp_status lp_cuda_rt_synchronize(lp_error *err);

/* What the memory pools (mem_pool.h) allocate with: device memory, and
 * page-locked host memory for staging copies (cudaMallocHost), both with
 * events on the stream a block is freed on. */
const lp_cuda_pool_ops *lp_cuda_rt_device_pool_ops(void);
const lp_cuda_pool_ops *lp_cuda_rt_pinned_pool_ops(void);

/* The process-wide pools (device_pools.c), created on first use; NULL when
 * host memory for the pool itself ran out. The backend table's device_alloc
 * and device_free go through the device pool on the calling thread's stream. */
lp_cuda_pool *lp_cuda_device_pool(void);
lp_cuda_pool *lp_cuda_pinned_pool(void);
/* The process-wide weight cache (weight_cache.h) behind the backend table's
 * device_weight; NULL when host memory ran out. */
struct lp_cuda_weights *lp_cuda_weight_cache(void);

/* Runs one GEMM call description (gemm_desc.h). */
lp_status lp_cuda_gemm_run(const lp_cuda_gemm_desc *desc, lp_error *err);

/* out = act(conv2d(x, w) + bias + residual), NCHW, as lp_conv2d. */
lp_status lp_cuda_conv2d_run(lp_ctx *ctx, const lp_tensor *x, const lp_tensor *weight,
                             const lp_tensor *bias, const lp_tensor *residual,
                             const lp_conv2d_params *params, lp_activation act, lp_tensor *out,
                             lp_error *err);

/* The backend table (backend_cuda.c). device: the CUDA ordinal it names. */
const lp_backend *lp_cuda_backend_table(void);

#endif
