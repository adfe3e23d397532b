/* test_split: seeded train/test splits and k-fold assignment (against scikit-learn's folds). */
#include <ibx/split.h>

#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

/* Folds from scikit-learn 1.2.1 (/usr/bin/python3): for i, (tr, te) in
 * enumerate(KFold(k) or StratifiedKFold(k).split(np.zeros(n), y)): fold[te] = i. */
static const double strat_y1[] = {2, 0, 1, 1, 2, 0, 0, 2, 1, 1, 0, 2, 2, 1, 0, 0, 1};
static const uint32_t strat_f1[] = {0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2};
static const double strat_y2[] = {1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 2, 2};
static const uint32_t strat_f2[] = {0, 0, 0, 0, 1, 1, 1, 0, 1, 1, 0, 1};
static const uint32_t kfold_10_3[] = {0, 0, 0, 0, 1, 1, 1, 2, 2, 2};

static void test_unshuffled_folds_match_sklearn(void **state)
{
    struct {
        const double *y;
        size_t n, k;
        const uint32_t *want;
    } cases[] = {
        {strat_y1, 17, 3, strat_f1},
        {strat_y2, 12, 2, strat_f2},
        {NULL, 10, 3, kfold_10_3},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        struct split_folds f;
        if (cases[c].y)
            assert_int_equal(
                split_stratified_kfold(cases[c].y, cases[c].n, 3, cases[c].k, 0, 1, &f), 0);
        else
            assert_int_equal(split_kfold(cases[c].n, cases[c].k, 0, 1, &f), 0);
        assert_memory_equal(f.fold, cases[c].want, cases[c].n * sizeof(uint32_t));
        split_folds_release(&f);
        split_folds_release(&f);
    }
}

static void check_fold_sizes(const struct split_folds *f)
{
    size_t seen = 0;
    for (size_t which = 0; which < f->k; which++) {
        struct split_indices s;
        assert_int_equal(split_fold(f, which, &s), 0);
        size_t want = f->n / f->k + (which < f->n % f->k ? 1 : 0);
        assert_int_equal(s.ntest, want);
        assert_int_equal(s.ntrain + s.ntest, f->n);
        for (size_t i = 1; i < s.ntest; i++)
            assert_true(s.test[i - 1] < s.test[i]);
        for (size_t i = 0; i < s.ntest; i++)
            assert_int_equal(f->fold[s.test[i]], which);
        seen += s.ntest;
        split_indices_release(&s);
    }
    assert_int_equal(seen, f->n);
}

static void test_shuffled_kfold_is_seeded(void **state)
{
    struct split_folds a, b, c;
    assert_int_equal(split_kfold(103, 5, 1, 42, &a), 0);
    assert_int_equal(split_kfold(103, 5, 1, 42, &b), 0);
    assert_int_equal(split_kfold(103, 5, 1, 43, &c), 0);
    assert_memory_equal(a.fold, b.fold, 103 * sizeof(uint32_t));
    assert_memory_not_equal(a.fold, c.fold, 103 * sizeof(uint32_t));
    check_fold_sizes(&a);
    split_folds_release(&a);
    split_folds_release(&b);
    split_folds_release(&c);
}

static void test_shuffled_stratified_kfold_keeps_proportions(void **state)
{
    double y[300];
    for (size_t i = 0; i < 300; i++)
        y[i] = i < 150 ? 0 : (i < 250 ? 1 : 2); /* 150 / 100 / 50 */
    struct split_folds f, g;
    assert_int_equal(split_stratified_kfold(y, 300, 3, 5, 1, 9, &f), 0);
    assert_int_equal(split_stratified_kfold(y, 300, 3, 5, 1, 9, &g), 0);
    assert_memory_equal(f.fold, g.fold, 300 * sizeof(uint32_t));
    size_t per[5][3] = {{0}};
    for (size_t i = 0; i < 300; i++)
        per[f.fold[i]][(size_t)y[i]]++;
    for (size_t k = 0; k < 5; k++) {
        assert_int_equal(per[k][0], 30);
        assert_int_equal(per[k][1], 20);
        assert_int_equal(per[k][2], 10);
    }
    check_fold_sizes(&f);
    split_folds_release(&f);
    split_folds_release(&g);
}

static void check_partition(const struct split_indices *s, size_t n)
{
    unsigned char *seen = calloc(n, 1);
    assert_non_null(seen);
    for (size_t i = 0; i < s->ntrain; i++) {
        assert_true(s->train[i] < n);
        assert_true(i == 0 || s->train[i - 1] < s->train[i]);
        seen[s->train[i]]++;
    }
    for (size_t i = 0; i < s->ntest; i++) {
        assert_true(s->test[i] < n);
        assert_true(i == 0 || s->test[i - 1] < s->test[i]);
        seen[s->test[i]]++;
    }
    for (size_t i = 0; i < n; i++)
        assert_int_equal(seen[i], 1);
    free(seen);
}

static void test_stratified_train_test(void **state)
{
    /* iris-like: 50 of each class; 0.25 -> ceil(37.5) = 38 test rows: 12.67 per class,
     * so 13, 13, 12 (remainders tie; lower classes first). */
    double y[150];
    for (size_t i = 0; i < 150; i++)
        y[i] = (double)(i % 3);
    struct split_indices a, b, c;
    assert_int_equal(split_train_test(150, 0.25, 42, y, 3, &a), 0);
    assert_int_equal(split_train_test(150, 0.25, 42, y, 3, &b), 0);
    assert_int_equal(split_train_test(150, 0.25, 7, y, 3, &c), 0);
    assert_int_equal(a.ntest, 38);
    check_partition(&a, 150);
    size_t per[3] = {0};
    for (size_t i = 0; i < a.ntest; i++)
        per[(size_t)y[a.test[i]]]++;
    assert_int_equal(per[0], 13);
    assert_int_equal(per[1], 13);
    assert_int_equal(per[2], 12);
    assert_memory_equal(a.test, b.test, a.ntest * sizeof(size_t));
    assert_memory_not_equal(a.test, c.test, a.ntest * sizeof(size_t));
    split_indices_release(&a);
    split_indices_release(&b);
    split_indices_release(&c);
}

static void test_plain_train_test_and_rare_class(void **state)
{
    struct split_indices s;
    assert_int_equal(split_train_test(10, 0.3, 1, NULL, 0, &s), 0);
    assert_int_equal(s.ntest, 3);
    check_partition(&s, 10);
    split_indices_release(&s);
    /* class 1 has a single row: it stays in train */
    double y[] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 0};
    for (uint64_t seed = 0; seed < 20; seed++) {
        assert_int_equal(split_train_test(10, 0.5, seed, y, 2, &s), 0);
        for (size_t i = 0; i < s.ntest; i++)
            assert_int_not_equal(s.test[i], 8);
        assert_int_equal(s.ntest, 5);
        split_indices_release(&s);
    }
}

static void test_rejects_bad_input(void **state)
{
    struct split_indices s = {0};
    struct split_folds f = {0};
    double y[] = {0, 1, 0, 1}, bad[] = {0, 1, 2, 0.5};
    assert_int_equal(split_train_test(4, 0.0, 1, NULL, 0, &s), -EINVAL);
    assert_int_equal(split_train_test(4, 1.0, 1, NULL, 0, &s), -EINVAL);
    assert_int_equal(split_train_test(4, NAN, 1, NULL, 0, &s), -EINVAL);
    assert_int_equal(split_train_test(1, 0.5, 1, NULL, 0, &s), -EINVAL);
    assert_int_equal(split_train_test(4, 0.5, 1, bad, 3, &s), -EINVAL);
    assert_int_equal(split_train_test(4, 0.5, 1, y, 1, &s), -EINVAL);
    assert_null(s.train);
    assert_int_equal(split_kfold(4, 1, 0, 0, &f), -EINVAL);
    assert_int_equal(split_kfold(4, 5, 0, 0, &f), -EINVAL);
    assert_int_equal(split_stratified_kfold(bad, 4, 3, 2, 0, 0, &f), -EINVAL);
    assert_null(f.fold);
    assert_int_equal(split_kfold(4, 2, 0, 0, &f), 0);
    assert_int_equal(split_fold(&f, 2, &s), -EINVAL);
    split_folds_release(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unshuffled_folds_match_sklearn),
        cmocka_unit_test(test_shuffled_kfold_is_seeded),
        cmocka_unit_test(test_shuffled_stratified_kfold_keeps_proportions),
        cmocka_unit_test(test_stratified_train_test),
        cmocka_unit_test(test_plain_train_test_and_rare_class),
        cmocka_unit_test(test_rejects_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
