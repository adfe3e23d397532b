/* test_http_server: the HTTP server in-process: keep-alive, Server-Sent Events, CORS, the
 * authenticate hook, the event-loop model (blocking handlers, hooks and bodies on workers
 * while one loop thread keeps answering; deferred and moved inline handlers; many open
 * event streams), and graceful shutdown with a request in flight or deferred. */
#include "th_stack.h"

#include <ibx/clock.h>
#include <ibx/evloop.h>
#include <ibx/hash.h>
#include <ibx/http.h>
#include <ibx/ids.h>
#include <ibx/log.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

static struct http_server *srv;
static char base[64];

static void h_hello(struct http_req *req, struct http_resp *resp)
{
    http_resp_json(resp, 200, json_pack("{s:s}", "hello", req->claims.sub));
}

static void h_whoami(struct http_req *req, struct http_resp *resp)
{
    http_resp_json(resp, 200, json_pack("{s:s}", "client", req->client_ip));
}

static void h_slow(struct http_req *req, struct http_resp *resp)
{
    usleep(800 * 1000);
    http_resp_json(resp, 200, json_pack("{s:b}", "finished", 1));
}

struct ev_state {
    int sent;
};

static int ev_next(void *ctx, struct buf *out, int timeout_ms)
{
    struct ev_state *e = ctx;
    static const char *const data[] = {"one", "two\nlines", "three"};
    if (e->sent == 1 && timeout_ms > 0) {
        e->sent++; /* one quiet period: the server sends a keep-alive comment */
        return 0;
    }
    int i = e->sent > 1 ? e->sent - 1 : e->sent;
    if (i >= 3)
        return -1;
    char id[16];
    snprintf(id, sizeof(id), "%d", i);
    e->sent++;
    return http_sse_format(out, "progress", id, data[i]) == 0 ? 1 : -1;
}

static void h_events(struct http_req *req, struct http_resp *resp)
{
    struct ev_state *e = calloc(1, sizeof(*e));
    http_resp_sse(resp, ev_next, e, free, 50);
}

/* "ok" passes on the loop; "worker" asks for a worker first, as a database lookup would. */
static int test_auth(void *app, struct http_req *req, const char **why)
{
    const char *v = http_req_header(req, "X-Test-Auth");
    if (v && strcmp(v, "worker") == 0 && !req->may_block)
        return HTTP_NEEDS_WORKER;
    if (!v || (strcmp(v, "ok") != 0 && strcmp(v, "worker") != 0)) {
        *why = "X-Test-Auth must be ok";
        return -1;
    }
    snprintf(req->claims.sub, sizeof(req->claims.sub), "%s", strcmp(v, "ok") ? "worker" : "tester");
    return 0;
}

/* ---- inline handlers: deferred (answered from a loop timer), moved to a worker ---- */

struct later {
    struct evl_watch w;
    struct http_req *req;
    struct http_resp *resp;
    int forever; /* never completes: only an abort ends it */
};

static void later_free(void *ctx)
{
    struct later *l = ctx;
    evl_del(&l->w);
    close(l->w.fd);
    free(l);
}

static void later_fire(struct evl_watch *w, unsigned events)
{
    struct later *l = w->ctx;
    http_resp_json(l->resp, 200, json_pack("{s:b}", "deferred", 1));
    struct http_req *req = l->req;
    later_free(l);
    http_req_complete(req);
}

static void h_deferred(struct http_req *req, struct http_resp *resp)
{
    struct later *l = calloc(1, sizeof(*l));
    l->w.fd = eventfd(0, EFD_CLOEXEC);
    l->w.cb = later_fire;
    l->w.ctx = l;
    l->req = req;
    l->resp = resp;
    l->forever = strcmp(req->path, "/forever") == 0;
    l->w.deadline_ms = l->forever ? 0 : clock_mono_ms() + 100;
    assert_false(req->may_block);
    assert_int_equal(evl_add(evl_current(), &l->w, EVL_IN), 0);
    http_req_defer(req, later_free, l);
}

static void moved(struct http_req *req, struct http_resp *resp, void *ctx)
{
    usleep(100 * 1000); /* may block: a worker */
    http_resp_json(resp, 200, json_pack("{s:b, s:s}", "may_block", req->may_block, "ctx", ctx));
}

static void h_moved(struct http_req *req, struct http_resp *resp)
{
    http_req_run_blocking(req, moved, "passed");
}

/* ---- a request body taken slowly, piece by piece ---- */

struct slow_sink {
    struct hash_sha256 h;
    long long bytes;
};

static int slow_chunk(void *ctx, const char *data, size_t len)
{
    struct slow_sink *k = ctx;
    usleep(1000);
    hash_sha256_update(&k->h, data, len);
    k->bytes += (long long)len;
    return 0;
}

static void slow_end(void *ctx, struct http_resp *resp)
{
    struct slow_sink *k = ctx;
    if (resp) {
        char hex[65];
        hash_sha256_final_hex(&k->h, hex);
        http_resp_json(resp, 200,
                       json_pack("{s:I, s:s}", "bytes", (json_int_t)k->bytes, "sha256", hex));
    }
    free(k);
}

static void h_sink(struct http_req *req, struct http_resp *resp)
{
    struct slow_sink *k = calloc(1, sizeof(*k));
    hash_sha256_init(&k->h);
    req->body_chunk = slow_chunk;
    req->body_end = slow_end;
    req->body_ctx = k;
}

/* ---- an event stream that only sends keep-alives ---- */

static int quiet_next(void *ctx, struct buf *out, int timeout_ms)
{
    usleep((useconds_t)timeout_ms * 1000);
    return 0;
}

static void h_quiet(struct http_req *req, struct http_resp *resp)
{
    http_resp_sse(resp, quiet_next, NULL, NULL, 200);
}

static const struct http_route routes[] = {
    {"GET", "/hello", h_hello, 0, 0, "auth needed"},
    {"GET", "/slow", h_slow, 0, HTTP_PUBLIC, "slow"},
    {"GET", "/whoami", h_whoami, 0, HTTP_PUBLIC, "client address"},
    {"GET", "/events", h_events, 0, HTTP_PUBLIC, "sse"},
    {"GET", "/deferred", h_deferred, 0, HTTP_PUBLIC | HTTP_INLINE, "answered later"},
    {"GET", "/forever", h_deferred, 0, HTTP_PUBLIC | HTTP_INLINE, "never answered"},
    {"GET", "/moved", h_moved, 0, HTTP_PUBLIC | HTTP_INLINE, "moved to a worker"},
    {"POST", "/sink", h_sink, (size_t)64 << 20, HTTP_PUBLIC | HTTP_STREAM_BODY, "slow body"},
    {"GET", "/quiet", h_quiet, 0, HTTP_PUBLIC, "keep-alives only"},
};

static int setup(void **state)
{
    log_init("test", LOG_LVL_ERROR);
    if (ids_init() != 0)
        return -1;
    struct http_server_opts o = {
        .service = "test",
        .bind_addr = "127.0.0.1",
        .routes = routes,
        .nroutes = sizeof(routes) / sizeof(routes[0]),
        .authenticate = test_auth,
        .cors_origins = "http://app.example,http://other.example",
        .trusted_proxies = "127.0.0.1",
        .threads = 1, /* one loop: anything blocking it would show */
    };
    if (http_server_start(&o, &srv) != 0)
        return -1;
    snprintf(base, sizeof(base), "http://127.0.0.1:%u", (unsigned)http_server_port(srv));
    return 0;
}

static int teardown(void **state)
{
    http_server_stop(srv, 1000);
    return 0;
}

static void test_keep_alive(void **state)
{
    const char *one = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons(http_server_port(srv)),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(send(fd, one, strlen(one), 0), (ssize_t)strlen(one));
        char reply[2048];
        size_t got = 0;
        /* read until the whole JSON body {"status":"ok"} has arrived */
        while (got < sizeof(reply) - 1) {
            ssize_t r = recv(fd, reply + got, sizeof(reply) - 1 - got, 0);
            assert_true(r > 0); /* the connection stays open between requests */
            got += (size_t)r;
            reply[got] = '\0';
            if (strstr(reply, "{\"status\":\"ok\"}"))
                break;
        }
        assert_non_null(strstr(reply, "HTTP/1.1 200"));
        assert_null(strstr(reply, "Connection: close"));
    }
    close(fd);
}

static void test_server_sent_events(void **state)
{
    char url[128], ct[64];
    snprintf(url, sizeof(url), "%s/events", base);
    struct th_resp r;
    assert_int_equal(th_http("GET", url, NULL, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    assert_int_equal(th_resp_header(&r, "Content-Type", ct, sizeof(ct)), 0);
    assert_string_equal(ct, "text/event-stream");
    const char *want = "event: progress\nid: 0\ndata: one\n\n"
                       ": keep-alive\n\n"
                       "event: progress\nid: 1\ndata: two\ndata: lines\n\n"
                       "event: progress\nid: 2\ndata: three\n\n";
    assert_string_equal(r.body, want);
    th_resp_free(&r);
}

static void test_cors(void **state)
{
    char url[128], v[128];
    snprintf(url, sizeof(url), "%s/healthz", base);
    struct th_resp r;
    const char *allowed[] = {"Origin: http://app.example", NULL};
    assert_int_equal(th_http("GET", url, allowed, NULL, &r), 0);
    assert_int_equal(th_resp_header(&r, "Access-Control-Allow-Origin", v, sizeof(v)), 0);
    assert_string_equal(v, "http://app.example");
    th_resp_free(&r);
    const char *denied[] = {"Origin: http://evil.example", NULL};
    assert_int_equal(th_http("GET", url, denied, NULL, &r), 0);
    assert_int_equal(th_resp_header(&r, "Access-Control-Allow-Origin", v, sizeof(v)), -1);
    th_resp_free(&r);
    snprintf(url, sizeof(url), "%s/hello", base);
    const char *pre[] = {"Origin: http://other.example", "Access-Control-Request-Method: GET",
                         NULL};
    assert_int_equal(th_http("OPTIONS", url, pre, NULL, &r), 0);
    assert_int_equal(r.status, 204);
    assert_int_equal(th_resp_header(&r, "Access-Control-Allow-Methods", v, sizeof(v)), 0);
    assert_non_null(strstr(v, "GET"));
    th_resp_free(&r);
}

static void test_authenticate_hook(void **state)
{
    char url[128], v[64];
    snprintf(url, sizeof(url), "%s/hello", base);
    struct th_resp r;
    assert_int_equal(th_http("GET", url, NULL, NULL, &r), 0);
    assert_int_equal(r.status, 401);
    assert_string_equal(json_string_value(json_object_get(r.json, "message")),
                        "X-Test-Auth must be ok");
    assert_int_equal(th_resp_header(&r, "WWW-Authenticate", v, sizeof(v)), 0);
    th_resp_free(&r);
    const char *ok[] = {"X-Test-Auth: ok", NULL};
    assert_int_equal(th_http("GET", url, ok, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(json_string_value(json_object_get(r.json, "hello")), "tester");
    th_resp_free(&r);
}

static void *slow_call(void *arg)
{
    struct th_resp *r = arg;
    char url[128];
    snprintf(url, sizeof(url), "%s/slow", base);
    if (th_http("GET", url, NULL, NULL, r) != 0)
        r->status = -1;
    return NULL;
}

static int connect_server(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons(http_server_port(srv)),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    return fd;
}

/* Headers over the limit get an error status and a closed connection, not a crash. */
static void test_oversized_headers(void **state)
{
    size_t n = 200 * 1024;
    char *req = malloc(n + 256);
    int off = snprintf(req, 256, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ");
    memset(req + off, 'a', n);
    memcpy(req + off + n, "\r\n\r\n", 5);
    char reply[2048];
    assert_true(th_raw(http_server_port(srv), req, (size_t)off + n + 4, reply, sizeof(reply)) > 0);
    assert_int_equal(strncmp(reply, "HTTP/1.1 ", 9), 0);
    long status = strtol(reply + 9, NULL, 10);
    assert_true(status == 431 || status == 413 || status == 400);
    free(req);
    struct th_resp r; /* and the server still answers */
    char url[128];
    snprintf(url, sizeof(url), "%s/healthz", base);
    assert_int_equal(th_http("GET", url, NULL, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    th_resp_free(&r);
}

/* Slowloris: many connections that send half a request and stall do not starve others. */
static void test_slow_clients_do_not_starve(void **state)
{
    enum { SLOW = 200 };
    int fds[SLOW];
    for (int i = 0; i < SLOW; i++) {
        fds[i] = connect_server();
        const char *part = "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ";
        assert_int_equal(send(fds[i], part, strlen(part), 0), (ssize_t)strlen(part));
    }
    char url[128];
    snprintf(url, sizeof(url), "%s/healthz", base);
    for (int i = 0; i < 20; i++) {
        struct th_resp r;
        assert_int_equal(th_http("GET", url, NULL, NULL, &r), 0);
        assert_int_equal(r.status, 200);
        th_resp_free(&r);
    }
    for (int i = 0; i < SLOW; i++)
        close(fds[i]);
}

/* Behind a trusted proxy (here: us on 127.0.0.1) the client is X-Forwarded-For's. */
static void test_forwarded_client_address(void **state)
{
    char url[128];
    snprintf(url, sizeof(url), "%s/whoami", base);
    static const char *const cases[][2] = {
        {NULL, "127.0.0.1"},
        {"X-Forwarded-For: 203.0.113.7", "203.0.113.7"},
        {"X-Forwarded-For: 6.6.6.6, 203.0.113.7", "203.0.113.7"},
        {"X-Forwarded-For: not-an-address", "127.0.0.1"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *h[] = {cases[i][0], NULL};
        struct th_resp r;
        assert_int_equal(th_http("GET", url, cases[i][0] ? h : NULL, NULL, &r), 0);
        assert_string_equal(json_string_value(json_object_get(r.json, "client")), cases[i][1]);
        th_resp_free(&r);
    }
}

/* Blocking work (a slow handler, a hook asking for a worker) never holds the one loop. */
static void test_blocking_work_off_the_loop(void **state)
{
    struct th_resp slow;
    memset(&slow, 0, sizeof(slow));
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, slow_call, &slow), 0);
    usleep(100 * 1000);
    char url[128];
    snprintf(url, sizeof(url), "%s/hello", base);
    const char *h[] = {"X-Test-Auth: worker", NULL};
    int64_t t0 = clock_mono_ms();
    for (int i = 0; i < 10; i++) {
        struct th_resp r;
        assert_int_equal(th_http("GET", url, h, NULL, &r), 0);
        assert_int_equal(r.status, 200);
        assert_string_equal(json_string_value(json_object_get(r.json, "hello")), "worker");
        th_resp_free(&r);
    }
    assert_true(clock_mono_ms() - t0 < 600); /* not behind the 800 ms handler */
    pthread_join(t, NULL);
    assert_int_equal(slow.status, 200);
    th_resp_free(&slow);
}

static void test_deferred_and_moved_inline_handlers(void **state)
{
    char url[128];
    struct th_resp r;
    snprintf(url, sizeof(url), "%s/deferred", base);
    for (int i = 0; i < 3; i++) { /* kept-alive connections go on after a deferred answer */
        assert_int_equal(th_http("GET", url, NULL, NULL, &r), 0);
        assert_int_equal(r.status, 200);
        assert_true(json_is_true(json_object_get(r.json, "deferred")));
        th_resp_free(&r);
    }
    snprintf(url, sizeof(url), "%s/moved", base);
    assert_int_equal(th_http("GET", url, NULL, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    assert_true(json_is_true(json_object_get(r.json, "may_block")));
    assert_string_equal(json_string_value(json_object_get(r.json, "ctx")), "passed");
    th_resp_free(&r);
}

/* A body larger than the pipe, taken slower than it arrives: all of it, in order. */
static void test_slow_body_taken_whole(void **state)
{
    size_t n = 6 * 1024 * 1024 + 123;
    char *body = malloc(n);
    for (size_t i = 0; i < n; i++)
        body[i] = (char)(i * 7 + i / 1000);
    struct hash_sha256 h;
    char want[65];
    hash_sha256_init(&h);
    hash_sha256_update(&h, body, n);
    hash_sha256_final_hex(&h, want);
    char url[128];
    snprintf(url, sizeof(url), "%s/sink", base);
    struct th_resp r;
    assert_int_equal(th_http_n("POST", url, NULL, body, n, &r), 0);
    assert_int_equal(r.status, 200);
    assert_int_equal(json_integer_value(json_object_get(r.json, "bytes")), (json_int_t)n);
    assert_string_equal(json_string_value(json_object_get(r.json, "sha256")), want);
    th_resp_free(&r);
    free(body);
}

/* Many open event streams (each waiting on a worker) do not starve other requests. */
static void test_many_open_streams(void **state)
{
    enum { STREAMS = 40 };
    int fds[STREAMS];
    const char *get = "GET /quiet HTTP/1.1\r\nHost: x\r\n\r\n";
    for (int i = 0; i < STREAMS; i++) {
        fds[i] = connect_server();
        assert_int_equal(send(fds[i], get, strlen(get), 0), (ssize_t)strlen(get));
    }
    usleep(300 * 1000);
    char url[128];
    snprintf(url, sizeof(url), "%s/healthz", base);
    for (int i = 0; i < 10; i++) {
        struct th_resp r;
        assert_int_equal(th_http("GET", url, NULL, NULL, &r), 0);
        assert_int_equal(r.status, 200);
        th_resp_free(&r);
    }
    char b[512];
    ssize_t got = recv(fds[0], b, sizeof(b) - 1, 0); /* and the streams do stream */
    assert_true(got > 0);
    b[got] = '\0';
    assert_non_null(strstr(b, "text/event-stream"));
    for (int i = 0; i < STREAMS; i++)
        close(fds[i]);
}

static void *forever_call(void *arg)
{
    int *status = arg;
    char url[128];
    struct th_resp r;
    snprintf(url, sizeof(url), "%s/forever", base);
    *status = th_http("GET", url, NULL, NULL, &r) == 0 ? (int)r.status : -1;
    th_resp_free(&r);
    return NULL;
}

/* Runs last: drains the server while a request is in flight, and one deferred forever. */
static void test_graceful_drain(void **state)
{
    struct th_resp r;
    memset(&r, 0, sizeof(r));
    pthread_t t, tf;
    int forever_status = 0;
    assert_int_equal(pthread_create(&t, NULL, slow_call, &r), 0);
    assert_int_equal(pthread_create(&tf, NULL, forever_call, &forever_status), 0);
    usleep(200 * 1000);
    http_server_drain(srv);
    /* no new connections once draining */
    struct th_resp refused;
    char url[128];
    snprintf(url, sizeof(url), "%s/healthz", base);
    assert_int_equal(th_http("GET", url, NULL, NULL, &refused), -1);
    th_resp_free(&refused);
    int64_t t0 = clock_mono_ms();
    http_server_stop(srv, 1500);
    assert_true(clock_mono_ms() - t0 < 5000); /* the deferred one did not hold it */
    srv = NULL;
    pthread_join(t, NULL);
    pthread_join(tf, NULL);
    assert_true(forever_status != 200); /* abandoned: no answer, or 503 */
    assert_int_equal(r.status, 200);    /* the in-flight request finished */
    assert_true(json_is_true(json_object_get(r.json, "finished")));
    th_resp_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keep_alive),
        cmocka_unit_test(test_server_sent_events),
        cmocka_unit_test(test_cors),
        cmocka_unit_test(test_authenticate_hook),
        cmocka_unit_test(test_forwarded_client_address),
        cmocka_unit_test(test_oversized_headers),
        cmocka_unit_test(test_slow_clients_do_not_starve),
        cmocka_unit_test(test_blocking_work_off_the_loop),
        cmocka_unit_test(test_deferred_and_moved_inline_handlers),
        cmocka_unit_test(test_slow_body_taken_whole),
        cmocka_unit_test(test_many_open_streams),
        cmocka_unit_test(test_graceful_drain),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
