/* The CUDA backend's runtime pieces, in the emulated build (device memory is
 * host memory; cudaMalloc / cudaMemcpy emulated by tests/cuda/emu_runtime.c):
 *
 *   - the caching pool (kernels/cuda/mem_pool.c) with a fake allocator and fake
 *     events the test completes by hand: size classes, same-stream reuse at
 *     once, other-stream reuse only after the free's event completed, the
 *     cache released when the allocator runs out, stats, frees of unknown
 *     pointers; then 4 threads hammering one pool on their own "streams"
 *     (each block filled and checked: no block is ever handed out twice);
 *   - the process-wide device and pinned pools behind the backend table's
 *     device_alloc / device_free;
 *   - the device weight cache (kernels/cuda/weight_cache.c): 4 sessions asking
 *     for the same weights get one upload and one device tensor; f16 / bf16
 *     conversion bit-exact with lp_f32_to_f16 / lp_f32_to_bf16; bad requests;
 *     and the backend table's device_weight, which serves from one cache. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cuda/cuda_runtime_glue.h"
#include "kernels/cuda/mem_pool.h"
#include "kernels/cuda/weight_cache.h"
#include "tests/test_util.h"

/* ---- a fake device: counted allocations, a byte limit, manual events ---- */

static size_t g_live_bytes, g_limit = SIZE_MAX, g_allocs;
static int g_events_created, g_events_destroyed, g_events_waited;

typedef struct fake_event {
    bool done;
} fake_event;

static lp_status fake_alloc(size_t bytes, void **out, lp_error *err) {
    if (g_live_bytes + bytes > g_limit) return lp_fail(err, LP_ERR_NOMEM, "fake device is full");
    size_t *p = malloc(bytes + 16);
    if (!p) return lp_fail(err, LP_ERR_NOMEM, "host out of memory");
    p[0] = bytes;
    g_live_bytes += bytes;
    g_allocs++;
    *out = p + 2;
    return LP_OK;
}

static void fake_free(void *p) {
    size_t *h = (size_t *)p - 2;
    g_live_bytes -= h[0];
    free(h);
}

static fake_event *g_last_event;
static void *fake_record(void *stream) {
    (void)stream;
    fake_event *e = calloc(1, sizeof *e);
    g_events_created++;
    g_last_event = e;
    return e;
}
static bool fake_done(void *e) { return ((fake_event *)e)->done; }
static void fake_wait(void *e) {
    ((fake_event *)e)->done = true;
    g_events_waited++;
}
static void fake_destroy(void *e) {
    g_events_destroyed++;
    free(e);
}

static const lp_cuda_pool_ops FAKE = {fake_alloc, fake_free, fake_record, fake_done, fake_wait, fake_destroy};
static void *const S1 = (void *)0x1, *const S2 = (void *)0x2;

static void test_classes(void) {
    CHECK(lp_cuda_pool_class_size(0) == 512 && lp_cuda_pool_class_size(1) == 512);
    CHECK(lp_cuda_pool_class_size(512) == 512 && lp_cuda_pool_class_size(513) == 1024);
    CHECK(lp_cuda_pool_class_size(1000000) == (1u << 20) && lp_cuda_pool_class_size(1u << 20) == (1u << 20));
    CHECK(lp_cuda_pool_class_size((1u << 20) + 1) == (2u << 20));
    CHECK(lp_cuda_pool_class_size((5u << 20) + 3) == (6u << 20));
    CHECK(lp_cuda_pool_class_size(SIZE_MAX) == 0);
}

static void test_stream_order(void) {
    lp_error err = {0};
    lp_cuda_pool *p = NULL;
    CHECK_FAILS(lp_cuda_pool_create(NULL, &p, &err), LP_ERR_INVALID_ARG, &err, "no allocator");
    CHECK_OK(lp_cuda_pool_create(&FAKE, &p, &err), &err);
    void *a = NULL, *b = NULL, *c = NULL;
    CHECK_OK(lp_cuda_pool_alloc(p, 1000, S1, &a, &err), &err);
    lp_cuda_pool_free(p, a, S1);
    fake_event *ev_a = g_last_event;
    /* the same stream takes it back at once, though its event is pending */
    CHECK_OK(lp_cuda_pool_alloc(p, 900, S1, &b, &err), &err);
    CHECK(b == a && g_allocs == 1);
    lp_cuda_pool_free(p, b, S1);
    ev_a = g_last_event;
    /* another stream must not, while the free is pending */
    CHECK_OK(lp_cuda_pool_alloc(p, 1024, S2, &c, &err), &err);
    CHECK(c != a && g_allocs == 2);
    /* once it completed, it may */
    ev_a->done = true;
    void *d = NULL;
    CHECK_OK(lp_cuda_pool_alloc(p, 600, S2, &d, &err), &err);
    CHECK(d == a && g_allocs == 2);
    /* another class is never served from this one */
    void *e = NULL;
    lp_cuda_pool_free(p, d, S2);
    g_last_event->done = true;
    CHECK_OK(lp_cuda_pool_alloc(p, 3000, S2, &e, &err), &err);
    CHECK(e != a && g_allocs == 3);
    lp_cuda_pool_stats st;
    lp_cuda_pool_get_stats(p, &st);
    CHECK_MSG(st.allocs == 5 && st.frees == 3 && st.hits_same_stream == 1 && st.hits_other_stream == 1 &&
                  st.system_allocs == 3,
              "allocs %llu frees %llu same %llu other %llu system %llu", (unsigned long long)st.allocs,
              (unsigned long long)st.frees, (unsigned long long)st.hits_same_stream,
              (unsigned long long)st.hits_other_stream, (unsigned long long)st.system_allocs);
    CHECK_MSG(st.bytes_in_use == 1024 + 4096 && st.bytes_cached == 1024 && st.peak_in_use == 1024 + 4096,
              "in use %zu cached %zu peak %zu", st.bytes_in_use, st.bytes_cached, st.peak_in_use);
    /* a pointer the pool never gave out is counted, not freed */
    int local;
    lp_cuda_pool_free(p, &local, S1);
    lp_cuda_pool_free(p, NULL, S1);
    lp_cuda_pool_get_stats(p, &st);
    CHECK(st.bad_frees == 1 && st.frees == 3);
    /* trim waits for pending frees and gives cached blocks back */
    lp_cuda_pool_free(p, c, S2); /* pending */
    int waited = g_events_waited;
    CHECK(lp_cuda_pool_trim(p) == 2048);
    CHECK(g_events_waited == waited + 1); /* only the pending one */
    lp_cuda_pool_get_stats(p, &st);
    CHECK(st.bytes_cached == 0 && st.system_frees == 2 && g_live_bytes == 4096);
    lp_cuda_pool_free(p, e, S2);
    lp_cuda_pool_destroy(p);
    CHECK_MSG(g_live_bytes == 0, "%zu bytes left on the fake device", g_live_bytes);
    CHECK_MSG(g_events_created == g_events_destroyed, "events: %d created, %d destroyed", g_events_created,
              g_events_destroyed);
}

static void test_out_of_memory(void) {
    lp_error err = {0};
    lp_cuda_pool *p = NULL;
    CHECK_OK(lp_cuda_pool_create(&FAKE, &p, &err), &err);
    g_limit = 8u << 20; /* an 8 MiB device */
    void *a = NULL, *b = NULL, *c = NULL;
    CHECK_OK(lp_cuda_pool_alloc(p, 3u << 20, S1, &a, &err), &err); /* 4 MiB class */
    CHECK_OK(lp_cuda_pool_alloc(p, 2u << 20, S1, &b, &err), &err); /* 2 MiB */
    lp_cuda_pool_free(p, a, S1);
    lp_cuda_pool_free(p, b, S1);
    /* 6 MiB fits only once the cached 4 + 2 MiB go back */
    CHECK_OK(lp_cuda_pool_alloc(p, 6u << 20, S1, &c, &err), &err);
    lp_cuda_pool_stats st;
    lp_cuda_pool_get_stats(p, &st);
    CHECK(st.releases == 1 && st.bytes_cached == 0 && g_live_bytes == (6u << 20));
    /* and a request nothing can satisfy fails with the allocator's reason */
    void *d = NULL;
    CHECK_FAILS(lp_cuda_pool_alloc(p, 4u << 20, S1, &d, &err), LP_ERR_NOMEM, &err, "full");
    CHECK(d == NULL);
    CHECK_FAILS(lp_cuda_pool_alloc(p, SIZE_MAX - 5, S1, &d, &err), LP_ERR_NOMEM, &err, "more than any device");
    lp_cuda_pool_free(p, c, S1);
    lp_cuda_pool_destroy(p);
    g_limit = SIZE_MAX;
    CHECK(g_live_bytes == 0);
}

/* ---- threads on one pool (the emulated runtime's allocator) ------------ */

typedef struct worker {
    lp_cuda_pool *pool;
    int id, bad, failed;
} worker;

static void *hammer(void *arg) {
    worker *w = arg;
    lp_rng rng = lp_rng_seed(1000 + (uint64_t)w->id);
    void *stream = (void *)(uintptr_t)(w->id + 1);
    void *held[8] = {0};
    size_t sizes[8] = {0};
    for (int it = 0; it < 2000; it++) {
        int slot = (int)(lp_rng_next(&rng) % 8);
        if (held[slot]) {
            unsigned char *b = held[slot];
            for (size_t i = 0; i < sizes[slot]; i++) w->bad += b[i] != (unsigned char)(w->id * 31 + slot);
            lp_cuda_pool_free(w->pool, held[slot], stream);
            held[slot] = NULL;
        } else {
            size_t n = 1 + lp_rng_next(&rng) % 5000;
            lp_error err = {0};
            if (lp_cuda_pool_alloc(w->pool, n, stream, &held[slot], &err) != LP_OK) {
                w->failed++;
                continue;
            }
            sizes[slot] = n;
            memset(held[slot], w->id * 31 + slot, n);
        }
    }
    for (int s = 0; s < 8; s++) lp_cuda_pool_free(w->pool, held[s], stream);
    return NULL;
}

static void test_threads(void) {
    lp_error err = {0};
    lp_cuda_pool *p = NULL;
    CHECK_OK(lp_cuda_pool_create(lp_cuda_rt_device_pool_ops(), &p, &err), &err);
    pthread_t t[4];
    worker w[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (worker){p, i, 0, 0};
        pthread_create(&t[i], NULL, hammer, &w[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        CHECK_MSG(w[i].bad == 0 && w[i].failed == 0, "worker %d: %d bytes overwritten, %d failed", i, w[i].bad,
                  w[i].failed);
    }
    lp_cuda_pool_stats st;
    lp_cuda_pool_get_stats(p, &st);
    CHECK(st.bytes_in_use == 0 && st.allocs == st.frees && st.bad_frees == 0);
    CHECK_MSG(st.hits_same_stream + st.hits_other_stream > st.system_allocs,
              "the cache serves most requests: %llu hits, %llu system allocations",
              (unsigned long long)(st.hits_same_stream + st.hits_other_stream),
              (unsigned long long)st.system_allocs);
    printf("4 threads x 2000 alloc/free: %llu system allocations, %llu cache hits, peak %zu bytes\n",
           (unsigned long long)st.system_allocs, (unsigned long long)(st.hits_same_stream + st.hits_other_stream),
           st.peak_in_use);
    lp_cuda_pool_destroy(p);
}

/* ---- the backend table's device memory and the pinned pool ------------- */

static void test_backend_memory(void) {
    const lp_backend *b = lp_cuda_backend_table();
    lp_error err = {0};
    lp_cuda_pool_stats before, after;
    lp_cuda_pool_get_stats(lp_cuda_device_pool(), &before);
    void *x = NULL, *y = NULL;
    CHECK_OK(b->device_alloc(4000, &x, &err), &err);
    float host[1000], back[1000];
    for (int i = 0; i < 1000; i++) host[i] = (float)i * 0.5f;
    CHECK_OK(b->copy(x, host, sizeof host, true, &err), &err);
    CHECK_OK(b->copy(back, x, sizeof back, false, &err), &err);
    CHECK(!memcmp(host, back, sizeof host));
    b->device_free(x);
    CHECK_OK(b->device_alloc(3000, &y, &err), &err);
    CHECK(y == x); /* the same stream gets its block back */
    b->device_free(y);
    lp_cuda_pool_get_stats(lp_cuda_device_pool(), &after);
    CHECK(after.allocs == before.allocs + 2 && after.hits_same_stream == before.hits_same_stream + 1);
    CHECK(after.bytes_in_use == before.bytes_in_use);

    void *pin = NULL;
    CHECK(lp_cuda_pinned_pool() != NULL);
    CHECK_OK(lp_cuda_pool_alloc(lp_cuda_pinned_pool(), 1 << 16, lp_cuda_rt_stream(), &pin, &err), &err);
    memset(pin, 7, 1 << 16);
    lp_cuda_pool_free(lp_cuda_pinned_pool(), pin, lp_cuda_rt_stream());
}

/* ---- weights uploaded once, shared by sessions ------------------------- */

typedef struct session {
    lp_cuda_weights *w;
    const lp_tensor *host;
    lp_tensor dev[3];
    lp_status st;
} session;

static void *open_session(void *arg) {
    session *s = arg;
    lp_error err = {0};
    static const lp_dtype want[3] = {LP_F16, LP_F32, LP_BF16};
    for (int i = 0; i < 3 && s->st == LP_OK; i++) s->st = lp_cuda_weights_get(s->w, s->host, want[i], &s->dev[i], &err);
    return NULL;
}

static void test_weights(void) {
    lp_error err = {0};
    lp_rng rng = lp_rng_seed(7);
    enum { R = 37, C = 5 };
    float *x = malloc(sizeof(float) * R * C);
    lp_rng_fill_normal(&rng, x, R * C, 3.f);
    x[0] = 65519.f; /* rounds to f16 max */
    x[1] = 1e-7f;   /* an f16 subnormal */
    lp_tensor host = lp_tensor_2d(x, LP_F32, R, C);
    lp_cuda_weights *w = NULL;
    CHECK_OK(lp_cuda_weights_create(&w, &err), &err);
    pthread_t t[4];
    session s[4];
    for (int i = 0; i < 4; i++) {
        s[i] = (session){w, &host, {{0}}, LP_OK};
        pthread_create(&t[i], NULL, open_session, &s[i]);
    }
    for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
    for (int i = 0; i < 4; i++) {
        CHECK(s[i].st == LP_OK);
        for (int k = 0; k < 3; k++) CHECK(s[i].dev[k].data == s[0].dev[k].data);
    }
    CHECK_MSG(lp_cuda_weights_uploads(w) == 3, "%zu uploads for 3 (tensor, dtype) pairs", lp_cuda_weights_uploads(w));
    CHECK(lp_cuda_weights_bytes(w) == (size_t)R * C * (4 + 2 + 2));
    const lp_tensor *f16 = &s[0].dev[0], *f32 = &s[0].dev[1], *bf16 = &s[0].dev[2];
    CHECK(f16->dtype == LP_F16 && f16->device.kind == LP_DEVICE_CUDA && lp_tensor_same_shape(f16, &host));
    uint16_t h[R * C], hb[R * C];
    float back[R * C];
    CHECK_OK(lp_cuda_rt_copy(h, f16->data, sizeof h, LP_CUDA_D2H, &err), &err);
    CHECK_OK(lp_cuda_rt_copy(hb, bf16->data, sizeof hb, LP_CUDA_D2H, &err), &err);
    CHECK_OK(lp_cuda_rt_copy(back, f32->data, sizeof back, LP_CUDA_D2H, &err), &err);
    size_t bad = 0;
    for (int i = 0; i < R * C; i++)
        bad += h[i] != lp_f32_to_f16(x[i]) || hb[i] != lp_f32_to_bf16(x[i]) || back[i] != x[i];
    CHECK_MSG(bad == 0, "%zu weights differ from lp_f32_to_f16 / lp_f32_to_bf16 / the f32 original", bad);
    /* a view of other bytes is another weight */
    lp_tensor half = lp_tensor_2d(x, LP_F32, R / 2, C), dev;
    CHECK_OK(lp_cuda_weights_get(w, &half, LP_F32, &dev, &err), &err);
    CHECK(dev.data != f32->data && lp_cuda_weights_uploads(w) == 4);
    /* refused: a non-contiguous view, a device tensor, a conversion it does not do */
    lp_tensor tr = lp_tensor_transpose(&host, 0, 1);
    CHECK_FAILS(lp_cuda_weights_get(w, &tr, LP_F32, &dev, &err), LP_ERR_INVALID_ARG, &err, "contiguous");
    CHECK_FAILS(lp_cuda_weights_get(w, f32, LP_F32, &dev, &err), LP_ERR_INVALID_ARG, &err, "host tensor");
    lp_tensor ids = lp_tensor_1d(x, LP_I32, 4);
    CHECK_FAILS(lp_cuda_weights_get(w, &ids, LP_F16, &dev, &err), LP_ERR_UNSUPPORTED, &err, "f32 -> f16");
    lp_cuda_weights_destroy(w);

    /* the backend table's entry: the process-wide cache */
    const lp_backend *b = lp_cuda_backend_table();
    lp_tensor d1, d2;
    CHECK_OK(b->device_weight(&host, LP_BF16, &d1, &err), &err);
    CHECK_OK(b->device_weight(&host, LP_BF16, &d2, &err), &err);
    CHECK(d1.data == d2.data && d1.dtype == LP_BF16 && d1.device.kind == LP_DEVICE_CUDA);
    CHECK(lp_cuda_weights_uploads(lp_cuda_weight_cache()) == 1);
    free(x);
}

int main(void) {
    test_classes();
    test_stream_order();
    test_out_of_memory();
    test_threads();
    test_backend_memory();
    test_weights();
    return lp_test_finish();
}
