/* events: the xai-engine service's Kafka: requests on ibx.xai.requests, progress and
 * outcomes on ibx.xai.events, and the consumer the worker runs. */
#include "engine.h"

#include <ibx/clock.h>
#include <ibx/log.h>

#include <errno.h>
#include <string.h>

#define EVENTS_GROUP "xai-engine-workers"

int events_request(struct svc *s, const char *explanation_id, const char *user_id)
{
    char at[40];
    clock_iso8601(clock_wall_ms(), at, sizeof(at));
    json_t *v = json_pack("{s:s, s:s, s:s, s:s}", "type", XE_REQUESTED_EVENT, "explanation_id",
                          explanation_id, "user_id", user_id, "at", at);
    if (!v)
        return -ENOMEM;
    int rc = bus_publish(s->bus, BUS_TOPIC_XAI_REQUESTS, explanation_id, v);
    json_decref(v);
    if (rc)
        log_warn("publishing explanation %s failed (%s); the sweeper will publish it again",
                 explanation_id, strerror(-rc));
    return rc;
}

int events_news(struct svc *s, const char *key, json_t *value)
{
    int rc = bus_publish(s->bus, BUS_TOPIC_XAI_EVENTS, key, value);
    if (rc)
        log_warn("publishing %s for %s failed (%s)",
                 json_string_value(json_object_get(value, "type")), key, strerror(-rc));
    return rc;
}

int events_consume(struct svc *s, bus_handler_fn handler, void *ctx, struct bus_consumer **out)
{
    const char *topics[] = {BUS_TOPIC_XAI_REQUESTS};
    struct bus_consumer_opts o = {
        .brokers = s->cfg.kafka_brokers,
        .group_id = EVENTS_GROUP,
        .topics = topics,
        .topic_count = 1,
        .handler = handler,
        .ctx = ctx,
        .dlq = s->bus,
        .max_attempts = 3,
        /* an explanation may compute for long: the row's lease, not Kafka, decides whether
         * its worker is alive */
        .max_poll_interval_ms = 24 * 3600 * 1000,
    };
    int rc = bus_consumer_start(&o, out);
    if (rc)
        log_error("cannot start the %s consumer (%s)", EVENTS_GROUP, strerror(-rc));
    return rc;
}
