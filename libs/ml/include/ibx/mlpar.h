/* mlpar: deterministic parallel loops and the ml_control helpers for libs/ml learners.
 *
 * Work is cut into a fixed number of chunks that does not depend on the thread count; each
 * chunk writes only its own outputs, and the caller combines chunk results in chunk order,
 * so results are bit-identical with 1 or 64 threads. Threads are started per call (the
 * loops here are long enough that thread start-up does not matter) and joined before
 * mlpar_run returns. */
#ifndef IBX_MLPAR_H
#define IBX_MLPAR_H

#include <ibx/ml.h>

#include <stddef.h>

typedef void (*mlpar_fn)(void *ctx, size_t chunk);

/* Threads to use for ctl (NULL or threads == 0: one per online CPU), at least 1, at most
 * 256. */
int mlpar_threads(const struct ml_control *ctl);

/* Call fn(ctx, c) once for every c in [0, nchunks), on up to `threads` threads (the caller's
 * thread included). Never fails: when a thread cannot be started the others do its share. */
void mlpar_run(int threads, size_t nchunks, mlpar_fn fn, void *ctx);

/* Non-zero when ctl has a cancel flag and it is raised. ctl may be NULL. */
int mlpar_cancelled(const struct ml_control *ctl);

/* Report progress when ctl has a progress callback. ctl may be NULL. */
void mlpar_progress(const struct ml_control *ctl, size_t done, size_t total);

#endif
