/* scoring: the IBIS-X dataset scores (twelve criteria, weighted relevance); pure functions. */
#include "selection.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

const char *const score_criteria[SCORE_NCRITERIA] = {
    "ethical_score",   "technical_score",  "popularity_score", "anonymization",
    "transparency",    "informed_consent", "documentation",    "data_quality",
    "instances_count", "features_count",   "citations",        "year",
};

/* 1 when d[k] is JSON true. */
static int sc_true(const json_t *d, const char *k)
{
    return json_is_true(json_object_get(d, k));
}

/* 1 when d[k] is present and not null. */
static int sc_known(const json_t *d, const char *k)
{
    const json_t *v = json_object_get(d, k);
    return v && !json_is_null(v);
}

/* 1 and *out when d[k] is a number. */
static int sc_num(const json_t *d, const char *k, double *out)
{
    const json_t *v = json_object_get(d, k);
    if (!json_is_number(v))
        return 0;
    *out = json_number_value(v);
    return 1;
}

static double sc_clamp01(double x)
{
    return x < 0 ? 0 : (x > 1 ? 1 : x);
}

double score_ethical(const json_t *d)
{
    int n = 0;
    for (size_t i = 0; i < META_NETHICAL; i++)
        n += sc_true(d, meta_ethical_flags[i]);
    return n / 10.0;
}

/* The size components of the technical score: instances and features (0.15 each). */
static void sc_technical_size(const json_t *d, double *earned, double *possible)
{
    double n, f;
    if (sc_num(d, "instances_number", &n)) {
        *possible += 0.15;
        if (n > 0)
            *earned += 0.15 * sc_clamp01((log10(n < 1 ? 1 : n) - 2) / 3);
    }
    if (sc_num(d, "features_number", &f)) {
        *possible += 0.15;
        if (f >= 10 && f <= 100)
            *earned += 0.15;
        else if (f > 100)
            *earned += 0.15 * fmax(0.5, 1 - (f - 100) / 1000);
        else if (f > 0)
            *earned += 0.15 * (f / 10);
    }
}

double score_technical(const json_t *d)
{
    double earned = 0, possible = 0, gmp;
    if (sc_known(d, "metadata_provided_with_dataset")) {
        possible += 0.15;
        earned += sc_true(d, "metadata_provided_with_dataset") ? 0.15 : 0;
    }
    if (sc_known(d, "external_documentation_available")) {
        possible += 0.15;
        earned += sc_true(d, "external_documentation_available") ? 0.15 : 0;
    }
    if (sc_known(d, "has_missing_values")) {
        possible += 0.20;
        if (!sc_true(d, "has_missing_values"))
            earned += 0.20;
        else if (sc_num(d, "global_missing_percentage", &gmp))
            earned += 0.20 * fmax(0, (100 - gmp) / 100);
    }
    if (sc_known(d, "split")) {
        possible += 0.20;
        earned += sc_true(d, "split") ? 0.20 : 0;
    }
    sc_technical_size(d, &earned, &possible);
    return possible > 0 ? earned / possible : 0;
}

double score_popularity(const json_t *d)
{
    double c;
    if (!sc_num(d, "num_citations", &c) || c <= 0)
        return 0;
    return sc_clamp01(log10(c) / 3);
}

/* data_quality: 1 when has_missing_values is not true (null counts as 1), else the share
 * of present cells when the missing percentage is known, else 0.5. */
static double sc_data_quality(const json_t *d)
{
    double gmp;
    if (!sc_true(d, "has_missing_values"))
        return 1;
    if (sc_num(d, "global_missing_percentage", &gmp))
        return (100 - gmp) / 100;
    return 0.5;
}

void score_all(const json_t *d, double out[SCORE_NCRITERIA])
{
    double n = 0, f = 0, year = 0;
    int has_n = sc_num(d, "instances_number", &n) && n != 0;
    int has_f = sc_num(d, "features_number", &f) && f != 0;
    int has_y = sc_num(d, "year", &year) && year != 0;
    out[0] = score_ethical(d);
    out[1] = score_technical(d);
    out[2] = score_popularity(d);
    out[3] = sc_true(d, "anonymization_applied");
    out[4] = sc_true(d, "transparency");
    out[5] = sc_true(d, "informed_consent");
    out[6] = sc_true(d, "metadata_provided_with_dataset") ||
             sc_true(d, "external_documentation_available");
    out[7] = sc_data_quality(d);
    out[8] = has_n ? fmin(1, log10(n < 1 ? 1 : n) / 5) : 0;
    out[9] = has_f ? fmin(1, f / 100) : 0;
    out[10] = out[2];
    out[11] = has_y ? sc_clamp01((year - 2000) / 24) : 0;
}

double score_combine(const double s[SCORE_NCRITERIA], const struct score_weights *w)
{
    double num = 0, den = 0;
    for (size_t i = 0; w && i < SCORE_NCRITERIA; i++) {
        num += s[i] * w->w[i];
        den += w->w[i];
    }
    if (den > 0)
        return num / den;
    /* no weights (or all zero): ethical 0.4, technical 0.4, popularity 0.2 */
    return 0.4 * s[0] + 0.4 * s[1] + 0.2 * s[2];
}

int score_criterion_index(const char *name)
{
    for (int i = 0; name && i < SCORE_NCRITERIA; i++)
        if (strcmp(score_criteria[i], name) == 0)
            return i;
    return -1;
}

static void sc_problem(json_t **details, const char *field, const char *problem)
{
    if (!*details)
        *details = json_pack("{s:[]}", "fields");
    json_array_append_new(json_object_get(*details, "fields"),
                          json_pack("{s:s, s:s}", "field", field, "problem", problem));
}

/* One {criterion_name, weight} item at position i. */
static void sc_parse_item(const json_t *it, size_t i, struct score_weights *w, int seen[],
                          json_t **details)
{
    char field[64];
    snprintf(field, sizeof(field), "weights[%zu]", i);
    const json_t *name = json_object_get(it, "criterion_name");
    const json_t *weight = json_object_get(it, "weight");
    if (!json_is_object(it) || json_object_size(it) != 2 || !name || !weight) {
        sc_problem(details, field, "must be an object {criterion_name, weight}");
        return;
    }
    int k = score_criterion_index(json_string_value(name));
    if (k < 0) {
        char msg[200];
        snprintf(msg, sizeof(msg), "criterion_name %.64s is not a known criterion",
                 json_is_string(name) ? json_string_value(name) : "(not a string)");
        sc_problem(details, field, msg);
        return;
    }
    double v = json_is_number(weight) ? json_number_value(weight) : -1;
    if (!json_is_number(weight) || !(v >= 0 && v <= 1)) {
        sc_problem(details, field, "weight must be a number from 0 to 1");
        return;
    }
    if (seen[k]++) {
        sc_problem(details, field, "criterion_name is given more than once");
        return;
    }
    w->w[k] = v;
}

int score_parse_weights(const json_t *arr, struct score_weights *out, json_t **details)
{
    struct score_weights w = {{0}};
    int seen[SCORE_NCRITERIA] = {0};
    json_t *d = NULL;
    if (arr && !json_is_null(arr) && !json_is_array(arr))
        sc_problem(&d, "weights", "must be an array of {criterion_name, weight}");
    const json_t *it;
    size_t i;
    json_array_foreach(arr, i, it)
    {
        sc_parse_item(it, i, &w, seen, &d);
    }
    if (d) {
        *details = d;
        return -EINVAL;
    }
    *out = w;
    return 0;
}

json_t *score_weights_normalised(const json_t *arr)
{
    json_t *out = json_array();
    double sum = 0;
    const json_t *it;
    size_t i;
    json_array_foreach(arr, i, it)
    {
        sum += json_number_value(json_object_get(it, "weight"));
    }
    json_array_foreach(arr, i, it)
    {
        double v = json_number_value(json_object_get(it, "weight"));
        json_array_append_new(out, json_pack("{s:O, s:f}", "criterion_name",
                                             json_object_get(it, "criterion_name"), "weight",
                                             sum > 1 ? v / sum : v));
    }
    return out;
}

void score_annotate(json_t *d, const struct score_weights *w)
{
    double s[SCORE_NCRITERIA];
    score_all(d, s);
    json_t *cs = json_object();
    for (size_t i = 0; i < SCORE_NCRITERIA; i++)
        json_object_set_new(cs, score_criteria[i], json_real(s[i]));
    if (w)
        json_object_set_new(d, "score", json_real(score_combine(s, w)));
    json_object_set_new(d, "ethical_score", json_real(s[0]));
    json_object_set_new(d, "technical_score", json_real(s[1]));
    json_object_set_new(d, "popularity_score", json_real(s[2]));
    json_object_set_new(d, "criterion_scores", cs);
}
