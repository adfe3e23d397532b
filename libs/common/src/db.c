/* db: libpq connection pool, bound-parameter queries, SQLSTATE translation, migrations. */
#include <ibx/db.h>
#include <ibx/buf.h>
#include <ibx/log.h>

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DB_PING_TIMEOUT_MS   250
#define DB_MIGRATION_MAX     (8u << 20)
#define DB_MIGRATION_FILES   4096
#define DB_MIGRATION_NAME    128
#define DB_LOG_SQL_MAX       160
#define DB_CONNECT_TIMEOUT_S "5"

struct db_conn {
    struct db_pool *pool;
    PGconn *pg; /* NULL until connected, and after a connection failure */
    int busy;   /* guarded by pool->lock */
};

struct db_pool {
    pthread_mutex_t lock;
    pthread_cond_t freed; /* signalled when a connection is released */
    char *conninfo;
    int size;
    int down; /* the last connection attempt failed: log the next change only */
    struct db_conn *conns;
};

/* ---- logging --------------------------------------------------------------------- */

/* s cut to at most max bytes on a UTF-8 boundary, as a JSON string (NULL on error). */
static json_t *db_json_cut(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n > max) {
        n = max;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
    }
    return json_stringn(s, n);
}

/* A libpq error message on one line. */
static json_t *db_json_line(const char *msg)
{
    char line[256];
    snprintf(line, sizeof(line), "%s", msg ? msg : "");
    for (char *p = line; *p; p++) {
        if (*p == '\n' || *p == '\t' || *p == '\r')
            *p = ' ';
    }
    size_t n = strlen(line);
    while (n > 0 && line[n - 1] == ' ')
        line[--n] = '\0';
    return db_json_cut(line, sizeof(line) - 1);
}

/* Server messages of these classes may quote parameter values: never logged. */
static int db_msg_may_hold_values(const char *state)
{
    return !state || strncmp(state, "22", 2) == 0 || strncmp(state, "23", 2) == 0 ||
           strncmp(state, "P0", 2) == 0;
}

/* Log a failed statement: SQLSTATE, what ran (key "sql" or "file"), and the server's
 * message unless it may hold parameter values (or always, when trusted). */
static void db_log_failure(const PGresult *r, const char *key, const char *what, int trusted,
                           const char *msg)
{
    const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    json_t *f = json_object();
    if (f) {
        json_object_set_new(f, "sqlstate", json_string(state ? state : ""));
        json_object_set_new(f, key, db_json_cut(what, DB_LOG_SQL_MAX));
        if (trusted || !db_msg_may_hold_values(state))
            json_object_set_new(f, "reason",
                                db_json_line(PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY)));
    }
    log_fields(LOG_LVL_ERROR, f, "%s", msg);
}

static void db_on_notice(void *arg, const PGresult *r)
{
    (void)arg;
    const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    log_fields(LOG_LVL_DEBUG, json_pack("{s:s}", "sqlstate", state ? state : ""),
               "database notice");
}

/* Record whether the server is reachable; log only the changes. */
static void db_pool_note(struct db_pool *p, int down, const char *why)
{
    pthread_mutex_lock(&p->lock);
    int changed = p->down != down;
    p->down = down;
    pthread_mutex_unlock(&p->lock);
    if (changed && down)
        log_fields(LOG_LVL_WARN, json_pack("{s:o*}", "reason", db_json_line(why)),
                   "database unreachable");
    else if (changed)
        log_info("database reachable again");
}

/* ---- connections ----------------------------------------------------------------- */

static void db_conn_drop(struct db_conn *c)
{
    PQfinish(c->pg);
    c->pg = NULL;
}

static int db_conn_open(struct db_conn *c)
{
    /* Later keywords win: the caller's conninfo (expanded from dbname) overrides ours. */
    static const char *const keys[] = {"connect_timeout", "fallback_application_name", "dbname",
                                       NULL};
    const char *vals[] = {DB_CONNECT_TIMEOUT_S, "ibx", c->pool->conninfo, NULL};
    PGconn *pg = PQconnectdbParams(keys, vals, 1);
    if (!pg)
        return -ENOMEM;
    if (PQstatus(pg) != CONNECTION_OK) {
        db_pool_note(c->pool, 1, PQerrorMessage(pg));
        PQfinish(pg);
        return -EIO;
    }
    PQsetNoticeReceiver(pg, db_on_notice, NULL);
    db_pool_note(c->pool, 0, NULL);
    c->pg = pg;
    return 0;
}

/* 1 when an idle pooled connection still looks usable. An idle connection receives
 * nothing unless something happened: a terminated backend has sent its goodbye and
 * closed the socket. So anything readable means: reconnect. */
static int db_conn_alive(PGconn *pg)
{
    if (PQstatus(pg) != CONNECTION_OK || PQtransactionStatus(pg) != PQTRANS_IDLE)
        return 0;
    struct pollfd pfd = {.fd = PQsocket(pg), .events = POLLIN};
    return poll(&pfd, 1, 0) == 0;
}

static void db_deadline(struct timespec *ts, int timeout_ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += timeout_ms / 1000;
    ts->tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

static struct db_conn *db_pool_first_free(struct db_pool *p)
{
    for (int i = 0; i < p->size; i++) {
        if (!p->conns[i].busy)
            return &p->conns[i];
    }
    return NULL;
}

/* Reserve a slot (connected or not) for this thread. */
static int db_pool_take(struct db_pool *p, int timeout_ms, struct db_conn **out)
{
    struct timespec deadline;
    struct db_conn *c;
    int timed_out = 0;
    db_deadline(&deadline, timeout_ms);
    pthread_mutex_lock(&p->lock);
    while ((c = db_pool_first_free(p)) == NULL && !timed_out)
        timed_out = pthread_cond_timedwait(&p->freed, &p->lock, &deadline) == ETIMEDOUT;
    if (c)
        c->busy = 1;
    pthread_mutex_unlock(&p->lock);
    if (!c)
        return -EAGAIN;
    *out = c;
    return 0;
}

static void db_pool_give(struct db_conn *c)
{
    struct db_pool *p = c->pool;
    pthread_mutex_lock(&p->lock);
    c->busy = 0;
    pthread_cond_signal(&p->freed);
    pthread_mutex_unlock(&p->lock);
}

static int db_pool_sync_init(struct db_pool *p)
{
    pthread_condattr_t attr;
    if (pthread_condattr_init(&attr) != 0)
        return -ENOMEM;
    int rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    if (rc == 0)
        rc = pthread_cond_init(&p->freed, &attr);
    pthread_condattr_destroy(&attr);
    if (rc != 0)
        return -ENOMEM;
    if (pthread_mutex_init(&p->lock, NULL) != 0) {
        pthread_cond_destroy(&p->freed);
        return -ENOMEM;
    }
    return 0;
}

static int db_conninfo_check(const char *conninfo)
{
    char *err = NULL;
    PQconninfoOption *opts = PQconninfoParse(conninfo, &err);
    if (opts) {
        PQconninfoFree(opts);
        return 0;
    }
    int rc = err ? -EINVAL : -ENOMEM;
    PQfreemem(err);
    return rc;
}

int db_pool_new(const char *conninfo, int size, struct db_pool **out)
{
    if (!conninfo || !out || size < 1 || size > DB_POOL_MAX)
        return -EINVAL;
    int rc = db_conninfo_check(conninfo);
    if (rc)
        return rc;
    rc = -ENOMEM;
    struct db_pool *p = calloc(1, sizeof(*p));
    if (!p)
        return rc;
    p->size = size;
    p->conns = calloc((size_t)size, sizeof(*p->conns));
    p->conninfo = strdup(conninfo);
    if (!p->conns || !p->conninfo)
        goto fail_alloc;
    rc = db_pool_sync_init(p);
    if (rc)
        goto fail_alloc;
    for (int i = 0; i < size; i++)
        p->conns[i].pool = p;
    *out = p;
    return 0;
fail_alloc:
    free(p->conns);
    free(p->conninfo);
    free(p);
    return rc;
}

void db_pool_free(struct db_pool *p)
{
    if (!p)
        return;
    for (int i = 0; i < p->size; i++)
        PQfinish(p->conns[i].pg);
    pthread_cond_destroy(&p->freed);
    pthread_mutex_destroy(&p->lock);
    free(p->conns);
    free(p->conninfo);
    free(p);
}

int db_acquire(struct db_pool *p, int timeout_ms, struct db_conn **out)
{
    if (!p || !out || timeout_ms < 0)
        return -EINVAL;
    struct db_conn *c = NULL;
    int rc = db_pool_take(p, timeout_ms, &c);
    if (rc)
        return rc;
    if (c->pg && !db_conn_alive(c->pg))
        db_conn_drop(c);
    if (!c->pg)
        rc = db_conn_open(c);
    if (rc) {
        db_pool_give(c);
        return rc;
    }
    *out = c;
    return 0;
}

void db_release(struct db_conn *c)
{
    if (!c)
        return;
    if (c->pg) {
        PGTransactionStatusType ts = PQtransactionStatus(c->pg);
        if (ts == PQTRANS_INTRANS || ts == PQTRANS_INERROR)
            db_rollback(c);
        else if (ts != PQTRANS_IDLE)
            db_conn_drop(c);
    }
    db_pool_give(c);
}

/* ---- errors: the one place SQLSTATE becomes errno ---------------------------------- */

static const struct {
    const char *state;
    int err;
} db_states[] = {
    {"23505", -EEXIST}, {"23503", -ENOENT}, {"22P02", -EINVAL},
    {"22001", -EINVAL}, {"23502", -EINVAL}, {"23514", -EINVAL},
    {"40001", -EAGAIN}, {"40P01", -EAGAIN}, {"55P03", -EAGAIN},
};

static int db_state_is_connection(const char *state)
{
    return state && (strncmp(state, "08", 2) == 0 || strcmp(state, "57P01") == 0 ||
                     strcmp(state, "57P02") == 0 || strcmp(state, "57P03") == 0);
}

/* 0 for a successful result, else the errno for it. A connection failure drops the
 * connection (logged here); *unmapped is set when the caller should log the failure. */
static int db_errno(struct db_conn *c, const PGresult *r, int *unmapped)
{
    ExecStatusType st = PQresultStatus(r);
    const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    *unmapped = 0;
    if (r && (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK || st == PGRES_EMPTY_QUERY))
        return 0;
    if (PQstatus(c->pg) != CONNECTION_OK || db_state_is_connection(state)) {
        /* libpq's own text about a broken connection; a server ERROR could quote values */
        json_t *why = PQstatus(c->pg) != CONNECTION_OK ? db_json_line(PQerrorMessage(c->pg)) : NULL;
        log_fields(LOG_LVL_WARN,
                   json_pack("{s:s, s:o*}", "sqlstate", state ? state : "", "reason", why),
                   "database connection lost");
        db_conn_drop(c);
        return -EIO;
    }
    if (!r)
        return -ENOMEM;
    if (st != PGRES_FATAL_ERROR) {
        /* COPY or another protocol state we never use: do not reuse this connection. */
        db_conn_drop(c);
    } else {
        for (size_t i = 0; state && i < sizeof(db_states) / sizeof(db_states[0]); i++) {
            if (strcmp(state, db_states[i].state) == 0)
                return db_states[i].err;
        }
    }
    *unmapped = 1;
    return -EIO;
}

/* ---- queries --------------------------------------------------------------------- */

static int db_params_ok(int nparams, const char *const *params, const int *lengths,
                        const int *formats)
{
    if (nparams < 0 || nparams > 65535 || (nparams > 0 && !params))
        return 0;
    for (int i = 0; formats && i < nparams; i++) {
        if (formats[i] != 0 && (formats[i] != 1 || !lengths || lengths[i] < 0))
            return 0;
    }
    return 1;
}

int db_conn_query_bin(struct db_conn *c, const char *sql, int nparams, const char *const *params,
                      const int *lengths, const int *formats, int result_format, PGresult **out)
{
    if (!c || !sql || (result_format != 0 && result_format != 1) ||
        !db_params_ok(nparams, params, lengths, formats))
        return -EINVAL;
    if (!c->pg)
        return -EIO;
    PGresult *r = PQexecParams(c->pg, sql, nparams, NULL, params, lengths, formats, result_format);
    int unmapped;
    int rc = db_errno(c, r, &unmapped);
    if (unmapped)
        db_log_failure(r, "sql", sql, 0, "database error");
    if (rc || !out)
        PQclear(r);
    else
        *out = r;
    return rc;
}

int db_conn_query(struct db_conn *c, const char *sql, int nparams, const char *const *params,
                  PGresult **out)
{
    return db_conn_query_bin(c, sql, nparams, params, NULL, NULL, 0, out);
}

int db_query_bin(struct db_pool *p, const char *sql, int nparams, const char *const *params,
                 const int *lengths, const int *formats, int result_format, PGresult **out)
{
    struct db_conn *c = NULL;
    int rc = db_acquire(p, DB_ACQUIRE_TIMEOUT_MS, &c);
    if (rc)
        return rc;
    rc = db_conn_query_bin(c, sql, nparams, params, lengths, formats, result_format, out);
    db_release(c);
    return rc;
}

int db_query(struct db_pool *p, const char *sql, int nparams, const char *const *params,
             PGresult **out)
{
    return db_query_bin(p, sql, nparams, params, NULL, NULL, 0, out);
}

int db_ping(struct db_pool *p)
{
    struct db_conn *c = NULL;
    int rc = db_acquire(p, DB_PING_TIMEOUT_MS, &c);
    if (rc)
        return rc;
    rc = db_conn_query(c, "SELECT 1", 0, NULL, NULL);
    db_release(c);
    return rc;
}

/* ---- transactions ---------------------------------------------------------------- */

int db_begin(struct db_conn *c)
{
    return db_conn_query(c, "BEGIN", 0, NULL, NULL);
}

int db_commit(struct db_conn *c)
{
    PGresult *r = NULL;
    int rc = db_conn_query(c, "COMMIT", 0, NULL, &r);
    if (rc) {
        db_rollback(c);
        return rc;
    }
    /* COMMIT of a transaction in which a statement failed rolls back instead. */
    int rolled_back = strcmp(PQcmdStatus(r), "ROLLBACK") == 0;
    PQclear(r);
    if (rolled_back) {
        log_warn("database commit rolled back: an earlier statement of the transaction failed");
        return -EIO;
    }
    return 0;
}

void db_rollback(struct db_conn *c)
{
    if (!c || !c->pg || PQtransactionStatus(c->pg) == PQTRANS_IDLE)
        return;
    PGresult *r = PQexec(c->pg, "ROLLBACK");
    if (PQresultStatus(r) != PGRES_COMMAND_OK || PQtransactionStatus(c->pg) != PQTRANS_IDLE)
        db_conn_drop(c);
    PQclear(r);
}

int db_schema_lock(struct db_conn *c, const char *schema)
{
    if (!c || !schema || !db_is_ident(schema))
        return -EINVAL;
    char key[96], sql[128];
    snprintf(key, sizeof(key), "ibx.schema.%s", schema);
    const char *p[] = {key};
    int rc = db_conn_query(c, "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", 1, p, NULL);
    if (rc)
        return rc;
    snprintf(sql, sizeof(sql), "CREATE SCHEMA IF NOT EXISTS \"%s\"", schema);
    return db_conn_query(c, sql, 0, NULL, NULL);
}

/* ---- migrations ------------------------------------------------------------------ */

/* NNN_name.sql: leading digits, '_', a name, ".sql". */
static int db_mig_name_ok(const char *name)
{
    size_t len = strlen(name), digits = strspn(name, "0123456789");
    return len < DB_MIGRATION_NAME && digits > 0 && name[digits] == '_' && len > digits + 5 &&
           strcmp(name + len - 4, ".sql") == 0;
}

static int db_mig_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void db_mig_free_list(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

static int db_mig_push(char ***names, size_t *n, const char *name)
{
    if (*n >= DB_MIGRATION_FILES)
        return -EMSGSIZE;
    char **tmp = realloc(*names, (*n + 1) * sizeof(*tmp));
    if (!tmp)
        return -ENOMEM;
    *names = tmp;
    tmp[*n] = strdup(name);
    if (!tmp[*n])
        return -ENOMEM;
    (*n)++;
    return 0;
}

/* The migration file names in dir, sorted. */
static int db_mig_list(const char *dir, char ***out, size_t *nout)
{
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? -ENOENT : errno == EACCES ? -EACCES : -EIO;
    char **names = NULL;
    size_t n = 0;
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        if (db_mig_name_ok(e->d_name))
            rc = db_mig_push(&names, &n, e->d_name);
    }
    closedir(d);
    if (rc) {
        db_mig_free_list(names, n);
        return rc;
    }
    if (n)
        qsort(names, n, sizeof(*names), db_mig_cmp);
    *out = names;
    *nout = n;
    return 0;
}

/* Read dir/name into sql (limit DB_MIGRATION_MAX): text without NUL bytes. */
static int db_mig_read(const char *dir, const char *name, struct buf *sql)
{
    char path[4096], chunk[65536];
    int len = snprintf(path, sizeof(path), "%s/%s", dir, name);
    if (len < 0 || (size_t)len >= sizeof(path))
        return -EINVAL;
    FILE *f = fopen(path, "rbe");
    if (!f)
        return errno == EACCES ? -EACCES : -EIO;
    int rc = 0;
    size_t got;
    while (rc == 0 && (got = fread(chunk, 1, sizeof(chunk), f)) > 0)
        rc = buf_append(sql, chunk, got);
    if (rc == 0 && ferror(f))
        rc = -EIO;
    fclose(f);
    if (rc == 0 && memchr(buf_str(sql), '\0', sql->len))
        rc = -EINVAL;
    return rc;
}

/* Run one file's SQL inside the open transaction with search_path set to schema. */
static int db_mig_run(struct db_conn *c, const char *schema, const char *name, const char *sql)
{
    char set[128];
    snprintf(set, sizeof(set), "SET LOCAL search_path TO \"%s\", public", schema);
    int rc = db_conn_query(c, set, 0, NULL, NULL);
    if (rc)
        return rc;
    PGresult *r = PQexec(c->pg, sql);
    int unmapped;
    rc = db_errno(c, r, &unmapped);
    if (rc && c->pg) {
        db_log_failure(r, "file", name, 1, "migration failed");
        if (unmapped)
            rc = -EINVAL; /* the file is wrong, not the server: retrying will not help */
    } else if (rc == 0 && PQtransactionStatus(c->pg) != PQTRANS_INTRANS) {
        log_fields(LOG_LVL_ERROR, json_pack("{s:s}", "file", name),
                   "migration failed: it must not contain transaction control");
        rc = -EINVAL;
    }
    PQclear(r);
    return rc;
}

/* One file in its own transaction, unless a replica or an earlier run applied it. */
static int db_mig_apply(struct db_conn *c, const char *schema, const char *dir, const char *name)
{
    char version[DB_MIGRATION_NAME], sql[256];
    snprintf(version, sizeof(version), "%.*s", (int)(strlen(name) - 4), name);
    const char *p[] = {version};
    struct buf text;
    buf_init(&text, DB_MIGRATION_MAX);
    PGresult *r = NULL;
    int rc = db_begin(c);
    if (rc)
        goto out;
    rc = db_schema_lock(c, schema);
    if (rc)
        goto out_tx;
    snprintf(sql, sizeof(sql), "SELECT 1 FROM \"%s\".schema_migrations WHERE version = $1", schema);
    rc = db_conn_query(c, sql, 1, p, &r);
    if (rc || PQntuples(r) > 0)
        goto out_tx;
    rc = db_mig_read(dir, name, &text);
    if (rc) {
        log_fields(LOG_LVL_ERROR, json_pack("{s:s, s:s}", "file", name, "error", strerror(-rc)),
                   "migration file unreadable");
        goto out_tx;
    }
    rc = db_mig_run(c, schema, name, buf_str(&text));
    if (rc)
        goto out_tx;
    snprintf(sql, sizeof(sql),
             "INSERT INTO \"%s\".schema_migrations (version, applied_at) VALUES ($1, now())",
             schema);
    rc = db_conn_query(c, sql, 1, p, NULL);
    if (rc == 0)
        rc = db_commit(c);
    if (rc == 0)
        log_fields(LOG_LVL_INFO, json_pack("{s:s, s:s}", "schema", schema, "version", version),
                   "migration applied");
out_tx:
    db_rollback(c);
out:
    PQclear(r);
    buf_release(&text);
    return rc;
}

static int db_mig_bootstrap(struct db_conn *c, const char *schema)
{
    char sql[256];
    int rc = db_begin(c);
    if (rc)
        return rc;
    rc = db_schema_lock(c, schema);
    if (rc == 0) {
        snprintf(sql, sizeof(sql),
                 "CREATE TABLE IF NOT EXISTS \"%s\".schema_migrations (version text PRIMARY KEY, "
                 "applied_at timestamptz NOT NULL DEFAULT now())",
                 schema);
        rc = db_conn_query(c, sql, 0, NULL, NULL);
    }
    if (rc == 0)
        return db_commit(c);
    db_rollback(c);
    return rc;
}

int db_migrate(struct db_pool *p, const char *schema, const char *dir)
{
    if (!p || !schema || !dir || !db_is_ident(schema))
        return -EINVAL;
    char **names = NULL;
    size_t n = 0;
    int rc = db_mig_list(dir, &names, &n);
    if (rc) {
        log_fields(LOG_LVL_ERROR, json_pack("{s:s, s:s}", "dir", dir, "error", strerror(-rc)),
                   "cannot list migrations");
        return rc;
    }
    struct db_conn *c = NULL;
    rc = db_acquire(p, DB_ACQUIRE_TIMEOUT_MS, &c);
    if (rc)
        goto out_names;
    rc = db_mig_bootstrap(c, schema);
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = db_mig_apply(c, schema, dir, names[i]);
    db_release(c);
out_names:
    db_mig_free_list(names, n);
    return rc;
}

/* ---- results --------------------------------------------------------------------- */

const char *db_val(const PGresult *r, int row, int col)
{
    if (!r || row < 0 || col < 0 || row >= PQntuples(r) || col >= PQnfields(r) ||
        PQgetisnull(r, row, col))
        return NULL;
    return PQgetvalue(r, row, col);
}

static int db_parse_i64(const char *s, int64_t *out)
{
    if (!s || !*s)
        return -EINVAL;
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end != '\0')
        return -EINVAL;
    *out = (int64_t)v;
    return 0;
}

int db_val_i64(const PGresult *r, int row, int col, int64_t *out)
{
    return db_parse_i64(db_val(r, row, col), out);
}

int64_t db_affected(const PGresult *r)
{
    int64_t n = 0;
    if (!r || db_parse_i64(PQcmdTuples((PGresult *)r), &n) != 0)
        return 0;
    return n;
}

int db_is_ident(const char *s)
{
    if (!s || !*s || strchr("0123456789", *s))
        return 0;
    size_t len = strlen(s);
    return len <= 63 && strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_") == len;
}

int db_query_json(struct db_pool *p, const char *sql, int nparams, const char *const *params,
                  json_t **out)
{
    PGresult *r = NULL;
    int rc = db_query(p, sql, nparams, params, &r);
    if (rc)
        return rc;
    const char *text = PQntuples(r) > 0 ? db_val(r, 0, 0) : NULL;
    json_t *v = text ? json_loads(text, JSON_DECODE_ANY, NULL) : NULL;
    PQclear(r);
    if (!v)
        return -EIO;
    *out = v;
    return 0;
}
