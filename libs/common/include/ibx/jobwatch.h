/* jobwatch: the watch thread of a job a worker claimed in PostgreSQL under a lease (a row
 * with a worker id and a heartbeat that a sweeper reads).
 *
 * While the job runs on the worker's own thread, the watch thread asks every period_ms
 * whether the job is still this worker's (not cancelled, deleted or taken over) and
 * refreshes the heartbeat every beat_ms. When the job is lost, or the worker is stopping,
 * it raises the job's cancel flag (what ml_control.cancel and the long computations poll)
 * and records why; the first reason wins. The job's thread may also raise it itself
 * (jobwatch_stop_with), e.g. when a progress write finds the row taken.
 *
 * Usage: jobwatch_start before the work, jobwatch_end after it (joins the thread and
 * says why the job stopped, JOBWATCH_GOING when it was never stopped). */
#ifndef IBX_JOBWATCH_H
#define IBX_JOBWATCH_H

/* A check on the job's row: 0 (still ours / refreshed), -ECANCELED (the job is no longer
 * this worker's), any other negative errno (could not tell: asked again next period). */
typedef int (*jobwatch_fn)(void *ctx);

struct jobwatch_opts {
    jobwatch_fn still_mine;       /* required */
    jobwatch_fn heartbeat;        /* required; -ECANCELED also means lost */
    const volatile int *stopping; /* the worker is stopping (may be NULL) */
    void *ctx;                    /* for both functions (borrowed) */
    long period_ms;               /* between checks, >= 10 */
    long beat_ms;                 /* between heartbeats, >= period_ms */
    const char *request_id;       /* the thread's log request id (copied; may be NULL) */
};

enum jobwatch_why { JOBWATCH_GOING = 0, JOBWATCH_LOST = 1, JOBWATCH_STOPPING = 2 };

struct jobwatch;

/* Start watching; cancel (borrowed, must outlive the watch) is set to 1 when the job must
 * stop. *out is the caller's (jobwatch_end). 0, -EINVAL, -ENOMEM, -EAGAIN (no thread). */
int jobwatch_start(const struct jobwatch_opts *o, volatile int *cancel, struct jobwatch **out)
    __attribute__((warn_unused_result));
/* Raise the cancel flag for why (ignored when a reason is already recorded). Thread-safe. */
void jobwatch_stop_with(struct jobwatch *w, enum jobwatch_why why);
/* The reason recorded so far (JOBWATCH_GOING while none). Thread-safe. */
enum jobwatch_why jobwatch_why(const struct jobwatch *w);
/* Stop the thread, join it, free w and return the reason recorded. NULL: JOBWATCH_GOING. */
enum jobwatch_why jobwatch_end(struct jobwatch *w);

#endif
