/* store_expl: the SQL of explanations: submission (Idempotency-Key, per-user limit),
 * reads, cancel and delete, the worker's claim, progress and outcome, and the sweeper's
 * re-queueing. Rows are the owner's only: another user's id reads as absent. */
#include "engine.h"

#include <ibx/ids.h>
#include <ibx/jobrow.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The explanation as the API shows it (x is the row). */
#define EXPL_JSON                                                                                  \
    "jsonb_build_object('id', x.id, 'user_id', x.user_id, 'experiment_id', x.experiment_id, "      \
    "'dataset_id', x.dataset_id, 'dataset_version', x.dataset_version, 'model_sha256', "           \
    "x.model_sha256, 'algorithm', x.algorithm, 'task_type', x.task_type, 'explanation_type', "     \
    "x.explanation_type, 'method', x.method, 'method_used', x.method_used, 'method_reason', "      \
    "x.method_reason, 'audience_level', x.audience_level, 'audience_source', x.audience_source, "  \
    "'language', x.language, 'instance', x.instance, 'instance_index', x.instance_index, "         \
    "'options', x.options, 'seed', x.seed, 'status', x.status, 'progress', x.progress, 'stage', "  \
    "x.stage, 'error', x.error, 'attempts', x.attempts, 'has_results', x.result IS NOT NULL, "     \
    "'result_sha256', x.result_sha256, 'timings', x.timings, 'created_at', x.created_at, "         \
    "'started_at', x.started_at, 'finished_at', x.finished_at, 'updated_at', x.updated_at)"

#define XE_TABLE "xai.explanations"

static void copy_val(char *dst, size_t n, const char *v)
{
    snprintf(dst, n, "%s", v ? v : "");
}

/* One JSON value from a query with one row and column; -ENOENT without a row. */
static int one_json(struct svc *s, const char *sql, int np, const char *const *p, json_t **out)
{
    PGresult *r = NULL;
    int rc = db_query(s->db, sql, np, p, &r);
    if (rc)
        return rc;
    json_t *v = PQntuples(r) == 1 && db_val(r, 0, 0) ? json_loads(db_val(r, 0, 0), 0, NULL) : NULL;
    int rows = PQntuples(r);
    PQclear(r);
    if (!v)
        return rows == 1 ? -EIO : -ENOENT;
    *out = v;
    return 0;
}

/* An UPDATE of this worker's running row: 0, or -ECANCELED when no row matched. */
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

/* ------------------------------------------------------------------ submission */

static json_t *new_json(const struct xe_new *n)
{
    const struct xe_request *r = n->req;
    const json_t *e = n->experiment;
    json_t *j = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:s?, s:s?, s:s?, s:s?, s:s?, s:I}",
        "experiment_id", r->experiment_id, "explanation_type", xe_type_name(r->type), "method",
        xe_method_name(r->method), "method_used", xe_used_name(n->used), "method_reason",
        n->method_reason, "audience_level", xe_audience_name(n->audience), "audience_source",
        n->audience_source, "language", xe_lang_name(r->lang), "options",
        xreq_options_json(&r->opt), "algorithm", json_string_value(json_object_get(e, "algorithm")),
        "task_type", json_string_value(json_object_get(e, "task_type")), "dataset_id",
        json_string_value(json_object_get(e, "dataset_id")), "dataset_version",
        json_string_value(json_object_get(e, "dataset_version")), "model_sha256",
        json_string_value(json_object_get(e, "model_sha256")), "seed",
        (json_int_t)(r->opt.seed >= 0 ? r->opt.seed : 0));
    if (j && r->instance)
        json_object_set(j, "instance", r->instance);
    if (j && r->instance_index >= 0)
        json_object_set_new(j, "instance_index", json_integer(r->instance_index));
    return j;
}

struct create_ctx {
    const struct xe_new *n;
    long max_active;
};

/* Insert the row unless the user has max_active pending or running (-EDQUOT). */
static int create_insert(struct db_conn *c, void *ctx, json_t **out)
{
    const struct xe_new *n = ((const struct create_ctx *)ctx)->n;
    long max_active = ((const struct create_ctx *)ctx)->max_active;
    char id[37], maxa[24];
    ids_uuid4(id);
    snprintf(maxa, sizeof(maxa), "%ld", max_active);
    json_t *j = new_json(n);
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!text)
        return -ENOMEM;
    const char *p[] = {id, n->user_id, n->role, text, n->idem_key, n->request_hash, maxa};
    PGresult *r = NULL;
    int rc = db_conn_query(
        c,
        "INSERT INTO xai.explanations AS x (id, user_id, owner_role, experiment_id, "
        "explanation_type, method, method_used, method_reason, audience_level, "
        "audience_source, language, options, algorithm, task_type, dataset_id, "
        "dataset_version, model_sha256, seed, instance, instance_index, idempotency_key, "
        "request_hash) SELECT $1::uuid, $2::uuid, $3, (j->>'experiment_id')::uuid, "
        "j->>'explanation_type', j->>'method', j->>'method_used', j->>'method_reason', "
        "j->>'audience_level', j->>'audience_source', j->>'language', j->'options', "
        "j->>'algorithm', j->>'task_type', (j->>'dataset_id')::uuid, j->>'dataset_version', "
        "j->>'model_sha256', (j->>'seed')::bigint, j->'instance', (j->>'instance_index')::int, "
        "$5, $6 FROM (SELECT $4::jsonb AS j) q WHERE (SELECT count(*) FROM xai.explanations a "
        "WHERE a.user_id = $2::uuid AND a.status IN ('pending', 'running')) < $7::int "
        "RETURNING " EXPL_JSON "::text",
        7, p, &r);
    free(text);
    if (rc)
        return rc;
    json_t *v = PQntuples(r) == 1 ? json_loads(db_val(r, 0, 0), 0, NULL) : NULL;
    rc = PQntuples(r) == 1 ? (v ? 0 : -EIO) : -EDQUOT;
    PQclear(r);
    if (!rc)
        *out = v;
    return rc;
}

int store_expl_create(struct svc *s, const struct xe_new *n, long max_active, json_t **out,
                      int *created)
{
    struct create_ctx ctx = {n, max_active};
    struct jobrow_new jn = {XE_TABLE,        "x",           EXPL_JSON, n->user_id, n->idem_key,
                            n->request_hash, create_insert, &ctx};
    return jobrow_create(s->db, &jn, out, created);
}

void store_expl_published(struct svc *s, const char *id)
{
    jobrow_published(s->db, XE_TABLE, id);
}

/* ------------------------------------------------------------------ reads */

int store_expl_get(struct svc *s, const char *id, const char *user, json_t **out)
{
    const char *p[] = {id, user};
    return one_json(s,
                    "SELECT " EXPL_JSON "::text FROM xai.explanations x WHERE x.id = $1::uuid "
                    "AND x.user_id = $2::uuid",
                    2, p, out);
}

/* status into a 16-byte buffer and a text column (NULL when null) of a user's row. */
static int status_and_text(struct svc *s, const char *sql, int np, const char *const *p,
                           char *status, char **text)
{
    PGresult *r = NULL;
    int rc = db_query(s->db, sql, np, p, &r);
    if (rc)
        return rc;
    if (PQntuples(r) != 1) {
        PQclear(r);
        return -ENOENT;
    }
    copy_val(status, 16, db_val(r, 0, 0));
    const char *t = db_val(r, 0, 1);
    *text = t ? strdup(t) : NULL;
    PQclear(r);
    return t && !*text ? -ENOMEM : 0;
}

int store_expl_result(struct svc *s, const char *id, const char *user, char *status, char **text)
{
    const char *p[] = {id, user};
    return status_and_text(s,
                           "SELECT status, CASE WHEN status = 'completed' THEN result END FROM "
                           "xai.explanations WHERE id = $1::uuid AND user_id = $2::uuid",
                           2, p, status, text);
}

int store_expl_narrative(struct svc *s, const char *id, const char *user, const char *audience,
                         const char *lang, char *status, char **text)
{
    const char *p[] = {id, user, lang, audience};
    return status_and_text(s,
                           "SELECT status, CASE WHEN status = 'completed' THEN narratives -> $3 "
                           "->> $4 END FROM xai.explanations WHERE id = $1::uuid AND user_id = "
                           "$2::uuid",
                           4, p, status, text);
}

int store_expl_state(struct svc *s, const char *id, json_t **out)
{
    const char *p[] = {id};
    return one_json(s,
                    "SELECT jsonb_build_object('id', x.id, 'status', x.status, 'progress', "
                    "x.progress, 'stage', x.stage, 'error', x.error, 'method_used', "
                    "x.method_used, 'updated_at', x.updated_at)::text FROM xai.explanations x "
                    "WHERE x.id = $1::uuid",
                    1, p, out);
}

int store_expl_cancel(struct svc *s, const char *id, const char *user, json_t **out, char *status)
{
    const char *p[] = {id, user};
    int rc = one_json(s,
                      "UPDATE xai.explanations x SET status = 'cancelled', finished_at = now(), "
                      "updated_at = now() WHERE x.id = $1::uuid AND x.user_id = $2::uuid AND "
                      "x.status IN ('pending', 'running') RETURNING " EXPL_JSON "::text",
                      2, p, out);
    if (rc != -ENOENT)
        return rc;
    char *none = NULL;
    rc = status_and_text(s,
                         "SELECT status, NULL FROM xai.explanations WHERE id = $1::uuid AND "
                         "user_id = $2::uuid",
                         2, p, status, &none);
    free(none);
    return rc ? rc : -EALREADY;
}

int store_expl_delete(struct svc *s, const char *id, const char *user)
{
    const char *p[] = {id, user};
    PGresult *r = NULL;
    int rc = db_query(
        s->db, "DELETE FROM xai.explanations WHERE id = $1::uuid AND user_id = $2::uuid", 2, p, &r);
    if (rc)
        return rc;
    rc = db_affected(r) == 1 ? 0 : -ENOENT;
    PQclear(r);
    return rc;
}

/* ------------------------------------------------------------------ worker */

void store_expl_row_release(struct xe_row *r)
{
    if (r)
        xreq_release(&r->req);
}

static int row_enums(const PGresult *r, struct xe_row *w)
{
    int type = xe_type_parse(db_val(r, 0, 9)), method = xe_method_parse(db_val(r, 0, 10));
    int used = xe_used_parse(db_val(r, 0, 11)), aud = xe_audience_parse(db_val(r, 0, 12));
    int lang = xe_lang_parse(db_val(r, 0, 13));
    if (type < 0 || method < 0 || used < 0 || aud < 0 || lang < 0)
        return -EIO;
    w->req.type = (enum xe_type)type;
    w->req.method = (enum xe_method)method;
    w->used = (enum xe_used)used;
    w->audience = (enum xe_audience)aud;
    w->req.audience = aud;
    w->req.lang = (enum xe_lang)lang;
    return 0;
}

static int row_from_result(const PGresult *r, struct xe_row *out)
{
    struct xe_row w;
    memset(&w, 0, sizeof(w));
    copy_val(w.id, sizeof(w.id), db_val(r, 0, 0));
    copy_val(w.user_id, sizeof(w.user_id), db_val(r, 0, 1));
    copy_val(w.owner_role, sizeof(w.owner_role), db_val(r, 0, 2));
    copy_val(w.experiment_id, sizeof(w.experiment_id), db_val(r, 0, 3));
    copy_val(w.req.experiment_id, sizeof(w.req.experiment_id), db_val(r, 0, 3));
    copy_val(w.dataset_version, sizeof(w.dataset_version), db_val(r, 0, 4));
    copy_val(w.model_sha256, sizeof(w.model_sha256), db_val(r, 0, 5));
    copy_val(w.algorithm, sizeof(w.algorithm), db_val(r, 0, 6));
    copy_val(w.method_reason, sizeof(w.method_reason), db_val(r, 0, 7));
    int64_t attempts = 0, index = -1;
    json_t *opts = json_loads(db_val(r, 0, 8), 0, NULL);
    int rc = row_enums(r, &w);
    if (!rc && db_val(r, 0, 15))
        rc = db_val_i64(r, 0, 15, &index);
    if (!rc)
        rc = db_val_i64(r, 0, 16, &attempts);
    if (!rc)
        rc = xreq_options_parse(opts, &w.req.opt);
    json_decref(opts);
    w.req.instance = db_val(r, 0, 14) ? json_loads(db_val(r, 0, 14), 0, NULL) : NULL;
    w.req.instance_index = (long)index;
    w.attempts = (long)attempts;
    if (rc || (db_val(r, 0, 14) && !w.req.instance)) {
        store_expl_row_release(&w);
        return -EIO;
    }
    *out = w;
    return 0;
}

int store_expl_claim(struct svc *s, const char *id, const char *worker, struct xe_row *out)
{
    const char *p[] = {id, worker};
    PGresult *r = NULL;
    int rc = db_query(
        s->db,
        "UPDATE xai.explanations SET status = 'running', worker_id = $2, attempts = attempts + "
        "1, heartbeat_at = now(), started_at = coalesce(started_at, now()), progress = 0, "
        "stage = 'loading_model', error = NULL, updated_at = now() WHERE id = $1::uuid AND "
        "status = 'pending' RETURNING id, user_id, owner_role, experiment_id, "
        "coalesce(dataset_version, dataset_id::text, ''), coalesce(model_sha256, ''), "
        "coalesce(algorithm, ''), coalesce(method_reason, ''), options::text, "
        "explanation_type, method, method_used, audience_level, language, instance::text, "
        "instance_index, attempts",
        2, p, &r);
    if (rc)
        return rc;
    if (PQntuples(r) == 1) {
        rc = row_from_result(r, out);
        PQclear(r);
        return rc;
    }
    PQclear(r);
    rc = db_query(s->db, "SELECT 1 FROM xai.explanations WHERE id = $1::uuid", 1, p, &r);
    if (rc)
        return rc;
    rc = PQntuples(r) == 1 ? -EALREADY : -ENOENT;
    PQclear(r);
    return rc;
}

int store_expl_progress(struct svc *s, const char *id, const char *worker, int progress,
                        const char *stage)
{
    return jobrow_progress(s->db, XE_TABLE, id, worker, progress, stage);
}

int store_expl_heartbeat(struct svc *s, const char *id, const char *worker)
{
    return jobrow_heartbeat(s->db, XE_TABLE, id, worker);
}

int store_expl_still_mine(struct svc *s, const char *id, const char *worker)
{
    return jobrow_still_mine(s->db, XE_TABLE, id, worker);
}

int store_expl_complete(struct svc *s, const char *id, const char *worker,
                        const struct xe_outcome *o)
{
    char *nar = json_dumps(o->narratives, JSON_COMPACT);
    char *tim = json_dumps(o->timings, JSON_COMPACT);
    int rc = -ENOMEM;
    if (nar && tim) {
        const char *p[] = {id, worker, o->result_text, o->result_sha256, o->narrative, nar, tim};
        rc = update_mine(s,
                         "UPDATE xai.explanations SET status = 'completed', progress = 100, "
                         "stage = 'done', result = $3, result_sha256 = $4, narrative = $5, "
                         "narratives = $6::jsonb, timings = $7::jsonb, finished_at = now(), "
                         "heartbeat_at = now(), updated_at = now() WHERE id = $1::uuid AND "
                         "worker_id = $2 AND status = 'running'",
                         7, p);
    }
    free(nar);
    free(tim);
    return rc;
}

int store_expl_fail(struct svc *s, const char *id, const char *worker, const char *error,
                    const json_t *timings)
{
    return jobrow_fail(s->db, XE_TABLE, id, worker, error, timings);
}

int store_expl_release(struct svc *s, const char *id, const char *worker)
{
    return jobrow_release(s->db, XE_TABLE, id, worker);
}
