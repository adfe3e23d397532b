/* events: the gateway's Kafka messages (ibx.user.events). */
#include "gateway.h"

#include <ibx/clock.h>
#include <ibx/log.h>

#include <errno.h>
#include <string.h>

#define EVENTS_ACK_TIMEOUT_MS 10000

int events_user_deleted(struct svc *s, const char *user_id)
{
    char at[40];
    clock_iso8601(clock_wall_ms(), at, sizeof(at));
    json_t *v =
        json_pack("{s:s, s:s, s:s}", "type", SVC_EVENT_USER_DELETED, "user_id", user_id, "at", at);
    if (!v)
        return -ENOMEM;
    int rc = bus_publish_sync(s->bus, BUS_TOPIC_USER_EVENTS, user_id, v, EVENTS_ACK_TIMEOUT_MS);
    json_decref(v);
    if (rc)
        log_fields(LOG_LVL_ERROR, json_pack("{s:s}", "user_id", user_id),
                   "%s was not acknowledged by Kafka (%s)", SVC_EVENT_USER_DELETED, strerror(-rc));
    return rc;
}
