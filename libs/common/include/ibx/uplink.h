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
 * A bodiless exchange may instead run asynchronously on an event loop (uplink_start_async):
 * the request goes out on an idle pooled socket without waiting and the response is read
 * as it arrives, so an event-loop thread can proxy many requests at once.
 *
 * Errors: -ECONNREFUSED (could not connect), -ETIMEDOUT, -EIO (the upstream broke the
 * exchange or sent something that is not HTTP/1.x), -EMSGSIZE (response head over 64 KiB),
 * -EINVAL, -ENOMEM. */
#ifndef IBX_UPLINK_H
#define IBX_UPLINK_H

#include <ibx/buf.h>
#include <ibx/evloop.h>
#include <ibx/httpc.h>

#include <stddef.h>
#include <sys/types.h>

#define UPLINK_WUR __attribute__((warn_unused_result))

struct uplink_pool;
struct uplink;

/* base_url is http://host[:port] (no path); copied. Nothing is connected yet. */
int uplink_pool_new(const char *base_url, struct uplink_pool **out) UPLINK_WUR;
/* Close the idle sockets and free. Every exchange must be freed first, and the event loops
 * that ran asynchronous exchanges stopped (their idle sockets sit in those loops). NULL ok. */
void uplink_pool_free(struct uplink_pool *p);

struct uplink_req {
    const char *method;         /* a token, e.g. "GET" */
    const char *target;         /* origin-form as the client sent it: "/path?query" */
    const char *const *headers; /* NULL-terminated "Name: value" lines (no CR/LF), borrowed */
    long long body_size;        /* -1: no body; >= 0: Content-Length; -2: chunked */
    long connect_timeout_ms;    /* 0 = 2000 */
    long header_timeout_ms;     /* wait for the response head; 0 = 30000 */
    long stall_timeout_ms;      /* longest silence while reading a body; 0 = 120000 */
    const char *stream_type;    /* async: a response whose Content-Type starts with this is
                                   handed over as soon as its head is in (NULL: none) */
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
/* Return the socket to the pool when the exchange completed cleanly, else close it.
 * An asynchronous exchange still running is cancelled (on its loop's thread only). */
void uplink_free(struct uplink *u);

/* Asynchronous bodiless exchange (r->body_size -1) on loop, whose thread is the caller's.
 * done(ctx, rc) is called once, later, on that thread, when the response head is in and
 * the body is complete, or more than buffer_max bytes of it are held, or its Content-Type
 * starts with r->stream_type; or on failure: -ETIMEDOUT (no head within
 * header_timeout_ms), -EIO, -EMSGSIZE, or -ECONNRESET when the pooled socket turned out
 * closed before any answer (the request may be sent again on a fresh connection). After
 * done, the exchange is an ordinary one: uplink_headers and uplink_buffer(u, buffer_max)
 * do not wait then, uplink_read blocks (use it off the loop), uplink_free.
 * Returns 0 and *out, -ENOTCONN when no idle socket is pooled (connecting is left to the
 * blocking path), -EINVAL, -ENOMEM. */
typedef void (*uplink_done_fn)(void *ctx, int rc);
int uplink_start_async(struct uplink_pool *p, const struct uplink_req *r, struct evl *loop,
                       size_t buffer_max, uplink_done_fn done, void *ctx,
                       struct uplink **out) UPLINK_WUR;

#endif
