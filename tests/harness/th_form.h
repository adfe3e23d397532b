/* th_form: build a multipart/form-data body in memory for upload tests. */
#ifndef TH_FORM_H
#define TH_FORM_H

#include "th_stack.h"

#include <stddef.h>

#define TH_FORM_BOUNDARY     "thFormBoundary7MA4YWxkTrZu0gW"
#define TH_FORM_CONTENT_TYPE "Content-Type: multipart/form-data; boundary=" TH_FORM_BOUNDARY

struct th_form {
    char *data; /* owned; grows as parts are added */
    size_t len;
    size_t cap;
};

void th_form_field(struct th_form *f, const char *name, const char *value);
/* A file part with content of len bytes (may hold NUL bytes). */
void th_form_file(struct th_form *f, const char *name, const char *filename, const void *content,
                  size_t len);
/* Append the closing boundary. */
void th_form_end(struct th_form *f);
void th_form_free(struct th_form *f);
/* POST the form to base+path with a bearer token (may be NULL). Returns the status or -1. */
long th_form_post(const char *base, const char *path, const char *token, const struct th_form *f,
                  struct th_resp *out);

#endif
