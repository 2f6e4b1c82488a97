/* Picks a backend from a device spec ("cpu", "cpu-ref", "cuda", "cuda:N").
 *
 * The CUDA backend is a plugin, liblepton_cuda.so, opened with dlopen the
 * first time "cuda" is asked for, so the lepton binary has no link-time
 * dependency on any CUDA library and starts on machines without them. When the
 * plugin, the driver or a GPU is missing, the selection falls back to the CPU
 * backend and says why in `note`; `first_fallback` is true only for the first
 * such answer in the process, so a program prints the line once.
 *
 * Where the plugin is looked for, first hit wins: $LP_CUDA_PLUGIN (a path), the
 * executable's directory, its ../lib, its lib/, then the dynamic loader's
 * search path. */
#ifndef LP_BACKEND_LOADER_H
#define LP_BACKEND_LOADER_H

#include <stdbool.h>

#include "kernels/backend.h"

typedef struct lp_backend_selection {
    const lp_backend *backend;
    lp_device device;    /* where tensors for this backend live */
    bool fell_back;      /* cuda was asked for, the CPU backend was given */
    bool first_fallback; /* fell_back, and no earlier call in this process fell back */
    char note[LP_ERROR_MSG_MAX]; /* why it fell back; empty otherwise */
} lp_backend_selection;

/* Fails only on a malformed spec (LP_ERR_INVALID_ARG) or a cuda:N beyond the
 * GPUs present; a missing plugin, driver or GPU is a fallback, not an error. */
lp_status lp_backend_get(const char *device_spec, lp_backend_selection *out, lp_error *err);

/* One line about the CUDA device in use ("NVIDIA H100 80GB HBM3 (sm_90, ...)"),
 * or why there is none. */
const char *lp_backend_cuda_describe(int device, char *buf, size_t size);

/* ---- the plugin's side of the interface (kernels/cuda/gpu_runtime.c) ---- */

/* Bumped whenever lp_backend or this interface changes; the loader refuses a
 * plugin built against another layout. */
#define LP_CUDA_PLUGIN_ABI (1000 + (int)sizeof(lp_backend))
#define LP_CUDA_PLUGIN_EXPORT __attribute__((visibility("default")))

typedef int (*lp_cuda_plugin_abi_fn)(void);
/* Checks the driver and device (cudaGetDeviceCount), selects the device,
 * returns the backend table. LP_ERR_UNSUPPORTED: no driver or no GPU. */
typedef lp_status (*lp_cuda_plugin_open_fn)(int device, const lp_backend **out, lp_error *err);
typedef lp_status (*lp_cuda_plugin_describe_fn)(int device, char *buf, size_t size, lp_error *err);

#endif
