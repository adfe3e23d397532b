/* colf: the IBXC columnar dataset format: a writer that encodes bounded row groups and a
 * reader that validates every byte it uses (see colf.h for the layout). */
#include <ibx/buf.h>
#include <ibx/colf.h>

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAGIC_LEN 4
static const unsigned char MAGIC[MAGIC_LEN] = {'I', 'B', 'X', 'C'};
#define HEADER_LEN    8
#define TRAILER_LEN   12
#define CHUNK_HDR_LEN 8
#define ENC_F64       1
#define ENC_STR       2
#define ENC_DICT      3
#define FMT_SHORTEST  255
#define FMT_MAX_FIXED 17
#define NUM_TEXT_MAX  64 /* longest number text stored as float64 */
#define PARSE_MAX     255
#define NTYPES        6
#define U32_LIMIT     ((size_t)UINT32_MAX)

static const char *const type_names[NTYPES + 1] = {
    NULL, "numerical_integer", "numerical_float", "boolean", "temporal", "categorical", "text",
};

/* ---- CRC32C (slicing by 8) ----------------------------------------------------------- */

static uint32_t crc_tab[8][256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        crc_tab[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++)
            crc_tab[t][i] = (crc_tab[t - 1][i] >> 8) ^ crc_tab[0][crc_tab[t - 1][i] & 0xff];
}

uint32_t colf_crc32c(uint32_t crc, const void *data, size_t len)
{
    const unsigned char *p = data;
    pthread_once(&crc_once, crc_init);
    crc = ~crc;
    while (len >= 8) {
        uint32_t lo = crc ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                             (uint32_t)p[3] << 24);
        crc = crc_tab[7][lo & 0xff] ^ crc_tab[6][(lo >> 8) & 0xff] ^ crc_tab[5][(lo >> 16) & 0xff] ^
              crc_tab[4][lo >> 24] ^ crc_tab[3][p[4]] ^ crc_tab[2][p[5]] ^ crc_tab[1][p[6]] ^
              crc_tab[0][p[7]];
        p += 8;
        len -= 8;
    }
    while (len--)
        crc = (crc >> 8) ^ crc_tab[0][(crc ^ *p++) & 0xff];
    return ~crc;
}

/* ---- little-endian helpers ----------------------------------------------------------- */

static void put_le(unsigned char *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_le(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static int buf_le(struct buf *b, uint64_t v, int n)
{
    unsigned char tmp[8];
    put_le(tmp, v, n);
    return buf_append(b, tmp, (size_t)n);
}

static uint64_t f64_bits(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}

static double bits_f64(uint64_t u)
{
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

/* ---- number text ------------------------------------------------------------------- */

/* Render v as the file's param says into out (NUM_TEXT_MAX bytes); the length or -1. */
static int render_number(double v, int param, char *out)
{
    int n;
    if (param != FMT_SHORTEST) {
        n = snprintf(out, NUM_TEXT_MAX, "%.*f", param, v);
        return n > 0 && n < NUM_TEXT_MAX ? n : -1;
    }
    for (int prec = 15; prec <= 17; prec++) {
        n = snprintf(out, NUM_TEXT_MAX, "%.*g", prec, v);
        if (n <= 0 || n >= NUM_TEXT_MAX)
            return -1;
        if (prec == 17 || strtod(out, NULL) == v)
            return n;
    }
    return -1;
}

/* 1 when s is a decimal number: [+-] digits [. digits] [e [+-] digits], some digit. */
static int decimal_grammar(const char *s, size_t len)
{
    size_t i = 0, digits = 0;
    if (i < len && (s[i] == '+' || s[i] == '-'))
        i++;
    for (; i < len && s[i] >= '0' && s[i] <= '9'; i++)
        digits++;
    if (i < len && s[i] == '.')
        for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++)
            digits++;
    if (digits == 0)
        return 0;
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < len && (s[i] == '+' || s[i] == '-'))
            i++;
        if (i >= len || s[i] < '0' || s[i] > '9')
            return 0;
        while (i < len && s[i] >= '0' && s[i] <= '9')
            i++;
    }
    return i == len;
}

/* Strict parse of a whole value (blanks around allowed) into a finite double. */
static int parse_number(const char *s, size_t len, double *out)
{
    char tmp[PARSE_MAX + 1];
    while (len > 0 && (*s == ' ' || *s == '\t')) {
        s++;
        len--;
    }
    while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        len--;
    if (len == 0 || len > PARSE_MAX || !decimal_grammar(s, len))
        return -EINVAL;
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    double v = strtod(tmp, NULL);
    if (!isfinite(v))
        return -EINVAL;
    *out = v;
    return 0;
}

int colf_parse_number(const char *s, size_t len, double *out)
{
    if (!s || !out)
        return -EINVAL;
    return parse_number(s, len, out);
}

/* Plain integers of up to 15 digits, the common case, without printf: 1 when s is one
 * and renders as itself (no leading zero), 0 when it is one that does not, -1 when s is
 * not a plain integer. */
static int integer_round_trips(const char *s, size_t len, double *v)
{
    size_t i = len > 0 && s[0] == '-';
    int64_t n = 0;
    if (len - i == 0 || len - i > 15)
        return -1;
    for (size_t k = i; k < len; k++) {
        if (s[k] < '0' || s[k] > '9')
            return -1;
        n = n * 10 + (s[k] - '0');
    }
    if (len - i > 1 && s[i] == '0')
        return 0;
    *v = i ? -(double)n : (double)n;
    return 1;
}

/* 1 when the text s reads as a number v whose rendering under param is s exactly. */
static int round_trips(const char *s, size_t len, int param, double *v)
{
    char tmp[NUM_TEXT_MAX];
    int fast = param == FMT_SHORTEST || param == 0 ? integer_round_trips(s, len, v) : -1;
    if (fast >= 0)
        return fast;
    if (len == 0 || len >= NUM_TEXT_MAX || parse_number(s, len, v) != 0)
        return 0;
    int n = render_number(*v, param, tmp);
    return n == (int)len && memcmp(tmp, s, len) == 0;
}

/* Digits after the '.' of a plain decimal (no exponent), or -1. */
static int fixed_decimals(const char *s, size_t len)
{
    const char *dot = memchr(s, '.', len);
    if (memchr(s, 'e', len) || memchr(s, 'E', len))
        return -1;
    if (!dot)
        return 0;
    size_t d = len - (size_t)(dot - s) - 1;
    return d <= FMT_MAX_FIXED ? (int)d : -1;
}

/* ---- writer ------------------------------------------------------------------------ */

struct wcol {
    char *name;
    struct buf cells;     /* this group's values, back to back */
    uint32_t *ends;       /* end of row i's value in cells */
    unsigned char *valid; /* bitmap */
    size_t cap;           /* rows allocated */
};

struct chunk_ref {
    uint64_t off;
    uint32_t len;
    uint32_t crc;
};

struct wgroup {
    uint32_t rows;
    size_t ncols; /* columns that existed when the group was written */
    struct chunk_ref *refs;
};

struct colf_writer {
    colf_sink_fn sink;
    void *ctx;
    int err;
    int finished;
    uint64_t off; /* bytes sent so far */
    struct wcol *cols;
    size_t ncols, cols_cap;
    size_t group_rows, rows, group_bytes;
    uint64_t nrows;
    struct wgroup *groups;
    size_t ngroups, groups_cap;
    struct buf chunk;   /* scratch: one encoded chunk */
    double *values;     /* scratch: the group's numbers */
    uint32_t *codes;    /* scratch: dictionary codes */
    uint32_t *slots;    /* scratch: dictionary hash table (row + 1, 0 empty) */
    uint32_t *dict_row; /* scratch: first row of each dictionary entry */
};

static int send(struct colf_writer *w, const void *data, size_t len)
{
    if (len == 0)
        return 0;
    int rc = w->sink(w->ctx, data, len);
    if (rc < 0)
        return rc;
    w->off += len;
    return 0;
}

static int send_header(struct colf_writer *w)
{
    unsigned char h[HEADER_LEN];
    if (w->off != 0)
        return 0;
    memcpy(h, MAGIC, MAGIC_LEN);
    put_le(h + 4, COLF_VERSION, 2);
    put_le(h + 6, 0, 2);
    return send(w, h, sizeof h);
}

int colf_writer_new(colf_sink_fn sink, void *ctx, struct colf_writer **out)
{
    if (!sink || !out)
        return -EINVAL;
    struct colf_writer *w = calloc(1, sizeof *w);
    if (!w)
        return -ENOMEM;
    w->sink = sink;
    w->ctx = ctx;
    w->group_rows = COLF_GROUP_ROWS;
    buf_init(&w->chunk, U32_LIMIT);
    *out = w;
    return 0;
}

int colf_writer_set_group_rows(struct colf_writer *w, size_t rows)
{
    if (!w || rows == 0 || rows > COLF_GROUP_ROWS || w->nrows > 0 || w->rows > 0)
        return -EINVAL;
    w->group_rows = rows;
    return 0;
}

/* Make room for `need` rows in column c; new rows are missing. */
static int wcol_reserve(struct wcol *c, size_t need)
{
    if (need <= c->cap)
        return 0;
    size_t cap = c->cap ? c->cap : 64;
    while (cap < need)
        cap *= 2;
    uint32_t *ends = realloc(c->ends, cap * sizeof *ends);
    if (!ends)
        return -ENOMEM;
    c->ends = ends;
    unsigned char *valid = realloc(c->valid, (cap + 7) / 8);
    if (!valid)
        return -ENOMEM;
    memset(valid + (c->cap + 7) / 8, 0, (cap + 7) / 8 - (c->cap + 7) / 8);
    c->valid = valid;
    c->cap = cap;
    return 0;
}

static int writer_check(const struct colf_writer *w)
{
    if (!w)
        return -EINVAL;
    if (w->err)
        return w->err;
    return w->finished ? -EINVAL : 0;
}

int colf_writer_add_column(struct colf_writer *w, const char *name)
{
    int rc = writer_check(w);
    if (rc)
        return rc;
    if (!name || strlen(name) > COLF_NAME_MAX)
        return -EINVAL;
    if (w->ncols >= COLF_MAX_COLS)
        return -EMSGSIZE;
    if (w->ncols == w->cols_cap) {
        size_t cap = w->cols_cap ? w->cols_cap * 2 : 16;
        struct wcol *tmp = realloc(w->cols, cap * sizeof *tmp);
        if (!tmp)
            return -ENOMEM;
        w->cols = tmp;
        w->cols_cap = cap;
    }
    struct wcol *c = &w->cols[w->ncols];
    memset(c, 0, sizeof *c);
    buf_init(&c->cells, U32_LIMIT);
    c->name = strdup(name);
    if (!c->name || wcol_reserve(c, w->rows) != 0) {
        free(c->name);
        free(c->ends);
        free(c->valid);
        return -ENOMEM;
    }
    for (size_t i = 0; i < w->rows; i++)
        c->ends[i] = 0;
    w->ncols++;
    return 0;
}

/* ---- chunk encoding ---- */

static int chunk_header(struct buf *b, int enc, int param, size_t n, const unsigned char *valid)
{
    int rc = buf_le(b, (uint64_t)enc | (uint64_t)param << 8, 4);
    if (rc == 0)
        rc = buf_le(b, n, 4);
    if (rc == 0)
        rc = buf_append(b, valid, (n + 7) / 8);
    return rc;
}

static void cell_at(const struct wcol *c, size_t i, const char **s, size_t *len)
{
    size_t start = i ? c->ends[i - 1] : 0;
    *s = c->cells.data ? c->cells.data + start : "";
    *len = c->ends[i] - start;
}

static int is_valid(const unsigned char *bm, size_t i)
{
    return (bm[i / 8] >> (i % 8)) & 1;
}

/* Try every present value under param; fills w->values. 1 when all round-trip. */
static int try_numbers(struct colf_writer *w, const struct wcol *c, size_t n, int param,
                       size_t *failed)
{
    for (size_t i = 0; i < n; i++) {
        const char *s;
        size_t len;
        w->values[i] = 0.0;
        if (!is_valid(c->valid, i))
            continue;
        cell_at(c, i, &s, &len);
        if (!round_trips(s, len, param, &w->values[i])) {
            *failed = i;
            return 0;
        }
    }
    return 1;
}

/* The float64 param that reproduces every value of c, or -1 (strings). */
static int numeric_param(struct colf_writer *w, const struct wcol *c, size_t n)
{
    size_t failed = 0;
    if (try_numbers(w, c, n, FMT_SHORTEST, &failed))
        return FMT_SHORTEST;
    const char *s;
    size_t len;
    cell_at(c, failed, &s, &len);
    int d = fixed_decimals(s, len);
    if (d >= 0 && try_numbers(w, c, n, d, &failed))
        return d;
    return -1;
}

static int encode_f64(struct colf_writer *w, const struct wcol *c, size_t n, int param)
{
    int rc = chunk_header(&w->chunk, ENC_F64, param, n, c->valid);
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = buf_le(&w->chunk, f64_bits(w->values[i]), 8);
    return rc;
}

static int encode_plain(struct colf_writer *w, const struct wcol *c, size_t n)
{
    int rc = chunk_header(&w->chunk, ENC_STR, 0, n, c->valid);
    if (rc == 0)
        rc = buf_le(&w->chunk, 0, 4);
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = buf_le(&w->chunk, c->ends[i], 4);
    if (rc == 0 && c->cells.len > 0)
        rc = buf_append(&w->chunk, c->cells.data, c->cells.len);
    return rc;
}

static uint32_t hash_bytes(const char *s, size_t len)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

/* Look up / insert row i's value in the table (mask + 1 slots); its code. */
static uint32_t dict_code(struct colf_writer *w, const struct wcol *c, size_t i, size_t mask,
                          uint32_t *ndict)
{
    const char *s, *t;
    size_t len, tlen;
    cell_at(c, i, &s, &len);
    size_t h = hash_bytes(s, len) & mask;
    while (w->slots[h] != 0) {
        uint32_t code = w->slots[h] - 1;
        cell_at(c, w->dict_row[code], &t, &tlen);
        if (tlen == len && memcmp(s, t, len) == 0)
            return code;
        h = (h + 1) & mask;
    }
    w->dict_row[*ndict] = (uint32_t)i;
    w->slots[h] = ++*ndict;
    return *ndict - 1;
}

/* Build codes and dictionary for c; *ndict and the dictionary's byte count. */
static void dict_build(struct colf_writer *w, const struct wcol *c, size_t n, size_t mask,
                       uint32_t *ndict, size_t *dict_bytes)
{
    memset(w->slots, 0, (mask + 1) * sizeof *w->slots);
    *ndict = 0;
    *dict_bytes = 0;
    for (size_t i = 0; i < n; i++) {
        w->codes[i] = 0;
        if (!is_valid(c->valid, i))
            continue;
        uint32_t before = *ndict;
        w->codes[i] = dict_code(w, c, i, mask, ndict);
        if (*ndict != before) {
            const char *s;
            size_t len;
            cell_at(c, i, &s, &len);
            *dict_bytes += len;
        }
    }
}

static int encode_dict(struct colf_writer *w, const struct wcol *c, size_t n, uint32_t ndict,
                       int width)
{
    int rc = chunk_header(&w->chunk, ENC_DICT, width, n, c->valid);
    uint32_t end = 0;
    if (rc == 0)
        rc = buf_le(&w->chunk, ndict, 4);
    if (rc == 0)
        rc = buf_le(&w->chunk, 0, 4);
    for (uint32_t k = 0; rc == 0 && k < ndict; k++) {
        const char *s;
        size_t len;
        cell_at(c, w->dict_row[k], &s, &len);
        end += (uint32_t)len;
        rc = buf_le(&w->chunk, end, 4);
    }
    for (uint32_t k = 0; rc == 0 && k < ndict; k++) {
        const char *s;
        size_t len;
        cell_at(c, w->dict_row[k], &s, &len);
        rc = buf_append(&w->chunk, s, len);
    }
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = buf_le(&w->chunk, w->codes[i], width);
    return rc;
}

static int encode_strings(struct colf_writer *w, const struct wcol *c, size_t n)
{
    size_t mask = 1;
    while (mask < 2 * n)
        mask <<= 1;
    uint32_t *slots = realloc(w->slots, mask * sizeof *slots);
    if (!slots)
        return -ENOMEM;
    w->slots = slots;
    uint32_t ndict;
    size_t dict_bytes;
    dict_build(w, c, n, mask - 1, &ndict, &dict_bytes);
    int width = ndict <= 0x100 ? 1 : ndict <= 0x10000 ? 2 : 4;
    size_t plain = 4 * (n + 1) + c->cells.len;
    size_t dict = 4 + 4 * ((size_t)ndict + 1) + dict_bytes + (size_t)width * n;
    if (dict < plain)
        return encode_dict(w, c, n, ndict, width);
    return encode_plain(w, c, n);
}

/* Encode column c of the current group into w->chunk (empty when it has no value). */
static int encode_chunk(struct colf_writer *w, const struct wcol *c, size_t n)
{
    size_t present = 0;
    buf_reset(&w->chunk);
    for (size_t i = 0; i < (n + 7) / 8; i++)
        present += c->valid[i] != 0;
    if (present == 0)
        return 0;
    int param = numeric_param(w, c, n);
    if (param >= 0)
        return encode_f64(w, c, n, param);
    return encode_strings(w, c, n);
}

static int scratch_reserve(struct colf_writer *w, size_t n)
{
    double *v = realloc(w->values, n * sizeof *v);
    if (!v)
        return -ENOMEM;
    w->values = v;
    uint32_t *codes = realloc(w->codes, n * sizeof *codes);
    if (!codes)
        return -ENOMEM;
    w->codes = codes;
    uint32_t *rows = realloc(w->dict_row, n * sizeof *rows);
    if (!rows)
        return -ENOMEM;
    w->dict_row = rows;
    return 0;
}

static int group_push(struct colf_writer *w)
{
    if (w->ngroups == w->groups_cap) {
        size_t cap = w->groups_cap ? w->groups_cap * 2 : 8;
        struct wgroup *tmp = realloc(w->groups, cap * sizeof *tmp);
        if (!tmp)
            return -ENOMEM;
        w->groups = tmp;
        w->groups_cap = cap;
    }
    struct wgroup *g = &w->groups[w->ngroups];
    g->rows = (uint32_t)w->rows;
    g->ncols = w->ncols;
    g->refs = calloc(w->ncols ? w->ncols : 1, sizeof *g->refs);
    if (!g->refs)
        return -ENOMEM;
    w->ngroups++;
    return 0;
}

static void wcol_clear(struct wcol *c, size_t n)
{
    buf_reset(&c->cells);
    memset(c->valid, 0, (n + 7) / 8);
}

/* Encode and send the buffered rows as one group. */
/* Encode and send every column of the current group (the last in w->groups). */
static int send_chunks(struct colf_writer *w, size_t n)
{
    struct wgroup *g = &w->groups[w->ngroups - 1];
    for (size_t j = 0; j < w->ncols; j++) {
        int rc = encode_chunk(w, &w->cols[j], n);
        if (rc)
            return rc;
        if (w->chunk.len == 0)
            continue;
        g->refs[j].off = w->off;
        g->refs[j].len = (uint32_t)w->chunk.len;
        g->refs[j].crc = colf_crc32c(0, w->chunk.data, w->chunk.len);
        rc = send(w, w->chunk.data, w->chunk.len);
        if (rc)
            return rc;
    }
    return 0;
}

/* Encode and send the buffered rows as one group. */
static int flush_group(struct colf_writer *w)
{
    size_t n = w->rows;
    if (n == 0)
        return 0;
    int rc = send_header(w);
    if (rc == 0)
        rc = scratch_reserve(w, n);
    if (rc == 0)
        rc = group_push(w);
    if (rc == 0)
        rc = send_chunks(w, n);
    for (size_t j = 0; j < w->ncols; j++)
        wcol_clear(&w->cols[j], n);
    w->nrows += n;
    w->rows = 0;
    w->group_bytes = 0;
    return rc;
}

static int add_cell(struct colf_writer *w, struct wcol *c, const struct colf_cell *cell)
{
    size_t i = w->rows;
    int rc = wcol_reserve(c, i + 1);
    if (rc)
        return rc;
    if (cell && cell->s) {
        rc = buf_append(&c->cells, cell->s, cell->len);
        if (rc)
            return rc;
        c->valid[i / 8] |= (unsigned char)(1u << (i % 8));
        w->group_bytes += cell->len;
    }
    c->ends[i] = (uint32_t)c->cells.len;
    w->group_bytes += 5;
    return 0;
}

int colf_writer_row(struct colf_writer *w, const struct colf_cell *cells, size_t ncells)
{
    int rc = writer_check(w);
    if (rc)
        return rc;
    if (ncells > w->ncols || (ncells > 0 && !cells))
        return -EINVAL;
    for (size_t j = 0; rc == 0 && j < w->ncols; j++)
        rc = add_cell(w, &w->cols[j], j < ncells ? &cells[j] : NULL);
    if (rc == 0) {
        w->rows++;
        if (w->rows >= w->group_rows || w->group_bytes >= COLF_GROUP_BYTES)
            rc = flush_group(w);
    }
    if (rc)
        w->err = rc;
    return rc;
}

static int type_code(const char *name)
{
    for (int t = 1; t <= NTYPES; t++)
        if (strcmp(name, type_names[t]) == 0)
            return t;
    return -1;
}

static int footer_columns(const struct colf_writer *w, const char *const *types, struct buf *f)
{
    int rc = buf_le(f, w->ncols, 4);
    if (rc == 0)
        rc = buf_le(f, w->ngroups, 4);
    if (rc == 0)
        rc = buf_le(f, w->nrows, 8);
    for (size_t j = 0; rc == 0 && j < w->ncols; j++) {
        int t = types ? (types[j] ? type_code(types[j]) : -1) : NTYPES;
        size_t len = strlen(w->cols[j].name);
        if (t < 0)
            return -EINVAL;
        rc = buf_le(f, len, 2);
        if (rc == 0)
            rc = buf_append(f, w->cols[j].name, len);
        if (rc == 0)
            rc = buf_le(f, (uint64_t)t, 1);
    }
    return rc;
}

static int footer_groups(const struct colf_writer *w, struct buf *f)
{
    int rc = 0;
    for (size_t g = 0; rc == 0 && g < w->ngroups; g++) {
        const struct wgroup *grp = &w->groups[g];
        rc = buf_le(f, grp->rows, 4);
        for (size_t j = 0; rc == 0 && j < w->ncols; j++) {
            struct chunk_ref ref = {0, 0, 0};
            if (j < grp->ncols)
                ref = grp->refs[j];
            rc = buf_le(f, ref.off, 8);
            if (rc == 0)
                rc = buf_le(f, ref.len, 4);
            if (rc == 0)
                rc = buf_le(f, ref.crc, 4);
        }
    }
    return rc;
}

static int write_footer(struct colf_writer *w, const char *const *types)
{
    struct buf f;
    unsigned char trailer[TRAILER_LEN];
    buf_init(&f, U32_LIMIT);
    int rc = footer_columns(w, types, &f);
    if (rc == 0)
        rc = footer_groups(w, &f);
    if (rc == 0 && f.len > 0)
        rc = send(w, f.data, f.len);
    if (rc == 0) {
        put_le(trailer, f.len, 4);
        put_le(trailer + 4, colf_crc32c(0, f.data, f.len), 4);
        memcpy(trailer + 8, MAGIC, MAGIC_LEN);
        rc = send(w, trailer, sizeof trailer);
    }
    buf_release(&f);
    return rc;
}

int colf_writer_finish(struct colf_writer *w, const char *const *types)
{
    int rc = writer_check(w);
    if (rc)
        return rc;
    for (size_t j = 0; types && j < w->ncols; j++)
        if (!types[j] || type_code(types[j]) < 0)
            return -EINVAL;
    rc = flush_group(w);
    if (rc == 0)
        rc = send_header(w);
    if (rc == 0)
        rc = write_footer(w, types);
    if (rc)
        w->err = rc;
    else
        w->finished = 1;
    return rc;
}

void colf_writer_free(struct colf_writer *w)
{
    if (!w)
        return;
    for (size_t j = 0; j < w->ncols; j++) {
        free(w->cols[j].name);
        buf_release(&w->cols[j].cells);
        free(w->cols[j].ends);
        free(w->cols[j].valid);
    }
    for (size_t g = 0; g < w->ngroups; g++)
        free(w->groups[g].refs);
    free(w->cols);
    free(w->groups);
    buf_release(&w->chunk);
    free(w->values);
    free(w->codes);
    free(w->slots);
    free(w->dict_row);
    free(w);
}

/* ---- reader ------------------------------------------------------------------------ */

struct rgroup {
    uint64_t first; /* first row */
    uint32_t rows;
};

struct mem_src {
    const unsigned char *data;
    size_t len;
};

struct colf_reader {
    colf_read_fn read;
    void *ctx;
    struct mem_src mem;
    uint64_t size;
    size_t ncols;
    char **names;
    unsigned char *types;
    uint64_t nrows;
    size_t ngroups;
    struct rgroup *groups;
    struct chunk_ref *refs; /* ngroups x ncols */
    unsigned char *scratch; /* one chunk */
    size_t scratch_cap;
};

/* A validated chunk: pointers into the reader's scratch. */
struct chunk_view {
    int enc, param;
    size_t n;
    const unsigned char *valid;
    const unsigned char *body;  /* f64 values, string offsets or dictionary offsets */
    const unsigned char *bytes; /* string or dictionary bytes */
    const unsigned char *codes; /* dictionary codes */
    uint32_t ndict;
};

static int mem_read(void *ctx, uint64_t off, void *dst, size_t len, size_t *nread)
{
    const struct mem_src *m = ctx;
    size_t k = 0;
    if (off < m->len)
        k = m->len - (size_t)off < len ? m->len - (size_t)off : len;
    if (k > 0)
        memcpy(dst, m->data + off, k);
    *nread = k;
    return 0;
}

static int read_full(struct colf_reader *r, uint64_t off, void *dst, size_t len)
{
    unsigned char *p = dst;
    while (len > 0) {
        size_t got = 0;
        int rc = r->read(r->ctx, off, p, len, &got);
        if (rc < 0)
            return rc;
        if (got == 0 || got > len)
            return -EIO;
        p += got;
        off += got;
        len -= got;
    }
    return 0;
}

struct cursor {
    const unsigned char *p;
    size_t len, pos;
};

static int cur_take(struct cursor *c, size_t n, const unsigned char **out)
{
    if (c->len - c->pos < n)
        return -EIO;
    *out = c->p + c->pos;
    c->pos += n;
    return 0;
}

static int cur_le(struct cursor *c, int n, uint64_t *v)
{
    const unsigned char *p;
    if (cur_take(c, (size_t)n, &p))
        return -EIO;
    *v = get_le(p, n);
    return 0;
}

static int parse_columns(struct colf_reader *r, struct cursor *c)
{
    r->names = calloc(r->ncols ? r->ncols : 1, sizeof *r->names);
    r->types = calloc(r->ncols ? r->ncols : 1, 1);
    if (!r->names || !r->types)
        return -ENOMEM;
    for (size_t j = 0; j < r->ncols; j++) {
        uint64_t len, t;
        const unsigned char *p;
        if (cur_le(c, 2, &len) || cur_take(c, len, &p) || cur_le(c, 1, &t))
            return -EIO;
        if (t < 1 || t > NTYPES)
            return -EIO;
        r->types[j] = (unsigned char)t;
        r->names[j] = malloc(len + 1);
        if (!r->names[j])
            return -ENOMEM;
        memcpy(r->names[j], p, len);
        r->names[j][len] = '\0';
    }
    return 0;
}

/* One chunk reference: empty, or inside the data region with room for a header. */
static int check_ref(const struct chunk_ref *ref, uint64_t data_end)
{
    if (ref->len == 0)
        return ref->off == 0 && ref->crc == 0 ? 0 : -EIO;
    if (ref->off < HEADER_LEN || ref->off > data_end || data_end - ref->off < ref->len)
        return -EIO;
    return ref->len >= CHUNK_HDR_LEN ? 0 : -EIO;
}

static int parse_groups(struct colf_reader *r, struct cursor *c, uint64_t data_end)
{
    size_t per = 4 + 16 * r->ncols;
    if (r->ngroups > (c->len - c->pos) / per)
        return -EIO;
    r->groups = calloc(r->ngroups ? r->ngroups : 1, sizeof *r->groups);
    size_t nrefs = r->ngroups * r->ncols;
    r->refs = calloc(nrefs ? nrefs : 1, sizeof *r->refs);
    if (!r->groups || !r->refs)
        return -ENOMEM;
    uint64_t first = 0;
    for (size_t g = 0; g < r->ngroups; g++) {
        uint64_t rows, off, len, crc;
        if (cur_le(c, 4, &rows) || rows == 0 || rows > r->nrows - first)
            return -EIO;
        r->groups[g].first = first;
        r->groups[g].rows = (uint32_t)rows;
        first += rows;
        for (size_t j = 0; j < r->ncols; j++) {
            struct chunk_ref *ref = &r->refs[g * r->ncols + j];
            if (cur_le(c, 8, &off) || cur_le(c, 4, &len) || cur_le(c, 4, &crc))
                return -EIO;
            *ref = (struct chunk_ref){off, (uint32_t)len, (uint32_t)crc};
            if (check_ref(ref, data_end))
                return -EIO;
        }
    }
    return first == r->nrows ? 0 : -EIO;
}

static int parse_footer(struct colf_reader *r, const unsigned char *f, size_t len,
                        uint64_t data_end)
{
    struct cursor c = {f, len, 0};
    uint64_t ncols, ngroups;
    if (cur_le(&c, 4, &ncols) || cur_le(&c, 4, &ngroups) || cur_le(&c, 8, &r->nrows))
        return -EIO;
    if (ncols > COLF_MAX_COLS || ncols > len / 3)
        return -EIO;
    r->ncols = (size_t)ncols;
    r->ngroups = (size_t)ngroups;
    int rc = parse_columns(r, &c);
    if (rc == 0)
        rc = parse_groups(r, &c, data_end);
    if (rc == 0 && c.pos != c.len)
        rc = -EIO;
    return rc;
}

static int read_footer(struct colf_reader *r)
{
    unsigned char head[HEADER_LEN], tail[TRAILER_LEN];
    if (r->size < HEADER_LEN + TRAILER_LEN + 16)
        return -EIO;
    int rc = read_full(r, 0, head, sizeof head);
    if (rc == 0)
        rc = read_full(r, r->size - TRAILER_LEN, tail, sizeof tail);
    if (rc)
        return rc;
    if (memcmp(head, MAGIC, MAGIC_LEN) != 0 || get_le(head + 4, 2) != COLF_VERSION ||
        get_le(head + 6, 2) != 0 || memcmp(tail + 8, MAGIC, MAGIC_LEN) != 0)
        return -EIO;
    uint64_t flen = get_le(tail, 4);
    if (flen < 16 || flen > r->size - HEADER_LEN - TRAILER_LEN)
        return -EIO;
    unsigned char *f = malloc((size_t)flen);
    if (!f)
        return -ENOMEM;
    uint64_t data_end = r->size - TRAILER_LEN - flen;
    rc = read_full(r, data_end, f, (size_t)flen);
    if (rc == 0 && colf_crc32c(0, f, (size_t)flen) != (uint32_t)get_le(tail + 4, 4))
        rc = -EIO;
    if (rc == 0)
        rc = parse_footer(r, f, (size_t)flen, data_end);
    free(f);
    return rc;
}

int colf_reader_open(colf_read_fn read, void *ctx, uint64_t size, struct colf_reader **out)
{
    if (!read || !out)
        return -EINVAL;
    struct colf_reader *r = calloc(1, sizeof *r);
    if (!r)
        return -ENOMEM;
    r->read = read;
    r->ctx = ctx;
    r->size = size;
    int rc = read_footer(r);
    if (rc) {
        colf_reader_free(r);
        return rc;
    }
    *out = r;
    return 0;
}

int colf_reader_open_mem(const void *data, size_t len, struct colf_reader **out)
{
    if ((!data && len) || !out)
        return -EINVAL;
    struct colf_reader *r = calloc(1, sizeof *r);
    if (!r)
        return -ENOMEM;
    r->mem.data = data;
    r->mem.len = len;
    r->read = mem_read;
    r->ctx = &r->mem;
    r->size = len;
    int rc = read_footer(r);
    if (rc) {
        colf_reader_free(r);
        return rc;
    }
    *out = r;
    return 0;
}

void colf_reader_free(struct colf_reader *r)
{
    if (!r)
        return;
    for (size_t j = 0; r->names && j < r->ncols; j++)
        free(r->names[j]);
    free(r->names);
    free(r->types);
    free(r->groups);
    free(r->refs);
    free(r->scratch);
    free(r);
}

size_t colf_ncols(const struct colf_reader *r)
{
    return r ? r->ncols : 0;
}

uint64_t colf_nrows(const struct colf_reader *r)
{
    return r ? r->nrows : 0;
}

const char *colf_name(const struct colf_reader *r, size_t i)
{
    return r && i < r->ncols ? r->names[i] : NULL;
}

const char *colf_type(const struct colf_reader *r, size_t i)
{
    return r && i < r->ncols ? type_names[r->types[i]] : NULL;
}

int colf_find(const struct colf_reader *r, const char *name)
{
    for (size_t j = 0; r && name && j < r->ncols; j++)
        if (strcmp(r->names[j], name) == 0)
            return (int)j;
    return -ENOENT;
}

/* ---- chunk validation ---- */

/* Offsets table of count + 1 entries: starts at 0, never decreases, ends at total. */
static int check_offsets(const unsigned char *offs, size_t count, size_t total)
{
    uint32_t prev = 0;
    if (get_le(offs, 4) != 0)
        return -EIO;
    for (size_t i = 1; i <= count; i++) {
        uint32_t o = (uint32_t)get_le(offs + 4 * i, 4);
        if (o < prev)
            return -EIO;
        prev = o;
    }
    return prev == total ? 0 : -EIO;
}

/* Bitmap: padding bits zero and at least one value. */
static int check_bitmap(const unsigned char *bm, size_t n)
{
    size_t nb = (n + 7) / 8, any = 0;
    for (size_t i = 0; i < nb; i++)
        any |= bm[i];
    if (n % 8 && (bm[nb - 1] >> (n % 8)))
        return -EIO;
    return any ? 0 : -EIO;
}

static int check_strings(struct chunk_view *v, struct cursor *c)
{
    const unsigned char *p;
    if (v->param != 0 || v->n > (c->len - c->pos) / 4 || cur_take(c, 4 * (v->n + 1), &v->body))
        return -EIO;
    size_t total = c->len - c->pos;
    if (check_offsets(v->body, v->n, total) || cur_take(c, total, &p))
        return -EIO;
    v->bytes = p;
    for (size_t i = 0; i < v->n; i++) {
        if (is_valid(v->valid, i))
            continue;
        if (get_le(v->body + 4 * i, 4) != get_le(v->body + 4 * (i + 1), 4))
            return -EIO;
    }
    return 0;
}

static int check_codes(const struct chunk_view *v)
{
    for (size_t i = 0; i < v->n; i++) {
        uint64_t code = get_le(v->codes + (size_t)v->param * i, v->param);
        if (is_valid(v->valid, i) ? code >= v->ndict : code != 0)
            return -EIO;
    }
    return 0;
}

static int check_dict(struct chunk_view *v, struct cursor *c)
{
    uint64_t ndict;
    if (v->param != 1 && v->param != 2 && v->param != 4)
        return -EIO;
    if (cur_le(c, 4, &ndict) || ndict == 0 || ndict > v->n ||
        cur_take(c, 4 * ((size_t)ndict + 1), &v->body))
        return -EIO;
    v->ndict = (uint32_t)ndict;
    size_t codes = (size_t)v->param * v->n;
    if (c->len - c->pos < codes)
        return -EIO;
    size_t total = c->len - c->pos - codes;
    if (check_offsets(v->body, v->ndict, total) || cur_take(c, total, &v->bytes) ||
        cur_take(c, codes, &v->codes))
        return -EIO;
    return check_codes(v);
}

static int check_chunk(struct chunk_view *v, const unsigned char *p, size_t len, size_t rows)
{
    struct cursor c = {p, len, 0};
    uint64_t head, n;
    if (cur_le(&c, 4, &head) || cur_le(&c, 4, &n) || n != rows || (head >> 16) != 0)
        return -EIO;
    v->enc = (int)(head & 0xff);
    v->param = (int)((head >> 8) & 0xff);
    v->n = rows;
    if (cur_take(&c, (rows + 7) / 8, &v->valid) || check_bitmap(v->valid, rows))
        return -EIO;
    if (v->enc == ENC_F64) {
        if (v->param != FMT_SHORTEST && v->param > FMT_MAX_FIXED)
            return -EIO;
        if (c.len - c.pos != 8 * rows)
            return -EIO;
        v->body = p + c.pos;
        return 0;
    }
    if (v->enc == ENC_STR)
        return check_strings(v, &c);
    if (v->enc == ENC_DICT)
        return check_dict(v, &c);
    return -EIO;
}

/* Read and validate chunk (g, col); v->n == 0 for a column with no value in g. */
static int load_chunk(struct colf_reader *r, size_t g, size_t col, struct chunk_view *v)
{
    const struct chunk_ref *ref = &r->refs[g * r->ncols + col];
    memset(v, 0, sizeof *v);
    if (ref->len == 0)
        return 0;
    if (ref->len > r->scratch_cap) {
        unsigned char *tmp = realloc(r->scratch, ref->len);
        if (!tmp)
            return -ENOMEM;
        r->scratch = tmp;
        r->scratch_cap = ref->len;
    }
    int rc = read_full(r, ref->off, r->scratch, ref->len);
    if (rc)
        return rc;
    if (colf_crc32c(0, r->scratch, ref->len) != ref->crc)
        return -EIO;
    return check_chunk(v, r->scratch, ref->len, r->groups[g].rows);
}

/* Row i's string in a string or dictionary chunk. */
static void view_str(const struct chunk_view *v, size_t i, const char **s, size_t *len)
{
    size_t k = i;
    if (v->enc == ENC_DICT)
        k = (size_t)get_le(v->codes + (size_t)v->param * i, v->param);
    size_t a = (size_t)get_le(v->body + 4 * k, 4), b = (size_t)get_le(v->body + 4 * k + 4, 4);
    *s = (const char *)v->bytes + a;
    *len = b - a;
}

/* ---- range reads ---- */

typedef int (*emit_fn)(void *ctx, const struct chunk_view *v, size_t row, size_t out_i);

static size_t group_of(const struct colf_reader *r, uint64_t row)
{
    size_t lo = 0, hi = r->ngroups;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (r->groups[mid].first <= row)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

/* Call emit for every row of [first, first + n): v->n == 0 means a missing value. */
static int for_range(struct colf_reader *r, size_t col, uint64_t first, size_t n, emit_fn emit,
                     void *ctx)
{
    if (!r || col >= r->ncols || first > r->nrows || n > r->nrows - first)
        return -EINVAL;
    size_t done = 0;
    for (size_t g = n ? group_of(r, first) : r->ngroups; done < n && g < r->ngroups; g++) {
        struct chunk_view v;
        int rc = load_chunk(r, g, col, &v);
        if (rc)
            return rc;
        size_t start = (size_t)(first + done - r->groups[g].first);
        for (size_t i = start; i < r->groups[g].rows && done < n; i++, done++) {
            rc = emit(ctx, &v, i, done);
            if (rc)
                return rc;
        }
    }
    return 0;
}

struct f64_out {
    double *dst;
    size_t unparsed;
};

static int emit_f64(void *ctx, const struct chunk_view *v, size_t row, size_t out_i)
{
    struct f64_out *o = ctx;
    const char *s;
    size_t len;
    if (v->n == 0 || !is_valid(v->valid, row)) {
        o->dst[out_i] = NAN;
        return 0;
    }
    if (v->enc == ENC_F64) {
        o->dst[out_i] = bits_f64(get_le(v->body + 8 * row, 8));
        return 0;
    }
    view_str(v, row, &s, &len);
    if (parse_number(s, len, &o->dst[out_i]) != 0) {
        o->dst[out_i] = NAN;
        o->unparsed++;
    }
    return 0;
}

int colf_read_f64(struct colf_reader *r, size_t col, uint64_t first, size_t n, double *dst,
                  size_t *unparsed)
{
    struct f64_out o = {dst, 0};
    if (n > 0 && !dst)
        return -EINVAL;
    int rc = for_range(r, col, first, n, emit_f64, &o);
    if (rc == 0 && unparsed)
        *unparsed = o.unparsed;
    return rc;
}

struct strs_out {
    struct buf bytes;
    size_t *offs; /* SIZE_MAX: missing */
    size_t *len;
};

static int emit_str(void *ctx, const struct chunk_view *v, size_t row, size_t out_i)
{
    struct strs_out *o = ctx;
    char tmp[NUM_TEXT_MAX];
    const char *s = tmp;
    size_t len;
    o->offs[out_i] = SIZE_MAX;
    o->len[out_i] = 0;
    if (v->n == 0 || !is_valid(v->valid, row))
        return 0;
    if (v->enc == ENC_F64) {
        int k = render_number(bits_f64(get_le(v->body + 8 * row, 8)), v->param, tmp);
        if (k < 0)
            return -EIO;
        len = (size_t)k;
    } else {
        view_str(v, row, &s, &len);
    }
    o->offs[out_i] = o->bytes.len;
    o->len[out_i] = len;
    int rc = buf_append(&o->bytes, s, len);
    return rc == 0 ? buf_append(&o->bytes, "", 1) : rc;
}

static void strs_out_release(struct strs_out *o)
{
    buf_release(&o->bytes);
    free(o->offs);
    free(o->len);
}

int colf_read_strs(struct colf_reader *r, size_t col, uint64_t first, size_t n,
                   struct colf_strs *out)
{
    struct strs_out o = {.offs = NULL, .len = NULL};
    if (!out || n > SIZE_MAX / sizeof(size_t))
        return -EINVAL;
    buf_init(&o.bytes, SIZE_MAX - 1);
    o.offs = malloc((n ? n : 1) * sizeof *o.offs);
    o.len = malloc((n ? n : 1) * sizeof *o.len);
    const char **s = malloc((n ? n : 1) * sizeof *s);
    int rc = o.offs && o.len && s ? for_range(r, col, first, n, emit_str, &o) : -ENOMEM;
    char *bytes = rc == 0 ? buf_steal(&o.bytes) : NULL;
    if (!bytes) {
        free(s);
        strs_out_release(&o);
        return rc ? rc : -ENOMEM;
    }
    for (size_t i = 0; i < n; i++)
        s[i] = o.offs[i] == SIZE_MAX ? NULL : bytes + o.offs[i];
    free(o.offs);
    *out = (struct colf_strs){.n = n, .s = s, .len = o.len, .bytes_ = bytes};
    return 0;
}

void colf_strs_release(struct colf_strs *s)
{
    if (!s)
        return;
    free((void *)s->s);
    free(s->len);
    free(s->bytes_);
    memset(s, 0, sizeof *s);
}
