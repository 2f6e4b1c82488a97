/* Fast path of lp_attention: flash-attention style, one task per (batch,
 * head, block of qb queries), tasks spread over the thread pool.
 *
 * A task copies its queries (times scale) into a dense block, then walks the
 * keys in blocks of KB: it transposes the key block (8 x 8 register
 * transposes, so scores are rows of FMAs along the keys), computes the
 * qb x KB scores with a 6 x 16 register tile, masks them (key padding as a
 * 0 / -inf bias, the causal limit as a per-row column limit), and folds them
 * into running row maxima, sums and output accumulators (the online softmax:
 * earlier blocks are rescaled by exp(old max - new max)); the value block is
 * copied dense and multiplied in with the same tile shape. Memory per task is
 * bounded by the block sizes, not by Sk, and a causal task stops at the last
 * key its last query may see.
 *
 * qb is 128, 64 or 32 queries: the largest that still gives every thread
 * about four tasks, since each task re-reads its keys and values once.
 *
 * Scratch: one working set per thread, all allocated from ctx->scratch before
 * the parallel loop; a range of tasks claims a free one for its duration (at
 * most pool-size ranges run at once, so one is always free). Rows of the blocks
 * are padded off powers of two: rows 2^k bytes apart share a few L1 sets,
 * and the strided sweeps of the tiles then miss on every row. */
#include <math.h>
#include <stdatomic.h>
#include <string.h>

#include "kernels/cpu/cpu_ops.h"
#include "kernels/cpu/fast_vec.h"

#define QB_MAX 128
#define KB 128           /* keys per block */
#define LDK (KB + 16)    /* row stride of the transposed keys and the scores */
#define TILE_R 6
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
    int64_t dvp;             /* dv rounded up to TILE_C */
    int64_t ldq, ldv;        /* row strides of the query and value blocks */
    const uint8_t *key_mask; /* [B, Sk] or NULL */
    bool causal;
    float scale;
    int64_t qb;    /* queries per task */
    int64_t nqb;   /* query blocks per head */
    int64_t tasks; /* B * H * nqb */
    int64_t parts; /* contiguous task ranges handed to the pool */
    int64_t nslots;
    atomic_int *slot_busy; /* [nslots] */
    float *work;           /* nslots * part_floats */
    size_t part_floats;
} attn_job;

/* One part's working set, carved from job->work. */
typedef struct attn_ws {
    float *qs;    /* [qb][ldq]: scaled queries */
    float *kt;    /* [d][LDK]: the key block, transposed */
    float *s;     /* [qb][LDK]: scores, then probabilities */
    float *o;     /* [qb][dvp]: output accumulators */
    float *vb;    /* [KB][ldv]: the value block, dense, zero-padded to dvp */
    float *kbias; /* [KB]: 0 or -inf per key */
    float *m, *l; /* [qb]: running max and sum */
} attn_ws;

static int64_t round16(int64_t n) { return (n + 15) & ~(int64_t)15; }

/* A row stride of at least n floats that is not a multiple of 64 floats. */
static int64_t pad_stride(int64_t n) {
    int64_t ld = round16(n);
    return ld % 64 == 0 ? ld + 16 : ld;
}

static int64_t part_floats(const attn_job *job) {
    return round16(job->qb * job->ldq) + round16(job->d * LDK) + job->qb * LDK +
           job->qb * job->dvp + KB * job->ldv + KB + 2 * round16(job->qb);
}

static attn_ws carve(const attn_job *job, int64_t slot) {
    float *p = job->work + slot * (int64_t)job->part_floats;
    attn_ws w;
    w.qs = p;
    p += round16(job->qb * job->ldq);
    w.kt = p;
    p += round16(job->d * LDK);
    w.s = p;
    p += job->qb * LDK;
    w.o = p;
    p += job->qb * job->dvp;
    w.vb = p;
    p += KB * job->ldv;
    w.kbias = p;
    p += KB;
    w.m = p;
    w.l = p + round16(job->qb);
    return w;
}

/* s[r][0 .. 16) = sum_t qs[r][t] * kt[t][0 .. 16) for r < R (R constant after
 * inlining, so the 2R accumulators live in registers). */
static inline __attribute__((always_inline)) void qk_tile(int R, const float *qs, int64_t ldq,
                                                         int64_t d, const float *kt, float *s) {
    lp_v8f acc[TILE_R][2];
    for (int r = 0; r < R; r++) acc[r][0] = acc[r][1] = lp_v8_set1(0);
    for (int64_t t = 0; t < d; t++) {
        lp_v8f k0 = lp_v8_load(kt + t * LDK), k1 = lp_v8_load(kt + t * LDK + 8);
        for (int r = 0; r < R; r++) {
            lp_v8f a = lp_v8_set1(qs[r * ldq + t]);
            acc[r][0] = lp_v8_fma(a, k0, acc[r][0]);
            acc[r][1] = lp_v8_fma(a, k1, acc[r][1]);
        }
    }
    for (int r = 0; r < R; r++) {
        lp_v8_store(s + r * LDK, acc[r][0]);
        lp_v8_store(s + r * LDK + 8, acc[r][1]);
    }
}

/* o[r][0 .. 16) += sum_{j < kn} p[r][j] * vb[j][0 .. 16) for r < R. */
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
            lp_v8f a = lp_v8_set1(p[r * LDK + j]);
            acc[r][0] = lp_v8_fma(a, v0, acc[r][0]);
            acc[r][1] = lp_v8_fma(a, v1, acc[r][1]);
        }
    }
    for (int r = 0; r < R; r++) {
        lp_v8_store(o + r * ldo, acc[r][0]);
        lp_v8_store(o + r * ldo + 8, acc[r][1]);
    }
}

/* The tiles for the last qn % TILE_R rows, each with its row count constant. */
#define TILE_REMAINDER(call, rows) \
    switch (rows) {                \
    case 1: call(1); break;        \
    case 2: call(2); break;        \
    case 3: call(3); break;        \
    case 4: call(4); break;        \
    case 5: call(5); break;        \
    default: break;                \
    }

static void scores(const attn_job *job, const attn_ws *w, int64_t qn, int64_t kbp) {
    int64_t i = 0, d = job->d, ldq = job->ldq;
    for (; i + TILE_R <= qn; i += TILE_R)
        for (int64_t j = 0; j < kbp; j += TILE_C)
            qk_tile(TILE_R, w->qs + i * ldq, ldq, d, w->kt + j, w->s + i * LDK + j);
#define QK_CALL(R)                                                                 \
    for (int64_t j = 0; j < kbp; j += TILE_C)                                      \
        qk_tile(R, w->qs + i * ldq, ldq, d, w->kt + j, w->s + i * LDK + j)
    TILE_REMAINDER(QK_CALL, qn - i)
#undef QK_CALL
}

static void accumulate_pv(const attn_job *job, const attn_ws *w, int64_t qn, int64_t kn) {
    int64_t i = 0, dvp = job->dvp, ldv = job->ldv;
    for (; i + TILE_R <= qn; i += TILE_R)
        for (int64_t c = 0; c < dvp; c += TILE_C)
            pv_tile(TILE_R, w->s + i * LDK, kn, w->vb + c, ldv, w->o + i * dvp + c, dvp);
#define PV_CALL(R)                                                                  \
    for (int64_t c = 0; c < dvp; c += TILE_C)                                       \
        pv_tile(R, w->s + i * LDK, kn, w->vb + c, ldv, w->o + i * dvp + c, dvp)
    TILE_REMAINDER(PV_CALL, qn - i)
#undef PV_CALL
}

/* Masks row i's scores of keys [k0, k0 + kn) (columns past the block and past
 * the causal limit become -inf) and returns their max (NaN if any is NaN). */
static float mask_row_max(const attn_job *job, const attn_ws *w, float *s, int64_t qi, int64_t k0,
                          int64_t kn, int64_t kbp) {
    int64_t lim = kn;
    if (job->causal) {
        int64_t last = qi + (job->sk - job->sq) - k0; /* last visible key in this block */
        if (last + 1 < lim) lim = last + 1 < 0 ? 0 : last + 1;
    }
    if (job->key_mask)
        for (int64_t j = 0; j < lim; j++) s[j] += w->kbias[j];
    for (int64_t j = lim; j < kbp; j++) s[j] = -INFINITY;
    lp_v8f a0 = lp_v8_set1(-INFINITY), a1 = a0;
    for (int64_t j = 0; j < kbp; j += 16) {
        a0 = lp_v8_max_nan(a0, lp_v8_load(s + j));
        a1 = lp_v8_max_nan(a1, lp_v8_load(s + j + 8));
    }
    return lp_v8_hmax_nan(lp_v8_max_nan(a0, a1));
}

/* s = exp(s - shift) over kbp (a multiple of 16) columns; returns the sum. */
static float exp_sum_row(float *s, float shift, int64_t kbp) {
    lp_v8f vs = lp_v8_set1(shift), a0 = lp_v8_set1(0), a1 = a0;
    for (int64_t j = 0; j < kbp; j += 16) {
        lp_v8f e0 = lp_v8_exp(lp_v8_load(s + j) - vs), e1 = lp_v8_exp(lp_v8_load(s + j + 8) - vs);
        lp_v8_store(s + j, e0);
        lp_v8_store(s + j + 8, e1);
        a0 += e0;
        a1 += e1;
    }
    return lp_v8_hsum(a0 + a1);
}

/* Folds row i's scores into its running max, sum and accumulators; leaves
 * the row's probabilities (for this block's max) in s. */
static void online_softmax_row(const attn_job *job, const attn_ws *w, int64_t i, int64_t qi,
                               int64_t k0, int64_t kn, int64_t kbp) {
    float *s = w->s + i * LDK;
    float m_new = mask_row_max(job, w, s, qi, k0, kn, kbp);
    float m_old = w->m[i];
    if (m_old > m_new) m_new = m_old;
    if (m_new == -INFINITY) { /* nothing visible yet */
        memset(s, 0, (size_t)kbp * sizeof *s);
        return;
    }
    float sum = exp_sum_row(s, m_new, kbp);
    if (m_old == -INFINITY) { /* first visible block: nothing to rescale */
        w->l[i] = sum;
    } else {
        float corr = lp_v8_exp(lp_v8_set1(m_old - m_new))[0];
        w->l[i] = w->l[i] * corr + sum;
        if (corr != 1.0f) {
            float *o = w->o + i * job->dvp;
            for (int64_t c = 0; c < job->dvp; c++) o[c] *= corr;
        }
    }
    w->m[i] = m_new;
}

static void load_queries(const attn_job *job, const attn_ws *w, const float *qbase, int64_t qn) {
    for (int64_t i = 0; i < qn; i++) {
        const float *src = qbase + i * job->q.stride[2];
        float *dst = w->qs + i * job->ldq;
        for (int64_t t = 0; t < job->d; t++) dst[t] = src[t] * job->scale;
    }
}

/* dst[c][r] = src[r][c] for an 8 x 8 block. */
static inline void transpose8(const float *src, int64_t lds, float *dst, int64_t ldd) {
#if defined(__AVX__)
    __m256 r0 = _mm256_loadu_ps(src), r1 = _mm256_loadu_ps(src + lds);
    __m256 r2 = _mm256_loadu_ps(src + 2 * lds), r3 = _mm256_loadu_ps(src + 3 * lds);
    __m256 r4 = _mm256_loadu_ps(src + 4 * lds), r5 = _mm256_loadu_ps(src + 5 * lds);
    __m256 r6 = _mm256_loadu_ps(src + 6 * lds), r7 = _mm256_loadu_ps(src + 7 * lds);
    __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
    __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
    __m256 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5);
    __m256 t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
    __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xee);
    __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xee);
    __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xee);
    __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xee);
    _mm256_storeu_ps(dst, _mm256_permute2f128_ps(u0, u4, 0x20));
    _mm256_storeu_ps(dst + ldd, _mm256_permute2f128_ps(u1, u5, 0x20));
    _mm256_storeu_ps(dst + 2 * ldd, _mm256_permute2f128_ps(u2, u6, 0x20));
    _mm256_storeu_ps(dst + 3 * ldd, _mm256_permute2f128_ps(u3, u7, 0x20));
    _mm256_storeu_ps(dst + 4 * ldd, _mm256_permute2f128_ps(u0, u4, 0x31));
    _mm256_storeu_ps(dst + 5 * ldd, _mm256_permute2f128_ps(u1, u5, 0x31));
    _mm256_storeu_ps(dst + 6 * ldd, _mm256_permute2f128_ps(u2, u6, 0x31));
    _mm256_storeu_ps(dst + 7 * ldd, _mm256_permute2f128_ps(u3, u7, 0x31));
#else
    for (int r = 0; r < 8; r++)
        for (int c = 0; c < 8; c++) dst[c * ldd + r] = src[r * lds + c];
#endif
}

/* kt[t][j] = k[k0 + j][t]; columns kn .. kbp are zero. */
static void load_keys(const attn_job *job, const attn_ws *w, const float *kbase, int64_t kn,
                      int64_t kbp) {
    int64_t lds = job->k.stride[2], d = job->d;
    int64_t j8 = kn & ~(int64_t)7, t8 = d & ~(int64_t)7;
    for (int64_t j = 0; j < j8; j += 8) {
        for (int64_t t = 0; t < t8; t += 8) transpose8(kbase + j * lds + t, lds, w->kt + t * LDK + j, LDK);
        for (int64_t t = t8; t < d; t++)
            for (int64_t r = 0; r < 8; r++) w->kt[t * LDK + j + r] = kbase[(j + r) * lds + t];
    }
    for (int64_t j = j8; j < kn; j++)
        for (int64_t t = 0; t < d; t++) w->kt[t * LDK + j] = kbase[j * lds + t];
    if (kn < kbp)
        for (int64_t t = 0; t < d; t++) memset(w->kt + t * LDK + kn, 0, (size_t)(kbp - kn) * sizeof(float));
}

/* The value rows copied dense and zero-padded to dvp columns: the rows of v
 * may be far apart (a fused QKV layout puts 3 H D floats between them). */
static void load_values(const attn_job *job, const attn_ws *w, const float *vbase, int64_t kn) {
    for (int64_t j = 0; j < kn; j++) {
        float *dst = w->vb + j * job->ldv;
        memcpy(dst, vbase + j * job->v.stride[2], (size_t)job->dv * sizeof(float));
        if (job->dvp > job->dv) memset(dst + job->dv, 0, (size_t)(job->dvp - job->dv) * sizeof(float));
    }
}

static void run_task(const attn_job *job, const attn_ws *w, int64_t task) {
    int64_t bh = task / job->nqb, b = bh / job->nh, h = bh % job->nh;
    int64_t q0 = (task % job->nqb) * job->qb;
    int64_t qn = job->sq - q0 < job->qb ? job->sq - q0 : job->qb;
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
        scores(job, w, qn, kbp);
        for (int64_t i = 0; i < qn; i++) online_softmax_row(job, w, i, q0 + i, k0, kn, kbp);
        load_values(job, w, vbase + k0 * job->v.stride[2], kn);
        accumulate_pv(job, w, qn, kn);
    }

    float *obase = job->out + b * job->out_stride[0] + h * job->out_stride[1] + q0 * job->out_stride[2];
    for (int64_t i = 0; i < qn; i++) {
        float *dst = obase + i * job->out_stride[2];
        const float *o = w->o + i * job->dvp;
        float inv = w->l[i] > 0 ? 1.0f / w->l[i] : 0.0f;
        for (int64_t c = 0; c < job->dv; c++) dst[c] = o[c] * inv;
    }
}

static int64_t claim_slot(const attn_job *job) {
    for (int64_t s = 0;; s = (s + 1) % job->nslots) {
        int expected = 0;
        if (atomic_compare_exchange_strong(&job->slot_busy[s], &expected, 1)) return s;
    }
}

static void run_parts(void *arg, int64_t begin, int64_t end) {
    const attn_job *job = arg;
    int64_t slot = claim_slot(job);
    attn_ws w = carve(job, slot);
    for (int64_t part = begin; part < end; part++) {
        int64_t t0 = part * job->tasks / job->parts, t1 = (part + 1) * job->tasks / job->parts;
        for (int64_t t = t0; t < t1; t++) run_task(job, &w, t);
    }
    atomic_store(&job->slot_busy[slot], 0);
}

static view4 view_of(const lp_tensor *t) {
    view4 v = {t->data, {t->stride[0], t->stride[1], t->stride[2]}};
    return v;
}

/* The largest query block that still leaves about four tasks per thread. */
static int64_t pick_qb(int64_t bh, int64_t sq, int64_t threads) {
    int64_t qb = QB_MAX;
    while (qb > 32 && bh * ((sq + qb - 1) / qb) < 4 * threads && sq > qb / 2) qb /= 2;
    return qb;
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
    job.ldq = pad_stride(job.d);
    job.ldv = pad_stride(job.dvp);
    job.key_mask = mask && mask->key_mask ? mask->key_mask->data : NULL;
    job.causal = mask && mask->causal;
    job.scale = scale;
    int64_t threads = lp_threadpool_size(ctx->pool), bh = q->shape[0] * job.nh;
    job.qb = pick_qb(bh, job.sq, threads);
    job.nqb = (job.sq + job.qb - 1) / job.qb;
    job.tasks = bh * job.nqb;
    if (job.tasks == 0 || job.dv == 0) return LP_OK;
    job.parts = job.tasks < 4 * threads ? job.tasks : 4 * threads;
    job.nslots = threads < job.parts ? threads : job.parts;
    job.part_floats = (size_t)round16(part_floats(&job));
    job.work = lp_arena_alloc(ctx->scratch, (size_t)job.nslots * job.part_floats * sizeof(float));
    job.slot_busy = lp_arena_alloc(ctx->scratch, (size_t)job.nslots * sizeof *job.slot_busy);
    if (!job.work || !job.slot_busy)
        return lp_fail(err, LP_ERR_NOMEM, "attention: no scratch memory for %lld working sets",
                       (long long)job.nslots);
    for (int64_t s = 0; s < job.nslots; s++) atomic_init(&job.slot_busy[s], 0);
    lp_parallel_for(ctx->pool, job.parts, 1, run_parts, &job);
    return LP_OK;
}
