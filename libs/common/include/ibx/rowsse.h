/* rowsse: GET .../{id}/events answered as Server-Sent Events that follow one job's row
 * (an experiment, an explanation) in PostgreSQL.
 *
 * The stream polls the row's state every 200 ms rather than following Kafka: the row is
 * the truth and is the same for every API replica, a client that connects late still gets
 * the current state first, and no consumer group per connection is needed. Events:
 * "progress" with the state at once and at every change, then one event named after the
 * terminal status ("completed", "failed", "cancelled"; "deleted" when the row goes away)
 * and the end of the stream. Event ids count from 1. Keep-alive comments every 15 s. */
#ifndef IBX_ROWSSE_H
#define IBX_ROWSSE_H

#include <ibx/http.h>

#include <jansson.h>

/* The row's state: 0 and *out, an object with a string "status" (new reference; its
 * compact, key-sorted text is the event's data), -ENOENT when the row is gone, another
 * negative errno when it cannot be read now (asked again at the next poll). */
typedef int (*rowsse_state_fn)(void *ctx, const char *id, json_t **out);

/* Answer resp with the stream of row id (copied; at most 63 bytes) read with state(ctx,
 * id) (ctx borrowed: it must outlive every stream, e.g. the service). The caller checks
 * first that the row exists and the caller may see it. */
void rowsse_respond(struct http_resp *resp, rowsse_state_fn state, void *ctx, const char *id);

#endif
