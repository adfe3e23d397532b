/* mlpool: a small fixed thread pool running "parallel for" jobs for the tree learners
 * (internal).
 *
 * mlpool_run(pool, ntasks, fn, ctx) calls fn(ctx, task, worker) once for every task in
 * [0, ntasks), spread over the pool's threads (the calling thread takes part), and returns
 * when all have finished. worker is in [0, mlpool_threads()) and identifies the thread, so a
 * task may use per-worker scratch memory. Results stay deterministic whatever the thread
 * count as long as each task writes only its own outputs. A NULL pool runs every task on
 * the calling thread. One job at a time: a pool is not shared by concurrent callers. */
#ifndef IBX_MLPOOL_H
#define IBX_MLPOOL_H

#include <stddef.h>

struct mlpool;
typedef void (*mlpool_fn)(void *ctx, size_t task, size_t worker);

/* threads <= 0 means one per online CPU. 0, -ENOMEM or -EAGAIN (thread creation failed).
 * The caller owns *out and frees it with mlpool_free (which joins the threads). */
int mlpool_new(int threads, struct mlpool **out) __attribute__((warn_unused_result));
void mlpool_free(struct mlpool *pool);
size_t mlpool_threads(const struct mlpool *pool);
void mlpool_run(struct mlpool *pool, size_t ntasks, mlpool_fn fn, void *ctx);
/* The thread count a struct ml_control asks for (threads <= 0: online CPUs, at least 1). */
size_t mlpool_resolve(int threads);

#endif
