/* httpc: HTTP client over libcurl for service-to-service calls and the gateway's proxy.
 *
 * Connection reuse. Easy handles live in a small mutex-guarded LIFO pool, not in
 * thread-locals: libmicrohttpd's thread-per-connection mode starts and ends threads all
 * the time, and a thread-local handle would die with its thread together with its
 * keep-alive connections, while pooled handles outlive the threads that borrow them and
 * are freed in one place (httpc_global_cleanup). A call takes the most recently returned
 * handle, so a thread making sequential calls keeps getting the same handle and the same
 * kept-alive connection; concurrent calls get different handles. All handles attach to
 * one CURLSH that shares the DNS cache and TLS session ids (with a mutex per kind of
 * data). The connection cache itself is deliberately not shared: libcurl documents
 * sharing connections between concurrently running threads as unsupported.
 *
 * Every request: redirects are never followed (a 3xx is returned as it is); only http
 * and https are allowed; CURLOPT_NOSIGNAL is set; proxies from the environment are
 * ignored (calls go direct); no Accept-Encoding is sent, so bodies pass through as the
 * server wrote them. If the caller gives no X-Request-Id header and log_request_id() is
 * non-empty (and printable), "X-Request-Id: <id>" is added. Headers are never logged.
 *
 * Errors (negative errno): -EINVAL bad arguments (NULL method or url, a method or header
 * line containing CR/LF, a body and a reader together, a URL libcurl cannot parse or whose
 * scheme is not http/https); -ECONNREFUSED nothing was sent because the host could not be
 * resolved or the connection was refused (the only case where even a non-idempotent
 * request may be retried); -ETIMEDOUT the connect or total timeout expired (the request
 * may have been processed); -EMSGSIZE the response exceeded max_response or the response
 * headers exceeded 64 KiB; -ENOMEM; -EIO any other transport failure (including a reply
 * that is not HTTP or ends early). A status of 4xx or 5xx is not an error: the call
 * returns 0 and reports the status. */
#ifndef IBX_HTTPC_H
#define IBX_HTTPC_H

#include <ibx/buf.h>

#include <jansson.h>
#include <stddef.h>
#include <sys/types.h>

#define HTTPC_WUR __attribute__((warn_unused_result))

#define HTTPC_CONNECT_TIMEOUT_MS 2000L
#define HTTPC_TIMEOUT_MS         30000L
#define HTTPC_MAX_RESPONSE       ((size_t)16 * 1024 * 1024)
#define HTTPC_MAX_HEADERS        ((size_t)64 * 1024)

/* Streamed request body: copy up to cap bytes into dst and return how many; 0 at the
 * end of the body; a negative errno aborts the request (httpc_do/httpc_stream return it). */
typedef ssize_t (*httpc_read_fn)(void *ctx, char *dst, size_t cap);

struct httpc_req {
    const char *method;         /* "GET", "POST", ...; borrowed, required */
    const char *url;            /* http:// or https://; borrowed, required */
    const char *const *headers; /* NULL-terminated "Name: value" lines, may be NULL */
    /* In-memory body (borrowed, may contain NULs; NULL = none, and an empty one on GET
     * or HEAD counts as none), or ... */
    const void *body;
    size_t body_len;
    /* ... a streamed body: body_reader is called until it returns 0. body_size is the
     * exact length, or -1 for unknown (sent with chunked transfer encoding). */
    httpc_read_fn body_reader;
    void *body_ctx;
    long long body_size;
    long connect_timeout_ms; /* 0 = HTTPC_CONNECT_TIMEOUT_MS */
    long timeout_ms;         /* total; 0 = no limit (streams); httpc_req_init sets 30000 */
    size_t max_response;     /* cap on a buffered body; 0 = HTTPC_MAX_RESPONSE */
};

/* Set every field to its default (timeout_ms = HTTPC_TIMEOUT_MS, body_size = -1, no
 * body, no headers) with the given method and url (borrowed). Start from this: a
 * zero-initialised struct means "no total timeout". */
void httpc_req_init(struct httpc_req *r, const char *method, const char *url);

/* Response headers of the final response (1xx interim responses and trailers are not
 * included), in the order received; names as the server spelled them; a header sent
 * several times appears several times. Owned by the response (or, in streamed mode, by
 * the transfer: valid only during the on_headers call). */
struct httpc_headers {
    struct buf raw; /* "Name\0value\0" pairs; use the functions below */
};

/* Value of the first header named name (case-insensitive), or NULL. Borrowed. */
const char *httpc_header_get(const struct httpc_headers *h, const char *name);
/* Iterate: start with *pos = 0; returns the next header's name and sets *value, or
 * returns NULL at the end. Both strings borrowed. */
const char *httpc_header_next(const struct httpc_headers *h, size_t *pos, const char **value);

struct httpc_resp {
    long status;              /* e.g. 200 */
    const char *content_type; /* Content-Type value or NULL; points into headers */
    struct httpc_headers headers;
    struct buf body; /* body.data is NULL when empty; buf_str(&body) is never NULL */
};

/* Free what a successful httpc_do put in r; accepts NULL and a released response. */
void httpc_resp_release(struct httpc_resp *r);

/* Perform r and buffer the whole response. On success fills *out (the caller releases it
 * with httpc_resp_release) and returns 0 whatever the status; on failure returns a
 * negative errno (see above) and leaves *out untouched. */
int httpc_do(const struct httpc_req *r, struct httpc_resp *out) HTTPC_WUR;

/* Streamed response. on_headers is called once with the final status and headers before
 * any body byte; on_data for each piece of body as it arrives (in order, never buffered
 * here: an SSE event flushed by the server reaches on_data when it reaches the socket).
 * Either callback may be NULL. A non-zero return aborts the transfer and closes the
 * connection; httpc_stream then returns that value if it is a negative errno, else
 * -ECANCELED. max_response does not apply. */
typedef int (*httpc_headers_fn)(void *ctx, long status, const struct httpc_headers *h);
typedef int (*httpc_data_fn)(void *ctx, const char *data, size_t len);

struct httpc_stream_cb {
    httpc_headers_fn on_headers;
    httpc_data_fn on_data;
    void *ctx; /* passed to both */
};

/* Perform r, delivering the response through cb (borrowed). On success sets *status (may
 * be NULL) and returns 0; errors as above (status untouched). */
int httpc_stream(const struct httpc_req *r, const struct httpc_stream_cb *cb,
                 long *status) HTTPC_WUR;

/* JSON call: body (borrowed, may be NULL) is sent compact with Content-Type
 * application/json; "Accept: application/json" is added unless headers (NULL-terminated,
 * borrowed, may be NULL) already carry an Accept line. timeout_ms is the total timeout,
 * 0 meaning HTTPC_TIMEOUT_MS. On success sets *status and, when out is not NULL, *out
 * to the parsed response (a new reference the caller decrefs) or NULL when the body is
 * empty or not a JSON object or array. Errors as httpc_do; -ENOMEM also when body cannot
 * be serialised. */
int httpc_json(const char *method, const char *url, const char *const *headers, json_t *body,
               long timeout_ms, long *status, json_t **out) HTTPC_WUR;

/* ---- pull-style transfers (for the gateway's streaming proxy) ------------------------
 *
 * The caller's own thread drives the transfer through curl's multi interface: request
 * body bytes are pushed in as they arrive (httpc_pull_write), and the response is pulled
 * out when the caller wants it (httpc_pull_headers, httpc_pull_buffer, httpc_pull_read).
 * Nothing runs on another thread and neither body is ever held whole. Each transfer
 * takes a (multi, easy) pair from a pool, so kept-alive upstream connections are reused.
 *
 * r and everything it points to are borrowed until httpc_pull_free. With streamed_body,
 * leave r->body and r->body_reader unset and set r->body_size to the exact length or -1
 * (chunked); then write the body with httpc_pull_write and end it with
 * httpc_pull_write_end. r->timeout_ms bounds only the wait for the response headers;
 * after them a body that stalls for 120 s aborts the transfer.
 * Errors are those of httpc_do. */
struct httpc_pull;

int httpc_pull_start(const struct httpc_req *r, int streamed_body,
                     struct httpc_pull **out) HTTPC_WUR;
/* Push len bytes of the request body, driving the transfer until curl has taken them.
 * 0, or the transfer's error (e.g. the upstream answered early and closed). */
int httpc_pull_write(struct httpc_pull *p, const void *data, size_t len) HTTPC_WUR;
int httpc_pull_write_end(struct httpc_pull *p) HTTPC_WUR;
/* Drive until the final response's status line and headers are in (borrowed, valid until
 * httpc_pull_free). 0, or an error. */
int httpc_pull_headers(struct httpc_pull *p, long *status,
                       const struct httpc_headers **h) HTTPC_WUR;
/* Drive until the body is complete (returns 1) or more than max bytes wait unread
 * (returns 0); *body (borrowed) holds the unread bytes. < 0 on error. */
int httpc_pull_buffer(struct httpc_pull *p, size_t max, const struct buf **body) HTTPC_WUR;
/* Up to max body bytes: > 0 bytes copied, 0 at the end, < 0 error. Blocks for data. */
ssize_t httpc_pull_read(struct httpc_pull *p, char *dst, size_t max);
/* Abort if unfinished, return the handles to the pool, free. NULL ok. */
void httpc_pull_free(struct httpc_pull *p);

/* curl_global_init plus the shared handle. Call once from main before any thread uses
 * httpc; a second call is a no-op. 0, -EIO, -ENOMEM. With CURLOPT_NOSIGNAL libcurl does
 * not touch signal handlers, so the process should ignore SIGPIPE itself (as it must for
 * libmicrohttpd anyway). */
int httpc_global_init(void) HTTPC_WUR;
/* Free pooled handles, the share and libcurl's globals. Call after every other thread
 * has stopped using httpc. httpc calls made before init or after cleanup fail with
 * -EINVAL. */
void httpc_global_cleanup(void);

#endif
