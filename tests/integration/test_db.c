/* test_db: the PostgreSQL layer (pool, queries, errors, transactions, migrations) on a
 * throwaway database of the test cluster ($IBX_TEST_DATABASE_URL). */
#include <ibx/db.h>
#include <ibx/ids.h>
#include <ibx/log.h>

#include "../harness/th_pg.h"
#include "../harness/th_stack.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

static char db_url[512];
static struct db_pool *pool;   /* the pool under test */
static struct db_pool *killer; /* a second client, to kill the first one's backends */

/* ---- helpers ------------------------------------------------------------------------ */

static void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void exec_ok(struct db_pool *p, const char *sql)
{
    assert_int_equal(db_query(p, sql, 0, NULL, NULL), 0);
}

/* First column of the first row of a query that must succeed, as an integer. */
static int64_t query_i64(const char *sql, int n, const char *const *params)
{
    PGresult *r = NULL;
    int64_t v = -1;
    assert_int_equal(db_query(pool, sql, n, params, &r), 0);
    assert_int_equal(db_val_i64(r, 0, 0, &v), 0);
    PQclear(r);
    return v;
}

static void make_dir(char *dir, size_t n)
{
    snprintf(dir, n, "/tmp/dbh-mig-XXXXXX");
    assert_non_null(mkdtemp(dir));
}

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

static void remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    char path[512];
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        assert_int_equal(unlink(path), 0);
    }
    closedir(d);
    assert_int_equal(rmdir(dir), 0);
}

static int group_setup(void **state)
{
    (void)state;
    log_init("test_db", LOG_LVL_WARN);
    if (ids_init() != 0 || th_db_create(db_url, sizeof(db_url)) != 0) {
        fprintf(stderr, "test_db: cannot create a test database (IBX_TEST_DATABASE_URL?)\n");
        return -1;
    }
    if (db_pool_new(db_url, 4, &pool) != 0 || db_pool_new(db_url, 1, &killer) != 0)
        return -1;
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    db_pool_free(pool);
    db_pool_free(killer);
    th_db_drop(db_url);
    return 0;
}

/* ---- pool ----------------------------------------------------------------------------- */

static void test_pool_bad_args(void **state)
{
    (void)state;
    struct db_pool *p = (struct db_pool *)&p; /* sentinel: must stay untouched */
    struct db_pool *const sentinel = p;
    assert_int_equal(db_pool_new(NULL, 2, &p), -EINVAL);
    assert_int_equal(db_pool_new(db_url, 0, &p), -EINVAL);
    assert_int_equal(db_pool_new(db_url, DB_POOL_MAX + 1, &p), -EINVAL);
    assert_int_equal(db_pool_new("this is not a conninfo", 2, &p), -EINVAL);
    assert_int_equal(db_pool_new("postgresql://h:notaport:x/db?bogus_option=1", 2, &p), -EINVAL);
    assert_ptr_equal(p, sentinel);
    db_pool_free(NULL);
}

static void test_pool_server_down(void **state)
{
    (void)state;
    char url[128];
    snprintf(url, sizeof(url), "postgresql://postgres@127.0.0.1:%d/postgres", th_free_port());
    struct db_pool *p = NULL;
    assert_int_equal(db_pool_new(url, 2, &p), 0); /* lazy: the server being down is fine */
    PGresult *r = (PGresult *)&r;
    PGresult *const sentinel = r;
    assert_int_equal(db_ping(p), -EIO);
    assert_int_equal(db_query(p, "SELECT 1", 0, NULL, &r), -EIO);
    assert_ptr_equal(r, sentinel);
    struct db_conn *c = NULL;
    assert_int_equal(db_acquire(p, 10, &c), -EIO);
    assert_null(c);
    db_pool_free(p);
}

static void test_acquire_timeout(void **state)
{
    (void)state;
    struct db_pool *p = NULL;
    struct db_conn *a = NULL, *b = NULL;
    assert_int_equal(db_pool_new(db_url, 1, &p), 0);
    assert_int_equal(db_acquire(p, 1000, &a), 0);
    assert_int_equal(db_acquire(p, 0, &b), -EAGAIN);
    assert_int_equal(db_acquire(p, 50, &b), -EAGAIN);
    assert_null(b);
    db_release(a);
    assert_int_equal(db_acquire(p, 0, &b), 0);
    assert_ptr_equal(a, b); /* the only slot, handed out again */
    db_release(b);
    db_release(NULL);
    assert_int_equal(db_ping(p), 0);
    db_pool_free(p);
}

/* ---- parameters and results ------------------------------------------------------------- */

static void test_params_verbatim(void **state)
{
    (void)state;
    static const char *const values[] = {
        "Robert'); DROP TABLE params;--",
        "' OR '1'='1",
        "$1",
        "$2::text || 'x'",
        "%s%s%n%p",
        "\\x00\\'",
        "ünïcødé ✓ 日本",
        "",
        "multi\nline\ttab",
        "/* comment */ -- dash",
        "E'\\\\'; SELECT pg_sleep(10); --",
    };
    exec_ok(pool, "CREATE TABLE params (id serial PRIMARY KEY, v text)");
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        const char *p[] = {values[i]};
        PGresult *r = NULL;
        assert_int_equal(db_query(pool, "INSERT INTO params (v) VALUES ($1) RETURNING v", 1, p, &r),
                         0);
        assert_string_equal(db_val(r, 0, 0), values[i]);
        assert_int_equal(db_affected(r), 1);
        PQclear(r);
        assert_int_equal(query_i64("SELECT count(*) FROM params WHERE v = $1", 1, p), 1);
    }
    const char *nul[] = {NULL};
    PGresult *r = NULL;
    assert_int_equal(db_query(pool, "SELECT $1::text, 42", 1, nul, &r), 0);
    assert_null(db_val(r, 0, 0)); /* SQL NULL */
    assert_string_equal(db_val(r, 0, 1), "42");
    assert_null(db_val(r, 1, 0)); /* out of range */
    assert_null(db_val(r, 0, 2));
    assert_null(db_val(r, -1, 0));
    int64_t v = 7;
    assert_int_equal(db_val_i64(r, 0, 0, &v), -EINVAL);
    assert_int_equal(v, 7);
    PQclear(r);
    assert_int_equal(query_i64("SELECT count(*) FROM params", 0, NULL),
                     (int64_t)(sizeof(values) / sizeof(values[0])));
    exec_ok(pool, "DROP TABLE params");
}

static void test_binary_params(void **state)
{
    (void)state;
    static const char bytes[] = {0, 1, 2, (char)0xff, 0, 'a', '\'', '\\'};
    const char *p[] = {bytes};
    const int len[] = {(int)sizeof(bytes)}, fmt[] = {1};
    PGresult *r = NULL;
    assert_int_equal(
        db_query_bin(pool, "SELECT $1::bytea, length($1::bytea)", 1, p, len, fmt, 1, &r), 0);
    assert_int_equal(PQgetlength(r, 0, 0), (int)sizeof(bytes));
    assert_memory_equal(PQgetvalue(r, 0, 0), bytes, sizeof(bytes));
    PQclear(r);
    /* binary without a length is refused before it reaches libpq */
    assert_int_equal(db_query_bin(pool, "SELECT $1::bytea", 1, p, NULL, fmt, 0, &r), -EINVAL);
    assert_int_equal(db_query_bin(pool, "SELECT 1", 0, NULL, NULL, NULL, 2, &r), -EINVAL);
    assert_int_equal(db_query(pool, NULL, 0, NULL, &r), -EINVAL);
    assert_int_equal(db_query(pool, "SELECT $1", 1, NULL, &r), -EINVAL);
}

static void test_value_helpers(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int rc;
        int64_t want;
    } cases[] = {
        {"0", 0, 0},
        {"-12", 0, -12},
        {"9223372036854775807", 0, INT64_MAX},
        {"9223372036854775808", -EINVAL, 0},
        {"12abc", -EINVAL, 0},
        {"", -EINVAL, 0},
        {"1.5", -EINVAL, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *p[] = {cases[i].text};
        PGresult *r = NULL;
        int64_t v = 99;
        assert_int_equal(db_query(pool, "SELECT $1::text", 1, p, &r), 0);
        assert_int_equal(db_val_i64(r, 0, 0, &v), cases[i].rc);
        assert_int_equal(v, cases[i].rc ? 99 : cases[i].want);
        PQclear(r);
    }
    static const struct {
        const char *s;
        int ok;
    } idents[] = {{"gateway", 1},
                  {"ml_pipeline2", 1},
                  {"_x", 1},
                  {"", 0},
                  {"2x", 0},
                  {"Gateway", 0},
                  {"a-b", 0},
                  {"a\"b", 0},
                  {"a b", 0},
                  {"x; DROP", 0},
                  {"a234567890123456789012345678901234567890123456789012345678901234", 0}};
    for (size_t i = 0; i < sizeof(idents) / sizeof(idents[0]); i++)
        assert_int_equal(db_is_ident(idents[i].s), idents[i].ok);
    assert_int_equal(db_is_ident(NULL), 0);
}

/* ---- error translation ---------------------------------------------------------------- */

static void test_raised_states(void **state)
{
    (void)state;
    static const struct {
        const char *state;
        int err;
    } cases[] = {
        {"23505", -EEXIST}, {"23503", -ENOENT}, {"22P02", -EINVAL}, {"22001", -EINVAL},
        {"23502", -EINVAL}, {"23514", -EINVAL}, {"40001", -EAGAIN}, {"40P01", -EAGAIN},
        {"55P03", -EAGAIN}, {"42P01", -EIO},    {"XX000", -EIO},    {"22012", -EIO},
        {"08006", -EIO},    {"57P01", -EIO},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char sql[128];
        snprintf(sql, sizeof(sql),
                 "DO $$ BEGIN RAISE EXCEPTION 'boom' USING ERRCODE = '%s'; END $$", cases[i].state);
        PGresult *r = (PGresult *)&r;
        PGresult *const sentinel = r;
        int rc = db_query(pool, sql, 0, NULL, &r);
        if (rc != cases[i].err)
            fail_msg("SQLSTATE %s gave %d, want %d", cases[i].state, rc, cases[i].err);
        assert_ptr_equal(r, sentinel);
        assert_int_equal(db_ping(pool), 0); /* usable afterwards, reconnected if need be */
    }
}

static void test_real_errors(void **state)
{
    (void)state;
    exec_ok(pool, "CREATE TABLE owners (id int PRIMARY KEY, email text UNIQUE NOT NULL, "
                  "code varchar(3), age int CHECK (age >= 0))");
    exec_ok(pool, "CREATE TABLE pets (id int PRIMARY KEY, owner int REFERENCES owners(id))");
    static const struct {
        const char *sql;
        int n;
        const char *params[3];
        int err;
    } cases[] = {
        {"INSERT INTO owners (id, email) VALUES ($1, $2)", 2, {"1", "a@x"}, 0},
        {"INSERT INTO owners (id, email) VALUES ($1, $2)", 2, {"2", "a@x"}, -EEXIST},
        {"INSERT INTO owners (id, email) VALUES ($1, $2)", 2, {"1", "b@x"}, -EEXIST},
        {"INSERT INTO pets (id, owner) VALUES ($1, $2)", 2, {"1", "999"}, -ENOENT},
        {"INSERT INTO owners (id, email) VALUES ($1, $2)", 2, {"12abc", "c@x"}, -EINVAL},
        {"INSERT INTO owners (id, email, code) VALUES ($1, $2, $3)",
         3,
         {"3", "d@x", "toolong"},
         -EINVAL},
        {"INSERT INTO owners (id, email) VALUES ($1, $2)", 2, {"4", NULL}, -EINVAL},
        {"INSERT INTO owners (id, email, age) VALUES ($1, $2, $3)", 3, {"5", "e@x", "-1"}, -EINVAL},
        {"INSERT INTO nowhere VALUES ($1)", 1, {"1"}, -EIO},
        {"SELEKT 1", 0, {NULL}, -EIO},
        {"SELECT 1/0", 0, {NULL}, -EIO},
        {"SELECT $1::int", 2, {"1", "2"}, -EIO}, /* wrong parameter count */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        PGresult *r = (PGresult *)&r;
        PGresult *const sentinel = r;
        int rc = db_query(pool, cases[i].sql, cases[i].n, cases[i].params, &r);
        if (rc != cases[i].err)
            fail_msg("case %zu (%s) gave %d, want %d", i, cases[i].sql, rc, cases[i].err);
        if (rc)
            assert_ptr_equal(r, sentinel);
        else
            PQclear(r);
    }
    assert_int_equal(query_i64("SELECT count(*) FROM owners", 0, NULL), 1);
    exec_ok(pool, "DROP TABLE pets, owners");
}

/* ---- transactions --------------------------------------------------------------------- */

static int64_t count_rows(const char *v)
{
    const char *p[] = {v};
    return query_i64("SELECT count(*) FROM tx WHERE v = $1", 1, p);
}

static void insert_tx(struct db_conn *c, const char *v, int want)
{
    const char *p[] = {v};
    assert_int_equal(db_conn_query(c, "INSERT INTO tx (v) VALUES ($1)", 1, p, NULL), want);
}

static void test_transactions(void **state)
{
    (void)state;
    exec_ok(pool, "CREATE TABLE tx (v text PRIMARY KEY)");
    struct db_conn *c = NULL;
    assert_int_equal(db_acquire(pool, 1000, &c), 0);

    assert_int_equal(db_begin(c), 0); /* commit */
    insert_tx(c, "committed", 0);
    assert_int_equal(db_commit(c), 0);
    assert_int_equal(count_rows("committed"), 1);

    assert_int_equal(db_begin(c), 0); /* rollback */
    insert_tx(c, "rolled-back", 0);
    assert_int_equal(count_rows("rolled-back"), 0); /* not visible to others yet */
    db_rollback(c);
    assert_int_equal(count_rows("rolled-back"), 0);

    assert_int_equal(db_begin(c), 0); /* a failed statement poisons the commit */
    insert_tx(c, "before-failure", 0);
    insert_tx(c, "committed", -EEXIST);
    assert_int_equal(db_commit(c), -EIO);
    assert_int_equal(count_rows("before-failure"), 0);

    assert_int_equal(db_begin(c), 0); /* release without commit rolls back */
    insert_tx(c, "abandoned", 0);
    db_release(c);
    assert_int_equal(count_rows("abandoned"), 0);
    assert_int_equal(query_i64("SELECT count(*) FROM tx", 0, NULL), 1);

    assert_int_equal(db_acquire(pool, 1000, &c), 0); /* the connection is clean again */
    assert_int_equal(db_conn_query(c, "SELECT 1", 0, NULL, NULL), 0);
    db_rollback(c); /* no transaction: a no-op */
    assert_int_equal(db_begin(c), 0);
    insert_tx(c, "second", 0);
    assert_int_equal(db_commit(c), 0);
    db_release(c);
    assert_int_equal(count_rows("second"), 1);
    exec_ok(pool, "DROP TABLE tx");
}

/* ---- concurrency ---------------------------------------------------------------------- */

#define CONC_THREADS 8
#define CONC_ROUNDS  40

static pthread_mutex_t held_lock = PTHREAD_MUTEX_INITIALIZER;
static char held[CONC_THREADS][16]; /* backend pids currently held by a thread */
static int conc_shared;             /* a backend seen held by two threads at once */

static void held_set(int slot, const char *pid)
{
    pthread_mutex_lock(&held_lock);
    for (int i = 0; pid && i < CONC_THREADS; i++) {
        if (i != slot && strcmp(held[i], pid) == 0)
            conc_shared = 1;
    }
    snprintf(held[slot], sizeof(held[slot]), "%s", pid ? pid : "");
    pthread_mutex_unlock(&held_lock);
}

static void *conc_worker(void *arg)
{
    int slot = (int)(intptr_t)arg;
    intptr_t failures = 0;
    for (int i = 0; i < CONC_ROUNDS; i++) {
        char t[16], n[16];
        snprintf(t, sizeof(t), "%d", slot);
        snprintf(n, sizeof(n), "%d", i);
        const char *p[] = {t, n};
        struct db_conn *c = NULL;
        PGresult *r = NULL;
        if (db_acquire(pool, 10000, &c) != 0) {
            failures++;
            continue;
        }
        if (db_conn_query(c, "INSERT INTO conc (t, i) VALUES ($1, $2) RETURNING pg_backend_pid()",
                          2, p, &r) == 0) {
            held_set(slot, db_val(r, 0, 0));
            PQclear(r);
        } else {
            failures++;
        }
        if (db_conn_query(c, "SELECT count(*) FROM conc WHERE t = $1", 1, p, NULL) != 0)
            failures++;
        held_set(slot, NULL);
        db_release(c);
        if (db_query(pool, "SELECT count(*) FROM conc", 0, NULL, NULL) != 0)
            failures++;
    }
    return (void *)failures;
}

static void test_concurrent_use(void **state)
{
    (void)state;
    exec_ok(pool, "CREATE TABLE conc (t int, i int, PRIMARY KEY (t, i))");
    pthread_t th[CONC_THREADS];
    for (intptr_t i = 0; i < CONC_THREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, conc_worker, (void *)i), 0);
    intptr_t failures = 0;
    for (int i = 0; i < CONC_THREADS; i++) {
        void *ret = NULL;
        assert_int_equal(pthread_join(th[i], &ret), 0);
        failures += (intptr_t)ret;
    }
    assert_int_equal(failures, 0);
    assert_int_equal(conc_shared, 0);
    assert_int_equal(query_i64("SELECT count(*) FROM conc", 0, NULL), CONC_THREADS * CONC_ROUNDS);
    exec_ok(pool, "DROP TABLE conc");
}

/* ---- reconnection --------------------------------------------------------------------- */

/* Terminate every backend of the test database except the killer's; wait until gone. */
static void kill_backends(void)
{
    exec_ok(killer, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()");
    for (int i = 0; i < 500; i++) {
        PGresult *r = NULL;
        assert_int_equal(db_query(killer,
                                  "SELECT count(*) FROM pg_stat_activity WHERE datname = "
                                  "current_database() AND pid <> pg_backend_pid()",
                                  0, NULL, &r),
                         0);
        int gone = strcmp(db_val(r, 0, 0), "0") == 0;
        PQclear(r);
        if (gone)
            return;
        sleep_ms(10);
    }
    fail_msg("backends did not go away");
}

static void test_reconnect_after_terminate(void **state)
{
    (void)state;
    /* A held connection whose backend dies: its queries fail with -EIO, no crash. */
    struct db_conn *c = NULL;
    PGresult *r = NULL;
    assert_int_equal(db_acquire(pool, 1000, &c), 0);
    assert_int_equal(db_conn_query(c, "SELECT pg_backend_pid()", 0, NULL, &r), 0);
    char old_pid[16];
    snprintf(old_pid, sizeof(old_pid), "%s", db_val(r, 0, 0));
    PQclear(r);
    kill_backends();
    assert_int_equal(db_conn_query(c, "SELECT 1", 0, NULL, NULL), -EIO);
    assert_int_equal(db_conn_query(c, "SELECT 1", 0, NULL, NULL), -EIO);
    assert_int_equal(db_begin(c), -EIO);
    db_rollback(c);
    db_release(c);

    /* Idle pooled connections whose backends died are replaced on the next acquire:
     * the backend's goodbye is already in the socket, so no query fails. */
    struct db_conn *all[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(db_acquire(pool, 1000, &all[i]), 0);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(db_conn_query(all[i], "SELECT 1", 0, NULL, NULL), 0);
        db_release(all[i]);
    }
    kill_backends();
    for (int i = 0; i < 8; i++) {
        assert_int_equal(db_query(pool, "SELECT pg_backend_pid()", 0, NULL, &r), 0);
        assert_string_not_equal(db_val(r, 0, 0), old_pid);
        PQclear(r);
    }
    assert_int_equal(db_ping(pool), 0);
}

/* ---- migrations ----------------------------------------------------------------------- */

static int64_t migration_count(const char *schema)
{
    char sql[128];
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s.schema_migrations", schema);
    return query_i64(sql, 0, NULL);
}

static void test_migrations_order_and_once(void **state)
{
    (void)state;
    char dir[64];
    make_dir(dir, sizeof(dir));
    write_file(dir, "002_things.sql",
               "CREATE TABLE things (id int PRIMARY KEY, log_id int REFERENCES mig_log(id));\n"
               "INSERT INTO mig_log (v) VALUES ('002');\n");
    write_file(dir, "001_log.sql",
               "-- the log comes first\nCREATE TABLE mig_log (id serial PRIMARY KEY, v text);\n"
               "INSERT INTO mig_log (v) VALUES ('001');\n");
    write_file(dir, "README.md", "not a migration");
    write_file(dir, "003-not-a-migration.sql", "SELECT broken syntax here");
    write_file(dir, "x_001.sql", "SELECT broken syntax here");
    assert_int_equal(db_migrate(pool, "mig_a", dir), 0);
    PGresult *r = NULL;
    assert_int_equal(db_query(pool, "SELECT v FROM mig_a.mig_log ORDER BY id", 0, NULL, &r), 0);
    assert_int_equal(PQntuples(r), 2);
    assert_string_equal(db_val(r, 0, 0), "001");
    assert_string_equal(db_val(r, 1, 0), "002");
    PQclear(r);
    assert_int_equal(
        db_query(pool, "SELECT version FROM mig_a.schema_migrations ORDER BY 1", 0, NULL, &r), 0);
    assert_int_equal(PQntuples(r), 2);
    assert_string_equal(db_val(r, 0, 0), "001_log");
    assert_string_equal(db_val(r, 1, 0), "002_things");
    PQclear(r);
    /* unqualified names landed in the schema, not in public */
    assert_int_equal(query_i64("SELECT count(*) FROM pg_tables WHERE tablename = 'things' AND "
                               "schemaname = 'mig_a'",
                               0, NULL),
                     1);
    assert_int_equal(query_i64("SELECT count(*) FROM pg_tables WHERE tablename = 'things' AND "
                               "schemaname = 'public'",
                               0, NULL),
                     0);

    assert_int_equal(db_migrate(pool, "mig_a", dir), 0); /* nothing new: nothing runs */
    assert_int_equal(query_i64("SELECT count(*) FROM mig_a.mig_log", 0, NULL), 2);

    write_file(dir, "003_more.sql", "INSERT INTO mig_log (v) VALUES ('003');");
    assert_int_equal(db_migrate(pool, "mig_a", dir), 0);
    assert_int_equal(query_i64("SELECT count(*) FROM mig_a.mig_log", 0, NULL), 3);
    assert_int_equal(migration_count("mig_a"), 3);
    remove_dir(dir);
}

static void test_migration_failure_is_atomic(void **state)
{
    (void)state;
    char dir[64];
    make_dir(dir, sizeof(dir));
    write_file(dir, "001_ok.sql", "CREATE TABLE t1 (x int);");
    write_file(dir, "002_bad.sql",
               "CREATE TABLE t2 (x int);\nINSERT INTO no_such_table VALUES (1);");
    write_file(dir, "003_later.sql", "CREATE TABLE t3 (x int);");
    assert_int_equal(db_migrate(pool, "mig_b", dir), -EINVAL);
    assert_int_equal(
        query_i64("SELECT count(*) FROM pg_tables WHERE schemaname = 'mig_b'", 0, NULL),
        2); /* schema_migrations and t1: no t2, no t3 */
    assert_int_equal(query_i64("SELECT count(*) FROM pg_tables WHERE schemaname = 'mig_b' AND "
                               "tablename = 't1'",
                               0, NULL),
                     1);
    assert_int_equal(migration_count("mig_b"), 1);

    write_file(dir, "002_bad.sql", "CREATE TABLE t2 (x int);"); /* fixed: the run resumes */
    assert_int_equal(db_migrate(pool, "mig_b", dir), 0);
    assert_int_equal(migration_count("mig_b"), 3);

    write_file(dir, "004_commits.sql", "CREATE TABLE t4 (x int); COMMIT;");
    assert_int_equal(db_migrate(pool, "mig_b", dir), -EINVAL);
    write_file(dir, "004_commits.sql", "INSERT INTO t1 VALUES (1); INSERT INTO t1 VALUES (2);");
    write_file(dir, "005_dup.sql", "CREATE UNIQUE INDEX ON t1 ((1));");
    assert_int_equal(db_migrate(pool, "mig_b", dir), -EEXIST);
    assert_int_equal(migration_count("mig_b"), 4);
    remove_dir(dir);

    assert_int_equal(db_migrate(pool, "Bad-Name", "/tmp"), -EINVAL);
    assert_int_equal(db_migrate(pool, "x; DROP SCHEMA public", "/tmp"), -EINVAL);
    assert_int_equal(db_migrate(pool, "mig_b", "/nonexistent/migrations"), -ENOENT);
}

struct mig_job {
    const char *dir;
    int rc;
};

static void *mig_worker(void *arg)
{
    struct mig_job *job = arg;
    struct db_pool *p = NULL; /* each replica has its own pool */
    job->rc = db_pool_new(db_url, 1, &p);
    if (job->rc == 0)
        job->rc = db_migrate(p, "mig_c", job->dir);
    db_pool_free(p);
    return NULL;
}

static void test_concurrent_migrations(void **state)
{
    (void)state;
    char dir[64], name[32], sql[256];
    make_dir(dir, sizeof(dir));
    write_file(dir, "000_applied.sql", "CREATE TABLE applied (v text);");
    for (int i = 1; i <= 5; i++) {
        snprintf(name, sizeof(name), "%03d_step.sql", i);
        snprintf(sql, sizeof(sql),
                 "CREATE TABLE step%d (x int);\nSELECT pg_sleep(0.02);\n"
                 "INSERT INTO applied VALUES ('%d');\n",
                 i, i);
        write_file(dir, name, sql);
    }
    enum { N = 4 };
    struct mig_job jobs[N];
    pthread_t th[N];
    for (int i = 0; i < N; i++) {
        jobs[i] = (struct mig_job){.dir = dir, .rc = 1};
        assert_int_equal(pthread_create(&th[i], NULL, mig_worker, &jobs[i]), 0);
    }
    for (int i = 0; i < N; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(jobs[i].rc, 0);
    }
    assert_int_equal(query_i64("SELECT count(*) FROM mig_c.applied", 0, NULL), 5);
    assert_int_equal(query_i64("SELECT count(DISTINCT v) FROM mig_c.applied", 0, NULL), 5);
    assert_int_equal(migration_count("mig_c"), 6);
    remove_dir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pool_bad_args),
        cmocka_unit_test(test_pool_server_down),
        cmocka_unit_test(test_acquire_timeout),
        cmocka_unit_test(test_params_verbatim),
        cmocka_unit_test(test_binary_params),
        cmocka_unit_test(test_value_helpers),
        cmocka_unit_test(test_raised_states),
        cmocka_unit_test(test_real_errors),
        cmocka_unit_test(test_transactions),
        cmocka_unit_test(test_concurrent_use),
        cmocka_unit_test(test_reconnect_after_terminate),
        cmocka_unit_test(test_migrations_order_and_once),
        cmocka_unit_test(test_migration_failure_is_atomic),
        cmocka_unit_test(test_concurrent_migrations),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
