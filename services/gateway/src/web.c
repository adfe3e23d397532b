/* web: serves the browser UI's static files, with the SPA fallback to index.html. */
#include "gateway.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define WEB_MAX_FILE ((size_t)32 * 1024 * 1024)
#define WEB_CSP                                                                                    \
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "              \
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

static const char *web_content_type(const char *path)
{
    static const char *const types[][2] = {
        {".html", "text/html; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".mjs", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".json", "application/json"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
        {".jpg", "image/jpeg"},
        {".ico", "image/x-icon"},
        {".woff2", "font/woff2"},
        {".txt", "text/plain; charset=utf-8"},
        {".map", "application/json"},
    };
    const char *dot = strrchr(path, '.');
    for (size_t i = 0; dot && i < sizeof(types) / sizeof(types[0]); i++) {
        if (strcmp(dot, types[i][0]) == 0)
            return types[i][1];
    }
    return "application/octet-stream";
}

/* 1 when every segment of the (decoded) path is safe to map onto the folder. */
static int web_path_ok(const char *path)
{
    if (path[0] != '/' || strlen(path) > 512 || strchr(path, '\\'))
        return 0;
    for (const char *seg = path + 1; *seg;) {
        const char *end = strchr(seg, '/');
        size_t n = end ? (size_t)(end - seg) : strlen(seg);
        if (n > 0 && seg[0] == '.')
            return 0; /* "..", ".", and hidden files */
        if (!end)
            break;
        seg = end + 1;
    }
    return 1;
}

static int web_is_api(const char *path)
{
    static const char *const prefixes[] = {"/api", "/v1", "/v2"};
    for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
        size_t n = strlen(prefixes[i]);
        if (strncmp(path, prefixes[i], n) == 0 && (path[n] == '\0' || path[n] == '/'))
            return 1;
    }
    return 0;
}

static int web_read(const char *file, struct buf *out)
{
    FILE *f = fopen(file, "rb");
    if (!f)
        return -ENOENT;
    char chunk[16384];
    size_t n;
    int rc = 0;
    while (rc == 0 && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        rc = buf_append(out, chunk, n);
    if (rc == 0 && ferror(f))
        rc = -EIO;
    fclose(f);
    return rc;
}

static int web_is_file(const char *file)
{
    struct stat sb;
    return stat(file, &sb) == 0 && S_ISREG(sb.st_mode);
}

void web_serve(struct http_req *req, struct http_resp *resp)
{
    struct svc *s = req->app;
    const struct gw *g = s->app;
    if (web_is_api(req->path) || !web_path_ok(req->path)) {
        http_resp_error(resp, 404, "not_found", "no such route", NULL);
        return;
    }
    char file[1024];
    const char *last = strrchr(req->path, '/');
    int dir = last[1] == '\0';
    snprintf(file, sizeof(file), "%s%s%s", g->cfg.web_dir, req->path, dir ? "index.html" : "");
    int spa = 0;
    if (!web_is_file(file)) {
        if (strchr(last, '.')) { /* a missing asset, not an app route */
            http_resp_error(resp, 404, "not_found", "no such file", NULL);
            return;
        }
        snprintf(file, sizeof(file), "%s/index.html", g->cfg.web_dir);
        spa = 1;
    }
    struct buf body;
    buf_init(&body, WEB_MAX_FILE);
    int rc = web_read(file, &body);
    if (rc) {
        buf_release(&body);
        http_resp_error(resp, 404, "not_found",
                        spa ? "the web UI is not installed (IBX_WEB_DIR)" : "no such file", NULL);
        return;
    }
    http_resp_data(resp, 200, web_content_type(file), body.data ? body.data : "", body.len);
    buf_release(&body);
    int html = strstr(file, ".html") != NULL;
    http_resp_header(resp, "Cache-Control", html ? "no-cache" : "public, max-age=3600");
    http_resp_header(resp, "Content-Security-Policy", WEB_CSP);
}
