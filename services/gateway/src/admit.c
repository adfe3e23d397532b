/* admit: the gateway's admission hook (HTTP glue over limits.c, keys.c and quota.c): rate
 * limit classes and identities, RateLimit-* headers, API-key scopes, the LLM token quota,
 * and errors shaped for the route family (ours, OpenAI's under /v1, V2's under /v2). */
#include "gateway.h"

#include <ibx/clock.h>
#include <ibx/log.h>
#include <ibx/metrics.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

int admit_key_auth(struct svc *s, const char *secret, struct auth_claims *c, const char **why)
{
    struct gw_key k;
    int rc = keys_resolve(s, secret, &k, why);
    if (rc)
        return rc;
    memset(c, 0, sizeof(*c));
    snprintf(c->sub, sizeof(c->sub), "%s", k.user_id);
    snprintf(c->role, sizeof(c->role), "%s", k.role);
    snprintf(c->scopes, sizeof(c->scopes), "%s", k.scopes);
    snprintf(c->key_id, sizeof(c->key_id), "%s", k.id);
    snprintf(c->typ, sizeof(c->typ), "api_key");
    snprintf(c->iss, sizeof(c->iss), GW_ISS);
    snprintf(c->aud, sizeof(c->aud), GW_AUD);
    return 0;
}

static int admit_under(const char *path, const char *prefix)
{
    size_t n = strlen(prefix);
    return strncmp(path, prefix, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* An error in the shape the route family expects; Retry-After when retry_s > 0. details
 * is stolen. */
static void admit_fail(const struct http_req *req, struct http_resp *resp, int status,
                       const char *code, const char *message, json_t *details, long retry_s)
{
    if (retry_s > 0) {
        char v[24];
        snprintf(v, sizeof(v), "%ld", retry_s);
        http_resp_header(resp, "Retry-After", v);
    }
    if (admit_under(req->path, "/v1")) {
        const char *type = status != 429                         ? "permission_error"
                           : strcmp(code, "quota_exceeded") == 0 ? "insufficient_quota"
                                                                 : "rate_limit_exceeded";
        json_decref(details);
        http_resp_json(resp, status,
                       json_pack("{s:{s:s, s:s, s:n, s:s}}", "error", "message", message, "type",
                                 type, "param", "code", code));
    } else if (admit_under(req->path, "/v2")) {
        json_decref(details);
        http_resp_json(resp, status, json_pack("{s:s}", "error", message));
    } else {
        http_resp_error(resp, status, code, message, details);
    }
}

/* The bucket of this request and its limit: per address on public routes (the auth class
 * on /api/v1/auth/), per API key or user otherwise; a key's own requests_per_minute wins. */
static void admit_bucket(const struct gw *g, const struct http_req *req, const struct gw_key *key,
                         char *bucket, size_t n, long *per_min, long *burst)
{
    const struct gw_limits_config *c = &g->lim;
    int public_route = !req->authenticated || (req->route->flags & HTTP_PUBLIC);
    if (public_route && admit_under(req->path, "/api/v1/auth")) {
        *per_min = c->auth_per_min;
        *burst = c->auth_burst;
        snprintf(bucket, n, "auth:%ld:%ld:addr:%s", *per_min, *burst, req->client_ip);
        return;
    }
    *per_min = c->api_per_min;
    *burst = c->api_burst;
    if (public_route) {
        snprintf(bucket, n, "api:%ld:%ld:addr:%s", *per_min, *burst, req->client_ip);
    } else if (key) {
        if (key->requests_per_minute > 0) {
            *per_min = key->requests_per_minute;
            *burst = *per_min < c->api_burst ? *per_min : c->api_burst;
        }
        snprintf(bucket, n, "api:%ld:%ld:key:%s", *per_min, *burst, key->id);
    } else {
        snprintf(bucket, n, "api:%ld:%ld:user:%s", *per_min, *burst, req->claims.sub);
    }
}

/* v in decimal into out (24 bytes): on every request, so without printf. */
static const char *admit_decimal(long v, char out[24])
{
    char *p = out + 23;
    unsigned long u = v < 0 ? 0UL - (unsigned long)v : (unsigned long)v;
    *p = '\0';
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--p = '-';
    return p;
}

static void admit_headers(struct http_resp *resp, const struct limits_verdict *v)
{
    char a[24], b[24], c[24];
    http_resp_header(resp, "RateLimit-Limit", admit_decimal(v->limit, a));
    http_resp_header(resp, "RateLimit-Remaining", admit_decimal(v->remaining, b));
    http_resp_header(resp, "RateLimit-Reset", admit_decimal(v->reset_s, c));
}

/* A key may use this route: 0, or < 0 with resp set (403). */
static int admit_scope(const struct http_req *req, struct http_resp *resp)
{
    const char *need = keys_required_scope(req->method, req->path);
    if (!need) {
        admit_fail(req, resp, 403, "forbidden",
                   "API keys cannot manage keys, accounts or sessions; sign in to do this", NULL,
                   0);
        return -EACCES;
    }
    if (keys_has_scope(req->claims.scopes, need))
        return 0;
    char msg[128];
    snprintf(msg, sizeof(msg), "this API key lacks the scope %s", need);
    admit_fail(req, resp, 403, "insufficient_scope", msg,
               json_pack("{s:s, s:s}", "required_scope", need, "key_scopes", req->claims.scopes),
               0);
    return -EACCES;
}

/* LLM routes: the user's (and the key's) tokens for today. PostgreSQL trouble lets the
 * request through (logged): usage is settled from events later either way. */
static int admit_llm_quota(struct svc *s, const struct http_req *req, const struct gw_key *key,
                           struct http_resp *resp)
{
    struct gw_quota_use over;
    int rc = quota_check_llm(s, req->claims.sub, key ? key->id : NULL,
                             key ? key->tokens_per_day : 0, &over);
    if (rc == 0)
        return 0;
    if (rc != -EACCES) {
        log_warn("cannot check the LLM token quota (%s); admitting", strerror(-rc));
        return 0;
    }
    metrics_counter_add("gateway_quota_exceeded_total", "requests refused by a quota",
                        "quota=\"llm_tokens\"", 1);
    long long ms = 0;
    long retry = 1;
    if (keys_parse_time(over.resets_at, &ms) == 0)
        retry = (long)((ms - clock_wall_ms() + 999) / 1000);
    int of_key = key && strcmp(over.scope_id, key->id) == 0;
    char msg[160];
    snprintf(msg, sizeof(msg), "%s LLM token quota of %lld a day is used up",
             of_key ? "this API key's" : "your", over.limit);
    json_t *d = json_pack("{s:s, s:I, s:I, s:s}", "quota",
                          of_key ? "key_tokens_per_day" : "llm_tokens_per_day", "limit",
                          (json_int_t)over.limit, "used", (json_int_t)over.used, "resets_at",
                          over.resets_at);
    admit_fail(req, resp, 429, "quota_exceeded", msg, d, retry < 1 ? 1 : retry);
    return -EACCES;
}

int admit_request(void *app, struct http_req *req, struct http_resp *resp)
{
    struct svc *s = app;
    struct gw *g = s->app;
    struct gw_key key;
    const char *why = NULL;
    int is_key = req->authenticated && req->claims.key_id[0];
    const char *scope = keys_required_scope(req->method, req->path);
    int llm = req->authenticated && scope && strcmp(scope, "llm") == 0;
    /* on an event loop: what may ask PostgreSQL goes to a worker before anything is taken */
    if (!req->may_block && (is_key || llm))
        return HTTP_NEEDS_WORKER;
    /* the key was resolved a moment ago: this is a cache hit */
    if (is_key && keys_resolve(s, svc_bearer(req), &key, &why) != 0)
        is_key = 0;
    char bucket[160];
    long per_min = 0, burst = 0;
    admit_bucket(g, req, is_key ? &key : NULL, bucket, sizeof(bucket), &per_min, &burst);
    struct limits_verdict v;
    if (limits_check(g->limits, bucket, per_min, burst, req->may_block, &v) != 0)
        return HTTP_NEEDS_WORKER;
    admit_headers(resp, &v);
    if (!v.allowed) {
        metrics_counter_add("gateway_rate_limited_total", "requests refused by a rate limit",
                            strncmp(bucket, "auth:", 5) == 0 ? "class=\"auth\"" : "class=\"api\"",
                            1);
        char msg[128];
        snprintf(msg, sizeof(msg), "too many requests: the limit is %ld a minute", v.limit);
        admit_fail(req, resp, 429, "rate_limited", msg,
                   json_pack("{s:i, s:i, s:i}", "limit", (int)v.limit, "burst", (int)v.burst,
                             "retry_after_s", (int)v.retry_after_s),
                   v.retry_after_s);
        return -EAGAIN;
    }
    if (req->authenticated && req->claims.key_id[0] && admit_scope(req, resp) != 0)
        return -EACCES;
    if (llm)
        return admit_llm_quota(s, req, is_key ? &key : NULL, resp);
    return 0;
}

int admit_start(struct svc *s)
{
    struct gw *g = s->app;
    int rc = keys_start(s, g->lim.key_cache_s, &g->keys);
    if (rc == 0)
        rc = limits_start(s, &g->lim, &g->limits);
    if (rc == 0)
        rc = quota_start(s, &g->quota);
    if (rc)
        log_error("cannot start API keys, rate limits and quotas (%s)", strerror(-rc));
    return rc;
}

void admit_stop(struct svc *s)
{
    struct gw *g = s->app;
    if (!g)
        return;
    quota_stop(g->quota);
    g->quota = NULL;
    limits_stop(g->limits);
    g->limits = NULL;
    keys_stop(g->keys);
    g->keys = NULL;
}

int admit_login_allowed(struct svc *s, const struct http_req *req, const char *email,
                        struct http_resp *resp)
{
    long wait_s = 0;
    if (limits_login_allowed(s, email, req->client_ip, &wait_s) == 0)
        return 0;
    char v[24];
    snprintf(v, sizeof(v), "%ld", wait_s);
    http_resp_header(resp, "Retry-After", v);
    http_resp_error(
        resp, 429, "rate_limited",
        "too many failed sign-ins for this account or address; wait and retry",
        json_pack("{s:s, s:I}", "reason", "login_failures", "retry_after_s", (json_int_t)wait_s));
    return -EAGAIN;
}
