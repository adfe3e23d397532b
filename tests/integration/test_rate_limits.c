/* test_rate_limits: GCRA limits at the gateway: RateLimit-* headers on every admitted
 * answer, 429 with Retry-After, one limit shared by two replicas (at most the stated
 * overshoot, and not much fewer), the per-address limit on the sign-in routes under a
 * flood of 10,000 attempts (throttled at once, other clients still served), and the
 * slow-down after repeated failed sign-ins for one account. */
#include "th_stack.h"

#include <ibx/ids.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

/* The shared API limit of the two replicas B1 and B2, and their lease size:
 * slice = min(IBX_RATE_LEASE_MAX, max(1, burst / 10)) = 3. */
#define API_PER_MIN 30
#define API_BURST   30
#define SLICE       3
#define REPLICAS    2

static struct th_stack st;
static struct th_svc *gw_a, *gw_b1, *gw_b2;

static int setup(void **state)
{
    if (ids_init() != 0 || th_stack_start(&st) != 0)
        return -1;
    /* A: the default sign-in limit per address (20 a minute, 10 at once) */
    const char *a[] = {"IBX_RATE_AUTH_PER_MIN=20", "IBX_RATE_AUTH_BURST=10", NULL};
    const char *b[] = {"IBX_RATE_API_PER_MIN=30", "IBX_RATE_API_BURST=30", "IBX_RATE_LEASE_MAX=10",
                       NULL};
    gw_a = th_service_start(&st, "gateway", a);
    gw_b1 = gw_a ? th_service_start(&st, "gateway", b) : NULL;
    gw_b2 = gw_b1 ? th_service_start(&st, "gateway", b) : NULL;
    return gw_b2 ? 0 : -1;
}

static int teardown(void **state)
{
    return th_stack_stop(&st) == 0 ? 0 : -1;
}

static long call(const struct th_svc *gw, const char *method, const char *path, const char *token,
                 const char *body, struct th_resp *r)
{
    long status = th_call(gw->url, method, path, token, body, r);
    assert_true(status > 0);
    return status;
}

static long header_long(const struct th_resp *r, const char *name)
{
    char v[32];
    if (th_resp_header(r, name, v, sizeof(v)) != 0)
        fail_msg("no %s header in a %ld answer", name, r->status);
    char *end = NULL;
    long x = strtol(v, &end, 10);
    assert_true(end != v && *end == '\0');
    return x;
}

static char *user(const struct th_svc *gw, const char *email)
{
    char body[256];
    snprintf(body, sizeof(body), "{\"email\":\"%s\",\"password\":\"a long passphrase\"}", email);
    struct th_resp r;
    assert_int_equal(call(gw, "POST", "/api/v1/auth/register", NULL, body, &r), 201);
    char *t = strdup(json_string_value(json_object_get(r.json, "access_token")));
    th_resp_free(&r);
    return t;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_headers_and_retry_after(void **state)
{
    char *tok = user(gw_b1, "headers@example.org");
    struct th_resp r;
    long admitted = 0, prev = API_BURST, status = 0;
    double t0 = now_s();
    for (int i = 0; i < 3 * API_BURST && status != 429; i++) {
        status = call(gw_b1, "GET", "/api/v1/quota", tok, NULL, &r);
        assert_int_equal(header_long(&r, "RateLimit-Limit"), API_PER_MIN);
        long remaining = header_long(&r, "RateLimit-Remaining");
        long reset = header_long(&r, "RateLimit-Reset");
        assert_true(reset >= 0 && reset <= 60);
        if (status == 200) {
            admitted++;
            if (i == 0)
                assert_int_equal(remaining, API_BURST - 1);
            assert_true(remaining >= 0 && remaining <= prev); /* one replica: exact */
            prev = remaining;
        } else {
            assert_int_equal(status, 429);
            assert_string_equal(json_string_value(json_object_get(r.json, "error")),
                                "rate_limited");
            assert_int_equal(remaining, 0);
            long retry = header_long(&r, "Retry-After");
            assert_true(retry >= 1 && retry <= 60 / API_PER_MIN);
        }
        if (status != 429)
            th_resp_free(&r);
    }
    double elapsed = now_s() - t0;
    assert_int_equal(status, 429);
    assert_true(admitted >= API_BURST);
    assert_true(admitted <= API_BURST + SLICE + (long)(elapsed * API_PER_MIN / 60.0) + 1);
    long retry = header_long(&r, "Retry-After");
    th_resp_free(&r);
    /* after Retry-After seconds the next request is admitted */
    nanosleep(&(struct timespec){retry, 100000000L}, NULL);
    assert_int_equal(call(gw_b1, "GET", "/api/v1/quota", tok, NULL, &r), 200);
    th_resp_free(&r);
    free(tok);
}

static void test_every_admitted_answer_has_headers(void **state)
{
    char *tok = user(gw_b1, "every@example.org");
    static const struct {
        const char *method, *path, *body;
        long status;
        int with_token;
    } cases[] = {
        {"GET", "/api/v1/usage?group_by=week", NULL, 400, 1},
        {"DELETE", "/api/v1/api-keys/3f2504e0-4f89-41d3-9a0c-0305e82c3301", NULL, 404, 1},
        {"POST", "/api/v1/api-keys", "{\"name\":\"x\",\"scopes\":[\"sudo\"]}", 422, 1},
        {"POST", "/api/v1/auth/register",
         "{\"email\":\"every@example.org\",\"password\":\"p4ssw0rd!\"}", 409, 0},
        {"POST", "/api/v1/auth/login",
         "{\"email\":\"every@example.org\",\"password\":\"nope-nope\"}", 401, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct th_resp r;
        long s = call(gw_b1, cases[i].method, cases[i].path, cases[i].with_token ? tok : NULL,
                      cases[i].body, &r);
        if (s != cases[i].status)
            fail_msg("case %zu: %ld %s", i, s, r.body);
        assert_true(header_long(&r, "RateLimit-Limit") > 0);
        assert_true(header_long(&r, "RateLimit-Remaining") >= 0);
        assert_true(header_long(&r, "RateLimit-Reset") >= 0);
        th_resp_free(&r);
    }
    free(tok);
}

static void test_two_replicas_share_one_limit(void **state)
{
    char *tok = user(gw_b1, "replicas@example.org");
    long admitted[2] = {0, 0};
    struct th_resp r;
    double t0 = now_s();
    for (int i = 0; i < 80; i++) {
        int which = i % 2;
        long s = call(which ? gw_b2 : gw_b1, "GET", "/api/v1/quota", tok, NULL, &r);
        assert_true(s == 200 || s == 429);
        admitted[which] += s == 200;
        th_resp_free(&r);
    }
    double elapsed = now_s() - t0;
    long total = admitted[0] + admitted[1];
    long refill = (long)(elapsed * API_PER_MIN / 60.0) + 1;
    print_message("two replicas admitted %ld + %ld = %ld of 80 in %.2f s (limit %d, bound %ld)\n",
                  admitted[0], admitted[1], total, elapsed, API_BURST,
                  (long)API_BURST + REPLICAS * SLICE + refill);
    assert_true(admitted[0] > 0 && admitted[1] > 0);
    assert_true(total >= API_BURST);                             /* not much fewer */
    assert_true(total <= API_BURST + REPLICAS * SLICE + refill); /* never 2 x 30 */
    free(tok);
}

/* POST path with body from source address src to 127.0.0.1:port (raw HTTP/1.1, one
 * connection). The status, or -1; the reply's head is copied into head. */
static long raw_post(int port, const char *src, const char *path, const char *body, char *head,
                     size_t n)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in from = {.sin_family = AF_INET}, to = {.sin_family = AF_INET};
    inet_pton(AF_INET, src, &from.sin_addr);
    inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
    to.sin_port = htons((uint16_t)port);
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (fd < 0 || bind(fd, (struct sockaddr *)&from, sizeof(from)) != 0 ||
        connect(fd, (struct sockaddr *)&to, sizeof(to)) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    char req[1024];
    int len = snprintf(req, sizeof(req),
                       "POST %s HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\n"
                       "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                       path, strlen(body), body);
    size_t got = 0;
    if (write(fd, req, (size_t)len) == len) {
        ssize_t k;
        while (got < n - 1 && (k = read(fd, head + got, n - 1 - got)) > 0)
            got += (size_t)k;
    }
    close(fd);
    head[got] = '\0';
    return strncmp(head, "HTTP/1.1 ", 9) == 0 ? strtol(head + 9, NULL, 10) : -1;
}

static void test_sign_in_flood_per_address(void **state)
{
    /* someone signed in earlier, on another address */
    char *tok = user(gw_b1, "bystander@example.org");
    char head[8192], body[160];
    long first_429 = -1, attempts = 0, streak = 0;
    for (long i = 0; i < 10000 && streak < 50; i++) {
        snprintf(body, sizeof(body),
                 "{\"email\":\"flood%ld@example.org\",\"password\":\"guess-%ld\"}", i, i);
        long s = raw_post(gw_a->port, "127.0.0.3", "/api/v1/auth/login", body, head, sizeof(head));
        attempts++;
        assert_true(s == 401 || s == 429);
        streak = s == 429 ? streak + 1 : 0;
        if (s == 429 && first_429 < 0) {
            first_429 = i;
            assert_non_null(strcasestr(head, "\r\nRetry-After: "));
            assert_non_null(strcasestr(head, "\r\nRateLimit-Remaining: 0\r\n"));
            assert_non_null(strstr(head, "\"rate_limited\""));
        }
    }
    print_message("first 429 after %ld attempts; stopped after %ld\n", first_429, attempts);
    assert_true(first_429 >= 10 && first_429 <= 12); /* the burst of 10, a refill at most */
    assert_true(attempts < 200);
    /* the flooding address stays throttled ... */
    snprintf(body, sizeof(body), "{\"email\":\"bystander@example.org\",\"password\":\"x\"}");
    assert_int_equal(
        raw_post(gw_a->port, "127.0.0.3", "/api/v1/auth/login", body, head, sizeof(head)), 429);
    /* ... while other clients are served: another address signs in, a token works */
    snprintf(body, sizeof(body),
             "{\"email\":\"bystander@example.org\",\"password\":\"a long passphrase\"}");
    assert_int_equal(
        raw_post(gw_a->port, "127.0.0.4", "/api/v1/auth/login", body, head, sizeof(head)), 200);
    struct th_resp r;
    assert_int_equal(call(gw_a, "GET", "/api/v1/users/me", tok, NULL, &r), 200);
    th_resp_free(&r);
    /* operators see it */
    char url[128];
    snprintf(url, sizeof(url), "%s/metrics", gw_a->url);
    assert_int_equal(th_http("GET", url, NULL, NULL, &r), 0);
    assert_non_null(strstr(r.body, "gateway_rate_limited_total{class=\"auth\"}"));
    th_resp_free(&r);
    free(tok);
}

static void test_failed_sign_ins_slow_the_account_down(void **state)
{
    char *tok = user(gw_b1, "slow@example.org");
    free(tok);
    const char *wrong = "{\"email\":\"slow@example.org\",\"password\":\"not my password\"}";
    const char *right = "{\"email\":\"SLOW@example.org\",\"password\":\"a long passphrase\"}";
    struct th_resp r;
    long first_429 = -1, retry = 0;
    for (int i = 0; i < 12 && first_429 < 0; i++) {
        long s = call(gw_b1, "POST", "/api/v1/auth/login", NULL, wrong, &r);
        if (s == 429) {
            first_429 = i;
            assert_string_equal(json_string_value(json_object_get(r.json, "error")),
                                "rate_limited");
            assert_string_equal(
                json_string_value(json_object_get(json_object_get(r.json, "details"), "reason")),
                "login_failures");
            retry = header_long(&r, "Retry-After");
        } else {
            assert_int_equal(s, 401);
        }
        th_resp_free(&r);
    }
    /* five failures are free; the sixth makes the next attempt wait */
    assert_true(first_429 >= 6 && first_429 <= 8);
    assert_true(retry >= 1 && retry <= 4);
    nanosleep(&(struct timespec){retry, 200000000L}, NULL);
    assert_int_equal(call(gw_b1, "POST", "/api/v1/auth/login", NULL, right, &r), 200);
    th_resp_free(&r);
    /* a success forgets the account's failures: the next mistake is a plain 401 */
    assert_int_equal(call(gw_b1, "POST", "/api/v1/auth/login", NULL, wrong, &r), 401);
    th_resp_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_headers_and_retry_after),
        cmocka_unit_test(test_every_admitted_answer_has_headers),
        cmocka_unit_test(test_two_replicas_share_one_limit),
        cmocka_unit_test(test_sign_in_flood_per_address),
        cmocka_unit_test(test_failed_sign_ins_slow_the_account_down),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
