/* db: PostgreSQL over libpq: a thread-safe connection pool, bound-parameter queries with
 * SQLSTATE translated to negative errno in one place, transactions, and a migration runner.
 *
 * Connections are opened lazily: db_pool_new() never talks to the server, so a service
 * can start while PostgreSQL is down, report not-ready (db_ping), and recover when it
 * comes up. A connection found broken is reconnected on its next acquire; a query that
 * hits a dead connection returns -EIO and drops it, it never crashes.
 *
 * Errors (every int function): 0 on success, or
 *   -EEXIST  unique violation (23505)
 *   -ENOENT  foreign-key violation (23503)
 *   -EINVAL  bad input: 22P02 invalid text, 22001 too long, 23502 not null, 23514 check,
 *            or bad arguments
 *   -EAGAIN  retry later: 40001 serialization, 40P01 deadlock, 55P03 lock not available,
 *            or no pooled connection free in time
 *   -EIO     connection failures and every other SQLSTATE (logged once, with the SQLSTATE
 *            and never with parameter values)
 *   -ENOMEM
 * Results: the caller owns a returned PGresult and PQclear()s it. On failure *out is left
 * untouched and nothing is allocated. out may be NULL to discard the result. */
#ifndef IBX_DB_H
#define IBX_DB_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stdint.h>

#define DB_WUR __attribute__((warn_unused_result))

/* Acquire timeout used by db_query()/db_query_bin(); db_ping() uses a short one. */
#define DB_ACQUIRE_TIMEOUT_MS 5000
#define DB_POOL_MAX           256

struct db_pool;
/* A connection acquired from a pool: used by one thread until db_release(). */
struct db_conn;

/* Create a pool of up to size (1..DB_POOL_MAX) connections for conninfo (a libpq URL
 * or key=value string, copied). Connects nothing yet. -EINVAL for a malformed conninfo
 * or size, -ENOMEM. Free with db_pool_free(). */
int db_pool_new(const char *conninfo, int size, struct db_pool **out) DB_WUR;
/* Close every connection and free the pool. Accepts NULL. All connections must have
 * been released. */
void db_pool_free(struct db_pool *p);

/* Take a connection for exclusive use, waiting up to timeout_ms (0: do not wait).
 * -EAGAIN when none is free in time, -EIO when (re)connecting fails. */
int db_acquire(struct db_pool *p, int timeout_ms, struct db_conn **out) DB_WUR;
/* Give it back. An open transaction is rolled back first. Accepts NULL. */
void db_release(struct db_conn *c);

/* One statement with text parameters ($1..$n; a NULL entry is SQL NULL) and text
 * results. db_query acquires, runs and releases; db_conn_query runs on an acquired
 * connection (inside a transaction, for instance). params are borrowed. */
int db_query(struct db_pool *p, const char *sql, int nparams, const char *const *params,
             PGresult **out) DB_WUR;
int db_conn_query(struct db_conn *c, const char *sql, int nparams, const char *const *params,
                  PGresult **out) DB_WUR;

/* The same with per-parameter lengths and formats (format 1 = binary, e.g. raw bytes for
 * a bytea; lengths are ignored for text parameters; lengths/formats may be NULL for all
 * text) and the result format (0 text, 1 binary: a bytea column then comes back as raw
 * bytes, PQgetlength() long). */
int db_query_bin(struct db_pool *p, const char *sql, int nparams, const char *const *params,
                 const int *lengths, const int *formats, int result_format, PGresult **out) DB_WUR;
int db_conn_query_bin(struct db_conn *c, const char *sql, int nparams, const char *const *params,
                      const int *lengths, const int *formats, int result_format,
                      PGresult **out) DB_WUR;

/* Transactions on an acquired connection. db_commit returns -EIO (and the transaction
 * is gone) when an earlier statement failed and the server rolled back instead, -EAGAIN
 * on a serialization failure. db_rollback is best effort: a connection that cannot roll
 * back is dropped, so it never returns to the pool mid-transaction. */
int db_begin(struct db_conn *c) DB_WUR;
int db_commit(struct db_conn *c) DB_WUR;
void db_rollback(struct db_conn *c);

/* Inside a transaction on c: wait for the advisory lock that db_migrate() takes on
 * schema (held until commit or rollback), then create the schema if missing. For code
 * that creates tables of its own at start-up (the blob store) so it never races
 * migrations or another replica. -EINVAL for a bad schema name. */
int db_schema_lock(struct db_conn *c, const char *schema) DB_WUR;

/* A query whose first row's first column is JSON text (e.g. json_agg): *out is the parsed
 * value (caller decrefs). 0; the query's errors; -EIO when the text is not JSON. */
int db_query_json(struct db_pool *p, const char *sql, int nparams, const char *const *params,
                  json_t **out) DB_WUR;

/* 0 when `SELECT 1` works within a short acquire timeout; for /readyz. */
int db_ping(struct db_pool *p) DB_WUR;

/* Apply dir/NNN_name.sql files (leading digits, '_', ".sql"; other names are ignored) in
 * lexical order into schema (a lowercase identifier, created if missing). Each file not
 * yet listed in <schema>.schema_migrations runs in its own transaction together with its
 * record row (version = file name without ".sql"), with search_path = schema, public,
 * under an advisory lock on the schema name: replicas starting together apply each file
 * once. A failing file is rolled back whole and named in the log; files applied before
 * it stay. Files must not contain transaction control. Errors: -EIO when the server is
 * unreachable (worth retrying at start-up) or refuses the bookkeeping (e.g. privileges);
 * a failing file gives its translated SQLSTATE (-EEXIST, ...) or -EINVAL (bad SQL, NUL
 * bytes, COMMIT inside); -ENOENT no dir; -EMSGSIZE a file over 8 MiB; -EINVAL a bad
 * schema name. */
int db_migrate(struct db_pool *p, const char *schema, const char *dir) DB_WUR;

/* Row row, column col as text (borrowed from r); NULL for SQL NULL or out of range. */
const char *db_val(const PGresult *r, int row, int col);
/* The same parsed as a base-10 integer: -EINVAL for NULL, out of range or not a number. */
int db_val_i64(const PGresult *r, int row, int col, int64_t *out) DB_WUR;
/* Rows affected by an INSERT/UPDATE/DELETE (PQcmdTuples); 0 when not applicable. */
int64_t db_affected(const PGresult *r);

/* 1 when s is a lowercase SQL identifier safe to splice into SQL unquoted or quoted:
 * [a-z_][a-z0-9_]*, at most 63 bytes. */
int db_is_ident(const char *s);

#endif
