/* store_catalogue: the SQL of the catalogue: dataset access, updates and deletion, scoring
 * candidates, similar datasets, domains and tasks, projects and ethical templates. */
#include "selection.h"

#include <ibx/ids.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Datasets the caller may see: not private, owned, or the caller is admin. VISIBLE2 takes
 * the caller as $2 and admin as $3, VISIBLE1 as $1 and $2. */
#define VISIBLE2 "(d.access IS DISTINCT FROM 'private' OR d.owner_id = $2::uuid OR $3::boolean)"
#define VISIBLE1 "(d.access IS DISTINCT FROM 'private' OR d.owner_id = $1::uuid OR $2::boolean)"

/* The rows of the catalogue that a scoring request considers at most. */
#define SCORE_MAX_ROWS "10000"

/* A query answering one JSON value; JSON null becomes -ENOENT. */
static int sc_json(struct svc *s, const char *sql, int n, const char *const *p, json_t **out)
{
    json_t *v = NULL;
    int rc = db_query_json(s->db, sql, n, p, &v);
    if (rc)
        return rc;
    if (json_is_null(v)) {
        json_decref(v);
        return -ENOENT;
    }
    *out = v;
    return 0;
}

static int sc_exec(struct svc *s, const char *sql, int n, const char *const *p, int64_t *affected)
{
    PGresult *r = NULL;
    int rc = db_query(s->db, sql, n, p, &r);
    if (rc == 0 && affected)
        *affected = db_affected(r);
    PQclear(r);
    return rc;
}

int store_dataset_perm(struct svc *s, const char *id, const char *user, int admin, int *can_edit)
{
    const char *p[] = {id, user, admin ? "true" : "false"};
    PGresult *r = NULL;
    int rc = db_query(s->db,
                      "SELECT d.owner_id IS NOT DISTINCT FROM $2::uuid OR $3::boolean "
                      "FROM selection.datasets d WHERE d.id = $1::uuid AND " VISIBLE2,
                      3, p, &r);
    if (rc)
        return rc;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return -ENOENT;
    }
    *can_edit = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    return 0;
}

int store_dataset_row(struct svc *s, const char *id, const char *user, int admin, json_t **out)
{
    const char *p[] = {id, user, admin ? "true" : "false"};
    return sc_json(s,
                   "SELECT coalesce((SELECT to_jsonb(d) FROM selection.datasets d "
                   "WHERE d.id = $1::uuid AND " VISIBLE2 "), 'null'::jsonb)",
                   3, p, out);
}

int store_dataset_values(struct svc *s, const char *user, int admin, int tasks, json_t **out)
{
    const char *p[] = {user, admin ? "true" : "false"};
    /* the column comes from this choice, never from the client */
    const char *sql =
        tasks ? "SELECT coalesce(json_agg(v ORDER BY v), '[]') FROM (SELECT "
                "DISTINCT unnest(d.task) v FROM selection.datasets d WHERE " VISIBLE1 ") t"
              : "SELECT coalesce(json_agg(v ORDER BY v), '[]') FROM (SELECT "
                "DISTINCT unnest(d.domain) v FROM selection.datasets d WHERE " VISIBLE1 ") t";
    return sc_json(s, sql, 2, p, out);
}

/* "col = r.col, ..." for the settable fields present in patch (names from meta_fields). */
static int sc_set_list(const json_t *patch, char *set, size_t len)
{
    size_t used = 0;
    for (size_t i = 0; i < meta_nfields; i++) {
        const char *f = meta_fields[i].name;
        if (!json_object_get(patch, f))
            continue;
        int arr = strcmp(f, "domain") == 0 || strcmp(f, "task") == 0;
        int n = snprintf(set + used, len - used,
                         arr ? "%s = coalesce(r.%s, '{}'), " : "%s = r.%s, ", f, f);
        if (n < 0 || (size_t)n >= len - used)
            return -EMSGSIZE;
        used += (size_t)n;
    }
    return 0;
}

int store_update_dataset(struct svc *s, const char *id, const json_t *patch, json_t **out)
{
    char set[4096] = "", sql[5120];
    int rc = sc_set_list(patch, set, sizeof(set));
    if (rc)
        return rc;
    snprintf(sql, sizeof(sql),
             "WITH u AS (UPDATE selection.datasets d SET %s updated_at = now() FROM "
             "jsonb_populate_record(NULL::selection.datasets, $2::jsonb) r WHERE d.id = $1::uuid "
             "RETURNING d.*) SELECT coalesce((SELECT to_jsonb(u) FROM u), 'null'::jsonb)",
             set);
    char *body = json_dumps(patch, JSON_COMPACT);
    if (!body)
        return -ENOMEM;
    const char *p[] = {id, body};
    rc = sc_json(s, sql, 2, p, out);
    free(body);
    return rc;
}

/* Inside the deletion transaction: the blob ids of the dataset's files as a JSON array. */
static int sc_file_blobs(struct db_conn *c, const char *id, json_t **out)
{
    const char *p[] = {id};
    PGresult *r = NULL;
    int rc = db_conn_query(c,
                           "SELECT coalesce(json_agg(DISTINCT b), '[]') FROM (SELECT f.blob_id b "
                           "FROM selection.dataset_files f WHERE f.dataset_id = $1::uuid UNION "
                           "SELECT f.columnar_blob_id FROM selection.dataset_files f WHERE "
                           "f.dataset_id = $1::uuid) t",
                           1, p, &r);
    if (rc)
        return rc;
    json_t *v = json_loads(PQgetvalue(r, 0, 0), 0, NULL);
    PQclear(r);
    if (!json_is_array(v)) {
        json_decref(v);
        return -EIO;
    }
    *out = v;
    return 0;
}

static int sc_conn_exec(struct db_conn *c, const char *sql, const char *id, int64_t *affected)
{
    const char *p[] = {id};
    PGresult *r = NULL;
    int rc = db_conn_query(c, sql, 1, p, &r);
    if (rc == 0 && affected)
        *affected = db_affected(r);
    PQclear(r);
    return rc;
}

int store_delete_dataset(struct svc *s, const char *id, json_t **blobs)
{
    struct db_conn *c = NULL;
    json_t *ids = NULL;
    int64_t n = 0;
    int rc = db_acquire(s->db, DB_ACQUIRE_TIMEOUT_MS, &c);
    if (rc)
        return rc;
    rc = db_begin(c);
    if (rc == 0)
        rc = sc_file_blobs(c, id, &ids);
    /* the cached quality report goes with the last dataset of its version */
    if (rc == 0)
        rc = sc_conn_exec(
            c,
            "DELETE FROM selection.quality_reports q USING selection.datasets d "
            "WHERE d.id = $1::uuid AND q.version LIKE d.version || ':%' AND NOT EXISTS "
            "(SELECT 1 FROM selection.datasets o WHERE o.version = d.version AND "
            "o.id <> d.id)",
            id, NULL);
    if (rc == 0)
        rc = sc_conn_exec(c, "DELETE FROM selection.datasets WHERE id = $1::uuid", id, &n);
    if (rc == 0 && n == 0)
        rc = -ENOENT;
    if (rc == 0)
        rc = db_commit(c);
    else
        db_rollback(c);
    db_release(c);
    if (rc) {
        json_decref(ids);
        return rc;
    }
    *blobs = ids;
    return 0;
}

int store_score_candidates(struct svc *s, const char *user, int admin, const struct filter_sql *f,
                           json_t **rows)
{
    const char *p[2 + FILTER_MAX_PARAMS] = {user, admin ? "true" : "false"};
    for (int i = 0; i < f->nparams; i++)
        p[2 + i] = f->params[i];
    size_t len = strlen(f->where) + 512;
    char *sql = malloc(len);
    if (!sql)
        return -ENOMEM;
    snprintf(sql, len,
             "SELECT coalesce(json_agg(t), '[]') FROM (SELECT d.* FROM selection.datasets d "
             "WHERE " VISIBLE1 " AND %s ORDER BY d.name LIMIT " SCORE_MAX_ROWS ") t",
             f->where);
    int rc = sc_json(s, sql, 2 + f->nparams, p, rows);
    free(sql);
    return rc;
}

int store_similar(struct svc *s, const char *id, const char *user, int admin, long limit,
                  json_t **rows)
{
    char lim[24];
    snprintf(lim, sizeof(lim), "%ld", limit);
    const char *p[] = {id, user, admin ? "true" : "false", lim};
    /* IBIS-X priority: domain and task overlap, domain, task, size within +-50 %, recent */
    return sc_json(
        s,
        "SELECT coalesce(json_agg(t ORDER BY t.priority, t.created_at DESC, t.id), '[]') FROM "
        "(SELECT d.*, CASE WHEN d.domain && x.domain AND d.task && x.task THEN 1 "
        "WHEN d.domain && x.domain THEN 2 WHEN d.task && x.task THEN 3 "
        "WHEN x.instances_number > 0 AND d.instances_number BETWEEN "
        "floor(x.instances_number * 0.5) AND floor(x.instances_number * 1.5) THEN 4 ELSE 5 END "
        "AS priority FROM selection.datasets d JOIN selection.datasets x ON x.id = $1::uuid "
        "WHERE d.id <> x.id AND " VISIBLE2 " ORDER BY priority, d.created_at DESC, d.id "
        "LIMIT $4::int) t",
        4, p, rows);
}

/* ---- projects ---- */

#define PROJECT_JSON                                                                               \
    "jsonb_build_object('id', p.id, 'user_id', p.user_id, 'name', p.name, 'description', "         \
    "p.description, 'criteria', p.criteria, 'weights', p.weights, 'created_at', p.created_at, "    \
    "'updated_at', p.updated_at)"

int store_project_list(struct svc *s, const char *user, long page, long size, json_t **items,
                       long *total)
{
    char lim[24], off[24];
    snprintf(lim, sizeof(lim), "%ld", size);
    snprintf(off, sizeof(off), "%ld", (page - 1) * size);
    const char *p[] = {user, lim, off};
    json_t *v = NULL;
    int rc = sc_json(s,
                     "SELECT jsonb_build_object('total', (SELECT count(*) FROM selection.projects "
                     "WHERE user_id = $1::uuid), 'items', coalesce((SELECT jsonb_agg(x ORDER BY "
                     "x->>'created_at' DESC, x->>'id') FROM (SELECT " PROJECT_JSON " x FROM "
                     "selection.projects p WHERE p.user_id = $1::uuid ORDER BY p.created_at DESC, "
                     "p.id LIMIT $2::bigint OFFSET $3::bigint) t), '[]'::jsonb))",
                     3, p, &v);
    if (rc)
        return rc;
    *total = (long)json_integer_value(json_object_get(v, "total"));
    *items = json_incref(json_object_get(v, "items"));
    json_decref(v);
    return 0;
}

int store_project_get(struct svc *s, const char *id, const char *user, json_t **out)
{
    const char *p[] = {id, user};
    return sc_json(s,
                   "SELECT coalesce((SELECT " PROJECT_JSON " FROM selection.projects p WHERE "
                   "p.id = $1::uuid AND p.user_id = $2::uuid), 'null'::jsonb)",
                   2, p, out);
}

int store_project_create(struct svc *s, const char *user, const json_t *fields, json_t **out)
{
    char id[IDS_UUID_LEN + 1];
    ids_uuid4(id);
    char *body = json_dumps(fields, JSON_COMPACT);
    if (!body)
        return -ENOMEM;
    const char *p[] = {id, user, body};
    int rc = sc_json(s,
                     "WITH i AS (INSERT INTO selection.projects (id, user_id, name, description, "
                     "criteria, weights) SELECT $1::uuid, $2::uuid, b->>'name', b->>'description', "
                     "coalesce(b->'criteria', '{}'), coalesce(b->'weights', '[]') FROM (SELECT "
                     "$3::jsonb b) x RETURNING *) SELECT (SELECT " PROJECT_JSON " FROM i p)",
                     3, p, out);
    free(body);
    return rc;
}

int store_project_update(struct svc *s, const char *id, const char *user, const json_t *fields,
                         json_t **out)
{
    char *body = json_dumps(fields, JSON_COMPACT);
    if (!body)
        return -ENOMEM;
    const char *p[] = {id, user, body};
    /* a key present in $3 replaces the column; an absent one keeps it */
    int rc = sc_json(
        s,
        "WITH u AS (UPDATE selection.projects p SET "
        "name = CASE WHEN $3::jsonb ? 'name' THEN $3::jsonb->>'name' ELSE p.name END, "
        "description = CASE WHEN $3::jsonb ? 'description' THEN $3::jsonb->>'description' "
        "ELSE p.description END, "
        "criteria = CASE WHEN $3::jsonb ? 'criteria' THEN $3::jsonb->'criteria' ELSE p.criteria "
        "END, weights = CASE WHEN $3::jsonb ? 'weights' THEN $3::jsonb->'weights' ELSE p.weights "
        "END, updated_at = now() WHERE p.id = $1::uuid AND p.user_id = $2::uuid RETURNING *) "
        "SELECT coalesce((SELECT " PROJECT_JSON " FROM u p), 'null'::jsonb)",
        3, p, out);
    free(body);
    return rc;
}

int store_project_delete(struct svc *s, const char *id, const char *user)
{
    const char *p[] = {id, user};
    int64_t n = 0;
    int rc = sc_exec(s, "DELETE FROM selection.projects WHERE id = $1::uuid AND user_id = $2::uuid",
                     2, p, &n);
    return rc ? rc : (n ? 0 : -ENOENT);
}

/* ---- ethical templates ---- */

int store_templates_get(struct svc *s, json_t **out)
{
    return sc_json(s,
                   "SELECT coalesce(jsonb_object_agg(t.domain, to_jsonb(t) - 'domain' - "
                   "'updated_at'), '{}'::jsonb) FROM selection.ethical_templates t",
                   0, NULL, out);
}

int store_templates_put(struct svc *s, const json_t *templates)
{
    char *body = json_dumps(templates, JSON_COMPACT);
    if (!body)
        return -ENOMEM;
    const char *p[] = {body};
    struct db_conn *c = NULL;
    PGresult *r = NULL;
    int rc = db_acquire(s->db, DB_ACQUIRE_TIMEOUT_MS, &c);
    if (rc == 0)
        rc = db_begin(c);
    if (rc == 0)
        rc = db_conn_query(c, "DELETE FROM selection.ethical_templates", 0, NULL, NULL);
    if (rc == 0)
        rc = db_conn_query(c,
                           "INSERT INTO selection.ethical_templates SELECT (jsonb_populate_record("
                           "NULL::selection.ethical_templates, e.value || jsonb_build_object("
                           "'domain', e.key, 'updated_at', now()))).* FROM jsonb_each($1::jsonb) e",
                           1, p, &r);
    PQclear(r);
    if (rc == 0)
        rc = db_commit(c);
    else if (c)
        db_rollback(c);
    db_release(c);
    free(body);
    return rc;
}
