/* The caching allocator (mem_pool.h). Blocks are tracked in two places: the
 * cached ones in one free list per class, the handed-out ones in a chained
 * hash table keyed by address (free must find its block). One mutex guards
 * both; the system allocator is called under it too (a miss is the slow
 * path anyway, and it keeps the accounting simple). */
#include "kernels/cuda/mem_pool.h"

#include <pthread.h>
#include <stdlib.h>

#define SMALL_MIN_LOG2 9 /* 512 bytes */
#define SMALL_MAX_LOG2 20 /* 1 MiB */
#define LARGE_STEP ((size_t)2 << 20)
#define NLISTS (SMALL_MAX_LOG2 - SMALL_MIN_LOG2 + 2) /* the small classes, then one for large */

typedef struct block {
    void *ptr;
    size_t size; /* class size */
    void *stream; /* where it was last freed */
    void *event;  /* recorded at that free; NULL = complete */
    struct block *next;
} block;

struct lp_cuda_pool {
    lp_cuda_pool_ops ops;
    pthread_mutex_t mu;
    block *cached[NLISTS];
    block **used; /* hash buckets */
    size_t nbuckets, nused;
    lp_cuda_pool_stats stats;
};

size_t lp_cuda_pool_class_size(size_t bytes) {
    if (bytes <= ((size_t)1 << SMALL_MIN_LOG2)) return (size_t)1 << SMALL_MIN_LOG2;
    if (bytes <= ((size_t)1 << SMALL_MAX_LOG2)) {
        size_t c = (size_t)1 << SMALL_MIN_LOG2;
        while (c < bytes) c <<= 1;
        return c;
    }
    if (bytes > SIZE_MAX - LARGE_STEP) return 0; /* no class: refused */
    return (bytes + LARGE_STEP - 1) / LARGE_STEP * LARGE_STEP;
}

static int list_of(size_t class_size) {
    if (class_size > ((size_t)1 << SMALL_MAX_LOG2)) return NLISTS - 1;
    int l = 0;
    while (((size_t)1 << (SMALL_MIN_LOG2 + l)) < class_size) l++;
    return l;
}

static size_t bucket_of(const lp_cuda_pool *p, const void *ptr) {
    uintptr_t h = (uintptr_t)ptr >> 6;
    h ^= h >> 17;
    h *= (uintptr_t)0x9e3779b97f4a7c15ull;
    return (size_t)(h >> 7) & (p->nbuckets - 1);
}

static bool used_insert(lp_cuda_pool *p, block *b) {
    if (p->nused + 1 > p->nbuckets * 2) {
        size_t n = p->nbuckets * 2;
        block **t = calloc(n, sizeof *t);
        if (!t) return false;
        block **old = p->used;
        size_t oldn = p->nbuckets;
        p->used = t;
        p->nbuckets = n;
        for (size_t i = 0; i < oldn; i++)
            for (block *c = old[i], *next; c; c = next) {
                next = c->next;
                size_t k = bucket_of(p, c->ptr);
                c->next = p->used[k];
                p->used[k] = c;
            }
        free(old);
    }
    size_t k = bucket_of(p, b->ptr);
    b->next = p->used[k];
    p->used[k] = b;
    p->nused++;
    return true;
}

static block *used_remove(lp_cuda_pool *p, const void *ptr) {
    for (block **c = &p->used[bucket_of(p, ptr)]; *c; c = &(*c)->next)
        if ((*c)->ptr == ptr) {
            block *b = *c;
            *c = b->next;
            p->nused--;
            return b;
        }
    return NULL;
}

static bool event_complete(const lp_cuda_pool *p, void *event) {
    return !event || !p->ops.event_done || p->ops.event_done(event);
}

static void event_drop(const lp_cuda_pool *p, block *b) {
    if (b->event && p->ops.event_destroy) p->ops.event_destroy(b->event);
    b->event = NULL;
}

/* A cached block of this class: first one freed on this very stream, else
 * one whose free has completed. Unlinked from its list. */
static block *take_cached(lp_cuda_pool *p, size_t size, void *stream) {
    block **list = &p->cached[list_of(size)];
    for (int pass = 0; pass < 2; pass++)
        for (block **c = list; *c; c = &(*c)->next) {
            block *b = *c;
            if (b->size != size) continue;
            if (pass == 0 ? b->stream != stream : !event_complete(p, b->event)) continue;
            *c = b->next;
            if (pass == 0) p->stats.hits_same_stream++;
            else p->stats.hits_other_stream++;
            event_drop(p, b);
            return b;
        }
    return NULL;
}

/* Waits for every cached block's last use and gives it to the system. */
static size_t release_cached(lp_cuda_pool *p) {
    size_t bytes = 0;
    for (int l = 0; l < NLISTS; l++) {
        for (block *b = p->cached[l], *next; b; b = next) {
            next = b->next;
            if (!event_complete(p, b->event) && p->ops.event_wait) p->ops.event_wait(b->event);
            event_drop(p, b);
            p->ops.free(b->ptr);
            p->stats.system_frees++;
            bytes += b->size;
            free(b);
        }
        p->cached[l] = NULL;
    }
    p->stats.bytes_cached -= bytes;
    p->stats.releases++;
    return bytes;
}

lp_status lp_cuda_pool_create(const lp_cuda_pool_ops *ops, lp_cuda_pool **out, lp_error *err) {
    *out = NULL;
    if (!ops || !ops->alloc || !ops->free)
        return lp_fail(err, LP_ERR_INVALID_ARG, "memory pool: no allocator given");
    lp_cuda_pool *p = calloc(1, sizeof *p);
    if (p) p->used = calloc(64, sizeof *p->used);
    if (!p || !p->used) {
        free(p);
        return lp_fail(err, LP_ERR_NOMEM, "memory pool: out of host memory");
    }
    p->nbuckets = 64;
    p->ops = *ops;
    pthread_mutex_init(&p->mu, NULL);
    *out = p;
    return LP_OK;
}

void lp_cuda_pool_destroy(lp_cuda_pool *p) {
    if (!p) return;
    release_cached(p);
    for (size_t i = 0; i < p->nbuckets; i++)
        for (block *b = p->used[i], *next; b; b = next) {
            next = b->next;
            p->ops.free(b->ptr);
            free(b);
        }
    free(p->used);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

static lp_status alloc_locked(lp_cuda_pool *p, size_t bytes, void *stream, void **out,
                              lp_error *err) {
    size_t size = lp_cuda_pool_class_size(bytes);
    if (!size) return lp_fail(err, LP_ERR_NOMEM, "memory pool: %zu bytes is more than any device has", bytes);
    block *b = take_cached(p, size, stream);
    if (b) {
        p->stats.bytes_cached -= size;
    } else {
        b = calloc(1, sizeof *b);
        if (!b) return lp_fail(err, LP_ERR_NOMEM, "memory pool: out of host memory");
        b->size = size;
        lp_status st = p->ops.alloc(size, &b->ptr, err);
        if (st == LP_ERR_NOMEM && p->stats.bytes_cached > 0) {
            /* cached blocks of other classes may be what the device lacks */
            lp_error_clear(err);
            release_cached(p);
            st = p->ops.alloc(size, &b->ptr, err);
        }
        if (st != LP_OK) {
            free(b);
            return st;
        }
        p->stats.system_allocs++;
    }
    if (!used_insert(p, b)) {
        /* keep the block cached rather than lose it */
        b->next = p->cached[list_of(size)];
        p->cached[list_of(size)] = b;
        p->stats.bytes_cached += size;
        return lp_fail(err, LP_ERR_NOMEM, "memory pool: out of host memory");
    }
    b->stream = stream;
    p->stats.allocs++;
    p->stats.bytes_in_use += size;
    if (p->stats.bytes_in_use > p->stats.peak_in_use) p->stats.peak_in_use = p->stats.bytes_in_use;
    *out = b->ptr;
    return LP_OK;
}

lp_status lp_cuda_pool_alloc(lp_cuda_pool *p, size_t bytes, void *stream, void **out,
                             lp_error *err) {
    *out = NULL;
    pthread_mutex_lock(&p->mu);
    lp_status st = alloc_locked(p, bytes, stream, out, err);
    pthread_mutex_unlock(&p->mu);
    return st;
}

void lp_cuda_pool_free(lp_cuda_pool *p, void *ptr, void *stream) {
    if (!ptr) return;
    pthread_mutex_lock(&p->mu);
    block *b = used_remove(p, ptr);
    if (!b) {
        p->stats.bad_frees++;
    } else {
        b->stream = stream;
        b->event = p->ops.event_record ? p->ops.event_record(stream) : NULL;
        int l = list_of(b->size);
        b->next = p->cached[l];
        p->cached[l] = b;
        p->stats.frees++;
        p->stats.bytes_in_use -= b->size;
        p->stats.bytes_cached += b->size;
    }
    pthread_mutex_unlock(&p->mu);
}

size_t lp_cuda_pool_trim(lp_cuda_pool *p) {
    pthread_mutex_lock(&p->mu);
    size_t n = release_cached(p);
    pthread_mutex_unlock(&p->mu);
    return n;
}

void lp_cuda_pool_get_stats(lp_cuda_pool *p, lp_cuda_pool_stats *out) {
    pthread_mutex_lock(&p->mu);
    *out = p->stats;
    pthread_mutex_unlock(&p->mu);
}
