/* test_mlenc: the checksummed model envelope and the deterministic parallel loops. */
#include <ibx/mlenc.h>
#include <ibx/mlpar.h>

#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

static const char MAGIC[] = "TESTENC1";

static int write_sample(struct buf *b, double scale)
{
    struct mlenc_writer w;
    mlenc_begin(&w, b, MAGIC, 3);
    mlenc_put_u32(&w, 7);
    mlenc_put_u64(&w, 3);
    double v[3] = {1.5 * scale, -2.0, 1e300};
    mlenc_put_f64s(&w, v, 3);
    mlenc_put_f64(&w, NAN);
    return mlenc_end(&w);
}

static void test_round_trip_two_encodings(void **state)
{
    struct buf b;
    buf_init(&b, 4096);
    assert_int_equal(write_sample(&b, 1.0), 0);
    size_t first = b.len;
    assert_int_equal(write_sample(&b, 2.0), 0);
    assert_int_equal(b.len, 2 * first);
    /* header 20 + payload 4 + 8 + 24 + 8 + checksum 8 */
    assert_int_equal(first, 72);
    struct mlenc_reader r;
    uint32_t version;
    size_t used;
    assert_int_equal(mlenc_open(&r, b.data + first, b.len - first, MAGIC, &version, &used), 0);
    assert_int_equal(version, 3);
    assert_int_equal(used, first);
    assert_int_equal(mlenc_get_u32(&r), 7);
    size_t n = mlenc_get_count(&r, 1, 10, sizeof(double));
    assert_int_equal(n, 3);
    double v[3];
    mlenc_get_f64s(&r, v, n);
    assert_true(v[0] == 3.0 && v[1] == -2.0 && v[2] == 1e300);
    assert_int_equal(mlenc_close(&r), -EINVAL); /* the NaN is still unread */
    (void)mlenc_get_finite(&r);                 /* NaN where a finite value is due */
    assert_int_equal(r.err, -EINVAL);
    assert_int_equal(mlenc_close(&r), -EINVAL);
    buf_release(&b);
}

static void test_rejections(void **state)
{
    struct buf b;
    buf_init(&b, 4096);
    assert_int_equal(write_sample(&b, 1.0), 0);
    struct mlenc_reader r;
    uint32_t version;
    assert_int_equal(mlenc_open(&r, b.data, b.len, "OTHERMAG", &version, NULL), -EINVAL);
    for (size_t cut = 0; cut < b.len; cut++)
        assert_int_equal(mlenc_open(&r, b.data, cut, MAGIC, &version, NULL), -EINVAL);
    for (size_t i = 0; i < b.len; i++) {
        b.data[i] ^= 0x10;
        assert_int_equal(mlenc_open(&r, b.data, b.len, MAGIC, &version, NULL), -EINVAL);
        b.data[i] ^= 0x10;
    }
    /* a count larger than what is left fails without reading on */
    assert_int_equal(mlenc_open(&r, b.data, b.len, MAGIC, &version, NULL), 0);
    (void)mlenc_get_u32(&r);
    assert_int_equal(mlenc_get_count(&r, 0, SIZE_MAX, 1u << 20), 0);
    assert_int_equal(r.err, -EINVAL);
    assert_true(mlenc_get_u64(&r) == 0);
    buf_release(&b);
}

static void test_limit_restores_buffer(void **state)
{
    struct buf b;
    buf_init(&b, 40);
    assert_int_equal(buf_append_str(&b, "abc"), 0);
    assert_int_equal(write_sample(&b, 1.0), -EMSGSIZE);
    assert_int_equal(b.len, 3);
    assert_string_equal(buf_str(&b), "abc");
    buf_release(&b);
}

struct par_ctx {
    int hits[1000];
};

static void mark(void *ctx, size_t c)
{
    struct par_ctx *pc = ctx;
    pc->hits[c]++;
}

static void test_parallel_runs_every_chunk_once(void **state)
{
    int threads[] = {1, 2, 7, 0};
    for (size_t t = 0; t < 4; t++) {
        struct par_ctx pc = {{0}};
        struct ml_control ctl = {.threads = threads[t]};
        mlpar_run(mlpar_threads(&ctl), 1000, mark, &pc);
        for (size_t c = 0; c < 1000; c++)
            assert_int_equal(pc.hits[c], 1);
    }
    assert_true(mlpar_threads(NULL) >= 1);
    struct ml_control seven = {.threads = 7};
    assert_int_equal(mlpar_threads(&seven), 7);
    volatile int flag = 0;
    struct ml_control ctl = {.cancel = &flag};
    assert_false(mlpar_cancelled(&ctl));
    flag = 1;
    assert_true(mlpar_cancelled(&ctl));
    assert_false(mlpar_cancelled(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_two_encodings),
        cmocka_unit_test(test_rejections),
        cmocka_unit_test(test_limit_restores_buffer),
        cmocka_unit_test(test_parallel_runs_every_chunk_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
