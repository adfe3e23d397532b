/* proxy: forwards API routes to the owning service with a freshly minted internal token. */
#include "gateway.h"

#include <ibx/httpc.h>
#include <ibx/log.h>

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROXY_MAX_RESPONSE ((size_t)256 * 1024 * 1024)

int proxy_internal_token(struct svc *s, const struct http_req *req, char **out)
{
    struct auth_claims c = {0};
    snprintf(c.sub, sizeof(c.sub), "%s", req->claims.sub);
    snprintf(c.role, sizeof(c.role), "%s", req->claims.role);
    snprintf(c.scopes, sizeof(c.scopes), "%s", req->claims.scopes);
    snprintf(c.key_id, sizeof(c.key_id), "%s", req->claims.key_id);
    snprintf(c.rid, sizeof(c.rid), "%s", req->request_id);
    snprintf(c.typ, sizeof(c.typ), SVC_INTERNAL_TYP);
    snprintf(c.iss, sizeof(c.iss), SVC_INTERNAL_ISS);
    snprintf(c.aud, sizeof(c.aud), SVC_INTERNAL_AUD);
    return auth_issue(s->keys, &c, SVC_INTERNAL_TTL, out);
}

/* The upstream base URL for a path, by prefix (see ARCHITECTURE.md). */
static const char *proxy_upstream(const struct gw *g, const char *path)
{
    static const struct {
        const char *prefix;
        size_t off;
    } table[] = {
        {"/api/v1/datasets", offsetof(struct gw_config, selection_url)},
        {"/api/v1/projects", offsetof(struct gw_config, selection_url)},
        {"/api/v1/experiments", offsetof(struct gw_config, pipeline_url)},
        {"/api/v1/pipelines", offsetof(struct gw_config, pipeline_url)},
        {"/api/v1/algorithms", offsetof(struct gw_config, pipeline_url)},
        {"/api/v1/explanations", offsetof(struct gw_config, xai_url)},
        {"/api/v1/models", offsetof(struct gw_config, serving_url)},
        {"/api/v1/deployments", offsetof(struct gw_config, serving_url)},
    };
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        size_t n = strlen(table[i].prefix);
        if (strncmp(path, table[i].prefix, n) == 0 && (path[n] == '\0' || path[n] == '/'))
            return *(const char *const *)(const void *)((const char *)&g->cfg + table[i].off);
    }
    return NULL;
}

/* Request headers for the upstream call; strings are owned by lines[]. */
static void proxy_headers(const struct http_req *req, const char *token, char lines[][1100],
                          const char **hdrs)
{
    static const char *const pass[] = {"Content-Type", "Accept", "Accept-Language"};
    size_t n = 0;
    snprintf(lines[n], sizeof(lines[n]), "Authorization: Bearer %s", token);
    hdrs[n] = lines[n];
    n++;
    snprintf(lines[n], sizeof(lines[n]), "X-Request-Id: %s", req->request_id);
    hdrs[n] = lines[n];
    n++;
    snprintf(lines[n], sizeof(lines[n]), "X-Forwarded-For: %s", req->client_ip);
    hdrs[n] = lines[n];
    n++;
    for (size_t i = 0; i < sizeof(pass) / sizeof(pass[0]); i++) {
        const char *v = http_req_header(req, pass[i]);
        if (v && strlen(v) < 1000 && !strpbrk(v, "\r\n")) {
            snprintf(lines[n], sizeof(lines[n]), "%s: %s", pass[i], v);
            hdrs[n] = lines[n];
            n++;
        }
    }
    hdrs[n] = NULL;
}

static void proxy_copy_response(struct httpc_resp *up, struct http_resp *resp)
{
    static const char *const pass[] = {"Content-Disposition", "Location", "Retry-After", "ETag",
                                       "Cache-Control"};
    const char *ct = up->content_type ? up->content_type : "application/octet-stream";
    /* content_type must outlive the handler: keep JSON as the static string we know */
    http_resp_data(resp, (int)up->status,
                   strncmp(ct, "application/json", 16) == 0 ? "application/json" : NULL,
                   up->body.data ? up->body.data : "", up->body.len);
    if (strncmp(ct, "application/json", 16) != 0)
        http_resp_header(resp, "Content-Type", ct);
    for (size_t i = 0; i < sizeof(pass) / sizeof(pass[0]); i++) {
        const char *v = httpc_header_get(&up->headers, pass[i]);
        if (v)
            http_resp_header(resp, pass[i], v);
    }
}

static int proxy_idempotent(const char *method)
{
    return strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0 ||
           strcmp(method, "PUT") == 0 || strcmp(method, "DELETE") == 0;
}

static void proxy_fail(struct http_resp *resp, int rc, const char *upstream)
{
    if (rc == -ECONNREFUSED)
        http_resp_error(resp, 503, "upstream_unavailable",
                        "the service behind this route is not reachable; retry shortly", NULL);
    else if (rc == -ETIMEDOUT)
        http_resp_error(resp, 504, "upstream_timeout",
                        "the service behind this route did not answer in time", NULL);
    else
        http_resp_error(resp, 502, "bad_gateway",
                        "the service behind this route gave no valid answer", NULL);
    log_warn("upstream %s failed: %s", upstream, strerror(-rc));
}

void proxy_handle(struct http_req *req, struct http_resp *resp)
{
    struct svc *s = req->app;
    struct gw *g = s->app;
    const char *base = proxy_upstream(g, req->path);
    if (!base) {
        http_resp_error(resp, 404, "not_found", "no service serves this route", NULL);
        return;
    }
    char *token = NULL;
    if (proxy_internal_token(s, req, &token) != 0) {
        http_resp_errno(resp, -ENOMEM, "could not mint the internal token");
        return;
    }
    char url[4096], lines[8][1100];
    const char *hdrs[9];
    snprintf(url, sizeof(url), "%s%s", base, req->raw_uri);
    proxy_headers(req, token, lines, hdrs);
    struct httpc_req r;
    httpc_req_init(&r, req->method, url);
    r.headers = hdrs;
    r.body = req->body.data;
    r.body_len = req->body.len;
    r.timeout_ms = g->cfg.upstream_timeout_ms;
    r.max_response = PROXY_MAX_RESPONSE;
    struct httpc_resp up;
    int rc = httpc_do(&r, &up);
    if (rc == -ECONNREFUSED && proxy_idempotent(req->method))
        rc = httpc_do(&r, &up);
    free(token);
    explicit_bzero(lines[0], sizeof(lines[0]));
    if (rc) {
        proxy_fail(resp, rc, base);
        return;
    }
    proxy_copy_response(&up, resp);
    httpc_resp_release(&up);
}
