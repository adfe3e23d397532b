/* jobrow: the SQL of leased job rows (publication, progress, lease, sweeping). */
#include <ibx/jobrow.h>

#include <ibx/log.h>
#include <ibx/metrics.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JOBROW_SQL_MAX 2048

/* An UPDATE of worker's running row: 0, or -ECANCELED when no row matched. */
static int jobrow_update(struct db_pool *db, const char *sql, int np, const char *const *p)
{
    PGresult *r = NULL;
    int rc = db_query(db, sql, np, p, &r);
    if (rc)
        return rc;
    rc = db_affected(r) == 1 ? 0 : -ECANCELED;
    PQclear(r);
    return rc;
}

/* A statement whose only value is a JSON text. */
static int jobrow_json(struct db_pool *db, const char *sql, int np, const char *const *p,
                       json_t **out)
{
    PGresult *r = NULL;
    int rc = db_query(db, sql, np, p, &r);
    if (rc)
        return rc;
    json_t *v = PQntuples(r) == 1 && db_val(r, 0, 0) ? json_loads(db_val(r, 0, 0), 0, NULL) : NULL;
    PQclear(r);
    if (!v)
        return -EIO;
    *out = v;
    return 0;
}

/* Inside the lock: the row of the same key. 0 and *out (same hash), -EEXIST, -ENOENT. */
static int jobrow_find_idem(struct db_conn *c, const struct jobrow_new *n, json_t **out)
{
    char sql[8192];
    snprintf(sql, sizeof(sql),
             "SELECT (%s)::text, %s.request_hash FROM %s %s WHERE %s.user_id = $1::uuid AND "
             "%s.idempotency_key = $2",
             n->json_sql, n->alias, n->table, n->alias, n->alias, n->alias);
    const char *p[] = {n->user_id, n->idem_key};
    PGresult *r = NULL;
    int rc = db_conn_query(c, sql, 2, p, &r);
    if (rc)
        return rc;
    const char *hash = PQntuples(r) == 1 ? db_val(r, 0, 1) : NULL;
    rc = PQntuples(r) != 1 ? -ENOENT : !hash || strcmp(hash, n->request_hash) != 0 ? -EEXIST : 0;
    json_t *v = rc ? NULL : json_loads(db_val(r, 0, 0), 0, NULL);
    PQclear(r);
    if (!rc && !v)
        rc = -EIO;
    if (!rc)
        *out = v;
    return rc;
}

int jobrow_create(struct db_pool *db, const struct jobrow_new *n, json_t **out, int *created)
{
    struct db_conn *c = NULL;
    int rc = db_acquire(db, DB_ACQUIRE_TIMEOUT_MS, &c);
    if (rc)
        return rc;
    const char *p[] = {n->table, n->user_id};
    json_t *v = NULL;
    int fresh = 0;
    rc = db_begin(c);
    if (rc == 0)
        rc = db_conn_query(c, "SELECT pg_advisory_xact_lock(hashtextextended($1 || ':' || $2, 0))",
                           2, p, NULL);
    if (rc == 0 && n->idem_key && (rc = jobrow_find_idem(c, n, &v)) == -ENOENT)
        rc = 0;
    if (rc == 0 && !v) {
        rc = n->insert(c, n->ctx, &v);
        fresh = rc == 0;
    }
    if (rc == 0)
        rc = db_commit(c);
    else
        db_rollback(c);
    db_release(c);
    if (rc) {
        json_decref(v);
        return rc;
    }
    *out = v;
    *created = fresh;
    return 0;
}

void jobrow_published(struct db_pool *db, const char *table, const char *id)
{
    char sql[JOBROW_SQL_MAX];
    snprintf(sql, sizeof(sql),
             "UPDATE %s SET published_at = now() WHERE id = $1::uuid AND status = 'pending'",
             table);
    const char *p[] = {id};
    if (db_query(db, sql, 1, p, NULL) != 0)
        log_warn("could not record that %s %s was published", table, id);
}

int jobrow_progress(struct db_pool *db, const char *table, const char *id, const char *worker,
                    int progress, const char *stage)
{
    char sql[JOBROW_SQL_MAX], pct[16];
    snprintf(pct, sizeof(pct), "%d", progress < 0 ? 0 : progress > 100 ? 100 : progress);
    snprintf(sql, sizeof(sql),
             "UPDATE %s SET progress = greatest(progress, $3::int), stage = $4, heartbeat_at = "
             "now(), updated_at = now() WHERE id = $1::uuid AND worker_id = $2 AND status = "
             "'running'",
             table);
    const char *p[] = {id, worker, pct, stage};
    return jobrow_update(db, sql, 4, p);
}

int jobrow_heartbeat(struct db_pool *db, const char *table, const char *id, const char *worker)
{
    char sql[JOBROW_SQL_MAX];
    snprintf(sql, sizeof(sql),
             "UPDATE %s SET heartbeat_at = now() WHERE id = $1::uuid AND worker_id = $2 AND "
             "status = 'running'",
             table);
    const char *p[] = {id, worker};
    return jobrow_update(db, sql, 2, p);
}

int jobrow_still_mine(struct db_pool *db, const char *table, const char *id, const char *worker)
{
    char sql[JOBROW_SQL_MAX];
    snprintf(sql, sizeof(sql),
             "SELECT 1 FROM %s WHERE id = $1::uuid AND worker_id = $2 AND status = 'running'",
             table);
    const char *p[] = {id, worker};
    PGresult *r = NULL;
    int rc = db_query(db, sql, 2, p, &r);
    if (rc)
        return rc;
    rc = PQntuples(r) == 1 ? 0 : -ECANCELED;
    PQclear(r);
    return rc;
}

int jobrow_fail(struct db_pool *db, const char *table, const char *id, const char *worker,
                const char *error, const json_t *timings)
{
    char sql[JOBROW_SQL_MAX];
    char *tim = json_dumps(timings, JSON_COMPACT);
    if (!tim)
        return -ENOMEM;
    snprintf(sql, sizeof(sql),
             "UPDATE %s SET status = 'failed', error = $3, timings = $4::jsonb, finished_at = "
             "now(), updated_at = now() WHERE id = $1::uuid AND worker_id = $2 AND status = "
             "'running'",
             table);
    const char *p[] = {id, worker, error, tim};
    int rc = jobrow_update(db, sql, 4, p);
    free(tim);
    return rc;
}

int jobrow_release(struct db_pool *db, const char *table, const char *id, const char *worker)
{
    char sql[JOBROW_SQL_MAX];
    snprintf(sql, sizeof(sql),
             "UPDATE %s SET status = 'pending', worker_id = NULL, attempts = greatest(attempts - "
             "1, 0), progress = 0, stage = 'queued', published_at = NULL, updated_at = now() "
             "WHERE id = $1::uuid AND worker_id = $2 AND status = 'running'",
             table);
    const char *p[] = {id, worker};
    return jobrow_update(db, sql, 2, p);
}

int jobrow_reap(struct db_pool *db, const char *table, long lease_s, long max_attempts,
                json_t **out)
{
    char sql[JOBROW_SQL_MAX], lease[24], maxa[24];
    snprintf(lease, sizeof(lease), "%ld", lease_s);
    snprintf(maxa, sizeof(maxa), "%ld", max_attempts);
    snprintf(
        sql, sizeof(sql),
        "WITH dead AS (SELECT id FROM %s WHERE status = 'running' AND heartbeat_at < now() - "
        "make_interval(secs => $1::int) FOR UPDATE SKIP LOCKED), upd AS (UPDATE %s j SET "
        "status = CASE WHEN j.attempts >= $2::int THEN 'failed' ELSE 'pending' END, error = "
        "CASE WHEN j.attempts >= $2::int THEN 'worker stopped responding (' || j.attempts || "
        "' attempts, last in stage ' || coalesce(j.stage, '?') || ')' END, stage = CASE WHEN "
        "j.attempts >= $2::int THEN j.stage ELSE 'queued' END, progress = CASE WHEN j.attempts "
        ">= $2::int THEN j.progress ELSE 0 END, finished_at = CASE WHEN j.attempts >= $2::int "
        "THEN now() END, worker_id = NULL, published_at = NULL, updated_at = now() FROM dead "
        "WHERE j.id = dead.id RETURNING j.id, j.user_id, j.status, j.attempts) SELECT "
        "coalesce(jsonb_agg(jsonb_build_object('id', id, 'user_id', user_id, 'status', "
        "status, 'attempts', attempts)), '[]'::jsonb)::text FROM upd",
        table, table);
    const char *p[] = {lease, maxa};
    return jobrow_json(db, sql, 2, p, out);
}

int jobrow_due_pending(struct db_pool *db, const char *table, long republish_s, json_t **out)
{
    char sql[JOBROW_SQL_MAX], secs[24];
    snprintf(secs, sizeof(secs), "%ld", republish_s);
    snprintf(sql, sizeof(sql),
             "WITH due AS (SELECT id FROM %s WHERE status = 'pending' AND (published_at IS NULL "
             "AND updated_at < now() - interval '1 second' OR published_at < now() - "
             "make_interval(secs => $1::int)) ORDER BY created_at LIMIT 100 FOR UPDATE SKIP "
             "LOCKED), upd AS (UPDATE %s j SET published_at = now() FROM due WHERE j.id = due.id "
             "RETURNING j.id, j.user_id) SELECT coalesce(jsonb_agg(jsonb_build_object('id', id, "
             "'user_id', user_id)), '[]'::jsonb)::text FROM upd",
             table, table);
    const char *p[] = {secs};
    return jobrow_json(db, sql, 1, p, out);
}

static void jobrow_sweep_reap(struct db_pool *db, const struct jobrow_sweep *w)
{
    json_t *reaped = NULL;
    int rc = jobrow_reap(db, w->table, w->lease_s, w->max_attempts, &reaped);
    if (rc) {
        log_warn("the reaper could not read running %ss (%s)", w->noun, strerror(-rc));
        return;
    }
    size_t i;
    json_t *r;
    json_array_foreach(reaped, i, r)
    {
        const char *id = json_string_value(json_object_get(r, "id"));
        const char *user = json_string_value(json_object_get(r, "user_id"));
        const char *status = json_string_value(json_object_get(r, "status"));
        int failed = status && strcmp(status, "failed") == 0;
        log_fields(
            LOG_LVL_WARN,
            json_pack("{s:s?, s:O?}", w->id_field, id, "attempts", json_object_get(r, "attempts")),
            "%s %s: its worker stopped responding; %s", w->noun, id ? id : "?",
            failed ? "failed" : "queued again");
        metrics_counter_add(w->reaped_metric, "jobs taken from a worker that stopped responding",
                            failed ? "outcome=\"failed\"" : "outcome=\"requeued\"", 1);
        if (failed && id && user && w->failed)
            w->failed(w->ctx, id, user);
    }
    json_decref(reaped);
}

static void jobrow_sweep_publish(struct db_pool *db, const struct jobrow_sweep *w)
{
    json_t *due = NULL;
    int rc = jobrow_due_pending(db, w->table, w->republish_s, &due);
    if (rc) {
        log_warn("the re-publisher could not read pending %ss (%s)", w->noun, strerror(-rc));
        return;
    }
    size_t i;
    json_t *r;
    json_array_foreach(due, i, r)
    {
        const char *id = json_string_value(json_object_get(r, "id"));
        const char *user = json_string_value(json_object_get(r, "user_id"));
        if (id && user && w->publish(w->ctx, id, user) == 0)
            metrics_counter_add(w->republished_metric,
                                "job requests published again by the sweeper", NULL, 1);
    }
    json_decref(due);
}

void jobrow_sweep(struct db_pool *db, const struct jobrow_sweep *w)
{
    jobrow_sweep_reap(db, w);
    jobrow_sweep_publish(db, w);
}
