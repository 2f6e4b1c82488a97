/* Model memory on a backend's device (kernels/backend_memory.h) and arenas
 * over another allocator (lp_arena_create_in): an allocator that hands out
 * misaligned blocks still gives 64-byte aligned, device-tagged tensors,
 * every block goes back to it, a reset coalesces as a host arena does; on a
 * host backend weights, uploads and downloads are views and memcpys. (The
 * device side, against the CUDA table, is cuda.models.) */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/backend_memory.h"
#include "tests/test_util.h"

static int g_live, g_allocs;

/* malloc shifted by 16 bytes: less aligned than the arena promises */
static lp_status odd_alloc(size_t bytes, void **out, lp_error *err) {
    unsigned char *p = malloc(bytes + 16);
    if (!p) return lp_fail(err, LP_ERR_NOMEM, "test allocator: out of memory");
    *out = p + 16;
    g_live++;
    g_allocs++;
    return LP_OK;
}

static void odd_free(void *p) {
    if (!p) return;
    free((unsigned char *)p - 16);
    g_live--;
}

static void test_arena_in_other_memory(void) {
    lp_arena_memory mem = {odd_alloc, odd_free, {LP_DEVICE_CUDA, 0}};
    lp_arena *a = lp_arena_create_in(256, &mem);
    CHECK(a != NULL);
    if (!a) return;
    CHECK(lp_arena_device(a).kind == LP_DEVICE_CUDA);
    lp_error err = {0};
    for (int pass = 0; pass < 3; pass++) {
        for (int i = 0; i < 6; i++) {
            int64_t shape[2] = {3, 100 + 50 * i};
            lp_tensor t;
            CHECK_OK(lp_arena_tensor(a, LP_F32, 2, shape, &t, &err), &err);
            CHECK(t.device.kind == LP_DEVICE_CUDA && (uintptr_t)t.data % LP_ARENA_ALIGN == 0);
            memset(t.data, 0x5a, lp_tensor_nbytes(&t)); /* inside its block (ASan) */
        }
        lp_arena_reset(a);
        if (pass == 0) CHECK_MSG(g_live == 1, "after a reset: %d blocks (one coalesced)", g_live);
    }
    int allocs = g_allocs;
    for (int i = 0; i < 6; i++) CHECK(lp_arena_alloc(a, (size_t)(300 + 150 * i) * 4) != NULL);
    lp_arena_reset(a);
    CHECK_MSG(g_allocs == allocs, "a steady-state pass allocated %d blocks", g_allocs - allocs);
    lp_arena_destroy(a);
    CHECK_MSG(g_live == 0, "%d blocks not given back", g_live);
    CHECK(lp_arena_create_in(64, NULL) == NULL);
}

static void test_host_backend_is_views(void) {
    const lp_backend *b = lp_backend_cpu();
    CHECK(lp_backend_on_host(b));
    lp_error err = {0};
    float w[6] = {1, 2, 3, 4, 5, 6}, back[6] = {0};
    lp_tensor host = lp_tensor_2d(w, LP_F32, 2, 3), t;
    CHECK_OK(lp_backend_weight(b, &host, &t, &err), &err);
    CHECK(t.data == w && t.device.kind == LP_DEVICE_CPU);
    lp_arena *a = lp_backend_arena_create(b, 1024);
    CHECK(a && lp_arena_device(a).kind == LP_DEVICE_CPU);
    CHECK_OK(lp_backend_upload(b, a, &host, &t, &err), &err);
    CHECK(t.data == w); /* no copy on the host */
    CHECK_OK(lp_backend_download(b, &t, back, &err), &err);
    CHECK(!memcmp(back, w, sizeof w));
    lp_tensor strided = lp_tensor_transpose(&host, 0, 1);
    CHECK(lp_backend_upload(b, a, &strided, &t, &err) == LP_ERR_INVALID_ARG);
    lp_error_clear(&err);
    lp_arena_destroy(a);
    lp_backend_forget_weights(w, sizeof w); /* no device backend holds any: nothing to do */
}

/* A backend that says its tensors are device memory but has no weight cache
 * cannot run models: lp_backend_weight says so rather than handing out host
 * memory. */
static void test_device_backend_without_cache(void) {
    lp_backend fake = *lp_backend_cpu();
    fake.name = "fake-device";
    fake.device = LP_DEVICE_CUDA;
    float w[2] = {1, 2};
    lp_tensor host = lp_tensor_1d(w, LP_F32, 2), t;
    lp_error err = {0};
    CHECK(!lp_backend_on_host(&fake));
    CHECK(lp_backend_weight(&fake, &host, &t, &err) == LP_ERR_UNSUPPORTED && strstr(err.msg, "fake-device"));
    lp_error_clear(&err);
    CHECK(lp_backend_arena_create(&fake, 64) == NULL);
}

int main(void) {
    test_arena_in_other_memory();
    test_host_backend_is_views();
    test_device_backend_without_cache();
    return lp_test_finish();
}
