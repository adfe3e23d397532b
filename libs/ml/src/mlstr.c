/* mlstr: strings and JSON helpers shared by the libs/ml pipeline modules (internal). */
#include "mlstr.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void mlstr_put(struct mlenc_writer *w, const char *s)
{
    if (!s) {
        mlenc_put_u64(w, UINT64_MAX);
        return;
    }
    size_t len = strlen(s);
    mlenc_put_u64(w, len);
    for (size_t i = 0; i < len; i += 8) {
        uint64_t word = 0;
        for (size_t k = 0; k < 8 && i + k < len; k++)
            word |= (uint64_t)(unsigned char)s[i + k] << (8 * k);
        mlenc_put_u64(w, word);
    }
}

char *mlstr_get(struct mlenc_reader *r, size_t maxlen, int allow_null, int *oom)
{
    uint64_t len = mlenc_get_u64(r);
    if (r->err)
        return NULL;
    if (len == UINT64_MAX) {
        if (!allow_null)
            mlenc_fail(r);
        return NULL;
    }
    if (len > maxlen || (len + 7) / 8 > (r->len - r->pos) / 8) {
        mlenc_fail(r);
        return NULL;
    }
    char *s = malloc((size_t)len + 1);
    if (!s) {
        *oom = 1;
        mlenc_fail(r);
        return NULL;
    }
    for (size_t i = 0; i < len; i += 8) {
        uint64_t word = mlenc_get_u64(r);
        for (size_t k = 0; k < 8 && i + k < len; k++)
            s[i + k] = (char)(unsigned char)(word >> (8 * k));
        if (i + 8 > len && len % 8 && (word >> (8 * (len % 8))) != 0)
            mlenc_fail(r); /* padding must be zero */
    }
    s[len] = '\0';
    if (r->err || strlen(s) != len) {
        mlenc_fail(r);
        free(s);
        return NULL;
    }
    return s;
}

char **mlstr_get_array(struct mlenc_reader *r, size_t n, size_t maxlen, int *oom)
{
    if (r->err)
        return NULL;
    char **a = calloc(n ? n : 1, sizeof *a);
    if (!a) {
        *oom = 1;
        mlenc_fail(r);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        a[i] = mlstr_get(r, maxlen, 0, oom);
        if (!a[i]) {
            mlstr_free_array(a, i);
            return NULL;
        }
    }
    return a;
}

void mlstr_free_array(char **a, size_t n)
{
    if (!a)
        return;
    for (size_t i = 0; i < n; i++)
        free(a[i]);
    free(a);
}

char **mlstr_dup_array(const char *const *src, size_t n)
{
    char **a = calloc(n ? n : 1, sizeof *a);
    if (!a || !src) {
        free(a);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        a[i] = src[i] ? strdup(src[i]) : NULL;
        if (!a[i]) {
            mlstr_free_array(a, i);
            return NULL;
        }
    }
    return a;
}

int mlstr_put_json(struct mlenc_writer *w, const json_t *v)
{
    if (!v) {
        mlstr_put(w, NULL);
        return 0;
    }
    char *s = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    if (!s)
        return -ENOMEM;
    mlstr_put(w, s);
    free(s);
    return 0;
}

json_t *mlstr_strings(const char *const *s, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        if (mlstr_push(a, json_string(s[i]))) {
            json_decref(a);
            return NULL;
        }
    return a;
}

json_t *mlstr_real(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

int mlstr_push(json_t *arr, json_t *v)
{
    if (!v)
        return -ENOMEM;
    return json_array_append_new(arr, v) ? -ENOMEM : 0;
}

int mlstr_set(json_t *obj, const char *key, json_t *v)
{
    if (!v)
        return -ENOMEM;
    return json_object_set_new(obj, key, v) ? -ENOMEM : 0;
}

int mlstr_problem(json_t *problems, const char *field, const char *message)
{
    return mlstr_push(problems, json_pack("{s:s, s:s}", "field", field, "message", message));
}

void mlstr_format_number(double v, char *out, size_t outlen)
{
    if (v == 0) {
        snprintf(out, outlen, "0");
        return;
    }
    if (fabs(v) < 9007199254740992.0 && v == floor(v)) {
        snprintf(out, outlen, "%.0f", v);
        return;
    }
    snprintf(out, outlen, "%.15g", v);
    if (strtod(out, NULL) != v)
        snprintf(out, outlen, "%.17g", v);
}

void mlstr_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}
