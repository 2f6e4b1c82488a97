/* Greedy and beam search as transformers' generate() does them (v5's
 * vectorised _beam_search: 2*num_beams candidates per sentence, the best
 * num_beams unfinished ones run on, finished ones are kept when among the top
 * num_beams, length-normalised; a sentence freezes when its early-stop
 * heuristic is met). Batched over sentences and beams; a finished sentence
 * leaves the batch, so it stops costing compute. Scores follow generate()'s
 * float32 arithmetic, including its -1e9 offsets. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/backend_memory.h"
#include "models/marian.h"

#define NEG_BIG (-1.0e9f)

typedef struct hyp {
    int32_t *ids; /* generated tokens */
    int len;
    float score;
} hyp;

typedef struct sentence {
    int index; /* into the caller's arrays */
    bool done;
    bool unsat; /* transformers' is_early_stop_heuristic_unsatisfied */
    float *run_score; /* [K] */
    int32_t *seq;     /* [K][max_len] running tokens (without the start token) */
    int32_t *seq_new; /* scratch */
    hyp *fin;         /* [K] sorted by score, best first */
    int nfin;
    double greedy_score;
} sentence;

typedef struct cand {
    float score; /* accumulated */
    int beam;
    int32_t tok;
} cand;

typedef struct gen {
    const lp_marian_model *m;
    const lp_marian_gen_options *o;
    int K, L, max_len;
    int64_t d, V;
    int64_t tmax;           /* cache positions allocated */
    int64_t rows_cap;       /* rows allocated in the cache */
    float **k, **v;         /* per layer [rows_cap, tmax, d]; time-major [tmax, rows_cap, d] on a device */
    float *tmp;             /* a cache's size, for reorders */
    /* A device backend: the caches and activations live in device memory;
     * the search reads a host copy of each step's logits, and the logits
     * processors run on the host context. */
    lp_ctx *ctx;
    bool dev;
    lp_ctx host;
    bool host_ready;
    float *host_logits;     /* [rows_cap, V] */
    int32_t *gather;        /* [tmax * rows_cap] reorder ids */
    uint8_t *mask_host;     /* [B, S] the encoder mask, compacted with the batch */
} gen;

static lp_status cache_alloc(gen *g, size_t floats, float **out, lp_error *err) {
    *out = NULL;
    if (g->dev) return g->ctx->backend->device_alloc(floats * sizeof(float), (void **)out, err);
    *out = malloc(floats * sizeof(float));
    return *out ? LP_OK : lp_fail(err, LP_ERR_NOMEM, "out of memory for the decoder cache");
}

static void cache_free(gen *g, float *p) {
    if (p && g->dev)
        g->ctx->backend->device_free(p);
    else
        free(p);
}

static void free_caches(gen *g) {
    if (g->k)
        for (int l = 0; l < g->L; l++) cache_free(g, g->k[l]);
    if (g->v)
        for (int l = 0; l < g->L; l++) cache_free(g, g->v[l]);
    free(g->k);
    free(g->v);
    cache_free(g, g->tmp);
    free(g->gather);
    free(g->host_logits);
    free(g->mask_host);
    if (g->host_ready) lp_ctx_release(&g->host);
}

/* n contiguous floats from src to dst, on the device (lp_cast f32 -> f32 is a copy). */
static lp_status device_copy(gen *g, float *dst, const float *src, int64_t n, lp_error *err) {
    if (n == 0) return LP_OK;
    lp_device dev = {g->ctx->backend->device, 0};
    lp_tensor from = lp_tensor_on(lp_tensor_1d((void *)src, LP_F32, n), dev);
    lp_tensor to = lp_tensor_on(lp_tensor_1d(dst, LP_F32, n), dev);
    return lp_cast(g->ctx, &from, &to, err);
}

/* The first `used` positions of an old cache in a new one of t positions. */
static lp_status keep_positions(gen *g, const float *old, float *n, int64_t t, int64_t used, lp_error *err) {
    if (!old || !used) return LP_OK;
    /* time-major: the used positions are one block at the start */
    if (g->dev) return device_copy(g, n, old, used * g->rows_cap * g->d, err);
    size_t row = (size_t)(t * g->d);
    for (int64_t r = 0; r < g->rows_cap; r++)
        memcpy(n + (size_t)r * row, old + (size_t)(r * g->tmax * g->d), (size_t)(used * g->d) * sizeof(float));
    return LP_OK;
}

/* Grows every cache to hold `need` positions, keeping what is there. */
static lp_status grow_cache(gen *g, int64_t need, int64_t used, lp_error *err) {
    if (need <= g->tmax) return LP_OK;
    int64_t t = g->tmax ? g->tmax : 16;
    while (t < need) t *= 2;
    if (t > g->max_len) t = g->max_len;
    if (t < need) t = need;
    size_t floats = (size_t)g->rows_cap * (size_t)(t * g->d);
    lp_status st;
    for (int l = 0; l < 2 * g->L; l++) {
        float **slot = l < g->L ? &g->k[l] : &g->v[l - g->L];
        float *n;
        if ((st = cache_alloc(g, floats, &n, err))) return st;
        if ((st = keep_positions(g, *slot, n, t, used, err))) {
            cache_free(g, n);
            return st;
        }
        cache_free(g, *slot);
        *slot = n;
    }
    cache_free(g, g->tmp);
    g->tmp = NULL;
    if ((st = cache_alloc(g, floats, &g->tmp, err))) return st;
    if (g->dev) {
        int32_t *ids = realloc(g->gather, sizeof *ids * (size_t)(t * g->rows_cap));
        if (!ids) return lp_fail(err, LP_ERR_NOMEM, "out of memory growing the decoder cache");
        g->gather = ids;
    }
    g->tmax = t;
    return LP_OK;
}

/* Device caches (time-major): new row r takes old row src[r] at every used
 * position, in one gather per cache (lp_embedding over the cache viewed as
 * [tmax * rows_cap, d]) into tmp, which then becomes the cache. */
static lp_status reorder_device(gen *g, lp_arena *arena, const int64_t *src, int64_t n, int64_t used,
                                lp_error *err) {
    bool identity = true;
    for (int64_t r = 0; r < n && identity; r++) identity = src[r] == r;
    if (identity || !used) return LP_OK;
    int64_t cap = g->rows_cap;
    for (int64_t t = 0; t < used; t++)
        for (int64_t r = 0; r < cap; r++) g->gather[t * cap + r] = (int32_t)(t * cap + (r < n ? src[r] : r));
    lp_arena_mark mark = lp_arena_get_mark(arena);
    lp_tensor host_ids = lp_tensor_1d(g->gather, LP_I32, used * cap), ids;
    lp_status st = lp_backend_upload(g->ctx->backend, arena, &host_ids, &ids, err);
    lp_device dev = ids.device;
    for (int l = 0; st == LP_OK && l < 2 * g->L; l++) {
        float **c = l < g->L ? &g->k[l] : &g->v[l - g->L];
        lp_tensor table = lp_tensor_on(lp_tensor_2d(*c, LP_F32, g->tmax * cap, g->d), dev);
        lp_tensor out = lp_tensor_on(lp_tensor_2d(g->tmp, LP_F32, used * cap, g->d), dev);
        st = lp_embedding(g->ctx, &table, &ids, &out, err);
        if (st == LP_OK) {
            float *old = *c;
            *c = g->tmp;
            g->tmp = old;
        }
    }
    lp_arena_rewind(arena, mark);
    return st;
}

/* Cache rows: new row r takes old row src[r]; positions [0, used). */
static void reorder_cache(gen *g, const int64_t *src, int64_t n, int64_t used) {
    size_t row = (size_t)(g->tmax * g->d), len = (size_t)(used * g->d) * sizeof(float);
    for (int l = 0; l < 2 * g->L; l++) {
        float *c = l < g->L ? g->k[l] : g->v[l - g->L];
        int64_t moved = 0;
        for (int64_t r = 0; r < n; r++)
            if (src[r] != r) memcpy(g->tmp + (size_t)moved++ * row, c + (size_t)src[r] * row, len);
        moved = 0;
        for (int64_t r = 0; r < n; r++)
            if (src[r] != r) memcpy(c + (size_t)r * row, g->tmp + (size_t)moved++ * row, len);
    }
}

/* The processed scores generate() ranks by, in place over one row of logits:
 * beam search: log_softmax, then the processors, then (renormalize) log_softmax;
 * greedy: the processors on the logits, then (renormalize) log_softmax. */
static lp_status process_rows(const gen *g, lp_ctx *ctx, lp_tensor *logits, int cur_len, bool beam,
                              lp_error *err) {
    const lp_marian_config *c = &g->m->cfg;
    lp_status st;
    if (beam && (st = lp_softmax(ctx, logits, NULL, 1.0f, true, logits, err))) return st;
    int64_t N = logits->shape[0], V = g->V;
    bool force = c->forced_eos_id >= 0 && cur_len == g->max_len - 1;
    for (int64_t r = 0; r < N; r++) {
        float *x = (float *)logits->data + r * V;
        for (int i = 0; i < c->n_bad_words; i++) x[c->bad_words[i]] = -INFINITY;
        if (force) {
            for (int64_t j = 0; j < V; j++) x[j] = -INFINITY;
            x[c->forced_eos_id] = 0.0f;
        }
    }
    if (c->renormalize_logits && (st = lp_softmax(ctx, logits, NULL, 1.0f, true, logits, err))) return st;
    return LP_OK;
}

/* The 2K best entries of a row (descending, lower index first on ties). */
static int row_topk(const float *x, int64_t V, int k, float *val, int32_t *idx) {
    int n = 0;
    for (int64_t j = 0; j < V; j++) {
        float v = x[j];
        if (n == k && !(v > val[n - 1])) continue;
        int p = n < k ? n++ : k - 1;
        while (p > 0 && v > val[p - 1]) {
            val[p] = val[p - 1];
            idx[p] = idx[p - 1];
            p--;
        }
        val[p] = v;
        idx[p] = (int32_t)j;
    }
    return n;
}

/* torch.topk: descending; equal scores keep the flat index (beam, token) order. */
static int cand_cmp(const void *pa, const void *pb) {
    const cand *a = pa, *b = pb;
    if (a->score != b->score) return a->score > b->score ? -1 : 1;
    if (a->beam != b->beam) return a->beam < b->beam ? -1 : 1;
    return (a->tok > b->tok) - (a->tok < b->tok);
}

static void sort_cands(cand *c, int n) { qsort(c, (size_t)n, sizeof *c, cand_cmp); }

static lp_status add_finished(sentence *s, int K, const int32_t *ids, int len, float score, lp_error *err) {
    if (s->nfin == K && !(score > s->fin[K - 1].score)) return LP_OK;
    int p = s->nfin < K ? s->nfin++ : K - 1;
    int32_t *keep = s->fin[p].ids; /* the slot's buffer is reused */
    while (p > 0 && score > s->fin[p - 1].score) {
        s->fin[p] = s->fin[p - 1];
        p--;
    }
    if (!keep) {
        keep = malloc((size_t)(len > 0 ? len : 1) * sizeof *keep);
        if (!keep) return lp_fail(err, LP_ERR_NOMEM, "out of memory in beam search");
    } else {
        int32_t *n = realloc(keep, (size_t)(len > 0 ? len : 1) * sizeof *keep);
        if (!n) {
            free(keep);
            return lp_fail(err, LP_ERR_NOMEM, "out of memory in beam search");
        }
        keep = n;
    }
    memcpy(keep, ids, (size_t)len * sizeof *ids);
    s->fin[p].ids = keep;
    s->fin[p].len = len;
    s->fin[p].score = score;
    return LP_OK;
}

/* One beam-search step for sentence s whose K rows of processed scores start
 * at lp. cur_len: decoder length before this step (start token included).
 * parent[K] receives the running beams' sources. */
static lp_status beam_step(const gen *g, sentence *s, const float *lp, int cur_len, int *parent, int32_t *next,
                           lp_error *err) {
    int K = g->K, C = 2 * K;
    const lp_marian_config *c = &g->m->cfg;
    cand cands[2 * 64 * 64];
    int nc = 0;
    float val[128];
    int32_t idx[128];
    for (int b = 0; b < K; b++) {
        int n = row_topk(lp + (int64_t)b * g->V, g->V, C, val, idx);
        for (int i = 0; i < n; i++) cands[nc++] = (cand){s->run_score[b] + val[i], b, idx[i]};
    }
    sort_cands(cands, nc);
    if (nc > C) nc = C;
    bool at_max = cur_len + 1 >= g->max_len;
    bool frozen = !s->unsat || (g->o->early_stopping && s->nfin == K);
    float denom = (float)pow((double)cur_len, (double)g->o->length_penalty);
    int gen_len = cur_len; /* tokens after the start token, the new one included */
    int32_t *buf = s->seq_new;
    /* finished candidates among the top K */
    for (int j = 0; j < nc && j < K; j++) {
        bool hit = at_max || cands[j].tok == c->eos_id;
        if (!hit || frozen) continue;
        memcpy(buf, s->seq + (size_t)cands[j].beam * g->max_len, (size_t)(gen_len - 1) * sizeof *buf);
        buf[gen_len - 1] = cands[j].tok;
        lp_status st = add_finished(s, K, buf, gen_len, cands[j].score / denom, err);
        if (st) return st;
    }
    /* running beams: the best K, finished ones pushed down by -1e9 */
    float rv[128];
    int order[128];
    for (int j = 0; j < nc; j++) {
        bool hit = at_max || cands[j].tok == c->eos_id;
        rv[j] = cands[j].score + (hit ? NEG_BIG : 0.0f);
        int p = j;
        while (p > 0 && rv[order[p - 1]] < rv[j]) {
            order[p] = order[p - 1];
            p--;
        }
        order[p] = j;
    }
    for (int i = 0; i < K; i++) {
        const cand *cd = &cands[order[i < nc ? i : nc - 1]];
        parent[i] = cd->beam;
        next[i] = cd->tok;
        s->run_score[i] = rv[order[i < nc ? i : nc - 1]];
        memcpy(buf + (size_t)i * g->max_len, s->seq + (size_t)cd->beam * g->max_len,
               (size_t)(gen_len - 1) * sizeof *buf);
        buf[(size_t)i * g->max_len + gen_len - 1] = cd->tok;
    }
    memcpy(s->seq, buf, (size_t)K * g->max_len * sizeof *buf);
    /* the early-stop heuristic, at cur_len + 1 */
    if (s->unsat && s->nfin == K) {
        float best = s->run_score[0] / (float)pow((double)gen_len, (double)g->o->length_penalty);
        if (!(best > s->fin[K - 1].score)) s->unsat = false;
    }
    s->done = at_max || !s->unsat || (g->o->early_stopping && s->nfin == K);
    return LP_OK;
}

static double row_log_softmax_at(const float *x, int64_t V, int64_t at) {
    double mx = -INFINITY;
    for (int64_t j = 0; j < V; j++)
        if (x[j] > mx) mx = x[j];
    double sum = 0;
    for (int64_t j = 0; j < V; j++) sum += exp((double)x[j] - mx);
    return (double)x[at] - mx - log(sum);
}

static int64_t row_argmax(const float *x, int64_t V) {
    int64_t best = 0;
    for (int64_t j = 1; j < V; j++)
        if (x[j] > x[best]) best = j;
    return best;
}

/* The encoder's ids and mask, [B, S] padded, on the backend: written in
 * place in the arena on a host backend; built on the host and copied in on a
 * device (g->mask_host keeps the mask for the batch compaction). */
static lp_status encoder_inputs(gen *g, lp_arena *arena, const int32_t *const *src, const size_t *lens, size_t B,
                                int64_t S, lp_tensor *ids, lp_tensor *mask, lp_error *err) {
    const lp_marian_config *c = &g->m->cfg;
    int64_t is[2] = {(int64_t)B, S};
    size_t n = B * (size_t)S;
    int32_t *ip = NULL;
    uint8_t *mp = NULL;
    lp_status st = LP_OK;
    if (!g->dev) {
        if ((st = lp_arena_tensor(arena, LP_I32, 2, is, ids, err)) ||
            (st = lp_arena_tensor(arena, LP_U8, 2, is, mask, err)))
            return st;
        ip = ids->data;
        mp = mask->data;
    } else {
        ip = malloc(n * sizeof *ip);
        mp = g->mask_host = malloc(n);
        if (!ip || !mp) {
            free(ip);
            return lp_fail(err, LP_ERR_NOMEM, "out of memory in generate");
        }
    }
    for (size_t i = 0; i < B; i++)
        for (int64_t j = 0; j < S; j++) {
            bool in = j < (int64_t)lens[i];
            ip[i * S + j] = in ? src[i][j] : c->pad_id;
            mp[i * S + j] = in;
        }
    if (g->dev) {
        lp_tensor hi = lp_tensor_2d(ip, LP_I32, (int64_t)B, S), hm = lp_tensor_2d(mp, LP_U8, (int64_t)B, S);
        st = lp_backend_upload(g->ctx->backend, arena, &hi, ids, err);
        if (st == LP_OK) st = lp_backend_upload(g->ctx->backend, arena, &hm, mask, err);
        free(ip);
    }
    return st;
}

/* Active sentence a's cross-attention keys, values and mask move down to slot
 * to (< a) as the batch compacts: memmove on the host; device copies, and
 * the host copy of the mask, on a device. */
static lp_status move_sentence(gen *g, lp_tensor *ck, lp_tensor *cv, const lp_tensor *mask, int64_t S, size_t a,
                               size_t to, lp_error *err) {
    int64_t sd = S * g->d;
    lp_status st = LP_OK;
    for (int l = 0; st == LP_OK && l < g->L; l++) {
        float *k = ck[l].data, *v = cv[l].data;
        if (g->dev) {
            st = device_copy(g, k + to * sd, k + a * sd, sd, err);
            if (st == LP_OK) st = device_copy(g, v + to * sd, v + a * sd, sd, err);
        } else {
            memmove(k + to * sd, k + a * sd, (size_t)sd * sizeof(float));
            memmove(v + to * sd, v + a * sd, (size_t)sd * sizeof(float));
        }
    }
    uint8_t *m = g->dev ? g->mask_host : mask->data;
    memmove(m + to * S, m + a * S, (size_t)S);
    return st;
}

static lp_status run(gen *g, lp_ctx *ctx, lp_arena *arena, const int32_t *const *src, const size_t *lens, size_t B,
                     sentence *sents, lp_error *err) {
    const lp_marian_model *m = g->m;
    const lp_marian_config *c = &m->cfg;
    int K = g->K;
    int64_t S = 0, d = g->d;
    for (size_t i = 0; i < B; i++)
        if ((int64_t)lens[i] > S) S = (int64_t)lens[i];
    lp_status st;
    int64_t es[3] = {(int64_t)B, S, d};
    lp_tensor ids, mask, enc;
    if ((st = encoder_inputs(g, arena, src, lens, B, S, &ids, &mask, err)) ||
        (st = lp_arena_tensor(arena, LP_F32, 3, es, &enc, err)))
        return st;
    /* descriptors are host memory (the arena may be the device's) */
    lp_tensor *ck = malloc(2 * (size_t)g->L * sizeof(lp_tensor));
    if (!ck) return lp_fail(err, LP_ERR_NOMEM, "out of memory");
    lp_tensor *cv = ck + g->L;
    for (int l = 0; l < g->L; l++)
        if ((st = lp_arena_tensor(arena, LP_F32, 3, es, &ck[l], err)) ||
            (st = lp_arena_tensor(arena, LP_F32, 3, es, &cv[l], err))) {
            free(ck);
            return st;
        }
    lp_arena_mark em = lp_arena_get_mark(arena);
    if ((st = lp_marian_encode(m, ctx, arena, &ids, &mask, &enc, err)) ||
        (st = lp_marian_cross_kv(m, ctx, &enc, ck, cv, err))) {
        free(ck);
        return st;
    }
    lp_arena_rewind(arena, em);

    /* active sentences, in order; row a*K + b is beam b of active sentence a */
    size_t A = B;
    int *act = malloc(B * sizeof *act);
    int32_t *tokens = malloc(B * (size_t)K * sizeof *tokens);
    int32_t *next = malloc(B * (size_t)K * sizeof *next);
    int *parent = malloc(B * (size_t)K * sizeof *parent);
    int64_t *srcrow = malloc(B * (size_t)K * sizeof *srcrow);
    g->rows_cap = (int64_t)B * K;
    if (g->dev) g->host_logits = malloc((size_t)g->rows_cap * (size_t)g->V * sizeof *g->host_logits);
    if (!act || !tokens || !next || !parent || !srcrow || (g->dev && !g->host_logits)) {
        st = lp_fail(err, LP_ERR_NOMEM, "out of memory in generate");
        goto done;
    }
    for (size_t i = 0; i < B; i++) act[i] = (int)i;
    for (size_t r = 0; r < B * (size_t)K; r++) tokens[r] = c->decoder_start_id;
    for (int cur_len = 1; A > 0 && cur_len < g->max_len; cur_len++) {
        int64_t past = cur_len - 1;
        if ((st = grow_cache(g, cur_len, past, err))) goto done;
        lp_arena_mark mk = lp_arena_get_mark(arena);
        int64_t N = (int64_t)A * K, ls[2] = {N, g->V};
        lp_tensor logits;
        if ((st = lp_arena_tensor(arena, LP_F32, 2, ls, &logits, err))) goto done;
        lp_tensor ckA[LP_MARIAN_MAX_LAYERS], cvA[LP_MARIAN_MAX_LAYERS];
        for (int l = 0; l < g->L; l++) {
            ckA[l] = lp_tensor_on(lp_tensor_3d(ck[l].data, LP_F32, (int64_t)A, S, d), ck[l].device);
            cvA[l] = lp_tensor_on(lp_tensor_3d(cv[l].data, LP_F32, (int64_t)A, S, d), cv[l].device);
        }
        lp_tensor maskA = lp_tensor_on(lp_tensor_2d(mask.data, LP_U8, (int64_t)A, S), mask.device);
        lp_marian_step step = {.rows = N, .beams = K, .past = past, .tokens = tokens, .self_k = g->k,
                               .self_v = g->v, .tmax = g->tmax, .time_major = g->dev, .rows_cap = g->rows_cap,
                               .ck = ckA, .cv = cvA, .enc_mask = &maskA};
        if ((st = lp_marian_decode_step(m, ctx, arena, &step, &logits, err))) goto done;
        /* the search reads the logits on the host: a copy from a device */
        lp_tensor scores = logits;
        lp_ctx *host_ctx = ctx;
        if (g->dev) {
            if ((st = lp_backend_download(ctx->backend, &logits, g->host_logits, err))) goto done;
            scores = lp_tensor_2d(g->host_logits, LP_F32, N, g->V);
            host_ctx = &g->host;
        }
        if ((st = process_rows(g, host_ctx, &scores, cur_len, K > 1, err))) goto done;
        const float *lp = scores.data;
        for (size_t a = 0; a < A; a++) {
            sentence *s = &sents[act[a]];
            const float *rows = lp + (int64_t)a * K * g->V;
            if (K > 1) {
                if ((st = beam_step(g, s, rows, cur_len, parent + a * K, next + a * K, err))) goto done;
            } else {
                int64_t t = row_argmax(rows, g->V);
                s->greedy_score += row_log_softmax_at(rows, g->V, t);
                s->seq[cur_len - 1] = (int32_t)t;
                parent[a] = 0;
                next[a] = (int32_t)t;
                if (t == c->eos_id || cur_len + 1 >= g->max_len) {
                    s->done = true;
                    s->nfin = 1;
                    s->fin[0].len = cur_len;
                    /* normalised as beam search scores a finished hypothesis */
                    s->fin[0].score =
                        (float)(s->greedy_score / pow((double)cur_len, (double)g->o->length_penalty));
                }
            }
        }
        lp_arena_rewind(arena, mk);
        /* Compact: drop finished sentences, follow the beams' parents. */
        size_t A2 = 0;
        bool moved = false;
        for (size_t a = 0; a < A; a++) {
            if (sents[act[a]].done) continue;
            for (int b = 0; b < K; b++) {
                srcrow[A2 * K + b] = (int64_t)a * K + parent[a * K + b];
                tokens[A2 * K + b] = next[a * K + b];
            }
            if (A2 != a) {
                if ((st = move_sentence(g, ck, cv, &mask, S, a, A2, err))) goto done;
                moved = true;
            }
            act[A2++] = act[a];
        }
        A = A2;
        if (moved && g->dev &&
            (st = ctx->backend->copy(mask.data, g->mask_host, A * (size_t)S, true, err)))
            goto done;
        if (g->dev)
            st = reorder_device(g, arena, srcrow, (int64_t)A * K, cur_len, err);
        else
            reorder_cache(g, srcrow, (int64_t)A * K, cur_len);
        if (st) goto done;
    }
    st = LP_OK;
done:
    free(ck);
    free(act);
    free(tokens);
    free(next);
    free(parent);
    free(srcrow);
    return st;
}

lp_status lp_marian_generate(const lp_marian_model *m, lp_ctx *ctx, lp_arena *arena, const int32_t *const *src,
                             const size_t *lens, size_t B, const lp_marian_gen_options *o, lp_marian_hyp *out,
                             lp_error *err) {
    const lp_marian_config *c = &m->cfg;
    memset(out, 0, B * sizeof *out);
    if (o->num_beams < 1 || o->num_beams > 64)
        return lp_fail(err, LP_ERR_INVALID_ARG, "num_beams = %d; use 1 .. 64", o->num_beams);
    if (o->max_length < 2 || o->max_length > c->max_positions + 1)
        return lp_fail(err, LP_ERR_INVALID_ARG, "max_length = %d; use 2 .. %lld (the model's positions + 1)",
                       o->max_length, (long long)c->max_positions + 1);
    if (!isfinite(o->length_penalty))
        return lp_fail(err, LP_ERR_INVALID_ARG, "length_penalty must be a finite number");
    for (size_t i = 0; i < B; i++) {
        if (lens[i] < 1 || (int64_t)lens[i] > c->max_positions)
            return lp_fail(err, LP_ERR_INVALID_ARG, "input %zu has %zu tokens; the model takes 1 .. %lld", i, lens[i],
                           (long long)c->max_positions);
        for (size_t j = 0; j < lens[i]; j++)
            if (src[i][j] < 0 || src[i][j] >= c->vocab_size)
                return lp_fail(err, LP_ERR_INVALID_ARG, "input %zu: token %zu is %d, outside the vocabulary (%lld)", i,
                               j, src[i][j], (long long)c->vocab_size);
    }
    if (B == 0) return LP_OK;
    gen g = {.m = m, .o = o, .K = o->num_beams, .L = (int)c->decoder_layers, .max_len = o->max_length,
             .d = c->d_model, .V = c->vocab_size, .ctx = ctx, .dev = !lp_backend_on_host(ctx->backend)};
    lp_status st = LP_OK;
    /* the logits processors on a device backend's host copy of the logits */
    if (g.dev && (st = lp_ctx_init(&g.host, lp_backend_cpu(), ctx->pool, err))) return st;
    g.host_ready = g.dev;
    sentence *sents = calloc(B, sizeof *sents);
    g.k = calloc((size_t)g.L, sizeof *g.k);
    g.v = calloc((size_t)g.L, sizeof *g.v);
    if (!sents || !g.k || !g.v) st = lp_fail(err, LP_ERR_NOMEM, "out of memory in generate");
    for (size_t i = 0; !st && i < B; i++) {
        sentence *s = &sents[i];
        s->index = (int)i;
        s->unsat = true;
        s->run_score = malloc((size_t)g.K * sizeof *s->run_score);
        s->seq = calloc((size_t)g.K * g.max_len, sizeof *s->seq);
        s->seq_new = calloc((size_t)g.K * g.max_len, sizeof *s->seq_new);
        s->fin = calloc((size_t)g.K, sizeof *s->fin);
        if (!s->run_score || !s->seq || !s->seq_new || !s->fin) {
            st = lp_fail(err, LP_ERR_NOMEM, "out of memory in generate");
            break;
        }
        for (int b = 0; b < g.K; b++) s->run_score[b] = b ? NEG_BIG : 0.0f;
    }
    lp_arena_mark mark = lp_arena_get_mark(arena);
    if (!st) st = run(&g, ctx, arena, src, lens, B, sents, err);
    lp_arena_rewind(arena, mark);
    for (size_t i = 0; !st && i < B; i++) {
        sentence *s = &sents[i];
        const int32_t *ids = g.K > 1 ? s->fin[0].ids : s->seq;
        int len = s->nfin ? s->fin[0].len : 0;
        out[i].ids = malloc((size_t)(len > 0 ? len : 1) * sizeof *out[i].ids);
        if (!out[i].ids) {
            st = lp_fail(err, LP_ERR_NOMEM, "out of memory in generate");
            break;
        }
        if (len) memcpy(out[i].ids, ids, (size_t)len * sizeof *ids);
        out[i].n = (size_t)len;
        out[i].score = s->nfin ? s->fin[0].score : 0.0f;
        out[i].hit_max_length = len == 0 || ids[len - 1] != c->eos_id || len + 1 >= g.max_len;
    }
    if (st)
        for (size_t i = 0; i < B; i++) {
            free(out[i].ids);
            out[i].ids = NULL;
        }
    for (size_t i = 0; sents && i < B; i++) {
        free(sents[i].run_score);
        free(sents[i].seq);
        free(sents[i].seq_new);
        if (sents[i].fin)
            for (int b = 0; b < g.K; b++) free(sents[i].fin[b].ids);
        free(sents[i].fin);
    }
    free(sents);
    free_caches(&g);
    return st;
}
