/* store_plans: the SQL of pipeline plans: submission, reads, cancel and delete, the
 * executor's claim, step states and outcome, the step cache, and data rights. */
#include "plans.h"

#include <ibx/log.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One step as the API shows it (st is the row, p its plan). */
#define STEP_JSON                                                                                  \
    "jsonb_build_object('id', st.step_id, 'type', st.type, 'depends_on', st.depends_on, "          \
    "'params', p.spec->'steps'->st.position->'params', 'retries', st.retries, 'level', "           \
    "st.level, 'status', st.status, 'attempts', st.attempts, 'cache_hit', st.cache_hit, "          \
    "'cache_key', st.cache_key, 'output_sha256', st.output_sha256, 'result', st.result, "          \
    "'error', st.error, 'started_at', st.started_at, 'finished_at', st.finished_at, "              \
    "'duration_ms', st.duration_ms)"

/* The plan as the API shows it (p is the row): its steps in body order, how many steps
 * are in each state, and the ranking of its last compare step. */
#define PLAN_JSON                                                                                  \
    "jsonb_build_object('id', p.id, 'user_id', p.user_id, 'name', p.name, 'dataset_id', "          \
    "p.dataset_id, 'dataset_version', p.dataset_version, 'target_column', p.target_column, "       \
    "'task_type', p.task_type, 'task_type_reason', p.task_type_reason, 'status', p.status, "       \
    "'error', p.error, 'attempts', p.attempts, 'created_at', p.created_at, 'started_at', "         \
    "p.started_at, 'finished_at', p.finished_at, 'updated_at', p.updated_at, 'duration_ms', "      \
    "round((extract(epoch FROM p.finished_at - p.started_at) * 1000)::numeric, 3), "               \
    "'steps', coalesce((SELECT jsonb_agg(" STEP_JSON " ORDER BY st.position) FROM "                \
    "pipeline.plan_steps st WHERE st.plan_id = p.id), '[]'::jsonb), 'step_counts', "               \
    "coalesce((SELECT jsonb_object_agg(c.status, c.n) FROM (SELECT st.status, count(*) AS n "      \
    "FROM pipeline.plan_steps st WHERE st.plan_id = p.id GROUP BY st.status) c), '{}'::jsonb), "   \
    "'cache_hits', (SELECT count(*) FROM pipeline.plan_steps st WHERE st.plan_id = p.id AND "      \
    "st.cache_hit), 'ranking', (SELECT st.result FROM pipeline.plan_steps st WHERE st.plan_id = "  \
    "p.id AND st.type = 'compare' AND st.status = 'completed' ORDER BY st.position DESC LIMIT "    \
    "1))"

/* Plans a caller may see: $2 the user, $3 admin. */
#define PLAN_VISIBLE "(p.user_id = $2::uuid OR $3::boolean)"

/* The first row's first column parsed as JSON; -ENOENT for no row or NULL. */
static int sp_json(PGresult *r, json_t **out)
{
    if (PQntuples(r) < 1 || !db_val(r, 0, 0))
        return -ENOENT;
    json_t *v = json_loads(db_val(r, 0, 0), 0, NULL);
    if (!v)
        return -EIO;
    *out = v;
    return 0;
}

static int sp_query_json(struct svc *s, const char *sql, int np, const char *const *p, json_t **out)
{
    PGresult *r = NULL;
    int rc = db_query(s->db, sql, np, p, &r);
    if (rc == 0)
        rc = sp_json(r, out);
    PQclear(r);
    return rc;
}

static int sp_exec(struct svc *s, const char *sql, int np, const char *const *p, int64_t *affected)
{
    PGresult *r = NULL;
    int rc = db_query(s->db, sql, np, p, &r);
    if (rc == 0 && affected)
        *affected = db_affected(r);
    PQclear(r);
    return rc;
}

/* ---------------------------------------------------------------------------- submission */

/* [{"id","type","depends_on","level","retries"}] of p's steps, as text (caller frees). */
static char *sp_steps_text(const struct plan *p)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < p->nsteps; i++) {
        const struct plan_step *st = &p->steps[i];
        json_t *deps = json_array();
        for (size_t j = 0; deps && j < st->ndeps; j++)
            json_array_append_new(deps, json_string(p->steps[st->deps[j]].id));
        json_array_append_new(arr, json_pack("{s:s, s:s, s:o?, s:i, s:i}", "id", st->id, "type",
                                             plan_type_name(st->type), "depends_on", deps, "level",
                                             st->level, "retries", st->retries));
    }
    char *text = arr && json_array_size(arr) == p->nsteps ? json_dumps(arr, JSON_COMPACT) : NULL;
    json_decref(arr);
    return text;
}

static int sp_insert(struct db_conn *c, const char *const *p)
{
    int rc = db_conn_query(
        c,
        "INSERT INTO pipeline.plans (id, user_id, owner_role, name, dataset_id, dataset_version, "
        "target_column, task_type, spec) VALUES ($1::uuid, $2::uuid, $3, $4, $5::uuid, $6, $7, "
        "$8, $9::jsonb)",
        9, p, NULL);
    if (rc == 0)
        rc = db_conn_query(
            c,
            "INSERT INTO pipeline.plan_steps (plan_id, step_id, position, type, depends_on, level, "
            "retries) SELECT $1::uuid, e.v->>'id', (e.n - 1)::int, e.v->>'type', "
            "e.v->'depends_on', "
            "(e.v->>'level')::int, (e.v->>'retries')::int FROM jsonb_array_elements($2::jsonb) "
            "WITH ORDINALITY AS e(v, n)",
            2, (const char *const[]){p[0], p[9]}, NULL);
    return rc;
}

int store_plan_create(struct svc *s, const char *id, const char *user, const char *role,
                      const struct plan *p, const char *dataset_version, json_t **out)
{
    json_t *spec = plan_to_json(p);
    char *spec_text = spec ? json_dumps(spec, JSON_COMPACT) : NULL;
    char *steps_text = sp_steps_text(p);
    json_decref(spec);
    int rc = -ENOMEM;
    if (!spec_text || !steps_text)
        goto out;
    const char *task = p->task == ML_CLASSIFICATION ? "classification"
                       : p->task == ML_REGRESSION   ? "regression"
                                                    : NULL;
    const char *params[] = {id,
                            user,
                            role && *role ? role : "user",
                            *p->name ? p->name : NULL,
                            p->dataset_id,
                            dataset_version && *dataset_version ? dataset_version : NULL,
                            p->target_column,
                            task,
                            spec_text,
                            steps_text};
    struct db_conn *c = NULL;
    rc = db_acquire(s->db, DB_ACQUIRE_TIMEOUT_MS, &c);
    if (rc)
        goto out;
    rc = db_begin(c);
    if (rc == 0)
        rc = sp_insert(c, params);
    if (rc == 0)
        rc = db_commit(c);
    else
        db_rollback(c);
    db_release(c);
    if (rc == 0)
        rc = store_plan_get(s, id, user, 1, out);
out:
    free(spec_text);
    free(steps_text);
    return rc;
}

void store_plan_published(struct svc *s, const char *id)
{
    const char *p[] = {id};
    if (sp_exec(s,
                "UPDATE pipeline.plans SET published_at = now() WHERE id = $1::uuid AND status = "
                "'pending'",
                1, p, NULL) != 0)
        log_warn("could not record that plan %s was published", id);
}

/* ---------------------------------------------------------------------------- reads */

int store_plan_get(struct svc *s, const char *id, const char *user, int admin, json_t **out)
{
    const char *p[] = {id, user, admin ? "true" : "false"};
    return sp_query_json(s,
                         "SELECT " PLAN_JSON "::text FROM pipeline.plans p WHERE p.id = $1::uuid "
                         "AND " PLAN_VISIBLE,
                         3, p, out);
}

int store_plan_cancel(struct svc *s, const char *id, const char *user, int admin, json_t **out,
                      char *status)
{
    const char *p[] = {id, user, admin ? "true" : "false"};
    PGresult *r = NULL;
    int rc = db_query(
        s->db,
        "WITH c AS (UPDATE pipeline.plans p SET status = 'cancelled', error = 'cancelled by the "
        "user', finished_at = now(), updated_at = now() WHERE p.id = $1::uuid AND " PLAN_VISIBLE
        " AND p.status IN ('pending', 'running') RETURNING p.id), s AS (UPDATE "
        "pipeline.plan_steps st SET status = 'cancelled', finished_at = now() FROM c WHERE "
        "st.plan_id = c.id AND st.status IN ('pending', 'running')) SELECT (SELECT count(*) FROM "
        "c), (SELECT p.status FROM pipeline.plans p WHERE p.id = $1::uuid AND " PLAN_VISIBLE ")",
        3, p, &r);
    if (rc)
        return rc;
    const char *n = db_val(r, 0, 0), *was = db_val(r, 0, 1);
    if (!was)
        rc = -ENOENT;
    else if (n && strcmp(n, "0") == 0) {
        snprintf(status, 16, "%s", was);
        rc = -EALREADY;
    }
    PQclear(r);
    return rc ? rc : store_plan_get(s, id, user, admin, out);
}

int store_plan_step_output(struct svc *s, const char *id, const char *step, const char *user,
                           int admin, char *status, char *output, enum plan_step_type *type)
{
    const char *p[] = {id, user, admin ? "true" : "false", step};
    PGresult *r = NULL;
    int rc = db_query(s->db,
                      "SELECT st.status, coalesce(st.output_sha256, ''), st.type FROM "
                      "pipeline.plan_steps st JOIN pipeline.plans p ON p.id = st.plan_id WHERE "
                      "p.id = $1::uuid AND " PLAN_VISIBLE " AND st.step_id = $4",
                      4, p, &r);
    if (rc)
        return rc;
    if (PQntuples(r) != 1 || plan_type_parse(db_val(r, 0, 2), type) != 0)
        rc = -ENOENT;
    else {
        snprintf(status, 16, "%s", db_val(r, 0, 0));
        snprintf(output, BLOB_ID_LEN + 1, "%s", db_val(r, 0, 1));
    }
    PQclear(r);
    return rc;
}

int store_plan_delete(struct svc *s, const char *id, const char *user, int admin)
{
    const char *p[] = {id, user, admin ? "true" : "false"};
    int64_t n = 0;
    int rc = sp_exec(s, "DELETE FROM pipeline.plans p WHERE p.id = $1::uuid AND " PLAN_VISIBLE, 3,
                     p, &n);
    return rc ? rc : n == 1 ? 0 : -ENOENT;
}

/* ---------------------------------------------------------------------------- executor */

void store_plan_row_release(struct plan_row *r)
{
    if (!r)
        return;
    json_decref(r->spec);
    r->spec = NULL;
}

/* After a claim that changed nothing: -ENOENT (no plan) or -EALREADY. */
static int sp_claim_refused(struct svc *s, const char *id)
{
    const char *p[] = {id};
    PGresult *r = NULL;
    int rc = db_query(s->db, "SELECT status FROM pipeline.plans WHERE id = $1::uuid", 1, p, &r);
    if (rc == 0)
        rc = PQntuples(r) == 1 ? -EALREADY : -ENOENT;
    PQclear(r);
    return rc;
}

int store_plan_claim(struct svc *s, const char *id, const char *worker, long lease_s,
                     struct plan_row *out)
{
    char lease[24];
    snprintf(lease, sizeof(lease), "%ld", lease_s);
    const char *p[] = {id, worker, lease};
    PGresult *r = NULL;
    int rc = db_query(
        s->db,
        "UPDATE pipeline.plans p SET status = 'running', worker_id = $2, heartbeat_at = now(), "
        "attempts = p.attempts + 1, started_at = coalesce(p.started_at, now()), updated_at = "
        "now() WHERE p.id = $1::uuid AND (p.status = 'pending' OR (p.status = 'running' AND "
        "p.heartbeat_at < now() - make_interval(secs => $3::float8))) RETURNING p.user_id, "
        "p.owner_role, coalesce(p.dataset_version, ''), p.spec::text, p.attempts",
        3, p, &r);
    if (rc)
        return rc;
    if (PQntuples(r) != 1) {
        PQclear(r);
        return sp_claim_refused(s, id);
    }
    struct plan_row row;
    memset(&row, 0, sizeof(row));
    snprintf(row.id, sizeof(row.id), "%s", id);
    snprintf(row.user_id, sizeof(row.user_id), "%s", db_val(r, 0, 0));
    snprintf(row.owner_role, sizeof(row.owner_role), "%s", db_val(r, 0, 1));
    snprintf(row.dataset_version, sizeof(row.dataset_version), "%s", db_val(r, 0, 2));
    row.spec = json_loads(db_val(r, 0, 3), 0, NULL);
    int64_t attempts = 0;
    rc = db_val_i64(r, 0, 4, &attempts) == 0 && row.spec ? 0 : -EIO;
    row.attempts = (long)attempts;
    PQclear(r);
    if (rc == 0)
        rc = sp_exec(s,
                     "UPDATE pipeline.plan_steps SET status = 'pending', attempts = 0, cache_key = "
                     "NULL, cache_hit = NULL, output_sha256 = NULL, result = NULL, error = NULL, "
                     "started_at = NULL, finished_at = NULL, duration_ms = NULL WHERE plan_id = "
                     "$1::uuid",
                     1, p, NULL);
    if (rc) {
        store_plan_row_release(&row);
        return rc;
    }
    *out = row;
    return 0;
}

/* An UPDATE of the plan that must hit worker's running plan: 0 or -ECANCELED. */
static int sp_mine(struct svc *s, const char *sql, int np, const char *const *p)
{
    int64_t n = 0;
    int rc = sp_exec(s, sql, np, p, &n);
    return rc ? rc : n == 1 ? 0 : -ECANCELED;
}

int store_plan_heartbeat(struct svc *s, const char *id, const char *worker)
{
    const char *p[] = {id, worker};
    return sp_mine(s,
                   "UPDATE pipeline.plans SET heartbeat_at = now() WHERE id = $1::uuid AND status "
                   "= 'running' AND worker_id = $2",
                   2, p);
}

int store_plan_set_data(struct svc *s, const char *id, const char *version, const char *task,
                        const json_t *reason)
{
    char *text = reason ? json_dumps(reason, JSON_COMPACT) : NULL;
    const char *p[] = {id, version, task, text};
    int rc = sp_exec(s,
                     "UPDATE pipeline.plans SET dataset_version = coalesce($2, dataset_version), "
                     "task_type = coalesce($3, task_type), task_type_reason = coalesce($4::jsonb, "
                     "task_type_reason), updated_at = now() WHERE id = $1::uuid",
                     4, p, NULL);
    free(text);
    return rc;
}

int store_plan_finish(struct svc *s, const char *id, const char *worker, const char *status,
                      const char *error)
{
    const char *p[] = {id, worker, status, error};
    return sp_mine(s,
                   "UPDATE pipeline.plans SET status = $3, error = $4, finished_at = now(), "
                   "updated_at = now() WHERE id = $1::uuid AND status = 'running' AND worker_id = "
                   "$2",
                   4, p);
}

int store_plan_release(struct svc *s, const char *id, const char *worker)
{
    const char *p[] = {id, worker};
    /* SELECT from r: one row when the plan was released (PQcmdTuples counts it) */
    return sp_mine(s,
                   "WITH r AS (UPDATE pipeline.plans SET status = 'pending', worker_id = NULL, "
                   "heartbeat_at = NULL, attempts = greatest(attempts - 1, 0), updated_at = "
                   "now() WHERE id = $1::uuid AND status = 'running' AND worker_id = $2 "
                   "RETURNING id), st AS (UPDATE pipeline.plan_steps st SET status = 'pending', "
                   "started_at = NULL, finished_at = NULL, duration_ms = NULL FROM r WHERE "
                   "st.plan_id = r.id AND st.status IN ('running', 'cancelled')) SELECT id FROM r",
                   2, p);
}

int store_plan_step(struct svc *s, const char *plan_id, const char *step_id,
                    const struct plan_step_update *u)
{
    char attempts[16] = "", hit[8] = "";
    if (u->attempts >= 0)
        snprintf(attempts, sizeof(attempts), "%d", u->attempts);
    if (u->cache_hit >= 0)
        snprintf(hit, sizeof(hit), "%s", u->cache_hit ? "true" : "false");
    char *result = u->result ? json_dumps(u->result, JSON_COMPACT) : NULL;
    if (u->result && !result)
        return -ENOMEM;
    const char *p[] = {plan_id,
                       step_id,
                       u->status,
                       *attempts ? attempts : NULL,
                       u->cache_key,
                       *hit ? hit : NULL,
                       u->output,
                       result,
                       u->error,
                       u->started ? "true" : "false",
                       u->finished ? "true" : "false"};
    int rc = sp_exec(
        s,
        "UPDATE pipeline.plan_steps st SET status = coalesce($3, st.status), attempts = "
        "coalesce($4::int, st.attempts), cache_key = coalesce($5, st.cache_key), cache_hit = "
        "coalesce($6::boolean, st.cache_hit), output_sha256 = coalesce($7, st.output_sha256), "
        "result = coalesce($8::jsonb, st.result), error = coalesce($9, st.error), started_at = "
        "CASE WHEN $10::boolean THEN clock_timestamp() ELSE st.started_at END, finished_at = CASE "
        "WHEN $11::boolean THEN clock_timestamp() WHEN $10::boolean THEN NULL ELSE "
        "st.finished_at END, duration_ms = CASE WHEN $11::boolean THEN round((extract(epoch FROM "
        "clock_timestamp() - st.started_at) * 1000)::numeric, 3) WHEN $10::boolean THEN NULL "
        "ELSE st.duration_ms END FROM pipeline.plans p WHERE st.plan_id = $1::uuid AND "
        "st.step_id = $2 AND p.id = st.plan_id AND p.status = 'running'",
        11, p, NULL);
    free(result);
    return rc;
}

int store_plan_steps_end(struct svc *s, const char *plan_id, const char *status)
{
    const char *p[] = {plan_id, status};
    return sp_exec(
        s,
        "UPDATE pipeline.plan_steps SET status = $2, finished_at = coalesce(finished_at, "
        "clock_timestamp()) WHERE plan_id = $1::uuid AND status IN ('pending', "
        "'running')",
        2, p, NULL);
}

/* ---------------------------------------------------------------------------- sweeper */

int store_plan_reap(struct svc *s, long lease_s, long max_attempts, json_t **out)
{
    char lease[24], maxa[24];
    snprintf(lease, sizeof(lease), "%ld", lease_s);
    snprintf(maxa, sizeof(maxa), "%ld", max_attempts);
    const char *p[] = {lease, maxa};
    return sp_query_json(
        s,
        "WITH dead AS (SELECT id FROM pipeline.plans WHERE status = 'running' AND heartbeat_at < "
        "now() - make_interval(secs => $1::int) FOR UPDATE SKIP LOCKED), upd AS (UPDATE "
        "pipeline.plans p SET status = CASE WHEN p.attempts >= $2::int THEN 'failed' ELSE "
        "'pending' END, error = CASE WHEN p.attempts >= $2::int THEN 'worker stopped responding ("
        "' || p.attempts || ' attempts)' END, finished_at = CASE WHEN p.attempts >= $2::int THEN "
        "now() END, worker_id = NULL, heartbeat_at = NULL, published_at = NULL, updated_at = "
        "now() FROM dead WHERE p.id = dead.id RETURNING p.id, p.user_id, p.status, p.attempts), "
        "st AS (UPDATE pipeline.plan_steps st SET status = CASE WHEN upd.status = 'pending' THEN "
        "'pending' WHEN st.status = 'running' THEN 'failed' ELSE 'skipped' END, error = CASE "
        "WHEN upd.status = 'failed' AND st.status = 'running' THEN 'worker stopped responding' "
        "ELSE st.error END FROM upd WHERE st.plan_id = upd.id AND st.status IN ('pending', "
        "'running')) SELECT coalesce(jsonb_agg(jsonb_build_object('id', id, 'user_id', user_id, "
        "'status', status, 'attempts', attempts)), '[]'::jsonb)::text FROM upd",
        2, p, out);
}

int store_plan_due(struct svc *s, long republish_s, json_t **out)
{
    char secs[24];
    snprintf(secs, sizeof(secs), "%ld", republish_s);
    const char *p[] = {secs};
    return sp_query_json(
        s,
        "WITH due AS (SELECT id FROM pipeline.plans WHERE status = 'pending' AND (published_at "
        "IS NULL AND updated_at < now() - interval '1 second' OR published_at < now() - "
        "make_interval(secs => $1::int)) ORDER BY created_at LIMIT 100 FOR UPDATE SKIP LOCKED), "
        "upd AS (UPDATE pipeline.plans p SET published_at = now() FROM due WHERE p.id = due.id "
        "RETURNING p.id, p.user_id) SELECT coalesce(jsonb_agg(jsonb_build_object('id', id, "
        "'user_id', user_id)), '[]'::jsonb)::text FROM upd",
        1, p, out);
}

/* ---------------------------------------------------------------------------- cache */

int store_plan_cache_get(struct svc *s, const char *user, const char *key, char *output,
                         json_t **result)
{
    const char *p[] = {user, key};
    PGresult *r = NULL;
    int rc = db_query(s->db,
                      "UPDATE pipeline.plan_cache SET hits = hits + 1, last_hit_at = now() WHERE "
                      "user_id = $1::uuid AND cache_key = $2 RETURNING output_sha256, result::text",
                      2, p, &r);
    if (rc)
        return rc;
    if (PQntuples(r) != 1 || !db_val(r, 0, 0)) {
        PQclear(r);
        return -ENOENT;
    }
    json_t *res = db_val(r, 0, 1) ? json_loads(db_val(r, 0, 1), 0, NULL) : NULL;
    if (db_val(r, 0, 1) && !res)
        rc = -EIO;
    else {
        snprintf(output, BLOB_ID_LEN + 1, "%s", db_val(r, 0, 0));
        *result = res;
    }
    PQclear(r);
    return rc;
}

int store_plan_cache_put(struct svc *s, const char *plan_id, const char *key,
                         enum plan_step_type type, const char *output, const char *media_type,
                         const json_t *result)
{
    char *text = result ? json_dumps(result, JSON_COMPACT) : NULL;
    if (result && !text)
        return -ENOMEM;
    const char *p[] = {plan_id, key, plan_type_name(type), output, media_type, text};
    int64_t n = 0;
    int rc = sp_exec(s,
                     "INSERT INTO pipeline.plan_cache (user_id, cache_key, step_type, "
                     "output_sha256, media_type, result) SELECT p.user_id, $2, $3, $4, $5, "
                     "$6::jsonb FROM pipeline.plans p WHERE p.id = $1::uuid AND p.status = "
                     "'running' ON CONFLICT (user_id, cache_key) DO UPDATE SET output_sha256 = "
                     "EXCLUDED.output_sha256, media_type = EXCLUDED.media_type, result = "
                     "EXCLUDED.result, created_at = now()",
                     6, p, &n);
    free(text);
    return rc ? rc : n == 1 ? 0 : -ECANCELED;
}

/* ---------------------------------------------------------------------------- data rights */

int store_plans_artifact_referenced(struct svc *s, const char *id)
{
    const char *p[] = {id};
    PGresult *r = NULL;
    int rc = db_query(s->db,
                      "SELECT EXISTS (SELECT 1 FROM pipeline.plan_cache WHERE output_sha256 = $1) "
                      "OR EXISTS (SELECT 1 FROM pipeline.plan_steps WHERE output_sha256 = $1)",
                      1, p, &r);
    if (rc)
        return rc;
    rc = db_val(r, 0, 0) && strcmp(db_val(r, 0, 0), "t") == 0;
    PQclear(r);
    return rc;
}

json_t *store_plans_export_user(struct svc *s, const char *user_id)
{
    const char *p[] = {user_id};
    json_t *doc = NULL;
    if (sp_query_json(
            s,
            "SELECT jsonb_build_object('plans', coalesce((SELECT jsonb_agg(" PLAN_JSON
            " || jsonb_build_object('spec', p.spec) ORDER BY p.created_at, p.id) FROM "
            "pipeline.plans p WHERE p.user_id = $1::uuid), '[]'::jsonb), 'plan_cache', "
            "coalesce((SELECT jsonb_agg(jsonb_build_object('cache_key', c.cache_key, "
            "'step_type', c.step_type, 'output_sha256', c.output_sha256, 'media_type', "
            "c.media_type, 'hits', c.hits, 'created_at', c.created_at, 'last_hit_at', "
            "c.last_hit_at) ORDER BY c.created_at, c.cache_key) FROM pipeline.plan_cache c "
            "WHERE c.user_id = $1::uuid), '[]'::jsonb))::text",
            1, p, &doc) != 0 ||
        !json_is_object(doc)) {
        json_decref(doc);
        return NULL;
    }
    return doc;
}

int store_plans_erase_user(struct svc *s, const char *user_id)
{
    const char *p[] = {user_id};
    PGresult *r = NULL;
    /* the artifacts the user's rows reference, collected before the rows go */
    int rc = db_query(s->db,
                      "WITH d AS (DELETE FROM pipeline.plans p WHERE p.user_id = $1::uuid "
                      "RETURNING p.id), o AS (SELECT st.output_sha256 AS h FROM "
                      "pipeline.plan_steps st JOIN d ON st.plan_id = d.id WHERE st.output_sha256 "
                      "IS NOT NULL), c AS (DELETE FROM pipeline.plan_cache c WHERE c.user_id = "
                      "$1::uuid RETURNING c.output_sha256 AS h) SELECT DISTINCT h FROM (SELECT h "
                      "FROM o UNION ALL SELECT h FROM c) x",
                      1, p, &r);
    if (rc)
        return rc;
    int n = PQntuples(r);
    for (int i = 0; i < n; i++)
        artifact_release(s, db_val(r, i, 0));
    PQclear(r);
    return 0;
}
