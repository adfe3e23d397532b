/* th_mldata: fixture data sets for the learner tests: CSV loading, the shared split, scaling. */
#include "th_mldata.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int push(double **v, size_t *len, size_t *cap, double x)
{
    if (*len == *cap) {
        size_t ncap = *cap ? *cap * 2 : 1024;
        double *tmp = realloc(*v, ncap * sizeof *tmp);
        if (!tmp)
            return -ENOMEM;
        *v = tmp;
        *cap = ncap;
    }
    (*v)[(*len)++] = x;
    return 0;
}

/* Parse one data line into vals; returns the number of fields or -EINVAL. */
static long parse_line(char *line, double **vals, size_t *len, size_t *cap)
{
    long fields = 0;
    char *p = line;
    for (;;) {
        char *end;
        errno = 0;
        double v = strtod(p, &end);
        if (end == p || errno || !isfinite(v))
            return -EINVAL;
        if (push(vals, len, cap, v))
            return -ENOMEM;
        fields++;
        if (*end == ',') {
            p = end + 1;
            continue;
        }
        if (*end == '\n' || *end == '\r' || *end == '\0')
            return fields;
        return -EINVAL;
    }
}

static int read_rows(FILE *f, struct th_mldata *out, double **vals, size_t *len)
{
    char line[16384];
    size_t cap = 0;
    long width = -1;
    if (!fgets(line, sizeof line, f))
        return -EINVAL; /* the header */
    while (fgets(line, sizeof line, f)) {
        long w = parse_line(line, vals, len, &cap);
        if (w < 2 || (width >= 0 && w != width))
            return w < 0 ? (int)w : -EINVAL;
        width = w;
        out->n++;
    }
    if (width < 2)
        return -EINVAL;
    out->p = (size_t)width - 1;
    return 0;
}

static int split_columns(const double *vals, size_t len, struct th_mldata *out)
{
    if (len != out->n * (out->p + 1))
        return -EINVAL;
    out->x = malloc(out->n * out->p * sizeof *out->x);
    out->y = malloc(out->n * sizeof *out->y);
    if (!out->x || !out->y)
        return -ENOMEM;
    out->nclasses = 0;
    for (size_t i = 0; i < out->n; i++) {
        const double *row = vals + i * (out->p + 1);
        memcpy(out->x + i * out->p, row, out->p * sizeof *vals);
        memcpy(out->y + i, row + out->p, sizeof *vals);
        if (out->y[i] >= 0 && out->y[i] + 1 > (double)out->nclasses)
            out->nclasses = (size_t)out->y[i] + 1;
    }
    return 0;
}

int th_mldata_load(const char *name, struct th_mldata *out)
{
    char path[512];
    snprintf(path, sizeof path, "tests/fixtures/%s.csv", name);
    FILE *f = fopen(path, "r");
    if (!f)
        return -ENOENT;
    memset(out, 0, sizeof *out);
    double *vals = NULL;
    size_t len = 0;
    int rc = read_rows(f, out, &vals, &len);
    fclose(f);
    if (rc == 0)
        rc = split_columns(vals, len, out);
    free(vals);
    if (rc)
        th_mldata_free(out);
    return rc;
}

void th_mldata_free(struct th_mldata *d)
{
    if (!d)
        return;
    free(d->x);
    free(d->y);
    memset(d, 0, sizeof *d);
}

static int alloc_like(const struct th_mldata *d, size_t n, struct th_mldata *out)
{
    out->n = n;
    out->p = d->p;
    out->nclasses = d->nclasses;
    out->x = malloc((n ? n : 1) * d->p * sizeof *out->x);
    out->y = malloc((n ? n : 1) * sizeof *out->y);
    return out->x && out->y ? 0 : -ENOMEM;
}

int th_mldata_split(const struct th_mldata *d, struct th_mldata *train, struct th_mldata *test)
{
    memset(train, 0, sizeof *train);
    memset(test, 0, sizeof *test);
    size_t ntest = (d->n + 3) / 4;
    if (alloc_like(d, d->n - ntest, train) || alloc_like(d, ntest, test)) {
        th_mldata_free(train);
        th_mldata_free(test);
        return -ENOMEM;
    }
    size_t a = 0, b = 0;
    for (size_t i = 0; i < d->n; i++) {
        struct th_mldata *to = i % 4 == 0 ? test : train;
        size_t *k = i % 4 == 0 ? &b : &a;
        memcpy(to->x + *k * d->p, d->x + i * d->p, d->p * sizeof *d->x);
        to->y[*k] = d->y[i];
        (*k)++;
    }
    return 0;
}

static void scale_column(struct th_mldata *d, size_t j, double mean, double sd)
{
    for (size_t i = 0; i < d->n; i++)
        d->x[i * d->p + j] = (d->x[i * d->p + j] - mean) / sd;
}

void th_mldata_standardize(struct th_mldata *train, struct th_mldata *test)
{
    for (size_t j = 0; j < train->p; j++) {
        double mean = 0.0, var = 0.0;
        for (size_t i = 0; i < train->n; i++)
            mean += train->x[i * train->p + j];
        mean /= (double)train->n;
        for (size_t i = 0; i < train->n; i++) {
            double dv = train->x[i * train->p + j] - mean;
            var += dv * dv;
        }
        double sd = sqrt(var / (double)train->n);
        if (!(sd > 0))
            sd = 1.0;
        scale_column(train, j, mean, sd);
        scale_column(test, j, mean, sd);
    }
}

double th_accuracy(const double *truth, const double *pred, size_t n)
{
    size_t ok = 0;
    for (size_t i = 0; i < n; i++)
        ok += truth[i] == pred[i];
    return n ? (double)ok / (double)n : 0.0;
}

size_t th_ml_tamper_accepted(const void *data, size_t len, th_ml_loader load)
{
    unsigned char *copy = malloc(len ? len : 1);
    if (!copy)
        return len + 1;
    size_t accepted = 0;
    size_t step = len / 2000 + 1;
    for (size_t i = 0; i < len; i += step) {
        memcpy(copy, data, len);
        copy[i] ^= (unsigned char)(1u << (i % 8));
        accepted += load(copy, len) == 0;
        accepted += load(copy, i) == 0; /* truncated before byte i */
    }
    memcpy(copy, data, len);
    accepted += load(copy, len - 1) == 0;
    free(copy);
    return accepted;
}
