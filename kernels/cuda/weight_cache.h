/* Model weights on the device, uploaded once and shared by every session.
 *
 * A loaded model is read-only and shared by the workers of a process; each
 * worker has its own stream. The cache maps a host tensor (its data pointer,
 * size and the dtype asked for) to one device copy: the first session to ask
 * uploads it (converting f32 to f16 or bf16 on the way when asked, round to
 * nearest even as lp_f32_to_f16 / lp_f32_to_bf16), waits for the copy to land
 * (other streams read it next) and publishes it; every later ask, from any
 * thread, gets the same device tensor. Freed with the cache. */
#ifndef LP_CUDA_WEIGHT_CACHE_H
#define LP_CUDA_WEIGHT_CACHE_H

#include <stddef.h>

#include "kernels/status.h"
#include "kernels/tensor.h"

typedef struct lp_cuda_weights lp_cuda_weights;

lp_status lp_cuda_weights_create(lp_cuda_weights **out, lp_error *err);
void lp_cuda_weights_destroy(lp_cuda_weights *w);

/* host: a contiguous CPU tensor. dtype: its own dtype, or f16 / bf16 for an
 * f32 tensor. dev: the device view (same shape, device kind CUDA). */
lp_status lp_cuda_weights_get(lp_cuda_weights *w, const lp_tensor *host, lp_dtype dtype,
                              lp_tensor *dev, lp_error *err);

/* Frees the device copies of every weight whose host bytes overlap
 * [host, host + bytes) (every dtype): its model is being freed, and a later
 * one may be loaded at the same addresses. No stream may still read them. */
void lp_cuda_weights_forget(lp_cuda_weights *w, const void *host, size_t bytes);

/* Device bytes held and uploads made so far. */
size_t lp_cuda_weights_bytes(lp_cuda_weights *w);
size_t lp_cuda_weights_uploads(lp_cuda_weights *w);

#endif
