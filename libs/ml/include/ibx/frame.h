/* frame: an in-memory typed data frame (columns of numbers, categories, booleans, times
 * and text with missing values), loaded from an IBXC file (colf) or built from arrays.
 * What the libs/ml learners, preprocessing and the data-quality analysis consume.
 *
 * Columns by kind (every array has nrows entries):
 *   FRAME_NUMERIC      num: double, NaN missing (numerical_integer, numerical_float)
 *   FRAME_BOOLEAN      codes: 0 false, 1 true, -1 missing; dict is {"false", "true"}, so a
 *                      boolean is also a two-category categorical whose code is its 0/1
 *                      value. Texts read as booleans (case-insensitive): true/false,
 *                      t/f, yes/no, y/n, 1/0. A boolean-typed column holding anything
 *                      else is loaded as FRAME_CATEGORICAL instead.
 *   FRAME_CATEGORICAL  codes: int32 index into dict (first-appearance order), -1 missing
 *   FRAME_TEMPORAL     num: seconds since 1970-01-01T00:00:00Z, NaN missing. Accepted:
 *                      Y-m-d, Y/m/d, Y.m.d, d/m/Y, d-m-Y, d.m.Y (1- or 2-digit day and
 *                      month, 4-digit year; 01/02/2020 is 1 February), optionally followed
 *                      by 'T' or ' ' and H:M[:S[.fraction]] and Z, +hh, +hhmm or +hh:mm.
 *                      Times without an offset are UTC.
 *   FRAME_TEXT         text: NUL-terminated strings, NULL missing
 * The interpreted type of each column (the footer's, or the one given when building) is
 * kept as `type`. Null-like texts are missing in every kind, as in IBIS-X's quality
 * analysis: "", " ", null, NULL, Null, NaN, nan, None, NONE, undefined, UNDEFINED, N/A,
 * n/a, NA, na. A present value of a numeric or temporal column that does not parse is
 * missing too and counted in `unparsed` (0 in frames made by frame_select_rows).
 *
 * A frame owns all its memory; frame_free releases it (accepts NULL). Frames are
 * immutable once built and may be read from several threads. Errors: -EINVAL (bad
 * argument, unknown type, row out of range), -ENOMEM, and the reader's -EIO. */
#ifndef IBX_FRAME_H
#define IBX_FRAME_H

#include <ibx/colf.h>

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define FRAME_WUR __attribute__((warn_unused_result))

enum frame_kind {
    FRAME_NUMERIC = 1,
    FRAME_BOOLEAN = 2,
    FRAME_CATEGORICAL = 3,
    FRAME_TEMPORAL = 4,
    FRAME_TEXT = 5,
};

/* A read-only view of one column, owned by the frame. Only the arrays of its kind are
 * set (the others are NULL). */
struct frame_column {
    const char *name;
    const char *type; /* numerical_integer, numerical_float, boolean, temporal, categorical, text */
    enum frame_kind kind;
    size_t n;
    const double *num;       /* NUMERIC, TEMPORAL */
    const int32_t *codes;    /* BOOLEAN, CATEGORICAL */
    const char *const *dict; /* BOOLEAN, CATEGORICAL: ndict strings */
    size_t ndict;
    const char *const *text; /* TEXT */
    size_t missing;          /* missing values */
    size_t unparsed;         /* values that did not parse and became missing */
};

struct frame;

/* Load every column of r (borrowed for the call) into a new frame (*out, caller frees). */
int frame_load_colf(struct colf_reader *r, struct frame **out) FRAME_WUR;

/* An empty frame of nrows rows to add columns to (for tests and derived data). */
int frame_new(size_t nrows, struct frame **out) FRAME_WUR;
/* Add a column of nrows numbers (copied; NaN missing). type: numerical_integer,
 * numerical_float or temporal (seconds since the epoch); NULL means numerical_float. */
int frame_add_numeric(struct frame *f, const char *name, const char *type,
                      const double *v) FRAME_WUR;
/* Add a column of nrows texts (copied; NULL missing) interpreted as type says, exactly
 * as frame_load_colf does. */
int frame_add_strings(struct frame *f, const char *name, const char *type,
                      const char *const *v) FRAME_WUR;

void frame_free(struct frame *f);

size_t frame_ncols(const struct frame *f);
size_t frame_nrows(const struct frame *f);
/* Column i, or NULL when i >= ncols. Valid as long as the frame. */
const struct frame_column *frame_col(const struct frame *f, size_t i);
/* Index of the first column called name, or -ENOENT. */
int frame_find(const struct frame *f, const char *name) FRAME_WUR;
/* Bytes held by the frame's columns (values, codes, dictionaries, texts). */
size_t frame_memory_bytes(const struct frame *f);

/* A new frame made of rows[0..n) of f in that order (repeats allowed; dictionaries are
 * kept whole so codes mean the same). -EINVAL when a row is out of range. */
int frame_select_rows(const struct frame *f, const size_t *rows, size_t n,
                      struct frame **out) FRAME_WUR;

/* Row `row` as a new JSON object (caller decrefs) of column name -> typed value: numbers
 * (integers for numerical_integer values that are whole), true/false, category and text
 * strings, temporal values as ISO-8601 UTC ("2024-03-01" when every value of the column
 * is a midnight, else "2024-03-01T12:30:00Z" with milliseconds when fractional), null
 * for missing. Invalid UTF-8 becomes U+FFFD. A later column with the same name wins. */
int frame_row_json(const struct frame *f, size_t row, json_t **out) FRAME_WUR;

enum frame_sample_mode { FRAME_SAMPLE_HEAD = 1, FRAME_SAMPLE_RANDOM = 2 };

/* Choose min(n, nrows) row indices into idx (caller's, room for n) and set *count.
 * HEAD: 0, 1, 2, ... RANDOM: a uniformly random subset without replacement, reproducible
 * for a given seed (mlrand), in ascending row order. Uses nrows/8 bytes of scratch. */
int frame_sample(const struct frame *f, size_t n, enum frame_sample_mode mode, uint64_t seed,
                 size_t *idx, size_t *count) FRAME_WUR;

/* A new JSON string of s (NUL-terminated) with invalid UTF-8 replaced by U+FFFD, for
 * names and texts from uploaded files; NULL only when out of memory. */
json_t *frame_json_string(const char *s);

/* Parsers the loader uses, for callers that meet the same texts. */
int frame_parse_temporal(const char *s, size_t len, double *out) FRAME_WUR;
int frame_parse_bool(const char *s, size_t len, int *out) FRAME_WUR;
/* 1 when s is one of the null-like texts above. */
int frame_is_null_like(const char *s, size_t len);

#endif
