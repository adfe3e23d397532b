/* loadgen: an open-loop HTTP/1.1 load generator (the engine of ibx-loadgen).
 *
 * Requests are scheduled at a fixed rate, request i at start + i / rate, whatever the
 * server does: a request that finds every connection busy waits for one, and its latency
 * is counted from its scheduled time, so a slow server cannot slow the load down and hide
 * its own queueing (no coordinated omission, as in wrk2). One thread, one epoll loop, a
 * fixed set of kept-alive connections with one request in flight each; the send times
 * come from a timerfd (timer slack 1 ns). GET only, responses framed by Content-Length or
 * chunked encoding and held whole (at most 64 KiB each). */
#ifndef IBX_LOADGEN_H
#define IBX_LOADGEN_H

#include <stddef.h>
#include <stdint.h>

#define LG_MAX_HEADERS 16

struct lg_opts {
    char host[256];
    char port[8];
    char path[2048];
    const char *headers[LG_MAX_HEADERS]; /* "Name: value", borrowed */
    size_t nheaders;
    double rate;       /* requests per second, > 0 */
    double duration_s; /* how long requests are scheduled */
    int conns;         /* connections, >= 1 */
    double timeout_s;  /* a request unanswered this long counts as a timeout */
};

struct lg_result {
    uint64_t scheduled; /* requests whose time came */
    uint64_t ok;        /* 2xx answers */
    uint64_t non2xx;
    uint64_t errors;   /* connection failures, malformed answers */
    uint64_t timeouts; /* unanswered within timeout_s */
    uint64_t unsent;   /* still waiting for a connection at the end */
    double elapsed_s;  /* from the first scheduled time to the last answer */
    uint64_t *lat_ns;  /* latencies of every answer (2xx or not), sorted by lg_run */
    size_t nlat;
};

/* Parse url (http://host[:port]/path) into o. 0 or -EINVAL. */
int lg_parse_url(const char *url, struct lg_opts *o) __attribute__((warn_unused_result));
/* Run the load. 0 and *out (release it), -ECONNREFUSED (could not open the connections),
 * -ENOMEM, -EIO. */
int lg_run(const struct lg_opts *o, struct lg_result *out) __attribute__((warn_unused_result));
void lg_result_release(struct lg_result *r);
/* The latency at quantile q (0..1) of the sorted latencies, in nanoseconds; 0 when none. */
uint64_t lg_quantile(const struct lg_result *r, double q);

#endif
