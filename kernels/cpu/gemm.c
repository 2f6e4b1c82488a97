/* The SGEMM library behind the CPU fast paths: oneDNN (dnnl_sgemm and the
 * matmul primitive) or OpenBLAS (cblas_sgemm), chosen by cmake/LeptonGemm.cmake.
 * Why oneDNN is the default is measured in benchmarks/README.md (bench_gemm). */
#include "kernels/cpu/gemm.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(LP_GEMM_DNNL)
#include <omp.h>
#include <oneapi/dnnl/dnnl.h>

#include "kernels/cpu/dnnl_reorder.h"
#elif defined(LP_GEMM_OPENBLAS)
#include <cblas.h>
#else
#error "no GEMM library: cmake/LeptonGemm.cmake defines LP_GEMM_DNNL or LP_GEMM_OPENBLAS"
#endif

static pthread_once_t library_once = PTHREAD_ONCE_INIT;
static char library_name[64];

static void library_init(void) {
#if defined(LP_GEMM_DNNL)
    const dnnl_version_t *v = dnnl_version();
    snprintf(library_name, sizeof library_name, "oneDNN %d.%d.%d", v->major, v->minor, v->patch);
#else
    snprintf(library_name, sizeof library_name, "OpenBLAS (%s)", openblas_get_config());
#endif
}

const char *lp_gemm_library(void) {
    pthread_once(&library_once, library_init);
    return library_name;
}

int lp_gemm_threads(const lp_ctx *ctx) { return lp_threadpool_size(ctx->pool); }

/* The team size is a per-calling-thread setting in OpenMP (so two server
 * workers may use different sizes); OpenBLAS has one global setting. */
static void set_library_threads(int nthreads) {
    if (nthreads < 1) nthreads = 1;
#if defined(LP_GEMM_DNNL)
    if (omp_get_max_threads() != nthreads) omp_set_num_threads(nthreads);
#else
    if (openblas_get_num_threads() != nthreads) openblas_set_num_threads(nthreads);
#endif
}

lp_status lp_gemm_sgemm(int nthreads, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
                        float alpha, const float *a, int64_t lda, const float *b, int64_t ldb,
                        float beta, float *c, int64_t ldc, lp_error *err) {
    if (m <= 0 || n <= 0) return LP_OK;
    set_library_threads(nthreads);
#if defined(LP_GEMM_DNNL)
    dnnl_status_t st = dnnl_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', m, n, k, alpha, a, lda,
                                  b, ldb, beta, c, ldc);
    if (st != dnnl_success)
        return lp_fail(err, LP_ERR_INTERNAL,
                       "sgemm: oneDNN refused m=%lld n=%lld k=%lld lda=%lld ldb=%lld ldc=%lld "
                       "(status %d)",
                       (long long)m, (long long)n, (long long)k, (long long)lda, (long long)ldb,
                       (long long)ldc, (int)st);
#else
    if (m > INT_MAX || n > INT_MAX || k > INT_MAX || lda > INT_MAX || ldb > INT_MAX ||
        ldc > INT_MAX)
        return lp_fail(err, LP_ERR_UNSUPPORTED,
                       "sgemm: OpenBLAS takes 32-bit sizes; m=%lld n=%lld k=%lld is too large",
                       (long long)m, (long long)n, (long long)k);
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, (int)m, (int)n, (int)k, alpha, a, (int)lda, b,
                (int)ldb, beta, c, (int)ldc);
    (void)err;
#endif
    return LP_OK;
}

/* ---- the unfused form: one library call per batch entry ------------------ */

/* BLAS's view of a rows x cols operand with strides (rs, cs): plain (unit
 * column stride) or transposed (unit row stride), with a valid leading
 * dimension. A size-1 dim's stride addresses nothing, so it never disqualifies. */
static bool blas_view(int64_t rows, int64_t cols, int64_t rs, int64_t cs, bool *trans,
                      int64_t *ld) {
    if ((cols == 1 || cs == 1) && (rows == 1 || rs >= cols)) {
        *trans = false;
        *ld = rows == 1 ? (cols > 1 ? cols : 1) : rs;
        return true;
    }
    if ((rows == 1 || rs == 1) && (cols == 1 || cs >= rows)) {
        *trans = true;
        *ld = cols == 1 ? (rows > 1 ? rows : 1) : cs;
        return true;
    }
    return false;
}

lp_status lp_gemm_batched_unfused(lp_ctx *ctx, const lp_gemm_batched *g, lp_error *err) {
    bool ta = false, tb = false;
    int64_t lda = 1, ldb = 1;
    if (g->k > 0 && (!blas_view(g->m, g->k, g->a_row_stride, g->a_col_stride, &ta, &lda) ||
                     !blas_view(g->k, g->n, g->b_row_stride, g->b_col_stride, &tb, &ldb)))
        return lp_fail(err, LP_ERR_INTERNAL, "gemm: an operand has no unit stride");
    int64_t batch[3] = {1, 1, 1};
    for (int d = 0; d < g->nbatch; d++) batch[d] = g->batch[d];
    int nthreads = lp_gemm_threads(ctx);
    for (int64_t i0 = 0; i0 < batch[0]; i0++)
        for (int64_t i1 = 0; i1 < batch[1]; i1++)
            for (int64_t i2 = 0; i2 < batch[2]; i2++) {
                int64_t idx[3] = {i0, i1, i2};
                const float *a = g->a;
                const float *b = g->b;
                float *c = g->c;
                for (int d = 0; d < g->nbatch; d++) {
                    a += idx[d] * g->a_batch_stride[d];
                    b += idx[d] * g->b_batch_stride[d];
                    c += idx[d] * g->c_batch_stride[d];
                }
                if (g->k == 0) { /* an empty sum is zero; BLAS is not asked to say so */
                    for (int64_t i = 0; i < g->m; i++)
                        memset(c + i * g->c_row_stride, 0, (size_t)g->n * sizeof(float));
                } else {
                    lp_status st = lp_gemm_sgemm(nthreads, ta, tb, g->m, g->n, g->k, g->alpha, a,
                                                 lda, b, ldb, 0.0f, c, g->c_row_stride, err);
                    if (st != LP_OK) return st;
                }
                lp_gemm_epilogue_parallel(ctx, c, g->c_row_stride, g->m, g->n, g->bias, NULL,
                                          g->residual, g->residual_row_stride, g->act);
            }
    return LP_OK;
}

/* ---- the fused form: oneDNN's matmul primitive ----------------------------- */

#if defined(LP_GEMM_DNNL)

static pthread_once_t engine_once = PTHREAD_ONCE_INIT;
static dnnl_engine_t engine;
static dnnl_status_t engine_status;

/* One CPU engine for the process: it is an immutable handle (oneDNN's own
 * primitive cache sits behind it), safe to share between threads. */
static void engine_init(void) { engine_status = dnnl_engine_create(&engine, dnnl_cpu, 0); }

/* Strides of size-1 dims do not address anything, but oneDNN checks them:
 * give each such dim the span of everything inside it. */
static void tidy_strides(int ndims, const dnnl_dims_t dims, dnnl_dims_t strides) {
    for (int d = ndims - 1; d >= 0; d--) {
        if (dims[d] != 1) continue;
        int64_t span = 1;
        for (int e = d + 1; e < ndims; e++) span += (dims[e] - 1) * strides[e];
        strides[d] = span;
    }
}

static dnnl_alg_kind_t eltwise_alg(lp_activation act) {
    switch (act) {
    case LP_ACT_RELU: return dnnl_eltwise_relu;
    case LP_ACT_GELU_ERF: return dnnl_eltwise_gelu_erf;
    case LP_ACT_GELU_TANH: return dnnl_eltwise_gelu_tanh;
    case LP_ACT_TANH: return dnnl_eltwise_tanh;
    case LP_ACT_NONE:
    case LP_ACT_COUNT: break;
    }
    return dnnl_alg_kind_undef;
}

/* The memories of one call, in the order fused_build fills md[] */
enum { F_SRC, F_WEIGHTS, F_DST, F_BIAS, F_RESIDUAL, F_SCRATCH, F_COUNT };

typedef struct fused_call {
    dnnl_primitive_attr_t attr;
    dnnl_post_ops_t post_ops;
    dnnl_primitive_desc_t pd;
    dnnl_primitive_t prim;
    dnnl_stream_t stream;
    dnnl_memory_t mem[F_COUNT];
} fused_call;

struct lp_gemm_packed {
    dnnl_memory_desc_t md; /* the blocked layout of B [k, n] */
    void *data;
    size_t bytes;
};

static void fused_release(fused_call *f) {
    for (int i = 0; i < F_COUNT; i++)
        if (f->mem[i]) dnnl_memory_destroy(f->mem[i]);
    if (f->stream) dnnl_stream_destroy(f->stream);
    if (f->prim) dnnl_primitive_destroy(f->prim);
    if (f->pd) dnnl_primitive_desc_destroy(f->pd);
    if (f->post_ops) dnnl_post_ops_destroy(f->post_ops);
    if (f->attr) dnnl_primitive_attr_destroy(f->attr);
}

/* A plain memory descriptor of nd dims with the given strides (size-1 dims tidied). */
static dnnl_status_t strided_md(dnnl_memory_desc_t *md, int nd, const dnnl_dims_t dims,
                                dnnl_dims_t strides) {
    tidy_strides(nd, dims, strides);
    return dnnl_memory_desc_init_by_strides(md, nd, dims, dnnl_f32, strides);
}

/* The attributes: alpha as the output scale, then the residual (binary
 * add) and the activation, in the order lp_gemm_batched defines. */
static dnnl_status_t fused_attr(const lp_gemm_batched *g, const dnnl_memory_desc_t *residual_md,
                                fused_call *f) {
    dnnl_status_t st;
    if ((st = dnnl_primitive_attr_create(&f->attr))) return st;
    if ((st = dnnl_primitive_attr_set_scratchpad_mode(f->attr, dnnl_scratchpad_mode_user)))
        return st;
    if (g->alpha != 1.0f && (st = dnnl_primitive_attr_set_output_scales(f->attr, 1, 0, &g->alpha)))
        return st;
    if ((st = dnnl_post_ops_create(&f->post_ops))) return st;
    if (g->residual &&
        (st = dnnl_post_ops_append_binary(f->post_ops, dnnl_binary_add, residual_md)))
        return st;
    if (g->act != LP_ACT_NONE &&
        (st = dnnl_post_ops_append_eltwise(f->post_ops, 1.0f, eltwise_alg(g->act), 0.0f, 0.0f)))
        return st;
    return dnnl_primitive_attr_set_post_ops(f->attr, f->post_ops);
}

/* Builds the descriptors (md[F_SRC .. F_RESIDUAL]) and the primitive;
 * dnnl_unimplemented when oneDNN would only run its slow reference kernel. */
static dnnl_status_t fused_build(const lp_gemm_batched *g, int nthreads, fused_call *f,
                                 dnnl_memory_desc_t *md) {
    int nd = g->nbatch + 2;
    dnnl_dims_t ad, bd, cd, as, bs, cs, biasd, biass, rs;
    for (int d = 0; d < g->nbatch; d++) {
        ad[d] = cd[d] = g->batch[d];
        bd[d] = g->b_batch_stride[d] == 0 ? 1 : g->batch[d];
        as[d] = g->a_batch_stride[d];
        bs[d] = g->b_batch_stride[d];
        cs[d] = g->c_batch_stride[d];
        biasd[d] = 1;
    }
    ad[nd - 2] = g->m, ad[nd - 1] = g->k, as[nd - 2] = g->a_row_stride,
            as[nd - 1] = g->a_col_stride;
    bd[nd - 2] = g->k, bd[nd - 1] = g->n, bs[nd - 2] = g->b_row_stride,
            bs[nd - 1] = g->b_col_stride;
    cd[nd - 2] = g->m, cd[nd - 1] = g->n, cs[nd - 2] = g->c_row_stride, cs[nd - 1] = 1;
    biasd[nd - 2] = 1, biasd[nd - 1] = g->n;
    rs[0] = g->residual_row_stride, rs[1] = 1;
    int64_t dense = 1;
    for (int d = nd - 1; d >= 0; d--) {
        biass[d] = dense;
        dense *= biasd[d];
    }

    dnnl_status_t st;
    if ((st = strided_md(&md[F_SRC], nd, ad, as))) return st;
    if (g->b_packed) md[F_WEIGHTS] = g->b_packed->md;
    else if ((st = strided_md(&md[F_WEIGHTS], nd, bd, bs))) return st;
    if ((st = strided_md(&md[F_DST], nd, cd, cs))) return st;
    if ((st = dnnl_memory_desc_init_by_strides(&md[F_BIAS], nd, biasd, dnnl_f32, biass))) return st;
    if (g->residual && (st = strided_md(&md[F_RESIDUAL], nd, cd, rs))) return st;
    dnnl_matmul_desc_t desc;
    if ((st = dnnl_matmul_desc_init(&desc, &md[F_SRC], &md[F_WEIGHTS], g->bias ? &md[F_BIAS] : NULL,
                                    &md[F_DST])))
        return st;
    if ((st = fused_attr(g, &md[F_RESIDUAL], f))) return st;

    /* The team size is part of oneDNN's primitive cache key: set it first. */
    set_library_threads(nthreads);
    if ((st = dnnl_primitive_desc_create(&f->pd, &desc, f->attr, engine, NULL))) return st;
    const char *impl = NULL;
    if (dnnl_primitive_desc_query(f->pd, dnnl_query_impl_info_str, 0, &impl) != dnnl_success ||
        !impl || strncmp(impl, "ref", 3) == 0)
        return dnnl_unimplemented;
    return dnnl_primitive_create(&f->prim, f->pd);
}

static dnnl_status_t fused_run(lp_ctx *ctx, const lp_gemm_batched *g, fused_call *f,
                               const dnnl_memory_desc_t *md) {
    dnnl_status_t st;
    /* oneDNN takes non-const handles; it only reads inputs. */
    void *ptr[F_SCRATCH] = {(void *)g->a, g->b_packed ? g->b_packed->data : (void *)g->b, g->c,
                            (void *)g->bias, (void *)g->residual};
    static const int arg_ids[F_SCRATCH] = {
        DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DST, DNNL_ARG_BIAS,
        DNNL_ARG_ATTR_MULTIPLE_POST_OP(0) | DNNL_ARG_SRC_1};
    dnnl_exec_arg_t args[F_COUNT];
    int nargs = 0;
    for (int i = 0; i < F_SCRATCH; i++) {
        if (!ptr[i]) continue; /* no bias, no residual */
        if ((st = dnnl_memory_create(&f->mem[i], &md[i], engine, ptr[i]))) return st;
        args[nargs++] = (dnnl_exec_arg_t){arg_ids[i], f->mem[i]};
    }
    const dnnl_memory_desc_t *scratch_md =
        dnnl_primitive_desc_query_md(f->pd, dnnl_query_scratchpad_md, 0);
    size_t scratch_bytes = scratch_md ? dnnl_memory_desc_get_size(scratch_md) : 0;
    if (scratch_bytes) {
        void *scratch = lp_arena_alloc(ctx->scratch, scratch_bytes);
        if (!scratch) return dnnl_out_of_memory;
        if ((st = dnnl_memory_create(&f->mem[F_SCRATCH], scratch_md, engine, scratch))) return st;
        args[nargs++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, f->mem[F_SCRATCH]};
    }
    if ((st = dnnl_stream_create(&f->stream, engine, dnnl_stream_default_flags))) return st;
    if ((st = dnnl_primitive_execute(f->prim, f->stream, nargs, args))) return st;
    return dnnl_stream_wait(f->stream);
}

/* LP_OK when g can run fused and the engine exists; LP_ERR_UNSUPPORTED
 * (err untouched) when g's form is not one the fused path takes. */
static lp_status fused_usable(const lp_gemm_batched *g, lp_error *err) {
    /* oneDNN's output scale would also scale the bias and the residual;
     * lepton never asks for both. */
    if (g->nbatch > 3 || ((g->bias || g->residual) && g->alpha != 1.0f) ||
        (g->residual && g->nbatch) || g->m <= 0 || g->n <= 0 || g->k <= 0)
        return LP_ERR_UNSUPPORTED;
    pthread_once(&engine_once, engine_init);
    if (engine_status != dnnl_success)
        return lp_fail(err, LP_ERR_INTERNAL, "gemm: cannot create the oneDNN CPU engine (%d)",
                       (int)engine_status);
    return LP_OK;
}

/* Builds g's primitive and, when run, runs it. */
static lp_status fused(lp_ctx *ctx, const lp_gemm_batched *g, bool run, lp_error *err) {
    lp_status ust = fused_usable(g, err);
    if (ust != LP_OK) return ust;
    fused_call f;
    memset(&f, 0, sizeof f);
    dnnl_memory_desc_t md[F_SCRATCH];
    memset(md, 0, sizeof md);
    dnnl_status_t st = fused_build(g, lp_gemm_threads(ctx), &f, md);
    if (st != dnnl_success) {
        fused_release(&f);
        return LP_ERR_UNSUPPORTED; /* nothing written: the caller takes the unfused path */
    }
    if (run) st = fused_run(ctx, g, &f, md);
    fused_release(&f); /* the primitive itself stays in oneDNN's cache */
    if (st == dnnl_out_of_memory)
        return lp_fail(err, LP_ERR_NOMEM, "gemm: no memory for oneDNN's scratchpad");
    if (st != dnnl_success)
        return lp_fail(err, LP_ERR_INTERNAL, "gemm: oneDNN matmul failed to run (status %d)",
                       (int)st);
    return LP_OK;
}

lp_status lp_gemm_fused_prepare(lp_ctx *ctx, const lp_gemm_batched *g, lp_error *err) {
    return fused(ctx, g, false, err);
}

lp_status lp_gemm_fused(lp_ctx *ctx, const lp_gemm_batched *g, lp_error *err) {
    return fused(ctx, g, true, err);
}

/* ---- packed weights -------------------------------------------------------- */

/* The layout the matmul kernels ask for when free to choose. It does not
 * depend on the rows (checked for 1 .. 4000 on oneDNN 2.6), so any m will do. */
static dnnl_status_t preferred_weights_md(int64_t n, int64_t k, dnnl_memory_desc_t *out) {
    dnnl_memory_desc_t src, any, dst;
    dnnl_dims_t sd = {16, k}, wd = {k, n}, dd = {16, n};
    dnnl_status_t st;
    if ((st = dnnl_memory_desc_init_by_tag(&src, 2, sd, dnnl_f32, dnnl_ab)) ||
        (st = dnnl_memory_desc_init_by_tag(&any, 2, wd, dnnl_f32, dnnl_format_tag_any)) ||
        (st = dnnl_memory_desc_init_by_tag(&dst, 2, dd, dnnl_f32, dnnl_ab)))
        return st;
    dnnl_matmul_desc_t desc;
    if ((st = dnnl_matmul_desc_init(&desc, &src, &any, NULL, &dst))) return st;
    dnnl_primitive_desc_t pd;
    if ((st = dnnl_primitive_desc_create(&pd, &desc, NULL, engine, NULL))) return st;
    const char *impl = NULL;
    if (dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl) != dnnl_success || !impl ||
        strncmp(impl, "ref", 3) == 0)
        st = dnnl_unimplemented;
    else
        *out = *dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    dnnl_primitive_desc_destroy(pd);
    return st;
}

/* One reorder from the plain transposed weight into p's layout. */
static dnnl_status_t reorder_into(const float *w, int64_t n, int64_t k, int64_t ldw,
                                  lp_gemm_packed *p) {
    dnnl_memory_desc_t plain;
    dnnl_dims_t dims = {k, n}, strides = {1, ldw}; /* B[p][j] = W[j][p] */
    dnnl_status_t st = strided_md(&plain, 2, dims, strides);
    return st ? st : lp_dnnl_reorder(engine, &plain, w, &p->md, p->data);
}

lp_gemm_packed *lp_gemm_pack_weights(const float *w, int64_t n, int64_t k, int64_t ldw) {
    if (!w || n <= 0 || k <= 0 || ldw < k) return NULL;
    pthread_once(&engine_once, engine_init);
    if (engine_status != dnnl_success) return NULL;
    lp_gemm_packed *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    if (preferred_weights_md(n, k, &p->md) != dnnl_success) goto fail;
    p->bytes = dnnl_memory_desc_get_size(&p->md);
    /* 64-byte rows for the kernels' aligned loads */
    if (!p->bytes || posix_memalign(&p->data, 64, p->bytes)) {
        p->data = NULL;
        goto fail;
    }
    if (reorder_into(w, n, k, ldw, p) != dnnl_success) goto fail;
    return p;
fail:
    lp_gemm_packed_free(p);
    return NULL;
}

void lp_gemm_packed_free(lp_gemm_packed *p) {
    if (!p) return;
    free(p->data);
    free(p);
}

size_t lp_gemm_packed_bytes(const lp_gemm_packed *p) { return p ? p->bytes : 0; }

#else /* OpenBLAS has no fused epilogue */

lp_status lp_gemm_fused(lp_ctx *ctx, const lp_gemm_batched *g, lp_error *err) {
    (void)ctx, (void)g, (void)err;
    return LP_ERR_UNSUPPORTED;
}

lp_status lp_gemm_fused_prepare(lp_ctx *ctx, const lp_gemm_batched *g, lp_error *err) {
    (void)ctx, (void)g, (void)err;
    return LP_ERR_UNSUPPORTED;
}

lp_gemm_packed *lp_gemm_pack_weights(const float *w, int64_t n, int64_t k, int64_t ldw) {
    (void)w, (void)n, (void)k, (void)ldw;
    return NULL;
}

void lp_gemm_packed_free(lp_gemm_packed *p) { (void)p; }

size_t lp_gemm_packed_bytes(const lp_gemm_packed *p) {
    (void)p;
    return 0;
}

#endif
