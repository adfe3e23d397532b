/* prepimpl: the fitted preprocessing shared by prep.c (fitting, transforming), prepcfg.c
 * (configuration), prepio.c (save, load, reports) and prepjson.c (JSON instances)
 * (internal). */
#ifndef IBX_PREPIMPL_H
#define IBX_PREPIMPL_H

#include <ibx/prep.h>

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#define PREP_MAX_CLASSES  1000
#define PREP_KNN_MAX_ROWS 5000

enum prep_drop_reason {
    PREP_DROP_TARGET = 1,
    PREP_DROP_EXCLUDED = 2,
    PREP_DROP_MISSING = 3,
    PREP_DROP_ID_LIKE = 4,
    PREP_DROP_TEXT = 5,
    PREP_DROP_CONSTANT = 6
};

/* One input column used as features. Numeric kinds (NUMERIC, BOOLEAN, TEMPORAL) give one
 * output: ((imputed x) - center) / scale. CATEGORICAL gives ncats one-hot outputs. */
struct prep_col {
    char *name;
    enum frame_kind kind;
    enum prep_impute impute;
    double fill;          /* numeric: the imputed value (knn: the fallback mean) */
    double center, scale; /* numeric scaling (scale > 0) */
    char **cats;          /* categorical: ncats categories, strictly increasing (strcmp) */
    size_t ncats;
    char *cat_fill;    /* categorical: the imputed category text */
    size_t missing;    /* missing values among the training rows */
    size_t other_cats; /* training categories left out by max_categories */
    size_t num_index;  /* numeric: index among the numeric columns */
    size_t out;        /* first output feature */
};

struct prep_dropped {
    char *column;
    enum prep_drop_reason reason;
    char *detail;
};

struct prep {
    int identity;
    enum ml_task task;
    char *target;
    int target_numeric; /* classification labels sorted numerically */
    char **classes;
    size_t nclasses;
    double *class_values; /* target_numeric: the labels' values, increasing */
    size_t *class_order;  /* class indices sorted by strcmp of their labels */
    struct prep_config cfg;
    struct prep_col *cols;
    size_t ncols;
    size_t nnum; /* numeric columns */
    struct prep_dropped *dropped;
    size_t ndropped;
    char **features; /* p output names */
    size_t p;
    size_t rows_used, rows_dropped_target, imputed;
    /* knn imputation: knn_n training rows of the nnum raw numeric values (NaN missing),
     * and the per-column mean and sd used to standardise distances */
    double *knn_x;
    size_t knn_n;
    double *knn_mean, *knn_sd;
};

/* Build features[] and each column's out from cols (after fit or load): 0, -ENOMEM. */
int prep_build_features(struct prep *p);
/* Index of s in the sorted array a[0..n) or -1. */
long prep_find_sorted(char *const *a, size_t n, const char *s);
/* Class index of a label string, or -1. */
long prep_class_index(const struct prep *p, const char *label);
/* Build class_values and class_order from classes (after fit or load): 0, -ENOMEM, -EINVAL
 * (labels not strictly increasing in their order, or a numeric label that does not parse). */
int prep_index_classes(struct prep *p);
/* Fill the missing numeric values of one row (raw[nnum], NaN missing) by the fitted
 * imputation, then scale into out (p values), given the categorical indices cat[ncat]
 * (-1: unseen, all zero). */
void prep_finish_row(const struct prep *p, double *raw, const long *cat, double *scratch,
                     double *out);
/* Scratch doubles prep_finish_row needs (knn_n, at least 1). */
size_t prep_scratch_len(const struct prep *p);
/* Category index for text s of column c (after fill), or -1. */
long prep_cat_index(const struct prep_col *c, const char *s);

/* The value of a numeric-kind column (NUMERIC, TEMPORAL; BOOLEAN as 0/1) at row r, NaN
 * when missing or of another kind. */
static inline double prep_num_at(const struct frame_column *c, size_t r)
{
    if (c->kind == FRAME_BOOLEAN)
        return c->codes[r] < 0 ? NAN : (double)c->codes[r];
    if (c->kind == FRAME_NUMERIC || c->kind == FRAME_TEMPORAL)
        return c->num[r];
    return NAN;
}

/* KNN imputation of the NaN entries of raw (nnum values); dist has knn_n entries. */
void prep_knn_fill(const struct prep *p, double *raw, double *dist);
/* The target column named target, or NULL with a message. */
const struct frame_column *prep_target_column(const struct frame *f, const char *target, char *err,
                                              size_t errlen);
/* Checks of prep_fit and prep_target_codes: -EINVAL with a message. */
int prep_check_target(const struct frame_column *c, enum ml_task task, char *err, size_t errlen);
int prep_check_rows(const struct frame *f, const size_t *rows, size_t nrows, char *err,
                    size_t errlen);

/* Target labels over some rows (internal to prep.c and prepfit.c). */
struct prep_tlabels {
    char **labels;
    size_t n;
    double *values; /* numeric target: n increasing values */
    long *code_map; /* coded target: ndict entries, -1 absent */
};
int prep_tlabels_build(const struct frame_column *c, const size_t *rows, size_t nrows,
                       struct prep_tlabels *t, char *err, size_t errlen);
long prep_tlabels_index(const struct prep_tlabels *t, const struct frame_column *c, size_t r);
void prep_tlabels_release(struct prep_tlabels *t);

const char *prep_impute_name(enum prep_impute v);
const char *prep_scale_name(enum prep_scale v);
const char *prep_reason_name(enum prep_drop_reason r);

#endif
