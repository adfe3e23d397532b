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

/* The JSON object (text) in the first cell of a one-row result, parsed. */
static int store_json_cell(PGresult *r, json_t **out)
{
    json_t *v = PQntuples(r) == 1 ? json_loads(PQgetvalue(r, 0, 0), 0, NULL) : NULL;
    if (!json_is_object(v)) {
        json_decref(v);
        return -EIO;
    }
    *out = v;
    return 0;
}

int store_gateway_export_json(struct svc *s, const char *user_id, json_t **out)
{
    const char *p[] = {user_id};
    PGresult *r = NULL;
    int rc = db_query(
        s->db,
        "SELECT json_build_object("
        "'sessions', coalesce((SELECT json_agg(to_jsonb(x) - 'token_hash' "
        "ORDER BY x.created_at, x.id) FROM gateway.sessions x WHERE x.user_id = $1), '[]'), "
        "'api_keys', coalesce((SELECT json_agg(to_jsonb(x) - 'key_hash' "
        "ORDER BY x.created_at, x.id) FROM gateway.api_keys x WHERE x.user_id = $1), '[]'), "
        "'quota_counters', coalesce((SELECT json_agg(to_jsonb(x) "
        "ORDER BY x.period_start, x.kind, x.scope_id) FROM gateway.quota_counters x "
        "WHERE x.user_id = $1), '[]'), "
        "'quota_reservations', coalesce((SELECT json_agg(to_jsonb(x) "
        "ORDER BY x.created_at, x.id) FROM gateway.quota_reservations x "
        "WHERE x.user_id = $1), '[]'), "
        "'usage', coalesce((SELECT json_agg(to_jsonb(x) ORDER BY x.at, x.event_key) "
        "FROM gateway.usage_ledger x WHERE x.user_id = $1), '[]'))",
        1, p, &r);
    if (rc)
        return rc;
    rc = store_json_cell(r, out);
    PQclear(r);
    return rc;
}

int store_user_status(struct svc *s, const char *id, int *is_active, char role[16],
                      long *ai_familiarity)
{
    if (!ids_is_uuid(id))
        return -ENOENT;
    const char *p[] = {id};
    PGresult *r = NULL;
    int rc = db_query(s->db,
                      "SELECT is_active, role, coalesce(ai_familiarity, 0) FROM gateway.users "
                      "WHERE id = $1",
                      1, p, &r);
    if (rc)
        return rc;
    if (PQntuples(r) != 1) {
        PQclear(r);
        return -ENOENT;
    }
    *is_active = PQgetvalue(r, 0, 0)[0] == 't';
    snprintf(role, 16, "%s", PQgetvalue(r, 0, 1));
    *ai_familiarity = store_long(PQgetvalue(r, 0, 2));
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

/* ==== API keys, rate buckets, sign-in failures, quotas and usage (keys.c, limits.c,
 * quota.c). Static helpers here are prefixed store_lq_. ==== */

#define KEY_COLS                                                                                   \
    "k.id, k.user_id, k.name, k.prefix, array_to_string(k.scopes, ' '), "                          \
    "coalesce(k.requests_per_minute, 0), coalesce(k.tokens_per_day, 0), "                          \
    "to_char(k.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "                 \
    "coalesce(to_char(k.last_used_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), ''), " \
    "coalesce(to_char(k.expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), ''), "   \
    "coalesce((extract(epoch FROM k.expires_at) * 1000)::bigint, 0), k.revoked_at IS NOT NULL"

#define UTC_ISO(x) "to_char((" x ") AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

static long long store_lq_ll(const PGresult *r, int row, int col)
{
    int64_t v = 0;
    return db_val_i64(r, row, col, &v) == 0 ? (long long)v : 0;
}

static void store_lq_text(char *dst, size_t n, const PGresult *r, int row, int col)
{
    const char *v = db_val(r, row, col);
    snprintf(dst, n, "%s", v ? v : "");
}

static void store_lq_key_row(const PGresult *r, int row, struct gw_key *k)
{
    memset(k, 0, sizeof(*k));
    store_lq_text(k->id, sizeof(k->id), r, row, 0);
    store_lq_text(k->user_id, sizeof(k->user_id), r, row, 1);
    store_lq_text(k->name, sizeof(k->name), r, row, 2);
    store_lq_text(k->prefix, sizeof(k->prefix), r, row, 3);
    store_lq_text(k->scopes, sizeof(k->scopes), r, row, 4);
    k->requests_per_minute = (long)store_lq_ll(r, row, 5);
    k->tokens_per_day = store_lq_ll(r, row, 6);
    store_lq_text(k->created_at, sizeof(k->created_at), r, row, 7);
    store_lq_text(k->last_used_at, sizeof(k->last_used_at), r, row, 8);
    store_lq_text(k->expires_at, sizeof(k->expires_at), r, row, 9);
    k->expires_ms = store_lq_ll(r, row, 10);
    const char *rev = db_val(r, row, 11);
    k->revoked = rev && rev[0] == 't';
}

/* A command whose result is not needed. */
static int store_lq_exec(struct svc *s, const char *sql, int n, const char *const *p)
{
    PGresult *r = NULL;
    int rc = db_query(s->db, sql, n, p, &r);
    PQclear(r);
    return rc;
}

int store_key_create(struct svc *s, const char *user_id, const char *name, const char *prefix,
                     const char *hash, const char *scopes, long rpm, long long tokens_per_day,
                     long long expires_ms, struct gw_key *out)
{
    char id[IDS_UUID_LEN + 1], arr[64], rpm_s[24], tpd_s[24], exp_s[24], max_s[16];
    ids_uuid4(id);
    snprintf(arr, sizeof(arr), "{%s}", scopes);
    for (char *c = arr; *c; c++)
        *c = *c == ' ' ? ',' : *c;
    snprintf(rpm_s, sizeof(rpm_s), "%ld", rpm);
    snprintf(tpd_s, sizeof(tpd_s), "%lld", tokens_per_day);
    snprintf(exp_s, sizeof(exp_s), "%lld", expires_ms);
    snprintf(max_s, sizeof(max_s), "%d", KEYS_MAX_ACTIVE);
    const char *p[] = {id,
                       user_id,
                       name,
                       prefix,
                       hash,
                       arr,
                       rpm ? rpm_s : NULL,
                       tokens_per_day ? tpd_s : NULL,
                       expires_ms ? exp_s : NULL,
                       max_s};
    PGresult *r = NULL;
    int rc = db_query(s->db,
                      "WITH k AS (INSERT INTO gateway.api_keys (id, user_id, name, prefix, "
                      "key_hash, scopes, requests_per_minute, tokens_per_day, expires_at) "
                      "SELECT $1, $2, $3, $4, $5, $6::text[], $7::int, $8::bigint, "
                      "to_timestamp($9::bigint / 1000.0) "
                      "WHERE (SELECT count(*) FROM gateway.api_keys WHERE user_id = $2 AND "
                      "revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())) "
                      "< $10::int RETURNING *) SELECT " KEY_COLS " FROM k",
                      10, p, &r);
    if (rc)
        return rc;
    if (PQntuples(r) == 1)
        store_lq_key_row(r, 0, out);
    else
        rc = -EMSGSIZE;
    PQclear(r);
    return rc;
}

int store_key_list(struct svc *s, const char *user_id, struct gw_key **keys, size_t *n)
{
    const char *p[] = {user_id};
    PGresult *r = NULL;
    int rc = db_query(s->db,
                      "SELECT " KEY_COLS " FROM gateway.api_keys k WHERE k.user_id = $1 "
                      "ORDER BY k.created_at DESC, k.id LIMIT 500",
                      1, p, &r);
    if (rc)
        return rc;
    size_t rows = (size_t)PQntuples(r);
    struct gw_key *out = calloc(rows ? rows : 1, sizeof(*out));
    if (!out) {
        PQclear(r);
        return -ENOMEM;
    }
    for (size_t i = 0; i < rows; i++)
        store_lq_key_row(r, (int)i, &out[i]);
    PQclear(r);
    *keys = out;
    *n = rows;
    return 0;
}

int store_key_revoke(struct svc *s, const char *user_id, const char *id)
{
    if (!ids_is_uuid(id))
        return -ENOENT;
    const char *p[] = {id, user_id};
    PGresult *r = NULL;
    int rc = db_query(s->db,
                      "UPDATE gateway.api_keys SET revoked_at = coalesce(revoked_at, now()) "
                      "WHERE id = $1 AND user_id = $2",
                      2, p, &r);
    if (rc)
        return rc;
    rc = db_affected(r) == 1 ? 0 : -ENOENT;
    PQclear(r);
    return rc;
}

int store_key_by_hash(struct svc *s, const char *hash, struct gw_key *out)
{
    const char *p[] = {hash};
    PGresult *r = NULL;
    int rc = db_query(s->db,
                      "SELECT " KEY_COLS ", u.role FROM gateway.api_keys k "
                      "JOIN gateway.users u ON u.id = k.user_id "
                      "WHERE k.key_hash = $1 AND k.revoked_at IS NULL AND u.is_active AND "
                      "(k.expires_at IS NULL OR k.expires_at > now())",
                      1, p, &r);
    if (rc)
        return rc;
    if (PQntuples(r) == 1) {
        store_lq_key_row(r, 0, out);
        store_lq_text(out->role, sizeof(out->role), r, 0, 12);
    } else {
        rc = -ENOENT;
    }
    PQclear(r);
    return rc;
}

int store_keys_touch(struct svc *s, const char *const *ids, size_t n)
{
    struct buf arr;
    buf_init(&arr, 64 * 1024);
    int rc = buf_append_str(&arr, "{");
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (!ids_is_uuid(ids[i]))
            continue;
        rc = buf_printf(&arr, "%s%s", arr.len > 1 ? "," : "", ids[i]);
    }
    if (rc == 0)
        rc = buf_append_str(&arr, "}");
    const char *p[] = {buf_str(&arr)};
    if (rc == 0)
        rc = store_lq_exec(s,
                           "UPDATE gateway.api_keys SET last_used_at = now() "
                           "WHERE id = ANY($1::uuid[])",
                           1, p);
    buf_release(&arr);
    return rc;
}

/* Lock (creating it) the bucket's row: its state and the database clock in microseconds. */
static int store_lq_bucket_lock(struct db_conn *c, const char *bucket, struct gcra_state *st,
                                int64_t *now_us)
{
    const char *p[] = {bucket};
    PGresult *r = NULL;
    int rc = db_conn_query(c,
                           "INSERT INTO gateway.rate_buckets (bucket, tat_us) VALUES ($1, 0) "
                           "ON CONFLICT (bucket) DO UPDATE SET updated_at = now() RETURNING "
                           "tat_us, credit, (extract(epoch FROM clock_timestamp()) * 1000000)"
                           "::bigint",
                           1, p, &r);
    if (rc)
        return rc;
    if (db_val_i64(r, 0, 0, &st->tat_us) != 0 || db_val_i64(r, 0, 1, &st->credit) != 0 ||
        db_val_i64(r, 0, 2, now_us) != 0)
        rc = -EIO;
    PQclear(r);
    return rc;
}

static int store_lq_bucket_save(struct db_conn *c, const char *bucket, const struct gcra_state *st)
{
    char tat[24], credit[24];
    snprintf(tat, sizeof(tat), "%lld", (long long)st->tat_us);
    snprintf(credit, sizeof(credit), "%lld", (long long)st->credit);
    const char *p[] = {bucket, tat, credit};
    PGresult *r = NULL;
    int rc = db_conn_query(c,
                           "UPDATE gateway.rate_buckets SET tat_us = $2::bigint, "
                           "credit = $3::bigint, updated_at = now() WHERE bucket = $1",
                           3, p, &r);
    PQclear(r);
    return rc;
}

/* One GCRA step on the bucket's row in a transaction: take want (want >= 0) or give
 * back -want tokens. */
static int store_lq_bucket_step(struct svc *s, const char *bucket, const struct gcra_limit *l,
                                int64_t want, struct gcra_result *out)
{
    struct db_conn *c = NULL;
    int rc = db_acquire(s->db, DB_ACQUIRE_TIMEOUT_MS, &c);
    if (rc)
        return rc;
    struct gcra_state st = {0, 0};
    struct gcra_result res = {0, 0, 0, 0};
    int64_t now_us = 0;
    rc = db_begin(c);
    if (rc == 0)
        rc = store_lq_bucket_lock(c, bucket, &st, &now_us);
    if (rc == 0) {
        if (want >= 0)
            gcra_take(l, &st, now_us, want, &res);
        else
            gcra_give(l, &st, now_us, -want);
        rc = store_lq_bucket_save(c, bucket, &st);
    }
    if (rc == 0)
        rc = db_commit(c);
    db_release(c);
    if (rc == 0 && out)
        *out = res;
    return rc;
}

int store_rate_lease(struct svc *s, const char *bucket, const struct gcra_limit *l, int64_t want,
                     struct gcra_result *out)
{
    return store_lq_bucket_step(s, bucket, l, want < 0 ? 0 : want, out);
}

int store_rate_give(struct svc *s, const char *bucket, const struct gcra_limit *l, int64_t n)
{
    return n > 0 ? store_lq_bucket_step(s, bucket, l, -n, NULL) : 0;
}

int store_rate_sweep(struct svc *s)
{
    int rc = store_lq_exec(s,
                           "DELETE FROM gateway.rate_buckets WHERE updated_at < now() - "
                           "interval '10 minutes' AND tat_us < (extract(epoch FROM "
                           "clock_timestamp()) * 1000000)::bigint",
                           0, NULL);
    if (rc == 0)
        rc = store_lq_exec(s,
                           "DELETE FROM gateway.login_failures WHERE last_failure_at < now() - "
                           "interval '1 day' AND (blocked_until IS NULL OR blocked_until < now())",
                           0, NULL);
    return rc;
}

int store_login_wait(struct svc *s, const char *subject_a, const char *subject_b, long *wait_s)
{
    const char *p[] = {subject_a, subject_b};
    PGresult *r = NULL;
    int rc = db_query(s->db,
                      "SELECT coalesce(ceil(extract(epoch FROM max(blocked_until) - now())), 0)"
                      "::bigint FROM gateway.login_failures WHERE subject IN ($1, $2) AND "
                      "blocked_until > now()",
                      2, p, &r);
    if (rc)
        return rc;
    *wait_s = (long)store_lq_ll(r, 0, 0);
    PQclear(r);
    return 0;
}

int store_login_failure(struct svc *s, const char *subject, long window_s, long *failures)
{
    char win[24];
    snprintf(win, sizeof(win), "%ld", window_s);
    const char *p[] = {subject, win};
    PGresult *r = NULL;
    int rc = db_query(s->db,
                      "INSERT INTO gateway.login_failures AS f (subject, failures, "
                      "last_failure_at) VALUES ($1, 1, now()) ON CONFLICT (subject) DO UPDATE "
                      "SET failures = CASE WHEN f.last_failure_at < now() - make_interval(secs "
                      "=> $2::bigint) THEN 1 ELSE f.failures + 1 END, last_failure_at = now() "
                      "RETURNING failures",
                      2, p, &r);
    if (rc)
        return rc;
    *failures = (long)store_lq_ll(r, 0, 0);
    PQclear(r);
    return 0;
}

int store_login_block(struct svc *s, const char *subject, long delay_s)
{
    char d[24];
    snprintf(d, sizeof(d), "%ld", delay_s);
    const char *p[] = {subject, d};
    return store_lq_exec(s,
                         "UPDATE gateway.login_failures SET blocked_until = now() + "
                         "make_interval(secs => $2::bigint) WHERE subject = $1",
                         2, p);
}

int store_login_clear(struct svc *s, const char *subject)
{
    const char *p[] = {subject};
    return store_lq_exec(s, "DELETE FROM gateway.login_failures WHERE subject = $1", 1, p);
}

/* Row 0 of a (used, reserved, period_start, resets_at) result into *use. */
static void store_lq_use_row(PGresult *r, struct gw_quota_use *use)
{
    use->used = store_lq_ll(r, 0, 0);
    use->reserved = store_lq_ll(r, 0, 1);
    store_lq_text(use->period_start, sizeof(use->period_start), r, 0, 2);
    store_lq_text(use->resets_at, sizeof(use->resets_at), r, 0, 3);
}

/* The period unit of a quota kind. */
static const char *store_lq_unit(const char *kind)
{
    return strcmp(kind, "pipeline_run") == 0 ? "month" : "day";
}

#define PERIOD_NOW "(date_trunc($2, now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC')"

int store_quota_use(struct svc *s, const char *scope_id, const char *kind, struct gw_quota_use *out)
{
    const char *p[] = {scope_id, store_lq_unit(kind), kind};
    PGresult *r = NULL;
    int rc = db_query(
        s->db,
        "SELECT coalesce(c.used, 0), coalesce(c.reserved, 0), " UTC_ISO("p.start") ", " UTC_ISO(
            "p.start + ('1 ' || $2)::interval") " FROM (SELECT " PERIOD_NOW
                                                " AS start) p LEFT JOIN gateway.quota_counters c "
                                                "ON c.scope_id = $1 AND c.kind = $3 AND "
                                                "c.period_start = p.start",
        3, p, &r);
    if (rc)
        return rc;
    store_lq_use_row(r, out);
    PQclear(r);
    return 0;
}

/* Release expired reservations (of user_id, or of everyone for NULL) from their counters. */
#define RELEASE_EXPIRED                                                                            \
    "WITH d AS (DELETE FROM gateway.quota_reservations WHERE expires_at < now() AND "              \
    "($1::uuid IS NULL OR user_id = $1::uuid) RETURNING user_id, kind, period_start, amount), "    \
    "s AS (SELECT user_id, kind, period_start, sum(amount) AS a FROM d GROUP BY 1, 2, 3) "         \
    "UPDATE gateway.quota_counters c SET reserved = greatest(c.reserved - s.a, 0) FROM s "         \
    "WHERE c.scope_id = s.user_id AND c.kind = s.kind AND c.period_start = s.period_start"

/* Delete the reservations chosen by the WHERE clause `pick` (on $1/$2) from their counters. */
#define RELEASE_PICKED(pick)                                                                       \
    "WITH d AS (DELETE FROM gateway.quota_reservations WHERE " pick                                \
    " RETURNING user_id, kind, period_start, amount) UPDATE gateway.quota_counters c SET "         \
    "reserved = greatest(c.reserved - d.amount, 0) FROM d WHERE c.scope_id = d.user_id AND "       \
    "c.kind = d.kind AND c.period_start = d.period_start"

/* Lock (creating it) user_id's counter of the current period into *use. */
static int store_lq_counter_lock(struct db_conn *c, const char *user_id, const char *kind,
                                 struct gw_quota_use *use)
{
    const char *p[] = {user_id, store_lq_unit(kind), kind};
    PGresult *r = NULL;
    int rc = db_conn_query(c,
                           "INSERT INTO gateway.quota_counters AS q (scope_id, user_id, kind, "
                           "period_start) VALUES ($1, $1, $3, " PERIOD_NOW ") ON CONFLICT "
                           "(scope_id, kind, period_start) DO UPDATE SET used = q.used RETURNING "
                           "used, reserved, " UTC_ISO("period_start") ", " UTC_ISO(
                               "period_start + ('1 ' || $2)::interval"),
                           3, p, &r);
    if (rc)
        return rc;
    store_lq_use_row(r, use);
    PQclear(r);
    return 0;
}

static int store_lq_reserve_insert(struct db_conn *c, const char *user_id, const char *kind,
                                   long long amount, long hold_s, const char *request_id,
                                   const char *id)
{
    char amt[24], hold[24];
    snprintf(amt, sizeof(amt), "%lld", amount);
    snprintf(hold, sizeof(hold), "%ld", hold_s);
    const char *p[] = {user_id, store_lq_unit(kind), kind, amt, id, request_id, hold};
    PGresult *r = NULL;
    int rc = db_conn_query(
        c,
        "WITH c AS (UPDATE gateway.quota_counters SET reserved = reserved + $4::bigint WHERE "
        "scope_id = $1 AND kind = $3 AND period_start = " PERIOD_NOW " RETURNING period_start) "
        "INSERT INTO gateway.quota_reservations (id, user_id, kind, period_start, amount, "
        "request_id, expires_at) SELECT $5, $1, $3, c.period_start, $4::bigint, $6, now() + "
        "make_interval(secs => $7::bigint) FROM c",
        7, p, &r);
    if (rc == 0 && db_affected(r) != 1)
        rc = -EIO;
    PQclear(r);
    return rc;
}

int store_quota_reserve(struct svc *s, const char *user_id, const char *kind, long long limit,
                        long long amount, long hold_s, const char *request_id, char id_out[37],
                        struct gw_quota_use *use)
{
    struct db_conn *c = NULL;
    int rc = db_acquire(s->db, DB_ACQUIRE_TIMEOUT_MS, &c);
    if (rc)
        return rc;
    struct gw_quota_use u = {.limit = limit};
    char id[IDS_UUID_LEN + 1];
    ids_uuid4(id);
    const char *p[] = {user_id};
    PGresult *r = NULL;
    rc = db_begin(c);
    if (rc == 0)
        rc = db_conn_query(c, RELEASE_EXPIRED, 1, p, &r);
    PQclear(r);
    if (rc == 0)
        rc = store_lq_counter_lock(c, user_id, kind, &u);
    if (rc == 0 && u.used + u.reserved + amount > limit)
        rc = -EACCES;
    if (rc == 0)
        rc = store_lq_reserve_insert(c, user_id, kind, amount, hold_s, request_id, id);
    if (rc == 0)
        rc = db_commit(c);
    db_release(c);
    if (rc == 0)
        memcpy(id_out, id, sizeof(id));
    if (rc == 0 || rc == -EACCES)
        *use = u;
    return rc;
}

int store_quota_release(struct svc *s, const char *reservation_id)
{
    if (!ids_is_uuid(reservation_id))
        return -ENOENT;
    const char *p[] = {reservation_id};
    return store_lq_exec(s, RELEASE_PICKED("id = $1"), 1, p);
}

int store_quota_sweep(struct svc *s)
{
    const char *p[] = {NULL};
    return store_lq_exec(s, RELEASE_EXPIRED, 1, p);
}

static int store_lq_ledger_insert(struct db_conn *c, const struct gw_usage_event *e, int *fresh)
{
    char pt[24], ct[24], runs[8], at[24];
    snprintf(pt, sizeof(pt), "%lld", e->prompt_tokens);
    snprintf(ct, sizeof(ct), "%lld", e->completion_tokens);
    snprintf(runs, sizeof(runs), "%d", strcmp(e->kind, "pipeline_run") == 0 ? 1 : 0);
    snprintf(at, sizeof(at), "%lld", e->at_ms);
    const char *p[] = {e->event_key,
                       e->request_id,
                       e->user_id,
                       e->key_id[0] ? e->key_id : NULL,
                       e->model[0] ? e->model : NULL,
                       e->kind,
                       pt,
                       ct,
                       runs,
                       e->at_ms ? at : NULL};
    PGresult *r = NULL;
    int rc = db_conn_query(c,
                           "INSERT INTO gateway.usage_ledger (event_key, request_id, user_id, "
                           "key_id, model, kind, prompt_tokens, completion_tokens, runs, at) "
                           "VALUES ($1, $2, $3, $4::uuid, $5, $6, $7::bigint, $8::bigint, $9::int, "
                           "coalesce(to_timestamp($10::bigint / 1000.0), now())) ON CONFLICT "
                           "(event_key) DO NOTHING",
                           10, p, &r);
    if (rc == 0)
        *fresh = db_affected(r) == 1;
    PQclear(r);
    return rc;
}

/* used += amount on scope_id's counter of the ledger row's period. */
static int store_lq_counter_add(struct db_conn *c, const char *scope_id,
                                const struct gw_usage_event *e, const char *kind, long long amount)
{
    char amt[24];
    snprintf(amt, sizeof(amt), "%lld", amount);
    const char *p[] = {scope_id, e->user_id, kind, store_lq_unit(kind), amt, e->event_key};
    PGresult *r = NULL;
    int rc = db_conn_query(c,
                           "INSERT INTO gateway.quota_counters AS c (scope_id, user_id, kind, "
                           "period_start, used) SELECT $1, $2, $3, date_trunc($4, l.at AT TIME "
                           "ZONE 'UTC') AT TIME ZONE 'UTC', $5::bigint FROM gateway.usage_ledger l "
                           "WHERE l.event_key = $6 ON CONFLICT (scope_id, kind, period_start) DO "
                           "UPDATE SET used = c.used + excluded.used",
                           6, p, &r);
    PQclear(r);
    return rc;
}

/* The settlement of a fresh ledger row: its reservation goes, its use is counted. */
static int store_lq_settle(struct db_conn *c, const struct gw_usage_event *e)
{
    int run = strcmp(e->kind, "pipeline_run") == 0;
    const char *kind = run ? "pipeline_run" : "llm_tokens";
    long long amount = run ? 1 : e->prompt_tokens + e->completion_tokens;
    const char *p[] = {e->request_id, e->user_id, kind};
    PGresult *r = NULL;
    int rc = db_conn_query(c,
                           RELEASE_PICKED("id = (SELECT id FROM gateway.quota_reservations WHERE "
                                          "request_id = $1 AND user_id = $2 AND kind = $3 ORDER "
                                          "BY created_at LIMIT 1)"),
                           3, p, &r);
    PQclear(r);
    if (rc == 0)
        rc = store_lq_counter_add(c, e->user_id, e, kind, amount);
    if (rc == 0 && !run && e->key_id[0])
        rc = store_lq_counter_add(c, e->key_id, e, kind, amount);
    return rc;
}

int store_usage_settle(struct svc *s, const struct gw_usage_event *e, int *applied)
{
    if (!ids_is_uuid(e->user_id) || (e->key_id[0] && !ids_is_uuid(e->key_id)))
        return -EINVAL;
    struct db_conn *c = NULL;
    int rc = db_acquire(s->db, DB_ACQUIRE_TIMEOUT_MS, &c);
    if (rc)
        return rc;
    int fresh = 0;
    rc = db_begin(c);
    if (rc == 0)
        rc = store_lq_ledger_insert(c, e, &fresh);
    if (rc == 0 && fresh)
        rc = store_lq_settle(c, e);
    if (rc == 0)
        rc = db_commit(c);
    db_release(c);
    if (rc == 0)
        *applied = fresh;
    return rc;
}

int store_usage_aggregate(struct svc *s, const char *user_id, long from_days, long to_days,
                          enum gw_usage_group g, struct gw_usage_row **rows, size_t *n)
{
    static const char *const group_sql[] = {
        [GW_USAGE_DAY] = "to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
        [GW_USAGE_MODEL] = "coalesce(model, '')",
        [GW_USAGE_KEY] = "coalesce(key_id::text, '')",
    };
    if ((unsigned)g > (unsigned)GW_USAGE_KEY)
        return -EINVAL;
    char sql[1024], from[24], to[24];
    snprintf(sql, sizeof(sql),
             "SELECT %s, count(*), sum(prompt_tokens), sum(completion_tokens), sum(runs) "
             "FROM gateway.usage_ledger WHERE user_id = $1 AND at >= to_timestamp($2::bigint * "
             "86400) AND at < to_timestamp(($3::bigint + 1) * 86400) GROUP BY 1 ORDER BY 1 "
             "LIMIT 1000",
             group_sql[g]);
    snprintf(from, sizeof(from), "%ld", from_days);
    snprintf(to, sizeof(to), "%ld", to_days);
    const char *p[] = {user_id, from, to};
    PGresult *r = NULL;
    int rc = db_query(s->db, sql, 3, p, &r);
    if (rc)
        return rc;
    size_t count = (size_t)PQntuples(r);
    struct gw_usage_row *out = calloc(count ? count : 1, sizeof(*out));
    if (!out) {
        PQclear(r);
        return -ENOMEM;
    }
    for (size_t i = 0; i < count; i++) {
        store_lq_text(out[i].group, sizeof(out[i].group), r, (int)i, 0);
        out[i].events = store_lq_ll(r, (int)i, 1);
        out[i].prompt_tokens = store_lq_ll(r, (int)i, 2);
        out[i].completion_tokens = store_lq_ll(r, (int)i, 3);
        out[i].runs = store_lq_ll(r, (int)i, 4);
    }
    PQclear(r);
    *rows = out;
    *n = count;
    return 0;
}
