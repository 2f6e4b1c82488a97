/* A caching allocator for device memory (and, with other ops, pinned host
 * staging memory): cudaMalloc and cudaFree synchronize the whole device and
 * cost tens of microseconds, so a serving process keeps freed blocks and
 * hands them out again.
 *
 * Size classes: 512 bytes, then powers of two up to 1 MiB, then multiples of
 * 2 MiB; a request takes a cached block of exactly its class.
 *
 * Stream-ordered reuse: a block is freed "on" the stream whose queued work
 * last uses it. The same stream may take it back at once (its later work runs
 * after that use); another stream only once an event recorded at the free has
 * completed. When the system allocator fails, the pool waits for and releases
 * every cached block and tries once more.
 *
 * Thread-safe: one pool serves every worker (each on its own stream). */
#ifndef LP_CUDA_MEM_POOL_H
#define LP_CUDA_MEM_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels/status.h"

/* What the pool allocates with. Event functions may be NULL: then every
 * free is complete at once (a single stream, or the emulator). */
typedef struct lp_cuda_pool_ops {
    lp_status (*alloc)(size_t bytes, void **out, lp_error *err);
    void (*free)(void *p);
    void *(*event_record)(void *stream); /* NULL when it cannot: treated as complete */
    bool (*event_done)(void *event);
    void (*event_wait)(void *event);
    void (*event_destroy)(void *event);
} lp_cuda_pool_ops;

typedef struct lp_cuda_pool_stats {
    size_t bytes_in_use;   /* handed out, by class size */
    size_t bytes_cached;   /* freed, kept for reuse */
    size_t peak_in_use;
    uint64_t allocs, frees;
    uint64_t hits_same_stream, hits_other_stream; /* served from the cache */
    uint64_t system_allocs, system_frees;
    uint64_t releases;  /* times the cache was emptied to satisfy a request or by trim */
    uint64_t bad_frees; /* pointers the pool never handed out */
} lp_cuda_pool_stats;

typedef struct lp_cuda_pool lp_cuda_pool;

lp_status lp_cuda_pool_create(const lp_cuda_pool_ops *ops, lp_cuda_pool **out, lp_error *err);
/* Gives every block back to the system, cached or not (waiting for events). */
void lp_cuda_pool_destroy(lp_cuda_pool *pool);

/* The class a request of `bytes` is served from. */
size_t lp_cuda_pool_class_size(size_t bytes);

lp_status lp_cuda_pool_alloc(lp_cuda_pool *pool, size_t bytes, void *stream, void **out,
                             lp_error *err);
/* stream: the stream whose queued work is the last to use p. NULL p is a no-op. */
void lp_cuda_pool_free(lp_cuda_pool *pool, void *p, void *stream);
/* Waits for and gives back every cached block; returns the bytes released. */
size_t lp_cuda_pool_trim(lp_cuda_pool *pool);
void lp_cuda_pool_get_stats(lp_cuda_pool *pool, lp_cuda_pool_stats *out);

#endif
