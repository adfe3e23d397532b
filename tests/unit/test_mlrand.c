/* test_mlrand: the shared seeded PRNG (reference values, ranges, streams, shuffles). */
#include <ibx/mlrand.h>

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

static void test_reference_values(void **state)
{
    /* splitmix64 from state 0: 0xe220a8397b1dcdaf is the published first output */
    uint64_t sm = 0;
    assert_true(mlrand_splitmix64(&sm) == 0xe220a8397b1dcdafULL);
    /* xoshiro256** seeded with 42: pinned, since every seeded split and model depends on
     * this sequence staying the same */
    struct mlrand r;
    mlrand_seed(&r, 42);
    const uint64_t want[] = {0x15780b2e0c2ec716ULL, 0x6104d9866d113a7eULL, 0xae17533239e499a1ULL};
    for (size_t i = 0; i < 3; i++)
        assert_true(mlrand_next(&r) == want[i]);
}

static void test_ranges_and_moments(void **state)
{
    struct mlrand r;
    mlrand_seed(&r, 1);
    size_t counts[7] = {0};
    double sum = 0, sumsq = 0, usum = 0;
    enum { N = 70000 };
    for (size_t i = 0; i < N; i++) {
        uint64_t b = mlrand_below(&r, 7);
        assert_true(b < 7);
        counts[b]++;
        double u = mlrand_uniform(&r);
        assert_true(u >= 0.0 && u < 1.0);
        usum += u;
        double z = mlrand_normal(&r);
        assert_true(isfinite(z));
        sum += z;
        sumsq += z * z;
    }
    for (size_t b = 0; b < 7; b++)
        assert_true(counts[b] > 9500 && counts[b] < 10500);
    assert_true(fabs(usum / N - 0.5) < 0.01);
    assert_true(fabs(sum / N) < 0.02);
    assert_true(fabs(sumsq / N - 1.0) < 0.03);
    assert_int_equal(mlrand_below(&r, 0), 0);
    assert_int_equal(mlrand_below(&r, 1), 0);
}

static void test_streams_and_shuffle(void **state)
{
    struct mlrand a, b, c;
    mlrand_seed_stream(&a, 9, 0);
    mlrand_seed_stream(&b, 9, 0);
    mlrand_seed_stream(&c, 9, 1);
    uint64_t va = mlrand_next(&a);
    assert_true(va == mlrand_next(&b));
    assert_true(va != mlrand_next(&c));
    size_t v[50], seen[50] = {0};
    for (size_t i = 0; i < 50; i++)
        v[i] = i;
    mlrand_shuffle(&a, v, 50);
    size_t moved = 0;
    for (size_t i = 0; i < 50; i++) {
        seen[v[i]]++;
        moved += v[i] != i;
    }
    for (size_t i = 0; i < 50; i++)
        assert_int_equal(seen[i], 1);
    assert_true(moved > 40);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reference_values),
        cmocka_unit_test(test_ranges_and_moments),
        cmocka_unit_test(test_streams_and_shuffle),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
