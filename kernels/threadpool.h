/* A fixed pool of worker threads for data-parallel loops.
 *
 * The size defaults to LEPTON_NUM_THREADS when set, else the number of online
 * cores. lp_parallel_for splits [0, n) into contiguous ranges, runs them on the
 * workers and the calling thread, and returns when all are done. One loop runs
 * at a time: a call made while the pool is busy (from another thread, or from
 * inside a loop body) runs serially on its caller instead of waiting, so nesting
 * and concurrent callers never deadlock. */
#ifndef LP_THREADPOOL_H
#define LP_THREADPOOL_H

#include <stdint.h>

typedef struct lp_threadpool lp_threadpool;

/* Runs iterations [begin, end) of a loop. */
typedef void (*lp_range_fn)(void *ctx, int64_t begin, int64_t end);

/* nthreads <= 0 picks the default described above. Returns NULL on failure. */
lp_threadpool *lp_threadpool_create(int nthreads);
void lp_threadpool_destroy(lp_threadpool *pool);
int lp_threadpool_size(const lp_threadpool *pool);

/* The default thread count: LEPTON_NUM_THREADS, else online cores. */
int lp_default_num_threads(void);

/* Ranges hold at least `grain` iterations (grain <= 0 means 1), so small loops
 * stay on one thread. A NULL pool runs fn(ctx, 0, n) on the caller. */
void lp_parallel_for(lp_threadpool *pool, int64_t n, int64_t grain, lp_range_fn fn, void *ctx);

#endif
