/* jobrow: the SQL shared by tables of jobs that workers lease (ml-pipeline's experiments,
 * xai-engine's explanations): publication, a worker's progress, heartbeat, failure and
 * hand-back, and the sweeper's re-queueing and re-publishing.
 *
 * The table (schema-qualified, a constant of the caller's code: it is pasted into the SQL)
 * has the columns id uuid, user_id uuid, status text (pending, running, completed, failed,
 * cancelled), progress integer, stage text, error text, worker_id text, heartbeat_at,
 * published_at, finished_at, updated_at, created_at timestamptz, attempts integer and
 * timings jsonb. A worker owns a row while it is running with its worker_id: the
 * functions that take a worker change only such a row and return -ECANCELED otherwise
 * (cancelled, deleted, or taken over after a lost lease). */
#ifndef IBX_JOBROW_H
#define IBX_JOBROW_H

#include <ibx/db.h>

#include <jansson.h>

#define JOBROW_WUR __attribute__((warn_unused_result))

/* A submission: inside one transaction holding an advisory lock per (table, user), the
 * row recorded earlier under the same Idempotency-Key is looked up (the same request hash:
 * it is the answer, not created again; another hash: -EEXIST), else insert creates the
 * row. The caller's per-user limits hold because submissions of one user are serialised. */
typedef int (*jobrow_insert_fn)(struct db_conn *c, void *ctx, json_t **out);
struct jobrow_new {
    const char *table;        /* schema-qualified constant */
    const char *alias;        /* the alias json_sql reads the row as, e.g. "e" */
    const char *json_sql;     /* the row as the API shows it (a jsonb expression) */
    const char *user_id;      /* the submitter */
    const char *idem_key;     /* NULL: no Idempotency-Key */
    const char *request_hash; /* SHA-256 of the request, stored with the key */
    jobrow_insert_fn insert;  /* 0 and *out (the new row's JSON), or a negative errno that
                               * rolls back and is returned (e.g. -EDQUOT for a limit) */
    void *ctx;                /* for insert */
};
/* 0 with *out (caller decrefs) and *created (1: inserted, 0: the key's earlier row);
 * -EEXIST (the key was used with another request), insert's error, -EIO, -EAGAIN. */
int jobrow_create(struct db_pool *db, const struct jobrow_new *n, json_t **out,
                  int *created) JOBROW_WUR;

/* The row's request was published now (pending rows only; failures are logged). */
void jobrow_published(struct db_pool *db, const char *table, const char *id);
/* Progress (clamped to 0..100, never lowered) and stage; refreshes the heartbeat. */
int jobrow_progress(struct db_pool *db, const char *table, const char *id, const char *worker,
                    int progress, const char *stage) JOBROW_WUR;
int jobrow_heartbeat(struct db_pool *db, const char *table, const char *id,
                     const char *worker) JOBROW_WUR;
/* 0 while the row is still worker's running row. */
int jobrow_still_mine(struct db_pool *db, const char *table, const char *id,
                      const char *worker) JOBROW_WUR;
/* running -> failed with error and timings (borrowed). */
int jobrow_fail(struct db_pool *db, const char *table, const char *id, const char *worker,
                const char *error, const json_t *timings) JOBROW_WUR;
/* running -> pending (the worker is stopping; the attempt is given back). */
int jobrow_release(struct db_pool *db, const char *table, const char *id,
                   const char *worker) JOBROW_WUR;
/* Running rows whose heartbeat is older than lease_s: back to pending (attempts below
 * max_attempts) or failed "worker stopped responding (n attempts, last in stage s)".
 * *out: [{"id", "user_id", "status", "attempts"}] (caller decrefs). Rows are taken with
 * FOR UPDATE SKIP LOCKED, so several sweepers may run at once. */
int jobrow_reap(struct db_pool *db, const char *table, long lease_s, long max_attempts,
                json_t **out) JOBROW_WUR;
/* Pending rows never published (for a second) or not taken within republish_s, at most
 * 100, oldest first, marked published now: *out [{"id", "user_id"}]. */
int jobrow_due_pending(struct db_pool *db, const char *table, long republish_s,
                       json_t **out) JOBROW_WUR;

/* One pass of a sweeper over table: jobrow_reap (each row logged and counted in
 * reaped_metric with outcome="failed" or "requeued"; failed() called for each row a dead
 * worker failed) then jobrow_due_pending (publish() called for each row; those it
 * publishes, returning 0, counted in republished_metric). A query that fails is logged
 * and the pass goes on. */
struct jobrow_sweep {
    const char *table;
    const char *noun;     /* "run", "explanation": for log lines */
    const char *id_field; /* the log field of a row's id, e.g. "experiment_id" */
    long lease_s, max_attempts, republish_s;
    const char *reaped_metric; /* counter names (constants) */
    const char *republished_metric;
    int (*publish)(void *ctx, const char *id, const char *user_id);
    void (*failed)(void *ctx, const char *id, const char *user_id);
    void *ctx;
};
void jobrow_sweep(struct db_pool *db, const struct jobrow_sweep *w);

#endif
