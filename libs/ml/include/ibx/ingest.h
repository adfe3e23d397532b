/* ingest: one pass over an uploaded table: parse (tabread), profile every column (profile),
 * keep a preview and write the typed columnar copy (colf), fed in chunks of any size.
 *
 * Memory stays bounded whatever the file size: the parser holds two batches of rows (see
 * tabread.h; one is profiled by helper threads while the next is parsed), the profile stays
 * within PROFILE_BUDGET_BYTES (see profile.h), the columnar writer one row group, and the
 * preview preview_rows rows (cells cut to INGEST_PREVIEW_CELL_BYTES).
 *
 * ingest_finish gives one JSON document:
 *   {"format":"csv|tsv|json|jsonl", "delimiter":"," (null for JSON), "has_header":true,
 *    "row_count":N, "column_count":M, "missing_cells":K, "missing_percentage":x,
 *    "columns":[{"name","position","type","nullable","missing","missing_percentage","pii",
 *                "pii_reason","examples":[...],"stats":{...}}],          (profile.h)
 *    "correlations":{"columns":[...],"matrix":[[...]]},
 *    "preview":{"columns":[...],"rows":[[typed values: numbers, true/false, null...]]},
 *    "suggestions":{"domains":[...],"tasks":[...],"target_column":name|null,
 *                   "display_name":text|null}}
 * Suggestions follow IBIS-X (upload preview): domains from column-name keywords (score/
 * grade/performance/achievement: education; price/cost/revenue/profit: finance; age/
 * gender/health/medical/diagnosis: healthcare; none: general). The target column is the
 * first column named (whole name, else a word of it) target, label, class, outcome, result,
 * species, diagnosis, quality, y, survived or churn, in that order of preference; failing
 * that, the last column when it is boolean, categorical, or an integer with at most
 * INGEST_CLASS_MAX_DISTINCT distinct values. Task: classification for such a target (or a
 * text one), regression for another numeric target, classification by default. Display
 * name: the filename's stem, '_' as spaces, in Title Case (Python's str.title()).
 *
 * Errors (0 or a negative errno; ingest_error gives the message): everything tabread
 * returns (-EINVAL, -E2BIG, -EMSGSIZE, -EPROTONOSUPPORT: see tabread.h), -ENOMEM, or the
 * columnar sink's own error. Errors are sticky. */
#ifndef IBX_INGEST_H
#define IBX_INGEST_H

#include <ibx/colf.h>

#include <jansson.h>
#include <stddef.h>

#define INGEST_WUR                __attribute__((warn_unused_result))
#define INGEST_PREVIEW_ROWS       10
#define INGEST_PREVIEW_CELL_BYTES 1024 /* longer preview strings are cut (UTF-8 safe) */
#define INGEST_CLASS_MAX_DISTINCT 20

struct ingest_opts {
    const char *filename;   /* may be NULL: format sniffed, no display name */
    size_t max_columns;     /* 0: TABREAD_MAX_COLUMNS (20,000) */
    size_t max_field_bytes; /* 0: TABREAD_MAX_FIELD_BYTES (1 MiB) */
    size_t preview_rows;    /* 0: INGEST_PREVIEW_ROWS */
    colf_sink_fn colf_sink; /* NULL: no columnar copy */
    void *colf_ctx;
    size_t threads; /* profiling threads, the caller's included: 0 one per online CPU (at
                     * most PROFILE_THREADS_MAX), 1 none; the document is the same for any */
};

struct ingest;

/* o is copied (filename too); o->colf_ctx must outlive the ingest. *out is owned by the
 * caller (ingest_free). 0, -EINVAL, -ENOMEM. */
int ingest_new(const struct ingest_opts *o, struct ingest **out) INGEST_WUR;
/* Feed the next len bytes. 0 or an error. */
int ingest_push(struct ingest *g, const void *data, size_t len) INGEST_WUR;
/* End of input: completes the columnar copy (the sink has received the whole file when
 * this returns 0) and sets *profile to the document above (a new reference, owned by the
 * caller). 0 or an error (*profile untouched). */
int ingest_finish(struct ingest *g, json_t **profile) INGEST_WUR;
/* The first error's message ("" when none). Borrowed from g. */
const char *ingest_error(const struct ingest *g);
void ingest_free(struct ingest *g);

/* IBIS-X's display name for a filename ("student_scores.csv" -> "Student Scores") into
 * out (n bytes); "" when filename is NULL or has no stem. */
void ingest_display_name(const char *filename, char *out, size_t n);

#endif
