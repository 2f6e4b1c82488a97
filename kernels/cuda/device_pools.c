/* The process-wide memory pools (cuda_runtime_glue.h): one device pool that
 * every worker's stream allocates from, one pinned host pool for staging
 * copies, and the weight cache that sessions share. Created on first use,
 * kept for the life of the process (the plugin is never unloaded; the driver
 * reclaims everything at exit). */
#include <pthread.h>

#include "kernels/cuda/cuda_runtime_glue.h"
#include "kernels/cuda/weight_cache.h"

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static lp_cuda_pool *g_device, *g_pinned;
static lp_cuda_weights *g_weights;

static void create_pools(void) {
    lp_error err;
    lp_error_clear(&err);
    if (lp_cuda_pool_create(lp_cuda_rt_device_pool_ops(), &g_device, &err) != LP_OK) g_device = NULL;
    if (lp_cuda_pool_create(lp_cuda_rt_pinned_pool_ops(), &g_pinned, &err) != LP_OK) g_pinned = NULL;
    if (lp_cuda_weights_create(&g_weights, &err) != LP_OK) g_weights = NULL;
}

lp_cuda_pool *lp_cuda_device_pool(void) {
    pthread_once(&g_once, create_pools);
    return g_device;
}

lp_cuda_pool *lp_cuda_pinned_pool(void) {
    pthread_once(&g_once, create_pools);
    return g_pinned;
}

lp_cuda_weights *lp_cuda_weight_cache(void) {
    pthread_once(&g_once, create_pools);
    return g_weights;
}
