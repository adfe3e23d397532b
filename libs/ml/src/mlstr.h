/* mlstr: strings, JSON text and small helpers for the libs/ml encodings and reports that
 * carry names (prep, learner, model, mlrun; internal). */
#ifndef IBX_MLSTR_H
#define IBX_MLSTR_H

#include <ibx/buf.h>
#include <ibx/mlenc.h>

#include <jansson.h>
#include <stddef.h>

/* Longest string an encoding may carry (names, labels, JSON text). */
#define MLSTR_MAX_LEN ((size_t)64 << 20)

/* Write s (NUL-terminated; NULL is written as a missing string) as a u64 length (or
 * UINT64_MAX for NULL) and its bytes packed little-endian into u64 words. */
void mlstr_put(struct mlenc_writer *w, const char *s);
/* Read a string written by mlstr_put: a new NUL-terminated copy (caller frees), NULL for a
 * missing string when allow_null, else NULL with the reader failed (also for embedded NUL
 * bytes, a length over maxlen, or when out of memory: *oom is set then). */
char *mlstr_get(struct mlenc_reader *r, size_t maxlen, int allow_null, int *oom);

/* An array of n strings read with mlstr_get (never NULL entries); NULL and the reader
 * failed on error. n may be 0 (a valid empty array is returned). Free with
 * mlstr_free_array. */
char **mlstr_get_array(struct mlenc_reader *r, size_t n, size_t maxlen, int *oom);
void mlstr_free_array(char **a, size_t n);
/* Copy n strings (NULL source: n NULL entries are not allowed: returns NULL). */
char **mlstr_dup_array(const char *const *src, size_t n);

/* Write JSON (compact, sorted keys) with mlstr_put; NULL is a missing string. -ENOMEM. */
int mlstr_put_json(struct mlenc_writer *w, const json_t *v);

/* A JSON array of n strings (new reference, NULL on ENOMEM). */
json_t *mlstr_strings(const char *const *s, size_t n);
/* A JSON number, or null for a value that is not finite. New reference (NULL on ENOMEM). */
json_t *mlstr_real(double v);
/* Append to arr (a new reference is stolen): 0 or -ENOMEM. */
int mlstr_push(json_t *arr, json_t *v);
/* Set obj[key] (stolen): 0 or -ENOMEM. */
int mlstr_set(json_t *obj, const char *key, json_t *v);
/* Append {"field": field, "message": message} to the problems array: 0 or -ENOMEM. */
int mlstr_problem(json_t *problems, const char *field, const char *message);

/* The shortest decimal text (%.15g, else %.17g) that reads back as v; integers without
 * a fraction; -0 as "0". */
void mlstr_format_number(double v, char *out, size_t outlen);

/* snprintf into err when err is not NULL and errlen > 0. */
void mlstr_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
