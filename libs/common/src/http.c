/* http: route-table HTTP server over libmicrohttpd with built-ins, limits and metrics. */
#include <ibx/http.h>

#include <ibx/clock.h>
#include <ibx/evloop.h>
#include <ibx/ids.h>
#include <ibx/jobs.h>
#include <ibx/jsonv.h>
#include <ibx/log.h>
#include <ibx/metrics.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

struct http_ctx;
struct http_pipe;

/* One event-loop thread: its epoll loop drives one libmicrohttpd daemon (external mode)
 * and whatever sockets inline handlers add to it. */
struct http_loop {
    struct http_server *srv;
    struct evl *evl;
    struct MHD_Daemon *daemon;
    struct evl_watch mhd_watch; /* the daemon's own epoll fd */
    pthread_t thread;
    int started;
    atomic_int stop;
    atomic_int kick;           /* run the daemon soon: a connection was resumed (no ITC in external
                                  mode: libmicrohttpd only takes resumptions in MHD_run) */
    struct http_ctx *deferred; /* requests waiting for http_req_complete (list) */
};

struct http_server {
    struct http_server_opts opts;
    struct http_loop *loops;
    unsigned nloops;
    struct jobs *jobs;
    int listen_fd; /* closed once every daemon holds its own duplicate */
    uint16_t port;
    atomic_int inflight;
    atomic_int draining;
    atomic_int stopping;  /* past the grace period: abandon what is left */
    atomic_int suspended; /* connections suspended by us, not yet resumed and re-entered */
    char *openapi;        /* rendered once at start */
};

/* What stage of a request runs next (http_dispatch). */
enum http_stage { HTTP_ST_ROUTE = 0, HTTP_ST_AUTH, HTTP_ST_ADMIT, HTTP_ST_HANDLER, HTTP_ST_DONE };

/* What a worker job does for a request. */
enum http_job_kind { HTTP_JOB_DISPATCH, HTTP_JOB_WORK, HTTP_JOB_BODY_END };

/* Whether a step of the request is outstanding (c->busy): none, one whose connection is
 * still running, or one whose connection is suspended until it ends. */
enum { HTTP_IDLE = 0, HTTP_PENDING = 1, HTTP_PARKED = 2 };

/* Per-request state, owned by libmicrohttpd's con_cls and freed in on_completed. */
struct http_ctx {
    struct http_server *srv;
    struct http_loop *loop;
    struct http_req req;
    struct http_resp resp;
    double t0;
    int status_hint; /* 404/405 decided at the first call, answered at the last */
    char allow[64];  /* Allow header for 405 */
    int started;     /* the access handler has seen this request */
    int queued;      /* a response was queued early (413) */
    int over_limit;
    int discard;   /* drop the rest of the body, answer at its end */
    int streaming; /* HTTP_STREAM_BODY: chunks go to req.body_chunk */
    int ended;     /* req.body_end was called */
    size_t max_body;
    size_t discarded; /* bytes of an over-limit body read and dropped */
    /* threads: the loop thread owns everything below except while a step is outstanding */
    enum http_stage stage;
    atomic_int busy;   /* HTTP_IDLE / HTTP_PENDING / HTTP_PARKED */
    int suspended;     /* we suspended the connection and it has not re-entered yet */
    int in_first;      /* suspended during the first call: its re-entry is next */
    int final_started; /* the last call's work (dispatch or body_end) has begun */
    int deferred;      /* waiting for http_req_complete */
    struct http_ctx *dprev, *dnext;
    void (*abort_fn)(void *ctx);
    void *abort_ctx;
    http_work_fn work_fn; /* http_req_run_blocking */
    void *work_ctx;
    enum http_job_kind jkind;
    struct jobs_item job;
    struct http_pipe *pipe; /* HTTP_STREAM_BODY: body pieces on their way to body_chunk */
};

enum { HTTP_CHUNK = 32 * 1024 };
/* libmicrohttpd's memory per connection (request head, read buffer, response head). It
 * zeroes what a request used before the next on the same connection: keep it modest. */
#define HTTP_CONN_MEMORY (32 * 1024)
#define HTTP_DISCARD_MAX ((size_t)64 * 1024 * 1024)

/* ------------------------------------------------------------------ routing */

static const char *seg_end(const char *s)
{
    while (*s && *s != '/')
        s++;
    return s;
}

static char *http_strndup(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

void http_params_release(struct http_param *params, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(params[i].value);
        params[i].value = NULL;
    }
}

static int http_add_param(struct http_param *params, size_t *np, const char *name, size_t name_len,
                          const char *val, size_t val_len)
{
    if (*np >= HTTP_MAX_PARAMS)
        return 0;
    char *v = http_strndup(val, val_len);
    if (!v)
        return 0;
    params[*np].name = name;
    params[*np].name_len = name_len;
    params[*np].value = v;
    (*np)++;
    return 1;
}

int http_route_match(const char *pattern, const char *path, struct http_param *params,
                     size_t *nparams)
{
    const char *p = pattern, *u = path;
    size_t np = 0;
    while (*p && *u) {
        if (*p != '/' || *u != '/')
            goto fail;
        p++;
        u++;
        const char *pe = seg_end(p), *ue = seg_end(u);
        size_t plen = (size_t)(pe - p);
        if (plen >= 3 && p[0] == '{' && pe[-1] == '}') {
            int rest = pe[-2] == '*';
            size_t nlen = plen - 2 - (size_t)rest;
            if (rest) {
                if (!http_add_param(params, &np, p + 1, nlen, u, strlen(u)))
                    goto fail;
                *nparams = np;
                return 1;
            }
            if (ue == u || !http_add_param(params, &np, p + 1, nlen, u, (size_t)(ue - u)))
                goto fail;
        } else if (plen != (size_t)(ue - u) || memcmp(p, u, plen) != 0) {
            goto fail;
        }
        p = pe;
        u = ue;
    }
    /* "/x/{rest*}" also matches "/x" with an empty rest */
    if (!*u && p[0] == '/' && p[1] == '{' && strstr(p, "*}") && !strchr(p + 1, '/')) {
        const char *nm = p + 2;
        if (!http_add_param(params, &np, nm, strlen(nm) - 2, "", 0))
            goto fail;
        *nparams = np;
        return 1;
    }
    if (*p || *u)
        goto fail;
    *nparams = np;
    return 1;
fail:
    http_params_release(params, np);
    return 0;
}

/* Find the route for method+path. On a path match with another method, *status is 405
 * and allow lists the methods; on no match, 404. */
static const struct http_route *http_find_route(const struct http_server *s, struct http_req *r,
                                                int *status, char *allow, size_t allow_len)
{
    allow[0] = '\0';
    for (size_t i = 0; i < s->opts.nroutes; i++) {
        const struct http_route *rt = &s->opts.routes[i];
        struct http_param tmp[HTTP_MAX_PARAMS];
        size_t n = 0;
        if (!http_route_match(rt->pattern, r->path, tmp, &n))
            continue;
        if (strcmp(rt->method, r->method) == 0) {
            memcpy(r->params, tmp, sizeof(tmp[0]) * n);
            r->nparams = n;
            return rt;
        }
        http_params_release(tmp, n);
        size_t used = strlen(allow);
        if (!strstr(allow, rt->method))
            snprintf(allow + used, allow_len - used, "%s%s", used ? ", " : "", rt->method);
    }
    *status = allow[0] ? 405 : 404;
    return NULL;
}

int http_request_id_ok(const char *id)
{
    size_t n = 0;
    for (; id[n]; n++) {
        char c = id[n];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '.' || c == '_' || c == ':' || c == '-';
        if (!ok || n >= 64)
            return 0;
    }
    return n > 0;
}

/* ------------------------------------------------------------------ request accessors */

const char *http_req_param(const struct http_req *r, const char *name)
{
    size_t len = strlen(name);
    for (size_t i = 0; i < r->nparams; i++) {
        if (r->params[i].name_len == len && memcmp(r->params[i].name, name, len) == 0)
            return r->params[i].value;
    }
    return NULL;
}

const char *http_req_query(const struct http_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *http_req_header(const struct http_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

int http_req_idempotency_key(const struct http_req *r, struct http_resp *resp, const char **key)
{
    const char *k = http_req_header(r, "Idempotency-Key");
    *key = NULL;
    if (!k)
        return 0;
    size_t n = strlen(k);
    int ok = n > 0 && n <= HTTP_IDEM_KEY_MAX;
    for (size_t i = 0; ok && i < n; i++)
        ok = k[i] > 0x20 && k[i] < 0x7f;
    if (!ok) {
        http_resp_error(resp, 400, "invalid_header",
                        "Idempotency-Key must be 1 to 255 printable ASCII characters", NULL);
        return -EINVAL;
    }
    *key = k;
    return 0;
}

const char *http_req_query_string(const struct http_req *r)
{
    const char *q = r->raw_uri ? strchr(r->raw_uri, '?') : NULL;
    return q ? q + 1 : "";
}

static int http_hex(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decode n bytes of form-encoded text into a new string. %00 is refused. */
static int http_form_decode(const char *s, size_t n, char **out)
{
    char *d = malloc(n + 1);
    if (!d)
        return -ENOMEM;
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '+') {
            d[j++] = ' ';
            continue;
        }
        if (s[i] != '%') {
            d[j++] = s[i];
            continue;
        }
        int hi = i + 2 < n ? http_hex(s[i + 1]) : -1;
        int lo = i + 2 < n ? http_hex(s[i + 2]) : -1;
        if (hi < 0 || lo < 0 || (hi | lo) == 0) {
            free(d);
            return -EINVAL;
        }
        d[j++] = (char)(hi * 16 + lo);
        i += 2;
    }
    d[j] = '\0';
    *out = d;
    return 0;
}

int http_form_field(const char *body, size_t len, const char *name, char **out)
{
    size_t nlen = strlen(name);
    const char *p = body ? body : "", *end = p + (body ? len : 0);
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *fe = amp ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(fe - p));
        if (eq && (size_t)(eq - p) == nlen && memcmp(p, name, nlen) == 0)
            return http_form_decode(eq + 1, (size_t)(fe - eq - 1), out);
        p = fe + 1;
    }
    return -ENOENT;
}

int http_req_json(struct http_req *r, struct http_resp *resp, json_t **out)
{
    const char *ct = http_req_header(r, "Content-Type");
    if (ct && strncasecmp(ct, "multipart/", 10) == 0) {
        http_resp_error(resp, 415, "unsupported_media_type",
                        "this route takes a JSON body (Content-Type: application/json)", NULL);
        return -EINVAL;
    }
    char err[256];
    json_t *v = NULL;
    if (jsonv_parse(r->body.data ? r->body.data : "", r->body.len, JSONV_MAX_DEPTH, &v, err,
                    sizeof(err)) != 0) {
        http_resp_error(resp, 400, "invalid_json", err, NULL);
        return -EINVAL;
    }
    *out = v;
    return 0;
}

/* ------------------------------------------------------------------ responses */

static void http_resp_clear_body(struct http_resp *resp)
{
    buf_reset(&resp->body);
    if (resp->stream && resp->stream_free)
        resp->stream_free(resp->stream_ctx);
    resp->stream = NULL;
    resp->stream_ctx = NULL;
    resp->stream_free = NULL;
}

void http_resp_header(struct http_resp *resp, const char *name, const char *value)
{
    if (resp->nheaders >= HTTP_MAX_RESP_HEADERS || strpbrk(name, "\r\n:") || strpbrk(value, "\r\n"))
        return;
    char *n = strdup(name), *v = strdup(value);
    if (!n || !v) {
        free(n);
        free(v);
        return;
    }
    resp->headers[resp->nheaders].name = n;
    resp->headers[resp->nheaders].value = v;
    resp->nheaders++;
}

static int http_resp_has_header(const struct http_resp *resp, const char *name)
{
    for (size_t i = 0; i < resp->nheaders; i++) {
        if (strcasecmp(resp->headers[i].name, name) == 0)
            return 1;
    }
    return 0;
}

void http_resp_data(struct http_resp *resp, int status, const char *content_type, const void *data,
                    size_t len)
{
    http_resp_clear_body(resp);
    resp->status = status;
    resp->content_type = content_type;
    if (buf_append(&resp->body, data, len) != 0) {
        resp->status = 500;
        resp->content_type = "text/plain";
        buf_reset(&resp->body);
    }
}

void http_resp_json(struct http_resp *resp, int status, json_t *body)
{
    char *s = body ? json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(body);
    if (!s) {
        http_resp_data(resp, 500, "application/json",
                       "{\"error\":\"internal\",\"message\":\"response could not be encoded\"}",
                       62);
        return;
    }
    http_resp_data(resp, status, "application/json", s, strlen(s));
    free(s);
}

void http_resp_error(struct http_resp *resp, int status, const char *code, const char *message,
                     json_t *details)
{
    json_t *body = json_pack("{s:s, s:s, s:o, s:s}", "error", code, "message", message, "details",
                             details ? details : json_object(), "request_id",
                             resp->request_id ? resp->request_id : "");
    http_resp_json(resp, status, body);
    if ((status == 429 || status == 503) && !http_resp_has_header(resp, "Retry-After"))
        http_resp_header(resp, "Retry-After", "1");
}

int http_errno_status(int err)
{
    switch (err) {
    case -EINVAL:
        return 400;
    case -EPERM:
        return 401;
    case -EACCES:
        return 403;
    case -ENOENT:
        return 404;
    case -EEXIST:
        return 409;
    case -EMSGSIZE:
        return 413;
    case -EAGAIN:
    case -EIO:
    case -ECONNREFUSED:
        return 503;
    case -ETIMEDOUT:
        return 504;
    default:
        return 500;
    }
}

void http_resp_errno(struct http_resp *resp, int err, const char *message)
{
    static const struct {
        int status;
        const char *code;
        const char *text;
    } map[] = {
        {400, "bad_request", "the request is not valid"},
        {401, "unauthorized", "authentication is required"},
        {403, "forbidden", "you are not allowed to do this"},
        {404, "not_found", "no such resource"},
        {409, "conflict", "the resource already exists"},
        {413, "payload_too_large", "the request body is too large"},
        {503, "service_unavailable", "a dependency is unavailable; retry shortly"},
        {504, "upstream_timeout", "a dependency did not answer in time"},
        {500, "internal", "an internal error occurred"},
    };
    int status = http_errno_status(err);
    size_t i = 0;
    while (map[i].status != status)
        i++;
    http_resp_error(resp, status, map[i].code, message ? message : map[i].text, NULL);
}

void http_resp_stream(struct http_resp *resp, int status, const char *content_type,
                      http_stream_fn fn, void *ctx, void (*free_fn)(void *ctx))
{
    http_resp_clear_body(resp);
    resp->status = status;
    resp->content_type = content_type;
    resp->stream = fn;
    resp->stream_ctx = ctx;
    resp->stream_free = free_fn;
}

/* ------------------------------------------------------------------ Server-Sent Events */

int http_sse_format(struct buf *out, const char *event, const char *id, const char *data)
{
    if ((event && strpbrk(event, "\r\n")) || (id && strpbrk(id, "\r\n")))
        return -EINVAL;
    size_t mark = out->len;
    int rc = 0;
    if (event)
        rc = buf_printf(out, "event: %s\n", event);
    if (rc == 0 && id)
        rc = buf_printf(out, "id: %s\n", id);
    for (const char *p = data ? data : ""; rc == 0;) {
        size_t n = strcspn(p, "\r\n");
        rc = buf_printf(out, "data: %.*s\n", (int)n, p);
        if (!p[n])
            break;
        p += n + (p[n] == '\r' && p[n + 1] == '\n' ? 2 : 1);
    }
    if (rc == 0)
        rc = buf_append_str(out, "\n");
    if (rc) {
        out->len = mark; /* all or nothing */
        if (out->data)
            out->data[mark] = '\0';
    }
    return rc;
}

struct http_sse {
    http_sse_next_fn next;
    void *ctx;
    void (*free_fn)(void *ctx);
    int keepalive_ms;
    struct buf pending;
    size_t off;
    int ended;
};

static ssize_t http_sse_reader(void *cls, uint64_t pos, char *out, size_t max)
{
    struct http_sse *e = cls;
    while (e->off >= e->pending.len) {
        if (e->ended)
            return HTTP_STREAM_END;
        buf_reset(&e->pending);
        e->off = 0;
        int rc = e->next(e->ctx, &e->pending, e->keepalive_ms);
        if (rc < 0)
            e->ended = 1;
        else if (rc == 0 && buf_append_str(&e->pending, ": keep-alive\n\n") != 0)
            return HTTP_STREAM_ERROR;
    }
    size_t n = e->pending.len - e->off;
    if (n > max)
        n = max;
    memcpy(out, e->pending.data + e->off, n);
    e->off += n;
    return (ssize_t)n;
}

static void http_sse_free(void *cls)
{
    struct http_sse *e = cls;
    if (e->free_fn)
        e->free_fn(e->ctx);
    buf_release(&e->pending);
    free(e);
}

void http_resp_sse(struct http_resp *resp, http_sse_next_fn next, void *ctx,
                   void (*free_fn)(void *ctx), int keepalive_ms)
{
    struct http_sse *e = calloc(1, sizeof(*e));
    if (!e) {
        if (free_fn)
            free_fn(ctx);
        http_resp_errno(resp, -ENOMEM, NULL);
        return;
    }
    e->next = next;
    e->ctx = ctx;
    e->free_fn = free_fn;
    e->keepalive_ms = keepalive_ms > 0 ? keepalive_ms : 15000;
    buf_init(&e->pending, 16 * 1024 * 1024);
    http_resp_stream(resp, 200, "text/event-stream", http_sse_reader, e, http_sse_free);
    http_resp_header(resp, "Cache-Control", "no-cache");
    http_resp_header(resp, "X-Accel-Buffering", "no");
}

/* ------------------------------------------------------------------ built-ins */

static void http_builtin_readyz(struct http_server *s, struct http_resp *resp)
{
    const char *why = "ok";
    if (atomic_load(&s->draining)) {
        http_resp_error(resp, 503, "not_ready", "the service is shutting down", NULL);
        return;
    }
    if (s->opts.ready && s->opts.ready(s->opts.app, &why) != 0) {
        http_resp_error(resp, 503, "not_ready", why, NULL);
        return;
    }
    http_resp_json(resp, 200, json_pack("{s:s}", "status", "ready"));
}

static int http_builtin(struct http_server *s, struct http_req *r, struct http_resp *resp)
{
    if (strcmp(r->method, "GET") != 0 && strcmp(r->method, "HEAD") != 0)
        return 0;
    if (strcmp(r->path, "/healthz") == 0) {
        http_resp_json(resp, 200, json_pack("{s:s}", "status", "ok"));
    } else if (strcmp(r->path, "/readyz") == 0) {
        http_builtin_readyz(s, resp);
    } else if (strcmp(r->path, "/metrics") == 0) {
        struct buf b;
        buf_init(&b, 64 * 1024 * 1024);
        if (metrics_render(&b) != 0)
            http_resp_errno(resp, -ENOMEM, "metrics could not be rendered");
        else
            http_resp_data(resp, 200, "text/plain; version=0.0.4; charset=utf-8", b.data, b.len);
        buf_release(&b);
    } else if (strcmp(r->path, "/openapi.json") == 0) {
        http_resp_data(resp, 200, "application/json", s->openapi, strlen(s->openapi));
    } else {
        return 0;
    }
    return 1;
}

static json_t *http_openapi_params(const char *pattern)
{
    json_t *arr = json_array();
    for (const char *p = strchr(pattern, '{'); p; p = strchr(p + 1, '{')) {
        const char *e = strchr(p, '}');
        if (!e)
            break;
        size_t n = (size_t)(e - p - 1);
        if (n && p[n] == '*')
            n--;
        json_array_append_new(arr, json_pack("{s:s%, s:s, s:b, s:{s:s}}", "name", p + 1, n, "in",
                                             "path", "required", 1, "schema", "type", "string"));
    }
    return arr;
}

static char *http_openapi_render(const struct http_server_opts *o)
{
    json_t *paths = json_object();
    for (size_t i = 0; i < o->nroutes; i++) {
        const struct http_route *rt = &o->routes[i];
        char path[256], method[16];
        snprintf(path, sizeof(path), "%s", rt->pattern);
        char *star = strstr(path, "*}");
        if (star)
            memmove(star, star + 1, strlen(star + 1) + 1);
        size_t k = 0;
        for (; k < sizeof(method) - 1 && rt->method[k]; k++)
            method[k] = (char)(rt->method[k] | 0x20);
        method[k] = '\0';
        json_t *item = json_object_get(paths, path);
        if (!item) {
            item = json_object();
            json_object_set_new(paths, path, item);
        }
        json_t *op =
            json_pack("{s:s, s:o, s:{s:{s:s}}}", "summary", rt->summary ? rt->summary : "",
                      "parameters", http_openapi_params(rt->pattern), "responses", "default",
                      "description", "JSON body, or the error format on failure");
        if (!(rt->flags & HTTP_PUBLIC))
            json_object_set_new(op, "security", json_pack("[{s:[]}]", "bearer"));
        json_object_set_new(item, method, op);
    }
    json_t *doc =
        json_pack("{s:s, s:{s:s, s:s}, s:o, s:{s:{s:{s:s, s:s}}}}", "openapi", "3.0.3", "info",
                  "title", o->service, "version", o->version ? o->version : "0", "paths", paths,
                  "components", "securitySchemes", "bearer", "type", "http", "scheme", "bearer");
    char *s = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(doc);
    return s;
}

/* ------------------------------------------------------------------ sending */

/* 1 when the comma-separated list holds item (len bytes) exactly, spaces ignored. */
static int http_list_has(const char *list, const char *item, size_t len)
{
    for (const char *p = list ? list : ""; *p;) {
        while (*p == ' ')
            p++;
        size_t n = strcspn(p, ",");
        size_t m = n;
        while (m > 0 && p[m - 1] == ' ')
            m--;
        if (m == len && strncmp(p, item, len) == 0)
            return 1;
        p += n + (p[n] == ',');
    }
    return 0;
}

static int http_is_ip(const char *s, size_t len)
{
    char tmp[64];
    unsigned char bin[16];
    if (len == 0 || len >= sizeof(tmp))
        return 0;
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    return inet_pton(AF_INET, tmp, bin) == 1 || inet_pton(AF_INET6, tmp, bin) == 1;
}

void http_forwarded_for(const char *peer, const char *xff, const char *trusted, char *out, size_t n)
{
    snprintf(out, n, "%s", peer);
    if (!xff || !http_list_has(trusted, peer, strlen(peer)))
        return;
    const char *end = xff + strlen(xff);
    while (end > xff) {
        const char *start = end;
        while (start > xff && start[-1] != ',')
            start--;
        const char *a = start, *b = end;
        while (a < b && *a == ' ')
            a++;
        while (b > a && b[-1] == ' ')
            b--;
        if (!http_is_ip(a, (size_t)(b - a)))
            return; /* malformed: keep the last address we could trust */
        snprintf(out, n, "%.*s", (int)(b - a), a);
        if (!http_list_has(trusted, a, (size_t)(b - a)))
            return;
        end = start > xff ? start - 1 : xff;
    }
}

static void http_cors(const struct http_server *s, const struct http_req *r, struct http_resp *resp)
{
    const char *origin = http_req_header(r, "Origin");
    const char *list = s->opts.cors_origins;
    if (!origin || !list || !*list)
        return;
    size_t olen = strlen(origin);
    for (const char *p = list; *p;) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if ((n == olen && strncmp(p, origin, n) == 0) || (n == 1 && *p == '*')) {
            http_resp_header(resp, "Access-Control-Allow-Origin", origin);
            http_resp_header(resp, "Access-Control-Allow-Credentials", "true");
            http_resp_header(resp, "Vary", "Origin");
            return;
        }
        p += n + (e ? 1 : 0);
    }
}

static void http_free_body(void *p)
{
    free(p);
}

/* Loop-thread/worker hand-over of a request's outstanding step, see http_park. */
static void http_park(struct http_ctx *c);
static void http_unbusy(struct http_ctx *c);
static void http_reentered(struct http_ctx *c);

/* A streamed response body: each piece is made by the producer on a worker thread while
 * the connection is suspended, then handed to libmicrohttpd on the loop thread. Owned by
 * the libmicrohttpd response (freed with it, possibly after the request). */
struct http_stream_box {
    http_stream_fn fn;
    void *ctx;
    void (*free_fn)(void *);
    struct http_ctx *c; /* the request: valid whenever the reader or a piece job runs */
    struct jobs_item job;
    char *piece;
    size_t len, off;
    uint64_t pos;
    int ended; /* 0: more to come, 1: end, 2: error */
};

static void http_stream_piece(struct jobs_item *it)
{
    struct http_stream_box *b =
        (struct http_stream_box *)(void *)((char *)it - offsetof(struct http_stream_box, job));
    struct http_ctx *c = b->c;
    log_set_request_id(c->req.request_id);
    ssize_t n = b->fn(b->ctx, b->pos, b->piece, HTTP_CHUNK);
    log_set_request_id(NULL);
    if (n == HTTP_STREAM_END) {
        b->ended = 1;
    } else if (n < 0) {
        b->ended = 2;
    } else {
        b->len = (size_t)n;
        b->off = 0;
        b->pos += (uint64_t)n;
    }
    http_unbusy(c);
}

static ssize_t http_stream_reader(void *cls, uint64_t pos, char *out, size_t max)
{
    struct http_stream_box *b = cls;
    struct http_ctx *c = b->c;
    http_reentered(c);
    if (b->off < b->len) {
        size_t n = b->len - b->off < max ? b->len - b->off : max;
        memcpy(out, b->piece + b->off, n);
        b->off += n;
        return (ssize_t)n;
    }
    if (b->ended == 1)
        return MHD_CONTENT_READER_END_OF_STREAM;
    if (b->ended || atomic_load(&c->srv->stopping))
        return MHD_CONTENT_READER_END_WITH_ERROR;
    atomic_store(&c->busy, HTTP_PENDING);
    jobs_post(c->srv->jobs, &b->job);
    http_park(c);
    return 0; /* nothing yet: called again when the connection resumes */
}

static void http_stream_box_free(void *cls)
{
    struct http_stream_box *b = cls;
    if (b->free_fn)
        b->free_fn(b->ctx);
    free(b->piece);
    free(b);
}

static struct MHD_Response *http_build_mhd_response(struct http_ctx *c)
{
    struct http_resp *resp = &c->resp;
    if (resp->stream) {
        struct http_stream_box *b = calloc(1, sizeof(*b));
        char *piece = malloc(HTTP_CHUNK);
        if (!b || !piece) {
            free(b);
            free(piece);
            return NULL;
        }
        b->fn = resp->stream;
        b->ctx = resp->stream_ctx;
        b->free_fn = resp->stream_free;
        b->c = c;
        b->job.fn = http_stream_piece;
        b->piece = piece;
        resp->stream = NULL; /* now owned by the MHD response */
        resp->stream_free = NULL;
        return MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, HTTP_CHUNK, http_stream_reader,
                                                 b, http_stream_box_free);
    }
    size_t len = resp->body.len;
    char *data = buf_steal(&resp->body);
    if (!data)
        return NULL;
    return MHD_create_response_from_buffer_with_free_callback(len, data, http_free_body);
}

static void http_default_headers(struct http_ctx *c, struct MHD_Response *mr)
{
    struct http_resp *resp = &c->resp;
    static const char *const defaults[][2] = {
        {"X-Content-Type-Options", "nosniff"},
        {"X-Frame-Options", "DENY"},
        {"Referrer-Policy", "no-referrer"},
        {"Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"},
        {"Cache-Control", "no-store"},
    };
    for (size_t i = 0; i < resp->nheaders; i++)
        MHD_add_response_header(mr, resp->headers[i].name, resp->headers[i].value);
    for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++) {
        if (!http_resp_has_header(resp, defaults[i][0]))
            MHD_add_response_header(mr, defaults[i][0], defaults[i][1]);
    }
    if (resp->content_type)
        MHD_add_response_header(mr, "Content-Type", resp->content_type);
    MHD_add_response_header(mr, "X-Request-Id", c->req.request_id);
    if (atomic_load(&c->srv->draining))
        MHD_add_response_header(mr, "Connection", "close");
}

static enum MHD_Result http_send(struct http_ctx *c, struct MHD_Connection *conn)
{
    if (c->resp.status < 100 || c->resp.status > 599)
        http_resp_errno(&c->resp, -ENOMEM, "the handler produced no response");
    http_cors(c->srv, &c->req, &c->resp);
    struct MHD_Response *mr = http_build_mhd_response(c);
    if (!mr)
        return MHD_NO;
    http_default_headers(c, mr);
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned)c->resp.status, mr);
    MHD_destroy_response(mr);
    c->queued = 1;
    return ret;
}

/* ------------------------------------------------------------------ request lifecycle */

static void http_client_ip(struct MHD_Connection *conn, char *out, size_t n)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    out[0] = '\0';
    if (!ci || !ci->client_addr)
        return;
    if (ci->client_addr->sa_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)(const void *)ci->client_addr;
        inet_ntop(AF_INET, &a->sin_addr, out, (socklen_t)n);
    } else if (ci->client_addr->sa_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)(const void *)ci->client_addr;
        inet_ntop(AF_INET6, &a->sin6_addr, out, (socklen_t)n);
    }
}

/* First sight of a request: libmicrohttpd gives the raw URI before parsing it. */
static void *http_on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    struct http_ctx *c = calloc(1, sizeof(*c));
    if (c)
        c->req.raw_uri = strdup(uri ? uri : "");
    return c;
}

static struct http_ctx *http_ctx_start(struct http_loop *lp, struct http_ctx *c,
                                       struct MHD_Connection *conn, const char *url,
                                       const char *method)
{
    struct http_server *s = lp->srv;
    if (!c)
        c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->started = 1;
    c->srv = s;
    c->loop = lp;
    c->t0 = clock_mono_s();
    c->req.method = method;
    c->req.path = url;
    c->req.app = s->opts.app;
    c->req.conn = conn;
    buf_init(&c->resp.body, 256 * 1024 * 1024);
    const char *rid = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Request-Id");
    if (rid && http_request_id_ok(rid))
        snprintf(c->req.request_id, sizeof(c->req.request_id), "%s", rid);
    else
        ids_uuid4(c->req.request_id);
    c->resp.request_id = c->req.request_id;
    http_client_ip(conn, c->req.client_ip, sizeof(c->req.client_ip));
    if (s->opts.trusted_proxies && *s->opts.trusted_proxies) {
        char peer[sizeof(c->req.client_ip)];
        snprintf(peer, sizeof(peer), "%s", c->req.client_ip);
        http_forwarded_for(peer,
                           MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Forwarded-For"),
                           s->opts.trusted_proxies, c->req.client_ip, sizeof(c->req.client_ip));
    }
    c->req.route = http_find_route(s, &c->req, &c->status_hint, c->allow, sizeof(c->allow));
    c->max_body =
        c->req.route && c->req.route->max_body ? c->req.route->max_body : HTTP_DEFAULT_MAX_BODY;
    buf_init(&c->req.body, c->max_body);
    atomic_fetch_add(&s->inflight, 1);
    return c;
}

/* 413 at once when the declared length is over the route's limit: nothing is read. */
static int http_declared_too_large(struct http_ctx *c, struct MHD_Connection *conn)
{
    const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
    if (!cl)
        return 0;
    char *end = NULL;
    errno = 0;
    unsigned long long n = strtoull(cl, &end, 10);
    if (errno || end == cl || *end)
        return 0; /* libmicrohttpd rejects malformed lengths itself */
    return n > c->max_body;
}

static void http_too_large(struct http_ctx *c)
{
    char msg[128];
    snprintf(msg, sizeof(msg), "the request body is larger than this route's limit of %zu bytes",
             c->max_body);
    json_t *d = json_pack("{s:I}", "limit_bytes", (json_int_t)c->max_body);
    http_resp_error(&c->resp, 413, "payload_too_large", msg, d);
}

/* ---- hand-over between the loop thread and workers ----
 *
 * At most one step of a request is outstanding at a time (c->busy): a worker job, a piece
 * of a streamed response, or a deferred answer. The loop thread parks the connection
 * (suspends it) while a step is outstanding and it cannot go on without it; whoever ends
 * the step resumes the connection if it was parked. libmicrohttpd then calls us again. */

static struct http_ctx *http_ctx_of(struct http_req *r)
{
    return (struct http_ctx *)(void *)((char *)r - offsetof(struct http_ctx, req));
}

/* Resume a parked connection (any thread) and make its loop run the daemon. */
static void http_resume(struct http_loop *lp, struct MHD_Connection *conn)
{
    MHD_resume_connection(conn);
    if (atomic_exchange(&lp->kick, 1) == 0 && evl_current() != lp->evl)
        evl_wake(lp->evl);
}

static void http_park(struct http_ctx *c)
{
    MHD_suspend_connection(c->req.conn);
    c->suspended = 1;
    atomic_fetch_add(&c->srv->suspended, 1);
    int expect = HTTP_PENDING;
    if (!atomic_compare_exchange_strong(&c->busy, &expect, HTTP_PARKED))
        http_resume(c->loop, c->req.conn); /* it ended meanwhile */
}

static void http_unbusy(struct http_ctx *c)
{
    struct MHD_Connection *conn = c->req.conn;
    struct http_loop *lp = c->loop;
    if (atomic_exchange(&c->busy, HTTP_IDLE) == HTTP_PARKED)
        http_resume(lp, conn);
}

static void http_reentered(struct http_ctx *c)
{
    if (c->suspended) {
        c->suspended = 0;
        atomic_fetch_sub(&c->srv->suspended, 1);
    }
}

/* libmicrohttpd may call again before a suspension made in the same pass takes effect
 * (chunked bodies): such a call must leave its data alone. */
static int http_mhd_suspended(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_SUSPENDED);
    return ci && ci->suspended == MHD_YES;
}

static void http_job(struct jobs_item *it);

/* Loop thread: run a step of c on a worker, the connection parked meanwhile. */
static void http_post_job(struct http_ctx *c, enum http_job_kind kind)
{
    c->jkind = kind;
    c->job.fn = http_job;
    atomic_store(&c->busy, HTTP_PENDING);
    jobs_post(c->srv->jobs, &c->job);
    http_park(c);
}

static void http_undefer(struct http_ctx *c)
{
    struct http_loop *lp = c->loop;
    if (!c->deferred)
        return;
    c->deferred = 0;
    if (c->dprev)
        c->dprev->dnext = c->dnext;
    else
        lp->deferred = c->dnext;
    if (c->dnext)
        c->dnext->dprev = c->dprev;
    c->dprev = c->dnext = NULL;
}

void http_req_defer(struct http_req *req, void (*abort)(void *ctx), void *ctx)
{
    struct http_ctx *c = http_ctx_of(req);
    struct http_loop *lp = c->loop;
    c->abort_fn = abort;
    c->abort_ctx = ctx;
    c->deferred = 1;
    c->dprev = NULL;
    c->dnext = lp->deferred;
    if (lp->deferred)
        lp->deferred->dprev = c;
    lp->deferred = c;
    atomic_store(&c->busy, HTTP_PENDING);
}

void http_req_complete(struct http_req *req)
{
    struct http_ctx *c = http_ctx_of(req);
    if (!c->deferred)
        return;
    http_undefer(c);
    http_unbusy(c);
}

void http_req_run_blocking(struct http_req *req, http_work_fn fn, void *ctx)
{
    struct http_ctx *c = http_ctx_of(req);
    c->work_fn = fn;
    c->work_ctx = ctx;
    if (!c->deferred)
        return; /* from the handler: http_dispatch posts it */
    http_undefer(c);
    c->jkind = HTTP_JOB_WORK; /* busy stays pending (or parked): the job ends it */
    c->job.fn = http_job;
    jobs_post(c->srv->jobs, &c->job);
}

/* ---- dispatch: route, authenticate, admit, handler ---- */

/* How a stage ended: go on; answered; run this stage again on a worker; run the handler's
 * blocking work (http_req_run_blocking) on a worker; the answer comes later (deferred). */
enum http_step { HTTP_NEXT, HTTP_ANSWERED, HTTP_OFFLOAD, HTTP_WORK, HTTP_LATER };

static enum http_step http_step_route(struct http_ctx *c)
{
    struct http_server *s = c->srv;
    struct http_req *r = &c->req;
    struct http_resp *resp = &c->resp;
    int get = strcmp(r->method, "GET") == 0 || strcmp(r->method, "HEAD") == 0;
    if (strcmp(r->method, "OPTIONS") == 0 && s->opts.cors_origins && *s->opts.cors_origins) {
        resp->status = 204;
        http_resp_header(resp, "Access-Control-Allow-Methods", "GET, POST, PUT, PATCH, DELETE");
        http_resp_header(resp, "Access-Control-Allow-Headers",
                         "Authorization, Content-Type, X-Request-Id");
        http_resp_header(resp, "Access-Control-Max-Age", "600");
        return HTTP_ANSWERED;
    }
    if (!r->may_block && get && strcmp(r->path, "/readyz") == 0)
        return HTTP_OFFLOAD; /* it asks the database and the broker */
    if (http_builtin(s, r, resp))
        return HTTP_ANSWERED;
    if (!r->route && s->opts.fallback && c->status_hint == 404 && get) {
        if (!r->may_block)
            return HTTP_OFFLOAD; /* files */
        s->opts.fallback(r, resp);
        return HTTP_ANSWERED;
    }
    if (!r->route) {
        if (c->status_hint == 405) {
            http_resp_header(resp, "Allow", c->allow);
            http_resp_error(resp, 405, "method_not_allowed",
                            "this path does not accept that method", NULL);
        } else {
            http_resp_error(resp, 404, "not_found", "no such route", NULL);
        }
        return HTTP_ANSWERED;
    }
    return HTTP_NEXT;
}

static enum http_step http_step_auth(struct http_ctx *c)
{
    struct http_server *s = c->srv;
    struct http_req *r = &c->req;
    if ((r->route->flags & HTTP_PUBLIC) || !s->opts.authenticate)
        return HTTP_NEXT;
    const char *why = "authentication is required";
    int rc = s->opts.authenticate(s->opts.app, r, &why);
    if (rc == HTTP_NEEDS_WORKER && !r->may_block)
        return HTTP_OFFLOAD;
    if (rc == -EIO || rc == -EAGAIN || rc == HTTP_NEEDS_WORKER) {
        /* a dependency is down, not the caller's fault */
        http_resp_error(&c->resp, 503, "service_unavailable",
                        "credentials cannot be checked right now; retry shortly", NULL);
        return HTTP_ANSWERED;
    }
    if (rc != 0) {
        http_resp_header(&c->resp, "WWW-Authenticate", "Bearer");
        http_resp_error(&c->resp, 401, "unauthorized", why, NULL);
        return HTTP_ANSWERED;
    }
    r->authenticated = 1;
    return HTTP_NEXT;
}

static enum http_step http_step_admit(struct http_ctx *c)
{
    struct http_server *s = c->srv;
    if (!s->opts.admit)
        return HTTP_NEXT;
    int rc = s->opts.admit(s->opts.app, &c->req, &c->resp);
    if (rc == HTTP_NEEDS_WORKER && !c->req.may_block)
        return HTTP_OFFLOAD;
    if (rc == 0)
        return HTTP_NEXT;
    if (c->resp.status < 400)
        http_resp_error(&c->resp, 429, "rate_limited", "too many requests; retry later", NULL);
    return HTTP_ANSWERED;
}

static enum http_step http_step_handler(struct http_ctx *c)
{
    struct http_req *r = &c->req;
    if (!r->may_block && !(r->route->flags & HTTP_INLINE))
        return HTTP_OFFLOAD;
    r->route->fn(r, &c->resp);
    if (c->deferred)
        return HTTP_LATER;
    if (!c->work_fn)
        return HTTP_ANSWERED;
    if (!r->may_block)
        return HTTP_WORK;
    http_work_fn fn = c->work_fn; /* already on a worker: do it now */
    c->work_fn = NULL;
    fn(r, &c->resp, c->work_ctx);
    return HTTP_ANSWERED;
}

/* Requests moved from a loop to a worker, by the stage that asked (in /metrics). */
static void http_count_handoff(const struct http_ctx *c)
{
    static const char *const stages[] = {"route", "authenticate", "admit", "handler", "handler"};
    char labels[160] = "";
    if (metrics_label_append(labels, sizeof(labels), "service", c->srv->opts.service) == 0 &&
        metrics_label_append(labels, sizeof(labels), "stage", stages[c->stage]) == 0)
        metrics_counter_add("http_worker_handoffs_total",
                            "requests an event loop handed to a worker, by the stage that asked",
                            labels, 1);
}

/* Run the request's stages from c->stage on this thread. 0 when answered (or the handler
 * takes the body), 1 when the answer comes later: a worker job was posted (the connection
 * is parked) or the handler deferred it. */
static int http_dispatch(struct http_ctx *c)
{
    log_set_request_id(c->req.request_id);
    enum http_step st = HTTP_NEXT;
    while (st == HTTP_NEXT && c->stage != HTTP_ST_DONE) {
        switch (c->stage) {
        case HTTP_ST_ROUTE:
            st = http_step_route(c);
            break;
        case HTTP_ST_AUTH:
            st = http_step_auth(c);
            break;
        case HTTP_ST_ADMIT:
            st = http_step_admit(c);
            break;
        default:
            st = http_step_handler(c);
            break;
        }
        if (st != HTTP_OFFLOAD)
            c->stage = st == HTTP_NEXT ? c->stage + 1 : HTTP_ST_DONE;
    }
    if (st == HTTP_OFFLOAD || st == HTTP_WORK) {
        http_count_handoff(c);
        http_post_job(c, st == HTTP_OFFLOAD ? HTTP_JOB_DISPATCH : HTTP_JOB_WORK);
        return 1;
    }
    return st == HTTP_LATER;
}

/* ---- request bodies ---- */

/* Request-body pieces on their way to the handler's body_chunk on a worker: the loop
 * fills one buffer (a copy: libmicrohttpd reuses its own) while a worker hands the other to
 * the handler, so reading the socket and taking the body overlap. Shared under mu. Freed
 * by the request at its end, or by the worker when the request ends while it runs. */
#define HTTP_PIPE_CAP (256 * 1024)

struct http_pipe {
    pthread_mutex_t mu;
    struct jobs_item job;
    struct jobs *jobs;
    struct http_ctx *c; /* NULL once the request ended */
    int (*chunk)(void *ctx, const char *data, size_t len);
    void (*end)(void *ctx, struct http_resp *resp);
    void *ctx;
    char request_id[72];
    char *fill, *work;
    size_t fill_len, cap;
    int running;  /* a worker is draining it */
    int refused;  /* body_chunk refused, or the body is abandoned: drop the rest */
    int end_null; /* abandoned while running: the worker calls end(ctx, NULL) */
    int waiting;  /* the loop parked: for room, or for the drain before body_end */
};

static void http_pipe_free(struct http_pipe *p)
{
    pthread_mutex_destroy(&p->mu);
    free(p->fill);
    free(p->work);
    free(p);
}

/* mu held: the parked loop may go on; returns the request to resume after unlocking. */
static struct http_ctx *http_pipe_waiter(struct http_pipe *p)
{
    if (!p->waiting || !p->c)
        return NULL;
    p->waiting = 0;
    return p->c;
}

static void http_pipe_run(struct jobs_item *it)
{
    struct http_pipe *p =
        (struct http_pipe *)(void *)((char *)it - offsetof(struct http_pipe, job));
    log_set_request_id(p->request_id);
    pthread_mutex_lock(&p->mu);
    while (p->fill_len > 0 && !p->refused) {
        char *data = p->fill;
        size_t n = p->fill_len;
        p->fill = p->work;
        p->work = data;
        p->fill_len = 0;
        struct http_ctx *wake = http_pipe_waiter(p); /* room again */
        pthread_mutex_unlock(&p->mu);
        if (wake)
            http_unbusy(wake);
        int rc = p->chunk(p->ctx, data, n);
        pthread_mutex_lock(&p->mu);
        if (rc < 0)
            p->refused = 1; /* the handler answers from body_end */
    }
    p->fill_len = 0;
    p->running = 0;
    struct http_ctx *wake = http_pipe_waiter(p); /* drained */
    int end_null = p->end_null, orphaned = p->c == NULL;
    pthread_mutex_unlock(&p->mu);
    log_set_request_id(NULL);
    if (wake)
        http_unbusy(wake);
    if (end_null)
        p->end(p->ctx, NULL);
    if (orphaned)
        http_pipe_free(p);
}

/* Loop thread: the handler takes the body; start its pipe. 0 or -ENOMEM. */
static int http_pipe_open(struct http_ctx *c)
{
    struct http_pipe *p = calloc(1, sizeof(*p));
    char *a = malloc(HTTP_PIPE_CAP), *b = malloc(HTTP_PIPE_CAP);
    if (!p || !a || !b) {
        free(p);
        free(a);
        free(b);
        return -ENOMEM;
    }
    pthread_mutex_init(&p->mu, NULL);
    p->job.fn = http_pipe_run;
    p->jobs = c->srv->jobs;
    p->c = c;
    p->chunk = c->req.body_chunk;
    p->end = c->req.body_end;
    p->ctx = c->req.body_ctx;
    snprintf(p->request_id, sizeof(p->request_id), "%s", c->req.request_id);
    p->fill = a;
    p->work = b;
    p->cap = HTTP_PIPE_CAP;
    c->pipe = p;
    return 0;
}

/* Loop thread: 1 when the bytes were taken, 0 when there is no room yet (the connection
 * is parked and the same bytes come again when it resumes). */
static int http_pipe_push(struct http_ctx *c, const char *data, size_t n)
{
    struct http_pipe *p = c->pipe;
    pthread_mutex_lock(&p->mu);
    if (p->refused) {
        pthread_mutex_unlock(&p->mu);
        c->discard = 1; /* the handler answers from body_end */
        return 1;
    }
    if (n > p->cap) { /* larger than any libmicrohttpd buffer: never in practice */
        pthread_mutex_unlock(&p->mu);
        c->discard = 1;
        return 1;
    }
    if (p->fill_len + n > p->cap) { /* full: the worker draining it makes room */
        p->waiting = 1;
        atomic_store(&c->busy, HTTP_PENDING);
        pthread_mutex_unlock(&p->mu);
        http_park(c);
        return 0;
    }
    memcpy(p->fill + p->fill_len, data, n);
    p->fill_len += n;
    if (!p->running) {
        p->running = 1;
        jobs_post(p->jobs, &p->job);
    }
    pthread_mutex_unlock(&p->mu);
    return 1;
}

/* Loop thread: 1 when a worker still takes pieces (the connection is parked until it
 * is done), 0 when the pipe is empty. */
static int http_pipe_wait_drain(struct http_ctx *c)
{
    struct http_pipe *p = c->pipe;
    if (!p)
        return 0;
    pthread_mutex_lock(&p->mu);
    int running = p->running;
    if (running) {
        p->waiting = 1;
        atomic_store(&c->busy, HTTP_PENDING);
    }
    pthread_mutex_unlock(&p->mu);
    if (running)
        http_park(c);
    return running;
}

/* Loop thread: the body will not be taken after all. 1 when the worker still runs and
 * calls body_end(NULL) itself, 0 when the caller must. */
static int http_pipe_abandon(struct http_ctx *c)
{
    struct http_pipe *p = c->pipe;
    if (!p)
        return 0;
    pthread_mutex_lock(&p->mu);
    p->refused = 1;
    p->fill_len = 0;
    int running = p->running;
    p->end_null = running;
    pthread_mutex_unlock(&p->mu);
    return running;
}

/* Loop thread, at the request's end: free the pipe, or leave it to its worker. */
static void http_pipe_close(struct http_ctx *c)
{
    struct http_pipe *p = c->pipe;
    if (!p)
        return;
    c->pipe = NULL;
    pthread_mutex_lock(&p->mu);
    p->c = NULL;
    p->waiting = 0;
    int running = p->running;
    pthread_mutex_unlock(&p->mu);
    if (!running)
        http_pipe_free(p);
}

struct http_orphan {
    struct jobs_item job;
    void (*end)(void *ctx, struct http_resp *resp);
    void *ctx;
};

static void http_orphan_run(struct jobs_item *it)
{
    struct http_orphan *o = (struct http_orphan *)(void *)it;
    o->end(o->ctx, NULL);
    free(o);
}

/* The body will not be taken after all (answered early, 413, client gone): let the
 * handler let go, on a worker since that may block (deleting a partial upload). */
static void http_body_abandon(struct http_ctx *c)
{
    if (c->ended || !c->req.body_end)
        return;
    c->ended = 1;
    if (http_pipe_abandon(c))
        return; /* its worker still runs: it calls body_end when done */
    struct http_orphan *o = malloc(sizeof(*o));
    if (!o) {
        c->req.body_end(c->req.body_ctx, NULL);
        return;
    }
    o->job.fn = http_orphan_run;
    o->end = c->req.body_end;
    o->ctx = c->req.body_ctx;
    jobs_post(c->srv->jobs, &o->job);
}

static void http_body_end(struct http_ctx *c, struct http_resp *resp)
{
    if (c->ended || !c->req.body_end)
        return;
    c->ended = 1;
    c->req.body_end(c->req.body_ctx, resp);
}

/* After the first call's dispatch of an HTTP_STREAM_BODY route: answered already (any body
 * is dropped), or the handler takes the body in chunks. */
static void http_stream_decide(struct http_ctx *c)
{
    if (c->resp.status || !c->req.body_chunk) {
        c->discard = 1;
        http_body_abandon(c);
        return;
    }
    c->streaming = 1;
    if (http_pipe_open(c) != 0)
        c->discard = 1; /* out of memory: the handler answers from body_end */
}

/* A chunk of body: stream it, buffer it, or drop it. 0 when taken, 1 when the 413 must go
 * now, 2 when not taken yet (the pipe is full: the connection is parked). */
static int http_take_body(struct http_ctx *c, const char *data, size_t n)
{
    c->req.body_seen += n;
    if (c->discard || c->over_limit) {
        c->discarded += n;
        return c->discarded > HTTP_DISCARD_MAX;
    }
    if (c->req.body_seen > c->max_body) {
        c->over_limit = 1;
        http_body_abandon(c);
        buf_release(&c->req.body);
        http_too_large(c);
        return 0;
    }
    if (c->streaming) {
        if (http_pipe_push(c, data, n))
            return 0;
        c->req.body_seen -= n; /* the same bytes come again */
        return 2;
    }
    if (buf_append(&c->req.body, data, n) != 0) {
        c->over_limit = 1;
        buf_release(&c->req.body);
        http_too_large(c);
    }
    return 0;
}

/* ---- the access handler ---- */

static void http_job(struct jobs_item *it)
{
    struct http_ctx *c = (struct http_ctx *)(void *)((char *)it - offsetof(struct http_ctx, job));
    c->req.may_block = 1;
    log_set_request_id(c->req.request_id);
    switch (c->jkind) {
    case HTTP_JOB_DISPATCH:
        (void)http_dispatch(c);
        break;
    case HTTP_JOB_WORK: {
        http_work_fn fn = c->work_fn;
        c->work_fn = NULL;
        fn(&c->req, &c->resp, c->work_ctx);
        break;
    }
    case HTTP_JOB_BODY_END:
        http_body_end(c, &c->resp);
        break;
    }
    c->req.may_block = 0;
    log_set_request_id(NULL);
    http_unbusy(c);
}

/* The first call: headers are in. HTTP_STREAM_BODY routes are dispatched now. */
static enum MHD_Result http_first_call(struct http_loop *lp, struct http_ctx *c,
                                       struct MHD_Connection *conn, const char *url,
                                       const char *method, void **con_cls)
{
    c = http_ctx_start(lp, c, conn, url, method);
    if (!c)
        return MHD_NO;
    *con_cls = c;
    if (atomic_load(&lp->srv->stopping))
        return MHD_NO;
    if (http_declared_too_large(c, conn)) {
        c->over_limit = 1;
        http_too_large(c);
        return http_send(c, conn);
    }
    if (!c->req.route || !(c->req.route->flags & HTTP_STREAM_BODY))
        return MHD_YES;
    if (http_dispatch(c) == 0)
        http_stream_decide(c);
    else if (c->suspended)
        c->in_first = 1; /* a worker has it: its end re-enters this first call */
    else
        c->discard = 1; /* deferred: the answer comes later, no body is taken */
    return MHD_YES;
}

/* The last call: the whole body is in. */
static enum MHD_Result http_last_call(struct http_ctx *c, struct MHD_Connection *conn)
{
    if (!c->final_started) {
        if (c->streaming && http_pipe_wait_drain(c))
            return MHD_YES; /* body_end comes after the last piece */
        c->final_started = 1;
        if (c->streaming && !c->over_limit) {
            if (c->req.body_end && !c->ended) {
                http_post_job(c, HTTP_JOB_BODY_END);
                return MHD_YES;
            }
        } else if (!c->over_limit && !c->discard && http_dispatch(c)) {
            if (!c->suspended && atomic_load(&c->busy) != HTTP_IDLE)
                http_park(c); /* deferred */
            return MHD_YES;
        }
    }
    return http_send(c, conn);
}

static enum MHD_Result http_on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                       const char *method, const char *version,
                                       const char *upload_data, size_t *upload_data_size,
                                       void **con_cls)
{
    struct http_loop *lp = cls;
    struct http_ctx *c = *con_cls;
    if (!c || !c->started)
        return http_first_call(lp, c, conn, url, method, con_cls);
    if (http_mhd_suspended(conn))
        return MHD_YES; /* keep the data for when it resumes */
    http_reentered(c);
    if (atomic_load(&lp->srv->stopping) && !c->queued)
        return MHD_NO;
    if (atomic_load(&c->busy) != HTTP_IDLE) {
        http_park(c); /* a deferred answer is not in yet */
        return MHD_YES;
    }
    if (c->in_first) {
        c->in_first = 0;
        http_stream_decide(c);
        return MHD_YES;
    }
    if (c->queued) {
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (*upload_data_size) {
        int rc = http_take_body(c, upload_data, *upload_data_size);
        if (rc != 2)
            *upload_data_size = 0;
        return rc == 1 ? http_send(c, conn) : MHD_YES;
    }
    return http_last_call(c, conn);
}

static void http_record(struct http_ctx *c, enum MHD_RequestTerminationCode toe)
{
    double dt = clock_mono_s() - c->t0;
    const char *route = c->req.route ? c->req.route->pattern : c->req.path;
    int known = c->req.route || strcmp(route, "/healthz") == 0 || strcmp(route, "/readyz") == 0 ||
                strcmp(route, "/metrics") == 0 || strcmp(route, "/openapi.json") == 0;
    if (!known)
        route = "unmatched";
    char labels[640] = "", status[8];
    snprintf(status, sizeof(status), "%d", c->resp.status);
    /* the method is the client's: escape everything; an overlong label drops the sample */
    if (metrics_label_append(labels, sizeof(labels), "service", c->srv->opts.service) == 0 &&
        metrics_label_append(labels, sizeof(labels), "route", route) == 0 &&
        metrics_label_append(labels, sizeof(labels), "method", c->req.method) == 0) {
        metrics_histogram_observe("http_request_duration_seconds", "HTTP request latency", labels,
                                  dt);
        if (metrics_label_append(labels, sizeof(labels), "status", status) == 0)
            metrics_counter_add("http_requests_total", "HTTP requests handled", labels, 1);
    }
    if (!c->srv->opts.access_log && c->resp.status < 500)
        return;
    log_set_request_id(c->req.request_id);
    log_fields(c->resp.status >= 500 ? LOG_LVL_WARN : LOG_LVL_INFO,
               json_pack("{s:s, s:s, s:s, s:i, s:f, s:s, s:b}", "method", c->req.method, "path",
                         c->req.path, "route", route, "status", c->resp.status, "ms", dt * 1000.0,
                         "client", c->req.client_ip, "completed",
                         toe == MHD_REQUEST_TERMINATED_COMPLETED_OK),
               "request");
    log_set_request_id(NULL);
}

static void http_on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                              enum MHD_RequestTerminationCode toe)
{
    struct http_ctx *c = *con_cls;
    if (!c)
        return;
    *con_cls = NULL;
    if (!c->started) {
        free(c->req.raw_uri);
        free(c);
        return;
    }
    http_reentered(c);
    if (c->deferred) { /* gone before its answer: the owner lets go */
        http_undefer(c);
        c->abort_fn(c->abort_ctx);
    }
    http_body_abandon(c); /* abandoned mid-body: let the handler let go */
    http_pipe_close(c);
    http_record(c, toe);
    free(c->req.raw_uri);
    http_params_release(c->req.params, c->req.nparams);
    buf_release(&c->req.body);
    http_resp_clear_body(&c->resp);
    buf_release(&c->resp.body);
    for (size_t i = 0; i < c->resp.nheaders; i++) {
        free(c->resp.headers[i].name);
        free(c->resp.headers[i].value);
    }
    atomic_fetch_sub(&c->srv->inflight, 1);
    free(c);
}

/* ------------------------------------------------------------------ server */

static void http_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    log_debug("libmicrohttpd: %s", msg);
}

static void http_loop_mhd(struct evl_watch *w, unsigned events)
{
    struct http_loop *lp = w->ctx;
    atomic_store(&lp->kick, 0);
    MHD_run(lp->daemon);
}

static void *http_loop_main(void *arg)
{
    struct http_loop *lp = arg;
    evl_set_current(lp->evl);
    while (!atomic_load(&lp->stop)) {
        MHD_UNSIGNED_LONG_LONG to = 1000;
        if (MHD_get_timeout(lp->daemon, &to) != MHD_YES || to > 1000)
            to = 1000;
        int64_t due = clock_mono_ms() + (int64_t)to;
        evl_run_once(lp->evl, atomic_load(&lp->kick) ? 0 : (int)to);
        if (atomic_exchange(&lp->kick, 0) || clock_mono_ms() >= due)
            MHD_run(lp->daemon);
    }
    return NULL;
}

/* The listening socket every daemon shares (each holds a duplicate). */
static int http_listen(struct http_server *s, const struct http_server_opts *o)
{
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(o->port)};
    const char *bind_addr = o->bind_addr ? o->bind_addr : "0.0.0.0";
    if (inet_pton(AF_INET, bind_addr, &addr.sin_addr) != 1) {
        log_error("bind address \"%s\" is not an IPv4 address", bind_addr);
        return -EINVAL;
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 || listen(fd, 1024) != 0) {
        log_error("cannot listen on %s:%u", bind_addr, (unsigned)o->port);
        if (fd >= 0)
            close(fd);
        return -EADDRINUSE;
    }
    socklen_t len = sizeof(addr);
    if (getsockname(fd, (struct sockaddr *)&addr, &len) == 0)
        s->port = ntohs(addr.sin_port);
    s->listen_fd = fd;
    return 0;
}

static int http_loop_start(struct http_server *s, struct http_loop *lp, unsigned conn_limit)
{
    const struct http_server_opts *o = &s->opts;
    lp->srv = s;
    if (evl_new(&lp->evl) != 0)
        return -ENOMEM;
    int fd = fcntl(s->listen_fd, F_DUPFD_CLOEXEC, 0);
    if (fd < 0)
        return -EIO;
    unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ITC | MHD_USE_ERROR_LOG;
    lp->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, http_on_request, lp, MHD_OPTION_LISTEN_SOCKET, fd,
        MHD_OPTION_NOTIFY_COMPLETED, http_on_completed, lp, MHD_OPTION_URI_LOG_CALLBACK,
        http_on_uri, lp, MHD_OPTION_CONNECTION_LIMIT, conn_limit, MHD_OPTION_CONNECTION_TIMEOUT,
        o->conn_timeout_s ? o->conn_timeout_s : 60u, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)HTTP_CONN_MEMORY, MHD_OPTION_EXTERNAL_LOGGER, http_mhd_log, NULL, MHD_OPTION_END);
    if (!lp->daemon)
        return -EIO; /* libmicrohttpd owns fd from here on */
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(lp->daemon, MHD_DAEMON_INFO_EPOLL_FD);
    lp->mhd_watch.fd = di ? di->epoll_fd : -1;
    lp->mhd_watch.cb = http_loop_mhd;
    lp->mhd_watch.ctx = lp;
    if (lp->mhd_watch.fd < 0 || evl_add(lp->evl, &lp->mhd_watch, EVL_IN) != 0)
        return -EIO;
    if (pthread_create(&lp->thread, NULL, http_loop_main, lp) != 0)
        return -EAGAIN;
    lp->started = 1;
    return 0;
}

/* One loop per CPU by default, as nginx's workers: on a machine shared with other work the
 * scheduler shares CPU time by thread, and measured with bench/gateway one loop per CPU
 * keeps latency and throughput up better than fewer. */
static unsigned http_thread_count(const struct http_server_opts *o)
{
    long n = o->threads ? (long)o->threads : sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1u : n > 16 ? 16u : (unsigned)n;
}

/* Stop the loop threads and daemons and free everything (also after a failed start). */
static void http_server_free(struct http_server *s)
{
    for (unsigned i = 0; s->loops && i < s->nloops; i++) {
        struct http_loop *lp = &s->loops[i];
        if (lp->started) {
            atomic_store(&lp->stop, 1);
            evl_wake(lp->evl);
            pthread_join(lp->thread, NULL);
        }
    }
    for (unsigned i = 0; s->loops && i < s->nloops; i++) {
        struct http_loop *lp = &s->loops[i];
        evl_del(&lp->mhd_watch);
        if (lp->daemon)
            MHD_stop_daemon(lp->daemon);
        evl_free(lp->evl);
    }
    jobs_free(s->jobs); /* after the daemons: closing connections may post jobs */
    if (s->listen_fd >= 0)
        close(s->listen_fd);
    free(s->loops);
    free(s->openapi);
    free(s);
}

int http_server_start(const struct http_server_opts *o, struct http_server **out)
{
    struct http_server *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->opts = *o;
    s->listen_fd = -1;
    s->openapi = http_openapi_render(o);
    int rc = http_listen(s, o);
    if (rc == 0)
        rc = jobs_new(2, 4096, 10000, &s->jobs);
    s->nloops = http_thread_count(o);
    s->loops = rc == 0 ? calloc(s->nloops, sizeof(*s->loops)) : NULL;
    if (rc == 0 && !s->loops)
        rc = -ENOMEM;
    unsigned limit = o->conn_limit ? o->conn_limit : 4096u;
    for (unsigned i = 0; rc == 0 && i < s->nloops; i++)
        rc = http_loop_start(s, &s->loops[i], (limit + s->nloops - 1) / s->nloops);
    if (rc) {
        if (rc != -EINVAL && rc != -EADDRINUSE)
            log_error("cannot start the HTTP server (%s)", strerror(-rc));
        http_server_free(s);
        return rc;
    }
    close(s->listen_fd); /* each daemon holds its own duplicate */
    s->listen_fd = -1;
    *out = s;
    return 0;
}

uint16_t http_server_port(const struct http_server *s)
{
    return s->port;
}

struct http_loop_call {
    void (*fn)(void *arg);
    struct http_loop *lp;
    atomic_int *left;
};

static void http_loop_call_run(void *arg)
{
    struct http_loop_call *k = arg;
    k->fn(k->lp);
    atomic_fetch_sub(k->left, 1);
}

/* Run fn(loop) on every loop thread and wait until all have run it. */
static void http_on_loops(struct http_server *s, void (*fn)(void *arg))
{
    atomic_int left = 0;
    struct http_loop_call *calls = calloc(s->nloops, sizeof(*calls));
    for (unsigned i = 0; i < s->nloops; i++) {
        struct http_loop *lp = &s->loops[i];
        if (calls) {
            calls[i] = (struct http_loop_call){fn, lp, &left};
            atomic_fetch_add(&left, 1);
            if (evl_post(lp->evl, http_loop_call_run, &calls[i]) == 0)
                continue;
            atomic_fetch_sub(&left, 1);
        }
        fn(lp); /* out of memory: run it from here, racing the loop (rare, and at shutdown) */
    }
    while (atomic_load(&left) > 0)
        usleep(1000);
    free(calls);
}

static void http_loop_quiesce(void *arg)
{
    struct http_loop *lp = arg;
    MHD_socket fd = MHD_quiesce_daemon(lp->daemon);
    if (fd != MHD_INVALID_SOCKET)
        close(fd);
}

/* Past the grace period: requests still waiting for a deferred answer get none. */
static void http_loop_abandon(void *arg)
{
    struct http_loop *lp = arg;
    while (lp->deferred) {
        struct http_ctx *c = lp->deferred;
        http_undefer(c);
        c->abort_fn(c->abort_ctx);
        http_resp_error(&c->resp, 503, "shutting_down", "the service is shutting down", NULL);
        http_unbusy(c);
    }
}

void http_server_drain(struct http_server *s)
{
    if (!s || atomic_exchange(&s->draining, 1))
        return;
    http_on_loops(s, http_loop_quiesce);
}

void http_server_stop(struct http_server *s, int grace_ms)
{
    if (!s)
        return;
    http_server_drain(s);
    int64_t deadline = clock_mono_ms() + grace_ms;
    while (atomic_load(&s->inflight) > 0 && clock_mono_ms() < deadline)
        usleep(10 * 1000);
    if (atomic_load(&s->inflight) > 0)
        log_warn("stopping with %d requests still in flight", atomic_load(&s->inflight));
    atomic_store(&s->stopping, 1);
    http_on_loops(s, http_loop_abandon);
    /* a suspended connection comes back when its outstanding step ends; libmicrohttpd
     * must not be stopped before (it cannot close a suspended connection) */
    while (atomic_load(&s->suspended) > 0)
        usleep(10 * 1000);
    http_server_free(s);
}
