/* store: the gateway's SQL (users and sessions). */
#include "gateway.h"

#include <ibx/ids.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
