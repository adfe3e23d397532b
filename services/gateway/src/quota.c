/* quota: per-user quotas (pipeline runs a month, LLM tokens a day, concurrent experiments
 * reported for ml-pipeline), reservations at admission and their settlement from ibx.usage
 * events (consumer group gateway-usage, idempotent through the usage ledger). */
#include "gateway.h"

#include <ibx/clock.h>
#include <ibx/ids.h>
#include <ibx/log.h>
#include <ibx/metrics.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define QUOTA_GROUP      "gateway-usage"
#define QUOTA_MAX_TOKENS 1000000000LL /* per event and field */

struct quota {
    struct bus_consumer *consumer;
};

/* A string member of at most max bytes: 0 and *out (borrowed; NULL when absent, null or
 * ""), or -EINVAL when it is of another type or too long. */
static int quota_opt_str(const json_t *o, const char *name, size_t max, const char **out)
{
    const json_t *v = json_object_get(o, name);
    *out = NULL;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v) || json_string_length(v) > max)
        return -EINVAL;
    *out = json_string_length(v) ? json_string_value(v) : NULL;
    return 0;
}

static int quota_opt_tokens(const json_t *o, const char *name, long long *out)
{
    const json_t *v = json_object_get(o, name);
    *out = 0;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < 0 ||
        json_integer_value(v) > QUOTA_MAX_TOKENS)
        return -EINVAL;
    *out = (long long)json_integer_value(v);
    return 0;
}

/* The usage message as an event; -EINVAL when it is malformed. */
static int quota_event_parse(const json_t *m, struct gw_usage_event *e)
{
    const char *rid, *user, *key, *model, *kind, *at, *event_id;
    memset(e, 0, sizeof(*e));
    if (quota_opt_str(m, "request_id", 72, &rid) || quota_opt_str(m, "user_id", 36, &user) ||
        quota_opt_str(m, "key_id", 36, &key) || quota_opt_str(m, "model", 127, &model) ||
        quota_opt_str(m, "kind", 15, &kind) || quota_opt_str(m, "at", 40, &at) ||
        quota_opt_str(m, "event_id", 100, &event_id) ||
        quota_opt_tokens(m, "prompt_tokens", &e->prompt_tokens) ||
        quota_opt_tokens(m, "completion_tokens", &e->completion_tokens))
        return -EINVAL;
    if (!rid || !user || !ids_is_uuid(user) || (key && !ids_is_uuid(key)) || !kind ||
        (strcmp(kind, "llm") != 0 && strcmp(kind, "pipeline_run") != 0))
        return -EINVAL;
    if (at && keys_parse_time(at, &e->at_ms) != 0)
        return -EINVAL;
    snprintf(e->request_id, sizeof(e->request_id), "%s", rid);
    snprintf(e->user_id, sizeof(e->user_id), "%s", user);
    snprintf(e->key_id, sizeof(e->key_id), "%s", key ? key : "");
    snprintf(e->model, sizeof(e->model), "%s", model ? model : "");
    snprintf(e->kind, sizeof(e->kind), "%s", kind);
    if (event_id)
        snprintf(e->event_key, sizeof(e->event_key), "id:%s", event_id);
    else
        snprintf(e->event_key, sizeof(e->event_key), "%s:%s", kind, rid);
    return 0;
}

/* Consumer handler: settle one ibx.usage message (other message types are skipped). */
static int quota_on_usage(void *ctx, const struct bus_msg *msg)
{
    struct svc *s = ctx;
    const char *type = json_string_value(json_object_get(msg->value, "type"));
    if (!json_is_object(msg->value) || !type || strcmp(type, "usage") != 0)
        return 0;
    struct gw_usage_event e;
    if (quota_event_parse(msg->value, &e) != 0) {
        log_warn("malformed usage event at %s/%d/%lld", msg->topic, (int)msg->partition,
                 (long long)msg->offset);
        return -EINVAL; /* retried, then sent to ibx.dlq */
    }
    int applied = 0;
    int rc = store_usage_settle(s, &e, &applied);
    if (rc == -ENOENT) {
        log_info("usage event for an account that no longer exists skipped");
        return 0;
    }
    if (rc)
        return rc;
    metrics_counter_add("gateway_usage_events_total", "usage events consumed from ibx.usage",
                        applied ? "result=\"settled\"" : "result=\"duplicate\"", 1);
    log_fields(
        LOG_LVL_DEBUG,
        json_pack("{s:s, s:s, s:b}", "event_key", e.event_key, "kind", e.kind, "applied", applied),
        "usage event settled");
    return 0;
}

int quota_start(struct svc *s, struct quota **out)
{
    struct quota *q = calloc(1, sizeof(*q));
    if (!q)
        return -ENOMEM;
    static const char *const topics[] = {BUS_TOPIC_USAGE};
    struct bus_consumer_opts o = {
        .brokers = s->cfg.kafka_brokers,
        .group_id = QUOTA_GROUP,
        .topics = topics,
        .topic_count = 1,
        .handler = quota_on_usage,
        .ctx = s,
        .dlq = s->bus,
    };
    int rc = bus_consumer_start(&o, &q->consumer);
    if (rc) {
        free(q);
        return rc;
    }
    *out = q;
    return 0;
}

void quota_stop(struct quota *q)
{
    if (!q)
        return;
    bus_consumer_stop(q->consumer);
    free(q);
}

/* Seconds from now until an ISO-8601 UTC time (at least 1). */
static long quota_seconds_until(const char *iso)
{
    long long ms = 0;
    if (keys_parse_time(iso, &ms) != 0)
        return 1;
    long long s = (ms - clock_wall_ms() + 999) / 1000;
    return s < 1 ? 1 : (long)s;
}

/* 429 quota_exceeded with {quota, limit, used, reserved, resets_at} and Retry-After. */
static json_t *quota_details(const char *name, const struct gw_quota_use *u)
{
    return json_pack("{s:s, s:I, s:I, s:I, s:s}", "quota", name, "limit", (json_int_t)u->limit,
                     "used", (json_int_t)u->used, "reserved", (json_int_t)u->reserved, "resets_at",
                     u->resets_at);
}

int quota_reserve_run(struct svc *s, const struct http_req *req, struct http_resp *resp,
                      char reservation_id[37])
{
    struct gw *g = s->app;
    struct gw_quota_use use;
    int rc = store_quota_reserve(s, req->claims.sub, "pipeline_run", g->lim.runs_per_month, 1,
                                 g->lim.quota_hold_s, req->request_id, reservation_id, &use);
    if (rc == -EACCES) {
        metrics_counter_add("gateway_quota_exceeded_total", "requests refused by a quota",
                            "quota=\"pipeline_runs\"", 1);
        char msg[160], retry[24];
        snprintf(msg, sizeof(msg), "you have used your %lld pipeline runs for this month",
                 use.limit);
        snprintf(retry, sizeof(retry), "%ld", quota_seconds_until(use.resets_at));
        http_resp_header(resp, "Retry-After", retry);
        http_resp_error(resp, 429, "quota_exceeded", msg,
                        quota_details("pipeline_runs_per_month", &use));
    } else if (rc == -ENOENT) {
        http_resp_error(resp, 401, "unauthorized", "this account no longer exists", NULL);
    } else if (rc) {
        http_resp_errno(resp, rc == -EINVAL ? -EIO : rc, "quotas cannot be checked right now");
    }
    return rc;
}

void quota_release(struct svc *s, const char *reservation_id)
{
    int rc = store_quota_release(s, reservation_id);
    if (rc)
        log_warn("could not release quota reservation %s (%s); it expires on its own",
                 reservation_id, strerror(-rc));
}

/* -EACCES with *over when scope_id has used limit tokens today. */
static int quota_tokens_left(struct svc *s, const char *scope_id, long long limit,
                             struct gw_quota_use *over)
{
    struct gw_quota_use u;
    int rc = store_quota_use(s, scope_id, "llm_tokens", &u);
    if (rc)
        return rc;
    if (u.used + u.reserved < limit)
        return 0;
    u.limit = limit;
    snprintf(u.scope_id, sizeof(u.scope_id), "%s", scope_id);
    *over = u;
    return -EACCES;
}

int quota_check_llm(struct svc *s, const char *user_id, const char *key_id,
                    long long key_tokens_per_day, struct gw_quota_use *over)
{
    struct gw *g = s->app;
    int rc = quota_tokens_left(s, user_id, g->lim.llm_tokens_per_day, over);
    if (rc == 0 && key_id && key_id[0] && key_tokens_per_day > 0)
        rc = quota_tokens_left(s, key_id, key_tokens_per_day, over);
    return rc;
}

static json_t *quota_use_json(const char *period, const struct gw_quota_use *u)
{
    long long left = u->limit - u->used - u->reserved;
    return json_pack("{s:s, s:I, s:I, s:I, s:I, s:s, s:s}", "period", period, "limit",
                     (json_int_t)u->limit, "used", (json_int_t)u->used, "reserved",
                     (json_int_t)u->reserved, "remaining", (json_int_t)(left > 0 ? left : 0),
                     "period_start", u->period_start, "resets_at", u->resets_at);
}

int quota_status_json(struct svc *s, const char *user_id, json_t **out)
{
    struct gw *g = s->app;
    struct gw_quota_use runs, tokens;
    int rc = store_quota_sweep(s);
    if (rc)
        log_warn("could not release expired quota reservations (%s)", strerror(-rc));
    rc = store_quota_use(s, user_id, "pipeline_run", &runs);
    if (rc == 0)
        rc = store_quota_use(s, user_id, "llm_tokens", &tokens);
    if (rc)
        return rc;
    runs.limit = g->lim.runs_per_month;
    tokens.limit = g->lim.llm_tokens_per_day;
    json_t *o =
        json_pack("{s:o, s:o, s:{s:I, s:s}}", "pipeline_runs", quota_use_json("month", &runs),
                  "llm_tokens", quota_use_json("day", &tokens), "concurrent_experiments", "limit",
                  (json_int_t)g->lim.concurrent_experiments, "enforced_by", "ml-pipeline");
    if (!o)
        return -ENOMEM;
    *out = o;
    return 0;
}

int quota_parse_date(const char *s, long *days)
{
    int v[3] = {0, 0, 0};
    static const int width[3] = {4, 2, 2};
    const char *p = s;
    for (int f = 0; f < 3; f++) {
        for (int i = 0; i < width[f]; i++, p++) {
            if (*p < '0' || *p > '9')
                return -EINVAL;
            v[f] = v[f] * 10 + (*p - '0');
        }
        if (*p != (f < 2 ? '-' : '\0'))
            return -EINVAL;
        p++;
    }
    struct tm tm = {.tm_year = v[0] - 1900, .tm_mon = v[1] - 1, .tm_mday = v[2]};
    time_t t = timegm(&tm);
    if (v[0] < 1970 || tm.tm_year != v[0] - 1900 || tm.tm_mon != v[1] - 1 || tm.tm_mday != v[2])
        return -EINVAL;
    *days = (long)(t / 86400);
    return 0;
}

static void quota_day_text(long days, char out[16])
{
    time_t t = (time_t)days * 86400;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 16, "%Y-%m-%d", &tm);
}

int quota_usage_json(struct svc *s, const char *user_id, long from_days, long to_days,
                     enum gw_usage_group g, json_t **out)
{
    static const char *const group_name[] = {"day", "model", "key"};
    static const char *const group_field[] = {"day", "model", "key_id"};
    struct gw_usage_row *rows = NULL;
    size_t n = 0;
    int rc = store_usage_aggregate(s, user_id, from_days, to_days, g, &rows, &n);
    if (rc)
        return rc;
    json_t *items = json_array();
    long long tot[4] = {0, 0, 0, 0};
    for (size_t i = 0; i < n; i++) {
        const struct gw_usage_row *r = &rows[i];
        json_array_append_new(
            items, json_pack("{s:o, s:I, s:I, s:I, s:I, s:I}", group_field[g],
                             r->group[0] ? json_string(r->group) : json_null(), "events",
                             (json_int_t)r->events, "prompt_tokens", (json_int_t)r->prompt_tokens,
                             "completion_tokens", (json_int_t)r->completion_tokens, "total_tokens",
                             (json_int_t)(r->prompt_tokens + r->completion_tokens), "pipeline_runs",
                             (json_int_t)r->runs));
        tot[0] += r->events;
        tot[1] += r->prompt_tokens;
        tot[2] += r->completion_tokens;
        tot[3] += r->runs;
    }
    free(rows);
    char from[16], to[16];
    quota_day_text(from_days, from);
    quota_day_text(to_days, to);
    json_t *o = json_pack("{s:s, s:s, s:s, s:o, s:{s:I, s:I, s:I, s:I, s:I}}", "from", from, "to",
                          to, "group_by", group_name[g], "items", items, "totals", "events",
                          (json_int_t)tot[0], "prompt_tokens", (json_int_t)tot[1],
                          "completion_tokens", (json_int_t)tot[2], "total_tokens",
                          (json_int_t)(tot[1] + tot[2]), "pipeline_runs", (json_int_t)tot[3]);
    if (!o)
        return -ENOMEM;
    *out = o;
    return 0;
}

#define QUOTA_MAX_RANGE_DAYS 366

const char *quota_range_problem(const char *from, const char *to, long *from_days, long *to_days)
{
    long f = 0, t = (long)(clock_wall_ms() / 86400000);
    if (to && quota_parse_date(to, &t) != 0)
        return "must be dates as YYYY-MM-DD";
    f = t - 29;
    if (from && quota_parse_date(from, &f) != 0)
        return "must be dates as YYYY-MM-DD";
    if (f > t)
        return "must not have from after to";
    if (t - f >= QUOTA_MAX_RANGE_DAYS)
        return "must span at most 366 days";
    *from_days = f;
    *to_days = t;
    return NULL;
}
