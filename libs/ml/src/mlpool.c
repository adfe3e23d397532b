/* mlpool: fixed pool of worker threads for parallel-for jobs (tree learners). */
#include "mlpool.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

struct mlpool_worker {
    struct mlpool *pool;
    size_t index;
    pthread_t thread;
};

/* Iterations a thread spins (a few microseconds) before it sleeps on a condition variable:
 * boosting hands out thousands of short jobs, and a wake-up through the kernel costs more. */
#define MLPOOL_SPIN 500

struct mlpool {
    pthread_mutex_t lock;
    pthread_cond_t work;
    pthread_cond_t done;
    atomic_ulong generation;
    atomic_int stop;
    atomic_size_t busy; /* workers still inside the current job */
    mlpool_fn fn;
    void *ctx;
    size_t ntasks;
    atomic_size_t next;
    size_t nthreads;
    size_t nstarted;
    struct mlpool_worker *workers; /* nthreads - 1 */
};

size_t mlpool_resolve(int threads)
{
    if (threads > 0)
        return (size_t)threads;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (size_t)n : 1;
}

static void mlpool_drain(struct mlpool *pool, size_t worker)
{
    for (;;) {
        size_t t = atomic_fetch_add(&pool->next, 1);
        if (t >= pool->ntasks)
            return;
        pool->fn(pool->ctx, t, worker);
    }
}

static void mlpool_pause(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* Wait for a job newer than seen (or stop): spin briefly, then sleep. */
static unsigned long mlpool_wait_job(struct mlpool *pool, unsigned long seen)
{
    for (int i = 0; i < MLPOOL_SPIN; i++) {
        unsigned long g = atomic_load(&pool->generation);
        if (g != seen || atomic_load(&pool->stop))
            return g;
        mlpool_pause();
    }
    pthread_mutex_lock(&pool->lock);
    while (!atomic_load(&pool->stop) && atomic_load(&pool->generation) == seen)
        pthread_cond_wait(&pool->work, &pool->lock);
    pthread_mutex_unlock(&pool->lock);
    return atomic_load(&pool->generation);
}

static void *mlpool_main(void *arg)
{
    struct mlpool_worker *w = arg;
    struct mlpool *pool = w->pool;
    unsigned long seen = 0;
    for (;;) {
        seen = mlpool_wait_job(pool, seen);
        if (atomic_load(&pool->stop))
            break;
        mlpool_drain(pool, w->index);
        if (atomic_fetch_sub(&pool->busy, 1) == 1) {
            pthread_mutex_lock(&pool->lock);
            pthread_cond_signal(&pool->done);
            pthread_mutex_unlock(&pool->lock);
        }
    }
    return NULL;
}

int mlpool_new(int threads, struct mlpool **out)
{
    struct mlpool *pool = calloc(1, sizeof *pool);
    if (!pool)
        return -ENOMEM;
    pool->nthreads = mlpool_resolve(threads);
    pthread_mutex_init(&pool->lock, NULL);
    pthread_cond_init(&pool->work, NULL);
    pthread_cond_init(&pool->done, NULL);
    atomic_init(&pool->next, 0);
    atomic_init(&pool->generation, 0);
    atomic_init(&pool->stop, 0);
    atomic_init(&pool->busy, 0);
    if (pool->nthreads > 1) {
        pool->workers = calloc(pool->nthreads - 1, sizeof *pool->workers);
        if (!pool->workers) {
            mlpool_free(pool);
            return -ENOMEM;
        }
    }
    for (size_t i = 0; i + 1 < pool->nthreads; i++) {
        struct mlpool_worker *w = &pool->workers[i];
        w->pool = pool;
        w->index = i + 1;
        if (pthread_create(&w->thread, NULL, mlpool_main, w) != 0) {
            mlpool_free(pool);
            return -EAGAIN;
        }
        pool->nstarted++;
    }
    *out = pool;
    return 0;
}

void mlpool_free(struct mlpool *pool)
{
    if (!pool)
        return;
    pthread_mutex_lock(&pool->lock);
    atomic_store(&pool->stop, 1);
    pthread_cond_broadcast(&pool->work);
    pthread_mutex_unlock(&pool->lock);
    for (size_t i = 0; i < pool->nstarted; i++)
        pthread_join(pool->workers[i].thread, NULL);
    pthread_cond_destroy(&pool->done);
    pthread_cond_destroy(&pool->work);
    pthread_mutex_destroy(&pool->lock);
    free(pool->workers);
    free(pool);
}

size_t mlpool_threads(const struct mlpool *pool)
{
    return pool ? pool->nthreads : 1;
}

void mlpool_run(struct mlpool *pool, size_t ntasks, mlpool_fn fn, void *ctx)
{
    if (!pool || pool->nstarted == 0 || ntasks < 2) {
        for (size_t t = 0; t < ntasks; t++)
            fn(ctx, t, 0);
        return;
    }
    /* the job's fields are published by the generation increment (sequentially consistent) */
    pool->fn = fn;
    pool->ctx = ctx;
    pool->ntasks = ntasks;
    atomic_store(&pool->next, 0);
    atomic_store(&pool->busy, pool->nstarted);
    pthread_mutex_lock(&pool->lock);
    atomic_fetch_add(&pool->generation, 1);
    pthread_cond_broadcast(&pool->work);
    pthread_mutex_unlock(&pool->lock);
    mlpool_drain(pool, 0);
    for (int i = 0; i < MLPOOL_SPIN && atomic_load(&pool->busy) > 0; i++)
        mlpool_pause();
    if (atomic_load(&pool->busy) == 0)
        return;
    pthread_mutex_lock(&pool->lock);
    while (atomic_load(&pool->busy) > 0)
        pthread_cond_wait(&pool->done, &pool->lock);
    pthread_mutex_unlock(&pool->lock);
}
