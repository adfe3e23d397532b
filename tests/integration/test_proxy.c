/* test_proxy: the gateway's reverse proxy against an upstream inside this test: uploads
 * and downloads far larger than the gateway's memory use, Server-Sent Events passed on
 * event by event, credentials never forwarded, and the circuit breaker. */
#include "th_stack.h"

#include <ibx/hash.h>
#include <ibx/http.h>
#include <ibx/ids.h>
#include <ibx/log.h>

#include <curl/curl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#define UPLOAD_BYTES   (200LL * 1024 * 1024)
#define DOWNLOAD_BYTES (50LL * 1024 * 1024)

static struct th_stack st;
static struct th_svc *gw;
static struct http_server *up;
static char token[2048];

/* ------------------------------------------------------------------ the upstream */

struct sink {
    struct hash_sha256 h;
    long long bytes;
};

static int sink_chunk(void *ctx, const char *data, size_t len)
{
    struct sink *k = ctx;
    hash_sha256_update(&k->h, data, len);
    k->bytes += (long long)len;
    return 0;
}

static void sink_end(void *ctx, struct http_resp *resp)
{
    struct sink *k = ctx;
    if (resp) {
        char hex[65];
        hash_sha256_final_hex(&k->h, hex);
        http_resp_json(resp, 200,
                       json_pack("{s:I, s:s}", "bytes", (json_int_t)k->bytes, "sha256", hex));
    }
    free(k);
}

static void u_sink(struct http_req *req, struct http_resp *resp)
{
    struct sink *k = calloc(1, sizeof(*k));
    hash_sha256_init(&k->h);
    req->body_chunk = sink_chunk;
    req->body_end = sink_end;
    req->body_ctx = k;
}

static ssize_t big_out(void *ctx, uint64_t pos, char *out, size_t max)
{
    if (pos >= (uint64_t)DOWNLOAD_BYTES)
        return HTTP_STREAM_END;
    size_t n = max;
    if (pos + n > (uint64_t)DOWNLOAD_BYTES)
        n = (size_t)(DOWNLOAD_BYTES - (long long)pos);
    for (size_t i = 0; i < n; i++)
        out[i] = (char)('a' + (pos + i) % 26);
    return (ssize_t)n;
}

static void u_big(struct http_req *req, struct http_resp *resp)
{
    http_resp_stream(resp, 200, "application/octet-stream", big_out, NULL, NULL);
    http_resp_header(resp, "Content-Disposition", "attachment; filename=big.bin");
}

static int ev_next(void *ctx, struct buf *out, int timeout_ms)
{
    int *n = ctx;
    if (*n >= 3)
        return -1;
    if (*n > 0)
        usleep(400 * 1000); /* events are spread out in time */
    char data[32];
    snprintf(data, sizeof(data), "{\"n\":%d}", *n);
    (*n)++;
    return http_sse_format(out, "progress", NULL, data) == 0 ? 1 : -1;
}

static void u_events(struct http_req *req, struct http_resp *resp)
{
    http_resp_sse(resp, ev_next, calloc(1, sizeof(int)), free, 0);
}

static void u_headers(struct http_req *req, struct http_resp *resp)
{
    const char *auth = http_req_header(req, "Authorization");
    const char *internal = http_req_header(req, "X-Ibx-Internal-Token");
    const char *cookie = http_req_header(req, "Cookie");
    http_resp_json(resp, 200,
                   json_pack("{s:s, s:b, s:b, s:s}", "authorization", auth ? auth : "",
                             "internal_header", internal != NULL, "cookie", cookie != NULL,
                             "request_id", req->request_id));
}

static void u_fail(struct http_req *req, struct http_resp *resp)
{
    http_resp_error(resp, 503, "down", "upstream is failing", NULL);
}

static const struct http_route up_routes[] = {
    {"POST", "/api/v1/datasets/sink", u_sink, (size_t)1 << 30, HTTP_PUBLIC | HTTP_STREAM_BODY,
     "sink"},
    {"GET", "/api/v1/datasets/big", u_big, 0, HTTP_PUBLIC, "big"},
    {"GET", "/api/v1/datasets/events", u_events, 0, HTTP_PUBLIC, "sse"},
    {"GET", "/api/v1/datasets/headers", u_headers, 0, HTTP_PUBLIC, "headers"},
    {"GET", "/api/v1/projects/fail", u_fail, 0, HTTP_PUBLIC, "fail"},
};

/* ------------------------------------------------------------------ setup */

static int setup(void **state)
{
    log_init("test-upstream", LOG_LVL_ERROR);
    if (ids_init() != 0 || th_stack_start(&st) != 0)
        return -1;
    struct http_server_opts o = {.service = "upstream",
                                 .bind_addr = "127.0.0.1",
                                 .routes = up_routes,
                                 .nroutes = sizeof(up_routes) / sizeof(up_routes[0])};
    if (http_server_start(&o, &up) != 0)
        return -1;
    static char env[2][128];
    snprintf(env[0], sizeof(env[0]), "IBX_SELECTION_URL=http://127.0.0.1:%u",
             (unsigned)http_server_port(up));
    snprintf(env[1], sizeof(env[1]), "IBX_ACCESS_LOG=false");
    const char *extra[] = {env[0], env[1], NULL};
    gw = th_service_start(&st, "gateway", extra);
    if (!gw)
        return -1;
    char url[160];
    snprintf(url, sizeof(url), "%s/api/v1/auth/register", gw->url);
    const char *h[] = {"Content-Type: application/json", NULL};
    struct th_resp r;
    if (th_http("POST", url, h, "{\"email\":\"p@example.org\",\"password\":\"proxy-pass-1\"}",
                &r) ||
        r.status != 201)
        return -1;
    snprintf(token, sizeof(token), "%s",
             json_string_value(json_object_get(r.json, "access_token")));
    th_resp_free(&r);
    return 0;
}

static int teardown(void **state)
{
    int unclean = th_stack_stop(&st);
    http_server_stop(up, 1000);
    return unclean == 0 ? 0 : -1;
}

/* Peak resident memory of the gateway so far (VmHWM), in KiB. */
static long gateway_peak_kib(void)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)gw->pid);
    FILE *f = fopen(path, "r");
    long kib = -1;
    while (f && fgets(line, sizeof(line), f)) {
        if (strncmp(line, "VmHWM:", 6) == 0)
            kib = strtol(line + 6, NULL, 10);
    }
    if (f)
        fclose(f);
    return kib;
}

/* ------------------------------------------------------------------ client side */

struct gen {
    long long sent;
    struct hash_sha256 h;
};

static size_t gen_read(char *dst, size_t size, size_t n, void *ud)
{
    struct gen *g = ud;
    size_t cap = size * n;
    long long left = UPLOAD_BYTES - g->sent;
    size_t k = left < (long long)cap ? (size_t)left : cap;
    for (size_t i = 0; i < k; i++)
        dst[i] = (char)((g->sent + (long long)i) * 7 % 251);
    hash_sha256_update(&g->h, dst, k);
    g->sent += (long long)k;
    return k;
}

static size_t collect(char *p, size_t size, size_t n, void *ud)
{
    struct buf *b = ud;
    return buf_append(b, p, size * n) == 0 ? size * n : 0;
}

static void test_large_upload_streams(void **state)
{
    char url[160], auth[2100];
    snprintf(url, sizeof(url), "%s/api/v1/datasets/sink", gw->url);
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
    struct gen g = {0};
    hash_sha256_init(&g.h);
    struct buf reply;
    buf_init(&reply, 1 << 20);
    CURL *c = curl_easy_init();
    struct curl_slist *hl = curl_slist_append(NULL, auth);
    hl = curl_slist_append(hl, "Content-Type: application/octet-stream");
    hl = curl_slist_append(hl, "Expect:");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)-1); /* chunked */
    curl_easy_setopt(c, CURLOPT_READFUNCTION, gen_read);
    curl_easy_setopt(c, CURLOPT_READDATA, &g);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &reply);
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(hl);
    curl_easy_cleanup(c);
    assert_int_equal(status, 200);
    char hex[65];
    hash_sha256_final_hex(&g.h, hex);
    json_t *o = json_loads(buf_str(&reply), 0, NULL);
    assert_int_equal(json_integer_value(json_object_get(o, "bytes")), UPLOAD_BYTES);
    assert_string_equal(json_string_value(json_object_get(o, "sha256")), hex);
    json_decref(o);
    buf_release(&reply);
    long peak = gateway_peak_kib();
    assert_true(peak > 0);
    assert_true(peak < 64 * 1024); /* 200 MB went through a gateway that never held it */
}

struct dl {
    long long bytes;
    int bad;
};

static size_t dl_check(char *p, size_t size, size_t n, void *ud)
{
    struct dl *d = ud;
    for (size_t i = 0; i < size * n; i++) {
        if (p[i] != (char)('a' + (d->bytes + (long long)i) % 26))
            d->bad = 1;
    }
    d->bytes += (long long)(size * n);
    return size * n;
}

static void test_large_download_streams(void **state)
{
    char url[160], auth[2100];
    snprintf(url, sizeof(url), "%s/api/v1/datasets/big", gw->url);
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
    struct dl d = {0};
    CURL *c = curl_easy_init();
    struct curl_slist *hl = curl_slist_append(NULL, auth);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, dl_check);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &d);
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    curl_slist_free_all(hl);
    curl_easy_cleanup(c);
    assert_int_equal(d.bytes, DOWNLOAD_BYTES);
    assert_false(d.bad);
    assert_true(gateway_peak_kib() < 64 * 1024);
}

struct sse_watch {
    double t0;
    double first_at, last_at;
    int events;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t sse_watch(char *p, size_t size, size_t n, void *ud)
{
    struct sse_watch *w = ud;
    for (const char *q = p; (q = memchr(q, '\n', (size_t)(p + size * n - q))) != NULL; q++) {
        if (q + 1 < p + size * n && q[1] == '\n') {
            if (w->events == 0)
                w->first_at = now_s() - w->t0;
            w->events++;
            w->last_at = now_s() - w->t0;
        }
    }
    return size * n;
}

static void test_sse_passes_event_by_event(void **state)
{
    char url[160], auth[2100];
    snprintf(url, sizeof(url), "%s/api/v1/datasets/events", gw->url);
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
    struct sse_watch w = {.t0 = now_s()};
    CURL *c = curl_easy_init();
    struct curl_slist *hl = curl_slist_append(NULL, auth);
    hl = curl_slist_append(hl, "Accept: text/event-stream");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sse_watch);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &w);
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    curl_slist_free_all(hl);
    curl_easy_cleanup(c);
    assert_int_equal(w.events, 3);
    /* the first event reached us long before the upstream sent the last (0.8 s later) */
    assert_true(w.last_at - w.first_at > 0.5);
}

static void test_credentials_not_forwarded(void **state)
{
    char url[160], auth[2100];
    snprintf(url, sizeof(url), "%s/api/v1/datasets/headers", gw->url);
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
    const char *h[] = {auth, "X-Ibx-Internal-Token: forged", "Cookie: session=abc",
                       "X-Request-Id: proxy-rid-1", NULL};
    struct th_resp r;
    assert_int_equal(th_http("GET", url, h, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    const char *fwd = json_string_value(json_object_get(r.json, "authorization"));
    assert_non_null(strstr(fwd, "Bearer "));
    assert_null(strstr(fwd, token)); /* the user's token is replaced by an internal one */
    assert_false(json_is_true(json_object_get(r.json, "internal_header")));
    assert_false(json_is_true(json_object_get(r.json, "cookie")));
    assert_string_equal(json_string_value(json_object_get(r.json, "request_id")), "proxy-rid-1");
    th_resp_free(&r);
}

static void test_circuit_breaker_opens(void **state)
{
    char url[160], auth[2100];
    snprintf(url, sizeof(url), "%s/api/v1/projects/fail", gw->url);
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
    const char *h[] = {auth, NULL};
    struct th_resp r;
    for (int i = 0; i < 5; i++) {
        assert_int_equal(th_http("GET", url, h, NULL, &r), 0);
        assert_int_equal(r.status, 503);
        assert_string_equal(json_string_value(json_object_get(r.json, "error")), "down");
        th_resp_free(&r);
    }
    assert_int_equal(th_http("GET", url, h, NULL, &r), 0);
    assert_int_equal(r.status, 503);
    assert_string_equal(json_string_value(json_object_get(r.json, "error")), "circuit_open");
    th_resp_free(&r);
    snprintf(url, sizeof(url), "%s/metrics", gw->url);
    assert_int_equal(th_http("GET", url, NULL, NULL, &r), 0);
    assert_non_null(strstr(r.body, "gateway_upstream_circuit_state{upstream=\"selection\"} 1"));
    th_resp_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_large_upload_streams),
        cmocka_unit_test(test_large_download_streams),
        cmocka_unit_test(test_sse_passes_event_by_event),
        cmocka_unit_test(test_credentials_not_forwarded),
        cmocka_unit_test(test_circuit_breaker_opens),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
