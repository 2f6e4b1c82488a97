/* One oneDNN reorder, run once: a weight copied from a plain layout into a
 * kernel's blocked one (conv_dnnl.c's prepared weights, gemm.c's packed
 * linear weights). Private to kernels/cpu; oneDNN builds only. */
#ifndef LP_CPU_DNNL_REORDER_H
#define LP_CPU_DNNL_REORDER_H

#include <oneapi/dnnl/dnnl.h>

/* to (to_md) = from (from_md), on engine's CPU; waits for it. */
dnnl_status_t lp_dnnl_reorder(dnnl_engine_t engine, const dnnl_memory_desc_t *from_md,
                              const void *from, const dnnl_memory_desc_t *to_md, void *to);

#endif
