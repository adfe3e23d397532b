/* proxy: streams API routes to the owning service with a freshly minted internal token.
 *
 * The request body is pushed upstream as it arrives and the response is pulled as the
 * client reads it (uplink: kept-alive sockets per upstream), so neither is held whole: 1 GB
 * uploads, downloads and Server-Sent Events pass through. A small response that is complete when
 * its headers arrive is sent in one piece with a Content-Length. Connect failures of idempotent
 * requests are retried once; each upstream has a circuit breaker (state in /metrics).
 *
 * Threads: the handler starts on the HTTP server's event loop (an HTTP_INLINE route). A
 * request without a body goes out at once on an idle kept-alive socket and its answer is
 * read on the same loop (uplink_start_async), the client's connection waiting meanwhile
 * without a thread. A request with a body, or when no idle socket is pooled (connecting),
 * or when the pooled socket proves closed, moves to a worker thread and the blocking
 * exchange; so does reading the rest of a large or streamed response. */
#include "gateway.h"

#include <ibx/evloop.h>
#include <ibx/log.h>
#include <ibx/uplink.h>
#include <ibx/metrics.h>

#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define PROXY_BUFFERED_MAX (64 * 1024) /* a complete body up to this size goes in one piece */
#define PROXY_SSE_TYPE     "text/event-stream"
#define PROXY_HEADER_LINES 10
#define BREAKER_FAILURES   5     /* consecutive failures that open the circuit */
#define BREAKER_OPEN_MS    10000 /* how long it stays open before one trial request */

enum breaker_state { BREAKER_CLOSED = 0, BREAKER_OPEN = 1, BREAKER_HALF_OPEN = 2 };

struct breaker {
    const char *name;
    pthread_mutex_t mu;
    enum breaker_state state;
    int failures;
    long long opened_ms;
    int trial_out; /* a half-open trial request is in flight */
};

static struct breaker breakers[] = {
    {"selection", PTHREAD_MUTEX_INITIALIZER, BREAKER_CLOSED, 0, 0, 0},
    {"ml-pipeline", PTHREAD_MUTEX_INITIALIZER, BREAKER_CLOSED, 0, 0, 0},
    {"xai-engine", PTHREAD_MUTEX_INITIALIZER, BREAKER_CLOSED, 0, 0, 0},
    {"model-serving", PTHREAD_MUTEX_INITIALIZER, BREAKER_CLOSED, 0, 0, 0},
};

struct upstream {
    const char *prefix;
    size_t cfg_off; /* offset of the base URL in struct gw_config */
    struct breaker *breaker;
};

/* One socket pool per upstream service, in the order of breakers[]. */
static struct uplink_pool *pools[sizeof(breakers) / sizeof(breakers[0])];

static const struct upstream upstreams[] = {
    {"/api/v1/datasets", offsetof(struct gw_config, selection_url), &breakers[0]},
    {"/api/v1/projects", offsetof(struct gw_config, selection_url), &breakers[0]},
    {"/api/v1/admin/ethical-templates", offsetof(struct gw_config, selection_url), &breakers[0]},
    {"/api/v1/experiments", offsetof(struct gw_config, pipeline_url), &breakers[1]},
    {"/api/v1/pipelines", offsetof(struct gw_config, pipeline_url), &breakers[1]},
    {"/api/v1/algorithms", offsetof(struct gw_config, pipeline_url), &breakers[1]},
    {"/api/v1/advice", offsetof(struct gw_config, pipeline_url), &breakers[1]},
    {"/api/v1/explanations", offsetof(struct gw_config, xai_url), &breakers[2]},
    {"/api/v1/chat", offsetof(struct gw_config, xai_url), &breakers[2]},
    {"/api/v1/models", offsetof(struct gw_config, serving_url), &breakers[3]},
    {"/api/v1/deployments", offsetof(struct gw_config, serving_url), &breakers[3]},
    {"/api/v1/review", offsetof(struct gw_config, serving_url), &breakers[3]},
    {"/api/v1/llm", offsetof(struct gw_config, serving_url), &breakers[3]},
    {"/v1", offsetof(struct gw_config, serving_url), &breakers[3]},
    {"/v2", offsetof(struct gw_config, serving_url), &breakers[3]},
};

/* One proxied request, owned by the http request (body_ctx) and then by the response
 * stream when the body is streamed out. */
struct proxy_job {
    struct svc *svc;
    const struct upstream *up;
    struct uplink_req req;
    struct uplink *link;
    const char *hdrs[PROXY_HEADER_LINES + 1];
    int streamed_body;
    int failed;           /* error already counted against the breaker */
    char reservation[37]; /* pipeline-run quota held for this request, "" when none */
    int err;
    struct http_req *http; /* asynchronous exchange: the request to complete */
    struct http_resp *resp;
    char lines[PROXY_HEADER_LINES][1100]; /* last: not zeroed at allocation */
};

static long long proxy_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------------ circuit breaker */

static void breaker_publish(const struct breaker *b)
{
    char labels[64];
    snprintf(labels, sizeof(labels), "upstream=\"%s\"", b->name);
    metrics_gauge_set("gateway_upstream_circuit_state",
                      "circuit breaker per upstream: 0 closed, 1 open, 2 half-open", labels,
                      (double)b->state);
}

/* 0 when a request may go, -EAGAIN when the circuit is open. */
static int breaker_admit(struct breaker *b)
{
    int rc = 0;
    pthread_mutex_lock(&b->mu);
    enum breaker_state was = b->state;
    if (b->state == BREAKER_OPEN && proxy_now_ms() - b->opened_ms >= BREAKER_OPEN_MS) {
        b->state = BREAKER_HALF_OPEN;
        b->trial_out = 0;
    }
    if (b->state == BREAKER_OPEN || (b->state == BREAKER_HALF_OPEN && b->trial_out))
        rc = -EAGAIN;
    else if (b->state == BREAKER_HALF_OPEN)
        b->trial_out = 1;
    if (b->state != was)
        breaker_publish(b);
    pthread_mutex_unlock(&b->mu);
    return rc;
}

static void breaker_result(struct breaker *b, int ok)
{
    pthread_mutex_lock(&b->mu);
    enum breaker_state was = b->state;
    if (ok) {
        b->failures = 0;
        b->state = BREAKER_CLOSED;
    } else if (b->state == BREAKER_HALF_OPEN || ++b->failures >= BREAKER_FAILURES) {
        if (b->state != BREAKER_OPEN)
            log_warn("circuit to %s opened after %d failures", b->name, b->failures);
        b->state = BREAKER_OPEN;
        b->opened_ms = proxy_now_ms();
    }
    b->trial_out = 0;
    if (b->state != was)
        breaker_publish(b);
    pthread_mutex_unlock(&b->mu);
}

/* ------------------------------------------------------------------ requests */

int proxy_internal_token(struct svc *s, const struct http_req *req, char **out)
{
    return tokcache_internal(s, &req->claims, out);
}

static const struct upstream *proxy_upstream(const char *path)
{
    for (size_t i = 0; i < sizeof(upstreams) / sizeof(upstreams[0]); i++) {
        size_t n = strlen(upstreams[i].prefix);
        if (strncmp(path, upstreams[i].prefix, n) == 0 && (path[n] == '\0' || path[n] == '/'))
            return &upstreams[i];
    }
    return NULL;
}

static const char *proxy_base(const struct gw *g, const struct upstream *up)
{
    return *(const char *const *)(const void *)((const char *)&g->cfg + up->cfg_off);
}

/* The line "name: prefix value" (name a short constant); skipped when the value is 1000
 * bytes or more, or holds CR or LF. */
static void proxy_add_line(struct proxy_job *j, size_t *n, const char *name, const char *prefix,
                           const char *value)
{
    if (*n >= PROXY_HEADER_LINES || !value)
        return;
    size_t nl = strlen(name), pl = strlen(prefix), vl = strlen(value);
    if (pl + vl >= 1000 || nl > 64 || strpbrk(value, "\r\n"))
        return;
    char *d = j->lines[*n];
    memcpy(d, name, nl);
    memcpy(d + nl, ": ", 2);
    memcpy(d + nl + 2, prefix, pl);
    memcpy(d + nl + 2 + pl, value, vl);
    d[nl + 2 + pl + vl] = '\0';
    j->hdrs[*n] = d;
    (*n)++;
}

/* Upstream request headers. Client-sent Authorization and any internal header are never
 * forwarded: the only credential upstream sees is the internal token. */
static void proxy_headers(struct proxy_job *j, const struct http_req *req, const char *token)
{
    static const char *const pass[] = {"Content-Type", "Accept", "Accept-Language",
                                       "Last-Event-ID"};
    size_t n = 0;
    proxy_add_line(j, &n, "Authorization", "Bearer ", token);
    proxy_add_line(j, &n, "X-Request-Id", "", req->request_id);
    proxy_add_line(j, &n, "X-Forwarded-For", "", req->client_ip);
    for (size_t i = 0; i < sizeof(pass) / sizeof(pass[0]); i++)
        proxy_add_line(j, &n, pass[i], "", http_req_header(req, pass[i]));
    j->hdrs[n] = NULL; /* body framing (Content-Length or chunked) is uplink's */
}

static int proxy_idempotent(const char *method)
{
    return strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0 ||
           strcmp(method, "PUT") == 0 || strcmp(method, "DELETE") == 0 ||
           strcmp(method, "OPTIONS") == 0;
}

/* A body follows when the client declared one (Content-Length > 0 or chunked). */
static int proxy_has_body(const struct http_req *req, long long *size)
{
    const char *te = http_req_header(req, "Transfer-Encoding");
    const char *cl = http_req_header(req, "Content-Length");
    *size = -1;
    if (te && strcasecmp(te, "identity") != 0)
        return 1;
    if (!cl)
        return 0;
    char *end = NULL;
    long long v = strtoll(cl, &end, 10);
    if (end == cl || *end || v < 0)
        return 0;
    *size = v;
    return v > 0;
}

static void proxy_job_free(void *ctx)
{
    struct proxy_job *j = ctx;
    if (!j)
        return;
    uplink_free(j->link);
    explicit_bzero(j->lines[0], sizeof(j->lines[0]));
    free(j);
}

/* The upstream refused or never answered: give back a quota reservation. */
static void proxy_release(struct proxy_job *j)
{
    if (j->reservation[0]) {
        quota_release(j->svc, j->reservation);
        j->reservation[0] = '\0';
    }
}

static void proxy_fail(struct http_resp *resp, struct proxy_job *j, int rc)
{
    proxy_release(j);
    if (!j->failed)
        breaker_result(j->up->breaker, 0);
    j->failed = 1;
    if (rc == -ECONNREFUSED)
        http_resp_error(resp, 503, "upstream_unavailable",
                        "the service behind this route is not reachable; retry shortly", NULL);
    else if (rc == -ETIMEDOUT)
        http_resp_error(resp, 504, "upstream_timeout",
                        "the service behind this route did not answer in time", NULL);
    else
        http_resp_error(resp, 502, "bad_gateway",
                        "the service behind this route gave no valid answer", NULL);
    log_warn("upstream %s failed: %s", j->up->breaker->name, strerror(-rc));
}

/* ------------------------------------------------------------------ response */

static ssize_t proxy_stream_out(void *ctx, uint64_t pos, char *out, size_t max)
{
    struct proxy_job *j = ctx;
    ssize_t n = uplink_read(j->link, out, max);
    if (n == 0)
        return HTTP_STREAM_END;
    if (n < 0) {
        log_warn("upstream %s broke off a streamed response: %s", j->up->breaker->name,
                 strerror((int)-n));
        return HTTP_STREAM_ERROR;
    }
    return n;
}

/* The upstream headers the client sees (the first of each name), in one pass. */
static void proxy_copy_headers(const struct httpc_headers *h, struct http_resp *resp)
{
    static const char *const pass[] = {"Content-Type",
                                       "Content-Disposition",
                                       "Location",
                                       "Retry-After",
                                       "ETag",
                                       "Cache-Control",
                                       "Last-Modified",
                                       "RateLimit-Limit",
                                       "RateLimit-Remaining",
                                       "RateLimit-Reset"};
    unsigned seen = 0;
    size_t pos = 0;
    const char *v = NULL;
    for (const char *n = httpc_header_next(h, &pos, &v); n; n = httpc_header_next(h, &pos, &v)) {
        for (size_t i = 0; i < sizeof(pass) / sizeof(pass[0]); i++) {
            if (!(seen & (1u << i)) && strcasecmp(n, pass[i]) == 0) {
                seen |= 1u << i;
                http_resp_header(resp, pass[i], v);
                break;
            }
        }
    }
}

/* Headers are in: answer in one piece when the body is already complete and small,
 * otherwise stream it. Takes ownership of j. */
static void proxy_answer(struct proxy_job *j, struct http_resp *resp)
{
    long status = 0;
    const struct httpc_headers *h = NULL;
    int rc = uplink_headers(j->link, &status, &h);
    if (rc) {
        proxy_fail(resp, j, rc);
        proxy_job_free(j);
        return;
    }
    breaker_result(j->up->breaker, status < 500 || status == 501);
    if (status >= 400)
        proxy_release(j);
    j->failed = 1; /* counted */
    const char *ct = httpc_header_get(h, "Content-Type");
    int sse = ct && strncasecmp(ct, PROXY_SSE_TYPE, strlen(PROXY_SSE_TYPE)) == 0;
    const struct buf *body = NULL;
    rc = sse ? 0 : uplink_buffer(j->link, PROXY_BUFFERED_MAX, &body);
    if (rc < 0) {
        proxy_fail(resp, j, rc);
        proxy_job_free(j);
        return;
    }
    if (rc == 1) {
        http_resp_data(resp, (int)status, NULL, body->data ? body->data : "", body->len);
        proxy_copy_headers(h, resp);
        proxy_job_free(j);
        return;
    }
    http_resp_stream(resp, (int)status, NULL, proxy_stream_out, j, proxy_job_free);
    proxy_copy_headers(h, resp);
    if (sse)
        http_resp_header(resp, "X-Accel-Buffering", "no");
}

/* ------------------------------------------------------------------ body streaming */

static int proxy_body_chunk(void *ctx, const char *data, size_t len)
{
    struct proxy_job *j = ctx;
    if (j->err)
        return -1;
    int rc = uplink_write(j->link, data, len);
    if (rc) {
        j->err = rc; /* e.g. the upstream answered early: its answer comes from body_end */
        return -1;
    }
    return 0;
}

static void proxy_body_end(void *ctx, struct http_resp *resp)
{
    struct proxy_job *j = ctx;
    if (!resp) { /* abandoned: the upstream transfer is aborted with the job */
        proxy_job_free(j);
        return;
    }
    if (j->streamed_body && uplink_write_end(j->link) != 0 && !j->err)
        j->err = -EIO;
    proxy_answer(j, resp);
}

/* ------------------------------------------------------------------ handler */

static void proxy_request(struct proxy_job *j, const struct http_req *req)
{
    long long size = -1;
    j->streamed_body = proxy_has_body(req, &size);
    j->req.method = req->method;
    j->req.target = req->raw_uri;
    j->req.headers = j->hdrs;
    j->req.body_size = j->streamed_body ? (size >= 0 ? size : -2) : -1;
    j->req.header_timeout_ms = ((const struct gw *)j->svc->app)->cfg.upstream_timeout_ms;
    j->req.stream_type = PROXY_SSE_TYPE;
}

/* Blocking: connect (or reuse) and send the head. */
static int proxy_start(struct proxy_job *j, const struct http_req *req)
{
    proxy_request(j, req);
    struct uplink_pool *pool = pools[j->up->breaker - breakers];
    int rc = uplink_start(pool, &j->req, &j->link);
    /* a refused connect: retry idempotent bodiless requests once */
    if (rc == -ECONNREFUSED && !j->streamed_body && proxy_idempotent(req->method))
        rc = uplink_start(pool, &j->req, &j->link);
    return rc;
}

int proxy_init(const struct gw *g)
{
    for (size_t i = 0; i < sizeof(pools) / sizeof(pools[0]); i++) {
        breaker_publish(&breakers[i]); /* then at every change */
        const struct upstream *up = NULL;
        for (size_t k = 0; !up && k < sizeof(upstreams) / sizeof(upstreams[0]); k++) {
            if (upstreams[k].breaker == &breakers[i])
                up = &upstreams[k];
        }
        int rc = uplink_pool_new(proxy_base(g, up), &pools[i]);
        if (rc) {
            log_error("%s: the upstream URL must be http://host[:port]", breakers[i].name);
            return rc;
        }
    }
    return 0;
}

void proxy_fini(void)
{
    for (size_t i = 0; i < sizeof(pools) / sizeof(pools[0]); i++) {
        uplink_pool_free(pools[i]);
        pools[i] = NULL;
    }
}

/* Creating an experiment spends a pipeline run of the monthly quota (PostgreSQL). */
static int proxy_reserves_run(const struct http_req *req)
{
    return strcmp(req->method, "POST") == 0 && strcmp(req->path, "/api/v1/experiments") == 0;
}

/* Upstream, circuit, token, quota and headers: the job, or NULL with resp answered. */
static struct proxy_job *proxy_prepare(struct http_req *req, struct http_resp *resp)
{
    struct svc *s = req->app;
    const struct upstream *up = proxy_upstream(req->path);
    if (!up) {
        http_resp_error(resp, 404, "not_found", "no service serves this route", NULL);
        return NULL;
    }
    if (breaker_admit(up->breaker) != 0) {
        http_resp_error(resp, 503, "circuit_open",
                        "the service behind this route is failing; retry shortly", NULL);
        http_resp_header(resp, "Retry-After", "10");
        return NULL;
    }
    /* the header lines (11 KB) are written before use: zero only what precedes them */
    struct proxy_job *j = malloc(sizeof(*j));
    if (j)
        memset(j, 0, offsetof(struct proxy_job, lines));
    char *token = NULL;
    if (!j || proxy_internal_token(s, req, &token) != 0) {
        free(j);
        http_resp_errno(resp, -ENOMEM, "could not prepare the upstream request");
        return NULL;
    }
    if (proxy_reserves_run(req) && quota_reserve_run(s, req, resp, j->reservation) != 0) {
        free(token);
        free(j);
        return NULL;
    }
    j->svc = s;
    j->up = up;
    proxy_headers(j, req, token);
    free(token);
    return j;
}

/* Worker: the whole exchange of a bodiless request, blocking. */
static void proxy_exchange(struct http_req *req, struct http_resp *resp, void *ctx)
{
    struct proxy_job *j = ctx;
    uplink_free(j->link); /* a pooled socket found closed, if any */
    j->link = NULL;
    int rc = proxy_start(j, req);
    if (rc) {
        proxy_fail(resp, j, rc);
        proxy_job_free(j);
        return;
    }
    proxy_answer(j, resp);
}

/* Loop: the asynchronous exchange has its answer (or failed). */
static void proxy_async_done(void *ctx, int rc)
{
    struct proxy_job *j = ctx;
    struct http_req *req = j->http;
    log_set_request_id(req->request_id);
    if (rc == -ECONNRESET) { /* the pooled socket was closed: again on a fresh one */
        http_req_run_blocking(req, proxy_exchange, j);
        log_set_request_id(NULL);
        return;
    }
    if (rc) {
        proxy_fail(j->resp, j, rc);
        proxy_job_free(j);
    } else {
        proxy_answer(j, j->resp); /* nothing left to wait for: see uplink_start_async */
    }
    http_req_complete(req);
    log_set_request_id(NULL);
}

/* Loop: the client went away (or shutdown) while the answer was awaited. */
static void proxy_async_abort(void *ctx)
{
    proxy_job_free(ctx);
}

/* Loop: send the request on an idle kept-alive socket and await the answer on this loop. */
static void proxy_async(struct proxy_job *j, struct http_req *req, struct http_resp *resp)
{
    struct evl *loop = evl_current();
    proxy_request(j, req);
    j->http = req;
    j->resp = resp;
    struct uplink_pool *pool = pools[j->up->breaker - breakers];
    int rc = loop ? uplink_start_async(pool, &j->req, loop, PROXY_BUFFERED_MAX, proxy_async_done, j,
                                       &j->link)
                  : -ENOTCONN;
    if (rc == -ENOTCONN) { /* no idle socket: connecting is the blocking path's */
        http_req_run_blocking(req, proxy_exchange, j);
        return;
    }
    if (rc) {
        proxy_fail(resp, j, rc);
        proxy_job_free(j);
        return;
    }
    http_req_defer(req, proxy_async_abort, j);
}

/* Worker: a request with a body streams it upstream (body_chunk, body_end). */
static void proxy_streamed(struct http_req *req, struct http_resp *resp, void *ctx)
{
    proxy_handle(req, resp);
}

void proxy_handle(struct http_req *req, struct http_resp *resp)
{
    long long size = -1;
    if (!req->may_block && (proxy_has_body(req, &size) || proxy_reserves_run(req))) {
        http_req_run_blocking(req, proxy_streamed, NULL);
        return;
    }
    struct proxy_job *j = proxy_prepare(req, resp);
    if (!j)
        return;
    if (!req->may_block) {
        proxy_async(j, req, resp);
        return;
    }
    int rc = proxy_start(j, req);
    if (rc) {
        proxy_fail(resp, j, rc);
        proxy_job_free(j);
        return;
    }
    req->body_chunk = proxy_body_chunk;
    req->body_end = proxy_body_end;
    req->body_ctx = j;
}
