/* split: seeded train/test splits (stratified for classification) and k-fold
 * cross-validation folds, plain and stratified.
 *
 * All index lists come out in ascending row order and are owned by the struct that holds
 * them (split_indices_release / split_folds_release; both accept a zeroed struct twice).
 * The same inputs and seed always give the same split (mlrand.h); the rows chosen are not
 * scikit-learn's (its NumPy generator is not reproduced), but the sizes and the per-class
 * proportions follow its rules as documented below, and unshuffled k-fold and stratified
 * k-fold assign exactly the folds KFold / StratifiedKFold(shuffle=False) assign. */
#ifndef IBX_SPLIT_H
#define IBX_SPLIT_H

#include <ibx/ml.h>

#include <stddef.h>
#include <stdint.h>

struct split_indices {
    size_t *train; /* ntrain row indices, ascending */
    size_t ntrain;
    size_t *test; /* ntest row indices, ascending */
    size_t ntest;
};

struct split_folds {
    size_t n, k;
    uint32_t *fold; /* n: the fold (0..k-1) in which each row is a test row */
};

/* Train/test split of rows 0..n-1: ntest = ceil(test_size * n) as in scikit-learn, with
 * test_size in (0, 1) and both sides non-empty. With y (n class indices in [0, nclasses))
 * the split is stratified: each class gives floor(ntest * n_c / n) test rows, the rows
 * still missing go to the classes with the largest remainders (ties to the lower class),
 * and a class never gives its last row to the test side (so a class with one row stays in
 * train and ntest may then fall short by that much). y NULL: a plain seeded shuffle.
 * 0, -EINVAL, -ENOMEM; *out untouched on failure. */
int split_train_test(size_t n, double test_size, uint64_t seed, const double *y, size_t nclasses,
                     struct split_indices *out) ML_WUR;
void split_indices_release(struct split_indices *s);

/* k folds (2 <= k <= n) of rows 0..n-1: the first n % k folds get n / k + 1 rows, the
 * others n / k; contiguous when shuffle is 0, after a seeded permutation otherwise. */
int split_kfold(size_t n, size_t k, int shuffle, uint64_t seed, struct split_folds *out) ML_WUR;

/* Stratified k folds (scikit-learn's StratifiedKFold rule): classes are numbered in order
 * of first appearance, the labels sorted, and fold f receives the counts of each class
 * among sorted positions f, f + k, f + 2k, ...; a class's rows take their folds in row
 * order (shuffle 0) or in a seeded random order. y holds n class indices in
 * [0, nclasses). */
int split_stratified_kfold(const double *y, size_t n, size_t nclasses, size_t k, int shuffle,
                           uint64_t seed, struct split_folds *out) ML_WUR;

/* The rows of fold `which` as test and all others as train. 0, -EINVAL, -ENOMEM. */
int split_fold(const struct split_folds *f, size_t which, struct split_indices *out) ML_WUR;
void split_folds_release(struct split_folds *f);

#endif
