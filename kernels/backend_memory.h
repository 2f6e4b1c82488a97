/* Model memory on a backend's device, for the models room: the one place
 * that knows whether a backend computes on host memory (the CPU backends:
 * every call here is then a view or a plain memcpy, and costs nothing) or on
 * device memory (CUDA: weights come from the backend's process-wide weight
 * cache, activations from a device arena, inputs are copied in and outputs
 * copied out). Host code never dereferences a tensor these functions put on
 * a device. */
#ifndef LP_BACKEND_MEMORY_H
#define LP_BACKEND_MEMORY_H

#include <stdbool.h>
#include <stddef.h>

#include "kernels/arena.h"
#include "kernels/backend.h"

/* True when the backend's tensors are host memory (device kind CPU). */
bool lp_backend_on_host(const lp_backend *b);

/* The tensor the backend computes with for a model weight `host` (a
 * contiguous host tensor that lives as long as its model): host itself on a
 * host backend; else the backend's device copy (device_weight: uploaded the
 * first time any session asks, shared by all, same dtype). A tensor without
 * data (an absent optional weight) stays as it is. */
lp_status lp_backend_weight(const lp_backend *b, const lp_tensor *host, lp_tensor *out,
                            lp_error *err);

/* A visitor over a model's weight tensors (the models' *_device.c walk their
 * weights with one), and the two every model uses: */
typedef lp_status (*lp_weight_fn)(lp_tensor *t, const lp_backend *b, lp_error *err);
/* *t becomes the backend's tensor for it (lp_backend_weight). */
lp_status lp_backend_weight_in_place(lp_tensor *t, const lp_backend *b, lp_error *err);
/* lp_backend_forget_weights for t's bytes (nothing for a tensor without data). */
lp_status lp_backend_forget_tensor(lp_tensor *t, const lp_backend *b, lp_error *err);

/* Called by a model's free function for each host buffer whose tensors it
 * passed to lp_backend_weight: every device backend that uploaded from
 * [host, host + bytes) drops those copies (a model loaded later may reuse the
 * addresses). Sessions on the model must be freed first. */
void lp_backend_forget_weights(const void *host, size_t bytes);

/* An activation arena in the backend's memory: host blocks on a host
 * backend, device blocks (device_alloc) otherwise. NULL when out of memory. */
lp_arena *lp_backend_arena_create(const lp_backend *b, size_t initial_bytes);

/* A contiguous host tensor as the backend sees it: `host` itself on a host
 * backend, else a copy in `arena` (device memory) tagged with its device. */
lp_status lp_backend_upload(const lp_backend *b, lp_arena *arena, const lp_tensor *host,
                            lp_tensor *out, lp_error *err);

/* Copies the contiguous tensor `src` (on b's device) into host memory at dst
 * (lp_tensor_nbytes(src) bytes); waits for the work that produces it. On a
 * host backend a memcpy (nothing when dst is src's data). */
lp_status lp_backend_download(const lp_backend *b, const lp_tensor *src, void *dst, lp_error *err);

/* t tagged with `device`: how model code tags the views it makes over raw
 * arena pointers (lp_arena_alloc) or over another tensor's memory. */
lp_tensor lp_tensor_on(lp_tensor t, lp_device device);

#endif
