/* The emulated build's runtime (cuda_runtime_glue.h): "device" memory is host
 * memory (guarded on request: emu_guard.h), there is one stream (the calling
 * thread), GEMMs run the very same
 * call description on the CPU (lp_cuda_gemm_run_cpu) and convolutions go to
 * the CPU oracle. With this, the CUDA backend table (backend_cuda.c) and every
 * hand-written kernel run unchanged on a machine without a GPU. */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kernels/cpu/cpu_ops.h"
#include "kernels/cuda/cuda_runtime_glue.h"
#include "tests/cuda/emu_guard.h"

void *lp_cuda_rt_stream(void) { return NULL; }

lp_status lp_cuda_rt_check(int code, const char *op, lp_error *err) {
    return code == 0 ? LP_OK
                     : lp_fail(err, LP_ERR_INTERNAL, "%s (cuda, emulated): launch error %d", op, code);
}

lp_status lp_cuda_rt_flag(int **dev_flag, lp_error *err) {
    (void)err;
    static _Thread_local int flag;
    *dev_flag = &flag;
    return LP_OK;
}

lp_status lp_cuda_rt_copy(void *dst, const void *src, size_t bytes, lp_cuda_copy_kind kind,
                          lp_error *err) {
    (void)kind;
    (void)err;
    memmove(dst, src, bytes);
    return LP_OK;
}

/* ---- guarded device memory (emu_guard.h) ---- */

typedef struct region {
    void *base;
    size_t size;
    struct region *next;
} region;

static pthread_mutex_t g_guard_mu = PTHREAD_MUTEX_INITIALIZER;
static bool g_guard_on;
static int g_guard_depth;
static region *g_regions;
static size_t g_nregions;

void lp_emu_guard_enable(void) {
    pthread_mutex_lock(&g_guard_mu);
    g_guard_on = true;
    pthread_mutex_unlock(&g_guard_mu);
}

size_t lp_emu_guard_regions(void) {
    pthread_mutex_lock(&g_guard_mu);
    size_t n = g_nregions;
    pthread_mutex_unlock(&g_guard_mu);
    return n;
}

static void protect_all(int prot) {
    for (region *r = g_regions; r; r = r->next) mprotect(r->base, r->size, prot);
}

void lp_emu_guard_open(void) {
    pthread_mutex_lock(&g_guard_mu);
    if (g_guard_depth++ == 0) protect_all(PROT_READ | PROT_WRITE);
    pthread_mutex_unlock(&g_guard_mu);
}

void lp_emu_guard_close(void) {
    pthread_mutex_lock(&g_guard_mu);
    if (--g_guard_depth == 0) protect_all(PROT_NONE);
    pthread_mutex_unlock(&g_guard_mu);
}

/* A mapping of its own, accessible only while a section is open. */
static void *guarded_alloc(size_t bytes) {
    size_t page = (size_t)sysconf(_SC_PAGESIZE), size = (bytes + page - 1) / page * page;
    region *r = malloc(sizeof *r);
    void *p = r ? mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) : MAP_FAILED;
    if (p == MAP_FAILED) {
        free(r);
        return NULL;
    }
    if (g_guard_depth == 0) mprotect(p, size, PROT_NONE);
    *r = (region){p, size, g_regions};
    g_regions = r;
    g_nregions++;
    return p;
}

/* true when p was a guarded region (now unmapped) */
static bool guarded_free(void *p) {
    for (region **c = &g_regions; *c; c = &(*c)->next)
        if ((*c)->base == p) {
            region *r = *c;
            *c = r->next;
            munmap(r->base, r->size);
            free(r);
            g_nregions--;
            return true;
        }
    return false;
}

lp_status lp_cuda_rt_alloc(size_t bytes, void **out, lp_error *err) {
    pthread_mutex_lock(&g_guard_mu);
    *out = g_guard_on ? guarded_alloc(bytes ? bytes : 1) : malloc(bytes ? bytes : 1);
    pthread_mutex_unlock(&g_guard_mu);
    return *out ? LP_OK : lp_fail(err, LP_ERR_NOMEM, "emulated cudaMalloc of %zu bytes failed", bytes);
}

void lp_cuda_rt_free(void *p) {
    if (!p) return;
    pthread_mutex_lock(&g_guard_mu);
    bool guarded = guarded_free(p);
    pthread_mutex_unlock(&g_guard_mu);
    if (!guarded) free(p);
}

/* one stream (the calling thread): every free is complete at once */
static const lp_cuda_pool_ops EMU_POOL_OPS = {lp_cuda_rt_alloc, lp_cuda_rt_free, NULL, NULL, NULL, NULL};
const lp_cuda_pool_ops *lp_cuda_rt_device_pool_ops(void) { return &EMU_POOL_OPS; }
const lp_cuda_pool_ops *lp_cuda_rt_pinned_pool_ops(void) { return &EMU_POOL_OPS; }

lp_status lp_cuda_rt_synchronize(lp_error *err) {
    (void)err;
    return LP_OK;
}

lp_status lp_cuda_gemm_run(const lp_cuda_gemm_desc *desc, lp_error *err) {
    (void)err;
    lp_cuda_gemm_run_cpu(desc);
    return LP_OK;
}

static lp_tensor on_host(const lp_tensor *t) {
    lp_tensor h = *t;
    h.device.kind = LP_DEVICE_CPU;
    h.device.index = 0;
    return h;
}

/* An f32 host copy of an f16 / bf16 tensor (cuDNN computes those in f32 too);
 * f32 tensors are used in place. *owned is what to free. */
static lp_status as_f32(const lp_tensor *t, lp_tensor *out, float **owned, lp_error *err) {
    *owned = NULL;
    *out = on_host(t);
    if (t->dtype == LP_F32) return LP_OK;
    int64_t n = lp_tensor_numel(t);
    float *f = malloc(sizeof(float) * (size_t)(n ? n : 1));
    if (!f) return lp_fail(err, LP_ERR_NOMEM, "conv2d (cuda, emulated): out of memory");
    const uint16_t *h = t->data;
    for (int64_t i = 0; i < n; i++) f[i] = t->dtype == LP_F16 ? lp_f16_to_f32(h[i]) : lp_bf16_to_f32(h[i]);
    *out = lp_tensor_make(f, LP_F32, t->ndim, t->shape);
    *owned = f;
    return LP_OK;
}

lp_status lp_cuda_conv2d_run(lp_ctx *ctx, const lp_tensor *x, const lp_tensor *weight,
                             const lp_tensor *bias, const lp_tensor *residual,
                             const lp_conv2d_params *params, lp_activation act, lp_tensor *out,
                             lp_error *err) {
    /* x, weight, residual and out in the storage dtype, bias f32 (as the
     * cuDNN route); the CPU oracle runs in f32, rounded once at the end */
    lp_tensor hx, hw, ho, hb, hr;
    float *fx = NULL, *fw = NULL, *fr = NULL, *fo = NULL;
    lp_status st = as_f32(x, &hx, &fx, err);
    if (st == LP_OK) st = as_f32(weight, &hw, &fw, err);
    if (st == LP_OK && residual) st = as_f32(residual, &hr, &fr, err);
    if (st == LP_OK) st = as_f32(out, &ho, &fo, err); /* values unused: a buffer of the shape */
    if (bias) hb = on_host(bias);
    if (st == LP_OK)
        st = lp_cpu_ref_conv2d(ctx, &hx, &hw, bias ? &hb : NULL, residual ? &hr : NULL, params, act,
                               &ho, err);
    if (st == LP_OK && fo) {
        uint16_t *o = out->data;
        for (int64_t i = 0, n = lp_tensor_numel(out); i < n; i++)
            o[i] = out->dtype == LP_F16 ? lp_f32_to_f16(fo[i]) : lp_f32_to_bf16(fo[i]);
    }
    free(fx);
    free(fw);
    free(fr);
    free(fo);
    return st;
}
