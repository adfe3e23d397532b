/* events: the ml-pipeline service's Kafka: run requests on ibx.pipeline.requests, progress
 * and outcomes on ibx.pipeline.events, and the consumer the worker runs. */
#include "pipeline.h"

#include <ibx/clock.h>
#include <ibx/ids.h>
#include <ibx/log.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

int events_request(struct svc *s, const char *experiment_id, const char *user_id)
{
    char at[40];
    clock_iso8601(clock_wall_ms(), at, sizeof(at));
    json_t *v = json_pack("{s:s, s:s, s:s, s:s}", "type", PL_REQUESTED_EVENT, "experiment_id",
                          experiment_id, "user_id", user_id, "at", at);
    if (!v)
        return -ENOMEM;
    int rc = bus_publish(s->bus, BUS_TOPIC_PIPELINE_REQUESTS, experiment_id, v);
    json_decref(v);
    if (rc)
        log_warn("publishing run %s failed (%s); the sweeper will publish it again", experiment_id,
                 strerror(-rc));
    return rc;
}

int events_news(struct svc *s, const char *key, json_t *value)
{
    int rc = bus_publish(s->bus, BUS_TOPIC_PIPELINE_EVENTS, key, value);
    if (rc)
        log_warn("publishing %s for %s failed (%s)",
                 json_string_value(json_object_get(value, "type")), key, strerror(-rc));
    return rc;
}

int events_consume(struct svc *s, const char *group, const char *topic, bus_handler_fn handler,
                   void *ctx, struct bus_consumer **out)
{
    const char *topics[] = {topic};
    struct bus_consumer_opts o = {
        .brokers = s->cfg.kafka_brokers,
        .group_id = group,
        .topics = topics,
        .topic_count = 1,
        .handler = handler,
        .ctx = ctx,
        .dlq = s->bus,
        .max_attempts = 3,
        /* a handler trains a model: allow long runs before the group evicts us (the row's
         * lease, not Kafka, decides whether a run's worker is alive) */
        .max_poll_interval_ms = 24 * 3600 * 1000,
    };
    int rc = bus_consumer_start(&o, out);
    if (rc)
        log_error("cannot start the %s consumer on %s (%s)", group, topic, strerror(-rc));
    return rc;
}

int events_usage(struct svc *s, const char *request_id, const char *user_id, const char *key_id,
                 const char *experiment_id, const char *algorithm)
{
    char at[40], event_id[64];
    clock_iso8601(clock_wall_ms(), at, sizeof(at));
    snprintf(event_id, sizeof(event_id), "pipeline_run:%s", experiment_id);
    json_t *v = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "type", "usage", "kind",
                          "pipeline_run", "request_id", request_id, "user_id", user_id, "event_id",
                          event_id, "model", algorithm, "at", at);
    if (!v)
        return -ENOMEM;
    if (key_id && ids_is_uuid(key_id))
        json_object_set_new(v, "key_id", json_string(key_id));
    int rc = bus_publish(s->bus, BUS_TOPIC_USAGE, user_id, v);
    json_decref(v);
    if (rc)
        log_warn("the usage event of run %s was not published (%s); its quota reservation "
                 "expires on its own",
                 experiment_id, strerror(-rc));
    return rc;
}
