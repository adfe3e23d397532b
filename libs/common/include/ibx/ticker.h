/* ticker: a background thread that calls fn(ctx) at once and then every period_ms until
 * ticker_stop, which wakes it (no wait for the period to end) and joins it. For the
 * sweepers of the services with workers (dead workers' jobs, re-publishing). */
#ifndef IBX_TICKER_H
#define IBX_TICKER_H

typedef void (*ticker_fn)(void *ctx);

struct ticker;

/* Start the thread; request_id (copied; may be NULL) is its log request id, e.g.
 * "sweeper". *out is the caller's (ticker_stop). 0, -EINVAL (period_ms < 1), -ENOMEM,
 * -EAGAIN (no thread). */
int ticker_start(ticker_fn fn, void *ctx, long period_ms, const char *request_id,
                 struct ticker **out) __attribute__((warn_unused_result));
/* Stop: a call of fn in progress finishes first. Frees t; NULL is ignored. */
void ticker_stop(struct ticker *t);

#endif
