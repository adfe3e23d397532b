/* datasheet: a dataset's datasheet views: completion status, Croissant JSON-LD with its
 * responsible-AI fields, and the wording of similarity; pure JSON, no HTTP or SQL. */
#include "selection.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* ---- completion (IBIS-X §2.6) ---- */

static const struct {
    const char *field, *category, *description;
} required[] = {
    {"informed_consent", "ethical", "whether the people in the data consented to its use"},
    {"transparency", "ethical", "whether collection and processing are openly documented"},
    {"anonymization_applied", "ethical", "whether personal data was anonymized"},
    {"data_quality_documented", "ethical", "whether the data's quality is documented"},
    {"instances_number", "technical", "the number of rows"},
    {"features_number", "technical", "the number of columns"},
    {"domain", "technical", "the application domains"},
    {"task", "technical", "the machine-learning tasks it serves"},
    {"name", "general", "the dataset's short name"},
    {"objective", "general", "what the dataset is for"},
    {"sources", "general", "where the data comes from"},
};
static const size_t NREQUIRED = sizeof(required) / sizeof(required[0]);

/* 1 when the value says nothing: absent, null, an empty string or an empty list. */
static int dsh_missing(const json_t *v)
{
    return !v || json_is_null(v) || (json_is_string(v) && json_string_length(v) == 0) ||
           (json_is_array(v) && json_array_size(v) == 0);
}

/* 1 when field holds a value that templates and forms fill in by default. */
static int dsh_default_looking(const char *field, const json_t *v)
{
    const char *s = json_string_value(v);
    if (strcmp(field, "informed_consent") == 0 || strcmp(field, "transparency") == 0)
        return json_is_true(v);
    if (strcmp(field, "representativity_level") == 0)
        return s && strcmp(s, "medium") == 0;
    if (strcmp(field, "sample_balance_level") == 0)
        return s && (strcmp(s, "balanced") == 0 || strcmp(s, "moderate") == 0);
    return 0;
}

static void dsh_default_entry(json_t *list, const char *field, const json_t *v)
{
    json_array_append_new(list, json_pack("{s:s, s:O, s:s}", "field", field, "value", v, "reason",
                                          "this is the value forms and templates fill in by "
                                          "default; confirm it against the source"));
}

json_t *datasheet_completion(const json_t *d)
{
    json_t *missing = json_array(), *defaults = json_array(), *review = json_array();
    json_t *complete = json_array();
    double credit = 0;
    for (size_t i = 0; i < NREQUIRED; i++) {
        const json_t *v = json_object_get(d, required[i].field);
        if (dsh_missing(v)) {
            json_array_append_new(missing, json_pack("{s:s, s:s, s:s}", "field", required[i].field,
                                                     "category", required[i].category,
                                                     "description", required[i].description));
        } else if (dsh_default_looking(required[i].field, v)) {
            credit += 0.5;
            dsh_default_entry(defaults, required[i].field, v);
        } else {
            credit += 1;
            json_array_append_new(complete, json_string(required[i].field));
        }
    }
    const char *levels[] = {"representativity_level", "sample_balance_level"};
    for (size_t i = 0; i < 2; i++) {
        const json_t *v = json_object_get(d, levels[i]);
        if (dsh_default_looking(levels[i], v))
            dsh_default_entry(defaults, levels[i], v);
    }
    const char *sensitive[] = {"informed_consent", "anonymization_applied",
                               "equity_non_discrimination"};
    for (size_t i = 0; i < 3; i++) {
        const json_t *v = json_object_get(d, sensitive[i]);
        if (!dsh_missing(v))
            json_array_append_new(review, json_pack("{s:s, s:O, s:s}", "field", sensitive[i],
                                                    "value", v, "reason",
                                                    "an ethical claim with consequences for "
                                                    "users; check it against the source's "
                                                    "documentation"));
    }
    double overall = round(credit * 1000.0 / (double)NREQUIRED) / 10.0;
    return json_pack("{s:f, s:o, s:o, s:o, s:o}", "overall_completion", overall, "missing_fields",
                     missing, "default_values", defaults, "needs_review", review, "complete_fields",
                     complete);
}

/* ---- similarity (IBIS-X §7.4) ---- */

/* "a, b" of a string array into out; 0 when empty. */
static size_t dsh_join(const json_t *arr, char *out, size_t len)
{
    size_t used = 0;
    const json_t *v;
    size_t i;
    out[0] = '\0';
    json_array_foreach(arr, i, v)
    {
        int n = snprintf(out + used, len - used, "%s%s", used ? ", " : "", json_string_value(v));
        if (n < 0 || (size_t)n >= len - used)
            break;
        used += (size_t)n;
    }
    return used;
}

/* Advance used by the snprintf result n, staying inside len. */
static size_t dsh_advance(size_t used, int n, size_t len)
{
    if (n < 0)
        return used;
    return used + (size_t)n < len ? used + (size_t)n : len - 1;
}

/* Append "label: a, b" for the values of key shared by d and o. */
static size_t dsh_shared(const json_t *d, const json_t *o, const char *key, const char *label,
                         char *out, size_t len, size_t used)
{
    json_t *common = json_array();
    const json_t *x, *y;
    size_t i, k;
    json_array_foreach(json_object_get(d, key), i, x)
    {
        json_array_foreach(json_object_get(o, key), k, y)
        {
            if (json_equal(x, y)) {
                json_array_append(common, (json_t *)x);
                break;
            }
        }
    }
    char list[512];
    if (dsh_join(common, list, sizeof(list)) && used < len)
        used = dsh_advance(
            used, snprintf(out + used, len - used, "%s%s: %s", used ? "; " : "", label, list), len);
    json_decref(common);
    return used;
}

void datasheet_similarity(const json_t *d, const json_t *other, char *out, size_t len)
{
    out[0] = '\0';
    size_t used = dsh_shared(d, other, "domain", "shared domains", out, len, 0);
    used = dsh_shared(d, other, "task", "shared tasks", out, len, used);
    double a = json_number_value(json_object_get(d, "instances_number"));
    double b = json_number_value(json_object_get(other, "instances_number"));
    if (a > 0 && b > 0 && fmin(a, b) / fmax(a, b) > 0.5 && used < len)
        used = dsh_advance(
            used, snprintf(out + used, len - used, "%ssimilar size", used ? "; " : ""), len);
    if (used == 0)
        snprintf(out, len, "recently added");
}

/* ---- Croissant 1.0 (https://mlcommons.org/croissant/1.0) with the RAI vocabulary ---- */

static json_t *dsh_context(void)
{
    static const char *const terms[][2] = {
        {"@language", "en"},
        {"@vocab", "https://schema.org/"},
        {"sc", "https://schema.org/"},
        {"cr", "http://mlcommons.org/croissant/"},
        {"rai", "http://mlcommons.org/croissant/RAI/"},
        {"dct", "http://purl.org/dc/terms/"},
        {"citeAs", "cr:citeAs"},
        {"column", "cr:column"},
        {"conformsTo", "dct:conformsTo"},
        {"extract", "cr:extract"},
        {"field", "cr:field"},
        {"fileObject", "cr:fileObject"},
        {"fileProperty", "cr:fileProperty"},
        {"fileSet", "cr:fileSet"},
        {"format", "cr:format"},
        {"includes", "cr:includes"},
        {"isLiveDataset", "cr:isLiveDataset"},
        {"jsonPath", "cr:jsonPath"},
        {"key", "cr:key"},
        {"md5", "cr:md5"},
        {"parentField", "cr:parentField"},
        {"path", "cr:path"},
        {"recordSet", "cr:recordSet"},
        {"references", "cr:references"},
        {"regex", "cr:regex"},
        {"repeated", "cr:repeated"},
        {"replace", "cr:replace"},
        {"separator", "cr:separator"},
        {"source", "cr:source"},
        {"subField", "cr:subField"},
        {"transform", "cr:transform"},
    };
    json_t *c = json_object();
    for (size_t i = 0; i < sizeof(terms) / sizeof(terms[0]); i++)
        json_object_set_new(c, terms[i][0], json_string(terms[i][1]));
    json_object_set_new(c, "data", json_pack("{s:s, s:s}", "@id", "cr:data", "@type", "@json"));
    json_object_set_new(c, "dataType",
                        json_pack("{s:s, s:s}", "@id", "cr:dataType", "@type", "@vocab"));
    json_object_set_new(c, "examples",
                        json_pack("{s:s, s:s}", "@id", "cr:examples", "@type", "@json"));
    return c;
}

/* Copy d[from] to doc[to] when it is a non-empty string. */
static void dsh_copy(json_t *doc, const char *to, const json_t *d, const char *from)
{
    const json_t *v = json_object_get(d, from);
    if (json_is_string(v) && json_string_length(v) > 0)
        json_object_set(doc, to, (json_t *)v);
}

static const char *dsh_data_type(const char *interpreted)
{
    static const char *const map[][2] = {{"numerical_integer", "sc:Integer"},
                                         {"numerical_float", "sc:Float"},
                                         {"boolean", "sc:Boolean"},
                                         {"temporal", "sc:Date"}};
    for (size_t i = 0; interpreted && i < 4; i++)
        if (strcmp(interpreted, map[i][0]) == 0)
            return map[i][1];
    return "sc:Text"; /* categorical, text */
}

/* One cr:Field for column c of file f (whose record set is rs). */
static json_t *dsh_field(const json_t *f, const json_t *c, const char *rs)
{
    const char *name = json_string_value(json_object_get(c, "name"));
    const char *format = json_string_value(json_object_get(f, "format"));
    char id[512], path[300];
    snprintf(id, sizeof(id), "%s/%s", rs, name ? name : "");
    json_t *extract;
    if (format && (strcmp(format, "json") == 0 || strcmp(format, "jsonl") == 0)) {
        snprintf(path, sizeof(path), "$.%s", name ? name : "");
        extract = json_pack("{s:s}", "jsonPath", path);
    } else {
        extract = json_pack("{s:s}", "column", name ? name : "");
    }
    json_t *field =
        json_pack("{s:s, s:s, s:s, s:s, s:{s:{s:O}, s:o}}", "@type", "cr:Field", "@id", id, "name",
                  name ? name : "", "dataType",
                  dsh_data_type(json_string_value(json_object_get(c, "data_type_interpreted"))),
                  "source", "fileObject", "@id", json_object_get(f, "id"), "extract", extract);
    dsh_copy(field, "description", c, "description");
    return field;
}

/* distribution (one cr:FileObject per file) and recordSet (one cr:RecordSet per file). */
static void dsh_files(json_t *doc, const json_t *d)
{
    json_t *dist = json_array(), *sets = json_array();
    const char *id = json_string_value(json_object_get(d, "id"));
    const json_t *f, *c;
    size_t i, k;
    json_array_foreach(json_object_get(d, "files"), i, f)
    {
        const char *fid = json_string_value(json_object_get(f, "id"));
        char url[256], rs[64], size[48];
        snprintf(url, sizeof(url), "/api/v1/datasets/%s/files/%s/download", id, fid);
        snprintf(rs, sizeof(rs), "records-%zu", i);
        snprintf(size, sizeof(size), "%" JSON_INTEGER_FORMAT " B",
                 json_integer_value(json_object_get(f, "size_bytes")));
        json_array_append_new(
            dist, json_pack("{s:s, s:s, s:O, s:s, s:O, s:O, s:s}", "@type", "cr:FileObject", "@id",
                            fid, "name", json_object_get(f, "original_filename"), "contentUrl", url,
                            "encodingFormat", json_object_get(f, "media_type"), "sha256",
                            json_object_get(f, "sha256"), "contentSize", size));
        json_t *fields = json_array();
        json_array_foreach(json_object_get(f, "columns"), k, c)
        {
            json_array_append_new(fields, dsh_field(f, c, rs));
        }
        json_array_append_new(
            sets, json_pack("{s:s, s:s, s:O, s:o}", "@type", "cr:RecordSet", "@id", rs, "name",
                            json_object_get(f, "original_filename"), "field", fields));
    }
    json_object_set_new(doc, "distribution", dist);
    json_object_set_new(doc, "recordSet", sets);
}

/* "Label: level (description)" parts for the biases statement. */
static size_t dsh_level(const json_t *d, const char *label, const char *level, const char *desc,
                        char *out, size_t len, size_t used)
{
    const char *l = json_string_value(json_object_get(d, level));
    const char *t = json_string_value(json_object_get(d, desc));
    if ((!l || !*l) && (!t || !*t))
        return used;
    int n = snprintf(out + used, len - used, "%s%s: %s%s%s%s", used ? ". " : "", label,
                     l && *l ? l : "not stated", t && *t ? " (" : "", t && *t ? t : "",
                     t && *t ? ")" : "");
    return dsh_advance(used, n, len);
}

/* The personal-data statement: PII-flagged columns and the anonymization flag. */
static void dsh_personal(json_t *doc, const json_t *d)
{
    json_t *pii = json_array();
    const json_t *f, *c;
    size_t i, k;
    json_array_foreach(json_object_get(d, "files"), i, f)
    {
        json_array_foreach(json_object_get(f, "columns"), k, c)
        {
            if (json_is_true(json_object_get(c, "is_pii")))
                json_array_append(pii, json_object_get(c, "name"));
        }
    }
    const json_t *anon = json_object_get(d, "anonymization_applied");
    char cols[1024], text[1400];
    int n = 0;
    if (dsh_join(pii, cols, sizeof(cols)))
        n = snprintf(text, sizeof(text), "Columns flagged as personal data: %s.", cols);
    if (json_is_boolean(anon))
        snprintf(text + n, sizeof(text) - (size_t)n, "%s%s", n ? " " : "",
                 json_is_true(anon) ? "Anonymization was applied."
                                    : "The data was not anonymized.");
    if (n || json_is_boolean(anon))
        json_object_set_new(doc, "rai:personalSensitiveInformation", json_string(text));
    json_decref(pii);
}

/* The RAI statements our metadata supports; what is unknown stays absent. */
static void dsh_rai(json_t *doc, const json_t *d)
{
    char text[4200], list[1024];
    dsh_copy(doc, "rai:dataCollection", d, "sources");
    dsh_copy(doc, "rai:dataLimitations", d, "data_errors_description");
    dsh_copy(doc, "rai:dataImputationProtocol", d, "missing_values_handling_method");
    const char *objective = json_string_value(json_object_get(d, "objective"));
    size_t tasks = dsh_join(json_object_get(d, "task"), list, sizeof(list));
    if ((objective && *objective) || tasks) {
        snprintf(text, sizeof(text), "%s%s%s%s", objective ? objective : "",
                 objective && *objective && tasks ? " " : "", tasks ? "Tasks: " : "",
                 tasks ? list : "");
        json_object_set_new(doc, "rai:dataUseCases", json_string(text));
    }
    size_t used = dsh_level(d, "Representativity", "representativity_level",
                            "representativity_description", text, sizeof(text), 0);
    used = dsh_level(d, "Sample balance", "sample_balance_level", "sample_balance_description",
                     text, sizeof(text), used);
    if (used)
        json_object_set_new(doc, "rai:dataBiases", json_string(text));
    const json_t *has = json_object_get(d, "has_missing_values");
    const json_t *gmp = json_object_get(d, "global_missing_percentage");
    const char *desc = json_string_value(json_object_get(d, "missing_values_description"));
    if (json_is_boolean(has)) {
        int n = json_is_true(has) && json_is_number(gmp)
                    ? snprintf(text, sizeof(text), "%.2f%% of the values are missing.",
                               json_number_value(gmp))
                    : snprintf(text, sizeof(text), "%s",
                               json_is_true(has) ? "Some values are missing."
                                                 : "No values are missing.");
        if (desc && *desc && n >= 0)
            snprintf(text + n, sizeof(text) - (size_t)n, " %s", desc);
        json_object_set_new(doc, "rai:dataCollectionMissingData", json_string(text));
    }
    dsh_personal(doc, d);
}

/* The ten ethical flags that are known, as schema.org PropertyValues. */
static void dsh_flags(json_t *doc, const json_t *d)
{
    json_t *props = json_array();
    for (size_t i = 0; i < META_NETHICAL; i++) {
        const json_t *v = json_object_get(d, meta_ethical_flags[i]);
        if (json_is_boolean(v))
            json_array_append_new(props, json_pack("{s:s, s:s, s:O}", "@type", "sc:PropertyValue",
                                                   "name", meta_ethical_flags[i], "value", v));
    }
    if (json_array_size(props))
        json_object_set_new(doc, "additionalProperty", props);
    else
        json_decref(props);
}

json_t *datasheet_croissant(const json_t *d)
{
    json_t *doc = json_pack("{s:o, s:s, s:s}", "@context", dsh_context(), "@type", "sc:Dataset",
                            "conformsTo", "http://mlcommons.org/croissant/1.0");
    dsh_copy(doc, "name", d, "display_name");
    dsh_copy(doc, "alternateName", d, "name");
    dsh_copy(doc, "description", d, "objective");
    dsh_copy(doc, "license", d, "license");
    dsh_copy(doc, "url", d, "storage_uri");
    if (!json_object_get(doc, "url"))
        dsh_copy(doc, "url", d, "documentation_link");
    dsh_copy(doc, "citeAs", d, "citation_link");
    dsh_copy(doc, "version", d, "version");
    const json_t *year = json_object_get(d, "year");
    if (json_is_integer(year)) {
        char y[16];
        snprintf(y, sizeof(y), "%04d", (int)json_integer_value(year));
        json_object_set_new(doc, "datePublished", json_string(y));
    }
    json_t *kw = json_array();
    json_array_extend(kw, json_object_get(d, "domain"));
    json_array_extend(kw, json_object_get(d, "task"));
    if (json_array_size(kw))
        json_object_set_new(doc, "keywords", kw);
    else
        json_decref(kw);
    dsh_files(doc, d);
    dsh_rai(doc, d);
    dsh_flags(doc, d);
    return doc;
}
