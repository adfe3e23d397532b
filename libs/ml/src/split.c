/* split: seeded (stratified) train/test splits and (stratified) k-fold assignment. */
#include <ibx/mlrand.h>
#include <ibx/split.h>

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CLASSES (1u << 20)

struct rem_class {
    uint64_t rem;
    size_t cls;
};

static int labels_valid(const double *y, size_t n, size_t nclasses)
{
    if (!y || nclasses == 0 || nclasses > MAX_CLASSES)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!(y[i] >= 0 && y[i] < (double)nclasses && y[i] == floor(y[i])))
            return 0;
    return 1;
}

static int by_remainder(const void *a, const void *b)
{
    const struct rem_class *x = a, *y = b;
    if (x->rem != y->rem)
        return x->rem > y->rem ? -1 : 1;
    return x->cls < y->cls ? -1 : (x->cls > y->cls);
}

/* take[c]: test rows per class (see split.h); count[c] rows per class. */
static int allocate_test(const size_t *count, size_t nclasses, size_t n, size_t ntest, size_t *take)
{
    struct rem_class *order = malloc(nclasses * sizeof *order);
    if (!order)
        return -ENOMEM;
    size_t total = 0;
    for (size_t c = 0; c < nclasses; c++) {
        __uint128_t prod = (__uint128_t)ntest * count[c];
        size_t cap = count[c] ? count[c] - 1 : 0;
        size_t fl = (size_t)(prod / n);
        take[c] = fl < cap ? fl : cap;
        order[c].rem = (uint64_t)(prod % n);
        order[c].cls = c;
        total += take[c];
    }
    qsort(order, nclasses, sizeof *order, by_remainder);
    int progress = 1;
    while (total < ntest && progress) {
        progress = 0;
        for (size_t i = 0; i < nclasses && total < ntest; i++) {
            size_t c = order[i].cls;
            if (count[c] && take[c] < count[c] - 1) {
                take[c]++;
                total++;
                progress = 1;
            }
        }
    }
    free(order);
    return 0;
}

/* Rows of each class grouped (class order, row order within a class) into rows[n]; start[c]
 * is where class c begins (start has nclasses + 1 entries). */
static void group_by_class(const double *y, size_t n, size_t nclasses, size_t *start, size_t *rows)
{
    memset(start, 0, (nclasses + 1) * sizeof *start);
    for (size_t i = 0; i < n; i++)
        start[(size_t)y[i] + 1]++;
    for (size_t c = 0; c < nclasses; c++)
        start[c + 1] += start[c];
    size_t *fill = start; /* advanced while filling, then restored below */
    for (size_t i = 0; i < n; i++)
        rows[fill[(size_t)y[i]]++] = i;
    for (size_t c = nclasses; c > 0; c--)
        start[c] = start[c - 1];
    start[0] = 0;
}

static int stratified_test_rows(const double *y, size_t n, size_t nclasses, size_t ntest,
                                struct mlrand *r, unsigned char *is_test)
{
    size_t *start = malloc((nclasses + 1) * sizeof *start);
    size_t *rows = calloc(n, sizeof *rows);
    size_t *count = malloc(nclasses * sizeof *count);
    size_t *take = malloc(nclasses * sizeof *take);
    int rc = -ENOMEM;
    if (!start || !rows || !count || !take)
        goto out;
    group_by_class(y, n, nclasses, start, rows);
    for (size_t c = 0; c < nclasses; c++)
        count[c] = start[c + 1] - start[c];
    rc = allocate_test(count, nclasses, n, ntest, take);
    for (size_t c = 0; rc == 0 && c < nclasses; c++) {
        mlrand_shuffle(r, rows + start[c], count[c]);
        for (size_t i = 0; i < take[c]; i++)
            is_test[rows[start[c] + i]] = 1;
    }
out:
    free(start);
    free(rows);
    free(count);
    free(take);
    return rc;
}

static int plain_test_rows(size_t n, size_t ntest, struct mlrand *r, unsigned char *is_test)
{
    size_t *rows = calloc(n, sizeof *rows);
    if (!rows)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++)
        rows[i] = i;
    mlrand_shuffle(r, rows, n);
    for (size_t i = 0; i < ntest; i++)
        is_test[rows[i]] = 1;
    free(rows);
    return 0;
}

/* Build the two ascending index lists from a membership mask. */
static int indices_from_mask(const unsigned char *is_test, size_t n, struct split_indices *out)
{
    size_t ntest = 0;
    for (size_t i = 0; i < n; i++)
        ntest += is_test[i] != 0;
    struct split_indices s = {.ntrain = n - ntest, .ntest = ntest};
    s.train = malloc((s.ntrain ? s.ntrain : 1) * sizeof *s.train);
    s.test = malloc((s.ntest ? s.ntest : 1) * sizeof *s.test);
    if (!s.train || !s.test) {
        split_indices_release(&s);
        return -ENOMEM;
    }
    size_t a = 0, b = 0;
    for (size_t i = 0; i < n; i++) {
        if (is_test[i])
            s.test[b++] = i;
        else
            s.train[a++] = i;
    }
    *out = s;
    return 0;
}

int split_train_test(size_t n, double test_size, uint64_t seed, const double *y, size_t nclasses,
                     struct split_indices *out)
{
    if (!out || n < 2 || !(test_size > 0 && test_size < 1))
        return -EINVAL;
    size_t ntest = (size_t)ceil(test_size * (double)n);
    if (ntest == 0 || ntest >= n || (y && !labels_valid(y, n, nclasses)))
        return -EINVAL;
    unsigned char *is_test = calloc(n, 1);
    if (!is_test)
        return -ENOMEM;
    struct mlrand r;
    mlrand_seed(&r, seed);
    int rc = y ? stratified_test_rows(y, n, nclasses, ntest, &r, is_test)
               : plain_test_rows(n, ntest, &r, is_test);
    if (rc == 0)
        rc = indices_from_mask(is_test, n, out);
    free(is_test);
    return rc;
}

void split_indices_release(struct split_indices *s)
{
    if (!s)
        return;
    free(s->train);
    free(s->test);
    memset(s, 0, sizeof *s);
}

static int folds_alloc(size_t n, size_t k, struct split_folds *f)
{
    f->n = n;
    f->k = k;
    f->fold = malloc(n * sizeof *f->fold);
    return f->fold ? 0 : -ENOMEM;
}

int split_kfold(size_t n, size_t k, int shuffle, uint64_t seed, struct split_folds *out)
{
    if (!out || k < 2 || k > n || k > UINT32_MAX)
        return -EINVAL;
    struct split_folds f;
    size_t *rows = calloc(n, sizeof *rows);
    if (!rows || folds_alloc(n, k, &f) != 0) {
        free(rows);
        return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++)
        rows[i] = i;
    if (shuffle) {
        struct mlrand r;
        mlrand_seed(&r, seed);
        mlrand_shuffle(&r, rows, n);
    }
    size_t pos = 0;
    for (size_t fi = 0; fi < k; fi++) {
        size_t size = n / k + (fi < n % k ? 1 : 0);
        for (size_t i = 0; i < size; i++)
            f.fold[rows[pos++]] = (uint32_t)fi;
    }
    free(rows);
    *out = f;
    return 0;
}

/* Relabel classes by first appearance (scikit-learn's y_encoded); returns the class count. */
static size_t encode_by_appearance(const double *y, size_t n, size_t nclasses, size_t *enc)
{
    size_t *map = malloc(nclasses * sizeof *map);
    if (!map)
        return 0;
    for (size_t c = 0; c < nclasses; c++)
        map[c] = SIZE_MAX;
    size_t next = 0;
    for (size_t i = 0; i < n; i++) {
        size_t c = (size_t)y[i];
        if (map[c] == SIZE_MAX)
            map[c] = next++;
        enc[i] = map[c];
    }
    free(map);
    return next;
}

/* alloc[f * m + c]: rows of class c that fold f receives. */
static void fold_allocation(const size_t *count, size_t m, size_t k, size_t *alloc)
{
    memset(alloc, 0, k * m * sizeof *alloc);
    size_t pos = 0;
    for (size_t c = 0; c < m; c++)
        for (size_t i = 0; i < count[c]; i++, pos++)
            alloc[(pos % k) * m + c]++;
}

static void assign_class_folds(const size_t *enc, size_t n, size_t m, size_t k, const size_t *alloc,
                               struct mlrand *r, size_t *scratch, uint32_t *fold)
{
    for (size_t c = 0; c < m; c++) {
        size_t len = 0;
        for (size_t f = 0; f < k; f++)
            for (size_t i = 0; i < alloc[f * m + c]; i++)
                scratch[len++] = f;
        if (r)
            mlrand_shuffle(r, scratch, len);
        size_t next = 0;
        for (size_t i = 0; i < n; i++)
            if (enc[i] == c)
                fold[i] = (uint32_t)scratch[next++];
    }
}

int split_stratified_kfold(const double *y, size_t n, size_t nclasses, size_t k, int shuffle,
                           uint64_t seed, struct split_folds *out)
{
    if (!out || k < 2 || k > n || k > UINT32_MAX || !labels_valid(y, n, nclasses))
        return -EINVAL;
    struct split_folds f = {0};
    size_t *enc = malloc(n * sizeof *enc), *scratch = malloc(n * sizeof *scratch);
    size_t *count = calloc(nclasses, sizeof *count), *alloc = NULL;
    int rc = -ENOMEM;
    if (!enc || !scratch || !count || folds_alloc(n, k, &f) != 0)
        goto out;
    size_t m = encode_by_appearance(y, n, nclasses, enc);
    alloc = m ? malloc(k * m * sizeof *alloc) : NULL;
    if (!alloc)
        goto out;
    for (size_t i = 0; i < n; i++)
        count[enc[i]]++;
    fold_allocation(count, m, k, alloc);
    struct mlrand r;
    mlrand_seed(&r, seed);
    assign_class_folds(enc, n, m, k, alloc, shuffle ? &r : NULL, scratch, f.fold);
    *out = f;
    f.fold = NULL;
    rc = 0;
out:
    split_folds_release(&f);
    free(enc);
    free(scratch);
    free(count);
    free(alloc);
    return rc;
}

int split_fold(const struct split_folds *f, size_t which, struct split_indices *out)
{
    if (!f || !f->fold || !out || which >= f->k)
        return -EINVAL;
    unsigned char *is_test = malloc(f->n ? f->n : 1);
    if (!is_test)
        return -ENOMEM;
    for (size_t i = 0; i < f->n; i++)
        is_test[i] = f->fold[i] == which;
    int rc = indices_from_mask(is_test, f->n, out);
    free(is_test);
    return rc;
}

void split_folds_release(struct split_folds *f)
{
    if (!f)
        return;
    free(f->fold);
    memset(f, 0, sizeof *f);
}
