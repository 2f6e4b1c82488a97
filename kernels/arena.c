#include "kernels/arena.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

typedef struct chunk {
    struct chunk *prev; /* chunks form a stack; the newest is current */
    size_t size;
    size_t used;
    size_t before; /* bytes used in all older chunks, for high-water accounting */
    unsigned char *base;
    void *raw; /* what the allocator returned (base rounded up from it for a device arena) */
} chunk;

struct lp_arena {
    chunk *current;
    size_t high_water;
    size_t system_allocs;
    bool custom; /* blocks from mem, not aligned_alloc */
    lp_arena_memory mem;
};

static size_t align_up(size_t n) { return (n + LP_ARENA_ALIGN - 1) & ~(size_t)(LP_ARENA_ALIGN - 1); }

/* A block of `size` bytes (a multiple of the alignment) at c->base. Device
 * allocators promise less alignment than LP_ARENA_ALIGN (the emulated one is
 * malloc), so a custom block is over-allocated and its base rounded up. */
static bool block_new(lp_arena *arena, chunk *c, size_t size) {
    if (!arena->custom) {
        c->raw = c->base = aligned_alloc(LP_ARENA_ALIGN, size);
        return c->base != NULL;
    }
    lp_error err;
    lp_error_clear(&err);
    void *p = NULL;
    if (arena->mem.alloc(size + LP_ARENA_ALIGN, &p, &err) != LP_OK || !p) return false;
    c->raw = p;
    c->base = (unsigned char *)align_up((uintptr_t)p);
    return true;
}

static void block_free(const lp_arena *arena, chunk *c) {
    if (arena->custom)
        arena->mem.free(c->raw);
    else
        free(c->raw);
}

static chunk *chunk_new(lp_arena *arena, size_t size, chunk *prev) {
    chunk *c = malloc(sizeof *c);
    if (!c) return NULL;
    if (!block_new(arena, c, align_up(size ? size : LP_ARENA_ALIGN))) {
        free(c);
        return NULL;
    }
    c->prev = prev;
    c->size = align_up(size ? size : LP_ARENA_ALIGN);
    c->used = 0;
    c->before = prev ? prev->before + prev->used : 0;
    arena->system_allocs++;
    return c;
}

static void chunks_free(const lp_arena *arena, chunk *c) {
    while (c) {
        chunk *prev = c->prev;
        block_free(arena, c);
        free(c);
        c = prev;
    }
}

static lp_arena *create(size_t initial_bytes, const lp_arena_memory *mem) {
    lp_arena *arena = calloc(1, sizeof *arena);
    if (!arena) return NULL;
    arena->custom = mem != NULL;
    if (mem) arena->mem = *mem;
    arena->current = chunk_new(arena, initial_bytes ? initial_bytes : (size_t)1 << 20, NULL);
    if (!arena->current) {
        free(arena);
        return NULL;
    }
    return arena;
}

lp_arena *lp_arena_create(size_t initial_bytes) { return create(initial_bytes, NULL); }

lp_arena *lp_arena_create_in(size_t initial_bytes, const lp_arena_memory *mem) {
    if (!mem || !mem->alloc || !mem->free) return NULL;
    return create(initial_bytes, mem);
}

lp_device lp_arena_device(const lp_arena *arena) {
    lp_device cpu = {LP_DEVICE_CPU, 0};
    return arena->custom ? arena->mem.device : cpu;
}

void lp_arena_destroy(lp_arena *arena) {
    if (!arena) return;
    chunks_free(arena, arena->current);
    free(arena);
}

void *lp_arena_alloc(lp_arena *arena, size_t bytes) {
    size_t need = align_up(bytes ? bytes : 1);
    chunk *c = arena->current;
    if (c->size - c->used < need) {
        size_t grow = c->size * 2 > need ? c->size * 2 : need;
        chunk *next = chunk_new(arena, grow, c);
        if (!next) return NULL;
        arena->current = c = next;
    }
    void *p = c->base + c->used;
    c->used += need;
    size_t total = c->before + c->used;
    if (total > arena->high_water) arena->high_water = total;
    return p;
}

lp_status lp_arena_tensor(lp_arena *arena, lp_dtype dtype, int ndim, const int64_t *shape,
                          lp_tensor *out, lp_error *err) {
    if (ndim < 0 || ndim > LP_MAX_DIMS)
        return lp_fail(err, LP_ERR_SHAPE, "arena tensor: %d dimensions (at most %d)", ndim,
                       LP_MAX_DIMS);
    size_t bytes = lp_dtype_size(dtype);
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0)
            return lp_fail(err, LP_ERR_SHAPE, "arena tensor: negative dimension %lld",
                           (long long)shape[i]);
        if (shape[i] && bytes > SIZE_MAX / (size_t)shape[i])
            return lp_fail(err, LP_ERR_NOMEM, "arena tensor: size overflows");
        bytes *= (size_t)shape[i];
    }
    void *data = lp_arena_alloc(arena, bytes);
    if (!data) return lp_fail(err, LP_ERR_NOMEM, "arena tensor: cannot allocate %zu bytes", bytes);
    *out = lp_tensor_make(data, dtype, ndim, shape);
    out->device = lp_arena_device(arena);
    return LP_OK;
}

lp_arena_mark lp_arena_get_mark(const lp_arena *arena) {
    lp_arena_mark m = {arena->current, arena->current->used};
    return m;
}

void lp_arena_rewind(lp_arena *arena, lp_arena_mark mark) {
    /* Chunks newer than the mark exist only while the arena is still growing
     * (before a reset has coalesced it); freeing them costs nothing in steady
     * state, and the high-water mark still remembers their size. */
    while (arena->current != (chunk *)mark.chunk && arena->current->prev) {
        chunk *c = arena->current;
        arena->current = c->prev;
        block_free(arena, c);
        free(c);
    }
    if (arena->current == (chunk *)mark.chunk) arena->current->used = mark.used;
}

void lp_arena_reset(lp_arena *arena) {
    chunk *c = arena->current;
    if (c->prev) {
        size_t want = align_up(arena->high_water);
        chunk *single = chunk_new(arena, want, NULL);
        if (single) {
            chunks_free(arena, c);
            arena->current = single;
            return;
        }
        /* Out of memory for the coalesced block: keep the chunks, just empty them. */
    }
    for (; c; c = c->prev) c->used = 0;
}

size_t lp_arena_used(const lp_arena *arena) { return arena->current->before + arena->current->used; }
size_t lp_arena_high_water(const lp_arena *arena) { return arena->high_water; }
size_t lp_arena_capacity(const lp_arena *arena) {
    size_t n = 0;
    for (const chunk *c = arena->current; c; c = c->prev) n += c->size;
    return n;
}
size_t lp_arena_system_allocs(const lp_arena *arena) { return arena->system_allocs; }
