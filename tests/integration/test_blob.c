/* test_blob: the content-addressed artifact store on its PostgreSQL backend, on a
 * throwaway database of the test cluster ($IBX_TEST_DATABASE_URL). */
#include <ibx/blob.h>
#include <ibx/db.h>
#include <ibx/hash.h>
#include <ibx/ids.h>
#include <ibx/log.h>

#include "../harness/th_pg.h"
#include "../harness/th_stack.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#define MIB         (1u << 20)
#define SCHEMA      "blobtest"
#define BIG_SIZE    (3 * MIB + MIB / 2)
#define HELLO_SHA   "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
#define EMPTY_SHA   "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define UNKNOWN_SHA "0000000000000000000000000000000000000000000000000000000000000001"

static char db_url[512];
static struct db_pool *pool;
static struct blob_store *store;

/* ---- helpers ------------------------------------------------------------------------ */

/* Deterministic bytes that do not repeat at chunk borders. */
static unsigned char *make_data(size_t n, uint32_t seed)
{
    unsigned char *d = malloc(n);
    assert_non_null(d);
    uint32_t x = seed ? seed : 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        d[i] = (unsigned char)x;
    }
    return d;
}

static int64_t count(const char *sql, const char *param)
{
    const char *p[] = {param};
    PGresult *r = NULL;
    int64_t v = -1;
    assert_int_equal(db_query(pool, sql, param ? 1 : 0, p, &r), 0);
    assert_int_equal(db_val_i64(r, 0, 0, &v), 0);
    PQclear(r);
    return v;
}

static int64_t chunks_of(const char *id)
{
    return count("SELECT count(*) FROM " SCHEMA ".blob_chunks WHERE sha256 = $1", id);
}

static int64_t tmp_chunks(void)
{
    return count("SELECT count(*) FROM " SCHEMA ".blob_chunks WHERE sha256 LIKE 'tmp-%'", NULL);
}

static int64_t blob_rows(const char *id)
{
    return count("SELECT count(*) FROM " SCHEMA ".blobs WHERE sha256 = $1", id);
}

/* Stream data in uneven pieces (1 byte, odd sizes, more than a chunk at once). */
static void write_uneven(struct blob_writer *w, const unsigned char *data, size_t n)
{
    static const size_t steps[] = {1, 100000, 7, MIB + 3, 65536, 777777, 12345};
    size_t off = 0;
    for (size_t i = 0; off < n; i++) {
        size_t step = steps[i % (sizeof(steps) / sizeof(steps[0]))];
        if (step > n - off)
            step = n - off;
        assert_int_equal(blob_writer_write(w, data + off, step), 0);
        off += step;
    }
}

static int group_setup(void **state)
{
    (void)state;
    log_init("test_blob", LOG_LVL_WARN);
    if (ids_init() != 0 || th_db_create(db_url, sizeof(db_url)) != 0) {
        fprintf(stderr, "test_blob: cannot create a test database (IBX_TEST_DATABASE_URL?)\n");
        return -1;
    }
    if (db_pool_new(db_url, 4, &pool) != 0 || blob_pg_new(pool, SCHEMA, &store) != 0)
        return -1;
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    blob_store_free(store);
    db_pool_free(pool);
    th_db_drop(db_url);
    return 0;
}

/* ---- tests -------------------------------------------------------------------------- */

static void test_put_get_round_trip(void **state)
{
    (void)state;
    char id[BLOB_ID_LEN + 1];
    assert_int_equal(blob_put(store, "hello", 5, "text/plain", id), 0);
    assert_string_equal(id, HELLO_SHA);
    struct buf b;
    buf_init(&b, 1024);
    assert_int_equal(buf_append_str(&b, ">"), 0);
    assert_int_equal(blob_get(store, id, &b), 0); /* appends */
    assert_string_equal(buf_str(&b), ">hello");
    buf_release(&b);

    struct blob_info info;
    assert_int_equal(blob_stat(store, id, &info), 0);
    assert_int_equal(info.size, 5);
    assert_string_equal(info.media_type, "text/plain");
    assert_true(info.created_ms > 1600000000000LL);
    int exists = -1;
    assert_int_equal(blob_exists(store, id, &exists), 0);
    assert_int_equal(exists, 1);

    assert_int_equal(blob_put(store, NULL, 0, NULL, id), 0); /* the empty blob */
    assert_string_equal(id, EMPTY_SHA);
    assert_int_equal(blob_stat(store, id, &info), 0);
    assert_int_equal(info.size, 0);
    assert_string_equal(info.media_type, BLOB_MEDIA_TYPE_DEFAULT);
    buf_init(&b, 16);
    assert_int_equal(blob_get(store, id, &b), 0);
    assert_int_equal(b.len, 0);
    buf_release(&b);
    char c;
    size_t n = 99;
    assert_int_equal(blob_read(store, id, 0, &c, 1, &n), 0);
    assert_int_equal(n, 0);
}

static void test_put_dedup(void **state)
{
    (void)state;
    char a[BLOB_ID_LEN + 1], b[BLOB_ID_LEN + 1], c[BLOB_ID_LEN + 1];
    unsigned char *data = make_data(MIB + 10, 7);
    assert_int_equal(blob_put(store, data, MIB + 10, "application/x-first", a), 0);
    assert_int_equal(blob_put(store, data, MIB + 10, "application/x-second", b), 0);
    assert_string_equal(a, b);
    struct blob_writer *w = NULL; /* the same content streamed: the same id, no-op */
    assert_int_equal(blob_writer_open(store, "text/csv", &w), 0);
    write_uneven(w, data, MIB + 10);
    assert_int_equal(blob_writer_finish(w, c), 0);
    assert_string_equal(a, c);
    assert_int_equal(blob_rows(a), 1);
    assert_int_equal(chunks_of(a), 2);
    assert_int_equal(tmp_chunks(), 0);
    struct blob_info info;
    assert_int_equal(blob_stat(store, a, &info), 0);
    assert_string_equal(info.media_type, "application/x-first"); /* the first put wins */
    free(data);
}

static void test_streaming_and_ranges(void **state)
{
    (void)state;
    unsigned char *data = make_data(BIG_SIZE, 42);
    char want[BLOB_ID_LEN + 1], id[BLOB_ID_LEN + 1];
    hash_sha256_hex(data, BIG_SIZE, want);
    struct blob_writer *w = NULL;
    assert_int_equal(blob_writer_open(store, "application/octet-stream", &w), 0);
    write_uneven(w, data, 2 * MIB + 5);
    /* chunks are stored as the writer goes, but the blob is not visible yet */
    assert_true(tmp_chunks() >= 2);
    int exists = -1;
    assert_int_equal(blob_exists(store, want, &exists), 0);
    assert_int_equal(exists, 0);
    write_uneven(w, data + 2 * MIB + 5, BIG_SIZE - (2 * MIB + 5));
    assert_int_equal(blob_writer_finish(w, id), 0);
    assert_string_equal(id, want);
    assert_int_equal(chunks_of(id), 4);
    assert_int_equal(tmp_chunks(), 0);

    static const struct {
        uint64_t off;
        size_t len;
        size_t want;
    } cases[] = {
        {0, 10, 10},
        {MIB - 5, 10, 10},                     /* across the first border */
        {MIB - 1, 2, 2},                       /* one byte each side */
        {MIB, 1, 1},                           /* first byte of a chunk */
        {2 * MIB - 100, MIB + 200, MIB + 200}, /* three chunks */
        {BIG_SIZE - 10, 100, 10},              /* short at the end */
        {BIG_SIZE, 10, 0},                     /* at the end */
        {(uint64_t)1 << 40, 10, 0},            /* far past it */
        {0, BIG_SIZE + 1, BIG_SIZE},           /* everything */
        {123, 0, 0},                           /* nothing asked */
    };
    unsigned char *got = malloc(BIG_SIZE + 1);
    assert_non_null(got);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t n = 12345;
        assert_int_equal(blob_read(store, id, cases[i].off, got, cases[i].len, &n), 0);
        assert_int_equal(n, cases[i].want);
        if (n)
            assert_memory_equal(got, data + cases[i].off, n);
    }
    free(got);

    struct buf b;
    buf_init(&b, 4 * MIB);
    assert_int_equal(blob_get(store, id, &b), 0);
    assert_int_equal(b.len, BIG_SIZE);
    assert_memory_equal(b.data, data, BIG_SIZE);
    buf_release(&b);
    buf_init(&b, 3 * MIB); /* too small: refused, untouched */
    assert_int_equal(buf_append_str(&b, "keep"), 0);
    assert_int_equal(blob_get(store, id, &b), -EMSGSIZE);
    assert_string_equal(buf_str(&b), "keep");
    buf_release(&b);
    free(data);
}

static void test_abort_leaves_nothing(void **state)
{
    (void)state;
    unsigned char *data = make_data(2 * MIB + MIB / 2, 9);
    char id[BLOB_ID_LEN + 1];
    hash_sha256_hex(data, 2 * MIB + MIB / 2, id);
    int64_t before = count("SELECT count(*) FROM " SCHEMA ".blob_chunks", NULL);
    struct blob_writer *w = NULL;
    assert_int_equal(blob_writer_open(store, NULL, &w), 0);
    write_uneven(w, data, 2 * MIB + MIB / 2);
    assert_true(tmp_chunks() >= 2);
    blob_writer_abort(w);
    blob_writer_abort(NULL);
    assert_int_equal(tmp_chunks(), 0);
    assert_int_equal(count("SELECT count(*) FROM " SCHEMA ".blob_chunks", NULL), before);
    assert_int_equal(blob_rows(id), 0);
    /* a writer given no id to write into is discarded as well */
    assert_int_equal(blob_writer_open(store, NULL, &w), 0);
    assert_int_equal(blob_writer_write(w, data, 10), 0);
    assert_int_equal(blob_writer_finish(w, NULL), -EINVAL);
    assert_int_equal(tmp_chunks(), 0);
    free(data);
}

static void test_delete(void **state)
{
    (void)state;
    char id[BLOB_ID_LEN + 1];
    unsigned char *data = make_data(MIB + 1, 11);
    assert_int_equal(blob_put(store, data, MIB + 1, "model/x-ibx", id), 0);
    assert_int_equal(chunks_of(id), 2);
    assert_int_equal(blob_delete(store, id), 0);
    int exists = -1;
    assert_int_equal(blob_exists(store, id, &exists), 0);
    assert_int_equal(exists, 0);
    assert_int_equal(chunks_of(id), 0);
    struct buf b;
    buf_init(&b, 4 * MIB);
    assert_int_equal(blob_get(store, id, &b), -ENOENT);
    buf_release(&b);
    assert_int_equal(blob_delete(store, id), -ENOENT);
    assert_int_equal(blob_put(store, data, MIB + 1, NULL, id), 0); /* and back again */
    assert_int_equal(chunks_of(id), 2);
    free(data);
}

static void test_unknown_and_bad_input(void **state)
{
    (void)state;
    static const char *const ids[] = {
        UNKNOWN_SHA,
        "xyz",
        "",
        "2CF24DBA5FB0A30E26E83B2AC5B9E29E1B161E5C1FA7425E73043362938B9824",
        "' OR 1=1 --",
    };
    struct blob_info info = {.size = 77};
    struct buf b;
    char dst[8];
    buf_init(&b, 64);
    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
        size_t n = 77;
        int exists = -1;
        assert_int_equal(blob_stat(store, ids[i], &info), -ENOENT);
        assert_int_equal(blob_get(store, ids[i], &b), -ENOENT);
        assert_int_equal(blob_read(store, ids[i], 0, dst, sizeof(dst), &n), -ENOENT);
        assert_int_equal(blob_delete(store, ids[i]), -ENOENT);
        assert_int_equal(blob_exists(store, ids[i], &exists), 0);
        assert_int_equal(exists, 0);
        assert_int_equal(n, 77);
    }
    assert_int_equal(info.size, 77);
    assert_int_equal(b.len, 0);
    buf_release(&b);

    static const char *const bad_types[] = {"", "plain", " text/plain", "text/pl\x01in",
                                            "text/\xc3\xa9t\xc3\xa9"};
    char id[BLOB_ID_LEN + 1] = "untouched";
    struct blob_writer *w = NULL;
    for (size_t i = 0; i < sizeof(bad_types) / sizeof(bad_types[0]); i++) {
        assert_int_equal(blob_put(store, "x", 1, bad_types[i], id), -EINVAL);
        assert_int_equal(blob_writer_open(store, bad_types[i], &w), -EINVAL);
    }
    char long_type[BLOB_MEDIA_TYPE_MAX + 2];
    memset(long_type, 'a', sizeof(long_type) - 1);
    long_type[1] = '/';
    long_type[sizeof(long_type) - 1] = '\0';
    assert_int_equal(blob_put(store, "x", 1, long_type, id), -EINVAL);
    long_type[BLOB_MEDIA_TYPE_MAX] = '\0'; /* exactly the maximum is fine */
    assert_int_equal(blob_put(store, "x", 1, long_type, id), 0);
    assert_int_equal(blob_put(NULL, "x", 1, NULL, id), -EINVAL);
    assert_int_equal(blob_put(store, NULL, 1, NULL, id), -EINVAL);
    assert_null(w);
    blob_store_free(NULL);
}

static void test_corruption_is_detected(void **state)
{
    (void)state;
    char id[BLOB_ID_LEN + 1];
    assert_int_equal(blob_put(store, "precious bytes", 14, "text/plain", id), 0);
    const char *p[] = {id};
    assert_int_equal(db_query(pool,
                              "UPDATE " SCHEMA ".blob_chunks SET data = 'tampered bytes'::bytea "
                              "WHERE sha256 = $1",
                              1, p, NULL),
                     0);
    struct buf b;
    buf_init(&b, 64);
    assert_int_equal(buf_append_str(&b, "before"), 0);
    assert_int_equal(blob_get(store, id, &b), -EIO);
    assert_string_equal(buf_str(&b), "before"); /* all or nothing */
    buf_release(&b);
    assert_int_equal(blob_delete(store, id), 0);
}

static void test_reopen_and_sweep(void **state)
{
    (void)state;
    /* chunks of a writer that died long ago, and of one that is still writing */
    assert_int_equal(db_query(pool,
                              "INSERT INTO " SCHEMA ".blob_chunks (sha256, seq, data) VALUES "
                              "('tmp-000000000000001-dead', 0, 'x'), "
                              "('tmp-999999999999999-alive', 0, 'y')",
                              0, NULL, NULL),
                     0);
    struct blob_store *again = NULL;
    assert_int_equal(blob_pg_new(pool, SCHEMA, &again), 0); /* idempotent */
    assert_int_equal(tmp_chunks(), 1);
    assert_int_equal(
        count("SELECT count(*) FROM " SCHEMA ".blob_chunks WHERE sha256 LIKE '%alive'", NULL), 1);
    struct blob_info info;
    assert_int_equal(blob_stat(again, HELLO_SHA, &info), 0); /* content still there */
    blob_store_free(again);
    assert_int_equal(db_query(pool, "DELETE FROM " SCHEMA ".blob_chunks WHERE sha256 LIKE 'tmp-%'",
                              0, NULL, NULL),
                     0);

    assert_int_equal(blob_pg_new(pool, "Bad-Schema", &again), -EINVAL);
    assert_int_equal(blob_pg_new(NULL, SCHEMA, &again), -EINVAL);
    char url[128];
    struct db_pool *down = NULL;
    snprintf(url, sizeof(url), "postgresql://postgres@127.0.0.1:%d/postgres", th_free_port());
    assert_int_equal(db_pool_new(url, 1, &down), 0);
    again = NULL;
    assert_int_equal(blob_pg_new(down, SCHEMA, &again), -EIO);
    assert_null(again);
    db_pool_free(down);
}

/* ---- concurrent puts of the same content ----------------------------------------------- */

#define RACERS 4

struct racer {
    const unsigned char *data;
    size_t len;
    char id[BLOB_ID_LEN + 1];
    int rc;
};

static void *racer_run(void *arg)
{
    struct racer *r = arg;
    struct blob_writer *w = NULL;
    r->rc = blob_writer_open(store, "text/csv", &w);
    if (r->rc == 0)
        r->rc = blob_writer_write(w, r->data, r->len);
    if (r->rc == 0)
        r->rc = blob_writer_finish(w, r->id);
    else
        blob_writer_abort(w);
    return NULL;
}

static void test_concurrent_same_content(void **state)
{
    (void)state;
    unsigned char *data = make_data(MIB + MIB / 2, 1234);
    char want[BLOB_ID_LEN + 1];
    hash_sha256_hex(data, MIB + MIB / 2, want);
    struct racer r[RACERS];
    pthread_t th[RACERS];
    for (int i = 0; i < RACERS; i++) {
        r[i] = (struct racer){.data = data, .len = MIB + MIB / 2, .rc = 1};
        assert_int_equal(pthread_create(&th[i], NULL, racer_run, &r[i]), 0);
    }
    for (int i = 0; i < RACERS; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(r[i].rc, 0);
        assert_string_equal(r[i].id, want);
    }
    assert_int_equal(blob_rows(want), 1);
    assert_int_equal(chunks_of(want), 2);
    assert_int_equal(tmp_chunks(), 0);
    struct buf b;
    buf_init(&b, 2 * MIB);
    assert_int_equal(blob_get(store, want, &b), 0);
    assert_memory_equal(b.data, data, MIB + MIB / 2);
    buf_release(&b);
    free(data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_get_round_trip),
        cmocka_unit_test(test_put_dedup),
        cmocka_unit_test(test_streaming_and_ranges),
        cmocka_unit_test(test_abort_leaves_nothing),
        cmocka_unit_test(test_delete),
        cmocka_unit_test(test_unknown_and_bad_input),
        cmocka_unit_test(test_corruption_is_detected),
        cmocka_unit_test(test_reopen_and_sweep),
        cmocka_unit_test(test_concurrent_same_content),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
