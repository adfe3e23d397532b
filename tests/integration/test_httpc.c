/* test_httpc: the HTTP client against a libmicrohttpd server started inside the test. */
#include <ibx/buf.h>
#include <ibx/httpc.h>
#include <ibx/log.h>

#include <jansson.h>

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <setjmp.h>
#include <cmocka.h>

#define BIG_LEN         100000
#define SSE_EVENTS      5
#define UPLOAD_LEN      200000
#define SERVER_BODY_MAX (1024 * 1024)

/* ---- the test server ------------------------------------------------------- */

struct srv {
    struct MHD_Daemon *d;
    unsigned short port;
    atomic_int conns; /* connections accepted */
    /* /sse lockstep: event i is sent only once the client has received i events */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int acked;
};

struct rq {
    int seen;
    struct buf body;
};

struct gen {
    struct srv *srv;
    int next; /* next event, or bytes sent for /big-chunked */
};

static void notify_conn(void *cls, struct MHD_Connection *c, void **sock_ctx,
                        enum MHD_ConnectionNotificationCode code)
{
    struct srv *s = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED)
        atomic_fetch_add(&s->conns, 1);
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    struct rq *rq = *con_cls;
    if (!rq)
        return;
    buf_release(&rq->body);
    free(rq);
    *con_cls = NULL;
}

static enum MHD_Result queue(struct MHD_Connection *c, unsigned int status,
                             struct MHD_Response *resp)
{
    if (!resp)
        return MHD_NO;
    enum MHD_Result r = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return r;
}

static const char *req_header(struct MHD_Connection *c, const char *name)
{
    const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
    return v ? v : "-";
}

static enum MHD_Result serve_echo(struct MHD_Connection *c, const char *method, struct rq *rq)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(rq->body.len, rq->body.data, MHD_RESPMEM_MUST_COPY);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, "Content-Type", "text/plain");
    MHD_add_response_header(resp, "X-Echo-Method", method);
    MHD_add_response_header(resp, "X-Echo-Rid", req_header(c, "X-Request-Id"));
    MHD_add_response_header(resp, "X-Echo-Custom", req_header(c, "X-Custom"));
    MHD_add_response_header(resp, "X-Echo-Content-Type", req_header(c, "Content-Type"));
    MHD_add_response_header(resp, "X-Echo-TE", req_header(c, "Transfer-Encoding"));
    MHD_add_response_header(resp, "X-Multi", "one");
    MHD_add_response_header(resp, "X-Multi", "two");
    return queue(c, strcmp(method, "POST") == 0 ? 201 : 200, resp);
}

static enum MHD_Result serve_json(struct MHD_Connection *c, struct rq *rq)
{
    const char *text = rq->body.len ? buf_str(&rq->body) : "{\"ok\":true}";
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_MUST_COPY);
    if (resp)
        MHD_add_response_header(resp, "Content-Type", "application/json");
    return queue(c, 200, resp);
}

/* What the client sent, as JSON. */
static enum MHD_Result serve_seen(struct MHD_Connection *c)
{
    json_t *o = json_pack("{s:s, s:s}", "accept", req_header(c, "Accept"), "content_type",
                          req_header(c, "Content-Type"));
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!text)
        return MHD_NO;
    return queue(c, 200,
                 MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE));
}

static enum MHD_Result serve_big(struct MHD_Connection *c)
{
    char *data = malloc(BIG_LEN);
    if (!data)
        return MHD_NO;
    memset(data, 'x', BIG_LEN);
    return queue(c, 200, MHD_create_response_from_buffer(BIG_LEN, data, MHD_RESPMEM_MUST_FREE));
}

static ssize_t big_chunk(void *cls, uint64_t pos, char *out, size_t max)
{
    struct gen *g = cls;
    if (g->next >= BIG_LEN)
        return MHD_CONTENT_READER_END_OF_STREAM;
    size_t n = max < 4096 ? max : 4096;
    if (n > (size_t)(BIG_LEN - g->next))
        n = (size_t)(BIG_LEN - g->next);
    memset(out, 'y', n);
    g->next += (int)n;
    return (ssize_t)n;
}

static int sse_wait_ack(struct srv *s, int want)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 5;
    int ok = 1;
    pthread_mutex_lock(&s->mu);
    while (ok && s->acked < want)
        ok = pthread_cond_timedwait(&s->cv, &s->mu, &until) == 0;
    ok = s->acked >= want;
    pthread_mutex_unlock(&s->mu);
    return ok;
}

static ssize_t sse_event(void *cls, uint64_t pos, char *out, size_t max)
{
    struct gen *g = cls;
    if (g->next >= SSE_EVENTS)
        return MHD_CONTENT_READER_END_OF_STREAM;
    if (!sse_wait_ack(g->srv, g->next))
        return MHD_CONTENT_READER_END_WITH_ERROR;
    int n = snprintf(out, max, "event: tick\ndata: %d\n\n", g->next);
    g->next++;
    return n;
}

static enum MHD_Result serve_generated(struct MHD_Connection *c, struct srv *s, int sse)
{
    struct gen *g = calloc(1, sizeof(*g));
    if (!g)
        return MHD_NO;
    g->srv = s;
    struct MHD_Response *resp = MHD_create_response_from_callback(
        MHD_SIZE_UNKNOWN, 1024, sse ? sse_event : big_chunk, g, free);
    if (!resp) {
        free(g);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", sse ? "text/event-stream" : "text/plain");
    return queue(c, 200, resp);
}

static enum MHD_Result serve_redirect(struct MHD_Connection *c)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    if (resp)
        MHD_add_response_header(resp, "Location", "/echo");
    return queue(c, 302, resp);
}

static enum MHD_Result route(struct srv *s, struct MHD_Connection *c, const char *url,
                             const char *method, struct rq *rq)
{
    if (strcmp(url, "/echo") == 0)
        return serve_echo(c, method, rq);
    if (strcmp(url, "/json") == 0)
        return serve_json(c, rq);
    if (strcmp(url, "/seen") == 0)
        return serve_seen(c);
    if (strcmp(url, "/big") == 0)
        return serve_big(c);
    if (strcmp(url, "/big-chunked") == 0)
        return serve_generated(c, s, 0);
    if (strcmp(url, "/sse") == 0)
        return serve_generated(c, s, 1);
    if (strcmp(url, "/redirect") == 0)
        return serve_redirect(c);
    return queue(c, 404, MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT));
}

/* First call: set up the context. Body calls: collect. Final call: answer. */
static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version, const char *upload,
                               size_t *upload_size, void **con_cls)
{
    struct rq *rq = *con_cls;
    if (!rq) {
        rq = calloc(1, sizeof(*rq));
        if (!rq)
            return MHD_NO;
        buf_init(&rq->body, SERVER_BODY_MAX);
        *con_cls = rq;
        return MHD_YES;
    }
    if (*upload_size) {
        if (buf_append(&rq->body, upload, *upload_size))
            return MHD_NO;
        *upload_size = 0;
        return MHD_YES;
    }
    return route(cls, c, url, method, rq);
}

static struct srv *srv_start(void)
{
    struct srv *s = calloc(1, sizeof(*s));
    assert_non_null(s);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = 0};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    s->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
                                MHD_USE_ITC,
                            0, NULL, NULL, handler, s, MHD_OPTION_SOCK_ADDR,
                            (struct sockaddr *)&addr, MHD_OPTION_NOTIFY_COMPLETED, completed, s,
                            MHD_OPTION_NOTIFY_CONNECTION, notify_conn, s, MHD_OPTION_END);
    assert_non_null(s->d);
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    assert_non_null(info);
    s->port = info->port;
    assert_true(s->port > 0);
    return s;
}

static void srv_stop(struct srv *s)
{
    MHD_stop_daemon(s->d);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

static void srv_url(const struct srv *s, const char *path, char *out, size_t n)
{
    snprintf(out, n, "http://127.0.0.1:%u%s", (unsigned)s->port, path);
}

/* A socket bound to a loopback port; listening or not. */
static int bound_socket(int listening, unsigned short *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = 0};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
    if (listening)
        assert_int_equal(listen(fd, 8), 0);
    socklen_t len = sizeof(addr);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&addr, &len), 0);
    *port = ntohs(addr.sin_port);
    return fd;
}

static int setup(void **state)
{
    *state = srv_start();
    log_set_request_id(NULL);
    return 0;
}

static int teardown(void **state)
{
    srv_stop(*state);
    log_set_request_id(NULL);
    return 0;
}

static int group_setup(void **state)
{
    return httpc_global_init();
}

static int group_teardown(void **state)
{
    httpc_global_cleanup();
    return 0;
}

/* ---- round trips ------------------------------------------------------------- */

static void test_round_trip(void **state)
{
    static const struct {
        const char *method;
        const char *body;
        long status;
    } cases[] = {
        {"GET", NULL, 200},       {"POST", "hello, world", 201},
        {"PUT", "put body", 200}, {"PATCH", "{}", 200},
        {"DELETE", NULL, 200},    {"POST", NULL, 201},
        {"POST", "", 201},        {"GET", "", 200},
        {"HEAD", "", 200},
    };
    struct srv *s = *state;
    char url[128];
    srv_url(s, "/echo", url, sizeof(url));
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *const headers[] = {"X-Custom: value 42", "Content-Type: text/x-test", NULL};
        struct httpc_req r;
        httpc_req_init(&r, cases[i].method, url);
        r.headers = headers;
        r.body = cases[i].body;
        r.body_len = cases[i].body ? strlen(cases[i].body) : 0;
        struct httpc_resp resp;
        assert_int_equal(httpc_do(&r, &resp), 0);
        assert_int_equal(resp.status, cases[i].status);
        assert_string_equal(buf_str(&resp.body), cases[i].body ? cases[i].body : "");
        assert_string_equal(resp.content_type, "text/plain");
        assert_string_equal(httpc_header_get(&resp.headers, "x-echo-method"), cases[i].method);
        assert_string_equal(httpc_header_get(&resp.headers, "X-Echo-Custom"), "value 42");
        assert_string_equal(httpc_header_get(&resp.headers, "X-Echo-Content-Type"), "text/x-test");
        assert_null(httpc_header_get(&resp.headers, "X-Absent"));
        httpc_resp_release(&resp);
    }
}

static void test_no_default_content_type(void **state)
{
    struct srv *s = *state;
    char url[128];
    srv_url(s, "/echo", url, sizeof(url));
    struct httpc_req r;
    httpc_req_init(&r, "POST", url);
    r.body = "raw";
    r.body_len = 3;
    struct httpc_resp resp;
    assert_int_equal(httpc_do(&r, &resp), 0);
    /* curl would add application/x-www-form-urlencoded on its own */
    assert_string_equal(httpc_header_get(&resp.headers, "X-Echo-Content-Type"), "-");
    httpc_resp_release(&resp);
}

static void test_header_iteration(void **state)
{
    struct srv *s = *state;
    char url[128];
    srv_url(s, "/echo", url, sizeof(url));
    struct httpc_req r;
    httpc_req_init(&r, "GET", url);
    struct httpc_resp resp;
    assert_int_equal(httpc_do(&r, &resp), 0);
    size_t pos = 0;
    const char *name;
    const char *value;
    int multi = 0;
    int total = 0;
    while ((name = httpc_header_next(&resp.headers, &pos, &value)) != NULL) {
        total++;
        if (strcasecmp(name, "X-Multi") != 0)
            continue;
        assert_string_equal(value, multi == 0 ? "one" : "two");
        multi++;
    }
    assert_int_equal(multi, 2);
    assert_true(total >= 9);
    httpc_resp_release(&resp);
}

static void test_head(void **state)
{
    struct srv *s = *state;
    char url[128];
    srv_url(s, "/big", url, sizeof(url));
    struct httpc_req r;
    httpc_req_init(&r, "HEAD", url);
    struct httpc_resp resp;
    assert_int_equal(httpc_do(&r, &resp), 0);
    assert_int_equal(resp.status, 200);
    assert_int_equal(resp.body.len, 0);
    assert_string_equal(httpc_header_get(&resp.headers, "Content-Length"), "100000");
    httpc_resp_release(&resp);
}

static void test_redirect_not_followed(void **state)
{
    struct srv *s = *state;
    char url[128];
    srv_url(s, "/redirect", url, sizeof(url));
    struct httpc_req r;
    httpc_req_init(&r, "GET", url);
    struct httpc_resp resp;
    assert_int_equal(httpc_do(&r, &resp), 0);
    assert_int_equal(resp.status, 302);
    assert_string_equal(httpc_header_get(&resp.headers, "Location"), "/echo");
    httpc_resp_release(&resp);
}

static void test_request_id(void **state)
{
    static const struct {
        const char *thread_rid;  /* log_set_request_id */
        const char *caller_line; /* extra header line or NULL */
        const char *server_sees; /* X-Request-Id at the server, "-" for none */
    } cases[] = {
        {"rid-abc-123", NULL, "rid-abc-123"},
        {"rid-abc-123", "X-Request-Id: mine", "mine"},
        {"rid-abc-123", "x-request-id: lower", "lower"},
        {NULL, NULL, "-"},
        {"bad rid", NULL, "-"}, /* not printable as one token: not sent */
    };
    struct srv *s = *state;
    char url[128];
    srv_url(s, "/echo", url, sizeof(url));
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        log_set_request_id(cases[i].thread_rid);
        const char *const headers[] = {cases[i].caller_line, NULL};
        struct httpc_req r;
        httpc_req_init(&r, "GET", url);
        r.headers = headers;
        struct httpc_resp resp;
        assert_int_equal(httpc_do(&r, &resp), 0);
        assert_string_equal(httpc_header_get(&resp.headers, "X-Echo-Rid"), cases[i].server_sees);
        httpc_resp_release(&resp);
    }
}

/* ---- streamed responses ------------------------------------------------------ */

struct sink {
    struct srv *srv;
    int header_calls;
    long status;
    char content_type[64];
    int data_calls;
    int data_before_headers;
    struct buf data;
    int fail_with; /* returned by on_data when non-zero */
};

static int sink_headers(void *ctx, long status, const struct httpc_headers *h)
{
    struct sink *k = ctx;
    k->header_calls++;
    k->status = status;
    const char *ct = httpc_header_get(h, "Content-Type");
    snprintf(k->content_type, sizeof(k->content_type), "%s", ct ? ct : "");
    return 0;
}

static int sink_data(void *ctx, const char *data, size_t len)
{
    struct sink *k = ctx;
    k->data_calls++;
    if (!k->header_calls)
        k->data_before_headers = 1;
    if (k->fail_with)
        return k->fail_with;
    if (buf_append(&k->data, data, len))
        return -ENOMEM;
    if (!k->srv)
        return 0;
    int events = 0;
    for (const char *p = buf_str(&k->data); (p = strstr(p, "\n\n")) != NULL; p += 2)
        events++;
    pthread_mutex_lock(&k->srv->mu);
    k->srv->acked = events;
    pthread_cond_broadcast(&k->srv->cv);
    pthread_mutex_unlock(&k->srv->mu);
    return 0;
}

/* The server sends event i only after on_data has seen event i-1, so this completes only
 * if each event is handed over as it arrives rather than when the body ends. */
static void test_stream_sse(void **state)
{
    struct srv *s = *state;
    char url[128];
    srv_url(s, "/sse", url, sizeof(url));
    struct sink k = {.srv = s};
    buf_init(&k.data, 4096);
    struct httpc_req r;
    httpc_req_init(&r, "GET", url);
    r.timeout_ms = 0;
    struct httpc_stream_cb cb = {.on_headers = sink_headers, .on_data = sink_data, .ctx = &k};
    long status = 0;
    assert_int_equal(httpc_stream(&r, &cb, &status), 0);
    assert_int_equal(status, 200);
    assert_int_equal(k.header_calls, 1);
    assert_int_equal(k.status, 200);
    assert_string_equal(k.content_type, "text/event-stream");
    assert_false(k.data_before_headers);
    assert_true(k.data_calls >= SSE_EVENTS);
    char want[512] = "";
    for (int i = 0; i < SSE_EVENTS; i++) {
        size_t used = strlen(want);
        snprintf(want + used, sizeof(want) - used, "event: tick\ndata: %d\n\n", i);
    }
    assert_string_equal(buf_str(&k.data), want);
    buf_release(&k.data);
}

static void test_stream_abort(void **state)
{
    static const struct {
        int fail_with;
        int want;
    } cases[] = {{-EPIPE, -EPIPE}, {1, -ECANCELED}};
    struct srv *s = *state;
    char url[128];
    srv_url(s, "/big-chunked", url, sizeof(url));
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct sink k = {.fail_with = cases[i].fail_with};
        buf_init(&k.data, BIG_LEN);
        struct httpc_req r;
        httpc_req_init(&r, "GET", url);
        struct httpc_stream_cb cb = {.on_headers = sink_headers, .on_data = sink_data, .ctx = &k};
        long status = -1;
        assert_int_equal(httpc_stream(&r, &cb, &status), cases[i].want);
        assert_int_equal(status, -1);
        assert_int_equal(k.data_calls, 1);
        buf_release(&k.data);
    }
}

static int refuse_headers(void *ctx, long status, const struct httpc_headers *h)
{
    return -EACCES;
}

static void test_stream_abort_in_headers(void **state)
{
    struct srv *s = *state;
    char url[128];
    srv_url(s, "/big", url, sizeof(url));
    struct sink k = {0};
    buf_init(&k.data, BIG_LEN);
    struct httpc_req r;
    httpc_req_init(&r, "GET", url);
    struct httpc_stream_cb cb = {.on_headers = refuse_headers, .on_data = sink_data, .ctx = &k};
    assert_int_equal(httpc_stream(&r, &cb, NULL), -EACCES);
    assert_int_equal(k.data_calls, 0);
    buf_release(&k.data);
}

/* ---- streamed request bodies ---------------------------------------------------- */

struct source {
    size_t total;
    size_t sent;
    size_t fail_at; /* return -EPIPE once this many bytes were given; 0 = never */
};

static char pattern(size_t i)
{
    return (char)('a' + (i * 7) % 26);
}

static ssize_t source_read(void *ctx, char *dst, size_t cap)
{
    struct source *src = ctx;
    if (src->fail_at && src->sent >= src->fail_at)
        return -EPIPE;
    size_t n = src->total - src->sent;
    if (n > cap)
        n = cap;
    if (n > 1000)
        n = 1000;
    for (size_t i = 0; i < n; i++)
        dst[i] = pattern(src->sent + i);
    src->sent += n;
    return (ssize_t)n;
}

static void test_streamed_upload(void **state)
{
    static const struct {
        const char *method;
        int known_size;
        const char *te; /* Transfer-Encoding the server saw */
    } cases[] = {{"POST", 0, "chunked"}, {"POST", 1, "-"}, {"PUT", 0, "chunked"}};
    struct srv *s = *state;
    char url[128];
    srv_url(s, "/echo", url, sizeof(url));
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct source src = {.total = UPLOAD_LEN};
        struct httpc_req r;
        httpc_req_init(&r, cases[i].method, url);
        r.body_reader = source_read;
        r.body_ctx = &src;
        r.body_size = cases[i].known_size ? UPLOAD_LEN : -1;
        struct httpc_resp resp;
        assert_int_equal(httpc_do(&r, &resp), 0);
        assert_string_equal(httpc_header_get(&resp.headers, "X-Echo-Method"), cases[i].method);
        assert_string_equal(httpc_header_get(&resp.headers, "X-Echo-TE"), cases[i].te);
        assert_int_equal(resp.body.len, UPLOAD_LEN);
        size_t bad = 0;
        for (size_t j = 0; j < UPLOAD_LEN; j++)
            bad += resp.body.data[j] != pattern(j);
        assert_int_equal(bad, 0);
        httpc_resp_release(&resp);
    }
}

static void test_upload_reader_error(void **state)
{
    struct srv *s = *state;
    char url[128];
    srv_url(s, "/echo", url, sizeof(url));
    struct source src = {.total = UPLOAD_LEN, .fail_at = 5000};
    struct httpc_req r;
    httpc_req_init(&r, "POST", url);
    r.body_reader = source_read;
    r.body_ctx = &src;
    struct httpc_resp resp = {.status = -1};
    assert_int_equal(httpc_do(&r, &resp), -EPIPE);
    assert_int_equal(resp.status, -1);
}

/* ---- limits and failures ------------------------------------------------------ */

static void test_max_response(void **state)
{
    static const struct {
        const char *path;
        size_t max;
        int want;
    } cases[] = {
        {"/big", 1000, -EMSGSIZE},
        {"/big-chunked", 1000, -EMSGSIZE},
        {"/big", BIG_LEN, 0},
        {"/big-chunked", BIG_LEN, 0},
        {"/big-chunked", BIG_LEN - 1, -EMSGSIZE},
    };
    struct srv *s = *state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char url[128];
        srv_url(s, cases[i].path, url, sizeof(url));
        struct httpc_req r;
        httpc_req_init(&r, "GET", url);
        r.max_response = cases[i].max;
        struct httpc_resp resp = {.status = -1};
        assert_int_equal(httpc_do(&r, &resp), cases[i].want);
        if (cases[i].want) {
            assert_int_equal(resp.status, -1);
            continue;
        }
        assert_int_equal(resp.body.len, BIG_LEN);
        httpc_resp_release(&resp);
    }
}

static void test_connect_refused(void **state)
{
    unsigned short port;
    int fd = bound_socket(0, &port); /* bound, not listening: the kernel answers RST */
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/", (unsigned)port);
    struct httpc_req r;
    httpc_req_init(&r, "POST", url);
    r.body = "x";
    r.body_len = 1;
    r.connect_timeout_ms = 1000;
    r.timeout_ms = 1000;
    struct httpc_resp resp;
    /* a slow failure would be reported as -ETIMEDOUT instead */
    assert_int_equal(httpc_do(&r, &resp), -ECONNREFUSED);
    close(fd);
}

static void test_timeout(void **state)
{
    unsigned short port;
    int fd = bound_socket(1, &port); /* the kernel completes the handshake, nobody answers */
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/", (unsigned)port);
    struct httpc_req r;
    httpc_req_init(&r, "GET", url);
    r.timeout_ms = 300;
    struct httpc_resp resp;
    assert_int_equal(httpc_do(&r, &resp), -ETIMEDOUT);
    struct sink k = {0};
    buf_init(&k.data, 16);
    struct httpc_stream_cb cb = {.on_headers = sink_headers, .on_data = sink_data, .ctx = &k};
    assert_int_equal(httpc_stream(&r, &cb, NULL), -ETIMEDOUT);
    assert_int_equal(k.header_calls, 0);
    close(fd);
}

static void test_invalid(void **state)
{
    static const struct {
        const char *method;
        const char *url; /* a leading "/" is a path on the test server */
        const char *header;
        int both_bodies;
    } cases[] = {
        {NULL, "/echo", NULL, 0},
        {"GET", NULL, NULL, 0},
        {"", "/echo", NULL, 0},
        {"GE T", "/echo", NULL, 0},
        {"GET\r\nX-Evil: 1", "/echo", NULL, 0},
        {"GET", "/echo", "X-Evil: a\r\nX-Injected: b", 0},
        {"GET", "/echo", "no colon here", 0},
        {"GET", "/echo", ": no name", 0},
        {"POST", "/echo", NULL, 1},
        {"GET", "ftp://127.0.0.1/file", NULL, 0},
        {"GET", "file:///etc/passwd", NULL, 0},
        {"GET", "not a url at all", NULL, 0},
    };
    struct srv *s = *state;
    char base[64];
    srv_url(s, "", base, sizeof(base));
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char url[128];
        if (cases[i].url)
            snprintf(url, sizeof(url), "%s%s", cases[i].url[0] == '/' ? base : "", cases[i].url);
        const char *const headers[] = {cases[i].header, NULL};
        struct source src = {.total = 10};
        struct httpc_req r;
        httpc_req_init(&r, cases[i].method, cases[i].url ? url : NULL);
        r.headers = headers;
        if (cases[i].both_bodies) {
            r.body = "x";
            r.body_len = 1;
            r.body_reader = source_read;
            r.body_ctx = &src;
        }
        struct httpc_resp resp = {.status = -1};
        int rc = httpc_do(&r, &resp);
        if (rc != -EINVAL)
            fail_msg("case %zu: rc %d", i, rc);
        assert_int_equal(resp.status, -1);
    }
    assert_int_equal(httpc_do(NULL, NULL), -EINVAL);
    long st;
    assert_int_equal(httpc_json("GET", NULL, NULL, NULL, 0, &st, NULL), -EINVAL);
}

/* ---- canned responses from a raw socket ---------------------------------------- */

struct raw {
    int fd; /* listening */
    const char *response;
};

/* Accept one connection, read the request head, write the canned response, close. */
static void *raw_main(void *arg)
{
    struct raw *rw = arg;
    int c = accept(rw->fd, NULL, NULL);
    if (c < 0)
        return NULL;
    struct timeval tv = {.tv_sec = 5};
    setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    char req[8192];
    size_t used = 0;
    while (used < sizeof(req) - 1) {
        ssize_t n = recv(c, req + used, sizeof(req) - 1 - used, 0);
        if (n <= 0)
            break;
        used += (size_t)n;
        req[used] = '\0';
        if (strstr(req, "\r\n\r\n"))
            break;
    }
    ssize_t w = send(c, rw->response, strlen(rw->response), MSG_NOSIGNAL);
    (void)w;
    close(c);
    return NULL;
}

static void test_raw_responses(void **state)
{
    static const struct {
        const char *response;
        int rc;
        long status;
        const char *header; /* name checked in the response, or NULL */
        const char *value;  /* its expected value, NULL for absent */
        const char *body;
    } cases[] = {
        {"HTTP/1.1 100 Continue\r\nX-Interim: 1\r\n\r\n"
         "HTTP/1.1 200 OK\r\nX-A: 1\r\nContent-Length: 2\r\n\r\nok",
         0, 200, "X-Interim", NULL, "ok"},
        {"HTTP/1.1 200 OK\r\nX-Fold: first\r\n \t second \r\nContent-Length: 0\r\n\r\n", 0, 200,
         "X-Fold", "first second", ""},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
         "2\r\nok\r\n0\r\nX-Trailer: t\r\n\r\n",
         0, 200, "X-Trailer", NULL, "ok"},
        {"HTTP/1.1 503 Busy\r\nX-Spaced:   padded value  \r\nContent-Length: 0\r\n\r\n", 0, 503,
         "X-Spaced", "padded value", ""},
        {"HTTP/1.1 204 No Content\r\nX-Empty:\r\n\r\n", 0, 204, "X-Empty", "", ""},
        {"this is not http\r\n\r\n", -EIO, 0, NULL, NULL, NULL},
        {"", -EIO, 0, NULL, NULL, NULL}, /* closed without a byte */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct raw rw = {.response = cases[i].response};
        unsigned short port;
        rw.fd = bound_socket(1, &port);
        pthread_t tid;
        assert_int_equal(pthread_create(&tid, NULL, raw_main, &rw), 0);
        char url[128];
        snprintf(url, sizeof(url), "http://127.0.0.1:%u/", (unsigned)port);
        struct httpc_req r;
        httpc_req_init(&r, "GET", url);
        r.timeout_ms = 5000;
        struct httpc_resp resp;
        int rc = httpc_do(&r, &resp);
        pthread_join(tid, NULL);
        close(rw.fd);
        if (rc != cases[i].rc)
            fail_msg("case %zu: rc %d", i, rc);
        if (rc)
            continue;
        assert_int_equal(resp.status, cases[i].status);
        const char *v = httpc_header_get(&resp.headers, cases[i].header);
        if (cases[i].value)
            assert_string_equal(v, cases[i].value);
        else
            assert_null(v);
        assert_string_equal(buf_str(&resp.body), cases[i].body);
        httpc_resp_release(&resp);
    }
}

/* ---- reuse and threads -------------------------------------------------------- */

static void test_connection_reuse(void **state)
{
    struct srv *s = *state;
    char url[128];
    srv_url(s, "/echo", url, sizeof(url));
    for (int i = 0; i < 20; i++) {
        char body[32];
        snprintf(body, sizeof(body), "req %d", i);
        struct httpc_req r;
        httpc_req_init(&r, i % 2 ? "POST" : "GET", url);
        r.body = i % 2 ? body : NULL;
        r.body_len = i % 2 ? strlen(body) : 0;
        struct httpc_resp resp;
        assert_int_equal(httpc_do(&r, &resp), 0);
        assert_string_equal(buf_str(&resp.body), i % 2 ? body : "");
        httpc_resp_release(&resp);
    }
    assert_int_equal(atomic_load(&s->conns), 1);
}

struct worker {
    struct srv *srv;
    int id;
    int ok;
};

#define WORKERS      8
#define WORKER_CALLS 25

static int worker_call(struct worker *w, const char *url, int j)
{
    char body[64];
    snprintf(body, sizeof(body), "worker %d call %d", w->id, j);
    struct httpc_req r;
    httpc_req_init(&r, "POST", url);
    r.body = body;
    r.body_len = strlen(body);
    struct httpc_resp resp;
    if (httpc_do(&r, &resp) != 0)
        return 0;
    const char *rid = httpc_header_get(&resp.headers, "X-Echo-Rid");
    int ok = resp.status == 201 && strcmp(buf_str(&resp.body), body) == 0 && rid &&
             strcmp(rid, log_request_id()) == 0;
    httpc_resp_release(&resp);
    return ok;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    char url[128];
    char rid[32];
    srv_url(w->srv, "/echo", url, sizeof(url));
    snprintf(rid, sizeof(rid), "rid-worker-%d", w->id);
    log_set_request_id(rid);
    for (int j = 0; j < WORKER_CALLS; j++)
        w->ok += worker_call(w, url, j);
    return NULL;
}

static void test_threads(void **state)
{
    struct srv *s = *state;
    pthread_t tids[WORKERS];
    struct worker ws[WORKERS];
    for (int i = 0; i < WORKERS; i++) {
        ws[i] = (struct worker){.srv = s, .id = i};
        assert_int_equal(pthread_create(&tids[i], NULL, worker_main, &ws[i]), 0);
    }
    for (int i = 0; i < WORKERS; i++) {
        pthread_join(tids[i], NULL);
        assert_int_equal(ws[i].ok, WORKER_CALLS);
    }
    /* each thread holds at most one handle at a time */
    assert_true(atomic_load(&s->conns) <= WORKERS);
}

/* ---- JSON ------------------------------------------------------------------ */

static void test_json(void **state)
{
    struct srv *s = *state;
    char url[128];
    srv_url(s, "/json", url, sizeof(url));
    json_t *body = json_pack("{s:i, s:[i,i], s:s}", "a", 1, "b", 2, 3, "c", "é");
    assert_non_null(body);
    long status = 0;
    json_t *out = NULL;
    assert_int_equal(httpc_json("POST", url, NULL, body, 5000, &status, &out), 0);
    assert_int_equal(status, 200);
    assert_non_null(out);
    assert_true(json_equal(out, body));
    json_decref(out);
    json_decref(body);

    out = NULL;
    assert_int_equal(httpc_json("GET", url, NULL, NULL, 0, &status, &out), 0);
    assert_non_null(out);
    assert_true(json_is_true(json_object_get(out, "ok")));
    json_decref(out);

    srv_url(s, "/big", url, sizeof(url));
    out = json_object(); /* must be overwritten with NULL */
    json_t *keep = out;
    assert_int_equal(httpc_json("GET", url, NULL, NULL, 0, &status, &out), 0);
    assert_null(out);
    json_decref(keep);
}

static void test_json_headers(void **state)
{
    static const struct {
        const char *line; /* caller header or NULL */
        int with_body;
        const char *accept;
        const char *content_type;
    } cases[] = {
        {NULL, 0, "application/json", "-"},
        {NULL, 1, "application/json", "application/json"},
        {"Accept: application/problem+json", 1, "application/problem+json", "application/json"},
        {"Content-Type: application/merge-patch+json", 1, "application/json",
         "application/merge-patch+json"},
    };
    struct srv *s = *state;
    char url[128];
    srv_url(s, "/seen", url, sizeof(url));
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *const headers[] = {cases[i].line, NULL};
        json_t *body = cases[i].with_body ? json_pack("{s:b}", "x", 1) : NULL;
        long status = 0;
        json_t *out = NULL;
        assert_int_equal(httpc_json("POST", url, headers, body, 0, &status, &out), 0);
        assert_int_equal(status, 200);
        assert_non_null(out);
        assert_string_equal(json_string_value(json_object_get(out, "accept")), cases[i].accept);
        assert_string_equal(json_string_value(json_object_get(out, "content_type")),
                            cases[i].content_type);
        json_decref(out);
        json_decref(body);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_default_content_type, setup, teardown),
        cmocka_unit_test_setup_teardown(test_header_iteration, setup, teardown),
        cmocka_unit_test_setup_teardown(test_head, setup, teardown),
        cmocka_unit_test_setup_teardown(test_redirect_not_followed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_request_id, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream_sse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream_abort, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream_abort_in_headers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_streamed_upload, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upload_reader_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_max_response, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connect_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid, setup, teardown),
        cmocka_unit_test(test_raw_responses),
        cmocka_unit_test_setup_teardown(test_connection_reuse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_json, setup, teardown),
        cmocka_unit_test_setup_teardown(test_json_headers, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
