/* evloop: a small epoll event loop, one per thread, for sockets that must never block it.
 *
 * The HTTP server runs one loop per thread (each driving one libmicrohttpd daemon); code
 * that runs on a loop thread (inline handlers) adds its own sockets to the same loop with
 * a watch: a callback for readiness and an optional deadline. Everything about a loop
 * happens on its own thread except evl_post and evl_wake, which any thread may call.
 *
 * A watch belongs to its owner (usually embedded in a larger struct); the loop only links
 * it while it is added. evl_del may be called from any callback, including for a watch
 * whose event is still pending in the current round: that event is then dropped. */
#ifndef IBX_EVLOOP_H
#define IBX_EVLOOP_H

#include <stdint.h>

#define EVL_WUR __attribute__((warn_unused_result))

/* Event bits for evl_add/evl_mod and the callback (the epoll ones). */
#define EVL_IN  0x001u
#define EVL_OUT 0x004u
#define EVL_ERR 0x008u
#define EVL_HUP 0x010u

struct evl;
struct evl_watch;

/* events: what is ready (EVL_* bits), or 0 when the watch's deadline passed (the watch
 * stays added; set a new deadline or delete it). */
typedef void (*evl_cb)(struct evl_watch *w, unsigned events);

struct evl_watch {
    int fd;
    evl_cb cb;
    void *ctx;
    int64_t deadline_ms; /* monotonic (clock_mono_ms); 0 = none. May be changed any time. */
    /* the loop's own fields */
    struct evl_watch *prev, *next;
    struct evl *loop;
};

/* A new loop: 0 and *out, or -ENOMEM / -EIO (epoll or eventfd could not be created). */
int evl_new(struct evl **out) EVL_WUR;
/* Free a loop whose watches are all deleted; posted tasks not yet run are dropped. NULL ok. */
void evl_free(struct evl *l);

/* Start watching w->fd for events (edge-triggered when EVL_ET is or'ed in). 0 or -errno. */
#define EVL_ET 0x80000000u
int evl_add(struct evl *l, struct evl_watch *w, unsigned events) EVL_WUR;
int evl_mod(struct evl_watch *w, unsigned events) EVL_WUR;
/* Stop watching (the fd stays open: it is the owner's). Not added: nothing happens. */
void evl_del(struct evl_watch *w);

/* Wait up to timeout_ms (-1: until something happens) for events, deadlines, posted
 * tasks or a wake, and run their callbacks. Returns the number of callbacks run. */
int evl_run_once(struct evl *l, int timeout_ms);

/* Run fn(arg) on the loop's thread during its next round. Any thread. 0, -ENOMEM. */
int evl_post(struct evl *l, void (*fn)(void *arg), void *arg) EVL_WUR;
/* Make the current or next evl_run_once return soon. Any thread. */
void evl_wake(struct evl *l);

/* The loop running on this thread (set by evl_set_current), or NULL. */
struct evl *evl_current(void);
void evl_set_current(struct evl *l);

#endif
