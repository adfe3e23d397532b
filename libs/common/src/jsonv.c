/* jsonv: strict JSON parsing and request validation. */
#include <ibx/jsonv.h>

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Nesting depth of a JSON text, ignoring brackets inside strings. */
static size_t jsonv_depth(const char *s, size_t len)
{
    size_t depth = 0, max = 0;
    int in_str = 0, esc = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (in_str) {
            if (esc)
                esc = 0;
            else if (c == '\\')
                esc = 1;
            else if (c == '"')
                in_str = 0;
            continue;
        }
        if (c == '"') {
            in_str = 1;
        } else if (c == '{' || c == '[') {
            if (++depth > max)
                max = depth;
        } else if ((c == '}' || c == ']') && depth > 0) {
            depth--;
        }
    }
    return max;
}

int jsonv_parse(const char *data, size_t len, size_t max_depth, json_t **out, char *err,
                size_t errlen)
{
    if (len == 0) {
        snprintf(err, errlen, "the body is empty; a JSON object was expected");
        return -EINVAL;
    }
    if (jsonv_depth(data, len) > max_depth) {
        snprintf(err, errlen, "JSON is nested deeper than %zu levels", max_depth);
        return -EINVAL;
    }
    json_error_t je;
    json_t *v = json_loadb(data, len, JSON_REJECT_DUPLICATES, &je);
    if (!v) {
        snprintf(err, errlen, "invalid JSON at line %d column %d: %s", je.line, je.column, je.text);
        return -EINVAL;
    }
    *out = v;
    return 0;
}

static const char *jsonv_type_name(enum jsonv_type t)
{
    static const char *const names[] = {"a string",  "an integer", "a number", "a boolean",
                                        "an object", "an array",   "a value"};
    return names[t];
}

static int jsonv_type_ok(const json_t *v, enum jsonv_type t)
{
    switch (t) {
    case JSONV_STRING:
        return json_is_string(v);
    case JSONV_INT:
        return json_is_integer(v);
    case JSONV_NUMBER:
        return json_is_number(v);
    case JSONV_BOOL:
        return json_is_boolean(v);
    case JSONV_OBJECT:
        return json_is_object(v);
    case JSONV_ARRAY:
        return json_is_array(v);
    case JSONV_ANY:
        return 1;
    }
    return 0;
}

static void jsonv_problem(json_t *list, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void jsonv_problem(json_t *list, const char *field, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    json_t *p = json_object();
    json_object_set_new(p, "field", json_string(field));
    json_object_set_new(p, "problem", json_string(msg));
    json_array_append_new(list, p);
}

static void jsonv_check_field(const json_t *v, const struct jsonv_field *f, json_t *list)
{
    if (!jsonv_type_ok(v, f->type)) {
        jsonv_problem(list, f->name, "must be %s", jsonv_type_name(f->type));
        return;
    }
    if (json_is_string(v) && f->max_len && json_string_length(v) > f->max_len) {
        jsonv_problem(list, f->name, "must be at most %zu characters", f->max_len);
        return;
    }
    if (json_is_array(v) && f->max_len && json_array_size(v) > f->max_len) {
        jsonv_problem(list, f->name, "must have at most %zu items", f->max_len);
        return;
    }
    if (json_is_number(v) && f->min <= f->max) {
        double d = json_number_value(v);
        if (!isfinite(d) || d < f->min || d > f->max)
            jsonv_problem(list, f->name, "must be between %g and %g", f->min, f->max);
    }
}

int jsonv_check(const json_t *obj, const struct jsonv_field *fields, size_t n, int strict,
                json_t **details)
{
    json_t *list = json_array();
    if (!json_is_object(obj)) {
        jsonv_problem(list, "", "the body must be a JSON object");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        const json_t *v = json_object_get(obj, fields[i].name);
        if (!v || (json_is_null(v) && fields[i].nullable)) {
            if (fields[i].required)
                jsonv_problem(list, fields[i].name, "is required");
            continue;
        }
        jsonv_check_field(v, &fields[i], list);
    }
    if (strict) {
        const char *key;
        const json_t *v;
        json_object_foreach((json_t *)obj, key, v)
        {
            size_t i = 0;
            while (i < n && strcmp(fields[i].name, key) != 0)
                i++;
            if (i == n)
                jsonv_problem(list, key, "is not a known field");
        }
    }
done:
    if (json_array_size(list) == 0) {
        json_decref(list);
        return 0;
    }
    *details = json_pack("{s:o}", "fields", list);
    return -EINVAL;
}

const char *jsonv_str(const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}
