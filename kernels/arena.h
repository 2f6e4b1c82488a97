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
void lp_arena_destroy(lp_arena *arena);

/* 64-byte aligned, uninitialised; NULL only when the system is out of memory. */
void *lp_arena_alloc(lp_arena *arena, size_t bytes);

/* A contiguous CPU tensor in the arena. */
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
