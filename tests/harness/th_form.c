/* th_form: multipart/form-data bodies for upload tests. */
#include "th_form.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void th_form_add(struct th_form *f, const void *p, size_t n)
{
    if (f->len + n + 1 > f->cap) {
        size_t cap = (f->len + n + 1) * 2;
        char *tmp = realloc(f->data, cap);
        if (!tmp)
            abort(); /* a test helper: out of memory ends the test run */
        f->data = tmp;
        f->cap = cap;
    }
    memcpy(f->data + f->len, p, n);
    f->len += n;
    f->data[f->len] = '\0';
}

static void th_form_head(struct th_form *f, const char *name, const char *filename)
{
    char h[1024];
    int n = filename ? snprintf(h, sizeof(h),
                                "--" TH_FORM_BOUNDARY "\r\nContent-Disposition: form-data; "
                                "name=\"%s\"; filename=\"%s\"\r\nContent-Type: "
                                "application/octet-stream\r\n\r\n",
                                name, filename)
                     : snprintf(h, sizeof(h),
                                "--" TH_FORM_BOUNDARY
                                "\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n",
                                name);
    th_form_add(f, h, (size_t)n);
}

void th_form_field(struct th_form *f, const char *name, const char *value)
{
    th_form_head(f, name, NULL);
    th_form_add(f, value, strlen(value));
    th_form_add(f, "\r\n", 2);
}

void th_form_file(struct th_form *f, const char *name, const char *filename, const void *content,
                  size_t len)
{
    th_form_head(f, name, filename);
    th_form_add(f, content, len);
    th_form_add(f, "\r\n", 2);
}

void th_form_end(struct th_form *f)
{
    th_form_add(f, "--" TH_FORM_BOUNDARY "--\r\n", strlen(TH_FORM_BOUNDARY) + 6);
}

void th_form_free(struct th_form *f)
{
    free(f->data);
    memset(f, 0, sizeof(*f));
}

long th_form_post(const char *base, const char *path, const char *token, const struct th_form *f,
                  struct th_resp *out)
{
    char url[1024], auth[9000];
    snprintf(url, sizeof(url), "%s%s", base, path);
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token ? token : "");
    const char *hdrs[] = {TH_FORM_CONTENT_TYPE, token ? auth : NULL, NULL};
    return th_http_n("POST", url, hdrs, f->data, f->len, out) == 0 ? out->status : -1;
}
