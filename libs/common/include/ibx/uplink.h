/* uplink: a lean HTTP/1.1 client for the gateway's reverse proxy.
 *
 * One struct uplink_pool per upstream origin (http://host:port) keeps idle kept-alive
 * sockets. An exchange runs on the caller's thread with plain blocking sockets: the
 * request head is written at start, body bytes are pushed as they arrive (Content-Length
 * or chunked), and the response is pulled as the caller wants it, so neither body is
 * ever held whole. Response bodies framed by Content-Length, chunked encoding or the
 * end of the connection are supported. A pooled socket that turns out to be closed by
 * the upstream before any response byte is replaced and the request sent again, but
 * only when no body byte had been sent.
 *
 * Errors: -ECONNREFUSED (could not connect), -ETIMEDOUT, -EIO (the upstream broke the
 * exchange or sent something that is not HTTP/1.x), -EMSGSIZE (response head over 64 KiB),
 * -EINVAL, -ENOMEM. */
#ifndef IBX_UPLINK_H
#define IBX_UPLINK_H

#include <ibx/buf.h>
#include <ibx/httpc.h>

#include <stddef.h>
#include <sys/types.h>

#define UPLINK_WUR __attribute__((warn_unused_result))

struct uplink_pool;
struct uplink;

/* base_url is http://host[:port] (no path); copied. Nothing is connected yet. */
int uplink_pool_new(const char *base_url, struct uplink_pool **out) UPLINK_WUR;
/* Close the idle sockets and free. Every exchange must be freed first. NULL ok. */
void uplink_pool_free(struct uplink_pool *p);

struct uplink_req {
    const char *method;         /* a token, e.g. "GET" */
    const char *target;         /* origin-form as the client sent it: "/path?query" */
    const char *const *headers; /* NULL-terminated "Name: value" lines (no CR/LF), borrowed */
    long long body_size;        /* -1: no body; >= 0: Content-Length; -2: chunked */
    long connect_timeout_ms;    /* 0 = 2000 */
    long header_timeout_ms;     /* wait for the response head; 0 = 30000 */
    long stall_timeout_ms;      /* longest silence while reading a body; 0 = 120000 */
};

/* Connect (or reuse) and send the request head. r is borrowed until uplink_free. */
int uplink_start(struct uplink_pool *p, const struct uplink_req *r, struct uplink **out) UPLINK_WUR;
/* Push body bytes (chunk-framed when body_size is -2). */
int uplink_write(struct uplink *u, const void *data, size_t len) UPLINK_WUR;
/* End of the request body (the last chunk for chunked bodies). */
int uplink_write_end(struct uplink *u) UPLINK_WUR;
/* Read the response head (skipping 1xx). *h is borrowed until uplink_free. */
int uplink_headers(struct uplink *u, long *status, const struct httpc_headers **h) UPLINK_WUR;
/* Read body until it is complete (returns 1) or more than max bytes wait (returns 0);
 * *body holds the bytes not yet taken with uplink_read. < 0 on error. */
int uplink_buffer(struct uplink *u, size_t max, const struct buf **body) UPLINK_WUR;
/* Up to max body bytes: > 0 copied, 0 at the end, < 0 error. Blocks for data. */
ssize_t uplink_read(struct uplink *u, char *dst, size_t max);
/* Return the socket to the pool when the exchange completed cleanly, else close it. */
void uplink_free(struct uplink *u);

#endif
