/* bus: the suite's Kafka layer (librdkafka): an idempotent JSON producer and a
 * consumer-group runner with commit-after-success, bounded retries and a dead-letter topic.
 *
 * Producer. A struct bus owns one librdkafka producer handle and one thread that serves
 * its delivery reports. It is safe to publish from many threads at once. Values are JSON,
 * serialised compactly; the calling thread's log request id (log_request_id()) travels in
 * the message header "request_id". Delivery is at least once: the producer is idempotent
 * (enable.idempotence=true), so librdkafka's own retries never duplicate or reorder. A
 * message the cluster has not acknowledged within 30 s (message.timeout.ms) fails.
 * librdkafka's log lines and errors are written through ibx/log.h. A fatal producer error
 * (idempotence can no longer be guaranteed) is logged once; from then on publishing fails
 * with -EIO and bus_ping() reports -EIO, so readiness fails and the process gets replaced.
 *
 * Consumer. bus_consumer_start() joins a consumer group and runs the handler on its own
 * thread, one message at a time. An offset is committed (synchronously) only after the
 * handler returned 0 for that message. A handler that returns < 0 sees the same message
 * again after a short backoff, up to max_attempts times; then the message goes to the
 * dead-letter topic ibx.dlq (through the producer given in the options) and is committed.
 * A value that is not JSON goes to ibx.dlq at once. Handlers must be idempotent: after a
 * crash or a rebalance a message can be handled again.
 *
 * Dead-letter value (JSON object): {"topic","partition","offset","key" (string or null),
 * "value" (the parsed value, or null), "raw" (the original bytes as a string, only when
 * the value was not JSON and the bytes are UTF-8), "reason" ("handler_failed" or
 * "invalid_json"), "error" (the handler's last negative errno, or -EINVAL), "attempts",
 * "request_id", "failed_at" (ISO-8601)}. Key and request_id header are kept. */
#ifndef IBX_BUS_H
#define IBX_BUS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define BUS_WUR __attribute__((warn_unused_result))

/* The suite's topics (see ARCHITECTURE.md). */
#define BUS_TOPIC_DATASET_EVENTS    "ibx.dataset.events"
#define BUS_TOPIC_PIPELINE_REQUESTS "ibx.pipeline.requests"
#define BUS_TOPIC_PIPELINE_EVENTS   "ibx.pipeline.events"
#define BUS_TOPIC_XAI_REQUESTS      "ibx.xai.requests"
#define BUS_TOPIC_XAI_EVENTS        "ibx.xai.events"
#define BUS_TOPIC_USAGE             "ibx.usage"
#define BUS_TOPIC_USER_EVENTS       "ibx.user.events"
#define BUS_TOPIC_DLQ               "ibx.dlq"
#define BUS_TOPIC_COUNT             8
/* All of the above, in that order. */
extern const char *const bus_topics[BUS_TOPIC_COUNT];

/* Header that carries the request id. */
#define BUS_HEADER_REQUEST_ID "request_id"

/* ---- producer ------------------------------------------------------------------------ */

struct bus;

/* Create a producer for brokers ("host:port[,host:port...]"); client_id may be NULL
 * ("ibx"). Both strings are copied. Nothing is contacted yet: a wrong address shows up in
 * bus_ping() or as failed deliveries. The suite's topics (bus_topics) are registered with
 * the producer at once so their metadata comes with the first connection (on a broker
 * with auto.create.topics.enable this creates them). *out is freed with bus_free().
 * 0, -EINVAL (NULL/empty brokers, a bad setting), -ENOMEM, -EAGAIN (no thread),
 * -EIO (librdkafka refused). */
int bus_new(const char *brokers, const char *client_id, struct bus **out) BUS_WUR;

/* Flush (at most BUS_FREE_FLUSH_MS), purge what is left (logged as lost), stop the
 * delivery-report thread and destroy the handle. Accepts NULL. */
#define BUS_FREE_FLUSH_MS 5000
void bus_free(struct bus *b);

/* Queue value (borrowed, not modified) as a message for topic with key (NULL: no key).
 * Returns once librdkafka holds the message; the broker's acknowledgement comes later
 * (a failed delivery is logged by the delivery-report thread and counted, see
 * bus_delivery_failures()). When the local queue is full it waits for room for up to
 * about one second, then gives up.
 * 0, -EINVAL (NULL bus/topic/value), -EMSGSIZE (message too large), -ENOENT (topic known
 * not to exist), -EAGAIN (local queue still full), -ENOMEM, -EIO (fatal state, refused). */
int bus_publish(struct bus *b, const char *topic, const char *key, json_t *value) BUS_WUR;

/* Like bus_publish() but waits up to timeout_ms for the broker's acknowledgement.
 * 0 only when the broker acknowledged the message (it is then durable on the broker).
 * Besides bus_publish()'s errors: -EIO (or -EMSGSIZE, -ENOENT) when the broker refused or
 * the delivery failed, and -EAGAIN when no acknowledgement arrived within timeout_ms: the
 * message may still be delivered later (publish again; consumers are idempotent).
 * -EINVAL for timeout_ms < 0. */
int bus_publish_sync(struct bus *b, const char *topic, const char *key, json_t *value,
                     int timeout_ms) BUS_WUR;

/* Wait up to timeout_ms until every queued message is acknowledged or failed.
 * 0, -EAGAIN (messages still in flight at the deadline). */
int bus_flush(struct bus *b, int timeout_ms) BUS_WUR;

/* Readiness: 0 when the cluster answers a metadata request within timeout_ms,
 * -EIO otherwise (unreachable, timed out, or the producer is in a fatal state). */
int bus_ping(struct bus *b, int timeout_ms) BUS_WUR;

/* Messages whose delivery failed since bus_new() (for metrics); 0 for NULL. */
uint64_t bus_delivery_failures(const struct bus *b);

/* ---- consumer group runner ----------------------------------------------------------- */

/* One consumed message, valid only during the handler call. Everything is borrowed. */
struct bus_msg {
    const char *topic;
    int32_t partition;
    int64_t offset;
    const char *key;        /* NUL-terminated copy of the key, NULL when none */
    size_t key_len;         /* bytes of key (a key may contain NUL bytes) */
    json_t *value;          /* parsed JSON value; do not decref (json_incref to keep) */
    const char *request_id; /* "request_id" header, "" when absent or not printable */
    int attempt;            /* 1 on the first delivery to the handler, then 2, 3, ... */
};

/* Return 0 when the message is handled (its offset is then committed; any value >= 0
 * counts as handled), or a negative errno to have it retried. Called on the consumer's thread with
 * the thread's log request id set to msg->request_id. */
typedef int (*bus_handler_fn)(void *ctx, const struct bus_msg *msg);

struct bus_consumer_opts {
    const char *brokers;       /* required; copied */
    const char *group_id;      /* required; copied */
    const char *const *topics; /* required; topic_count names, copied */
    size_t topic_count;
    bus_handler_fn handler;   /* required */
    void *ctx;                /* passed to handler, borrowed */
    struct bus *dlq;          /* required producer for ibx.dlq; borrowed, outlives consumer */
    int max_attempts;         /* handler calls per message before ibx.dlq; 0 = 5 */
    int poll_timeout_ms;      /* consumer poll wait (bounds stop latency); 0 = 200 */
    int retry_backoff_ms;     /* first retry delay, doubled each time up to 5 s; 0 = 100 */
    int max_poll_interval_ms; /* longest handler run before the group evicts us;
                                 0 = 300000, else at least 6000 */
};

struct bus_consumer;

/* Subscribe and start the consumer thread. Partitions are assigned asynchronously; with
 * auto.offset.reset=earliest a new group starts from the oldest message.
 * *out is stopped and freed with bus_consumer_stop().
 * The consumer uses session.timeout.ms=6000, heartbeat.interval.ms=500, manual commits.
 * 0, -EINVAL (missing/invalid option), -ENOMEM, -EAGAIN (no thread), -EIO (librdkafka
 * refused). */
int bus_consumer_start(const struct bus_consumer_opts *opts, struct bus_consumer **out) BUS_WUR;

/* Stop the thread, leave the group cleanly (rd_kafka_consumer_close) and free everything.
 * It returns after the current handler call; a retry backoff is cut short, a dead-letter
 * publish in flight may take up to 10 s. A message whose handler has not succeeded (and
 * that is not yet in ibx.dlq) is not committed, so the group sees it again. Accepts NULL. */
void bus_consumer_stop(struct bus_consumer *c);

#endif
