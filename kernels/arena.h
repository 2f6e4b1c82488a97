/* An arena for activations: a forward pass allocates its intermediate tensors
 * here and the caller resets the arena when the pass is done.
 *
 * The first passes may grow the arena by adding chunks; lp_arena_reset then
 * replaces the chunks with one block the size of the high-water mark, so every
 * later pass of the same or smaller size allocates nothing from the system
 * (lp_arena_system_allocs counts the calls to malloc, so tests can prove it).
 * An arena is used by one thread at a time. */
#ifndef LP_ARENA_H
#define LP_ARENA_H

#include <stddef.h>

#include "kernels/status.h"
#include "kernels/tensor.h"

#define LP_ARENA_ALIGN 64

typedef struct lp_arena lp_arena;

lp_arena *lp_arena_create(size_t initial_bytes);

/* Where an arena's blocks come from: host memory (lp_arena_create), or a
 * backend's device memory (a CUDA session's activations), whose pointers the
 * host must not dereference. alloc fails with a status; tensors made by
 * lp_arena_tensor are tagged with `device`. */
typedef struct lp_arena_memory {
    lp_status (*alloc)(size_t bytes, void **out, lp_error *err);
    void (*free)(void *p);
    lp_device device;
} lp_arena_memory;

/* An arena whose blocks come from mem (copied); NULL when the first block
 * cannot be had. */
lp_arena *lp_arena_create_in(size_t initial_bytes, const lp_arena_memory *mem);

/* The device the arena's memory lives on (the CPU for lp_arena_create). */
lp_device lp_arena_device(const lp_arena *arena);
void lp_arena_destroy(lp_arena *arena);

/* 64-byte aligned, uninitialised; NULL only when the system (or the device)
 * is out of memory. A device arena's pointers are device addresses. */
void *lp_arena_alloc(lp_arena *arena, size_t bytes);

/* A contiguous tensor in the arena, on the arena's device. */
lp_status lp_arena_tensor(lp_arena *arena, lp_dtype dtype, int ndim, const int64_t *shape,
                          lp_tensor *out, lp_error *err);

/* Scoped temporaries: everything allocated after a mark is released by rewind. */
typedef struct lp_arena_mark {
    void *chunk;
    size_t used;
} lp_arena_mark;
lp_arena_mark lp_arena_get_mark(const lp_arena *arena);
void lp_arena_rewind(lp_arena *arena, lp_arena_mark mark);

/* Releases everything; coalesces the chunks into one of the high-water size. */
void lp_arena_reset(lp_arena *arena);

size_t lp_arena_used(const lp_arena *arena);
size_t lp_arena_high_water(const lp_arena *arena);
size_t lp_arena_capacity(const lp_arena *arena);
size_t lp_arena_system_allocs(const lp_arena *arena);

#endif
