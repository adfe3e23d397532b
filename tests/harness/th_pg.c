/* th_pg: create and drop uniquely named test databases on the test cluster. */
#include "th_pg.h"

#include <ibx/ids.h>

#include <errno.h>
#include <libpq-fe.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static atomic_uint th_pg_counter;

const char *th_pg_admin_url(void)
{
    const char *url = getenv("IBX_TEST_DATABASE_URL");
    return url && url[0] ? url : NULL;
}

static void th_pg_quiet(void *arg, const char *msg)
{
    (void)arg;
    (void)msg;
}

static PGconn *th_pg_admin(void)
{
    const char *url = th_pg_admin_url();
    if (!url)
        return NULL;
    PGconn *pg = PQconnectdb(url);
    if (PQstatus(pg) != CONNECTION_OK) {
        fprintf(stderr, "th_pg: cannot connect to the test cluster: %s",
                pg ? PQerrorMessage(pg) : "out of memory\n");
        PQfinish(pg);
        return NULL;
    }
    PQsetNoticeProcessor(pg, th_pg_quiet, NULL);
    return pg;
}

static int th_pg_exec(PGconn *pg, const char *sql, int n, const char *const *params)
{
    PGresult *r = PQexecParams(pg, sql, n, NULL, params, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(r);
    int ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
    if (!ok)
        fprintf(stderr, "th_pg: %s: %s", sql, PQerrorMessage(pg));
    PQclear(r);
    return ok ? 0 : -EIO;
}

/* admin with its database replaced by db: the path of a URL, or a trailing dbname=. */
static int th_pg_url_for(const char *admin, const char *db, char *out, size_t n)
{
    const char *sep = strstr(admin, "://");
    int len;
    if (!sep ||
        (strncmp(admin, "postgresql://", 13) != 0 && strncmp(admin, "postgres://", 11) != 0)) {
        len = snprintf(out, n, "%s dbname=%s", admin, db);
    } else {
        size_t host_end = (size_t)(sep + 3 - admin) + strcspn(sep + 3, "/?");
        const char *rest = admin + host_end;
        if (*rest == '/')
            rest += strcspn(rest, "?");
        len = snprintf(out, n, "%.*s/%s%s", (int)host_end, admin, db, rest);
    }
    return len < 0 || (size_t)len >= n ? -EMSGSIZE : 0;
}

int th_db_create(char *url_out, size_t n)
{
    const char *admin = th_pg_admin_url();
    if (!admin)
        return -ENOENT;
    char uuid[IDS_UUID_LEN + 1], name[64], sql[160], url[1024];
    if (ids_init() != 0)
        return -EIO;
    ids_uuid4(uuid);
    snprintf(name, sizeof(name), TH_DB_PREFIX "%ld_%u_%.8s", (long)getpid(),
             atomic_fetch_add(&th_pg_counter, 1), uuid);
    int rc = th_pg_url_for(admin, name, url, sizeof(url));
    if (rc)
        return rc;
    if (strlen(url) >= n)
        return -EMSGSIZE;
    PGconn *pg = th_pg_admin();
    if (!pg)
        return -EIO;
    snprintf(sql, sizeof(sql), "CREATE DATABASE \"%s\" TEMPLATE template0", name);
    rc = th_pg_exec(pg, sql, 0, NULL);
    PQfinish(pg);
    if (rc)
        return rc;
    memcpy(url_out, url, strlen(url) + 1);
    return 0;
}

/* The database named by url when it is one of ours, copied into out. */
static int th_pg_test_db_name(const char *url, char *out, size_t n)
{
    PQconninfoOption *opts = PQconninfoParse(url, NULL);
    int rc = -EINVAL;
    for (PQconninfoOption *o = opts; o && o->keyword; o++) {
        if (strcmp(o->keyword, "dbname") != 0 || !o->val)
            continue;
        size_t len = strlen(o->val);
        if (strncmp(o->val, TH_DB_PREFIX, strlen(TH_DB_PREFIX)) == 0 && len < n &&
            strspn(o->val, "abcdefghijklmnopqrstuvwxyz0123456789_") == len) {
            memcpy(out, o->val, len + 1);
            rc = 0;
        }
    }
    PQconninfoFree(opts);
    return rc;
}

void th_db_drop(const char *url)
{
    char name[64], sql[160];
    if (!url)
        return;
    if (th_pg_test_db_name(url, name, sizeof(name)) != 0) {
        fprintf(stderr, "th_pg: refusing to drop a database that is not a test database\n");
        return;
    }
    PGconn *pg = th_pg_admin();
    if (!pg)
        return;
    const char *p[] = {name};
    if (th_pg_exec(pg,
                   "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                   "WHERE datname = $1 AND pid <> pg_backend_pid()",
                   1, p) == 0) {
        snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS \"%s\" WITH (FORCE)", name);
        if (th_pg_exec(pg, sql, 0, NULL) != 0)
            fprintf(stderr, "th_pg: could not drop %s\n", name);
    }
    PQfinish(pg);
}
