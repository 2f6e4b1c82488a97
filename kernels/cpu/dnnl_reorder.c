/* lp_dnnl_reorder (dnnl_reorder.h). */
#if defined(LP_GEMM_DNNL)

#include "kernels/cpu/dnnl_reorder.h"

dnnl_status_t lp_dnnl_reorder(dnnl_engine_t engine, const dnnl_memory_desc_t *from_md,
                              const void *from, const dnnl_memory_desc_t *to_md, void *to) {
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_t prim = NULL;
    dnnl_memory_t src = NULL, dst = NULL;
    dnnl_stream_t stream = NULL;
    dnnl_status_t st;
    /* oneDNN takes non-const handles; a reorder only reads its source */
    if (!(st = dnnl_reorder_primitive_desc_create(&pd, from_md, engine, to_md, engine, NULL)) &&
        !(st = dnnl_primitive_create(&prim, pd)) &&
        !(st = dnnl_memory_create(&src, from_md, engine, (void *)from)) &&
        !(st = dnnl_memory_create(&dst, to_md, engine, to)) &&
        !(st = dnnl_stream_create(&stream, engine, dnnl_stream_default_flags))) {
        dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, src}, {DNNL_ARG_TO, dst}};
        if (!(st = dnnl_primitive_execute(prim, stream, 2, args))) st = dnnl_stream_wait(stream);
    }
    if (stream) dnnl_stream_destroy(stream);
    if (dst) dnnl_memory_destroy(dst);
    if (src) dnnl_memory_destroy(src);
    if (prim) dnnl_primitive_destroy(prim);
    if (pd) dnnl_primitive_desc_destroy(pd);
    return st;
}

#else
/* ISO C wants a translation unit to declare something */
typedef int lp_dnnl_reorder_unused;
#endif
