/* Two implementations behind one interface:
 *
 * - OpenMP (GCC builds with oneDNN, LP_POOL_OPENMP): a loop is a parallel
 *   region of the calling thread's OpenMP team, the same team oneDNN's GEMMs
 *   run on. With a pool of its own, each of the two teams' threads spins for a
 *   while after its work and holds a core the other team needs next: on the
 *   2-core machine BERT-base's attention ran at 66 GFLOP/s between GEMMs with
 *   libgomp's default spin, 111 with a short one, and the layers' small ops
 *   paid a condition-variable wake each. One team hands work from GEMM to
 *   loop without a wake.
 * - pthreads (OpenBLAS builds, clang, ThreadSanitizer builds: libgomp is not
 *   instrumented): workers woken through a condition variable. */
#include "kernels/threadpool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#if defined(LP_POOL_OPENMP) && defined(__SANITIZE_THREAD__)
#undef LP_POOL_OPENMP
#endif

struct lp_threadpool {
    int nthreads; /* including the caller */
    pthread_t *workers;
    pthread_mutex_t mutex;
    pthread_cond_t work_ready;
    pthread_cond_t work_done;
    atomic_flag busy; /* set while a loop runs; a second caller goes serial */

    /* the loop in flight, written under mutex */
    lp_range_fn fn;
    void *ctx;
    int64_t n;
    int64_t chunk;
    int64_t nchunks;
    atomic_llong next_chunk;
    int pending; /* workers that have not finished this generation */
    unsigned long generation;
    int stopping;
};

int lp_default_num_threads(void) {
    const char *env = getenv("LEPTON_NUM_THREADS");
    if (env && *env) {
        long v = strtol(env, NULL, 10);
        if (v > 0 && v <= 1024) return (int)v;
    }
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    return cores > 0 ? (int)cores : 1;
}

/* Pulls chunks until none are left; every participant runs this. */
static void run_chunks(lp_threadpool *pool) {
    for (;;) {
        int64_t c = atomic_fetch_add(&pool->next_chunk, 1);
        if (c >= pool->nchunks) return;
        int64_t begin = c * pool->chunk;
        int64_t end = begin + pool->chunk < pool->n ? begin + pool->chunk : pool->n;
        pool->fn(pool->ctx, begin, end);
    }
}

static void *worker_main(void *arg) {
    lp_threadpool *pool = arg;
    unsigned long seen = 0;
    pthread_mutex_lock(&pool->mutex);
    for (;;) {
        while (!pool->stopping && pool->generation == seen)
            pthread_cond_wait(&pool->work_ready, &pool->mutex);
        if (pool->stopping) break;
        seen = pool->generation;
        pthread_mutex_unlock(&pool->mutex);
        run_chunks(pool);
        pthread_mutex_lock(&pool->mutex);
        if (--pool->pending == 0) pthread_cond_signal(&pool->work_done);
    }
    pthread_mutex_unlock(&pool->mutex);
    return NULL;
}

lp_threadpool *lp_threadpool_create(int nthreads) {
    if (nthreads <= 0) nthreads = lp_default_num_threads();
    lp_threadpool *pool = calloc(1, sizeof *pool);
    if (!pool) return NULL;
    pool->nthreads = nthreads;
    atomic_flag_clear(&pool->busy);
    pthread_mutex_init(&pool->mutex, NULL);
    pthread_cond_init(&pool->work_ready, NULL);
    pthread_cond_init(&pool->work_done, NULL);
#if defined(LP_POOL_OPENMP)
    return pool; /* the threads are the calling thread's OpenMP team */
#endif
    if (nthreads > 1) {
        pool->workers = calloc((size_t)nthreads - 1, sizeof *pool->workers);
        if (!pool->workers) {
            lp_threadpool_destroy(pool);
            return NULL;
        }
        for (int i = 0; i < nthreads - 1; i++) {
            if (pthread_create(&pool->workers[i], NULL, worker_main, pool) != 0) {
                pool->nthreads = i + 1; /* destroy joins only the ones started */
                lp_threadpool_destroy(pool);
                return NULL;
            }
        }
    }
    return pool;
}

void lp_threadpool_destroy(lp_threadpool *pool) {
    if (!pool) return;
    pthread_mutex_lock(&pool->mutex);
    pool->stopping = 1;
    pthread_cond_broadcast(&pool->work_ready);
    pthread_mutex_unlock(&pool->mutex);
    if (pool->workers)
        for (int i = 0; i < pool->nthreads - 1; i++) pthread_join(pool->workers[i], NULL);
    free(pool->workers);
    pthread_cond_destroy(&pool->work_ready);
    pthread_cond_destroy(&pool->work_done);
    pthread_mutex_destroy(&pool->mutex);
    free(pool);
}

int lp_threadpool_size(const lp_threadpool *pool) { return pool ? pool->nthreads : 1; }

void lp_parallel_for(lp_threadpool *pool, int64_t n, int64_t grain, lp_range_fn fn, void *ctx) {
    if (n <= 0) return;
    if (grain <= 0) grain = 1;
    int64_t max_parts = (n + grain - 1) / grain;
    int threads = lp_threadpool_size(pool);
    if (!pool || threads == 1 || max_parts == 1 || atomic_flag_test_and_set(&pool->busy)) {
        fn(ctx, 0, n);
        return;
    }
    /* A few chunks per thread balances uneven work without much overhead.
     * The busy flag keeps the loop's fields to this caller; workers read
     * them after taking the mutex (or entering the parallel region). */
    int64_t parts = threads * 4 < max_parts ? threads * 4 : max_parts;
    pool->fn = fn;
    pool->ctx = ctx;
    pool->n = n;
    pool->chunk = (n + parts - 1) / parts;
    pool->nchunks = (n + pool->chunk - 1) / pool->chunk;
    atomic_store(&pool->next_chunk, 0);
#if defined(LP_POOL_OPENMP)
#pragma omp parallel num_threads(threads)
    run_chunks(pool);
    atomic_flag_clear(&pool->busy);
    return;
#endif
    pthread_mutex_lock(&pool->mutex);
    pool->pending = threads - 1;
    pool->generation++;
    pthread_cond_broadcast(&pool->work_ready);
    pthread_mutex_unlock(&pool->mutex);

    run_chunks(pool);

    pthread_mutex_lock(&pool->mutex);
    while (pool->pending > 0) pthread_cond_wait(&pool->work_done, &pool->mutex);
    pthread_mutex_unlock(&pool->mutex);
    atomic_flag_clear(&pool->busy);
}
