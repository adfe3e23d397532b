/* store_runs: the SQL of experiments (runs): submission, reads, cancel and delete, the
 * worker's claim/progress/outcome, and the sweeper's re-queueing. */
#include "pipeline.h"
#include "plans.h"

#include <ibx/ids.h>
#include <ibx/jobrow.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The JSON of a run as the API shows it (e is the row). */
#define RUN_JSON                                                                                   \
    "jsonb_build_object('id', e.id, 'user_id', e.user_id, 'project_id', e.project_id, "            \
    "'dataset_id', e.dataset_id, 'dataset_version', e.dataset_version, 'target_column', "          \
    "e.target_column, 'task_type', e.task_type, 'task_type_reason', e.task_type_reason, "          \
    "'algorithm', e.algorithm, 'hyperparameters', e.hyperparameters, 'preprocessing', "            \
    "e.preprocessing, 'test_size', e.test_size, 'random_state', e.random_state, 'cv_folds', "      \
    "e.cv_folds, 'status', e.status, 'progress', e.progress, 'stage', e.stage, 'error', e.error, " \
    "'attempts', e.attempts, 'model_sha256', e.model_sha256, 'has_results', e.results IS NOT "     \
    "NULL, 'timings', e.timings, 'created_at', e.created_at, 'started_at', e.started_at, "         \
    "'finished_at', e.finished_at, 'updated_at', e.updated_at)"

#define RUN_TABLE "pipeline.experiments"

/* Rows a caller may see: $2 the user, $3 admin. */
#define RUN_VISIBLE "(e.user_id = $2::uuid OR $3::boolean)"

static void copy_val(char *dst, size_t n, const char *v)
{
    snprintf(dst, n, "%s", v ? v : "");
}

/* One JSON value from a query with a single row and column; -ENOENT for no row. */
static int one_json(struct svc *s, const char *sql, int np, const char *const *p, json_t **out)
{
    PGresult *r = NULL;
    int rc = db_query(s->db, sql, np, p, &r);
    if (rc)
        return rc;
    if (PQntuples(r) != 1 || !db_val(r, 0, 0)) {
        PQclear(r);
        return -ENOENT;
    }
    json_t *v = json_loads(db_val(r, 0, 0), 0, NULL);
    PQclear(r);
    if (!v)
        return -EIO;
    *out = v;
    return 0;
}

/* ------------------------------------------------------------------ submission */

static json_t *run_new_json(const struct run_new *n)
{
    const struct run_spec *sp = n->spec;
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:O, s:O, s:f, s:I}", "dataset_id",
                          sp->dataset_id, "dataset_version", n->dataset_version, "target_column",
                          sp->target_column, "task_type", n->task_type, "task_type_reason",
                          n->task_reason, "algorithm", sp->algorithm, "hyperparameters",
                          sp->hyperparameters, "preprocessing", sp->preprocessing, "test_size",
                          sp->test_size, "random_state", (json_int_t)sp->random_state);
    if (j && sp->project_id[0])
        json_object_set_new(j, "project_id", json_string(sp->project_id));
    if (j && sp->cv_folds > 0)
        json_object_set_new(j, "cv_folds", json_integer(sp->cv_folds));
    return j;
}

static int create_count_active(struct db_conn *c, const char *user, long max_active)
{
    const char *p[] = {user};
    PGresult *r = NULL;
    int rc = db_conn_query(c,
                           "SELECT count(*) FROM pipeline.experiments WHERE user_id = $1::uuid "
                           "AND status IN ('pending', 'running')",
                           1, p, &r);
    if (rc)
        return rc;
    int64_t active = 0;
    rc = db_val_i64(r, 0, 0, &active);
    PQclear(r);
    if (rc)
        return -EIO;
    return active >= max_active ? -EDQUOT : 0;
}

struct create_ctx {
    const struct run_new *n;
    long max_active;
};

/* Insert the run unless the user has max_active pending or running (-EDQUOT). */
static int create_insert(struct db_conn *c, void *ctx, json_t **out)
{
    const struct run_new *n = ((const struct create_ctx *)ctx)->n;
    int rc = create_count_active(c, n->user_id, ((const struct create_ctx *)ctx)->max_active);
    if (rc)
        return rc;
    char id[37];
    ids_uuid4(id);
    json_t *j = run_new_json(n);
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!text)
        return -ENOMEM;
    const char *p[] = {id, n->user_id, n->role, text, n->idem_key, n->request_hash};
    PGresult *r = NULL;
    rc = db_conn_query(
        c,
        "INSERT INTO pipeline.experiments AS e (id, user_id, owner_role, project_id, dataset_id, "
        "dataset_version, target_column, task_type, task_type_reason, algorithm, "
        "hyperparameters, preprocessing, test_size, random_state, cv_folds, idempotency_key, "
        "request_hash, stage) SELECT $1::uuid, $2::uuid, $3, (j->>'project_id')::uuid, "
        "(j->>'dataset_id')::uuid, j->>'dataset_version', j->>'target_column', j->>'task_type', "
        "j->>'task_type_reason', j->>'algorithm', j->'hyperparameters', j->'preprocessing', "
        "(j->>'test_size')::float8, (j->>'random_state')::int, (j->>'cv_folds')::int, $5, $6, "
        "'queued' FROM (SELECT $4::jsonb AS j) q RETURNING " RUN_JSON "::text",
        6, p, &r);
    free(text);
    if (rc)
        return rc;
    json_t *v = PQntuples(r) == 1 ? json_loads(db_val(r, 0, 0), 0, NULL) : NULL;
    PQclear(r);
    if (!v)
        return -EIO;
    *out = v;
    return 0;
}

int store_run_create(struct svc *s, const struct run_new *n, long max_active, json_t **out,
                     int *created)
{
    struct create_ctx ctx = {n, max_active};
    struct jobrow_new jn = {RUN_TABLE,       "e",           RUN_JSON, n->user_id, n->idem_key,
                            n->request_hash, create_insert, &ctx};
    return jobrow_create(s->db, &jn, out, created);
}

void store_run_published(struct svc *s, const char *id)
{
    jobrow_published(s->db, RUN_TABLE, id);
}

/* ------------------------------------------------------------------ reads */

int store_run_get(struct svc *s, const char *id, const char *user, int admin, json_t **out)
{
    const char *p[] = {id, user, admin ? "true" : "false"};
    return one_json(s,
                    "SELECT " RUN_JSON "::text FROM pipeline.experiments e WHERE e.id = $1::uuid "
                    "AND " RUN_VISIBLE,
                    3, p, out);
}

int store_run_list(struct svc *s, const char *user, int admin, const char *project_id,
                   const char *status, long page, long page_size, json_t **out)
{
    char limit[24], offset[24];
    snprintf(limit, sizeof(limit), "%ld", page_size);
    snprintf(offset, sizeof(offset), "%ld", (page - 1) * page_size);
    const char *p[] = {user, admin ? "true" : "false", project_id, status, limit, offset};
    return one_json(
        s,
        "WITH m AS (SELECT * FROM pipeline.experiments e WHERE (e.user_id = $1::uuid OR "
        "$2::boolean) AND ($3::uuid IS NULL OR e.project_id = $3::uuid) AND ($4::text IS NULL "
        "OR e.status = $4)) SELECT jsonb_build_object('experiments', coalesce((SELECT "
        "jsonb_agg(" RUN_JSON " ORDER BY e.created_at DESC, e.id) FROM (SELECT * FROM m ORDER "
        "BY created_at DESC, id LIMIT $5::int OFFSET $6::int) e), '[]'::jsonb), 'total_count', "
        "(SELECT count(*) FROM m))::text",
        6, p, out);
}

int store_run_results(struct svc *s, const char *id, const char *user, int admin, char *status,
                      json_t **out)
{
    const char *p[] = {id, user, admin ? "true" : "false"};
    PGresult *r = NULL;
    int rc = db_query(s->db,
                      "SELECT e.status, CASE WHEN e.status = 'completed' THEN "
                      "(jsonb_build_object('id', e.id, 'algorithm', e.algorithm, 'task_type', "
                      "e.task_type, 'target_column', e.target_column, 'dataset_id', "
                      "e.dataset_id, 'dataset_version', e.dataset_version, 'model_sha256', "
                      "e.model_sha256, 'timings', e.timings, 'completed_at', e.finished_at) || "
                      "coalesce(e.results, '{}'::jsonb))::text END FROM pipeline.experiments e "
                      "WHERE e.id = $1::uuid AND " RUN_VISIBLE,
                      3, p, &r);
    if (rc)
        return rc;
    if (PQntuples(r) != 1) {
        PQclear(r);
        return -ENOENT;
    }
    copy_val(status, 16, db_val(r, 0, 0));
    json_t *v = db_val(r, 0, 1) ? json_loads(db_val(r, 0, 1), 0, NULL) : NULL;
    PQclear(r);
    if (strcmp(status, "completed") == 0 && !v)
        return -EIO;
    *out = v;
    return 0;
}

int store_run_model(struct svc *s, const char *id, const char *user, int admin, char *status,
                    char *model)
{
    const char *p[] = {id, user, admin ? "true" : "false"};
    PGresult *r = NULL;
    int rc = db_query(s->db,
                      "SELECT e.status, coalesce(e.model_sha256, '') FROM pipeline.experiments e "
                      "WHERE e.id = $1::uuid AND " RUN_VISIBLE,
                      3, p, &r);
    if (rc)
        return rc;
    if (PQntuples(r) != 1) {
        PQclear(r);
        return -ENOENT;
    }
    copy_val(status, 16, db_val(r, 0, 0));
    copy_val(model, BLOB_ID_LEN + 1, db_val(r, 0, 1));
    PQclear(r);
    return 0;
}

int store_run_state(struct svc *s, const char *id, json_t **out)
{
    const char *p[] = {id};
    return one_json(s,
                    "SELECT jsonb_build_object('id', e.id, 'status', e.status, 'progress', "
                    "e.progress, 'stage', e.stage, 'error', e.error, 'updated_at', "
                    "e.updated_at)::text FROM pipeline.experiments e WHERE e.id = $1::uuid",
                    1, p, out);
}

/* ------------------------------------------------------------------ cancel, delete */

int store_run_cancel(struct svc *s, const char *id, const char *user, int admin, json_t **out,
                     char *status)
{
    const char *p[] = {id, user, admin ? "true" : "false"};
    int rc =
        one_json(s,
                 "UPDATE pipeline.experiments e SET status = 'cancelled', finished_at = "
                 "now(), updated_at = now(), error = NULL WHERE e.id = $1::uuid AND " RUN_VISIBLE
                 " AND e.status IN ('pending', 'running') RETURNING " RUN_JSON "::text",
                 3, p, out);
    if (rc != -ENOENT)
        return rc;
    char model[BLOB_ID_LEN + 1];
    rc = store_run_model(s, id, user, admin, status, model);
    return rc ? rc : -EALREADY;
}

int store_run_delete(struct svc *s, const char *id, const char *user, int admin, char *model,
                     char *owner)
{
    const char *p[] = {id, user, admin ? "true" : "false"};
    PGresult *r = NULL;
    int rc = db_query(s->db,
                      "DELETE FROM pipeline.experiments e WHERE e.id = $1::uuid AND " RUN_VISIBLE
                      " RETURNING coalesce(e.model_sha256, ''), e.user_id",
                      3, p, &r);
    if (rc)
        return rc;
    if (PQntuples(r) != 1) {
        PQclear(r);
        return -ENOENT;
    }
    copy_val(model, BLOB_ID_LEN + 1, db_val(r, 0, 0));
    copy_val(owner, 37, db_val(r, 0, 1));
    PQclear(r);
    return 0;
}

/* ------------------------------------------------------------------ worker */

void store_run_row_release(struct run_row *r)
{
    if (!r)
        return;
    json_decref(r->hyperparameters);
    json_decref(r->preprocessing);
    r->hyperparameters = NULL;
    r->preprocessing = NULL;
}

static int row_from_result(const PGresult *r, struct run_row *out)
{
    struct run_row w;
    memset(&w, 0, sizeof(w));
    copy_val(w.id, sizeof(w.id), db_val(r, 0, 0));
    copy_val(w.user_id, sizeof(w.user_id), db_val(r, 0, 1));
    copy_val(w.owner_role, sizeof(w.owner_role), db_val(r, 0, 2));
    copy_val(w.project_id, sizeof(w.project_id), db_val(r, 0, 3));
    copy_val(w.dataset_id, sizeof(w.dataset_id), db_val(r, 0, 4));
    copy_val(w.dataset_version, sizeof(w.dataset_version), db_val(r, 0, 5));
    copy_val(w.target_column, sizeof(w.target_column), db_val(r, 0, 6));
    copy_val(w.task_type, sizeof(w.task_type), db_val(r, 0, 7));
    copy_val(w.algorithm, sizeof(w.algorithm), db_val(r, 0, 8));
    w.hyperparameters = json_loads(db_val(r, 0, 9), 0, NULL);
    w.preprocessing = json_loads(db_val(r, 0, 10), 0, NULL);
    char *end = NULL;
    w.test_size = strtod(db_val(r, 0, 11), &end);
    int64_t rs = 0, folds = 0, attempts = 0;
    int bad = db_val_i64(r, 0, 12, &rs) != 0 || db_val_i64(r, 0, 13, &folds) != 0 ||
              db_val_i64(r, 0, 14, &attempts) != 0 || !w.hyperparameters || !w.preprocessing;
    if (bad) {
        store_run_row_release(&w);
        return -EIO;
    }
    w.random_state = (long)rs;
    w.cv_folds = (long)folds;
    w.attempts = (long)attempts;
    *out = w;
    return 0;
}

int store_run_claim(struct svc *s, const char *id, const char *worker, struct run_row *out)
{
    const char *p[] = {id, worker};
    PGresult *r = NULL;
    int rc = db_query(
        s->db,
        "UPDATE pipeline.experiments SET status = 'running', worker_id = $2, attempts = "
        "attempts + 1, heartbeat_at = now(), started_at = coalesce(started_at, now()), "
        "progress = 0, stage = 'loading', error = NULL, updated_at = now() WHERE id = $1::uuid "
        "AND status = 'pending' RETURNING id, user_id, owner_role, coalesce(project_id::text, "
        "''), dataset_id, coalesce(dataset_version, dataset_id::text), target_column, "
        "task_type, algorithm, hyperparameters::text, preprocessing::text, test_size, "
        "random_state, coalesce(cv_folds, 0), attempts",
        2, p, &r);
    if (rc)
        return rc;
    if (PQntuples(r) == 1) {
        rc = row_from_result(r, out);
        PQclear(r);
        return rc;
    }
    PQclear(r);
    rc = db_query(s->db, "SELECT 1 FROM pipeline.experiments WHERE id = $1::uuid", 1, p, &r);
    if (rc)
        return rc;
    rc = PQntuples(r) == 1 ? -EALREADY : -ENOENT;
    PQclear(r);
    return rc;
}

/* An UPDATE of this worker's running run: 0, or -ECANCELED when no row matched. */
static int update_mine(struct svc *s, const char *sql, int np, const char *const *p)
{
    PGresult *r = NULL;
    int rc = db_query(s->db, sql, np, p, &r);
    if (rc)
        return rc;
    rc = db_affected(r) == 1 ? 0 : -ECANCELED;
    PQclear(r);
    return rc;
}

int store_run_progress(struct svc *s, const char *id, const char *worker, int progress,
                       const char *stage)
{
    return jobrow_progress(s->db, RUN_TABLE, id, worker, progress, stage);
}

int store_run_heartbeat(struct svc *s, const char *id, const char *worker)
{
    return jobrow_heartbeat(s->db, RUN_TABLE, id, worker);
}

int store_run_still_mine(struct svc *s, const char *id, const char *worker)
{
    return jobrow_still_mine(s->db, RUN_TABLE, id, worker);
}

int store_run_complete(struct svc *s, const char *id, const char *worker, const char *model,
                       json_t *results, json_t *timings)
{
    char *res = json_dumps(results, JSON_COMPACT);
    char *tim = json_dumps(timings, JSON_COMPACT);
    int rc = -ENOMEM;
    if (res && tim) {
        const char *p[] = {id, worker, model, res, tim};
        rc = update_mine(s,
                         "UPDATE pipeline.experiments SET status = 'completed', progress = 100, "
                         "stage = 'done', model_sha256 = $3, results = $4::jsonb, timings = "
                         "$5::jsonb, finished_at = now(), heartbeat_at = now(), updated_at = "
                         "now() WHERE id = $1::uuid AND worker_id = $2 AND status = 'running'",
                         5, p);
    }
    free(res);
    free(tim);
    return rc;
}

int store_run_fail(struct svc *s, const char *id, const char *worker, const char *error,
                   json_t *timings)
{
    return jobrow_fail(s->db, RUN_TABLE, id, worker, error, timings);
}

int store_run_release(struct svc *s, const char *id, const char *worker)
{
    return jobrow_release(s->db, RUN_TABLE, id, worker);
}

int store_artifact_referenced(struct svc *s, const char *id)
{
    const char *p[] = {id};
    PGresult *r = NULL;
    int rc = db_query(s->db, "SELECT 1 FROM pipeline.experiments WHERE model_sha256 = $1 LIMIT 1",
                      1, p, &r);
    if (rc)
        return rc;
    rc = PQntuples(r) > 0;
    PQclear(r);
    /* a model can also be a plan step's cached output */
    return rc ? rc : store_plans_artifact_referenced(s, id);
}
