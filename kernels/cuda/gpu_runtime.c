/* The plugin's entry point and the CUDA runtime half of cuda_runtime_glue.h:
 * device discovery, the per-thread stream, copies, allocation, errors.
 * Plugin only (links libcudart); the emulated build has tests/cuda/emu_runtime.c. */
#include <cuda_runtime_api.h>
#include <stdio.h>

#include "kernels/backend_loader.h"
#include "kernels/cuda/cuda_runtime_glue.h"

static int g_device;                 /* the ordinal chosen at open */
static _Thread_local int t_device_set; /* cudaSetDevice is per host thread */

static void bind_thread(void) {
    if (!t_device_set) {
        cudaSetDevice(g_device);
        t_device_set = 1;
    }
}

void *lp_cuda_rt_stream(void) {
    bind_thread();
    return (void *)cudaStreamPerThread;
}

lp_status lp_cuda_rt_check(int code, const char *op, lp_error *err) {
    if (code == 0) return LP_OK;
    return lp_fail(err, LP_ERR_INTERNAL, "%s (cuda): kernel launch failed: %s (%s)", op,
                   cudaGetErrorString((cudaError_t)code), cudaGetErrorName((cudaError_t)code));
}

static lp_status cuda_fail(cudaError_t e, const char *what, lp_error *err) {
    return lp_fail(err, e == cudaErrorMemoryAllocation ? LP_ERR_NOMEM : LP_ERR_INTERNAL,
                   "cuda: %s failed: %s", what, cudaGetErrorString(e));
}

lp_status lp_cuda_rt_alloc(size_t bytes, void **out, lp_error *err) {
    bind_thread();
    cudaError_t e = cudaMalloc(out, bytes ? bytes : 1);
    return e == cudaSuccess ? LP_OK : cuda_fail(e, "cudaMalloc", err);
}

void lp_cuda_rt_free(void *p) {
    if (p) cudaFree(p);
}

lp_status lp_cuda_rt_copy(void *dst, const void *src, size_t bytes, lp_cuda_copy_kind kind,
                          lp_error *err) {
    bind_thread();
    enum cudaMemcpyKind k = kind == LP_CUDA_H2D   ? cudaMemcpyHostToDevice
                            : kind == LP_CUDA_D2H ? cudaMemcpyDeviceToHost
                                                  : cudaMemcpyDeviceToDevice;
    cudaError_t e = cudaMemcpyAsync(dst, src, bytes, k, cudaStreamPerThread);
    if (e == cudaSuccess && kind == LP_CUDA_D2H) e = cudaStreamSynchronize(cudaStreamPerThread);
    return e == cudaSuccess ? LP_OK : cuda_fail(e, "cudaMemcpyAsync", err);
}

lp_status lp_cuda_rt_synchronize(lp_error *err) {
    bind_thread();
    cudaError_t e = cudaStreamSynchronize(cudaStreamPerThread);
    return e == cudaSuccess ? LP_OK : cuda_fail(e, "cudaStreamSynchronize", err);
}

lp_status lp_cuda_rt_flag(int **dev_flag, lp_error *err) {
    static _Thread_local int *flag;
    if (!flag) {
        void *p = NULL;
        lp_status st = lp_cuda_rt_alloc(sizeof(int), &p, err);
        if (st != LP_OK) return st;
        flag = p;
    }
    *dev_flag = flag;
    return LP_OK;
}

/* ---- the memory pools' allocators (mem_pool.h) ---- */

/* An event after the work queued on `stream` so far. When one cannot be
 * made, the stream is drained instead and NULL (complete) returned: never
 * report a block free before its last use. */
static void *event_record(void *stream) {
    cudaEvent_t ev;
    if (cudaEventCreateWithFlags(&ev, cudaEventDisableTiming) == cudaSuccess) {
        if (cudaEventRecord(ev, (cudaStream_t)stream) == cudaSuccess) return (void *)ev;
        cudaEventDestroy(ev);
    }
    (void)cudaGetLastError();
    cudaStreamSynchronize((cudaStream_t)stream);
    return NULL;
}

/* anything but "not ready" counts as done: a failed device makes no progress */
static bool event_done(void *ev) { return cudaEventQuery((cudaEvent_t)ev) != cudaErrorNotReady; }
static void event_wait(void *ev) { cudaEventSynchronize((cudaEvent_t)ev); }
static void event_destroy(void *ev) { cudaEventDestroy((cudaEvent_t)ev); }

static lp_status pinned_alloc(size_t bytes, void **out, lp_error *err) {
    bind_thread();
    cudaError_t e = cudaMallocHost(out, bytes ? bytes : 1);
    return e == cudaSuccess ? LP_OK : cuda_fail(e, "cudaMallocHost", err);
}

static void pinned_free(void *p) {
    if (p) cudaFreeHost(p);
}

static const lp_cuda_pool_ops DEVICE_OPS = {lp_cuda_rt_alloc, lp_cuda_rt_free, event_record,
                                            event_done, event_wait, event_destroy};
static const lp_cuda_pool_ops PINNED_OPS = {pinned_alloc, pinned_free, event_record,
                                            event_done, event_wait, event_destroy};
const lp_cuda_pool_ops *lp_cuda_rt_device_pool_ops(void) { return &DEVICE_OPS; }
const lp_cuda_pool_ops *lp_cuda_rt_pinned_pool_ops(void) { return &PINNED_OPS; }

/* ---- the plugin interface (backend_loader.h) ---- */

LP_CUDA_PLUGIN_EXPORT int lp_cuda_plugin_abi(void) { return LP_CUDA_PLUGIN_ABI; }

LP_CUDA_PLUGIN_EXPORT lp_status lp_cuda_plugin_open(int device, const lp_backend **out,
                                                    lp_error *err) {
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
        (void)cudaGetLastError(); /* clear the sticky error */
        return lp_fail(err, LP_ERR_UNSUPPORTED, "no usable CUDA driver or device (%s: %s)",
                       cudaGetErrorName(e), cudaGetErrorString(e));
    }
    if (n == 0) return lp_fail(err, LP_ERR_UNSUPPORTED, "the CUDA driver reports no GPU");
    if (device < 0 || device >= n)
        return lp_fail(err, LP_ERR_INVALID_ARG, "cuda:%d asked for, but this machine has %d GPU%s",
                       device, n, n == 1 ? "" : "s");
    e = cudaSetDevice(device);
    if (e != cudaSuccess) return cuda_fail(e, "cudaSetDevice", err);
    g_device = device;
    t_device_set = 1;
    *out = lp_cuda_backend_table();
    return LP_OK;
}

LP_CUDA_PLUGIN_EXPORT lp_status lp_cuda_plugin_describe(int device, char *buf, size_t size,
                                                        lp_error *err) {
    struct cudaDeviceProp prop;
    cudaError_t e = cudaGetDeviceProperties(&prop, device);
    if (e != cudaSuccess) return cuda_fail(e, "cudaGetDeviceProperties", err);
    snprintf(buf, size, "%s (sm_%d%d, %.1f GiB, %d SMs)", prop.name, prop.major, prop.minor,
             (double)prop.totalGlobalMem / (1024.0 * 1024.0 * 1024.0), prop.multiProcessorCount);
    return LP_OK;
}
