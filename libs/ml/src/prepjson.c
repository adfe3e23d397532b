/* prepjson: JSON instances ({column: value} objects, as model serving receives them)
 * transformed with a fitted preprocessing, with a problem per bad value. */
#include "mlstr.h"
#include "prepimpl.h"

#include <ibx/colf.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PROBLEMS 100

struct jstate {
    const struct prep *p;
    size_t *order; /* column indices sorted by name */
    json_t *problems;
    size_t nproblems;
    int oom;
    double *raw, *scratch;
    long *cat;
};

static void problem(struct jstate *js, size_t row, const char *field, const char *msg)
{
    js->nproblems++;
    if (json_array_size(js->problems) >= MAX_PROBLEMS)
        return;
    if (mlstr_push(js->problems, json_pack("{s:I, s:s, s:s}", "row", (json_int_t)row, "field",
                                           field, "message", msg)))
        js->oom = 1;
}

static int cmp_col(const void *a, const void *b, void *ctx)
{
    const struct prep *p = ctx;
    return strcmp(p->cols[*(const size_t *)a].name, p->cols[*(const size_t *)b].name);
}

static long find_col(const struct jstate *js, const char *name)
{
    size_t lo = 0, hi = js->p->ncols;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(js->p->cols[js->order[mid]].name, name);
        if (c == 0)
            return (long)js->order[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

static int is_ignored(const struct prep *p, const char *key)
{
    if (p->target && strcmp(p->target, key) == 0)
        return 1;
    for (size_t i = 0; i < p->ndropped; i++)
        if (strcmp(p->dropped[i].column, key) == 0)
            return 1;
    return 0;
}

/* A numeric-kind value: 0 and *out (NaN for null), or -1 with a message. */
static int json_number_of(const struct prep_col *c, const json_t *v, double *out, const char **msg)
{
    *out = NAN;
    if (json_is_null(v))
        return 0;
    const char *s = json_is_string(v) ? json_string_value(v) : NULL;
    size_t len = s ? json_string_length(v) : 0;
    if (s && frame_is_null_like(s, len))
        return 0;
    if (c->kind == FRAME_BOOLEAN) {
        int b = 0;
        if (json_is_boolean(v))
            b = json_is_true(v);
        else if (json_is_integer(v) && (json_integer_value(v) == 0 || json_integer_value(v) == 1))
            b = (int)json_integer_value(v);
        else if (!s || frame_parse_bool(s, len, &b)) {
            *msg = "expected true or false";
            return -1;
        }
        *out = b;
        return 0;
    }
    if (json_is_number(v)) {
        *out = json_number_value(v);
        return 0;
    }
    int rc = -1;
    if (s && c->kind == FRAME_TEMPORAL)
        rc = frame_parse_temporal(s, len, out);
    else if (s)
        rc = colf_parse_number(s, len, out);
    if (rc || !isfinite(*out)) {
        *msg = c->kind == FRAME_TEMPORAL ? "expected a date (ISO 8601) or seconds since 1970"
                                         : "expected a number";
        *out = NAN;
        return -1;
    }
    return 0;
}

/* A categorical value: 0 and *idx (-1 unseen), or -1 with a message. */
static int json_category_of(const struct prep_col *c, const json_t *v, long *idx, const char **msg)
{
    char tmp[40];
    const char *s = NULL;
    if (json_is_null(v) ||
        (json_is_string(v) && frame_is_null_like(json_string_value(v), json_string_length(v))))
        s = c->cat_fill;
    else if (json_is_string(v))
        s = json_string_value(v);
    else if (json_is_boolean(v))
        s = json_is_true(v) ? "true" : "false";
    else if (json_is_number(v)) {
        mlstr_format_number(json_number_value(v), tmp, sizeof tmp);
        s = tmp;
    } else {
        *msg = "expected a category (a string)";
        return -1;
    }
    *idx = prep_cat_index(c, s);
    return 0;
}

/* Read the columns of one instance; 0 when every one was usable. */
static int read_instance(struct jstate *js, size_t row, const json_t *inst)
{
    const struct prep *p = js->p;
    size_t before = js->nproblems, nc = 0;
    for (size_t i = 0; i < p->ncols; i++) {
        const struct prep_col *c = &p->cols[i];
        const json_t *v = json_object_get(inst, c->name);
        const char *msg = NULL;
        int rc = 0;
        if (!v) {
            problem(js, row, c->name, "missing feature");
            continue;
        }
        if (c->kind == FRAME_CATEGORICAL)
            rc = json_category_of(c, v, &js->cat[nc++], &msg);
        else
            rc = json_number_of(c, v, &js->raw[c->num_index], &msg);
        if (rc)
            problem(js, row, c->name, msg);
    }
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)inst, key, v)
    {
        if (find_col(js, key) < 0 && !is_ignored(p, key))
            problem(js, row, key, "unknown feature");
    }
    return js->nproblems == before ? 0 : -1;
}

static int transform_all(struct jstate *js, const json_t *instances, double *x)
{
    for (size_t i = 0; i < json_array_size(instances); i++) {
        const json_t *inst = json_array_get(instances, i);
        if (!json_is_object(inst)) {
            problem(js, i, "", "an instance must be an object of feature values");
            continue;
        }
        if (read_instance(js, i, inst) == 0 && js->nproblems == 0)
            prep_finish_row(js->p, js->raw, js->cat, js->scratch, x + i * js->p->p);
    }
    return js->oom ? -ENOMEM : js->nproblems ? -EINVAL : 0;
}

static int jstate_init(struct jstate *js, const struct prep *p)
{
    js->p = p;
    js->problems = json_array();
    js->order = malloc(p->ncols * sizeof *js->order);
    js->raw = malloc((p->nnum ? p->nnum : 1) * sizeof *js->raw);
    js->scratch = malloc(prep_scratch_len(p) * sizeof *js->scratch);
    js->cat = malloc(p->ncols * sizeof *js->cat);
    if (!js->problems || !js->order || !js->raw || !js->scratch || !js->cat)
        return -ENOMEM;
    for (size_t i = 0; i < p->ncols; i++)
        js->order[i] = i;
    qsort_r(js->order, p->ncols, sizeof *js->order, cmp_col, (void *)p);
    return 0;
}

static void jstate_release(struct jstate *js)
{
    json_decref(js->problems);
    free(js->order);
    free(js->raw);
    free(js->scratch);
    free(js->cat);
}

int prep_transform_json_rows(const struct prep *p, const json_t *instances, double **x, size_t *n,
                             json_t **problems)
{
    struct jstate js = {0};
    double *out = NULL;
    int rc = jstate_init(&js, p);
    if (rc)
        goto done;
    if (!json_is_array(instances)) {
        problem(&js, 0, "instances", "must be an array of objects");
        rc = js.oom ? -ENOMEM : -EINVAL;
        goto done;
    }
    size_t rows = json_array_size(instances);
    out = malloc((rows ? rows : 1) * (p->p ? p->p : 1) * sizeof *out);
    if (!out) {
        rc = -ENOMEM;
        goto done;
    }
    rc = transform_all(&js, instances, out);
    if (!rc) {
        *x = out;
        *n = rows;
        out = NULL;
    }
done:
    if (rc == -EINVAL && problems) {
        *problems = js.problems;
        js.problems = NULL;
    }
    free(out);
    jstate_release(&js);
    return rc;
}
