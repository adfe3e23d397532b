/* test_quota: quotas and usage at the gateway: usage events published to the dev broker
 * are settled once (by event key) into /quota and the /usage aggregates (checked against
 * hand-computed sums by day, model and key), malformed events do not hold later ones up,
 * and the LLM token quota (the user's and an API key's) refuses /v1 requests once used
 * up. */
#include "th_stack.h"

#include <ibx/bus.h>
#include <ibx/http.h>
#include <ibx/ids.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#define RUNS_PER_MONTH 3
#define TOKENS_PER_DAY 1000

static struct th_stack st;
static struct th_svc *gw;
static struct http_server *pipeline; /* a stand-in for ml-pipeline */
static struct bus *bus;

/* POST /api/v1/experiments: 201, or 422 when the body asks to fail. */
static void u_create(struct http_req *req, struct http_resp *resp)
{
    if (req->body.data && strstr(req->body.data, "\"fail\""))
        http_resp_error(resp, 422, "validation_failed", "refused by the pipeline", NULL);
    else
        http_resp_json(resp, 201, json_pack("{s:s}", "status", "pending"));
}

static const struct http_route up_routes[] = {
    {"POST", "/api/v1/experiments", u_create, 0, HTTP_PUBLIC, "create"},
};

static int setup(void **state)
{
    if (ids_init() != 0 || th_stack_start(&st) != 0)
        return -1;
    struct http_server_opts o = {.service = "pipeline",
                                 .bind_addr = "127.0.0.1",
                                 .routes = up_routes,
                                 .nroutes = sizeof(up_routes) / sizeof(up_routes[0])};
    if (http_server_start(&o, &pipeline) != 0)
        return -1;
    static char env[4][96];
    snprintf(env[0], sizeof(env[0]), "IBX_PIPELINE_URL=http://127.0.0.1:%u",
             (unsigned)http_server_port(pipeline));
    snprintf(env[1], sizeof(env[1]), "IBX_SERVING_URL=http://127.0.0.1:%d", th_free_port());
    snprintf(env[2], sizeof(env[2]), "IBX_QUOTA_RUNS_PER_MONTH=%d", RUNS_PER_MONTH);
    snprintf(env[3], sizeof(env[3]), "IBX_QUOTA_LLM_TOKENS_PER_DAY=%d", TOKENS_PER_DAY);
    const char *extra[] = {env[0], env[1], env[2], env[3], NULL};
    gw = th_service_start(&st, "gateway", extra);
    if (!gw)
        return -1;
    return bus_new(st.brokers, "test-quota", &bus);
}

static int teardown(void **state)
{
    bus_free(bus);
    int rc = th_stack_stop(&st);
    http_server_stop(pipeline, 1000);
    return rc == 0 ? 0 : -1;
}

static long call_rid(const char *method, const char *path, const char *token, const char *rid,
                     const char *body, struct th_resp *r)
{
    char url[512], auth[4096], rid_h[128];
    snprintf(url, sizeof(url), "%s%s", gw->url, path);
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token ? token : "");
    snprintf(rid_h, sizeof(rid_h), "X-Request-Id: %s", rid ? rid : "");
    const char *hdrs[4] = {"Content-Type: application/json", token ? auth : NULL, NULL, NULL};
    if (rid)
        hdrs[token ? 2 : 1] = rid_h;
    assert_int_equal(th_http(method, url, hdrs, body, r), 0);
    return r->status;
}

static long call(const char *method, const char *path, const char *token, const char *body,
                 struct th_resp *r)
{
    return call_rid(method, path, token, NULL, body, r);
}

/* Register; the access token (caller frees) and the user id. */
static char *user(const char *email, char id[64])
{
    char body[256];
    snprintf(body, sizeof(body), "{\"email\":\"%s\",\"password\":\"a long passphrase\"}", email);
    struct th_resp r;
    assert_int_equal(call("POST", "/api/v1/auth/register", NULL, body, &r), 201);
    char *t = strdup(json_string_value(json_object_get(r.json, "access_token")));
    snprintf(id, 64, "%s",
             json_string_value(json_object_get(json_object_get(r.json, "user"), "id")));
    th_resp_free(&r);
    return t;
}

static void publish(json_t *event)
{
    assert_int_equal(bus_publish_sync(bus, BUS_TOPIC_USAGE, NULL, event, 10000), 0);
    json_decref(event);
}

static json_t *llm_event(const char *rid, const char *user_id, const char *key_id,
                         const char *model, long prompt, long completion, const char *at)
{
    json_t *e = json_pack("{s:s, s:s, s:s, s:s, s:i, s:i}", "type", "usage", "request_id", rid,
                          "user_id", user_id, "kind", "llm", "prompt_tokens", (int)prompt,
                          "completion_tokens", (int)completion);
    json_object_set_new(e, "key_id", key_id ? json_string(key_id) : json_null());
    json_object_set_new(e, "model", model ? json_string(model) : json_null());
    if (at)
        json_object_set_new(e, "at", json_string(at));
    return e;
}

static json_t *run_event(const char *rid, const char *user_id)
{
    return json_pack("{s:s, s:s, s:s, s:s}", "type", "usage", "request_id", rid, "user_id", user_id,
                     "kind", "pipeline_run");
}

/* /quota's field of section (pipeline_runs or llm_tokens). */
static long long quota_field(const char *token, const char *section, const char *field)
{
    struct th_resp r;
    assert_int_equal(call("GET", "/api/v1/quota", token, NULL, &r), 200);
    long long v = json_integer_value(json_object_get(json_object_get(r.json, section), field));
    th_resp_free(&r);
    return v;
}

/* Poll /quota (bounded) until section.field reaches want. */
static void wait_quota(const char *token, const char *section, const char *field, long long want)
{
    long long v = -1;
    for (int i = 0; i < 300 && v != want; i++) {
        v = quota_field(token, section, field);
        if (v != want)
            nanosleep(&(struct timespec){0, 50000000L}, NULL);
    }
    if (v != want)
        fail_msg("%s.%s is %lld, expected %lld", section, field, v, want);
}

static void day_text(long offset_days, char *date, size_t n, char *iso, size_t m)
{
    time_t t = time(NULL) + offset_days * 86400;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(date, n, "%Y-%m-%d", &tm);
    if (iso)
        strftime(iso, m, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static char *new_key(const char *token, const char *body, char id[64])
{
    struct th_resp r;
    assert_int_equal(call("POST", "/api/v1/api-keys", token, body, &r), 201);
    char *secret = strdup(json_string_value(json_object_get(r.json, "key")));
    snprintf(id, 64, "%s", json_string_value(json_object_get(r.json, "id")));
    th_resp_free(&r);
    return secret;
}

/* One /usage item: group value (NULL for null) and its sums. */
struct agg {
    const char *group;
    long long events, prompt, completion, runs;
};

static void check_usage(const char *token, const char *query, const char *field,
                        const struct agg *want, size_t n)
{
    struct th_resp r;
    char path[256];
    snprintf(path, sizeof(path), "/api/v1/usage?%s", query);
    assert_int_equal(call("GET", path, token, NULL, &r), 200);
    json_t *items = json_object_get(r.json, "items");
    if (json_array_size(items) != n)
        fail_msg("%s: %s", query, r.body);
    long long tot[4] = {0, 0, 0, 0};
    for (size_t i = 0; i < n; i++) {
        json_t *it = json_array_get(items, i);
        json_t *g = json_object_get(it, field);
        if (want[i].group)
            assert_string_equal(json_string_value(g), want[i].group);
        else
            assert_true(json_is_null(g));
        assert_int_equal(json_integer_value(json_object_get(it, "events")), want[i].events);
        assert_int_equal(json_integer_value(json_object_get(it, "prompt_tokens")), want[i].prompt);
        assert_int_equal(json_integer_value(json_object_get(it, "completion_tokens")),
                         want[i].completion);
        assert_int_equal(json_integer_value(json_object_get(it, "total_tokens")),
                         want[i].prompt + want[i].completion);
        assert_int_equal(json_integer_value(json_object_get(it, "pipeline_runs")), want[i].runs);
        tot[0] += want[i].events;
        tot[1] += want[i].prompt;
        tot[2] += want[i].completion;
        tot[3] += want[i].runs;
    }
    json_t *t = json_object_get(r.json, "totals");
    assert_int_equal(json_integer_value(json_object_get(t, "events")), tot[0]);
    assert_int_equal(json_integer_value(json_object_get(t, "prompt_tokens")), tot[1]);
    assert_int_equal(json_integer_value(json_object_get(t, "completion_tokens")), tot[2]);
    assert_int_equal(json_integer_value(json_object_get(t, "pipeline_runs")), tot[3]);
    th_resp_free(&r);
}

static void test_settlement_quota_and_usage(void **state)
{
    char uid[64], kid[64];
    char *tok = user("usage@example.org", uid);
    char *key = new_key(tok, "{\"name\":\"k\",\"scopes\":[\"llm\"]}", kid);
    free(key);
    char today[16], yday[16], yday_iso[32];
    day_text(0, today, sizeof(today), NULL, 0);
    day_text(-1, yday, sizeof(yday), yday_iso, sizeof(yday_iso));
    json_t *e1 = llm_event("r1", uid, kid, "gpt-a", 100, 50, NULL);
    publish(json_deep_copy(e1));
    publish(llm_event("r2", uid, NULL, "gpt-b", 10, 5, NULL));
    publish(llm_event("r3", uid, kid, "gpt-a", 200, 100, yday_iso));
    publish(run_event("r4", uid));
    publish(run_event("r5", uid));
    publish(e1); /* delivered twice: settled once */
    json_t *e6 = llm_event("r1", uid, NULL, "gpt-b", 1, 1, NULL);
    json_object_set_new(e6, "event_id", json_string("ev-6")); /* its own event, same request */
    publish(e6);
    /* today: 150 + 15 + 2 tokens (r3 was yesterday), 2 runs this month */
    wait_quota(tok, "llm_tokens", "used", 167);
    wait_quota(tok, "pipeline_runs", "used", 2);
    assert_int_equal(quota_field(tok, "llm_tokens", "limit"), TOKENS_PER_DAY);
    assert_int_equal(quota_field(tok, "llm_tokens", "remaining"), TOKENS_PER_DAY - 167);
    assert_int_equal(quota_field(tok, "pipeline_runs", "limit"), RUNS_PER_MONTH);
    assert_int_equal(quota_field(tok, "pipeline_runs", "remaining"), RUNS_PER_MONTH - 2);
    struct th_resp r;
    assert_int_equal(call("GET", "/api/v1/quota", tok, NULL, &r), 200);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(r.json, "llm_tokens"), "period")), "day");
    const char *resets =
        json_string_value(json_object_get(json_object_get(r.json, "pipeline_runs"), "resets_at"));
    assert_true(resets && strlen(resets) == 20 && strncmp(resets + 8, "01T00:00:00Z", 12) == 0);
    assert_int_equal(json_integer_value(json_object_get(
                         json_object_get(r.json, "concurrent_experiments"), "limit")),
                     5);
    th_resp_free(&r);

    char q[160];
    snprintf(q, sizeof(q), "from=%s&to=%s&group_by=day", yday, today);
    const struct agg by_day[] = {{yday, 1, 200, 100, 0}, {today, 5, 111, 56, 2}};
    check_usage(tok, q, "day", by_day, 2);
    snprintf(q, sizeof(q), "from=%s&to=%s&group_by=model", yday, today);
    const struct agg by_model[] = {
        {NULL, 2, 0, 0, 2}, {"gpt-a", 2, 300, 150, 0}, {"gpt-b", 2, 11, 6, 0}};
    check_usage(tok, q, "model", by_model, 3);
    snprintf(q, sizeof(q), "from=%s&to=%s&group_by=key", yday, today);
    const struct agg by_key[] = {{NULL, 4, 11, 6, 2}, {kid, 2, 300, 150, 0}};
    check_usage(tok, q, "key_id", by_key, 2);
    snprintf(q, sizeof(q), "from=%s&to=%s", today, today);
    check_usage(tok, q, "day", by_day + 1, 1);
    check_usage(tok, "group_by=day", "day", by_day, 2); /* the last 30 days by default */
    /* another user sees none of it */
    char other_id[64];
    char *other = user("other-usage@example.org", other_id);
    check_usage(other, "group_by=day", "day", NULL, 0);
    free(other);
    free(tok);
}

static void test_usage_query_validation(void **state)
{
    char uid[64];
    char *tok = user("badquery@example.org", uid);
    static const char *const bad[] = {
        "group_by=week",
        "group_by=",
        "from=2026-13-01",
        "from=2026-02-30",
        "to=yesterday",
        "from=2026-01-02&to=2026-01-01",
        "from=2024-01-01&to=2026-01-01",
        "from=20260101",
        "from=2026-1-01",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct th_resp r;
        char path[160];
        snprintf(path, sizeof(path), "/api/v1/usage?%s", bad[i]);
        long s = call("GET", path, tok, NULL, &r);
        if (s != 400)
            fail_msg("%s: %ld %s", bad[i], s, r.body);
        assert_string_equal(json_string_value(json_object_get(r.json, "error")), "invalid_query");
        th_resp_free(&r);
    }
    free(tok);
}

static void test_bad_events_do_not_block(void **state)
{
    char uid[64];
    char *tok = user("robust@example.org", uid);
    publish(json_pack("{s:s, s:s, s:s, s:s}", "type", "usage", "kind", "llm", "user_id",
                      "not-a-uuid", "request_id", "bad-1"));
    publish(json_pack("{s:s, s:s}", "type", "something.else", "user_id", uid));
    publish(llm_event("ghost", "3f2504e0-4f89-41d3-9a0c-0305e82c3301", NULL, "m", 5, 5, NULL));
    publish(llm_event("good-1", uid, NULL, "m", 7, 3, NULL));
    wait_quota(tok, "llm_tokens", "used", 10);
    free(tok);
}

static long v1_chat(const char *token, struct th_resp *r)
{
    return call("POST", "/v1/chat/completions", token,
                "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", r);
}

/* Poll (bounded) until /v1/chat/completions is refused for its quota. */
static void wait_llm_refused(const char *token, struct th_resp *r)
{
    for (int i = 0; i < 300; i++) {
        if (v1_chat(token, r) == 429)
            return;
        th_resp_free(r);
        nanosleep(&(struct timespec){0, 50000000L}, NULL);
    }
    fail_msg("the LLM quota was never enforced");
}

static void test_llm_token_quota(void **state)
{
    char uid[64], kid[64];
    char *tok = user("llm@example.org", uid);
    char *key = new_key(
        tok, "{\"name\":\"k\",\"scopes\":[\"llm\"],\"limits\":{\"tokens_per_day\":100}}", kid);
    struct th_resp r;
    /* admitted (the LLM service is not there: a gateway error, not a quota refusal) */
    long s = v1_chat(key, &r);
    assert_true(s != 429 && s != 403 && s != 401);
    th_resp_free(&r);
    /* the key's own daily tokens run out first */
    publish(llm_event("k-1", uid, kid, "m", 120, 30, NULL));
    wait_llm_refused(key, &r);
    json_t *e = json_object_get(r.json, "error");
    assert_string_equal(json_string_value(json_object_get(e, "code")), "quota_exceeded");
    assert_string_equal(json_string_value(json_object_get(e, "type")), "insufficient_quota");
    assert_non_null(strstr(json_string_value(json_object_get(e, "message")), "API key"));
    char v[32];
    assert_int_equal(th_resp_header(&r, "Retry-After", v, sizeof(v)), 0);
    assert_true(strtol(v, NULL, 10) >= 1 && strtol(v, NULL, 10) <= 86400);
    th_resp_free(&r);
    /* the user's own token still has tokens today */
    s = v1_chat(tok, &r);
    assert_true(s != 429);
    th_resp_free(&r);
    /* then the user's */
    publish(llm_event("u-1", uid, NULL, "m", 800, 100, NULL));
    wait_llm_refused(tok, &r);
    assert_non_null(strstr(
        json_string_value(json_object_get(json_object_get(r.json, "error"), "message")), "your"));
    th_resp_free(&r);
    assert_int_equal(quota_field(tok, "llm_tokens", "remaining"), 0);
    free(key);
    free(tok);
}

static void test_pipeline_runs_reserved_and_settled(void **state)
{
    char uid[64];
    char *tok = user("runs@example.org", uid);
    struct th_resp r;
    assert_int_equal(call_rid("POST", "/api/v1/experiments", tok, "run-1", "{}", &r), 201);
    th_resp_free(&r);
    assert_int_equal(quota_field(tok, "pipeline_runs", "reserved"), 1);
    /* refused upstream: the reservation goes back */
    assert_int_equal(call_rid("POST", "/api/v1/experiments", tok, "run-x", "{\"fail\":1}", &r),
                     422);
    th_resp_free(&r);
    assert_int_equal(quota_field(tok, "pipeline_runs", "reserved"), 1);
    assert_int_equal(call_rid("POST", "/api/v1/experiments", tok, "run-2", "{}", &r), 201);
    th_resp_free(&r);
    assert_int_equal(call_rid("POST", "/api/v1/experiments", tok, "run-3", "{}", &r), 201);
    th_resp_free(&r);
    /* the month's runs are all reserved: the fourth is refused before the pipeline sees it */
    assert_int_equal(call_rid("POST", "/api/v1/experiments", tok, "run-4", "{}", &r), 429);
    assert_string_equal(json_string_value(json_object_get(r.json, "error")), "quota_exceeded");
    json_t *d = json_object_get(r.json, "details");
    assert_int_equal(json_integer_value(json_object_get(d, "limit")), RUNS_PER_MONTH);
    assert_int_equal(json_integer_value(json_object_get(d, "used")), 0);
    assert_int_equal(json_integer_value(json_object_get(d, "reserved")), RUNS_PER_MONTH);
    assert_non_null(json_string_value(json_object_get(d, "resets_at")));
    char v[32];
    assert_int_equal(th_resp_header(&r, "Retry-After", v, sizeof(v)), 0);
    th_resp_free(&r);
    /* the pipeline's usage events settle the reservations, once each */
    publish(run_event("run-1", uid));
    publish(run_event("run-2", uid));
    publish(run_event("run-1", uid));
    wait_quota(tok, "pipeline_runs", "used", 2);
    assert_int_equal(quota_field(tok, "pipeline_runs", "reserved"), 1);
    assert_int_equal(quota_field(tok, "pipeline_runs", "remaining"), 0);
    assert_int_equal(call_rid("POST", "/api/v1/experiments", tok, "run-5", "{}", &r), 429);
    th_resp_free(&r);
    free(tok);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pipeline_runs_reserved_and_settled),
        cmocka_unit_test(test_settlement_quota_and_usage),
        cmocka_unit_test(test_usage_query_validation),
        cmocka_unit_test(test_bad_events_do_not_block),
        cmocka_unit_test(test_llm_token_quota),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
