/* store: the gateway's SQL (users, sessions, admin changes, erasure). */
#include "gateway.h"

#include <ibx/ids.h>
#include <ibx/log.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define USER_COLS                                                                                  \
    "id, email, password_hash, coalesce(display_name,''), role, is_active, locale, "               \
    "coalesce(education_level,''), coalesce(age,0), coalesce(ai_familiarity,0), "                  \
    "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

static long store_long(const char *s)
{
    char *end = NULL;
    long v = strtol(s, &end, 10);
    return (end == s) ? 0 : v;
}

static void store_user_row(PGresult *r, int row, struct gw_user *u)
{
    memset(u, 0, sizeof(*u));
    snprintf(u->id, sizeof(u->id), "%s", PQgetvalue(r, row, 0));
    snprintf(u->email, sizeof(u->email), "%s", PQgetvalue(r, row, 1));
    snprintf(u->password_hash, sizeof(u->password_hash), "%s", PQgetvalue(r, row, 2));
    snprintf(u->display_name, sizeof(u->display_name), "%s", PQgetvalue(r, row, 3));
    snprintf(u->role, sizeof(u->role), "%s", PQgetvalue(r, row, 4));
    u->is_active = PQgetvalue(r, row, 5)[0] == 't';
    snprintf(u->locale, sizeof(u->locale), "%s", PQgetvalue(r, row, 6));
    snprintf(u->education_level, sizeof(u->education_level), "%s", PQgetvalue(r, row, 7));
    u->age = store_long(PQgetvalue(r, row, 8));
    u->ai_familiarity = store_long(PQgetvalue(r, row, 9));
    snprintf(u->created_at, sizeof(u->created_at), "%s", PQgetvalue(r, row, 10));
}

/* Run a query expected to return at most one user row. */
static int store_one_user(struct svc *s, const char *sql, int n, const char *const *params,
                          struct gw_user *out)
{
    PGresult *r = NULL;
    int rc = db_query(s->db, sql, n, params, &r);
    if (rc)
        return rc;
    if (PQntuples(r) != 1) {
        PQclear(r);
        return -ENOENT;
    }
    store_user_row(r, 0, out);
    PQclear(r);
    return 0;
}

int store_user_create(struct svc *s, const char *email, const char *hash, const char *display_name,
                      const char *role, struct gw_user *out)
{
    char id[IDS_UUID_LEN + 1];
    ids_uuid4(id);
    const char *p[] = {id, email, hash, display_name, role};
    return store_one_user(
        s,
        "INSERT INTO gateway.users (id, email, password_hash, display_name, role) "
        "VALUES ($1, $2, $3, $4, $5) RETURNING " USER_COLS,
        5, p, out);
}

int store_user_by_email(struct svc *s, const char *email, struct gw_user *out)
{
    const char *p[] = {email};
    return store_one_user(
        s, "SELECT " USER_COLS " FROM gateway.users WHERE lower(email) = lower($1)", 1, p, out);
}

int store_user_by_id(struct svc *s, const char *id, struct gw_user *out)
{
    if (!ids_is_uuid(id))
        return -ENOENT;
    const char *p[] = {id};
    return store_one_user(s, "SELECT " USER_COLS " FROM gateway.users WHERE id = $1", 1, p, out);
}

int store_user_set_role(struct svc *s, const char *id, const char *role)
{
    const char *p[] = {id, role};
    PGresult *r = NULL;
    int rc = db_query(s->db, "UPDATE gateway.users SET role = $2, updated_at = now() WHERE id = $1",
                      2, p, &r);
    if (rc)
        return rc;
    rc = strcmp(PQcmdTuples(r), "1") == 0 ? 0 : -ENOENT;
    PQclear(r);
    return rc;
}

int store_session_create(struct svc *s, const char *user_id, const char *family_id,
                         const char *token_hash, long ttl_s)
{
    char id[IDS_UUID_LEN + 1], ttl[32];
    ids_uuid4(id);
    snprintf(ttl, sizeof(ttl), "%ld", ttl_s);
    const char *p[] = {id, user_id, family_id, token_hash, ttl};
    PGresult *r = NULL;
    int rc =
        db_query(s->db,
                 "INSERT INTO gateway.sessions (id, user_id, family_id, token_hash, expires_at) "
                 "VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5::bigint))",
                 5, p, &r);
    PQclear(r);
    return rc;
}

/* ---- accounts, sessions, admin and data rights ---- */

#define SQL_REVOKE_FAMILY                                                                          \
    "UPDATE gateway.sessions SET revoked_at = now() "                                              \
    "WHERE user_id = $1 AND family_id = $2::uuid AND revoked_at IS NULL"

/* Acquire a connection and open a transaction on it. */
static int store_txn_begin(struct svc *s, struct db_conn **out)
{
    struct db_conn *c = NULL;
    int rc = db_acquire(s->db, DB_ACQUIRE_TIMEOUT_MS, &c);
    if (rc)
        return rc;
    rc = db_begin(c);
    if (rc) {
        db_release(c);
        return rc;
    }
    *out = c;
    return 0;
}

/* Commit (a failing commit replaces rc) or roll back, then release. Returns rc. */
static int store_txn_end(struct db_conn *c, int commit, int rc)
{
    if (commit) {
        int crc = db_commit(c);
        if (crc)
            rc = crc;
    } else {
        db_rollback(c);
    }
    db_release(c);
    return rc;
}

/* Lock the session row of hash and judge it (see store_session_rotate). */
static int store_rotation_lock(struct db_conn *c, const char *hash, char session_id[37],
                               struct gw_rotated *rot)
{
    const char *p[] = {hash};
    PGresult *r = NULL;
    int rc = db_conn_query(c,
                           "SELECT s.id, s.user_id, s.family_id, "
                           "s.revoked_at IS NOT NULL OR s.expires_at <= now(), "
                           "s.rotated_at IS NOT NULL, u.is_active "
                           "FROM gateway.sessions s JOIN gateway.users u ON u.id = s.user_id "
                           "WHERE s.token_hash = $1 FOR UPDATE OF s",
                           1, p, &r);
    if (rc)
        return rc;
    if (PQntuples(r) != 1) {
        PQclear(r);
        return -ENOENT;
    }
    snprintf(session_id, 37, "%s", PQgetvalue(r, 0, 0));
    snprintf(rot->user_id, sizeof(rot->user_id), "%s", PQgetvalue(r, 0, 1));
    snprintf(rot->family_id, sizeof(rot->family_id), "%s", PQgetvalue(r, 0, 2));
    if (PQgetvalue(r, 0, 3)[0] == 't')
        rc = -ENOENT;
    else if (PQgetvalue(r, 0, 4)[0] == 't')
        rc = -EACCES;
    else if (PQgetvalue(r, 0, 5)[0] != 't')
        rc = -EPERM;
    PQclear(r);
    return rc;
}

/* Mark session_id rotated and add the next token of its family. */
static int store_rotation_apply(struct db_conn *c, const char *session_id,
                                const struct gw_rotated *rot, const char *new_hash, long ttl_s)
{
    char id[IDS_UUID_LEN + 1], ttl[32];
    ids_uuid4(id);
    snprintf(ttl, sizeof(ttl), "%ld", ttl_s);
    const char *p[] = {session_id, id, rot->user_id, rot->family_id, new_hash, ttl};
    return db_conn_query(
        c,
        "WITH old AS (UPDATE gateway.sessions SET rotated_at = now() WHERE id = $1) "
        "INSERT INTO gateway.sessions (id, user_id, family_id, token_hash, expires_at) "
        "VALUES ($2, $3, $4, $5, now() + make_interval(secs => $6::bigint))",
        6, p, NULL);
}

int store_session_rotate(struct svc *s, const char *old_hash, const char *new_hash, long ttl_s,
                         struct gw_rotated *out)
{
    struct db_conn *c = NULL;
    int rc = store_txn_begin(s, &c);
    if (rc)
        return rc;
    struct gw_rotated rot;
    char session_id[IDS_UUID_LEN + 1];
    rc = store_rotation_lock(c, old_hash, session_id, &rot);
    if (rc == -EACCES) {
        /* reuse of a rotated token: revoke the family, commit, and still refuse */
        log_fields(LOG_LVL_WARN,
                   json_pack("{s:s, s:s}", "user_id", rot.user_id, "family_id", rot.family_id),
                   "a rotated refresh token was presented again; revoking its session family");
        const char *p[] = {rot.user_id, rot.family_id};
        int vrc = db_conn_query(c, SQL_REVOKE_FAMILY, 2, p, NULL);
        return store_txn_end(c, vrc == 0, vrc ? vrc : -EACCES);
    }
    if (rc == 0)
        rc = store_rotation_apply(c, session_id, &rot, new_hash, ttl_s);
    rc = store_txn_end(c, rc == 0, rc);
    if (rc == 0)
        *out = rot;
    return rc;
}

/* An UPDATE/DELETE whose row count does not matter. */
static int store_exec(struct svc *s, const char *sql, int n, const char *const *p)
{
    return db_query(s->db, sql, n, p, NULL);
}

int store_sessions_revoke_family(struct svc *s, const char *user_id, const char *family_id)
{
    const char *p[] = {user_id, family_id};
    return store_exec(s, SQL_REVOKE_FAMILY, 2, p);
}

int store_sessions_revoke_token_family(struct svc *s, const char *user_id, const char *token_hash)
{
    const char *p[] = {user_id, token_hash};
    return store_exec(s,
                      "UPDATE gateway.sessions SET revoked_at = now() "
                      "WHERE user_id = $1 AND revoked_at IS NULL AND family_id = "
                      "(SELECT family_id FROM gateway.sessions WHERE token_hash = $2 "
                      "AND user_id = $1)",
                      2, p);
}

int store_sessions_purge_expired(struct svc *s, const char *user_id)
{
    const char *p[] = {user_id};
    return store_exec(s, "DELETE FROM gateway.sessions WHERE user_id = $1 AND expires_at < now()",
                      1, p);
}

/* The JSON array (text) in the first cell of a one-row result, parsed. */
static int store_json_cell(PGresult *r, json_t **out)
{
    json_t *v = PQntuples(r) == 1 ? json_loads(PQgetvalue(r, 0, 0), 0, NULL) : NULL;
    if (!json_is_array(v)) {
        json_decref(v);
        return -EIO;
    }
    *out = v;
    return 0;
}

int store_sessions_json(struct svc *s, const char *user_id, json_t **out)
{
    const char *p[] = {user_id};
    PGresult *r = NULL;
    int rc =
        db_query(s->db,
                 "SELECT coalesce(json_agg(json_build_object('id', id, 'family_id', family_id, "
                 "'created_at', created_at, 'expires_at', expires_at, 'rotated_at', rotated_at, "
                 "'revoked_at', revoked_at) ORDER BY created_at, id), '[]') "
                 "FROM gateway.sessions WHERE user_id = $1",
                 1, p, &r);
    if (rc)
        return rc;
    rc = store_json_cell(r, out);
    PQclear(r);
    return rc;
}

int store_user_status(struct svc *s, const char *id, int *is_active, char role[16])
{
    if (!ids_is_uuid(id))
        return -ENOENT;
    const char *p[] = {id};
    PGresult *r = NULL;
    int rc = db_query(s->db, "SELECT is_active, role FROM gateway.users WHERE id = $1", 1, p, &r);
    if (rc)
        return rc;
    if (PQntuples(r) != 1) {
        PQclear(r);
        return -ENOENT;
    }
    *is_active = PQgetvalue(r, 0, 0)[0] == 't';
    snprintf(role, 16, "%s", PQgetvalue(r, 0, 1));
    PQclear(r);
    return 0;
}

int store_user_update_profile(struct svc *s, const char *id, const struct gw_profile_patch *pp,
                              struct gw_user *out)
{
    char age[24], fam[24];
    snprintf(age, sizeof(age), "%ld", pp->age);
    snprintf(fam, sizeof(fam), "%ld", pp->ai_familiarity);
    const char *p[] = {id,
                       pp->set_display_name ? "true" : "false",
                       pp->display_name,
                       pp->locale,
                       pp->set_education_level ? "true" : "false",
                       pp->education_level,
                       pp->set_age ? "true" : "false",
                       pp->age ? age : NULL,
                       pp->set_ai_familiarity ? "true" : "false",
                       pp->ai_familiarity ? fam : NULL};
    return store_one_user(
        s,
        "UPDATE gateway.users SET "
        "display_name = CASE WHEN $2::boolean THEN $3 ELSE display_name END, "
        "locale = coalesce($4, locale), "
        "education_level = CASE WHEN $5::boolean THEN $6 ELSE education_level END, "
        "age = CASE WHEN $7::boolean THEN $8::integer ELSE age END, "
        "ai_familiarity = CASE WHEN $9::boolean THEN $10::integer ELSE ai_familiarity END, "
        "updated_at = now() WHERE id = $1 RETURNING " USER_COLS,
        10, p, out);
}

int store_user_set_password(struct svc *s, const char *id, const char *old_hash,
                            const char *new_hash, const char *keep_family)
{
    const char *p[] = {id, old_hash, new_hash, keep_family};
    PGresult *r = NULL;
    int rc = db_query(s->db,
                      "WITH u AS (UPDATE gateway.users SET password_hash = $3, updated_at = now() "
                      "WHERE id = $1 AND password_hash = $2 RETURNING id), "
                      "r AS (UPDATE gateway.sessions SET revoked_at = now() "
                      "WHERE user_id IN (SELECT id FROM u) AND revoked_at IS NULL "
                      "AND family_id IS DISTINCT FROM $4::uuid RETURNING 1) "
                      "SELECT (SELECT count(*) FROM u), (SELECT count(*) FROM r)",
                      4, p, &r);
    if (rc)
        return rc;
    rc = strcmp(PQgetvalue(r, 0, 0), "1") == 0 ? 0 : -EACCES;
    PQclear(r);
    return rc;
}

int store_user_list(struct svc *s, long offset, long limit, struct gw_user **users, size_t *n,
                    long *total)
{
    PGresult *r = NULL;
    int64_t count = 0;
    int rc = db_query(s->db, "SELECT count(*) FROM gateway.users", 0, NULL, &r);
    if (rc)
        return rc;
    rc = db_val_i64(r, 0, 0, &count) == 0 ? 0 : -EIO;
    PQclear(r);
    char lim[24], off[24];
    snprintf(lim, sizeof(lim), "%ld", limit);
    snprintf(off, sizeof(off), "%ld", offset);
    const char *p[] = {lim, off};
    if (rc == 0)
        rc = db_query(s->db,
                      "SELECT " USER_COLS " FROM gateway.users ORDER BY created_at, id "
                      "LIMIT $1::bigint OFFSET $2::bigint",
                      2, p, &r);
    if (rc)
        return rc;
    size_t rows = (size_t)PQntuples(r);
    struct gw_user *list = calloc(rows ? rows : 1, sizeof(*list));
    for (size_t i = 0; list && i < rows; i++) {
        store_user_row(r, (int)i, &list[i]);
        list[i].password_hash[0] = '\0'; /* never needed by a listing */
    }
    PQclear(r);
    if (!list)
        return -ENOMEM;
    *users = list;
    *n = rows;
    *total = (long)count;
    return 0;
}

/* Lock the admin's and the target's rows (in id order: no deadlock between two admins
 * changing each other) and check the admin is still an active admin. */
static int store_admin_lock(struct db_conn *c, const char *admin_id, const char *target_id)
{
    const char *p[] = {admin_id, target_id};
    PGresult *r = NULL;
    int rc = db_conn_query(c,
                           "SELECT id, role = 'admin' AND is_active FROM gateway.users "
                           "WHERE id IN ($1::uuid, $2::uuid) ORDER BY id FOR UPDATE",
                           2, p, &r);
    if (rc)
        return rc;
    int admin_ok = 0, found = 0;
    for (int i = 0; i < PQntuples(r); i++) {
        const char *id = PQgetvalue(r, i, 0);
        if (strcasecmp(id, admin_id) == 0 && PQgetvalue(r, i, 1)[0] == 't')
            admin_ok = 1;
        if (strcasecmp(id, target_id) == 0)
            found = 1;
    }
    PQclear(r);
    return !admin_ok ? -EACCES : !found ? -ENOENT : 0;
}

int store_admin_update_user(struct svc *s, const char *admin_id, const char *target_id,
                            const char *role, int is_active, struct gw_user *out)
{
    if (!ids_is_uuid(target_id))
        return -ENOENT;
    struct db_conn *c = NULL;
    int rc = store_txn_begin(s, &c);
    if (rc)
        return rc;
    rc = store_admin_lock(c, admin_id, target_id);
    const char *p[] = {target_id, role, is_active < 0 ? NULL : is_active ? "true" : "false"};
    PGresult *r = NULL;
    if (rc == 0)
        rc = db_conn_query(
            c,
            "WITH r AS (UPDATE gateway.sessions SET revoked_at = now() WHERE user_id = $1 "
            "AND revoked_at IS NULL AND $3::boolean IS FALSE RETURNING 1) "
            "UPDATE gateway.users SET role = coalesce($2, role), "
            "is_active = coalesce($3::boolean, is_active), updated_at = now() "
            "WHERE id = $1 RETURNING " USER_COLS,
            3, p, &r);
    if (rc == 0 && PQntuples(r) != 1)
        rc = -ENOENT;
    if (rc == 0)
        store_user_row(r, 0, out);
    PQclear(r);
    return store_txn_end(c, rc == 0, rc);
}

int store_user_erase(struct svc *s, const char *id, store_gate_fn before_commit)
{
    if (!ids_is_uuid(id))
        return -ENOENT;
    struct db_conn *c = NULL;
    int rc = store_txn_begin(s, &c);
    if (rc)
        return rc;
    const char *p[] = {id};
    PGresult *r = NULL;
    rc = db_conn_query(c, "DELETE FROM gateway.users WHERE id = $1", 1, p, &r);
    if (rc == 0 && db_affected(r) != 1)
        rc = -ENOENT;
    PQclear(r);
    if (rc == 0)
        rc = before_commit(s, id);
    return store_txn_end(c, rc == 0, rc);
}
