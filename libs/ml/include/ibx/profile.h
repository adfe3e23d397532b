/* profile: per-column statistics of a table fed row by row, in one pass with bounded memory.
 *
 * ---- interpreted types (decided at the end, over the non-missing values) --------------
 *  boolean            every value is a boolean token (true/false, yes/no, t/f, y/n in any
 *                     case, 0/1) and there are at most two distinct spellings; a column of
 *                     only 0 and 1 needs both to be seen (otherwise it is an integer).
 *  numerical_integer  every value is a decimal integer ([+-]digits, |v| < 2^63).
 *  numerical_float    every value is a finite decimal number ([+-]d[.d][e[+-]d]).
 *  temporal           every value is a date or date-time: YYYY-MM-DD, YYYY/MM/DD,
 *                     DD/MM/YYYY, DD-MM-YYYY, DD.MM.YYYY, each optionally followed by
 *                     ' ' or 'T' and HH:MM[:SS[.fff]] and 'Z' or +HH[:]MM (taken as UTC).
 *                     Day-first: 12/31/2020 is not a date.
 *  categorical        otherwise, when distinct < PROFILE_CAT_MAX_DISTINCT and
 *                     distinct / non-missing < PROFILE_CAT_MAX_RATIO (IBIS-X's upload rule
 *                     used a ratio of 0.5, its preview 0.1 and 50: we keep 50 and 0.5 so that
 *                     small demo tables still get categories).
 *  text               anything else (also a column with no value at all).
 *
 * ---- statistics and their bounds -------------------------------------------------------
 * Each column gets a memory share b = PROFILE_BUDGET_BYTES / columns, clamped to
 * [PROFILE_COL_MIN_BYTES, PROFILE_COL_MAX_BYTES] (when the column count is unknown in
 * advance, as for JSON, the first PROFILE_EARLY_COLS columns share half the budget and
 * later ones get (budget / 2) / max_cols each). From b:
 *  - distinct and top values are exact (64-bit hashes of the values, so exact barring a
 *    hash collision, ~n^2/2^65) while the column has at most E = b/256 distinct values
 *    (32..65536) whose first PROFILE_VALUE_BYTES bytes fit in b/4; then distinct switches
 *    to HyperLogLog with 2^p registers, p = log2(b/16) clamped to 8..14 (Ertl's estimator;
 *    standard error 1.04/sqrt(2^p): 0.0081 at p = 14, reported as distinct_error), and
 *    top values to a frequent-items sketch (Misra-Gries with median purges, as Apache
 *    DataSketches) of m = b/512 counters (16..512), seeded with the m most frequent values
 *    so far: a reported count is a lower bound and the true count is at most count +
 *    "error" (the same for all, also given as top_values_max_error <= rows / (m/2));
 *    values whose count is below that error are not reported.
 *  - quantiles p1 p5 p25 p50 p75 p95 p99 (linear interpolation, as numpy/pandas) and the
 *    20-bin histogram are exact while a numeric column has at most Q = b/32 values
 *    (64..65536); then a merging t-digest with compression delta = b/1024 (20..200)
 *    estimates them ("quantiles_exact": false, "histogram_exact": false).
 *  - count, missing, min, max, mean and sample standard deviation (Welford, float64) are
 *    always exact; for temporal columns over seconds since 1970 (reported as ISO 8601).
 *  - text length (Unicode code points) min/max/mean, exact; 5 examples: the first five
 *    distinct values, each cut to PROFILE_VALUE_BYTES bytes.
 *  - PII: a column name made of keywords (email, e-mail, mail, phone, tel, mobile, ssn,
 *    iban, passport, address, street, birth, birthday, birthdate, dob, credit card,
 *    firstname/lastname/fullname/surname/username, "name" alone or after first/last/full/
 *    user/person/customer/patient/client/employee/contact/given/middle/maiden), or at least
 *    PROFILE_PII_MIN_SHARE of the first PROFILE_PII_SAMPLE values looking like e-mail
 *    addresses, phone numbers (+ prefix or separators, 8-15 digits; or 0 and 9 digits),
 *    IBANs (mod-97 checked) or payment card numbers (13-19 digits, Luhn checked).
 *  - Pearson correlations between the numeric columns (final type numerical_*) among the
 *    first PROFILE_CORR_COLS columns that still look numeric after PROFILE_CORR_SCAN_ROWS
 *    rows (looked for among the first PROFILE_CORR_SCAN_COLS columns; those rows are
 *    buffered and replayed). Sums in float64, shifted by each column's first value, over
 *    pairwise-complete rows; null where fewer than 2 rows or a zero variance.
 * Worst case: about PROFILE_BUDGET_BYTES plus ~1 KiB per column plus 8 MiB while the
 * correlation columns are chosen, plus 2 x PROFILE_CORR_COLS doubles per row of the largest
 * batch given to profile_batch (the correlation values of the batch in progress and of the
 * previous one, whose sums are added while the next is profiled).
 *
 * ---- threads ----------------------------------------------------------------------------
 * profile_batch cuts a batch by columns: each column's state is touched by one thread at a
 * time, in row order, and a batch starts only when the previous one is complete (the
 * correlation sums, row by row, in batch order), so every statistic above is the same for
 * any thread count and any timing. */
#ifndef IBX_PROFILE_H
#define IBX_PROFILE_H

#include <ibx/colf.h>

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define PROFILE_WUR              __attribute__((warn_unused_result))
#define PROFILE_BUDGET_BYTES     (256u << 20)
#define PROFILE_COL_MIN_BYTES    (6u << 10)
#define PROFILE_COL_MAX_BYTES    (16u << 20)
#define PROFILE_EARLY_COLS       64
#define PROFILE_VALUE_BYTES      128 /* stored bytes of a top value or example */
#define PROFILE_TOP_K            10
#define PROFILE_EXAMPLES         5
#define PROFILE_HIST_BINS        20
#define PROFILE_CAT_MAX_DISTINCT 50
#define PROFILE_CAT_MAX_RATIO    0.5
#define PROFILE_PII_SAMPLE       1000
#define PROFILE_PII_MIN_SHARE    0.5
#define PROFILE_CORR_COLS        64
#define PROFILE_CORR_SCAN_ROWS   1000
#define PROFILE_CORR_SCAN_COLS   1024
#define PROFILE_THREADS_MAX      16

struct profile;

/* A new profile. ncols_hint: the number of columns when known (delimited input), 0 when
 * columns arrive over time (JSON); max_cols: the cap the caller enforces (0: 20,000).
 * *out is owned by the caller (profile_free). 0, -EINVAL, -ENOMEM. */
int profile_new(size_t ncols_hint, size_t max_cols, struct profile **out) PROFILE_WUR;
/* Append n columns named names[i] (copied). Rows seen before count as missing in them.
 * 0, -E2BIG over max_cols, -ENOMEM. */
int profile_add_columns(struct profile *p, const char *const *names, size_t n) PROFILE_WUR;
/* One row: cells[i] is column i (borrowed; s == NULL missing), n <= columns; the rest are
 * missing. 0, -EINVAL (n too large, or after profile_finish), -ENOMEM. */
int profile_row(struct profile *p, const struct colf_cell *cells, size_t n) PROFILE_WUR;
/* rows rows at once, row-major: cells[r * n + i] is row r's column i (n <= columns; the
 * rest are missing). The same statistics as profile_row on each row in turn. With more than
 * one thread (profile_set_threads) the columns are shared among the threads, and the call
 * may return while they still work on it: cells and their bytes are borrowed until the next
 * profile_batch, profile_row, profile_add_columns, profile_wait or profile_finish call
 * returns (or profile_free). Errors of that background work are reported by the next of
 * those calls, and are sticky. 0, -EINVAL, -ENOMEM. */
int profile_batch(struct profile *p, const struct colf_cell *cells, size_t rows,
                  size_t n) PROFILE_WUR;
/* Complete the background work of the last profile_batch. 0 or its error. */
int profile_wait(struct profile *p) PROFILE_WUR;
/* Threads for profile_batch, the caller's included: 0 one per online CPU (at most
 * PROFILE_THREADS_MAX), 1 (the default) none. Results do not depend on it: each column is
 * profiled by one thread at a time, in row order. Before the first row; 0 or -EINVAL. */
int profile_set_threads(struct profile *p, size_t threads) PROFILE_WUR;
/* No more rows: decides the types. 0 or -ENOMEM. */
int profile_finish(struct profile *p) PROFILE_WUR;
void profile_free(struct profile *p);

uint64_t profile_rows(const struct profile *p);
size_t profile_columns(const struct profile *p);
/* After finish: column i's name and interpreted type (borrowed / static), or NULL. */
const char *profile_name(const struct profile *p, size_t i);
const char *profile_type(const struct profile *p, size_t i);
/* Column i's missing cells and distinct non-missing values (estimated past the bound). */
uint64_t profile_missing(const struct profile *p, size_t i);
uint64_t profile_distinct(const struct profile *p, size_t i);

/* After finish: column i as the JSON object described in ingest.h ({name, position, type,
 * nullable, missing, missing_percentage, pii, pii_reason, examples, stats}); a new
 * reference owned by the caller, NULL on -ENOMEM. */
json_t *profile_column_json(const struct profile *p, size_t i);
/* After finish: {"columns":[names], "matrix":[[r or null]]}; NULL on -ENOMEM. */
json_t *profile_correlations_json(const struct profile *p);
/* After finish: one cell of column i as typed JSON: a number for numerical columns, true/
 * false for booleans, null for missing (s == NULL), else a string. NULL on -ENOMEM. */
json_t *profile_cell_json(const struct profile *p, size_t i, const char *s, size_t len);

/* Parsers used for typing, exposed for tests. 0 and the value, or -EINVAL. */
int profile_parse_number(const char *s, size_t len, double *out, int *is_int) PROFILE_WUR;
/* Seconds since 1970-01-01T00:00:00Z. */
int profile_parse_time(const char *s, size_t len, double *out) PROFILE_WUR;
/* ISO 8601 rendering of t: "YYYY-MM-DD" when t is a whole day, else
 * "YYYY-MM-DDTHH:MM:SS[.fff]Z". n >= 32. */
void profile_format_time(double t, char *out, size_t n);

#endif
