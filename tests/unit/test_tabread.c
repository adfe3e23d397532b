/* test_tabread: the table push parser: formats, dialects, quoting, header detection and
 * every error, each input fed whole, byte by byte and in odd chunks. */
#include <ibx/tabread.h>

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* What the callbacks saw, as text: "H:a|b\n" per columns call, then "1|~\n" per row
 * (~ for a missing cell). In batch mode, the previous batch (its cells and their text) is
 * checked unchanged when the next batch arrives and at the end. */
struct seen {
    char *out;
    size_t len, cap;
    const struct colf_cell *prev; /* the previous batch, as delivered */
    size_t prev_rows, prev_n;
    char *prev_text; /* its text when delivered */
    size_t batches;
};

static void add(struct seen *s, const char *d, size_t n)
{
    if (s->len + n + 1 > s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 1024;
        while (cap < s->len + n + 1)
            cap *= 2;
        char *tmp = realloc(s->out, cap);
        assert_non_null(tmp);
        s->out = tmp;
        s->cap = cap;
    }
    memcpy(s->out + s->len, d, n);
    s->len += n;
    s->out[s->len] = '\0';
}

static int on_columns(void *ctx, size_t first, const char *const *names, size_t n)
{
    struct seen *s = ctx;
    char b[32];
    snprintf(b, sizeof(b), "H%zu:", first);
    add(s, b, strlen(b));
    for (size_t i = 0; i < n; i++) {
        if (i)
            add(s, "|", 1);
        add(s, names[i], strlen(names[i]));
    }
    add(s, "\n", 1);
    return 0;
}

static void add_row_text(struct seen *s, const struct colf_cell *cells, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (i)
            add(s, "|", 1);
        if (cells[i].s)
            add(s, cells[i].s, cells[i].len);
        else
            add(s, "~", 1);
    }
    add(s, "\n", 1);
}

static int on_row(void *ctx, const struct colf_cell *cells, size_t n, uint64_t line)
{
    (void)line;
    add_row_text(ctx, cells, n);
    return 0;
}

/* The text of a batch, in a new string. */
static char *batch_text(const struct colf_cell *cells, size_t rows, size_t n)
{
    struct seen t = {0};
    add(&t, "", 0);
    for (size_t r = 0; r < rows; r++)
        add_row_text(&t, cells + r * n, n);
    return t.out;
}

/* The previous batch must still read as it did when it was delivered. */
static void check_prev(struct seen *s)
{
    if (!s->prev_text)
        return;
    char *now = batch_text(s->prev, s->prev_rows, s->prev_n);
    assert_string_equal(now, s->prev_text);
    free(now);
    free(s->prev_text);
    s->prev_text = NULL;
}

static int on_batch(void *ctx, const struct colf_cell *cells, size_t rows, size_t n,
                    const uint64_t *lines)
{
    struct seen *s = ctx;
    assert_true(rows > 0);
    for (size_t r = 1; r < rows; r++)
        assert_true(lines[r] >= lines[r - 1]);
    check_prev(s);
    for (size_t r = 0; r < rows; r++)
        add_row_text(s, cells + r * n, n);
    s->prev = cells;
    s->prev_rows = rows;
    s->prev_n = n;
    s->prev_text = batch_text(cells, rows, n);
    s->batches++;
    return 0;
}

static const struct tabread_cbs batch_cbs = {on_columns, NULL, on_batch};
static const struct tabread_cbs cbs = {on_columns, on_row, NULL};

struct run {
    int rc;
    char msg[320];
    enum tabread_format fmt;
    char delim;
    int header;
};

/* Parse len bytes in chunks of step (0: whole) into *s, rows one by one (batch 0) or in
 * batches (1). */
static void parse_mode(const char *in, size_t len, const struct tabread_opts *o, size_t step,
                       int batch, struct seen *s, struct run *r)
{
    struct tabread *t = NULL;
    assert_int_equal(tabread_new(o, batch ? &batch_cbs : &cbs, s, &t), 0);
    int rc = 0;
    size_t pos = 0;
    while (rc == 0 && pos < len) {
        size_t n = step && step < len - pos ? step : len - pos;
        rc = tabread_push(t, in + pos, n);
        pos += n;
    }
    if (rc == 0)
        rc = tabread_finish(t);
    r->rc = rc;
    snprintf(r->msg, sizeof(r->msg), "%s", tabread_error(t));
    r->fmt = tabread_format(t);
    r->delim = tabread_delimiter(t);
    r->header = tabread_has_header(t);
    check_prev(s); /* the last batch lives until tabread_free */
    tabread_free(t);
}

/* Both ways; the batch way must see the same rows. */
static void parse(const char *in, size_t len, const struct tabread_opts *o, size_t step,
                  struct seen *s, struct run *r)
{
    struct seen b = {0};
    struct run rb;
    parse_mode(in, len, o, step, 0, s, r);
    parse_mode(in, len, o, step, 1, &b, &rb);
    assert_int_equal(rb.rc, r->rc);
    assert_string_equal(rb.msg, r->msg);
    if (r->rc == 0)
        assert_string_equal(b.out ? b.out : "", s->out ? s->out : "");
    free(b.out);
}

struct ok_case {
    const char *name;
    const char *in;
    const char *filename;
    const char *want;
    enum tabread_format fmt;
    char delim;
    int header;
};

static const struct ok_case ok_cases[] = {
    {"csv", "a,b\n1,2\n3,4\n", "t.csv", "H0:a|b\n1|2\n3|4\n", TABREAD_CSV, ',', 1},
    {"bom crlf",
     "\xEF\xBB\xBF"
     "a,b\r\n1,2\r\n3,4\r\n",
     NULL, "H0:a|b\n1|2\n3|4\n", TABREAD_CSV, ',', 1},
    {"lone cr", "a,b\r1,2\r", NULL, "H0:a|b\n1|2\n", TABREAD_CSV, ',', 1},
    {"no final newline", "a,b\n1,2", NULL, "H0:a|b\n1|2\n", TABREAD_CSV, ',', 1},
    {"tsv by content", "a\tb\nx,y\t2\n", NULL, "H0:a|b\nx,y|2\n", TABREAD_TSV, '\t', 1},
    {"tsv by name", "a\tb\n1\t2\n", "data.TSV", "H0:a|b\n1|2\n", TABREAD_TSV, '\t', 1},
    {"semicolon decimal comma", "a;b\n1,5;2\n3,5;4\n", "x.csv", "H0:a|b\n1,5|2\n3,5|4\n",
     TABREAD_CSV, ';', 1},
    {"pipe", "a|b|c\n1|2|3\n", NULL, "H0:a|b|c\n1|2|3\n", TABREAD_CSV, '|', 1},
    {"quotes", "id,text\n1,\"he said \"\"hi\"\", ok\"\n2,\"multi\nline\"\n3,\"\"\n", NULL,
     "H0:id|text\n1|he said \"hi\", ok\n2|multi\nline\n3|~\n", TABREAD_CSV, ',', 1},
    {"quote then text", "a,b\n\"x\"y,1\n", NULL, "H0:a|b\nxy|1\n", TABREAD_CSV, ',', 1},
    {"quote inside unquoted", "a,b\nx\"y,1\n", NULL, "H0:a|b\nx\"y|1\n", TABREAD_CSV, ',', 1},
    {"quoted delimiter in sniff", "a,b\n\"1;2;3\",4\n\"5;6\",7\n", NULL, "H0:a|b\n1;2;3|4\n5;6|7\n",
     TABREAD_CSV, ',', 1},
    {"no header numbers", "1,2\n3,4\n", NULL, "H0:column_1|column_2\n1|2\n3|4\n", TABREAD_CSV, ',',
     0},
    {"no header dates", "2020-01-01,5\n2020-01-02,6\n", NULL,
     "H0:column_1|column_2\n2020-01-01|5\n2020-01-02|6\n", TABREAD_CSV, ',', 0},
    {"header over text and numbers", "name,age\nbob,30\nal,41\n", NULL,
     "H0:name|age\nbob|30\nal|41\n", TABREAD_CSV, ',', 1},
    {"header by length", "code,x\nAB,k\nCD,j\n", NULL, "H0:code|x\nAB|k\nCD|j\n", TABREAD_CSV, ',',
     1},
    {"all text defaults to header", "city,country\nParis,France\nLyon,France\n", NULL,
     "H0:city|country\nParis|France\nLyon|France\n", TABREAD_CSV, ',', 1},
    {"one column", "x\n1\n2\n", NULL, "H0:x\n1\n2\n", TABREAD_CSV, ',', 1},
    {"empty lines skipped", "a,b\n\n1,2\n\n\n3,4\n\n", NULL, "H0:a|b\n1|2\n3|4\n", TABREAD_CSV, ',',
     1},
    {"null-likes", "a,b,c\nNA,,x\nnull,N/A,None\nnan,NaN,undefined\nNONE,n/a,na\n", NULL,
     "H0:a|b|c\n~|~|x\n~|~|~\n~|~|~\n~|~|~\n", TABREAD_CSV, ',', 1},
    {"not null-likes", "a,b\nNa ,nil\n", NULL, "H0:a|b\nNa |nil\n", TABREAD_CSV, ',', 1},
    {"names deduplicated", "a,a,,b\n1,2,3,4\n", NULL, "H0:a|a.1|column_3|b\n1|2|3|4\n", TABREAD_CSV,
     ',', 1},
    {"utf8", "nom,ville\nÉlodie,Besançon 🚀\n", NULL, "H0:nom|ville\nÉlodie|Besançon 🚀\n",
     TABREAD_CSV, ',', 1},
    {"json array", "[{\"a\":1,\"b\":\"x\"},\n {\"b\":null,\"c\":true,\"a\":-2.5e3}]", NULL,
     "H0:a|b\n1|x\nH2:c\n-2.5e3|~|true\n", TABREAD_JSON, 0, 1},
    {"json by name", " [ {\"a\" : false } ] \n", "x.json", "H0:a\nfalse\n", TABREAD_JSON, 0, 1},
    {"json lines", "{\"a\":1}\n\n{\"a\":2,\"n\":{\"x\":[1,\"]\"]}}\n{\"n\":[]}\n", "x.jsonl",
     "H0:a\n1\nH1:n\n2|{\"x\":[1,\"]\"]}\n~|[]\n", TABREAD_JSONL, 0, 1},
    {"json escapes", "[{\"s\":\"\\u00e9\\ud83d\\ude00\\n\\t\\\"\\\\\\/\"}]", NULL,
     "H0:s\n\xC3\xA9\xF0\x9F\x98\x80\n\t\"\\/\n", TABREAD_JSON, 0, 1},
    {"json repeated key", "{\"a\":1,\"a\":2}\n", NULL, "H0:a\n2\n", TABREAD_JSONL, 0, 1},
    {"json null-like strings", "[{\"a\":\"NA\",\"b\":\"\"}]", NULL, "H0:a|b\n~|~\n", TABREAD_JSON,
     0, 1},
    {"json empty object", "[{},{\"a\":1}]", NULL, "\nH0:a\n1\n", TABREAD_JSON, 0, 1},
};

static void test_formats(void **state)
{
    (void)state;
    static const size_t steps[] = {0, 1, 2, 3, 7, 64};
    for (size_t c = 0; c < sizeof(ok_cases) / sizeof(ok_cases[0]); c++) {
        const struct ok_case *k = &ok_cases[c];
        struct tabread_opts o = {k->filename, 0, 0};
        for (size_t s = 0; s < sizeof(steps) / sizeof(steps[0]); s++) {
            struct seen seen = {0};
            struct run r;
            parse(k->in, strlen(k->in), &o, steps[s], &seen, &r);
            if (r.rc != 0 || strcmp(seen.out ? seen.out : "", k->want) != 0)
                fail_msg("%s (step %zu): rc %d '%s'\n got '%s'\nwant '%s'", k->name, steps[s], r.rc,
                         r.msg, seen.out ? seen.out : "", k->want);
            assert_int_equal(r.fmt, k->fmt);
            assert_int_equal(r.delim, k->delim);
            assert_int_equal(r.header, k->header);
            free(seen.out);
        }
    }
}

struct err_case {
    const char *name;
    const char *in;
    size_t len; /* 0: strlen */
    const char *filename;
    size_t max_columns, max_field;
    int rc;
    const char *msg; /* a substring of the message */
};

static const struct err_case err_cases[] = {
    {"ragged short", "a,b\n1,2\n3\n", 0, NULL, 0, 0, -EINVAL,
     "line 3: 1 fields, but the header has 2"},
    {"ragged long", "a,b\n1,2\n3,4,5,6\n", 0, NULL, 0, 0, -EINVAL,
     "line 3: 4 fields, but the header has 2"},
    {"ragged after quoted newline", "a,b\n\"x\ny\",2\n3\n", 0, NULL, 0, 0, -EINVAL,
     "line 4: 1 fields"},
    {"ragged without header", "1,2\n3,4\n5\n", 0, NULL, 0, 0, -EINVAL, "but the first row has 2"},
    {"unterminated quote", "a,b\n1,\"x\n\n", 0, NULL, 0, 0, -EINVAL,
     "unterminated quoted field (opened on line 2)"},
    {"empty", "", 0, NULL, 0, 0, -EINVAL, "empty file"},
    {"blank", " \n\r\n", 0, NULL, 0, 0, -EINVAL, "empty file"},
    {"header only", "a,b\n", 0, NULL, 0, 0, -EINVAL, "no data rows"},
    {"invalid utf8", "a,b\n1,x\xff\n", 0, NULL, 0, 0, -EINVAL, "invalid UTF-8 at line 2, column 4"},
    {"overlong utf8", "a,b\n1,\xC0\xAF\n", 0, NULL, 0, 0, -EINVAL, "invalid UTF-8 at line 2"},
    {"surrogate utf8", "a\n\xED\xA0\x80\n", 0, NULL, 0, 0, -EINVAL, "invalid UTF-8 at line 2"},
    {"truncated utf8", "a\n\xC3", 0, NULL, 0, 0, -EINVAL, "truncated character"},
    {"nul byte", "a,b\n1,\0\n", 8, NULL, 0, 0, -EINVAL, "not a text table: NUL byte at line 2"},
    {"field too long", "a\nabcdefgh\n", 0, NULL, 0, 4, -EMSGSIZE,
     "line 2, column 1: a field longer than 4 bytes"},
    {"json value too long", "[{\"a\":\"abcdefgh\"}]", 0, NULL, 0, 4, -EMSGSIZE,
     "longer than 4 bytes"},
    {"too many columns", "a,b,c,d\n1,2,3,4\n", 0, NULL, 3, 0, -E2BIG, "more than 3 columns"},
    {"too many json keys", "{\"a\":1,\"b\":2}\n", 0, NULL, 1, 0, -E2BIG, "more than 1 columns"},
    {"xlsx by name", "a,b\n1,2\n", 0, "book.xlsx", 0, 0, -EPROTONOSUPPORT, "CSV (.csv)"},
    {"zip by content", "PK\x03\x04\x14\0\0\0", 8, NULL, 0, 0, -EPROTONOSUPPORT, "JSON Lines"},
    {"parquet by content", "PAR1xxxx", 0, "data", 0, 0, -EPROTONOSUPPORT, "supported formats"},
    {"xml", "<?xml version=\"1.0\"?><a/>", 0, NULL, 0, 0, -EPROTONOSUPPORT, "TSV"},
    {"json trailing comma", "[{\"a\":1,}]", 0, NULL, 0, 0, -EINVAL,
     "malformed JSON at line 1, column 9: expected a key"},
    {"json not objects", "[1,2]", 0, NULL, 0, 0, -EINVAL, "expected an object in the array"},
    {"json empty array", "[]", 0, NULL, 0, 0, -EINVAL, "no data rows"},
    {"json truncated", "[{\"a\":1}", 0, NULL, 0, 0, -EINVAL, "unexpected end of input"},
    {"json bad literal", "{\"a\":tru}\n", 0, NULL, 0, 0, -EINVAL, "invalid literal"},
    {"json bad number", "{\"a\":01}\n", 0, NULL, 0, 0, -EINVAL, "invalid number"},
    {"json bad escape", "{\"a\":\"\\x\"}\n", 0, NULL, 0, 0, -EINVAL, "invalid escape"},
    {"json lone surrogate", "{\"a\":\"\\ud800x\"}\n", 0, NULL, 0, 0, -EINVAL, "lone UTF-16"},
    {"json raw newline in string", "{\"a\":\"x\ny\"}\n", 0, NULL, 0, 0, -EINVAL,
     "line 1, column 8: a control character"},
    {"json garbage after", "[{\"a\":1}] x", 0, NULL, 0, 0, -EINVAL, "data after the end"},
    {"json second line error", "{\"a\":1}\n{\"a\" 2}\n", 0, NULL, 0, 0, -EINVAL,
     "malformed JSON at line 2, column 6"},
    {"json mismatched nesting", "{\"a\":[1}\n", 0, NULL, 0, 0, -EINVAL, "mismatched brackets"},
    {"json extension not json", "a,b\n", 0, "x.json", 0, 0, -EINVAL, "expected '{'"},
};

static void test_errors(void **state)
{
    (void)state;
    for (size_t c = 0; c < sizeof(err_cases) / sizeof(err_cases[0]); c++) {
        const struct err_case *k = &err_cases[c];
        struct tabread_opts o = {k->filename, k->max_columns, k->max_field};
        size_t len = k->len ? k->len : strlen(k->in);
        for (size_t step = 0; step < 3; step++) {
            struct seen seen = {0};
            struct run r;
            parse(k->in, len, &o, step, &seen, &r);
            if (r.rc != k->rc || !strstr(r.msg, k->msg))
                fail_msg("%s (step %zu): rc %d, want %d; message '%s' lacks '%s'", k->name, step,
                         r.rc, k->rc, r.msg, k->msg);
            free(seen.out);
        }
    }
}

/* A 100,000-column header fails with -E2BIG before the columns callback. */
static void test_wide_header(void **state)
{
    (void)state;
    size_t n = 100000, len = 0;
    char *in = malloc(n * 8 + 16);
    assert_non_null(in);
    for (size_t i = 0; i < n; i++)
        len += (size_t)sprintf(in + len, "%sc%zu", i ? "," : "", i);
    len += (size_t)sprintf(in + len, "\n");
    struct seen seen = {0};
    struct run r;
    parse(in, len, NULL, 1 << 20, &seen, &r);
    assert_int_equal(r.rc, -E2BIG);
    assert_non_null(strstr(r.msg, "more than 20000 columns"));
    assert_null(seen.out); /* no columns were announced */
    free(in);
}

/* Later calls return the same error; push after finish is refused. */
static void test_sticky(void **state)
{
    (void)state;
    struct seen seen = {0};
    struct tabread *t = NULL;
    assert_int_equal(tabread_new(NULL, &cbs, &seen, &t), 0);
    assert_int_equal(tabread_push(t, "a\n\xff\n", 4), 0); /* held back for sniffing */
    assert_int_equal(tabread_finish(t), -EINVAL);
    assert_int_equal(tabread_push(t, "x", 1), -EINVAL);
    assert_non_null(strstr(tabread_error(t), "invalid UTF-8"));
    tabread_free(t);
    free(seen.out);

    t = NULL;
    memset(&seen, 0, sizeof(seen));
    assert_int_equal(tabread_new(NULL, &cbs, &seen, &t), 0);
    assert_int_equal(tabread_push(t, "a\n1\n", 4), 0);
    assert_int_equal(tabread_finish(t), 0);
    assert_int_equal(tabread_rows(t), 1);
    assert_int_equal(tabread_columns(t), 1);
    assert_int_equal(tabread_push(t, "2\n", 2), -EINVAL);
    tabread_free(t);
    free(seen.out);
    tabread_free(NULL);
}

/* A long file (beyond the sniffing window) with rows split anywhere. */
static void test_long_file(void **state)
{
    (void)state;
    size_t cap = 400000, len = 0;
    char *in = malloc(cap);
    assert_non_null(in);
    len += (size_t)sprintf(in, "id,text\n");
    for (int i = 0; len + 64 < cap; i++)
        len += (size_t)sprintf(in + len, "%d,\"t,%d\"\"\n\"\r\n", i, i);
    static const size_t steps[] = {0, 1, 4093, 65536};
    char *first = NULL;
    for (size_t s = 0; s < 4; s++) {
        struct seen seen = {0};
        struct run r;
        parse(in, len, NULL, steps[s], &seen, &r);
        assert_int_equal(r.rc, 0);
        if (!first)
            first = seen.out;
        else {
            assert_string_equal(seen.out, first);
            free(seen.out);
        }
    }
    assert_non_null(strstr(first, "\n12345|t,12345\"\n\n"));
    free(first);
    free(in);
}

/* A wide table comes in many batches (TABREAD_BATCH_CELLS), each intact until the next one
 * is delivered, with the same rows as one by one; so does a JSON file whose new keys cut
 * batches short. */
static void test_batches(void **state)
{
    (void)state;
    size_t cap = 8000000, len = 0;
    char *in = malloc(cap);
    assert_non_null(in);
    for (int c = 0; c < 1000; c++)
        len += (size_t)snprintf(in + len, cap - len, "%sc%d", c ? "," : "", c);
    len += (size_t)snprintf(in + len, cap - len, "\r\n");
    for (int r = 0; r < 300; r++)
        for (int c = 0; c < 1000; c++)
            len += (size_t)snprintf(in + len, cap - len, c % 7 == 3 ? "\"q\"\"%d\n\"%s" : "%d%s",
                                    r * c, c == 999 ? "\r\n" : ",");
    static const size_t steps[] = {0, 1, 4093, 65536};
    for (size_t s = 0; s < 4; s++) {
        struct seen one = {0}, many = {0};
        struct run r1, r2;
        parse_mode(in, len, NULL, steps[s], 0, &one, &r1);
        parse_mode(in, len, NULL, steps[s], 1, &many, &r2);
        assert_int_equal(r1.rc, 0);
        assert_int_equal(r2.rc, 0);
        assert_string_equal(one.out, many.out);
        assert_true(many.batches >= 300 * 1000 / TABREAD_BATCH_CELLS);
        free(one.out);
        free(many.out);
    }
    len = 0;
    len += (size_t)snprintf(in + len, cap - len, "[");
    for (int r = 0; r < 3000; r++)
        len += (size_t)snprintf(in + len, cap - len, "%s{\"a\":%d,\"k%d\":\"x\\ty\"}", r ? "," : "",
                                r, r % 500 == 7 ? r : 0);
    len += (size_t)snprintf(in + len, cap - len, "]");
    for (size_t s = 0; s < 4; s++) {
        struct seen one = {0}, many = {0};
        struct run r1, r2;
        parse_mode(in, len, NULL, steps[s], 0, &one, &r1);
        parse_mode(in, len, NULL, steps[s], 1, &many, &r2);
        assert_int_equal(r1.rc, 0);
        assert_int_equal(r2.rc, 0);
        assert_string_equal(one.out, many.out);
        assert_true(many.batches >= 6);
        free(one.out);
        free(many.out);
    }
    free(in);
}

static int refuse_row(void *ctx, const struct colf_cell *cells, size_t n, uint64_t line)
{
    (void)ctx, (void)cells, (void)n;
    return line == 3 ? -ECANCELED : 0;
}

static void test_callback_error(void **state)
{
    (void)state;
    const struct tabread_cbs c2 = {NULL, refuse_row, NULL};
    struct tabread *t = NULL;
    assert_int_equal(tabread_new(NULL, &c2, NULL, &t), 0);
    assert_int_equal(tabread_push(t, "a\n1\n2\n3\n", 8), 0);
    assert_int_equal(tabread_finish(t), -ECANCELED);
    assert_non_null(strstr(tabread_error(t), "line 3"));
    tabread_free(t);
}

static void test_null_like(void **state)
{
    (void)state;
    static const char *const yes[] = {"",     "NA",   "N/A",  "n/a",  "na",   "NaN",      "nan",
                                      "null", "NULL", "Null", "None", "NONE", "undefined"};
    static const char *const no[] = {"N", "NAN", "nul", "none", "Undefined", " NA", "0", "-"};
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
        assert_true(tabread_is_null_like(yes[i], strlen(yes[i])));
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
        assert_false(tabread_is_null_like(no[i], strlen(no[i])));
    assert_string_equal(tabread_format_name(TABREAD_JSONL), "jsonl");
    assert_null(tabread_format_name(TABREAD_UNKNOWN));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_formats),        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_wide_header),    cmocka_unit_test(test_sticky),
        cmocka_unit_test(test_long_file),      cmocka_unit_test(test_batches),
        cmocka_unit_test(test_callback_error), cmocka_unit_test(test_null_like),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
