/* tabread: a push parser for uploaded tables: CSV and other delimited text, JSON arrays of
 * objects and JSON Lines, fed in chunks of any size, in one pass with bounded memory.
 *
 * ---- detection ------------------------------------------------------------------------
 * The first TABREAD_SNIFF_BYTES (or the whole input when shorter) are held back to detect:
 *  - binary files (ZIP/XLSX, XLS, Parquet, gzip, PDF, PNG...): -EPROTONOSUPPORT;
 *  - the format: from the filename extension when one is given (.csv .tsv .tab .txt .dat
 *    .json .jsonl .ndjson; any other extension: -EPROTONOSUPPORT naming the supported
 *    ones), otherwise (and for .txt/.dat) from the first bytes: '[' a JSON array of
 *    objects, '{' JSON Lines, anything else delimited text. A .json file whose first
 *    byte is '{' is read as JSON Lines (one object per line);
 *  - the delimiter among ',' TAB ';' '|' (.tsv/.tab: TAB): the one that splits the first
 *    records (quote-aware) into the same number of fields (> 1), most fields first, ties
 *    in that order; none: ',' (one column);
 *  - the header, like Python's csv.Sniffer: per column, a first-row cell that is not a
 *    number/date over a column that is numeric (or dates) below votes "header", a cell of
 *    the same kind as below votes "no header"; for a text column, a first cell whose
 *    length differs from equal-length values below votes "header", one equal to a value
 *    below votes "no header". More header votes: header. A tie: header unless the first
 *    row holds a number, a date or a missing cell. A one-record file: header. Without a
 *    header, columns are named column_1, column_2, ...
 * A UTF-8 BOM is skipped; CRLF, LF and lone CR end lines.
 *
 * ---- cells ----------------------------------------------------------------------------
 * Delimited: RFC 4180 quoting (a field that starts with '"' is quoted; "" inside is one
 * '"'; delimiters and newlines inside are data). Text after a closing quote is appended to
 * the field (as pandas does); a '"' inside an unquoted field is data. Fully empty lines are
 * skipped. Every row must have exactly as many fields as the header.
 * JSON: columns are the union of keys in first-seen order (a new key adds a column; earlier
 * rows are missing in it); a repeated key in one object keeps the last value. Strings are
 * decoded (escapes, surrogate pairs); numbers are their text; true/false are "true"/
 * "false"; null is missing; nested arrays and objects are kept as their JSON text.
 * Missing cells (s == NULL): empty cells and the null-likes NA N/A n/a na NaN nan null NULL
 * Null None NONE undefined (after unquoting/decoding; exact match, no trimming).
 * Header names: an empty name becomes column_<position>; a repeated name gets ".1", ".2"...
 *
 * ---- errors ---------------------------------------------------------------------------
 * Every error comes with a message (tabread_error) naming the line (and column when it
 * helps), 1-based: -EINVAL malformed (invalid UTF-8, a NUL byte "not a text table",
 * a ragged row, an unterminated quote, empty file, "no data rows", malformed JSON, JSON
 * nested deeper than TABREAD_JSON_DEPTH), -E2BIG more than max_columns columns (found
 * while reading the header, before any per-column state is allocated beyond the cap),
 * -EMSGSIZE a field over max_field_bytes or a row over TABREAD_MAX_ROW_BYTES,
 * -EPROTONOSUPPORT not one of the four formats, -ENOMEM, or a callback's own negative
 * value. Errors are sticky: later calls return the same code. */
#ifndef IBX_TABREAD_H
#define IBX_TABREAD_H

#include <ibx/colf.h>

#include <stddef.h>
#include <stdint.h>

#define TABREAD_WUR             __attribute__((warn_unused_result))
#define TABREAD_MAX_COLUMNS     20000u       /* default column cap */
#define TABREAD_MAX_FIELD_BYTES (1u << 20)   /* default field cap: 1 MiB */
#define TABREAD_MAX_ROW_BYTES   (64u << 20)  /* one row's bytes, all fields together */
#define TABREAD_SNIFF_BYTES     (64u << 10)  /* held back for detection */
#define TABREAD_SNIFF_RECORDS   50           /* records looked at for delimiter and header */
#define TABREAD_JSON_DEPTH      64           /* nesting inside one value */
#define TABREAD_BATCH_BYTES     (256u << 10) /* text per batch (batch callback) */
#define TABREAD_BATCH_CELLS     (32u << 10)  /* cells per batch (batch callback) */

enum tabread_format {
    TABREAD_UNKNOWN = 0, /* not yet detected */
    TABREAD_CSV,         /* delimited text other than TAB */
    TABREAD_TSV,         /* TAB-delimited */
    TABREAD_JSON,        /* one array of objects */
    TABREAD_JSONL,       /* one object per line */
};

struct tabread_opts {
    const char *filename;   /* may be NULL; only its extension is used (copied) */
    size_t max_columns;     /* 0: TABREAD_MAX_COLUMNS */
    size_t max_field_bytes; /* 0: TABREAD_MAX_FIELD_BYTES */
};

/* Callbacks return 0 to go on or a negative errno to stop the parser (push/finish then
 * return that value). Everything passed is borrowed (see each callback for how long). */
struct tabread_cbs {
    /* Columns first .. first+n-1 now exist, named names[i] (NUL-terminated UTF-8).
     * Delimited input: once, before the first row. JSON: before the row that first uses
     * the new keys (earlier rows are missing in them; rows before that point have all been
     * delivered). Borrowed for the call. */
    int (*columns)(void *ctx, size_t first, const char *const *names, size_t n);
    /* One data row: cells[i] is column i (s == NULL: missing); n is the current number of
     * columns. line is the physical line the row starts on. Borrowed for the call. Used
     * only when batch is NULL. */
    int (*row)(void *ctx, const struct colf_cell *cells, size_t n, uint64_t line);
    /* When set, rows come in batches instead (row is not called): rows rows of n cells each,
     * row-major (cells[r * n + i] is row r's column i), lines[r] the line row r starts on.
     * A batch holds up to about TABREAD_BATCH_BYTES of text or TABREAD_BATCH_CELLS cells
     * (at least one row). The cells, their bytes and lines stay valid and unchanged until
     * the next batch call returns, or until tabread_free when there is none: a consumer may
     * keep working on a batch (on another thread) while the parser reads the next one, and
     * must be done with it by the time its next batch call returns. */
    int (*batch)(void *ctx, const struct colf_cell *cells, size_t rows, size_t n,
                 const uint64_t *lines);
};

struct tabread;

/* A new parser. o may be NULL (defaults); cbs and ctx are borrowed for the parser's life.
 * *out is owned by the caller (tabread_free). 0, -EINVAL, -ENOMEM. */
int tabread_new(const struct tabread_opts *o, const struct tabread_cbs *cbs, void *ctx,
                struct tabread **out) TABREAD_WUR;
/* Feed the next len bytes (any split). 0 or an error (see above). */
int tabread_push(struct tabread *r, const void *data, size_t len) TABREAD_WUR;
/* After the last chunk: ends the last row and checks the input was complete and held at
 * least one data row. 0 or an error. */
int tabread_finish(struct tabread *r) TABREAD_WUR;
/* The message of the first error ("" when none). Borrowed. */
const char *tabread_error(const struct tabread *r);
void tabread_free(struct tabread *r);

/* What detection found (TABREAD_UNKNOWN / 0 before it ran). */
enum tabread_format tabread_format(const struct tabread *r);
/* "csv", "tsv", "json", "jsonl" or NULL (static). */
const char *tabread_format_name(enum tabread_format f);
/* The delimiter, or 0 for JSON and before detection. */
char tabread_delimiter(const struct tabread *r);
/* 1 when the first record was a header (JSON: 1), 0 otherwise. */
int tabread_has_header(const struct tabread *r);
/* Data rows delivered so far. */
uint64_t tabread_rows(const struct tabread *r);
/* Columns known so far. */
size_t tabread_columns(const struct tabread *r);

/* 1 when s[0..len) is one of the null-like spellings listed above (len 0 included). */
int tabread_is_null_like(const char *s, size_t len);

#endif
