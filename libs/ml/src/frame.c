/* frame: the in-memory typed data frame: loading from IBXC, building from arrays, row
 * selection, sampling, one row as JSON, and the text parsers for times and booleans. */
#include <ibx/buf.h>
#include <ibx/frame.h>
#include <ibx/mlrand.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SECONDS_PER_DAY 86400.0

static const char *const type_names[] = {"numerical_integer", "numerical_float", "boolean",
                                         "temporal",          "categorical",     "text"};
static const char *const bool_dict[] = {"false", "true"};
static const char *const null_like[] = {
    "",     " ",         "null",      "NULL", "Null", "NaN", "nan", "None",
    "NONE", "undefined", "UNDEFINED", "N/A",  "n/a",  "NA",  "na",
};

struct fcol {
    struct frame_column pub;
    char *name;
    double *num;
    int32_t *codes;
    char **dict; /* pointers into dict_bytes (not for booleans) */
    char *dict_bytes;
    size_t dict_len; /* bytes in dict_bytes */
    const char **text;
    char *text_bytes;
    int dates_only; /* temporal: every value is a midnight */
};

struct frame {
    size_t nrows;
    struct fcol *cols;
    size_t ncols, cap;
};

/* ---- parsers ----------------------------------------------------------------------- */

int frame_is_null_like(const char *s, size_t len)
{
    for (size_t i = 0; s && i < sizeof null_like / sizeof null_like[0]; i++)
        if (strlen(null_like[i]) == len && memcmp(null_like[i], s, len) == 0)
            return 1;
    return 0;
}

int frame_parse_bool(const char *s, size_t len, int *out)
{
    static const char *const yes[] = {"true", "t", "yes", "y", "1"};
    static const char *const no[] = {"false", "f", "no", "n", "0"};
    for (size_t i = 0; s && out && i < 5; i++) {
        if (strlen(yes[i]) == len && strncasecmp(s, yes[i], len) == 0) {
            *out = 1;
            return 0;
        }
        if (strlen(no[i]) == len && strncasecmp(s, no[i], len) == 0) {
            *out = 0;
            return 0;
        }
    }
    return -EINVAL;
}

/* Read between min and max digits at s[*i]; 0 or -EINVAL. */
static int digits(const char *s, size_t len, size_t *i, int min, int max, long *v)
{
    int k = 0;
    *v = 0;
    while (*i < len && k < max && s[*i] >= '0' && s[*i] <= '9') {
        *v = *v * 10 + (s[*i] - '0');
        (*i)++;
        k++;
    }
    return k >= min ? 0 : -EINVAL;
}

static int is_date_sep(char c)
{
    return c == '-' || c == '/' || c == '.';
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
static long days_from_civil(long y, long m, long d)
{
    y -= m <= 2;
    long era = (y >= 0 ? y : y - 399) / 400;
    long yoe = y - era * 400;
    long doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int month_days(long y, long m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return days[m - 1] + (m == 2 && leap);
}

/* Y-m-d or d-m-Y (any one of - / . used twice); the day number since the epoch. */
static int parse_date(const char *s, size_t len, size_t *i, long *days)
{
    long a, b, c, y, m, d;
    size_t start = *i;
    if (digits(s, len, i, 1, 4, &a) || *i >= len || !is_date_sep(s[*i]))
        return -EINVAL;
    char sep = s[(*i)++];
    int year_first = *i - start == 5;
    if (!year_first && *i - start > 3)
        return -EINVAL;
    if (digits(s, len, i, 1, 2, &b) || *i >= len || s[(*i)++] != sep)
        return -EINVAL;
    size_t third = *i;
    if (digits(s, len, i, year_first ? 1 : 4, year_first ? 2 : 4, &c))
        return -EINVAL;
    if (!year_first && *i - third != 4)
        return -EINVAL;
    y = year_first ? a : c;
    m = b;
    d = year_first ? c : a;
    if (m < 1 || m > 12 || d < 1 || d > month_days(y, m))
        return -EINVAL;
    *days = days_from_civil(y, m, d);
    return 0;
}

/* Z, +hh, +hhmm or +hh:mm at s[*i]: the offset in seconds east of UTC. */
static int parse_offset(const char *s, size_t len, size_t *i, long *secs)
{
    long h, m = 0;
    *secs = 0;
    if (*i < len && s[*i] == 'Z') {
        (*i)++;
        return 0;
    }
    if (*i >= len || (s[*i] != '+' && s[*i] != '-'))
        return 0;
    int sign = s[(*i)++] == '-' ? -1 : 1;
    if (digits(s, len, i, 2, 2, &h) || h > 14)
        return -EINVAL;
    if (*i < len && s[*i] == ':')
        (*i)++;
    if (*i < len && (digits(s, len, i, 2, 2, &m) || m > 59))
        return -EINVAL;
    *secs = sign * (h * 3600 + m * 60);
    return 0;
}

/* H:M[:S[.fraction]] then an optional offset: seconds into the day (UTC). */
static int parse_time(const char *s, size_t len, size_t *i, double *secs)
{
    long h, m, sec = 0, off;
    double frac = 0, scale = 0.1;
    if (digits(s, len, i, 1, 2, &h) || h > 23 || *i >= len || s[(*i)++] != ':' ||
        digits(s, len, i, 2, 2, &m) || m > 59)
        return -EINVAL;
    if (*i < len && s[*i] == ':') {
        (*i)++;
        if (digits(s, len, i, 2, 2, &sec) || sec > 59)
            return -EINVAL;
    }
    if (*i < len && s[*i] == '.') {
        size_t first = ++(*i);
        for (; *i < len && s[*i] >= '0' && s[*i] <= '9'; (*i)++, scale /= 10)
            frac += (s[*i] - '0') * scale;
        if (*i == first)
            return -EINVAL;
    }
    if (parse_offset(s, len, i, &off))
        return -EINVAL;
    *secs = (double)(h * 3600 + m * 60 + sec - off) + frac;
    return 0;
}

int frame_parse_temporal(const char *s, size_t len, double *out)
{
    size_t i = 0;
    long days;
    double secs = 0;
    if (!s || !out)
        return -EINVAL;
    while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        len--;
    while (i < len && (s[i] == ' ' || s[i] == '\t'))
        i++;
    if (parse_date(s, len, &i, &days))
        return -EINVAL;
    if (i < len && (s[i] == 'T' || s[i] == ' ')) {
        i++;
        if (parse_time(s, len, &i, &secs))
            return -EINVAL;
    }
    if (i != len)
        return -EINVAL;
    *out = (double)days * SECONDS_PER_DAY + secs;
    return 0;
}

/* ---- building columns -------------------------------------------------------------- */

static const char *type_static(const char *type)
{
    for (size_t i = 0; type && i < sizeof type_names / sizeof type_names[0]; i++)
        if (strcmp(type, type_names[i]) == 0)
            return type_names[i];
    return NULL;
}

static void fcol_release(struct fcol *c)
{
    free(c->name);
    free(c->num);
    free(c->codes);
    free(c->dict);
    free(c->dict_bytes);
    free((void *)c->text);
    free(c->text_bytes);
    memset(c, 0, sizeof *c);
}

/* Append an empty column to f; on success the caller fills it and calls col_publish. */
static int col_push(struct frame *f, const char *name, const char *type, struct fcol **out)
{
    const char *t = type_static(type);
    if (!f || !name || !t)
        return -EINVAL;
    if (f->ncols == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 8;
        struct fcol *tmp = realloc(f->cols, cap * sizeof *tmp);
        if (!tmp)
            return -ENOMEM;
        f->cols = tmp;
        f->cap = cap;
    }
    struct fcol *c = &f->cols[f->ncols];
    memset(c, 0, sizeof *c);
    c->name = strdup(name);
    if (!c->name)
        return -ENOMEM;
    c->pub.name = c->name;
    c->pub.type = t;
    c->pub.n = f->nrows;
    *out = c;
    return 0;
}

/* Fill in the public view from the owned arrays, count missing values, keep the column. */
static void col_publish(struct frame *f, struct fcol *c, enum frame_kind kind)
{
    c->pub.kind = kind;
    c->pub.num = c->num;
    c->pub.codes = c->codes;
    c->pub.text = c->text;
    if (kind == FRAME_BOOLEAN) {
        c->pub.dict = bool_dict;
        c->pub.ndict = 2;
    } else if (kind == FRAME_CATEGORICAL) {
        c->pub.dict = (const char *const *)c->dict;
    }
    c->pub.missing = 0;
    c->dates_only = 1;
    for (size_t i = 0; i < f->nrows; i++) {
        int miss = c->num ? isnan(c->num[i]) : c->codes ? c->codes[i] < 0 : !c->text[i];
        c->pub.missing += (size_t)miss;
        if (kind == FRAME_TEMPORAL && !miss && c->num && fmod(c->num[i], SECONDS_PER_DAY) != 0)
            c->dates_only = 0;
    }
    f->ncols++;
}

static size_t cell_len(const char *const *v, const size_t *len, size_t i)
{
    return len ? len[i] : strlen(v[i]);
}

static int present(const char *const *v, const size_t *len, size_t i)
{
    return v[i] && !frame_is_null_like(v[i], cell_len(v, len, i));
}

static int fill_numbers(struct fcol *c, size_t n, const char *const *v, const size_t *len,
                        int temporal)
{
    c->num = malloc((n ? n : 1) * sizeof *c->num);
    if (!c->num)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        c->num[i] = NAN;
        if (!present(v, len, i))
            continue;
        size_t l = cell_len(v, len, i);
        int rc = temporal ? frame_parse_temporal(v[i], l, &c->num[i])
                          : colf_parse_number(v[i], l, &c->num[i]);
        if (rc) {
            c->num[i] = NAN;
            c->pub.unparsed++;
        }
    }
    return 0;
}

/* Booleans: 1 when every present value read as one (codes filled), 0 otherwise. */
static int fill_bools(struct fcol *c, size_t n, const char *const *v, const size_t *len)
{
    for (size_t i = 0; i < n; i++) {
        int b;
        c->codes[i] = -1;
        if (!present(v, len, i))
            continue;
        if (frame_parse_bool(v[i], cell_len(v, len, i), &b))
            return 0;
        c->codes[i] = b;
    }
    return 1;
}

/* ---- dictionaries ---- */

struct interner {
    struct buf bytes; /* entries back to back, each NUL-terminated */
    size_t *off;
    size_t count, cap;
    uint32_t *slots; /* code + 1, 0 empty */
    size_t mask;
};

static uint64_t hash_bytes(const char *s, size_t len)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

static int interner_grow(struct interner *in)
{
    size_t cap = in->cap ? in->cap * 2 : 64;
    size_t *off = realloc(in->off, (cap + 1) * sizeof *off);
    if (!off)
        return -ENOMEM;
    in->off = off;
    uint32_t *slots = calloc(2 * cap, sizeof *slots);
    if (!slots)
        return -ENOMEM;
    free(in->slots);
    in->slots = slots;
    in->mask = 2 * cap - 1;
    in->cap = cap;
    for (size_t k = 0; k < in->count; k++) {
        const char *e = in->bytes.data + in->off[k];
        size_t h = hash_bytes(e, in->off[k + 1] - in->off[k] - 1) & in->mask;
        while (in->slots[h])
            h = (h + 1) & in->mask;
        in->slots[h] = (uint32_t)k + 1;
    }
    return 0;
}

static int intern(struct interner *in, const char *s, size_t len, int32_t *code)
{
    if (in->count == in->cap && interner_grow(in))
        return -ENOMEM;
    size_t h = hash_bytes(s, len) & in->mask;
    for (; in->slots[h]; h = (h + 1) & in->mask) {
        size_t k = in->slots[h] - 1;
        const char *e = in->bytes.data + in->off[k];
        if (in->off[k + 1] - in->off[k] - 1 == len && memcmp(e, s, len) == 0) {
            *code = (int32_t)k;
            return 0;
        }
    }
    if (in->count >= INT32_MAX)
        return -EINVAL;
    in->off[in->count] = in->bytes.len;
    int rc = buf_append(&in->bytes, s, len);
    if (rc == 0)
        rc = buf_append(&in->bytes, "", 1);
    if (rc)
        return rc;
    in->slots[h] = (uint32_t)++in->count;
    in->off[in->count] = in->bytes.len;
    *code = (int32_t)(in->count - 1);
    return 0;
}

/* Hand the dictionary to c (dict, dict_bytes, ndict) and release the interner. */
static int interner_finish(struct interner *in, struct fcol *c)
{
    size_t len = in->bytes.len;
    c->dict = malloc((in->count ? in->count : 1) * sizeof *c->dict);
    c->dict_bytes = buf_steal(&in->bytes);
    if (!c->dict || !c->dict_bytes)
        return -ENOMEM;
    for (size_t k = 0; k < in->count; k++)
        c->dict[k] = c->dict_bytes + in->off[k];
    c->dict_len = len;
    c->pub.ndict = in->count;
    return 0;
}

static void interner_release(struct interner *in)
{
    buf_release(&in->bytes);
    free(in->off);
    free(in->slots);
}

static int fill_categories(struct fcol *c, size_t n, const char *const *v, const size_t *len)
{
    struct interner in = {.off = NULL};
    int rc = 0;
    buf_init(&in.bytes, SIZE_MAX - 1);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        c->codes[i] = -1;
        if (present(v, len, i))
            rc = intern(&in, v[i], cell_len(v, len, i), &c->codes[i]);
    }
    if (rc == 0)
        rc = interner_finish(&in, c);
    interner_release(&in);
    return rc;
}

/* Copy texts into one block: c->text points into c->text_bytes. */
static int fill_text(struct fcol *c, size_t n, const char *const *v, const size_t *len)
{
    size_t total = 1;
    for (size_t i = 0; i < n; i++)
        total += present(v, len, i) ? cell_len(v, len, i) + 1 : 0;
    c->text = malloc((n ? n : 1) * sizeof *c->text);
    c->text_bytes = malloc(total);
    if (!c->text || !c->text_bytes)
        return -ENOMEM;
    char *p = c->text_bytes;
    for (size_t i = 0; i < n; i++) {
        c->text[i] = NULL;
        if (!present(v, len, i))
            continue;
        size_t l = cell_len(v, len, i);
        memcpy(p, v[i], l);
        p[l] = '\0';
        c->text[i] = p;
        p += l + 1;
    }
    return 0;
}

static enum frame_kind kind_of(const char *type)
{
    if (strcmp(type, "numerical_integer") == 0 || strcmp(type, "numerical_float") == 0)
        return FRAME_NUMERIC;
    if (strcmp(type, "temporal") == 0)
        return FRAME_TEMPORAL;
    if (strcmp(type, "boolean") == 0)
        return FRAME_BOOLEAN;
    return strcmp(type, "categorical") == 0 ? FRAME_CATEGORICAL : FRAME_TEXT;
}

/* Fill c from n texts (len NULL: NUL-terminated) as its type says; the kind it got. */
static int fill_from_texts(struct fcol *c, size_t n, const char *const *v, const size_t *len,
                           enum frame_kind *kind)
{
    *kind = kind_of(c->pub.type);
    if (*kind == FRAME_NUMERIC || *kind == FRAME_TEMPORAL)
        return fill_numbers(c, n, v, len, *kind == FRAME_TEMPORAL);
    if (*kind == FRAME_TEXT)
        return fill_text(c, n, v, len);
    c->codes = malloc((n ? n : 1) * sizeof *c->codes);
    if (!c->codes)
        return -ENOMEM;
    if (*kind == FRAME_BOOLEAN && fill_bools(c, n, v, len))
        return 0;
    *kind = FRAME_CATEGORICAL;
    return fill_categories(c, n, v, len);
}

static int add_texts(struct frame *f, const char *name, const char *type, const char *const *v,
                     const size_t *len)
{
    struct fcol *c;
    enum frame_kind kind;
    if (!f || (f->nrows > 0 && !v))
        return -EINVAL;
    int rc = col_push(f, name, type, &c);
    if (rc)
        return rc;
    rc = fill_from_texts(c, f->nrows, v, len, &kind);
    if (rc) {
        fcol_release(c);
        return rc;
    }
    col_publish(f, c, kind);
    return 0;
}

int frame_add_strings(struct frame *f, const char *name, const char *type, const char *const *v)
{
    return add_texts(f, name, type, v, NULL);
}

int frame_add_numeric(struct frame *f, const char *name, const char *type, const double *v)
{
    struct fcol *c;
    const char *t = type ? type : "numerical_float";
    enum frame_kind kind = kind_of(t);
    if (!f || !type_static(t) || (kind != FRAME_NUMERIC && kind != FRAME_TEMPORAL) ||
        (f->nrows > 0 && !v))
        return -EINVAL;
    int rc = col_push(f, name, t, &c);
    if (rc)
        return rc;
    c->num = malloc((f->nrows ? f->nrows : 1) * sizeof *c->num);
    if (!c->num) {
        fcol_release(c);
        return -ENOMEM;
    }
    for (size_t i = 0; i < f->nrows; i++)
        c->num[i] = isfinite(v[i]) ? v[i] : NAN;
    col_publish(f, c, kind);
    return 0;
}

int frame_new(size_t nrows, struct frame **out)
{
    if (!out)
        return -EINVAL;
    struct frame *f = calloc(1, sizeof *f);
    if (!f)
        return -ENOMEM;
    f->nrows = nrows;
    *out = f;
    return 0;
}

void frame_free(struct frame *f)
{
    if (!f)
        return;
    for (size_t j = 0; j < f->ncols; j++)
        fcol_release(&f->cols[j]);
    free(f->cols);
    free(f);
}

/* ---- loading from IBXC ------------------------------------------------------------- */

/* A numeric column straight from float64 (texts only when some value did not parse, so
 * null-like texts count as missing rather than unparsed). */
static int load_numeric(struct frame *f, struct colf_reader *r, size_t j)
{
    struct fcol *c;
    size_t unparsed = 0;
    int rc = col_push(f, colf_name(r, j), colf_type(r, j), &c);
    if (rc)
        return rc;
    c->num = malloc((f->nrows ? f->nrows : 1) * sizeof *c->num);
    rc = c->num ? colf_read_f64(r, j, 0, f->nrows, c->num, &unparsed) : -ENOMEM;
    if (rc || unparsed > 0) {
        fcol_release(c);
        return rc ? rc : 1;
    }
    col_publish(f, c, FRAME_NUMERIC);
    return 0;
}

static int load_texts(struct frame *f, struct colf_reader *r, size_t j)
{
    struct colf_strs s;
    int rc = colf_read_strs(r, j, 0, f->nrows, &s);
    if (rc)
        return rc;
    rc = add_texts(f, colf_name(r, j), colf_type(r, j), s.s, s.len);
    colf_strs_release(&s);
    return rc;
}

int frame_load_colf(struct colf_reader *r, struct frame **out)
{
    struct frame *f = NULL;
    if (!r || !out)
        return -EINVAL;
    uint64_t nrows = colf_nrows(r);
    if (nrows > SIZE_MAX / sizeof(double))
        return -ENOMEM;
    int rc = frame_new((size_t)nrows, &f);
    for (size_t j = 0; rc == 0 && j < colf_ncols(r); j++) {
        rc = 1;
        if (kind_of(colf_type(r, j)) == FRAME_NUMERIC)
            rc = load_numeric(f, r, j);
        if (rc == 1)
            rc = load_texts(f, r, j);
    }
    if (rc) {
        frame_free(f);
        return rc;
    }
    *out = f;
    return 0;
}

/* ---- access ------------------------------------------------------------------------ */

size_t frame_ncols(const struct frame *f)
{
    return f ? f->ncols : 0;
}

size_t frame_nrows(const struct frame *f)
{
    return f ? f->nrows : 0;
}

const struct frame_column *frame_col(const struct frame *f, size_t i)
{
    return f && i < f->ncols ? &f->cols[i].pub : NULL;
}

int frame_find(const struct frame *f, const char *name)
{
    for (size_t j = 0; f && name && j < f->ncols; j++)
        if (strcmp(f->cols[j].name, name) == 0)
            return (int)j;
    return -ENOENT;
}

size_t frame_memory_bytes(const struct frame *f)
{
    size_t total = 0;
    for (size_t j = 0; f && j < f->ncols; j++) {
        const struct fcol *c = &f->cols[j];
        if (c->num)
            total += f->nrows * sizeof(double);
        if (c->codes)
            total += f->nrows * sizeof(int32_t) + c->dict_len + c->pub.ndict * sizeof(char *);
        for (size_t i = 0; c->text && i < f->nrows; i++)
            total += sizeof(char *) + (c->text[i] ? strlen(c->text[i]) + 1 : 0);
    }
    return total;
}

/* ---- row selection ----------------------------------------------------------------- */

static int copy_dict(struct fcol *dst, const struct fcol *src)
{
    dst->dict = malloc((src->pub.ndict ? src->pub.ndict : 1) * sizeof *dst->dict);
    dst->dict_bytes = malloc(src->dict_len ? src->dict_len : 1);
    if (!dst->dict || !dst->dict_bytes)
        return -ENOMEM;
    if (src->dict_len)
        memcpy(dst->dict_bytes, src->dict_bytes, src->dict_len);
    for (size_t k = 0; k < src->pub.ndict; k++)
        dst->dict[k] = dst->dict_bytes + (src->dict[k] - src->dict_bytes);
    dst->dict_len = src->dict_len;
    dst->pub.ndict = src->pub.ndict;
    return 0;
}

static int select_column(struct fcol *dst, const struct fcol *src, const size_t *rows, size_t n)
{
    if (src->num) {
        dst->num = malloc((n ? n : 1) * sizeof *dst->num);
        if (!dst->num)
            return -ENOMEM;
        for (size_t i = 0; i < n; i++)
            dst->num[i] = src->num[rows[i]];
        return 0;
    }
    if (src->codes) {
        dst->codes = malloc((n ? n : 1) * sizeof *dst->codes);
        if (!dst->codes)
            return -ENOMEM;
        for (size_t i = 0; i < n; i++)
            dst->codes[i] = src->codes[rows[i]];
        return src->pub.kind == FRAME_CATEGORICAL ? copy_dict(dst, src) : 0;
    }
    const char **v = malloc((n ? n : 1) * sizeof *v);
    if (!v)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++)
        v[i] = src->text[rows[i]];
    int rc = fill_text(dst, n, v, NULL);
    free(v);
    return rc;
}

int frame_select_rows(const struct frame *f, const size_t *rows, size_t n, struct frame **out)
{
    struct frame *g = NULL;
    if (!f || !out || (n > 0 && !rows))
        return -EINVAL;
    for (size_t i = 0; i < n; i++)
        if (rows[i] >= f->nrows)
            return -EINVAL;
    int rc = frame_new(n, &g);
    for (size_t j = 0; rc == 0 && j < f->ncols; j++) {
        const struct fcol *src = &f->cols[j];
        struct fcol *dst;
        rc = col_push(g, src->name, src->pub.type, &dst);
        if (rc)
            break;
        rc = select_column(dst, src, rows, n);
        if (rc)
            fcol_release(dst);
        else
            col_publish(g, dst, src->pub.kind);
    }
    if (rc) {
        frame_free(g);
        return rc;
    }
    *out = g;
    return 0;
}

/* ---- sampling ---------------------------------------------------------------------- */

int frame_sample(const struct frame *f, size_t n, enum frame_sample_mode mode, uint64_t seed,
                 size_t *idx, size_t *count)
{
    if (!f || !count || (n > 0 && !idx) ||
        (mode != FRAME_SAMPLE_HEAD && mode != FRAME_SAMPLE_RANDOM))
        return -EINVAL;
    size_t k = n < f->nrows ? n : f->nrows, N = f->nrows;
    if (mode == FRAME_SAMPLE_HEAD || k == N) {
        for (size_t i = 0; i < k; i++)
            idx[i] = i;
        *count = k;
        return 0;
    }
    unsigned char *mark = calloc((N + 7) / 8, 1);
    if (!mark)
        return -ENOMEM;
    struct mlrand rng;
    mlrand_seed(&rng, seed);
    /* Floyd's algorithm: k draws, each row equally likely to end up chosen */
    for (size_t j = N - k; j < N; j++) {
        size_t t = (size_t)mlrand_below(&rng, (uint64_t)j + 1);
        size_t pick = (mark[t / 8] >> (t % 8)) & 1 ? j : t;
        mark[pick / 8] |= (unsigned char)(1u << (pick % 8));
    }
    size_t out = 0;
    for (size_t i = 0; i < N && out < k; i++)
        if ((mark[i / 8] >> (i % 8)) & 1)
            idx[out++] = i;
    free(mark);
    *count = out;
    return 0;
}

/* ---- one row as JSON ---------------------------------------------------------------- */

/* Bytes of the valid UTF-8 sequence at p (1 to 4), or 0. */
static size_t utf8_seq(const unsigned char *p)
{
    for (size_t k = 1; k <= 4 && p[k - 1]; k++) {
        json_t *probe = json_stringn((const char *)p, k);
        if (probe) {
            json_decref(probe);
            return k;
        }
    }
    return 0;
}

/* A JSON string of s, with invalid UTF-8 sequences replaced by U+FFFD. */
json_t *frame_json_string(const char *s)
{
    json_t *j = json_string(s);
    if (j)
        return j;
    struct buf b;
    int rc = 0;
    buf_init(&b, SIZE_MAX - 1);
    for (const unsigned char *p = (const unsigned char *)s; rc == 0 && *p;) {
        size_t k = utf8_seq(p);
        rc = k ? buf_append(&b, p, k) : buf_append_str(&b, "\xEF\xBF\xBD");
        p += k ? k : 1;
    }
    j = rc == 0 ? json_stringn(buf_str(&b), b.len) : NULL;
    buf_release(&b);
    return j;
}

static json_t *json_time(double t, int dates_only)
{
    char out[128];
    double day = floor(t / SECONDS_PER_DAY), rest = t - day * SECONDS_PER_DAY;
    long z = (long)day + 719468;
    long era = (z >= 0 ? z : z - 146096) / 146097;
    long doe = z - era * 146097;
    long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    long mp = (5 * doy + 2) / 153, d = doy - (153 * mp + 2) / 5 + 1;
    long m = mp < 10 ? mp + 3 : mp - 9, y = yoe + era * 400 + (m <= 2);
    if (dates_only) {
        snprintf(out, sizeof out, "%04ld-%02ld-%02ld", y, m, d);
        return json_string(out);
    }
    long ms = lround(rest * 1000.0);
    ms = ms > 86399999 ? 86399999 : ms;
    long secs = ms / 1000;
    int n = snprintf(out, sizeof out, "%04ld-%02ld-%02ldT%02ld:%02ld:%02ld", y, m, d, secs / 3600,
                     secs / 60 % 60, secs % 60);
    if (ms % 1000 && n > 0 && (size_t)n < sizeof out)
        snprintf(out + n, sizeof out - (size_t)n, ".%03ld", ms % 1000);
    strncat(out, "Z", sizeof out - strlen(out) - 1);
    return json_string(out);
}

static json_t *cell_json(const struct fcol *c, size_t row)
{
    const struct frame_column *p = &c->pub;
    if (p->num) { /* numeric and temporal columns */
        double v = p->num[row];
        if (isnan(v))
            return json_null();
        if (p->kind == FRAME_TEMPORAL)
            return json_time(v, c->dates_only);
        if (strcmp(p->type, "numerical_integer") == 0 && v == floor(v) && fabs(v) < 9.0e15)
            return json_integer((json_int_t)v);
        return json_real(v);
    }
    if (p->codes) {
        if (p->codes[row] < 0)
            return json_null();
        if (p->kind == FRAME_BOOLEAN)
            return json_boolean(p->codes[row]);
        if (p->kind == FRAME_CATEGORICAL)
            return frame_json_string(p->dict[p->codes[row]]);
    }
    return p->text && p->text[row] ? frame_json_string(p->text[row]) : json_null();
}

int frame_row_json(const struct frame *f, size_t row, json_t **out)
{
    if (!f || !out || row >= f->nrows)
        return -EINVAL;
    json_t *obj = json_object();
    if (!obj)
        return -ENOMEM;
    for (size_t j = 0; j < f->ncols; j++) {
        json_t *key = frame_json_string(f->cols[j].name);
        json_t *v = cell_json(&f->cols[j], row);
        int bad = !key || !v;
        if (!bad)
            bad = json_object_set_new(obj, json_string_value(key), v) != 0;
        else
            json_decref(v);
        json_decref(key);
        if (bad) {
            json_decref(obj);
            return -ENOMEM;
        }
    }
    *out = obj;
    return 0;
}
