/* oneDNN convolution primitives for lp_conv2d_plan: build once per shape,
 * reorder the weights once per layout, then only execute. See conv_dnnl.h
 * for why NHWC and the sum post-op. */
#include "kernels/cpu/conv_dnnl.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cpu/gemm.h"

#if defined(LP_GEMM_DNNL)

#include <omp.h>
#include <oneapi/dnnl/dnnl.h>
#include <pthread.h>
#include <stdatomic.h>

#include "kernels/cpu/dnnl_reorder.h"

/* Distinct shapes a plan remembers. A model sees one per batch size it is run
 * with; beyond this the least recently used idle entry is replaced (and when
 * all are running, the call builds a throwaway primitive: correct, slow). */
#define MAX_ENTRIES 16
/* Distinct weight layouts kept (oneDNN asks for one per kernel family). */
#define MAX_WEIGHTS 4

typedef struct prepared_weights {
    dnnl_memory_desc_t md;
    void *data;
} prepared_weights;

/* dnnl_memory objects for one execution at a time: creating five per call
 * costs ~1.5 us each (~0.4 ms per ResNet-50 pass), re-pointing them ~10 ns.
 * Weights and bias are bound once; src, dst and scratchpad per call. A
 * call that finds every set busy (threads running the same entry at once)
 * creates its own. */
#define EXEC_SETS 2
enum { M_SRC, M_WEIGHTS, M_DST, M_BIAS, M_SCRATCH, M_COUNT };

typedef struct exec_set {
    atomic_flag busy;
    dnnl_memory_t mem[M_COUNT];
} exec_set;

typedef struct entry {
    int64_t n, h, w;
    lp_activation act;
    bool accumulate;
    int nthreads;
    dnnl_primitive_desc_t pd;
    dnnl_primitive_t prim;
    dnnl_memory_desc_t src_md, dst_md, bias_md;
    const prepared_weights *weights;
    size_t scratch_bytes;
    const dnnl_memory_desc_t *scratch_md; /* owned by pd */
    bool has_bias;
    exec_set sets[EXEC_SETS];
    /* Winograd (3x3, stride 1): oneDNN's kernel takes nChw16c only, so
     * src_md/dst_md are blocked and these reorders convert x and out */
    bool wino;
    dnnl_memory_desc_t user_src_md, user_dst_md;
    dnnl_primitive_desc_t reorder_pd[2];
    dnnl_primitive_t reorder[2]; /* x -> blocked src, blocked dst -> out */
    int users;                   /* calls running it; under the cache's lock */
    uint64_t last_use;           /* the cache's clock at its last lookup */
} entry;

struct lp_cpu_conv_cache {
    pthread_mutex_t lock;
    entry *entries[MAX_ENTRIES];
    int nentries;
    uint64_t clock;
    prepared_weights *weights[MAX_WEIGHTS];
    int nweights;
};

static pthread_once_t engine_once = PTHREAD_ONCE_INIT;
static dnnl_engine_t engine;
static dnnl_status_t engine_status;

static void engine_init(void) { engine_status = dnnl_engine_create(&engine, dnnl_cpu, 0); }

lp_cpu_conv_cache *lp_cpu_conv_cache_create(void) {
    pthread_once(&engine_once, engine_init);
    if (engine_status != dnnl_success) return NULL;
    lp_cpu_conv_cache *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    if (pthread_mutex_init(&c->lock, NULL)) {
        free(c);
        return NULL;
    }
    return c;
}

static void memories_free(dnnl_memory_t *mem) {
    for (int i = 0; i < M_COUNT; i++)
        if (mem[i]) dnnl_memory_destroy(mem[i]);
}

static void entry_free(entry *e) {
    if (!e) return;
    for (int i = 0; i < EXEC_SETS; i++)
        memories_free(e->sets[i].mem);
    for (int i = 0; i < 2; i++) {
        if (e->reorder[i]) dnnl_primitive_destroy(e->reorder[i]);
        if (e->reorder_pd[i]) dnnl_primitive_desc_destroy(e->reorder_pd[i]);
    }
    if (e->prim) dnnl_primitive_destroy(e->prim);
    if (e->pd) dnnl_primitive_desc_destroy(e->pd);
    free(e);
}

void lp_cpu_conv_cache_free(lp_cpu_conv_cache *c) {
    if (!c) return;
    for (int i = 0; i < c->nentries; i++)
        entry_free(c->entries[i]);
    for (int i = 0; i < c->nweights; i++) {
        free(c->weights[i]->data);
        free(c->weights[i]);
    }
    pthread_mutex_destroy(&c->lock);
    free(c);
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

/* The plan's weight as oneDNN sees it: oihw, or goihw with groups. */
static dnnl_status_t user_weights_md(const lp_cpu_conv_problem *pb, dnnl_memory_desc_t *md) {
    const lp_tensor *w = pb->weight;
    int64_t g = pb->params->groups;
    if (g == 1) {
        dnnl_dims_t d = {w->shape[0], w->shape[1], w->shape[2], w->shape[3]};
        return dnnl_memory_desc_init_by_tag(md, 4, d, dnnl_f32, dnnl_oihw);
    }
    dnnl_dims_t d = {g, w->shape[0] / g, w->shape[1], w->shape[2], w->shape[3]};
    return dnnl_memory_desc_init_by_tag(md, 5, d, dnnl_f32, dnnl_goihw);
}

/* Weights in the layout md, reordered from the plan's weight the first time
 * it is asked for. Called with the lock held. */
static dnnl_status_t weights_for(lp_cpu_conv_cache *c, const lp_cpu_conv_problem *pb,
                                 const dnnl_memory_desc_t *md, const prepared_weights **out,
                                 bool *owned) {
    for (int i = 0; i < c->nweights; i++)
        if (dnnl_memory_desc_equal(&c->weights[i]->md, md)) {
            *out = c->weights[i];
            *owned = false;
            return dnnl_success;
        }
    dnnl_memory_desc_t user_md;
    dnnl_status_t st = user_weights_md(pb, &user_md);
    if (st) return st;
    prepared_weights *p = calloc(1, sizeof *p);
    if (!p) return dnnl_out_of_memory;
    size_t bytes = dnnl_memory_desc_get_size(md);
    p->md = *md;
    p->data = aligned_alloc(64, (bytes + 63) / 64 * 64);
    if (!p->data) {
        free(p);
        return dnnl_out_of_memory;
    }
    st = lp_dnnl_reorder(engine, &user_md, pb->weight->data, md, p->data);
    if (st) {
        free(p->data);
        free(p);
        return st;
    }
    *owned = c->nweights == MAX_WEIGHTS;
    if (!*owned) c->weights[c->nweights++] = p;
    *out = p;
    return dnnl_success;
}

/* The convolution primitive for pb with algorithm alg and activations in
 * layout tag (src_md, dst_md, pd, prim of e). */
static dnnl_status_t build_conv(const lp_cpu_conv_problem *pb, int nthreads, dnnl_alg_kind_t alg,
                                dnnl_format_tag_t tag, entry *e) {
    const lp_conv2d_params *p = pb->params;
    dnnl_dims_t sd = {pb->n, pb->c, pb->h, pb->w}, dd = {pb->n, pb->cout, pb->ho, pb->wo};
    dnnl_dims_t bd = {pb->cout};
    dnnl_memory_desc_t wmd;
    dnnl_status_t st;
    if ((st = dnnl_memory_desc_init_by_tag(&e->src_md, 4, sd, dnnl_f32, tag)) ||
        (st = dnnl_memory_desc_init_by_tag(&e->dst_md, 4, dd, dnnl_f32, tag)) ||
        (st = dnnl_memory_desc_init_by_tag(&e->bias_md, 1, bd, dnnl_f32, dnnl_x)) ||
        (st = user_weights_md(pb, &wmd)))
        return st;
    /* "any" lets the primitive pick its weight layout; the reorder is ours, once */
    dnnl_dims_t wd;
    memcpy(wd, wmd.dims, sizeof wd);
    if ((st = dnnl_memory_desc_init_by_tag(&wmd, wmd.ndims, wd, dnnl_f32, dnnl_format_tag_any)))
        return st;
    int64_t kh = pb->weight->shape[2], kw = pb->weight->shape[3];
    /* oneDNN counts dilation from 0 and wants the right/bottom padding that
     * makes the output size exact (negative when the stride skips the tail) */
    dnnl_dims_t strides = {p->stride_h, p->stride_w};
    dnnl_dims_t dil = {p->dilation_h - 1, p->dilation_w - 1};
    dnnl_dims_t pad_l = {p->pad_h, p->pad_w};
    dnnl_dims_t pad_r = {
        (pb->ho - 1) * p->stride_h + (kh - 1) * p->dilation_h + 1 - pb->h - p->pad_h,
        (pb->wo - 1) * p->stride_w + (kw - 1) * p->dilation_w + 1 - pb->w - p->pad_w};
    dnnl_convolution_desc_t cd;
    if ((st = dnnl_dilated_convolution_forward_desc_init(
             &cd, dnnl_forward_inference, alg, &e->src_md, &wmd, pb->bias ? &e->bias_md : NULL,
             &e->dst_md, strides, dil, pad_l, pad_r)))
        return st;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t po = NULL;
    if (!(st = dnnl_primitive_attr_create(&attr)) &&
        !(st = dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user)) &&
        !(st = dnnl_post_ops_create(&po)) &&
        !(st = pb->accumulate ? dnnl_post_ops_append_sum(po, 1.0f) : dnnl_success) &&
        !(st = pb->act != LP_ACT_NONE
                   ? dnnl_post_ops_append_eltwise(po, 1.0f, eltwise_alg(pb->act), 0.0f, 0.0f)
                   : dnnl_success) &&
        !(st = dnnl_primitive_attr_set_post_ops(attr, po))) {
        /* the team size is fixed into a primitive when it is built */
        omp_set_num_threads(nthreads);
        if (!(st = dnnl_primitive_desc_create(&e->pd, &cd, attr, engine, NULL)))
            st = dnnl_primitive_create(&e->prim, e->pd);
    }
    if (po) dnnl_post_ops_destroy(po);
    if (attr) dnnl_primitive_attr_destroy(attr);
    return st;
}

/* Winograd for 3x3 stride-1 convolutions without a residual: measured on
 * ResNet-50's 3x3s (2 threads), its F(2x2, 3x3) kernel with the two reorders
 * took 0.51-0.58 of brgconv's time at 56x56, 28x28 and 14x14, 0.65-0.9 at
 * 7x7, batch 1 and 8 (benchmarks/README.md). */
static bool wino_fits(const lp_cpu_conv_problem *pb) {
    const lp_conv2d_params *p = pb->params;
    return pb->weight->shape[2] == 3 && pb->weight->shape[3] == 3 && p->stride_h == 1 &&
           p->stride_w == 1 && p->dilation_h == 1 && p->dilation_w == 1 && p->groups == 1 &&
           !pb->accumulate;
}

static dnnl_status_t build_reorder(const dnnl_memory_desc_t *from, const dnnl_memory_desc_t *to,
                                   int nthreads, dnnl_primitive_desc_t *pd,
                                   dnnl_primitive_t *prim) {
    omp_set_num_threads(nthreads);
    dnnl_status_t st = dnnl_reorder_primitive_desc_create(pd, from, engine, to, engine, NULL);
    return st ? st : dnnl_primitive_create(prim, *pd);
}

/* The primitive for pb on nthreads threads: Winograd in nChw16c with
 * reorders where it exists and fits, else the direct NHWC kernels. Called
 * with the lock held. */
static dnnl_status_t entry_build(const lp_cpu_conv_problem *pb, int nthreads, entry *e) {
    dnnl_status_t st = dnnl_unimplemented;
    if (wino_fits(pb)) {
        dnnl_dims_t sd = {pb->n, pb->c, pb->h, pb->w}, dd = {pb->n, pb->cout, pb->ho, pb->wo};
        if (!(st = build_conv(pb, nthreads, dnnl_convolution_winograd, dnnl_nChw16c, e)) &&
            !(st = dnnl_memory_desc_init_by_tag(&e->user_src_md, 4, sd, dnnl_f32, dnnl_nhwc)) &&
            !(st = dnnl_memory_desc_init_by_tag(&e->user_dst_md, 4, dd, dnnl_f32, dnnl_nhwc)) &&
            !(st = build_reorder(&e->user_src_md, &e->src_md, nthreads, &e->reorder_pd[0],
                                 &e->reorder[0])))
            st = build_reorder(&e->dst_md, &e->user_dst_md, nthreads, &e->reorder_pd[1],
                               &e->reorder[1]);
        if (st) { /* not here: start over with the direct kernels */
            for (int i = 0; i < 2; i++) {
                if (e->reorder[i]) dnnl_primitive_destroy(e->reorder[i]);
                if (e->reorder_pd[i]) dnnl_primitive_desc_destroy(e->reorder_pd[i]);
                e->reorder[i] = NULL, e->reorder_pd[i] = NULL;
            }
            if (e->prim) dnnl_primitive_destroy(e->prim);
            if (e->pd) dnnl_primitive_desc_destroy(e->pd);
            e->prim = NULL, e->pd = NULL;
        }
    }
    e->wino = st == dnnl_success;
    if (!e->wino && (st = build_conv(pb, nthreads, dnnl_convolution_direct, dnnl_nhwc, e)))
        return st;
    const dnnl_memory_desc_t *sp = dnnl_primitive_desc_query_md(e->pd, dnnl_query_scratchpad_md, 0);
    e->scratch_bytes = sp ? dnnl_memory_desc_get_size(sp) : 0;
    e->scratch_md = sp;
    e->has_bias = pb->bias != NULL;
    e->n = pb->n, e->h = pb->h, e->w = pb->w, e->act = pb->act, e->accumulate = pb->accumulate;
    e->nthreads = nthreads;
    return dnnl_success;
}

/* The memory objects of one execution: weights and bias bound, src, dst and
 * scratchpad with pointers given (or DNNL_MEMORY_NONE, re-pointed later). */
static dnnl_status_t memories_create(const entry *e, const float *bias, const void *x, void *out,
                                     void *scratch, dnnl_memory_t *mem) {
    const dnnl_memory_desc_t *md[M_COUNT] = {&e->src_md, &e->weights->md, &e->dst_md, &e->bias_md,
                                             e->scratch_md};
    /* oneDNN takes non-const handles; it only reads its inputs */
    void *ptr[M_COUNT] = {(void *)x, e->weights->data, out, (void *)bias, scratch};
    for (int i = 0; i < M_COUNT; i++) {
        mem[i] = NULL;
        if ((i == M_BIAS && !e->has_bias) || (i == M_SCRATCH && !e->scratch_bytes)) continue;
        dnnl_status_t st = dnnl_memory_create(&mem[i], md[i], engine, ptr[i]);
        if (st) {
            memories_free(mem);
            return st;
        }
    }
    return dnnl_success;
}

/* Where a new entry goes: a free slot, or the least recently used idle
 * entry (freed here); -1 when every entry is running. Under the lock. */
static int slot_for_new(lp_cpu_conv_cache *c) {
    if (c->nentries < MAX_ENTRIES) return c->nentries++;
    int victim = -1;
    for (int i = 0; i < c->nentries; i++)
        if (!c->entries[i]->users &&
            (victim < 0 || c->entries[i]->last_use < c->entries[victim]->last_use))
            victim = i;
    if (victim >= 0) {
        entry_free(c->entries[victim]);
        c->entries[victim] = NULL;
    }
    return victim;
}

/* The cached entry for pb (marked in use: release it), or a new one (owned
 * by the caller when it could not be cached: *owned). */
static dnnl_status_t lookup(lp_cpu_conv_cache *c, const lp_cpu_conv_problem *pb, int nthreads,
                            entry **out, bool *owned, bool *weights_owned) {
    *owned = *weights_owned = false;
    pthread_mutex_lock(&c->lock);
    c->clock++;
    for (int i = 0; i < c->nentries; i++) {
        entry *e = c->entries[i];
        if (e->n == pb->n && e->h == pb->h && e->w == pb->w && e->act == pb->act &&
            e->accumulate == pb->accumulate && e->nthreads == nthreads) {
            e->users++;
            e->last_use = c->clock;
            pthread_mutex_unlock(&c->lock);
            *out = e;
            return dnnl_success;
        }
    }
    dnnl_status_t st = dnnl_out_of_memory;
    entry *e = calloc(1, sizeof *e);
    if (e && !(st = entry_build(pb, nthreads, e))) {
        const dnnl_memory_desc_t *wmd =
            dnnl_primitive_desc_query_md(e->pd, dnnl_query_weights_md, 0);
        st = weights_for(c, pb, wmd, &e->weights, weights_owned);
        for (int i = 0; !st && i < EXEC_SETS; i++) {
            atomic_flag_clear(&e->sets[i].busy);
            st = memories_create(e, pb->bias ? pb->bias->data : NULL, DNNL_MEMORY_NONE,
                                 DNNL_MEMORY_NONE, DNNL_MEMORY_NONE, e->sets[i].mem);
        }
    }
    if (st) {
        entry_free(e);
        pthread_mutex_unlock(&c->lock);
        return st;
    }
    int slot = *weights_owned ? -1 : slot_for_new(c);
    if (slot >= 0) {
        c->entries[slot] = e;
        e->users = 1;
        e->last_use = c->clock;
    } else {
        *owned = true;
    }
    pthread_mutex_unlock(&c->lock);
    *out = e;
    return dnnl_success;
}

static void release(lp_cpu_conv_cache *c, entry *e) {
    pthread_mutex_lock(&c->lock);
    e->users--;
    pthread_mutex_unlock(&c->lock);
}

static dnnl_status_t execute(lp_ctx *ctx, entry *e, const lp_cpu_conv_problem *pb, const float *x,
                             float *out) {
    void *scratch = NULL;
    if (e->scratch_bytes) {
        scratch = lp_arena_alloc(ctx->scratch, e->scratch_bytes);
        if (!scratch) return dnnl_out_of_memory;
    }
    /* Winograd computes between blocked copies of x and out */
    void *blk_src = NULL, *blk_dst = NULL;
    if (e->wino) {
        blk_src = lp_arena_alloc(ctx->scratch, dnnl_memory_desc_get_size(&e->src_md));
        blk_dst = lp_arena_alloc(ctx->scratch, dnnl_memory_desc_get_size(&e->dst_md));
        if (!blk_src || !blk_dst) return dnnl_out_of_memory;
    }
    const void *src_ptr = e->wino ? blk_src : (const void *)x;
    void *dst_ptr = e->wino ? blk_dst : (void *)out;
    exec_set *set = NULL;
    for (int i = 0; i < EXEC_SETS && !set; i++)
        if (!atomic_flag_test_and_set(&e->sets[i].busy)) set = &e->sets[i];
    dnnl_memory_t own[M_COUNT], *mem = own;
    dnnl_status_t st = dnnl_success;
    bool created = false;
    if (set) {
        mem = set->mem;
        if (!(st = dnnl_memory_set_data_handle(mem[M_SRC], (void *)src_ptr)) &&
            !(st = dnnl_memory_set_data_handle(mem[M_DST], dst_ptr)) && scratch)
            st = dnnl_memory_set_data_handle(mem[M_SCRATCH], scratch);
    } else {
        st = memories_create(e, pb->bias ? pb->bias->data : NULL, src_ptr, dst_ptr, scratch, own);
        created = st == dnnl_success;
    }
    dnnl_stream_t stream = NULL;
    if (!st) {
        static const int ids[M_COUNT] = {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DST,
                                         DNNL_ARG_BIAS, DNNL_ARG_SCRATCHPAD};
        dnnl_exec_arg_t args[M_COUNT];
        int nargs = 0;
        for (int i = 0; i < M_COUNT; i++)
            if (mem[i]) args[nargs++] = (dnnl_exec_arg_t){ids[i], mem[i]};
        dnnl_memory_t user[2] = {NULL, NULL};
        if (e->wino && !(st = dnnl_memory_create(&user[0], &e->user_src_md, engine, (void *)x)))
            st = dnnl_memory_create(&user[1], &e->user_dst_md, engine, out);
        if (!st && !(st = dnnl_stream_create(&stream, engine, dnnl_stream_default_flags))) {
            omp_set_num_threads(e->nthreads);
            if (e->wino) {
                dnnl_exec_arg_t in[2] = {{DNNL_ARG_FROM, user[0]}, {DNNL_ARG_TO, mem[M_SRC]}};
                st = dnnl_primitive_execute(e->reorder[0], stream, 2, in);
            }
            if (!st) st = dnnl_primitive_execute(e->prim, stream, nargs, args);
            if (!st && e->wino) {
                dnnl_exec_arg_t back[2] = {{DNNL_ARG_FROM, mem[M_DST]}, {DNNL_ARG_TO, user[1]}};
                st = dnnl_primitive_execute(e->reorder[1], stream, 2, back);
            }
            dnnl_status_t wst = dnnl_stream_wait(stream);
            if (!st) st = wst;
            dnnl_stream_destroy(stream);
        }
        for (int i = 0; i < 2; i++)
            if (user[i]) dnnl_memory_destroy(user[i]);
    }
    if (set)
        atomic_flag_clear(&set->busy);
    else if (created)
        memories_free(own);
    return st;
}

lp_status lp_cpu_conv_dnnl_run(lp_ctx *ctx, lp_cpu_conv_cache *cache, const lp_cpu_conv_problem *pb,
                               const float *x, float *out, lp_error *err) {
    int nthreads = lp_gemm_threads(ctx);
    if (nthreads < 1) nthreads = 1;
    entry *e = NULL;
    bool owned = false, weights_owned = false;
    dnnl_status_t st = lookup(cache, pb, nthreads, &e, &owned, &weights_owned);
    if (st == dnnl_out_of_memory)
        return lp_fail(err, LP_ERR_NOMEM, "conv2d: out of memory preparing oneDNN's convolution");
    if (st) return LP_ERR_UNSUPPORTED; /* no primitive for this problem: the caller falls back */
    st = execute(ctx, e, pb, x, out);
    if (weights_owned) {
        free(e->weights->data);
        free((void *)e->weights);
    }
    if (owned)
        entry_free(e);
    else
        release(cache, e);
    if (st == dnnl_out_of_memory)
        return lp_fail(err, LP_ERR_NOMEM, "conv2d: no memory for oneDNN's scratchpad");
    if (st)
        return lp_fail(err, LP_ERR_INTERNAL,
                       "conv2d: oneDNN's convolution failed to run (status %d)", (int)st);
    return LP_OK;
}

#else /* built without oneDNN: plans run lp_conv2d */

lp_cpu_conv_cache *lp_cpu_conv_cache_create(void) { return NULL; }
void lp_cpu_conv_cache_free(lp_cpu_conv_cache *cache) { (void)cache; }
lp_status lp_cpu_conv_dnnl_run(lp_ctx *ctx, lp_cpu_conv_cache *cache, const lp_cpu_conv_problem *pb,
                               const float *x, float *out, lp_error *err) {
    (void)ctx, (void)cache, (void)pb, (void)x, (void)out, (void)err;
    return LP_ERR_UNSUPPORTED;
}

#endif
