/* http: the HTTP server every service runs, over libmicrohttpd.
 *
 * A service gives a route table (method + pattern with {param} segments and an optional
 * trailing {name*} that matches the rest of the path), an authenticate hook, and a
 * readiness hook. The server adds /healthz, /readyz, /metrics and /openapi.json, request
 * ids, body limits (413 as soon as Content-Length says so, or as soon as a chunked body
 * passes the limit), CORS, security headers, per-route metrics, one JSON access-log line
 * per request, and graceful shutdown (http_server_drain then http_server_stop).
 *
 * Threads. A few event-loop threads (one per CPU by default) each run a libmicrohttpd
 * daemon in epoll mode over a shared listening socket; no connection has a thread of its
 * own. Everything that may block runs on an elastic pool of worker threads while its
 * connection is suspended, and the connection resumes when the answer (or the next piece
 * of a streamed body) is ready: route handlers, the authenticate and admit hooks when they
 * ask for it, request-body chunks of HTTP_STREAM_BODY routes, and response stream and
 * Server-Sent Events producers. So handlers, hooks and producers may block (database,
 * password hashing, upstream calls) without stalling other connections.
 *
 * Routes flagged HTTP_INLINE run on the loop thread instead and must not block: they answer
 * at once, or defer (http_req_defer, then http_req_complete from the same loop, e.g. when
 * a socket watched on evl_current() is ready), or move themselves to a worker
 * (http_req_run_blocking). The authenticate and admit hooks run on the loop thread first
 * (req->may_block 0) and return HTTP_NEEDS_WORKER to be run again on a worker when they
 * would have to wait.
 *
 * A handler fills the response it is given; it never queues anything itself. */
#ifndef IBX_HTTP_H
#define IBX_HTTP_H

#include <ibx/auth.h>
#include <ibx/buf.h>

#include <errno.h>
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define HTTP_MAX_PARAMS       8
#define HTTP_MAX_RESP_HEADERS 24
#define HTTP_DEFAULT_MAX_BODY (1024 * 1024)

struct http_req;
struct http_resp;
struct http_server;

typedef void (*http_handler_fn)(struct http_req *req, struct http_resp *resp);

/* A hook called with req->may_block 0 returns this to be called again on a worker thread. */
#define HTTP_NEEDS_WORKER (-EINPROGRESS)

/* Fill req->claims and return 0, or return <0 and set *why (a static string): the request
 * gets 401, or 503 when the hook returns -EIO/-EAGAIN (a dependency is down). */
typedef int (*http_auth_fn)(void *app, struct http_req *req, const char **why);
/* Admission after authentication (or for public routes, without it) and before the
 * handler: rate limits, quotas. Return 0 to go on (it may add headers to resp, e.g.
 * RateLimit-*), or < 0 after setting resp (e.g. 429 with Retry-After) to stop. */
typedef int (*http_admit_fn)(void *app, struct http_req *req, struct http_resp *resp);
/* 0 when ready; otherwise <0 and *why names the dependency that is not reachable. */
typedef int (*http_ready_fn)(void *app, const char **why);

/* Stream producer for chunked responses: write up to max bytes into out and return the
 * count; return HTTP_STREAM_END at the end, HTTP_STREAM_ERROR to abort the connection.
 * It runs on a worker thread and may block; each piece is sent as soon as it is made. */
typedef ssize_t (*http_stream_fn)(void *ctx, uint64_t pos, char *out, size_t max);
#define HTTP_STREAM_END   ((ssize_t)-1)
#define HTTP_STREAM_ERROR ((ssize_t)-2)

enum http_route_flags {
    HTTP_PUBLIC = 1u << 0,      /* no authentication */
    HTTP_STREAM_BODY = 1u << 1, /* handler runs when the headers are in; see body_chunk */
    HTTP_INLINE = 1u << 2,      /* handler runs on the event-loop thread: it must not block */
};

struct http_route {
    const char *method;  /* "GET", "POST", ... */
    const char *pattern; /* "/api/v1/datasets/{id}", "/api/v1/proxy/{rest*}" */
    http_handler_fn fn;
    size_t max_body;     /* 0 = HTTP_DEFAULT_MAX_BODY */
    unsigned flags;      /* enum http_route_flags */
    const char *summary; /* one line for /openapi.json */
};

struct http_param {
    const char *name; /* borrowed from the route pattern (not NUL-terminated there) */
    size_t name_len;
    char *value; /* URL-decoded, owned by the request */
};

struct http_req {
    const char *method;
    const char *path;               /* without the query string, percent-decoded */
    char *raw_uri;                  /* as the client sent it, owned by the request */
    const struct http_route *route; /* NULL for built-ins */
    char request_id[72];
    char client_ip[48];
    struct http_param params[HTTP_MAX_PARAMS];
    size_t nparams;
    struct buf body;           /* the whole request body (bounded by the route) */
    struct auth_claims claims; /* filled by the authenticate hook */
    int authenticated;
    void *app; /* the service context from the options */
    /* HTTP_STREAM_BODY routes: the handler runs as soon as the headers are in (after
     * authentication and admission) and may set these to take the body as it arrives
     * instead of in req->body. max_body still bounds the total (413). */
    int (*body_chunk)(void *ctx, const char *data, size_t len); /* < 0: stop taking it */
    /* Called exactly once when body_chunk is set: after the last chunk with the response
     * to fill, or with resp NULL when the request was abandoned (client gone, 413). */
    void (*body_end)(void *ctx, struct http_resp *resp);
    void *body_ctx;
    uint64_t body_seen; /* bytes of body received so far */
    /* 1 on a worker thread (hooks and handlers may wait), 0 on an event-loop thread (hooks
     * return HTTP_NEEDS_WORKER instead of waiting; HTTP_INLINE handlers must not wait). */
    int may_block;
    void *conn; /* struct MHD_Connection *, for this module only */
};

struct http_resp_header {
    char *name;
    char *value;
};

struct http_resp {
    const char *request_id; /* set by the server; used by http_resp_error */
    int status;
    const char *content_type; /* static string */
    struct buf body;
    struct http_resp_header headers[HTTP_MAX_RESP_HEADERS];
    size_t nheaders;
    http_stream_fn stream; /* when set, the body is streamed from it */
    void *stream_ctx;
    void (*stream_free)(void *ctx);
};

struct http_server_opts {
    const char *service; /* name used in logs, metrics and /openapi.json */
    const char *version;
    const char *bind_addr; /* NULL = 0.0.0.0 */
    uint16_t port;         /* 0 = ephemeral; see http_server_port() */
    const struct http_route *routes;
    size_t nroutes;
    void *app;
    http_auth_fn authenticate;   /* called for every route without HTTP_PUBLIC */
    http_ready_fn ready;         /* NULL = always ready */
    http_handler_fn fallback;    /* GET/HEAD that no route matches (static files); NULL = 404 */
    http_admit_fn admit;         /* NULL = admit everything */
    const char *cors_origins;    /* comma-separated allow-list; NULL or "" = no CORS */
    const char *trusted_proxies; /* comma-separated peer addresses whose X-Forwarded-For is
                                    believed (an ingress); NULL or "" = none */
    unsigned conn_limit;         /* 0 = 4096 */
    unsigned conn_timeout_s;     /* idle timeout; 0 = 60 */
    int access_log;              /* 1: one info line per request */
    unsigned threads;            /* event-loop threads; 0 = one per CPU (1..16) */
};

/* Start listening. 0 and *out, or -EADDRINUSE / -EINVAL / -EIO (logged). */
int http_server_start(const struct http_server_opts *o, struct http_server **out)
    __attribute__((warn_unused_result));
uint16_t http_server_port(const struct http_server *s);
/* Stop accepting new connections and report not-ready; in-flight requests go on. */
void http_server_drain(struct http_server *s);
/* Wait up to grace_ms for in-flight requests to finish, then stop and free. NULL ok. */
void http_server_stop(struct http_server *s, int grace_ms);

/* ---- answering later (HTTP_INLINE handlers) ---- */
/* The answer comes later: the connection waits (suspended) until http_req_complete(req) is
 * called on this request's loop thread (evl_current() of the handler) with resp filled.
 * If the request is abandoned first (client gone, shutdown), abort(ctx) is called on the
 * loop thread instead, after which neither req nor resp may be touched. */
void http_req_defer(struct http_req *req, void (*abort)(void *ctx), void *ctx);
void http_req_complete(struct http_req *req);
/* Run fn(req, resp, ctx) on a worker thread; the answer goes out when it returns. Called
 * by an HTTP_INLINE handler instead of answering, or on the loop thread for a deferred
 * request instead of http_req_complete. fn may block; it may also set req->body_chunk and
 * req->body_end when called from the handler of an HTTP_STREAM_BODY route. */
typedef void (*http_work_fn)(struct http_req *req, struct http_resp *resp, void *ctx);
void http_req_run_blocking(struct http_req *req, http_work_fn fn, void *ctx);

/* ---- request accessors (all borrowed, valid during the handler) ---- */
const char *http_req_param(const struct http_req *r, const char *name);
const char *http_req_query(const struct http_req *r, const char *name);
const char *http_req_header(const struct http_req *r, const char *name);
/* The raw query string after '?', "" when none (still percent-encoded). */
const char *http_req_query_string(const struct http_req *r);
/* The value of field name in an application/x-www-form-urlencoded body ('+' is a space,
 * %XX escapes). 0 and *out (caller frees), -ENOENT, -EINVAL (bad escape), -ENOMEM. */
int http_form_field(const char *body, size_t len, const char *name, char **out)
    __attribute__((warn_unused_result));
/* Parse the body as strict JSON (object or array). On failure the response is already
 * set (400 invalid_json, or 415 when the content type is not JSON) and -EINVAL returned. */
int http_req_json(struct http_req *r, struct http_resp *resp, json_t **out)
    __attribute__((warn_unused_result));

/* The Idempotency-Key header: 0 with *key NULL when absent or the key (borrowed; 1 to
 * HTTP_IDEM_KEY_MAX printable ASCII characters); -EINVAL after answering 400
 * invalid_header when it is malformed. */
#define HTTP_IDEM_KEY_MAX 255
int http_req_idempotency_key(const struct http_req *r, struct http_resp *resp, const char **key)
    __attribute__((warn_unused_result));
/* ---- responses ---- */
/* body is stolen. */
void http_resp_json(struct http_resp *resp, int status, json_t *body);
/* Our one error format: {"error","message","details","request_id"}. details is stolen
 * and may be NULL. 429 and 503 get Retry-After: 1 unless the handler sets one. */
void http_resp_error(struct http_resp *resp, int status, const char *code, const char *message,
                     json_t *details);
/* Map a negative errno to status + code in one place: EINVAL 400, EACCES 403, EPERM 401,
 * ENOENT 404, EEXIST 409, EMSGSIZE 413, EAGAIN/EIO/ECONNREFUSED 503, ETIMEDOUT 504, else 500. */
void http_resp_errno(struct http_resp *resp, int err, const char *message);
int http_errno_status(int err);
/* Copies both strings. Silently ignored past HTTP_MAX_RESP_HEADERS, or when either
 * contains CR or LF. */
void http_resp_header(struct http_resp *resp, const char *name, const char *value);
void http_resp_data(struct http_resp *resp, int status, const char *content_type, const void *data,
                    size_t len);
/* Stream the body from fn (chunked). ctx is freed with free_fn when the response ends. */
void http_resp_stream(struct http_resp *resp, int status, const char *content_type,
                      http_stream_fn fn, void *ctx, void (*free_fn)(void *ctx));

/* ---- Server-Sent Events ---- */
/* Produce the next event into out (use http_sse_format). Return 1 when an event was
 * written, 0 when none came within timeout_ms (a keep-alive comment is sent), or < 0 to
 * end the stream. Runs on a worker thread and may block up to timeout_ms. */
typedef int (*http_sse_next_fn)(void *ctx, struct buf *out, int timeout_ms);
/* Answer with text/event-stream fed by next; ctx is freed with free_fn at the end
 * (including when the client goes away). keepalive_ms: 0 = 15000. */
void http_resp_sse(struct http_resp *resp, http_sse_next_fn next, void *ctx,
                   void (*free_fn)(void *ctx), int keepalive_ms);
/* Append one event: optional "event:" and "id:" lines, then one "data:" line per line of
 * data, then a blank line. event and id must not contain CR or LF (-EINVAL). */
int http_sse_format(struct buf *out, const char *event, const char *id, const char *data)
    __attribute__((warn_unused_result));

/* ---- helpers used by the server and by tests ---- */
/* Match path against pattern; fills params (values allocated) and returns 1 on match. */
int http_route_match(const char *pattern, const char *path, struct http_param *params,
                     size_t *nparams);
void http_params_release(struct http_param *params, size_t n);
/* The client address of a request from peer: when peer is in trusted (comma-separated), the
 * rightmost address of xff (X-Forwarded-For, may be NULL) that is not itself trusted; a
 * malformed entry ends the walk. Otherwise peer. Writes into out. */
void http_forwarded_for(const char *peer, const char *xff, const char *trusted, char *out,
                        size_t n);
/* 1 when id is acceptable as a client-supplied request id: 1..64 of [A-Za-z0-9._:-]. */
int http_request_id_ok(const char *id);

#endif
