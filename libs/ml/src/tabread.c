/* tabread: push parser for delimited text, JSON arrays of objects and JSON Lines. */
#include <ibx/tabread.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#define MSG_MAX   320
#define VOTE_COLS 256 /* columns that vote on the header */
#define NAME_GEN  32  /* room for "column_<n>" */
#define SUPPORTED                                                                                  \
    "supported formats are CSV (.csv), TSV (.tsv), JSON (.json, an array of objects) and JSON "    \
    "Lines (.jsonl, .ndjson)"

enum stage { ST_SNIFF, ST_DELIM, ST_JSON, ST_DONE };
enum dstate { D_FIELD_START, D_UNQUOTED, D_QUOTED, D_QUOTE_END, D_AFTER_CR };
enum ext_kind { EXT_NONE, EXT_DELIM, EXT_TSV, EXT_JSON, EXT_OTHER };
enum jstate {
    J_TOP,      /* before the array / between JSON Lines objects */
    J_ARR_ELEM, /* after '[' or ',': an object (or ']' right after '[') */
    J_ARR_NEXT, /* after an object in the array: ',' or ']' */
    J_AFTER,    /* after the closing ']': whitespace only */
    J_OBJ_KEY,  /* after '{' or ',': a key (or '}' right after '{') */
    J_STR,      /* inside a key or value string */
    J_ESC,      /* after a backslash */
    J_UHEX,     /* inside \uXXXX */
    J_COLON,    /* after a key */
    J_VALUE,    /* after ':' */
    J_NUM,      /* inside a number */
    J_LIT,      /* inside true/false/null */
    J_NESTED,   /* inside a nested array/object, copied as text */
    J_OBJ_NEXT, /* after a value: ',' or '}' */
};

struct field {
    uint32_t off, len;
    uint32_t gen; /* JSON: the object that set it */
};

struct jparse {
    int state;
    int first;           /* 1 right after '[' or '{' */
    int in_key;          /* the string being read is a key */
    size_t col;          /* the column the value goes to */
    const char *lit;     /* literal being matched */
    size_t lit_pos;      /* bytes of lit matched */
    int lit_missing;     /* the literal is null */
    unsigned uval;       /* \u digits so far */
    int ucount;          /* \u hex digits read */
    unsigned pending_hi; /* a high surrogate waiting for its pair */
    uint64_t depth_bits; /* nested: 1 bit per level, 1 = array */
    int depth;
    int nest_str, nest_esc;
    uint32_t gen;      /* current object */
    size_t first_new;  /* first column added by the current object */
    uint64_t obj_line; /* line the current object started on */
    uint64_t objects;
    size_t *slots; /* key hash table: column index + 1, 0 empty */
    size_t nslots;
};

struct tabread {
    struct tabread_cbs cbs;
    void *ctx;
    size_t max_cols, max_field;
    int ext;
    int err;
    char msg[MSG_MAX];
    int stage;
    enum tabread_format fmt;
    char delim;
    int has_header;
    /* sniffing */
    char *sniff;
    size_t sniff_len, sniff_cap;
    /* UTF-8 validation across chunks */
    unsigned u8_need, u8_lo, u8_hi;
    uint64_t vline, vcol; /* line and column at the end of validated input */
    /* position in the parsed stream */
    uint64_t off, line, line_off;
    /* Text of the rows of the current batch and of the row under construction, in an arena
     * (row[0..row_len)): delimited input is copied in and split in place (quoted fields
     * are unescaped in place), JSON values are decoded into it. The current row starts at
     * row_base; the arena of the previous batch is alt, kept until the next batch call
     * returns. */
    char *row, *alt;
    size_t row_len, row_cap, alt_cap;
    size_t row_base;
    size_t scan;      /* delimited: the next byte to parse */
    size_t f_fast;    /* delimited: fields add_field stores without checks (see there) */
    size_t fw;        /* delimited: where the current field's next byte goes */
    size_t row_bytes; /* delimited: bytes of the current row's finished fields */
    struct field *f;
    size_t nf, f_cap;
    size_t fstart;
    int fquoted;
    uint64_t row_line, quote_line;
    int dstate;
    int header_done;
    /* rows of the current batch (bn rows of bcols cells) and of the previous one */
    struct colf_cell *cells, *alt_cells;
    size_t cells_cap, alt_cells_cap;
    uint64_t *lines, *alt_lines;
    size_t lines_cap, alt_lines_cap;
    size_t bn, bcols;
    /* columns */
    char **names;
    size_t ncols, names_cap;
    uint64_t rows;
    struct jparse j;
};

/* ---- small helpers ------------------------------------------------------------------ */

static int fail(struct tabread *r, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct tabread *r, int code, const char *fmt, ...)
{
    if (r->err)
        return r->err;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->msg, sizeof(r->msg), fmt, ap);
    va_end(ap);
    r->err = code;
    r->stage = ST_DONE;
    return code;
}

static int fail_nomem(struct tabread *r)
{
    return fail(r, -ENOMEM, "out of memory");
}

static uint64_t name_hash(const char *s, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)s[i]) * 0x100000001b3ull;
    return h ^ (h >> 29);
}

/* Grow *p (elements of size sz, capacity *cap) to hold at least need elements. */
static int grow(void **p, size_t *cap, size_t need, size_t sz)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap : 16;
    while (n < need)
        n *= 2;
    void *tmp = realloc(*p, n * sz);
    if (!tmp)
        return -ENOMEM;
    *p = tmp;
    *cap = n;
    return 0;
}

int tabread_is_null_like(const char *s, size_t len)
{
    switch (len) {
    case 0:
        return 1;
    case 2:
        return !memcmp(s, "NA", 2) || !memcmp(s, "na", 2);
    case 3:
        return !memcmp(s, "N/A", 3) || !memcmp(s, "n/a", 3) || !memcmp(s, "NaN", 3) ||
               !memcmp(s, "nan", 3);
    case 4:
        return !memcmp(s, "null", 4) || !memcmp(s, "NULL", 4) || !memcmp(s, "Null", 4) ||
               !memcmp(s, "None", 4) || !memcmp(s, "NONE", 4);
    case 9:
        return !memcmp(s, "undefined", 9);
    default:
        return 0;
    }
}

const char *tabread_format_name(enum tabread_format f)
{
    switch (f) {
    case TABREAD_CSV:
        return "csv";
    case TABREAD_TSV:
        return "tsv";
    case TABREAD_JSON:
        return "json";
    case TABREAD_JSONL:
        return "jsonl";
    default:
        return NULL;
    }
}

/* ---- UTF-8 validation ---------------------------------------------------------------- */

/* Line and column of byte i of p[0..n), validated input continuing from r->vline/vcol. */
static void locate(const struct tabread *r, const unsigned char *p, size_t i, uint64_t *line,
                   uint64_t *col)
{
    uint64_t l = r->vline, c = r->vcol;
    for (size_t k = 0; k < i; k++) {
        if (p[k] == '\n') {
            l++;
            c = 0;
        } else if ((p[k] & 0xC0) != 0x80) {
            c++;
        }
    }
    *line = l;
    *col = c + 1;
}

static int bad_byte(struct tabread *r, const unsigned char *p, size_t i)
{
    uint64_t line, col;
    locate(r, p, i, &line, &col);
    if (p[i] == 0)
        return fail(r, -EINVAL,
                    "not a text table: NUL byte at line %llu, column %llu (binary data?)",
                    (unsigned long long)line, (unsigned long long)col);
    return fail(r, -EINVAL, "invalid UTF-8 at line %llu, column %llu (the file must be UTF-8 text)",
                (unsigned long long)line, (unsigned long long)col);
}

/* Start of a multi-byte sequence: set how many continuation bytes follow and the range of
 * the first one. 0 or -1 when b cannot start a sequence. */
static int u8_lead(struct tabread *r, unsigned b)
{
    r->u8_lo = 0x80;
    r->u8_hi = 0xBF;
    if (b >= 0xC2 && b <= 0xDF) {
        r->u8_need = 1;
    } else if (b >= 0xE0 && b <= 0xEF) {
        r->u8_need = 2;
        r->u8_lo = b == 0xE0 ? 0xA0 : 0x80;
        r->u8_hi = b == 0xED ? 0x9F : 0xBF;
    } else if (b >= 0xF0 && b <= 0xF4) {
        r->u8_need = 3;
        r->u8_lo = b == 0xF0 ? 0x90 : 0x80;
        r->u8_hi = b == 0xF4 ? 0x8F : 0xBF;
    } else {
        return -1;
    }
    return 0;
}

static size_t ascii_run(const unsigned char *p, size_t i, size_t n)
{
#ifdef __SSE2__
    const __m128i zero = _mm_setzero_si128();
    for (; i + 16 <= n; i += 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
        if (_mm_movemask_epi8(v) | _mm_movemask_epi8(_mm_cmpeq_epi8(v, zero)))
            break;
    }
#endif
    const uint64_t hi = 0x8080808080808080ull, lo = 0x0101010101010101ull;
    while (i + 8 <= n) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        if ((w & hi) || ((w - lo) & ~w & hi))
            break;
        i += 8;
    }
    return i;
}

/* Update the line/column counters at the end of a validated chunk. */
static void advance_lines(struct tabread *r, const unsigned char *p, size_t n)
{
    const unsigned char *last = memrchr(p, '\n', n);
    if (!last) {
        r->vcol += n; /* bytes; only used to place errors */
        return;
    }
    for (const unsigned char *q = p; (q = memchr(q, '\n', (size_t)(last + 1 - q))) != NULL; q++)
        r->vline++;
    r->vcol = (uint64_t)(p + n - last - 1);
}

static int validate(struct tabread *r, const unsigned char *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        if (r->u8_need == 0) {
            i = ascii_run(p, i, n);
            if (i >= n)
                break;
            unsigned b = p[i];
            if (b == 0)
                return bad_byte(r, p, i);
            if (b >= 0x80 && u8_lead(r, b) != 0)
                return bad_byte(r, p, i);
            i++;
            continue;
        }
        unsigned b = p[i];
        if (b < r->u8_lo || b > r->u8_hi)
            return bad_byte(r, p, i);
        r->u8_lo = 0x80;
        r->u8_hi = 0xBF;
        r->u8_need--;
        i++;
    }
    advance_lines(r, p, n);
    return 0;
}

/* ---- rows and columns ------------------------------------------------------------------ */

/* Shift the current row's offsets down by d (its text moved from row_base to 0). */
static void rebase(struct tabread *r, size_t d)
{
    if (r->stage == ST_JSON) {
        for (size_t i = 0; i < r->ncols; i++)
            if (r->f[i].gen == r->j.gen)
                r->f[i].off -= (uint32_t)d;
    } else {
        size_t limit = r->header_done ? r->ncols : r->max_cols;
        size_t kept = r->nf < limit ? r->nf : limit;
        for (size_t i = 0; i < kept; i++)
            r->f[i].off -= (uint32_t)d;
        r->scan -= d;
        r->fw -= d;
    }
    r->fstart -= d;
    r->row_len -= d;
    r->row_base = 0;
}

/* Deliver the rows of the current batch (batch callback). */
static int deliver(struct tabread *r)
{
    if (r->bn == 0)
        return 0;
    int rc = r->cbs.batch(r->ctx, r->cells, r->bn, r->bcols, r->lines);
    if (rc < 0)
        return fail(r, rc, "line %llu: the rows were refused (%d)", (unsigned long long)r->lines[0],
                    rc);
    r->rows += r->bn;
    r->bn = 0;
    return 0;
}

/* Deliver the batch and go on in the other arena with the text after the delivered rows
 * (the row under construction, and delimited text not parsed yet). */
static int flush(struct tabread *r)
{
    if (deliver(r) != 0)
        return r->err;
    /* the previous batch is released: its arena and arrays take the next one */
    size_t keep = r->row_len - r->row_base;
    if (grow((void **)&r->alt, &r->alt_cap, keep + 1, 1) != 0)
        return fail_nomem(r);
    if (keep)
        memcpy(r->alt, r->row + r->row_base, keep);
    rebase(r, r->row_base);
    char *t = r->row;
    r->row = r->alt;
    r->alt = t;
    size_t tc = r->row_cap;
    r->row_cap = r->alt_cap;
    r->alt_cap = tc;
    struct colf_cell *tcell = r->cells;
    r->cells = r->alt_cells;
    r->alt_cells = tcell;
    tc = r->cells_cap;
    r->cells_cap = r->alt_cells_cap;
    r->alt_cells_cap = tc;
    uint64_t *tl = r->lines;
    r->lines = r->alt_lines;
    r->alt_lines = tl;
    tc = r->lines_cap;
    r->lines_cap = r->alt_lines_cap;
    r->alt_lines_cap = tc;
    return 0;
}

/* Room for need more bytes in the arena: the text before the current row is dropped (after
 * delivering the rows it holds) before the arena grows. */
static int make_room(struct tabread *r, size_t need)
{
    if (r->row_len + need + 1 <= r->row_cap)
        return 0;
    if (r->row_base > 0) {
        if (r->bn > 0) {
            if (flush(r) != 0)
                return r->err;
        } else {
            memmove(r->row, r->row + r->row_base, r->row_len - r->row_base);
            rebase(r, r->row_base);
        }
        if (r->row_len + need + 1 <= r->row_cap)
            return 0;
    }
    size_t cap = r->row_cap ? r->row_cap : 2 * TABREAD_BATCH_BYTES;
    while (cap < r->row_len + need + 1)
        cap *= 2;
    char *tmp = realloc(r->row, cap);
    if (!tmp)
        return fail_nomem(r);
    r->row = tmp;
    r->row_cap = cap;
    return 0;
}

/* JSON: append decoded bytes to the current value. */
static int row_append(struct tabread *r, const void *d, size_t n)
{
    if (r->row_len - r->fstart + n > r->max_field)
        return fail(r, -EMSGSIZE, "line %llu: a value longer than %zu bytes",
                    (unsigned long long)r->line, r->max_field);
    if (r->row_len - r->row_base + n > TABREAD_MAX_ROW_BYTES)
        return fail(r, -EMSGSIZE, "line %llu: a row longer than %u bytes",
                    (unsigned long long)r->row_line, TABREAD_MAX_ROW_BYTES);
    if (make_room(r, n) != 0)
        return r->err;
    memcpy(r->row + r->row_len, d, n);
    r->row_len += n;
    return 0;
}

static int add_name(struct tabread *r, const char *s, size_t len)
{
    if (grow((void **)&r->names, &r->names_cap, r->ncols + 1, sizeof(char *)) != 0)
        return fail_nomem(r);
    char *n = calloc(1, len + 1);
    if (!n)
        return fail_nomem(r);
    memcpy(n, s, len);
    n[len] = '\0';
    r->names[r->ncols++] = n;
    return 0;
}

/* A cell of len bytes at s: missing when null-like. */
static inline struct colf_cell cell_of(const char *s, size_t len)
{
    struct colf_cell c = {s, len};
    if (len == 0 ||
        (len <= 9 && (s[0] == 'N' || s[0] == 'n' || s[0] == 'u') && tabread_is_null_like(s, len)))
        c.s = NULL, c.len = 0;
    return c;
}

/* The cells for the next row (n of them), in the current batch. */
static struct colf_cell *row_cells(struct tabread *r, size_t n)
{
    size_t per = n ? n : 1;
    size_t rows = r->bn + 1;
    if (grow((void **)&r->cells, &r->cells_cap, rows * per, sizeof(*r->cells)) != 0 ||
        grow((void **)&r->lines, &r->lines_cap, rows, sizeof(*r->lines)) != 0) {
        fail_nomem(r);
        return NULL;
    }
    return r->cells + r->bn * per;
}

/* The row whose cells row_cells gave is complete: deliver it (row callback) or keep it in the
 * batch, delivered when full. */
static int add_row(struct tabread *r, size_t n, uint64_t line)
{
    if (!r->cbs.batch) {
        int rc = r->cbs.row ? r->cbs.row(r->ctx, r->cells, n, line) : 0;
        if (rc < 0)
            return fail(r, rc, "line %llu: the row was refused (%d)", (unsigned long long)line, rc);
        r->rows++;
        return 0;
    }
    r->lines[r->bn++] = line;
    r->bcols = n;
    if (r->bn * (n ? n : 1) >= TABREAD_BATCH_CELLS || r->row_base >= TABREAD_BATCH_BYTES)
        return flush(r);
    return 0;
}

static int emit_columns(struct tabread *r, size_t first)
{
    if (first >= r->ncols)
        return 0;
    int rc = r->cbs.columns ? r->cbs.columns(r->ctx, first, (const char *const *)r->names + first,
                                             r->ncols - first)
                            : 0;
    if (rc < 0)
        return fail(r, rc, "the columns were refused (%d)", rc);
    return 0;
}

/* ---- header names --------------------------------------------------------------------- */

/* Find name in the open-addressing table (indices + 1) of nslots slots. */
static int name_seen(char **names, const size_t *slots, size_t nslots, const char *s)
{
    size_t len = strlen(s);
    for (size_t h = name_hash(s, len) & (nslots - 1);; h = (h + 1) & (nslots - 1)) {
        if (slots[h] == 0)
            return 0;
        if (strcmp(names[slots[h] - 1], s) == 0)
            return 1;
    }
}

static void name_insert(char **names, size_t *slots, size_t nslots, size_t idx)
{
    const char *s = names[idx];
    size_t h = name_hash(s, strlen(s)) & (nslots - 1);
    while (slots[h] != 0)
        h = (h + 1) & (nslots - 1);
    slots[h] = idx + 1;
}

/* Rename empty names to column_<i> and repeats to name.<k>. */
static int dedupe_names(struct tabread *r)
{
    size_t nslots = 16;
    while (nslots < 2 * r->ncols)
        nslots *= 2;
    size_t *slots = calloc(nslots, sizeof(*slots));
    if (!slots)
        return fail_nomem(r);
    for (size_t i = 0; i < r->ncols; i++) {
        char gen[NAME_GEN];
        if (r->names[i][0] == '\0') {
            snprintf(gen, sizeof(gen), "column_%zu", i + 1);
            char *tmp = strdup(gen);
            if (!tmp)
                goto fail_mem;
            free(r->names[i]);
            r->names[i] = tmp;
        }
        for (unsigned k = 1; name_seen(r->names, slots, nslots, r->names[i]); k++) {
            size_t len = strlen(r->names[i]);
            char *tmp = malloc(len + NAME_GEN);
            if (!tmp)
                goto fail_mem;
            snprintf(tmp, len + NAME_GEN, "%s.%u", r->names[i], k);
            if (!name_seen(r->names, slots, nslots, tmp)) {
                free(r->names[i]);
                r->names[i] = tmp;
                break;
            }
            free(tmp);
        }
        name_insert(r->names, slots, nslots, i);
    }
    free(slots);
    return 0;
fail_mem:
    free(slots);
    return fail_nomem(r);
}

/* ---- delimited rows ------------------------------------------------------------------- */

#define SLICE_BYTES (64u << 10) /* delimited input is copied into the arena this much at a time */

/* add_field's rare cases: a limit crossed, the field array full, or a field past the columns
 * (counted for the ragged-row message). row_bytes already counts the field. */
static int add_field_slow(struct tabread *r, size_t off, size_t len)
{
    if (len > r->max_field)
        return fail(r, -EMSGSIZE, "line %llu, column %zu: a field longer than %zu bytes",
                    (unsigned long long)r->row_line, r->nf + 1, r->max_field);
    if (r->row_bytes > TABREAD_MAX_ROW_BYTES)
        return fail(r, -EMSGSIZE, "line %llu: a row longer than %u bytes",
                    (unsigned long long)r->row_line, TABREAD_MAX_ROW_BYTES);
    size_t limit = r->header_done ? r->ncols : r->max_cols;
    if (r->nf < limit) {
        if (r->nf >= r->f_cap && grow((void **)&r->f, &r->f_cap, r->nf + 1, sizeof(*r->f)) != 0)
            return fail_nomem(r);
        r->f[r->nf].off = (uint32_t)off;
        r->f[r->nf].len = (uint32_t)len;
    } else if (!r->header_done) {
        return fail(r, -E2BIG, "line %llu: more than %zu columns (the limit)",
                    (unsigned long long)r->row_line, r->max_cols);
    }
    r->nf++;
    r->fquoted = 0;
    return 0;
}

/* The field [off, off + len) of the arena is complete. The usual case inline: f_fast is
 * min(f_cap, the column limit) once the header is read (0 before). */
static inline int add_field(struct tabread *r, size_t off, size_t len)
{
    r->row_bytes += len;
    if (len > r->max_field || r->row_bytes > TABREAD_MAX_ROW_BYTES || r->nf >= r->f_fast)
        return add_field_slow(r, off, len);
    r->f[r->nf].off = (uint32_t)off;
    r->f[r->nf].len = (uint32_t)len;
    r->nf++;
    r->fquoted = 0;
    return 0;
}

static int first_record(struct tabread *r)
{
    r->header_done = 1;
    for (size_t i = 0; i < r->nf; i++) {
        char gen[NAME_GEN];
        int n = snprintf(gen, sizeof(gen), "column_%zu", i + 1);
        const char *s = r->has_header ? r->row + r->f[i].off : gen;
        size_t len = r->has_header ? r->f[i].len : (size_t)n;
        if (add_name(r, s, len) != 0)
            return r->err;
    }
    if (dedupe_names(r) != 0 || emit_columns(r, 0) != 0)
        return r->err;
    if (grow((void **)&r->f, &r->f_cap, r->ncols, sizeof(*r->f)) != 0)
        return fail_nomem(r);
    r->f_fast = r->ncols;
    return r->has_header ? 1 : 0;
}

static void row_reset(struct tabread *r)
{
    r->nf = 0;
    r->row_bytes = 0;
    r->fquoted = 0;
}

/* The fields of the current row are complete (row_base is already past it). */
static int end_row(struct tabread *r)
{
    if (!r->header_done) {
        int rc = first_record(r);
        if (rc != 0) {
            row_reset(r);
            return rc < 0 ? rc : 0;
        }
    }
    if (r->nf != r->ncols) {
        return fail(r, -EINVAL, "line %llu: %zu fields, but the %s has %zu",
                    (unsigned long long)r->row_line, r->nf, r->has_header ? "header" : "first row",
                    r->ncols);
    }
    struct colf_cell *c = row_cells(r, r->ncols);
    if (!c)
        return r->err;
    const char *base = r->row;
    const struct field *f = r->f;
    for (size_t i = 0; i < r->ncols; i++)
        c[i] = cell_of(base + f[i].off, f[i].len);
    row_reset(r);
    return add_row(r, r->ncols, r->row_line);
}

/* The field [off, off + len) ended at the delimiter or line end at q. */
static int field_end(struct tabread *r, size_t off, size_t len, size_t q)
{
    unsigned char c = (unsigned char)r->row[q];
    r->scan = q + 1;
    if (c == (unsigned char)r->delim) {
        r->dstate = D_FIELD_START;
        return add_field(r, off, len);
    }
    if (r->nf == 0 && len == 0 && !r->fquoted) { /* an empty line */
        r->row_base = r->scan;
    } else {
        if (add_field(r, off, len) != 0)
            return r->err;
        r->row_base = r->scan;
        if (end_row(r) != 0)
            return r->err;
    }
    r->line++;
    r->row_line = r->line;
    r->dstate = c == '\r' ? D_AFTER_CR : D_FIELD_START;
    return 0;
}

static size_t count_nl(const unsigned char *p, size_t n)
{
    size_t c = 0;
    for (const unsigned char *q = p; (q = memchr(q, '\n', (size_t)(p + n - q))) != NULL; q++)
        c++;
    return c;
}

/* The first byte of a[i..n) that is d, '\n' or '\r'; n when none. Eight bytes at a time: the
 * lowest byte flagged by the zero-byte test is always a real match. */
static inline size_t find_special(const unsigned char *a, size_t i, size_t n, unsigned char d)
{
#ifdef __SSE2__
    const __m128i vd = _mm_set1_epi8((char)d), vn = _mm_set1_epi8('\n'), vr = _mm_set1_epi8('\r');
    for (; i + 16 <= n; i += 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(a + i));
        __m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, vd), _mm_cmpeq_epi8(v, vn)),
                                 _mm_cmpeq_epi8(v, vr));
        unsigned bits = (unsigned)_mm_movemask_epi8(m);
        if (bits)
            return i + (size_t)__builtin_ctz(bits);
    }
#endif
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    const uint64_t lo = 0x0101010101010101ull, hi = 0x8080808080808080ull;
    const uint64_t md = lo * d, mn = lo * '\n', mr = lo * '\r';
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, a + i, 8);
        uint64_t x = w ^ md, y = w ^ mn, z = w ^ mr;
        uint64_t t = (((x - lo) & ~x) | ((y - lo) & ~y) | ((z - lo) & ~z)) & hi;
        if (t)
            return i + ((size_t)__builtin_ctzll(t) >> 3);
    }
#endif
    while (i < n && a[i] != d && a[i] != '\n' && a[i] != '\r')
        i++;
    return i;
}

/* D_FIELD_START: unquoted fields, row after row, until a quote opens a field, the text
 * ends inside a field, or a lone CR needs the next byte. */
/* D_FIELD_START: unquoted fields, row after row, until a quote opens a field, the text
 * ends inside a field, or a lone CR needs the next byte. The common field (ended by the
 * delimiter, within every limit) is stored from locals; anything else goes through
 * add_field / field_end with the state written back. */
static int plain_fields(struct tabread *r)
{
    const unsigned char d = (unsigned char)r->delim;
    const size_t maxf = r->max_field;
    for (;;) {
        const unsigned char *a = (const unsigned char *)r->row;
        struct field *f = r->f;
        size_t i = r->scan, n = r->row_len, nf = r->nf, bytes = r->row_bytes, lim = r->f_fast;
        size_t q = n;
        while (i < n && a[i] != '"') {
            q = find_special(a, i, n, d);
            size_t len = q - i;
            if (q == n || a[q] != d || len > maxf || bytes + len > TABREAD_MAX_ROW_BYTES ||
                nf >= lim)
                break;
            bytes += len;
            f[nf].off = (uint32_t)i;
            f[nf].len = (uint32_t)len;
            nf++;
            i = q + 1;
        }
        if (nf != r->nf)
            r->fquoted = 0;
        r->nf = nf;
        r->row_bytes = bytes;
        r->scan = i;
        if (i >= n)
            break;
        if (a[i] == '"') {
            r->fquoted = 1;
            r->quote_line = r->line;
            r->fstart = r->fw = r->scan = i + 1;
            r->dstate = D_QUOTED;
            return 0;
        }
        if (q == n) {
            r->fstart = i;
            r->fw = r->scan = n;
            r->dstate = D_UNQUOTED;
            return 0;
        }
        if (a[q] == d) { /* a field over a limit or past the columns: the checked path */
            r->scan = q + 1;
            if (add_field(r, i, q - i) != 0)
                return r->err;
            continue;
        }
        if (field_end(r, i, q - i, q) != 0)
            return r->err;
        if (r->dstate == D_AFTER_CR)
            return 0;
    }
    r->fstart = r->fw = r->scan;
    return 0;
}

/* D_UNQUOTED: the rest of a field whose text so far is [fstart, fw); the bytes after a
 * closing quote move down to fw. */
static int unquoted_rest(struct tabread *r)
{
    unsigned char *a = (unsigned char *)r->row;
    size_t q = find_special(a, r->scan, r->row_len, (unsigned char)r->delim);
    size_t n = q - r->scan;
    if (n && r->fw != r->scan)
        memmove(a + r->fw, a + r->scan, n);
    r->fw += n;
    r->scan = q;
    if (q == r->row_len)
        return 0;
    return field_end(r, r->fstart, r->fw - r->fstart, q);
}

/* D_QUOTED: text up to the next '"', moved down to fw. */
static int quoted_run(struct tabread *r)
{
    unsigned char *a = (unsigned char *)r->row;
    const unsigned char *q = memchr(a + r->scan, '"', r->row_len - r->scan);
    size_t stop = q ? (size_t)(q - a) : r->row_len;
    size_t n = stop - r->scan;
    r->line += count_nl(a + r->scan, n);
    if (n && r->fw != r->scan)
        memmove(a + r->fw, a + r->scan, n);
    r->fw += n;
    r->scan = stop;
    if (q) {
        r->scan++;
        r->dstate = D_QUOTE_END;
    }
    return 0;
}

/* D_QUOTE_END: a '"' just closed (or escaped) a quote. */
static void after_quote(struct tabread *r)
{
    if (r->row[r->scan] == '"') {
        r->row[r->fw++] = '"';
        r->scan++;
        r->dstate = D_QUOTED;
        return;
    }
    r->dstate = D_UNQUOTED; /* the terminator or trailing text is handled there */
}

/* A field still open at the end of the text so far must already fit the limits. */
static int check_partial(struct tabread *r)
{
    if (r->dstate != D_UNQUOTED && r->dstate != D_QUOTED && r->dstate != D_QUOTE_END)
        return 0;
    size_t len = r->fw - r->fstart;
    if (len > r->max_field)
        return fail(r, -EMSGSIZE, "line %llu, column %zu: a field longer than %zu bytes",
                    (unsigned long long)r->row_line, r->nf + 1, r->max_field);
    if (r->row_bytes + len > TABREAD_MAX_ROW_BYTES)
        return fail(r, -EMSGSIZE, "line %llu: a row longer than %u bytes",
                    (unsigned long long)r->row_line, TABREAD_MAX_ROW_BYTES);
    return 0;
}

/* Parse the arena from scan to row_len. */
static int delim_parse(struct tabread *r)
{
    while (r->scan < r->row_len) {
        int rc = 0;
        switch (r->dstate) {
        case D_AFTER_CR:
            if (r->row[r->scan] == '\n')
                r->row_base = ++r->scan;
            r->dstate = D_FIELD_START;
            break;
        case D_FIELD_START:
            rc = plain_fields(r);
            break;
        case D_UNQUOTED:
            rc = unquoted_rest(r);
            break;
        case D_QUOTED:
            rc = quoted_run(r);
            break;
        case D_QUOTE_END:
            after_quote(r);
            break;
        default:
            return fail(r, -EINVAL, "internal parser state");
        }
        if (rc != 0)
            return rc;
    }
    return check_partial(r);
}

static int delim_chunk(struct tabread *r, const unsigned char *p, size_t n)
{
    while (n > 0) {
        size_t take = n < SLICE_BYTES ? n : SLICE_BYTES;
        if (make_room(r, take) != 0)
            return r->err;
        memcpy(r->row + r->row_len, p, take);
        r->row_len += take;
        if (delim_parse(r) != 0)
            return r->err;
        p += take;
        n -= take;
    }
    return 0;
}

static int delim_finish(struct tabread *r)
{
    if (r->dstate == D_QUOTED)
        return fail(r, -EINVAL, "line %llu: unterminated quoted field (opened on line %llu)",
                    (unsigned long long)r->line, (unsigned long long)r->quote_line);
    int open = r->dstate == D_UNQUOTED || r->dstate == D_QUOTE_END;
    if (r->nf > 0 || open) {
        size_t off = open ? r->fstart : r->scan, len = open ? r->fw - r->fstart : 0;
        if (add_field(r, off, len) != 0)
            return r->err;
        r->row_base = r->row_len;
        if (end_row(r) != 0)
            return r->err;
    }
    if (r->cbs.batch && deliver(r) != 0)
        return r->err;
    if (!r->header_done)
        return fail(r, -EINVAL, "empty file");
    if (r->rows == 0)
        return fail(r, -EINVAL, "no data rows (only a header line: %zu columns)", r->ncols);
    return 0;
}

/* ---- JSON ------------------------------------------------------------------------------ */

static int jfail(struct tabread *r, const char *what)
{
    return fail(r, -EINVAL, "malformed JSON at line %llu, column %llu: %s",
                (unsigned long long)r->line, (unsigned long long)(r->off - r->line_off) + 1, what);
}

static int key_slots_grow(struct tabread *r)
{
    struct jparse *j = &r->j;
    if (j->nslots >= 2 * (r->ncols + 1))
        return 0;
    size_t n = j->nslots ? j->nslots : 64;
    while (n < 4 * (r->ncols + 1))
        n *= 2;
    size_t *s = calloc(n, sizeof(*s));
    if (!s)
        return fail_nomem(r);
    free(j->slots);
    j->slots = s;
    j->nslots = n;
    for (size_t i = 0; i < r->ncols; i++)
        name_insert(r->names, s, n, i);
    return 0;
}

/* The column of the key in row[fstart..row_len): found or added. */
static int key_column(struct tabread *r, size_t *col)
{
    struct jparse *j = &r->j;
    const char *k = r->row + r->fstart;
    size_t len = r->row_len - r->fstart;
    if (j->nslots) {
        for (size_t h = name_hash(k, len) & (j->nslots - 1); j->slots[h];
             h = (h + 1) & (j->nslots - 1)) {
            const char *nm = r->names[j->slots[h] - 1];
            if (strlen(nm) == len && memcmp(nm, k, len) == 0) {
                *col = j->slots[h] - 1;
                return 0;
            }
        }
    }
    if (r->ncols >= r->max_cols)
        return fail(r, -E2BIG, "line %llu: more than %zu columns (the limit)",
                    (unsigned long long)r->line, r->max_cols);
    if (memchr(k, '\0', len))
        return jfail(r, "a key holds a NUL character");
    if (add_name(r, len ? k : "", len) != 0 || key_slots_grow(r) != 0)
        return r->err;
    name_insert(r->names, j->slots, j->nslots, r->ncols - 1);
    if (grow((void **)&r->f, &r->f_cap, r->ncols, sizeof(*r->f)) != 0)
        return fail_nomem(r);
    r->f[r->ncols - 1].gen = 0;
    *col = r->ncols - 1;
    return 0;
}

static void obj_begin(struct tabread *r)
{
    struct jparse *j = &r->j;
    j->gen++;
    if (j->gen == 0) { /* wrapped: clear the stamps */
        for (size_t i = 0; i < r->ncols; i++)
            r->f[i].gen = 0;
        j->gen = 1;
    }
    j->first_new = r->ncols;
    j->obj_line = r->line;
    j->state = J_OBJ_KEY;
    j->first = 1;
    r->row_base = r->row_len;
    r->fstart = r->row_len;
}

static int obj_end(struct tabread *r)
{
    struct jparse *j = &r->j;
    j->objects++;
    /* rows before new columns go out first: every row of a batch has the same columns */
    if (j->first_new < r->ncols && r->bn > 0 && flush(r) != 0)
        return r->err;
    if (emit_columns(r, j->first_new) != 0)
        return r->err;
    struct colf_cell *c = row_cells(r, r->ncols);
    if (!c)
        return r->err;
    for (size_t i = 0; i < r->ncols; i++) {
        const struct field *f = &r->f[i];
        c[i] = f->gen == j->gen ? cell_of(r->row + f->off, f->len) : (struct colf_cell){NULL, 0};
    }
    r->row_base = r->row_len;
    if (add_row(r, r->ncols, j->obj_line) != 0)
        return r->err;
    j->state = r->fmt == TABREAD_JSON ? J_ARR_NEXT : J_TOP;
    return 0;
}

/* A value of row[fstart..row_len) (or missing) for the current column is complete. */
static int value_end(struct tabread *r, int missing)
{
    struct jparse *j = &r->j;
    struct field *f = &r->f[j->col];
    if (missing) {
        f->gen = 0;
        r->row_len = r->fstart;
    } else {
        f->off = (uint32_t)r->fstart;
        f->len = (uint32_t)(r->row_len - r->fstart);
        f->gen = j->gen;
    }
    r->fstart = r->row_len;
    j->state = J_OBJ_NEXT;
    return 0;
}

static int is_ws(unsigned c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int put_utf8(struct tabread *r, unsigned cp)
{
    char b[4];
    size_t n;
    if (cp < 0x80) {
        b[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        b[0] = (char)(0xC0 | (cp >> 6));
        b[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        b[0] = (char)(0xE0 | (cp >> 12));
        b[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        b[0] = (char)(0xF0 | (cp >> 18));
        b[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        b[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    return row_append(r, b, n);
}

static int string_end(struct tabread *r)
{
    struct jparse *j = &r->j;
    if (j->pending_hi)
        return jfail(r, "a lone UTF-16 surrogate in \\u escapes");
    if (!j->in_key)
        return value_end(r, 0);
    size_t col = 0;
    if (key_column(r, &col) != 0)
        return r->err;
    j->col = col;
    r->row_len = r->fstart; /* the key's bytes are not kept */
    j->state = J_COLON;
    return 0;
}

/* In J_STR: copy a run of plain characters; handle '"', '\\' and control characters. */
static long jstr_run(struct tabread *r, const unsigned char *p, const unsigned char *end)
{
    struct jparse *j = &r->j;
    const unsigned char *q = p;
    while (q < end && *q != '"' && *q != '\\' && *q >= 0x20)
        q++;
    if (q > p && j->pending_hi)
        return jfail(r, "a lone UTF-16 surrogate in \\u escapes");
    if (q > p && row_append(r, p, (size_t)(q - p)) != 0)
        return r->err;
    if (q == end)
        return (long)(q - p);
    r->off += (uint64_t)(q - p);
    if (*q < 0x20)
        return jfail(r, "a control character inside a string");
    r->off -= (uint64_t)(q - p);
    if (*q == '\\') {
        j->state = J_ESC;
    } else if (string_end(r) != 0) {
        return r->err;
    }
    return (long)(q + 1 - p);
}

static int jesc(struct tabread *r, unsigned c)
{
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    struct jparse *j = &r->j;
    if (c == 'u') {
        j->state = J_UHEX;
        j->uval = 0;
        j->ucount = 0;
        return 0;
    }
    const char *k = c ? strchr(from, (int)c) : NULL;
    if (!k || j->pending_hi)
        return jfail(r, j->pending_hi ? "a lone UTF-16 surrogate in \\u escapes"
                                      : "an invalid escape in a string");
    j->state = J_STR;
    return row_append(r, &to[k - from], 1);
}

static int juhex(struct tabread *r, unsigned c)
{
    struct jparse *j = &r->j;
    int d = c >= '0' && c <= '9'   ? (int)c - '0'
            : c >= 'a' && c <= 'f' ? (int)c - 'a' + 10
            : c >= 'A' && c <= 'F' ? (int)c - 'A' + 10
                                   : -1;
    if (d < 0)
        return jfail(r, "an invalid \\u escape");
    j->uval = j->uval * 16 + (unsigned)d;
    if (++j->ucount < 4)
        return 0;
    j->state = J_STR;
    unsigned u = j->uval;
    if (u >= 0xD800 && u <= 0xDBFF) {
        if (j->pending_hi)
            return jfail(r, "a lone UTF-16 surrogate in \\u escapes");
        j->pending_hi = u;
        return 0;
    }
    if (u >= 0xDC00 && u <= 0xDFFF) {
        if (!j->pending_hi)
            return jfail(r, "a lone UTF-16 surrogate in \\u escapes");
        u = 0x10000 + ((j->pending_hi - 0xD800) << 10) + (u - 0xDC00);
        j->pending_hi = 0;
    } else if (j->pending_hi) {
        return jfail(r, "a lone UTF-16 surrogate in \\u escapes");
    }
    if (u == 0)
        return jfail(r, "a \\u0000 (NUL) inside a string");
    return put_utf8(r, u);
}

/* Strict JSON number grammar over row[fstart..row_len). */
static int json_number_ok(const char *s, size_t n)
{
    size_t i = 0;
    if (i < n && s[i] == '-')
        i++;
    if (i >= n || s[i] < '0' || s[i] > '9')
        return 0;
    if (s[i] == '0')
        i++;
    else
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
    if (i < n && s[i] == '.') {
        size_t d = ++i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == d)
            return 0;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        size_t d = i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == d)
            return 0;
    }
    return i == n;
}

static int is_num_char(unsigned c)
{
    return (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E';
}

/* In J_NUM: returns bytes consumed (the terminator is left for J_OBJ_NEXT). */
static long jnum_run(struct tabread *r, const unsigned char *p, const unsigned char *end)
{
    const unsigned char *q = p;
    while (q < end && is_num_char(*q))
        q++;
    if (q > p && row_append(r, p, (size_t)(q - p)) != 0)
        return r->err;
    if (q == end)
        return (long)(q - p);
    if (!json_number_ok(r->row + r->fstart, r->row_len - r->fstart)) {
        r->off += (uint64_t)(q - p);
        return jfail(r, "an invalid number");
    }
    value_end(r, 0);
    return (long)(q - p);
}

static int jlit(struct tabread *r, unsigned c)
{
    struct jparse *j = &r->j;
    if ((unsigned char)j->lit[j->lit_pos] != c)
        return jfail(r, "an invalid literal (expected true, false or null)");
    if (!j->lit_missing && row_append(r, &j->lit[j->lit_pos], 1) != 0)
        return r->err;
    if (j->lit[++j->lit_pos] == '\0')
        return value_end(r, j->lit_missing);
    return 0;
}

static int nest_open(struct tabread *r, unsigned c)
{
    struct jparse *j = &r->j;
    if (j->depth >= TABREAD_JSON_DEPTH)
        return fail(r, -EINVAL, "line %llu: a value nested deeper than %d levels",
                    (unsigned long long)r->line, TABREAD_JSON_DEPTH);
    j->depth_bits = (j->depth_bits << 1) | (c == '[');
    j->depth++;
    return 0;
}

/* In J_NESTED: copy one byte of a nested array/object, tracking strings and brackets. */
static int jnested(struct tabread *r, unsigned c)
{
    struct jparse *j = &r->j;
    if (j->nest_str) {
        if (c < 0x20)
            return jfail(r, "a control character inside a string");
        if (j->nest_esc)
            j->nest_esc = 0;
        else if (c == '\\')
            j->nest_esc = 1;
        else if (c == '"')
            j->nest_str = 0;
    } else if (c == '"') {
        j->nest_str = 1;
    } else if (c == '[' || c == '{') {
        if (nest_open(r, c) != 0)
            return r->err;
    } else if (c == ']' || c == '}') {
        if ((int)(j->depth_bits & 1) != (c == ']'))
            return jfail(r, "mismatched brackets");
        j->depth_bits >>= 1;
        j->depth--;
    }
    char b = (char)c;
    if (row_append(r, &b, 1) != 0)
        return r->err;
    if (j->depth == 0)
        return value_end(r, 0);
    return 0;
}

static int jvalue(struct tabread *r, unsigned c)
{
    struct jparse *j = &r->j;
    static const char *const lits[3] = {"true", "false", "null"};
    r->fstart = r->row_len;
    if (c == '"') {
        j->in_key = 0;
        j->state = J_STR;
        return 0;
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
        j->state = J_NUM;
        return 1; /* re-read by J_NUM */
    }
    if (c == 't' || c == 'f' || c == 'n') {
        j->lit = lits[c == 't' ? 0 : c == 'f' ? 1 : 2];
        j->lit_pos = 0;
        j->lit_missing = c == 'n';
        j->state = J_LIT;
        return 1;
    }
    if (c == '[' || c == '{') {
        j->depth = 0;
        j->depth_bits = 0;
        j->nest_str = j->nest_esc = 0;
        j->state = J_NESTED;
        return 1;
    }
    return jfail(r, "expected a value");
}

/* Structural states; returns 1 to re-read c in the new state, 0 consumed, <0 error. */
static int jstruct(struct tabread *r, unsigned c)
{
    struct jparse *j = &r->j;
    int ws = is_ws(c);
    switch (j->state) {
    case J_TOP:
        if (ws)
            return 0;
        if (r->fmt == TABREAD_JSON && c == '[') {
            j->state = J_ARR_ELEM;
            j->first = 1;
            return 0;
        }
        if (r->fmt == TABREAD_JSONL && c == '{') {
            obj_begin(r);
            return 0;
        }
        return jfail(r, r->fmt == TABREAD_JSON ? "expected '['"
                                               : "expected '{' (one object per line)");
    case J_ARR_ELEM:
        if (ws)
            return 0;
        if (c == '{') {
            obj_begin(r);
            return 0;
        }
        if (c == ']' && j->first) {
            j->state = J_AFTER;
            return 0;
        }
        return jfail(r, "expected an object in the array");
    case J_ARR_NEXT:
        if (ws)
            return 0;
        if (c == ',' || c == ']') {
            j->state = c == ',' ? J_ARR_ELEM : J_AFTER;
            j->first = 0;
            return 0;
        }
        return jfail(r, "expected ',' or ']' after an object");
    case J_AFTER:
        return ws ? 0 : jfail(r, "data after the end of the array");
    default:
        break;
    }
    return 2; /* not a structural state handled here */
}

static int jobject(struct tabread *r, unsigned c)
{
    struct jparse *j = &r->j;
    int ws = is_ws(c);
    switch (j->state) {
    case J_OBJ_KEY:
        if (ws)
            return 0;
        if (c == '"') {
            j->in_key = 1;
            r->fstart = r->row_len;
            j->state = J_STR;
            return 0;
        }
        if (c == '}' && j->first)
            return obj_end(r);
        return jfail(r, "expected a key (a string)");
    case J_COLON:
        if (ws)
            return 0;
        if (c == ':') {
            j->state = J_VALUE;
            return 0;
        }
        return jfail(r, "expected ':' after a key");
    case J_VALUE:
        return ws ? 0 : jvalue(r, c);
    case J_OBJ_NEXT:
        if (ws)
            return 0;
        if (c == ',') {
            j->state = J_OBJ_KEY;
            j->first = 0;
            return 0;
        }
        if (c == '}')
            return obj_end(r);
        return jfail(r, "expected ',' or '}' after a value");
    default:
        return jfail(r, "internal parser state");
    }
}

/* One byte in a byte-at-a-time state; returns 1 to re-read, 0 consumed, <0 error. */
static int jbyte(struct tabread *r, unsigned c)
{
    switch (r->j.state) {
    case J_ESC:
        return jesc(r, c);
    case J_UHEX:
        return juhex(r, c);
    case J_LIT:
        return jlit(r, c);
    case J_NESTED:
        return jnested(r, c);
    default: {
        int rc = jstruct(r, c);
        return rc == 2 ? jobject(r, c) : rc;
    }
    }
}

static int json_chunk(struct tabread *r, const unsigned char *p, size_t n)
{
    const unsigned char *end = p + n;
    while (p < end) {
        long used;
        if (r->j.state == J_STR) {
            used = jstr_run(r, p, end);
        } else if (r->j.state == J_NUM) {
            used = jnum_run(r, p, end);
        } else {
            int rc = jbyte(r, *p);
            if (rc < 0)
                return rc;
            used = rc == 1 ? 0 : 1;
        }
        if (used < 0)
            return (int)used;
        for (long k = 0; k < used; k++) {
            if (p[k] == '\n') {
                r->line++;
                r->line_off = r->off + (uint64_t)k + 1;
            }
        }
        r->off += (uint64_t)used;
        p += used;
    }
    return 0;
}

static int json_finish(struct tabread *r)
{
    struct jparse *j = &r->j;
    if (j->state == J_NUM) {
        if (!json_number_ok(r->row + r->fstart, r->row_len - r->fstart))
            return jfail(r, "an invalid number");
        value_end(r, 0);
    }
    if (r->fmt == TABREAD_JSON && j->state == J_TOP)
        return fail(r, -EINVAL, "empty file");
    if (r->fmt == TABREAD_JSONL && j->state == J_TOP && j->objects == 0)
        return fail(r, -EINVAL, "empty file");
    if (j->state != J_TOP && j->state != J_AFTER)
        return jfail(r, "unexpected end of input");
    if (j->objects == 0)
        return fail(r, -EINVAL, "no data rows (an empty array)");
    if (r->ncols == 0)
        return fail(r, -EINVAL, "no columns (every object is empty)");
    if (r->cbs.batch && deliver(r) != 0)
        return r->err;
    return 0;
}

/* ---- detection --------------------------------------------------------------------------- */

struct span {
    const char *s;
    size_t len;
};

/* Split the record starting at *pos (empty lines skipped) with delimiter d; store up to
 * max spans. Returns the number of fields, or -1 when the record does not end before len
 * and !eof (incomplete), or 0 at the end. */
static long sniff_record(const char *b, size_t len, size_t *pos, char d, struct span *sp,
                         size_t max, int eof)
{
    size_t i = *pos;
    while (i < len && (b[i] == '\n' || b[i] == '\r'))
        i++;
    if (i >= len)
        return 0;
    long nf = 0;
    for (;;) {
        size_t st = i, fl;
        if (i < len && b[i] == '"') {
            st = ++i;
            while (i < len && !(b[i] == '"' && !(i + 1 < len && b[i + 1] == '"')))
                i += b[i] == '"' ? 2 : 1;
            fl = i - st;
            if (i >= len && !eof)
                return -1;
            while (i < len && b[i] != d && b[i] != '\n' && b[i] != '\r')
                i++;
        } else {
            while (i < len && b[i] != d && b[i] != '\n' && b[i] != '\r')
                i++;
            fl = i - st;
        }
        if ((size_t)nf < max)
            sp[nf] = (struct span){b + st, fl};
        nf++;
        if (i >= len && !eof)
            return -1;
        if (i >= len || b[i] != d)
            break;
        i++;
    }
    *pos = i;
    return nf;
}

static int cand_score(const char *b, size_t len, int eof, char d, long *fields)
{
    size_t pos = 0;
    long first = 0, same = 0;
    struct span sp[1];
    for (int k = 0; k < TABREAD_SNIFF_RECORDS; k++) {
        long nf = sniff_record(b, len, &pos, d, sp, 0, eof);
        if (nf == 0 || (nf < 0 && k > 0))
            break;
        if (nf < 0) { /* a first record longer than the sample: count what is there */
            nf = sniff_record(b, len, &pos, d, sp, 0, 1);
            *fields = nf;
            return 1;
        }
        if (k == 0)
            first = nf;
        if (nf != first)
            break;
        same++;
    }
    *fields = first;
    return (int)same;
}

static char pick_delimiter(const char *b, size_t len, int eof)
{
    static const char cands[4] = {',', '\t', ';', '|'};
    char best = ',';
    long best_fields = 1, best_same = 0;
    for (int c = 0; c < 4; c++) {
        long fields = 0;
        long same = cand_score(b, len, eof, cands[c], &fields);
        if (fields < 2)
            continue;
        if (same > best_same || (same == best_same && fields > best_fields)) {
            best = cands[c];
            best_same = same;
            best_fields = fields;
        }
    }
    return best;
}

enum { K_NULL, K_NUM, K_DATE, K_TEXT };

static int looks_number(const char *s, size_t n)
{
    size_t i = 0, digits = 0;
    if (i < n && (s[i] == '+' || s[i] == '-'))
        i++;
    for (; i < n && s[i] >= '0' && s[i] <= '9'; i++)
        digits++;
    if (i < n && s[i] == '.')
        for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++)
            digits++;
    if (digits && i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        size_t d = i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == d)
            return 0;
    }
    return digits > 0 && i == n;
}

static size_t digit_run(const char *s, size_t n, size_t i)
{
    size_t k = i;
    while (k < n && s[k] >= '0' && s[k] <= '9')
        k++;
    return k - i;
}

/* Y-m-d / Y/m/d or d/m/Y, d-m-Y, d.m.Y at the start, anything after. */
static int looks_date(const char *s, size_t n)
{
    size_t a = digit_run(s, n, 0);
    if (n < 8 || (a != 4 && a != 1 && a != 2))
        return 0;
    char sep = s[a];
    if (sep != '-' && sep != '/' && sep != '.')
        return 0;
    size_t b = digit_run(s, n, a + 1);
    if (b < 1 || b > 2 || a + 1 + b >= n || s[a + 1 + b] != sep)
        return 0;
    size_t c = digit_run(s, n, a + 2 + b);
    return a == 4 ? (c == 1 || c == 2) : c == 4;
}

static int classify(const struct span *sp)
{
    if (tabread_is_null_like(sp->s, sp->len))
        return K_NULL;
    if (looks_number(sp->s, sp->len))
        return K_NUM;
    return looks_date(sp->s, sp->len) ? K_DATE : K_TEXT;
}

/* Votes of column c over rows 1..nrec-1 (row 0 the candidate header). */
static int column_vote(struct span *const *recs, size_t nrec, size_t c)
{
    int k0 = classify(&recs[0][c]), kind = -1;
    size_t len = (size_t)-1;
    int same_len = 1, repeat = 0, any = 0;
    for (size_t r = 1; r < nrec; r++) {
        const struct span *sp = &recs[r][c];
        int k = classify(sp);
        if (k == K_NULL)
            continue;
        any = 1;
        kind = kind == -1 ? k : (kind == k ? kind : K_TEXT);
        if (len != (size_t)-1 && sp->len != len)
            same_len = 0;
        len = sp->len;
        if (sp->len == recs[0][c].len && memcmp(sp->s, recs[0][c].s, sp->len) == 0)
            repeat = 1;
    }
    if (!any || k0 == K_NULL)
        return 0;
    if (kind == K_NUM || kind == K_DATE)
        return k0 == kind ? -1 : (k0 == K_TEXT ? 1 : 0);
    if (k0 != K_TEXT || repeat)
        return k0 == K_TEXT ? -1 : 0;
    return (same_len && recs[0][c].len != len) ? 1 : 0;
}

static int pick_header(const char *b, size_t len, int eof, char d)
{
    struct span *recs[TABREAD_SNIFF_RECORDS];
    struct span *store = malloc(sizeof(struct span) * VOTE_COLS * TABREAD_SNIFF_RECORDS);
    if (!store)
        return -ENOMEM;
    size_t pos = 0, nrec = 0, ncols = 0;
    for (; nrec < TABREAD_SNIFF_RECORDS; nrec++) {
        recs[nrec] = store + nrec * VOTE_COLS;
        long nf = sniff_record(b, len, &pos, d, recs[nrec], VOTE_COLS, eof);
        if (nf <= 0 || (nrec > 0 && (size_t)nf != ncols))
            break;
        if (nrec == 0)
            ncols = (size_t)nf;
    }
    int votes = 0, odd = 0;
    size_t nv = ncols < VOTE_COLS ? ncols : VOTE_COLS;
    for (size_t c = 0; nrec > 1 && c < nv; c++) {
        votes += column_vote(recs, nrec, c);
        odd |= nrec > 0 && classify(&recs[0][c]) != K_TEXT;
    }
    free(store);
    if (nrec <= 1)
        return 1;
    return votes > 0 || (votes == 0 && !odd);
}

static int ext_kind(const char *filename)
{
    if (!filename)
        return EXT_NONE;
    const char *slash = strrchr(filename, '/');
    const char *base = slash ? slash + 1 : filename;
    const char *dot = strrchr(base, '.');
    if (!dot || dot == base)
        return EXT_NONE;
    static const struct {
        const char *ext;
        int kind;
    } tab[] = {{"csv", EXT_DELIM}, {"txt", EXT_NONE},  {"dat", EXT_NONE},   {"tsv", EXT_TSV},
               {"tab", EXT_TSV},   {"json", EXT_JSON}, {"jsonl", EXT_JSON}, {"ndjson", EXT_JSON}};
    for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
        if (strcasecmp(dot + 1, tab[i].ext) == 0)
            return tab[i].kind;
    return EXT_OTHER;
}

static int binary_magic(const char *b, size_t n)
{
    static const struct {
        const char *m;
        size_t len;
    } tab[] = {{"PK\x03\x04", 4},
               {"\xD0\xCF\x11\xE0", 4},
               {"PAR1", 4},
               {"\x1F\x8B", 2},
               {"%PDF", 4},
               {"\x89PNG", 4},
               {"BZh", 3},
               {"\xFD"
                "7zXZ",
                5},
               {"SQLite format 3", 15},
               {"<?xml", 5},
               {"<html", 5},
               {"<!DOCTYPE", 9}};
    for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
        if (n >= tab[i].len && memcmp(b, tab[i].m, tab[i].len) == 0)
            return 1;
    return 0;
}

static size_t skip_ws(const char *b, size_t n)
{
    size_t i = 0;
    while (i < n && is_ws((unsigned char)b[i]))
        i++;
    return i;
}

static int detect_format(struct tabread *r, const char *b, size_t n, int eof)
{
    if (r->ext == EXT_OTHER)
        return fail(r, -EPROTONOSUPPORT, "unsupported file type: %s", SUPPORTED);
    if (binary_magic(b, n))
        return fail(r, -EPROTONOSUPPORT, "not a text table (a binary or markup file): %s",
                    SUPPORTED);
    size_t i = skip_ws(b, n);
    if (i == n)
        return fail(r, -EINVAL, "empty file");
    int json_like = b[i] == '[' || b[i] == '{';
    if (r->ext == EXT_JSON || (r->ext == EXT_NONE && json_like)) {
        r->fmt = b[i] == '[' ? TABREAD_JSON : TABREAD_JSONL;
        return 0;
    }
    if (r->ext == EXT_TSV)
        r->delim = '\t';
    else
        r->delim = pick_delimiter(b, n, eof);
    r->fmt = r->delim == '\t' ? TABREAD_TSV : TABREAD_CSV;
    int h = pick_header(b, n, eof, r->delim);
    if (h < 0)
        return fail_nomem(r);
    r->has_header = h;
    return 0;
}

static int start_parse(struct tabread *r)
{
    r->line = 1;
    r->row_line = 1;
    if (make_room(r, 1) != 0)
        return r->err;
    if (r->fmt == TABREAD_JSON || r->fmt == TABREAD_JSONL) {
        r->stage = ST_JSON;
        r->has_header = 1;
        r->j.state = J_TOP;
        return 0;
    }
    r->stage = ST_DELIM;
    return 0;
}

static int parse_chunk(struct tabread *r, const unsigned char *p, size_t n)
{
    if (validate(r, p, n) != 0)
        return r->err;
    return r->stage == ST_JSON ? json_chunk(r, p, n) : delim_chunk(r, p, n);
}

/* Detect on the held-back bytes and parse them. */
static int end_sniff(struct tabread *r, int eof)
{
    const char *b = r->sniff ? r->sniff : "";
    size_t n = r->sniff_len;
    if (n >= 3 && memcmp(b, "\xEF\xBB\xBF", 3) == 0) {
        b += 3;
        n -= 3;
    }
    if (detect_format(r, b, n, eof) != 0)
        return r->err;
    if (start_parse(r) != 0)
        return r->err;
    int rc = parse_chunk(r, (const unsigned char *)b, n);
    free(r->sniff);
    r->sniff = NULL;
    r->sniff_len = r->sniff_cap = 0;
    return rc;
}

/* ---- public API ------------------------------------------------------------------------ */

int tabread_new(const struct tabread_opts *o, const struct tabread_cbs *cbs, void *ctx,
                struct tabread **out)
{
    if (!cbs || !out)
        return -EINVAL;
    struct tabread *r = calloc(1, sizeof(*r));
    if (!r)
        return -ENOMEM;
    r->cbs = *cbs;
    r->ctx = ctx;
    r->max_cols = o && o->max_columns ? o->max_columns : TABREAD_MAX_COLUMNS;
    r->max_field = o && o->max_field_bytes ? o->max_field_bytes : TABREAD_MAX_FIELD_BYTES;
    if (r->max_cols > UINT32_MAX / 2)
        r->max_cols = UINT32_MAX / 2;
    if (r->max_field > TABREAD_MAX_ROW_BYTES)
        r->max_field = TABREAD_MAX_ROW_BYTES;
    r->ext = ext_kind(o ? o->filename : NULL);
    r->vline = 1;
    r->stage = ST_SNIFF;
    *out = r;
    return 0;
}

int tabread_push(struct tabread *r, const void *data, size_t len)
{
    if (!r || (!data && len))
        return -EINVAL;
    if (r->err)
        return r->err;
    if (r->stage == ST_DONE)
        return fail(r, -EINVAL, "data after the end of input");
    if (r->stage != ST_SNIFF)
        return parse_chunk(r, data, len);
    size_t take = len;
    if (r->sniff_len + take > TABREAD_SNIFF_BYTES)
        take = TABREAD_SNIFF_BYTES - r->sniff_len;
    if (grow((void **)&r->sniff, &r->sniff_cap, r->sniff_len + take + 1, 1) != 0)
        return fail_nomem(r);
    if (take > 0 && data)
        memcpy(r->sniff + r->sniff_len, data, take);
    r->sniff_len += take;
    if (r->sniff_len < TABREAD_SNIFF_BYTES)
        return 0;
    if (end_sniff(r, 0) != 0)
        return r->err;
    return take < len ? parse_chunk(r, (const unsigned char *)data + take, len - take) : 0;
}

int tabread_finish(struct tabread *r)
{
    if (!r)
        return -EINVAL;
    if (r->err)
        return r->err;
    if (r->stage == ST_SNIFF && end_sniff(r, 1) != 0)
        return r->err;
    if (r->stage == ST_DONE)
        return fail(r, -EINVAL, "finish called twice");
    if (r->u8_need)
        return fail(r, -EINVAL, "invalid UTF-8 at the end of the file (a truncated character)");
    int rc = r->stage == ST_JSON ? json_finish(r) : delim_finish(r);
    if (rc == 0)
        r->stage = ST_DONE;
    return rc;
}

const char *tabread_error(const struct tabread *r)
{
    return r ? r->msg : "";
}

void tabread_free(struct tabread *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->ncols; i++)
        free(r->names[i]);
    free(r->names);
    free(r->sniff);
    free(r->row);
    free(r->alt);
    free(r->f);
    free(r->cells);
    free(r->alt_cells);
    free(r->lines);
    free(r->alt_lines);
    free(r->j.slots);
    free(r);
}

enum tabread_format tabread_format(const struct tabread *r)
{
    return r ? r->fmt : TABREAD_UNKNOWN;
}

char tabread_delimiter(const struct tabread *r)
{
    return r && (r->fmt == TABREAD_CSV || r->fmt == TABREAD_TSV) ? r->delim : 0;
}

int tabread_has_header(const struct tabread *r)
{
    return r ? r->has_header : 0;
}

uint64_t tabread_rows(const struct tabread *r)
{
    return r ? r->rows : 0;
}

size_t tabread_columns(const struct tabread *r)
{
    return r ? r->ncols : 0;
}
