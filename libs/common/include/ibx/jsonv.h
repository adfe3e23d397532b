/* jsonv: strict JSON parsing (size, depth, duplicate keys) and declarative validation of
 * request objects, producing the `details` of our error body. */
#ifndef IBX_JSONV_H
#define IBX_JSONV_H

#include <jansson.h>
#include <stddef.h>

#define JSONV_MAX_DEPTH 32

enum jsonv_type {
    JSONV_STRING,
    JSONV_INT,
    JSONV_NUMBER,
    JSONV_BOOL,
    JSONV_OBJECT,
    JSONV_ARRAY,
    JSONV_ANY
};

struct jsonv_field {
    const char *name;
    enum jsonv_type type;
    int required;
    size_t max_len;  /* strings: max bytes; arrays: max items; 0 = no limit */
    double min, max; /* numbers: inclusive range, ignored when min > max */
    int nullable;    /* JSON null accepted as "absent" */
};

/* Parse len bytes. Rejects: depth over max_depth, duplicate object keys, invalid UTF-8,
 * trailing garbage, and any top-level value that is not an object or array.
 * 0 and *out (caller decrefs), or -EINVAL with a human message in err. */
int jsonv_parse(const char *data, size_t len, size_t max_depth, json_t **out, char *err,
                size_t errlen) __attribute__((warn_unused_result));

/* Check obj against fields. With strict, unknown keys are problems too. Returns 0 when
 * valid; otherwise -EINVAL and *details = {"fields":[{"field","problem"},...]} (caller
 * decrefs). */
int jsonv_check(const json_t *obj, const struct jsonv_field *fields, size_t n, int strict,
                json_t **details) __attribute__((warn_unused_result));

/* The string member or NULL when absent, null or not a string. Borrowed. */
const char *jsonv_str(const json_t *obj, const char *key);

#endif
