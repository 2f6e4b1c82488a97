/* Fast path of lp_attention: flash-attention style, one task per (batch,
 * head, block of QB queries), tasks spread over the thread pool.
 *
 * A task copies its queries (times scale) into a dense block, then walks the
 * keys in blocks of KB: it transposes the key block (so scores are rows of
 * FMAs along the keys), computes the QB x KB scores with a 4 x 16 register
 * tile, masks them (key padding as a 0 / -inf bias, the causal limit as a
 * per-row column limit), and folds them into running row maxima, sums and
 * output accumulators (the online softmax: earlier blocks are rescaled by
 * exp(old max - new max)). Memory per task is bounded by the block sizes, not
 * by Sk, and a causal task stops at the last key its last query may see.
 *
 * Scratch: one working set per "part" (a contiguous range of tasks), all
 * allocated from ctx->scratch before the parallel loop. */
#include <math.h>
#include <string.h>

#include "kernels/cpu/cpu_ops.h"
#include "kernels/cpu/fast_math.h"
#include "kernels/cpu/fast_vec.h"

#define QB 64 /* queries per task */
#define KB 128 /* keys per block */
#define TILE_R 4
#define TILE_C 16

typedef struct view4 {
    const float *data;
    int64_t stride[3]; /* batch, head, sequence; the last dimension is dense */
} view4;

typedef struct attn_job {
    view4 q, k, v;
    float *out;
    int64_t out_stride[3];
    int64_t nh, sq, sk, d, dv;
    int64_t dvp;          /* dv rounded up to TILE_C */
    const uint8_t *key_mask; /* [B, Sk] or NULL */
    bool causal;
    float scale;
    int64_t nqb;   /* query blocks per head */
    int64_t tasks; /* B * H * nqb */
    int64_t parts;
    float *work;          /* parts * part_floats */
    size_t part_floats;
} attn_job;

/* One part's working set, carved from job->work. */
typedef struct attn_ws {
    float *qs;    /* [QB][d]: scaled queries */
    float *kt;    /* [d][KB]: the key block, transposed */
    float *s;     /* [QB][KB]: scores, then probabilities */
    float *o;     /* [QB][dvp]: output accumulators */
    float *vb;    /* [KB][dvp]: the value block, padded */
    float *kbias; /* [KB]: 0 or -inf per key */
    float *m, *l; /* [QB]: running max and sum */
} attn_ws;

static size_t round16(size_t n) { return (n + 15) & ~(size_t)15; }

static size_t part_floats(int64_t d, int64_t dvp) {
    return round16((size_t)(QB * d)) + round16((size_t)(d * KB)) + (size_t)QB * KB +
           (size_t)(QB * dvp) + (size_t)(KB * dvp) + KB + 2 * QB;
}

static attn_ws carve(const attn_job *job, int64_t part) {
    float *p = job->work + (size_t)part * job->part_floats;
    attn_ws w;
    w.qs = p;
    p += round16((size_t)(QB * job->d));
    w.kt = p;
    p += round16((size_t)(job->d * KB));
    w.s = p;
    p += QB * KB;
    w.o = p;
    p += QB * job->dvp;
    w.vb = p;
    p += KB * job->dvp;
    w.kbias = p;
    p += KB;
    w.m = p;
    w.l = p + QB;
    return w;
}

/* s[r][j0 .. j0 + 16) = sum_t qs[r][t] * kt[t][j0 ..] for r < R (R constant
 * after inlining, so the 2R accumulators live in registers). */
static inline __attribute__((always_inline)) void qk_tile(int R, const float *qs, int64_t d,
                                                         const float *kt, float *s) {
    lp_v8f acc[TILE_R][2];
    for (int r = 0; r < R; r++) acc[r][0] = acc[r][1] = lp_v8_set1(0);
    for (int64_t t = 0; t < d; t++) {
        lp_v8f k0 = lp_v8_load(kt + t * KB), k1 = lp_v8_load(kt + t * KB + 8);
        for (int r = 0; r < R; r++) {
            lp_v8f a = lp_v8_set1(qs[r * d + t]);
            acc[r][0] = lp_v8_fma(a, k0, acc[r][0]);
            acc[r][1] = lp_v8_fma(a, k1, acc[r][1]);
        }
    }
    for (int r = 0; r < R; r++) {
        lp_v8_store(s + r * KB, acc[r][0]);
        lp_v8_store(s + r * KB + 8, acc[r][1]);
    }
}

/* o[r][c0 .. c0 + 16) += sum_{j < kn} p[r][j] * vb[j][c0 ..] for r < R. */
static inline __attribute__((always_inline)) void pv_tile(int R, const float *p, int64_t kn,
                                                         const float *vb, int64_t ldv, float *o,
                                                         int64_t ldo) {
    lp_v8f acc[TILE_R][2];
    for (int r = 0; r < R; r++) {
        acc[r][0] = lp_v8_load(o + r * ldo);
        acc[r][1] = lp_v8_load(o + r * ldo + 8);
    }
    for (int64_t j = 0; j < kn; j++) {
        lp_v8f v0 = lp_v8_load(vb + j * ldv), v1 = lp_v8_load(vb + j * ldv + 8);
        for (int r = 0; r < R; r++) {
            lp_v8f a = lp_v8_set1(p[r * KB + j]);
            acc[r][0] = lp_v8_fma(a, v0, acc[r][0]);
            acc[r][1] = lp_v8_fma(a, v1, acc[r][1]);
        }
    }
    for (int r = 0; r < R; r++) {
        lp_v8_store(o + r * ldo, acc[r][0]);
        lp_v8_store(o + r * ldo + 8, acc[r][1]);
    }
}

static void scores(const attn_ws *w, int64_t qn, int64_t d, int64_t kbp) {
    int64_t i = 0;
    for (; i + TILE_R <= qn; i += TILE_R)
        for (int64_t j = 0; j < kbp; j += TILE_C) qk_tile(TILE_R, w->qs + i * d, d, w->kt + j, w->s + i * KB + j);
    for (; i < qn; i++)
        for (int64_t j = 0; j < kbp; j += TILE_C) qk_tile(1, w->qs + i * d, d, w->kt + j, w->s + i * KB + j);
}

static void accumulate_pv(const attn_ws *w, int64_t qn, int64_t kn, const float *vb, int64_t ldv,
                          int64_t dvp) {
    int64_t i = 0;
    for (; i + TILE_R <= qn; i += TILE_R)
        for (int64_t c = 0; c < dvp; c += TILE_C)
            pv_tile(TILE_R, w->s + i * KB, kn, vb + c, ldv, w->o + i * dvp + c, dvp);
    for (; i < qn; i++)
        for (int64_t c = 0; c < dvp; c += TILE_C)
            pv_tile(1, w->s + i * KB, kn, vb + c, ldv, w->o + i * dvp + c, dvp);
}

static float row_max(const float *s, int64_t n) { /* n is a multiple of 16 */
    lp_v8f a0 = lp_v8_set1(-INFINITY), a1 = a0;
    for (int64_t j = 0; j < n; j += 16) {
        a0 = lp_v8_max_nan(a0, lp_v8_load(s + j));
        a1 = lp_v8_max_nan(a1, lp_v8_load(s + j + 8));
    }
    return lp_v8_hmax_nan(lp_v8_max_nan(a0, a1));
}

static void exp_row(float *s, float shift, int64_t n) {
    for (int64_t j = 0; j < n; j++) s[j] = lp_fast_expf(s[j] - shift);
}

static float sum_row(const float *s, int64_t n) { /* n is a multiple of 16 */
    lp_v8f a0 = lp_v8_set1(0), a1 = a0;
    for (int64_t j = 0; j < n; j += 16) {
        a0 += lp_v8_load(s + j);
        a1 += lp_v8_load(s + j + 8);
    }
    return lp_v8_hsum(a0 + a1);
}

/* Masks row i's scores of keys [k0, k0 + kn) and folds them into the running
 * max / sum / accumulators; leaves the row's probabilities in s. */
static void online_softmax_row(const attn_job *job, const attn_ws *w, int64_t i, int64_t qi,
                               int64_t k0, int64_t kn, int64_t kbp) {
    float *s = w->s + i * KB;
    int64_t lim = kn;
    if (job->causal) {
        int64_t last = qi + (job->sk - job->sq) - k0; /* last visible key in this block */
        if (last + 1 < lim) lim = last + 1 < 0 ? 0 : last + 1;
    }
    if (job->key_mask)
        for (int64_t j = 0; j < lim; j++) s[j] += w->kbias[j];
    for (int64_t j = lim; j < kbp; j++) s[j] = -INFINITY;
    float m_new = row_max(s, kbp);
    if (w->m[i] > m_new) m_new = w->m[i];
    if (m_new == -INFINITY) { /* nothing visible yet */
        memset(s, 0, (size_t)kbp * sizeof *s);
        return;
    }
    float corr = lp_fast_expf(w->m[i] - m_new); /* 0 on the first visible block */
    exp_row(s, m_new, kbp);
    w->l[i] = w->l[i] * corr + sum_row(s, kbp);
    w->m[i] = m_new;
    if (corr != 1.0f) {
        float *o = w->o + i * job->dvp;
        for (int64_t c = 0; c < job->dvp; c++) o[c] *= corr;
    }
}

static void load_queries(const attn_job *job, const attn_ws *w, const float *qbase, int64_t qn) {
    for (int64_t i = 0; i < qn; i++) {
        const float *src = qbase + i * job->q.stride[2];
        float *dst = w->qs + i * job->d;
        for (int64_t t = 0; t < job->d; t++) dst[t] = src[t] * job->scale;
    }
}

/* kt[t][j] = k[k0 + j][t]; columns kn .. kbp are zero. */
static void load_keys(const attn_job *job, const attn_ws *w, const float *kbase, int64_t kn,
                      int64_t kbp) {
    for (int64_t j = 0; j < kn; j++) {
        const float *src = kbase + j * job->k.stride[2];
        for (int64_t t = 0; t < job->d; t++) w->kt[t * KB + j] = src[t];
    }
    for (int64_t t = 0; t < job->d && kn < kbp; t++)
        memset(w->kt + t * KB + kn, 0, (size_t)(kbp - kn) * sizeof(float));
}

/* The value rows as a dense [kn][ldv] block: in place when Dv is a multiple of
 * the tile, else copied with zero padding. */
static const float *load_values(const attn_job *job, const attn_ws *w, const float *vbase,
                                int64_t kn, int64_t *ldv) {
    if (job->dv == job->dvp) {
        *ldv = job->v.stride[2];
        return vbase;
    }
    for (int64_t j = 0; j < kn; j++) {
        float *dst = w->vb + j * job->dvp;
        memcpy(dst, vbase + j * job->v.stride[2], (size_t)job->dv * sizeof(float));
        memset(dst + job->dv, 0, (size_t)(job->dvp - job->dv) * sizeof(float));
    }
    *ldv = job->dvp;
    return w->vb;
}

static void run_task(const attn_job *job, const attn_ws *w, int64_t task) {
    int64_t bh = task / job->nqb, b = bh / job->nh, h = bh % job->nh;
    int64_t q0 = (task % job->nqb) * QB;
    int64_t qn = job->sq - q0 < QB ? job->sq - q0 : QB;
    const float *qbase = job->q.data + b * job->q.stride[0] + h * job->q.stride[1] + q0 * job->q.stride[2];
    const float *kbase = job->k.data + b * job->k.stride[0] + h * job->k.stride[1];
    const float *vbase = job->v.data + b * job->v.stride[0] + h * job->v.stride[1];
    const uint8_t *km = job->key_mask ? job->key_mask + b * job->sk : NULL;

    load_queries(job, w, qbase, qn);
    for (int64_t i = 0; i < qn; i++) {
        w->m[i] = -INFINITY;
        w->l[i] = 0;
    }
    memset(w->o, 0, (size_t)(qn * job->dvp) * sizeof(float));

    int64_t kend = job->sk;
    if (job->causal) { /* keys after the last query's limit are never seen */
        int64_t last = q0 + qn - 1 + (job->sk - job->sq);
        if (last + 1 < kend) kend = last + 1 < 0 ? 0 : last + 1;
    }
    for (int64_t k0 = 0; k0 < kend; k0 += KB) {
        int64_t kn = kend - k0 < KB ? kend - k0 : KB;
        int64_t kbp = (kn + TILE_C - 1) / TILE_C * TILE_C;
        load_keys(job, w, kbase + k0 * job->k.stride[2], kn, kbp);
        if (km)
            for (int64_t j = 0; j < kn; j++) w->kbias[j] = km[k0 + j] ? 0.0f : -INFINITY;
        scores(w, qn, job->d, kbp);
        for (int64_t i = 0; i < qn; i++) online_softmax_row(job, w, i, q0 + i, k0, kn, kbp);
        int64_t ldv;
        const float *vb = load_values(job, w, vbase + k0 * job->v.stride[2], kn, &ldv);
        accumulate_pv(w, qn, kn, vb, ldv, job->dvp);
    }

    float *obase = job->out + b * job->out_stride[0] + h * job->out_stride[1] + q0 * job->out_stride[2];
    for (int64_t i = 0; i < qn; i++) {
        float *dst = obase + i * job->out_stride[2];
        const float *o = w->o + i * job->dvp;
        float inv = w->l[i] > 0 ? 1.0f / w->l[i] : 0.0f;
        for (int64_t c = 0; c < job->dv; c++) dst[c] = o[c] * inv;
    }
}

static void run_parts(void *arg, int64_t begin, int64_t end) {
    const attn_job *job = arg;
    for (int64_t part = begin; part < end; part++) {
        attn_ws w = carve(job, part);
        int64_t t0 = part * job->tasks / job->parts, t1 = (part + 1) * job->tasks / job->parts;
        for (int64_t t = t0; t < t1; t++) run_task(job, &w, t);
    }
}

static view4 view_of(const lp_tensor *t) {
    view4 v = {t->data, {t->stride[0], t->stride[1], t->stride[2]}};
    return v;
}

LP_CPU_OP_ATTENTION(lp_cpu_fast_attention) {
    attn_job job;
    memset(&job, 0, sizeof job);
    job.q = view_of(q);
    job.k = view_of(k);
    job.v = view_of(v);
    job.out = out->data;
    for (int i = 0; i < 3; i++) job.out_stride[i] = out->stride[i];
    job.nh = q->shape[1];
    job.sq = q->shape[2];
    job.sk = k->shape[2];
    job.d = q->shape[3];
    job.dv = v->shape[3];
    job.dvp = (job.dv + TILE_C - 1) / TILE_C * TILE_C;
    job.key_mask = mask && mask->key_mask ? mask->key_mask->data : NULL;
    job.causal = mask && mask->causal;
    job.scale = scale;
    job.nqb = (job.sq + QB - 1) / QB;
    job.tasks = q->shape[0] * job.nh * job.nqb;
    if (job.tasks == 0 || job.dv == 0) return LP_OK;
    int64_t threads = lp_threadpool_size(ctx->pool);
    job.parts = job.tasks < 4 * threads ? job.tasks : 4 * threads;
    job.part_floats = round16(part_floats(job.d, job.dvp));
    job.work = lp_arena_alloc(ctx->scratch, (size_t)job.parts * job.part_floats * sizeof(float));
    if (!job.work)
        return lp_fail(err, LP_ERR_NOMEM, "attention: no scratch memory for %lld working sets",
                       (long long)job.parts);
    lp_parallel_for(ctx->pool, job.parts, 1, run_parts, &job);
    return LP_OK;
}
