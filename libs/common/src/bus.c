/* bus: Kafka producer and consumer-group runner on librdkafka (see ibx/bus.h). */
#include <ibx/bus.h>
#include <ibx/clock.h>
#include <ibx/log.h>

#include <librdkafka/rdkafka.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *const bus_topics[BUS_TOPIC_COUNT] = {
    BUS_TOPIC_DATASET_EVENTS,  BUS_TOPIC_PIPELINE_REQUESTS,
    BUS_TOPIC_PIPELINE_EVENTS, BUS_TOPIC_XAI_REQUESTS,
    BUS_TOPIC_XAI_EVENTS,      BUS_TOPIC_USAGE,
    BUS_TOPIC_USER_EVENTS,     BUS_TOPIC_DLQ,
};

#define BUS_QUEUE_FULL_TRIES   10 /* bus_publish waits up to ~1 s for room */
#define BUS_QUEUE_FULL_WAIT_MS 100
#define BUS_POLL_MS            100 /* delivery-report thread poll interval */
#define BUS_MESSAGE_TIMEOUT    "30000"
#define BUS_DLQ_TIMEOUT_MS     10000
#define BUS_BACKOFF_MAX_MS     5000
#define BUS_SLEEP_SLICE_MS     20
#define BUS_SEEK_TIMEOUT_MS    2000
#define BUS_RID_MAX            64
#define BUS_DEFAULT_ATTEMPTS   5
#define BUS_DEFAULT_POLL_MS    200
#define BUS_DEFAULT_BACKOFF_MS 100
#define BUS_MIN_POLL_INTERVAL  6000 /* = session.timeout.ms, librdkafka's lower bound */

/* Shared by the librdkafka callbacks of a producer or a consumer (the conf opaque). */
struct bus_state {
    atomic_bool fatal;
    atomic_bool failing; /* a failed delivery was logged and none succeeded since */
    atomic_uint_fast64_t failures;
};

struct bus {
    rd_kafka_t *rk;
    rd_kafka_topic_t *known[BUS_TOPIC_COUNT]; /* see bus_know_topics() */
    pthread_t poller;
    atomic_bool stop;
    struct bus_state st;
};

/* A bus_publish_sync() caller waiting for its delivery report. Two references: the caller
 * and the report; whoever drops the last one frees it (the caller may time out first). */
struct bus_wait {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int refs;
    bool done;
    rd_kafka_resp_err_t err;
};

struct bus_consumer {
    rd_kafka_t *rk;
    pthread_t thread;
    atomic_bool stop;
    struct bus_state st;
    bus_handler_fn handler;
    void *ctx;
    struct bus *dlq;
    int max_attempts;
    int poll_timeout_ms;
    int backoff_ms;
};

/* ---- shared helpers ------------------------------------------------------------------ */

static int bus_err_to_errno(rd_kafka_resp_err_t err)
{
    switch (err) {
    case RD_KAFKA_RESP_ERR_NO_ERROR:
        return 0;
    case RD_KAFKA_RESP_ERR__QUEUE_FULL:
        return -EAGAIN;
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
        return -EMSGSIZE;
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
        return -ENOENT;
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
        return -EINVAL;
    default:
        return -EIO;
    }
}

static void bus_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    enum log_level lvl = LOG_LVL_DEBUG;
    if (level <= 3)
        lvl = LOG_LVL_ERROR;
    else if (level == 4)
        lvl = LOG_LVL_WARN;
    else if (level <= 6)
        lvl = LOG_LVL_INFO;
    log_fields(lvl, json_pack("{s:s,s:s}", "kafka", rd_kafka_name(rk), "facility", fac), "%s", buf);
}

static void bus_error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    struct bus_state *st = opaque;
    if (err == RD_KAFKA_RESP_ERR__TRANSPORT)
        return; /* librdkafka's own log line (bus_log_cb) already said it */
    if (err != RD_KAFKA_RESP_ERR__FATAL) {
        log_fields(LOG_LVL_WARN,
                   json_pack("{s:s,s:s}", "kafka", rd_kafka_name(rk), "error",
                             rd_kafka_err2name((rd_kafka_resp_err_t)err)),
                   "kafka: %s", reason);
        return;
    }
    char why[512];
    rd_kafka_resp_err_t orig = rd_kafka_fatal_error(rk, why, sizeof(why));
    atomic_store(&st->fatal, true);
    log_fields(LOG_LVL_ERROR,
               json_pack("{s:s,s:s}", "kafka", rd_kafka_name(rk), "error", rd_kafka_err2name(orig)),
               "kafka fatal error, client unusable: %s", why);
}

static int bus_conf_new(struct bus_state *st, const char *const (*kv)[2], size_t n,
                        rd_kafka_conf_t **out)
{
    char err[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (!conf)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        if (rd_kafka_conf_set(conf, kv[i][0], kv[i][1], err, sizeof(err)) != RD_KAFKA_CONF_OK) {
            log_error("kafka setting %s rejected: %s", kv[i][0], err);
            rd_kafka_conf_destroy(conf);
            return -EINVAL;
        }
    }
    rd_kafka_conf_set_log_cb(conf, bus_log_cb);
    rd_kafka_conf_set_error_cb(conf, bus_error_cb);
    rd_kafka_conf_set_opaque(conf, st);
    *out = conf;
    return 0;
}

/* Takes conf in every case. */
static int bus_handle_new(rd_kafka_type_t type, rd_kafka_conf_t *conf, rd_kafka_t **out)
{
    char err[256];
    rd_kafka_t *rk = rd_kafka_new(type, conf, err, sizeof(err));
    if (!rk) {
        log_error("kafka client not created: %s", err);
        rd_kafka_conf_destroy(conf);
        return -EIO;
    }
    *out = rk;
    return 0;
}

/* Sleep ms in short slices; -ECANCELED as soon as *stop is set. */
static int bus_sleep(const atomic_bool *stop, int ms)
{
    while (ms > 0) {
        if (atomic_load(stop))
            return -ECANCELED;
        int slice = ms < BUS_SLEEP_SLICE_MS ? ms : BUS_SLEEP_SLICE_MS;
        struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)slice * 1000000L};
        nanosleep(&ts, NULL);
        ms -= slice;
    }
    return atomic_load(stop) ? -ECANCELED : 0;
}

/* ---- producer: delivery reports ------------------------------------------------------ */

static struct bus_wait *bus_wait_new(void)
{
    struct bus_wait *w = calloc(1, sizeof(*w));
    if (!w)
        return NULL;
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->cond, &attr);
    pthread_condattr_destroy(&attr);
    w->refs = 2;
    return w;
}

static void bus_wait_destroy(struct bus_wait *w)
{
    pthread_cond_destroy(&w->cond);
    pthread_mutex_destroy(&w->lock);
    free(w);
}

/* Drop one reference; done marks the delivery report's reference (records err). */
static void bus_wait_put(struct bus_wait *w, bool done, rd_kafka_resp_err_t err)
{
    pthread_mutex_lock(&w->lock);
    if (done) {
        w->done = true;
        w->err = err;
        pthread_cond_broadcast(&w->cond);
    }
    int left = --w->refs;
    pthread_mutex_unlock(&w->lock);
    if (left == 0)
        bus_wait_destroy(w);
}

/* 0 or the delivery's errno once the report came, -EAGAIN after timeout_ms. */
static int bus_wait_for(struct bus_wait *w, int timeout_ms)
{
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    int rc = 0;
    pthread_mutex_lock(&w->lock);
    while (!w->done && rc == 0)
        rc = pthread_cond_timedwait(&w->cond, &w->lock, &deadline);
    int out = w->done ? bus_err_to_errno(w->err) : -EAGAIN;
    pthread_mutex_unlock(&w->lock);
    return out;
}

static void bus_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    struct bus_state *st = opaque;
    struct bus_wait *w = m->_private;
    if (m->err) {
        uint64_t n = atomic_fetch_add(&st->failures, 1) + 1;
        /* A waiting caller handles its own failure; others are logged once per streak. */
        if (!w && !atomic_exchange(&st->failing, true))
            log_fields(LOG_LVL_ERROR,
                       json_pack("{s:s,s:s,s:I}", "topic", rd_kafka_topic_name(m->rkt), "error",
                                 rd_kafka_err2name(m->err), "failures", (json_int_t)n),
                       "kafka delivery failed: %s (further failures are counted, not logged, "
                       "until a delivery succeeds)",
                       rd_kafka_err2str(m->err));
    } else if (atomic_exchange(&st->failing, false)) {
        log_info("kafka deliveries succeed again");
    }
    if (w)
        bus_wait_put(w, true, m->err);
}

static void *bus_poller_main(void *arg)
{
    struct bus *b = arg;
    while (!atomic_load(&b->stop))
        rd_kafka_poll(b->rk, BUS_POLL_MS);
    return NULL;
}

/* ---- producer: public API ------------------------------------------------------------ */

/* Make the suite's topics known to the producer up front, so their metadata arrives with
 * the first connection: otherwise the first message to each new topic waits for
 * librdkafka's 1 s topic scan. A topic that cannot be registered is simply learnt later. */
static void bus_know_topics(struct bus *b)
{
    for (size_t i = 0; i < BUS_TOPIC_COUNT; i++)
        b->known[i] = rd_kafka_topic_new(b->rk, bus_topics[i], NULL);
}

static void bus_forget_topics(struct bus *b)
{
    for (size_t i = 0; i < BUS_TOPIC_COUNT; i++) {
        if (b->known[i])
            rd_kafka_topic_destroy(b->known[i]);
    }
}

int bus_new(const char *brokers, const char *client_id, struct bus **out)
{
    if (!brokers || !*brokers || !out)
        return -EINVAL;
    const char *const kv[][2] = {
        {"bootstrap.servers", brokers},
        {"client.id", client_id && *client_id ? client_id : "ibx"},
        {"enable.idempotence", "true"},
        {"message.timeout.ms", BUS_MESSAGE_TIMEOUT},
    };
    rd_kafka_conf_t *conf = NULL;
    struct bus *b = calloc(1, sizeof(*b));
    if (!b)
        return -ENOMEM;
    int rc = bus_conf_new(&b->st, kv, sizeof(kv) / sizeof(kv[0]), &conf);
    if (rc)
        goto fail_free;
    rd_kafka_conf_set_dr_msg_cb(conf, bus_dr_cb);
    rc = bus_handle_new(RD_KAFKA_PRODUCER, conf, &b->rk);
    if (rc)
        goto fail_free;
    bus_know_topics(b);
    if (pthread_create(&b->poller, NULL, bus_poller_main, b) != 0) {
        rc = -EAGAIN;
        goto fail_destroy;
    }
    *out = b;
    return 0;

fail_destroy:
    bus_forget_topics(b);
    rd_kafka_destroy(b->rk);
fail_free:
    free(b);
    return rc;
}

void bus_free(struct bus *b)
{
    if (!b)
        return;
    if (rd_kafka_flush(b->rk, BUS_FREE_FLUSH_MS) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        log_error("kafka producer closing, dropping undelivered messages: %d",
                  rd_kafka_outq_len(b->rk));
        rd_kafka_purge(b->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        (void)rd_kafka_flush(b->rk, 1000); /* serve the purged messages' reports */
    }
    atomic_store(&b->stop, true);
    pthread_join(b->poller, NULL);
    bus_forget_topics(b);
    rd_kafka_destroy(b->rk);
    free(b);
}

/* Queue one message; w (may be NULL) receives its delivery report. */
static int bus_produce(struct bus *b, const char *topic, const void *key, size_t key_len,
                       json_t *value, struct bus_wait *w)
{
    if (!b || !topic || !*topic || !value)
        return -EINVAL;
    if (atomic_load(&b->st.fatal))
        return -EIO;
    char *payload = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!payload)
        return -ENOMEM;
    const char *rid = log_request_id();
    rd_kafka_vu_t vu[6] = {
        {.vtype = RD_KAFKA_VTYPE_TOPIC, .u.cstr = topic},
        {.vtype = RD_KAFKA_VTYPE_VALUE, .u.mem = {payload, strlen(payload)}},
        {.vtype = RD_KAFKA_VTYPE_MSGFLAGS, .u.i = RD_KAFKA_MSG_F_COPY},
        {.vtype = RD_KAFKA_VTYPE_OPAQUE, .u.ptr = w},
        {.vtype = RD_KAFKA_VTYPE_KEY, .u.mem = {(void *)(uintptr_t)key, key ? key_len : 0}},
        {.vtype = RD_KAFKA_VTYPE_HEADER, .u.header = {BUS_HEADER_REQUEST_ID, rid, -1}},
    };
    size_t n = 4 + (key != NULL);
    if (rid[0])
        vu[n++] = vu[5];
    rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR__QUEUE_FULL;
    for (int i = 0; i < BUS_QUEUE_FULL_TRIES && err == RD_KAFKA_RESP_ERR__QUEUE_FULL; i++) {
        if (i > 0)
            rd_kafka_poll(b->rk, BUS_QUEUE_FULL_WAIT_MS);
        rd_kafka_error_t *e = rd_kafka_produceva(b->rk, vu, n);
        err = e ? rd_kafka_error_code(e) : RD_KAFKA_RESP_ERR_NO_ERROR;
        rd_kafka_error_destroy(e);
    }
    free(payload);
    int rc = bus_err_to_errno(err);
    if (rc == -EIO)
        log_fields(LOG_LVL_ERROR,
                   json_pack("{s:s,s:s}", "topic", topic, "error", rd_kafka_err2name(err)),
                   "kafka produce refused: %s", rd_kafka_err2str(err));
    return rc;
}

/* timeout_ms < 0: do not wait for the acknowledgement. */
static int bus_send(struct bus *b, const char *topic, const void *key, size_t key_len,
                    json_t *value, int timeout_ms)
{
    if (timeout_ms < 0)
        return bus_produce(b, topic, key, key_len, value, NULL);
    struct bus_wait *w = bus_wait_new();
    if (!w)
        return -ENOMEM;
    int rc = bus_produce(b, topic, key, key_len, value, w);
    if (rc) {
        bus_wait_destroy(w); /* no report will come */
        return rc;
    }
    rc = bus_wait_for(w, timeout_ms);
    bus_wait_put(w, false, RD_KAFKA_RESP_ERR_NO_ERROR);
    return rc;
}

int bus_publish(struct bus *b, const char *topic, const char *key, json_t *value)
{
    return bus_send(b, topic, key, key ? strlen(key) : 0, value, -1);
}

int bus_publish_sync(struct bus *b, const char *topic, const char *key, json_t *value,
                     int timeout_ms)
{
    if (timeout_ms < 0)
        return -EINVAL;
    return bus_send(b, topic, key, key ? strlen(key) : 0, value, timeout_ms);
}

int bus_flush(struct bus *b, int timeout_ms)
{
    if (!b || timeout_ms < 0)
        return -EINVAL;
    return rd_kafka_flush(b->rk, timeout_ms) == RD_KAFKA_RESP_ERR_NO_ERROR ? 0 : -EAGAIN;
}

int bus_ping(struct bus *b, int timeout_ms)
{
    if (!b || timeout_ms < 0)
        return -EINVAL;
    if (atomic_load(&b->st.fatal))
        return -EIO;
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t err = rd_kafka_metadata(b->rk, 0, NULL, &md, timeout_ms);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
        return -EIO;
    int brokers = md->broker_cnt;
    rd_kafka_metadata_destroy(md);
    return brokers > 0 ? 0 : -EIO;
}

uint64_t bus_delivery_failures(const struct bus *b)
{
    return b ? (uint64_t)atomic_load(&b->st.failures) : 0;
}

/* ---- consumer: one message ----------------------------------------------------------- */

/* The request_id header, cut to BUS_RID_MAX; "" when absent or not printable ASCII. */
static void bus_msg_request_id(rd_kafka_message_t *m, char *out, size_t n)
{
    rd_kafka_headers_t *hdrs = NULL;
    const void *val = NULL;
    size_t size = 0;
    out[0] = '\0';
    if (rd_kafka_message_headers(m, &hdrs) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return;
    if (rd_kafka_header_get_last(hdrs, BUS_HEADER_REQUEST_ID, &val, &size) !=
            RD_KAFKA_RESP_ERR_NO_ERROR ||
        !val)
        return;
    if (size >= n)
        size = n - 1;
    const unsigned char *p = val;
    for (size_t i = 0; i < size; i++) {
        if (p[i] < 0x21 || p[i] > 0x7e)
            return;
    }
    memcpy(out, val, size);
    out[size] = '\0';
}

/* Fill msg from m. *key_copy receives the key copy (caller frees). value NULL = not JSON. */
static int bus_msg_init(rd_kafka_message_t *m, struct bus_msg *msg, char *rid, size_t rid_n,
                        char **key_copy)
{
    char *key = NULL;
    if (m->key) {
        key = malloc(m->key_len + 1);
        if (!key)
            return -ENOMEM;
        memcpy(key, m->key, m->key_len);
        key[m->key_len] = '\0';
    }
    bus_msg_request_id(m, rid, rid_n);
    memset(msg, 0, sizeof(*msg));
    msg->topic = rd_kafka_topic_name(m->rkt);
    msg->partition = m->partition;
    msg->offset = m->offset;
    msg->key = key;
    msg->key_len = key ? m->key_len : 0;
    msg->request_id = rid;
    if (m->payload && m->len > 0)
        msg->value = json_loadb(m->payload, m->len, JSON_DECODE_ANY, NULL);
    *key_copy = key;
    return 0;
}

static json_t *bus_msg_fields(const struct bus_msg *msg)
{
    return json_pack("{s:s,s:i,s:I}", "topic", msg->topic, "partition", (int)msg->partition,
                     "offset", (json_int_t)msg->offset);
}

static void bus_commit(struct bus_consumer *c, const rd_kafka_message_t *m,
                       const struct bus_msg *msg)
{
    rd_kafka_resp_err_t err = rd_kafka_commit_message(c->rk, m, 0);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
        log_fields(LOG_LVL_WARN, bus_msg_fields(msg),
                   "kafka commit failed, the message may be delivered again: %s",
                   rd_kafka_err2str(err));
}

/* Back off before retry number attempt (1-based): backoff_ms doubled, capped. */
static int bus_backoff(struct bus_consumer *c, int attempt)
{
    int ms = c->backoff_ms;
    for (int i = 1; i < attempt && ms < BUS_BACKOFF_MAX_MS; i++)
        ms *= 2;
    return bus_sleep(&c->stop, ms < BUS_BACKOFF_MAX_MS ? ms : BUS_BACKOFF_MAX_MS);
}

/* Rewind the partition so m is consumed again (it could not be processed now). */
static void bus_redeliver(struct bus_consumer *c, rd_kafka_message_t *m)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, rd_kafka_topic_name(m->rkt), m->partition)->offset =
        m->offset;
    rd_kafka_error_t *e = rd_kafka_seek_partitions(c->rk, l, BUS_SEEK_TIMEOUT_MS);
    if (e)
        log_warn("kafka seek back failed: %s", rd_kafka_error_string(e));
    rd_kafka_error_destroy(e);
    rd_kafka_topic_partition_list_destroy(l);
    (void)bus_backoff(c, 1);
}

static json_t *bus_dlq_value(const rd_kafka_message_t *m, const struct bus_msg *msg,
                             const char *reason, int error, int attempts)
{
    char ts[40];
    clock_iso8601(clock_wall_ms(), ts, sizeof(ts));
    json_t *key = msg->key ? json_stringn(msg->key, msg->key_len) : NULL;
    json_t *v = json_pack("{s:s,s:i,s:I,s:o?,s:O?,s:s,s:i,s:i,s:s,s:s}", "topic", msg->topic,
                          "partition", (int)msg->partition, "offset", (json_int_t)msg->offset,
                          "key", key, "value", msg->value, "reason", reason, "error", error,
                          "attempts", attempts, "request_id", msg->request_id, "failed_at", ts);
    if (v && !msg->value && m->payload) {
        json_t *raw = json_stringn(m->payload, m->len); /* NULL unless UTF-8 */
        if (raw)
            json_object_set_new(v, "raw", raw);
    }
    return v;
}

/* Publish v to ibx.dlq until acknowledged; -ECANCELED when stopped first. */
static int bus_dlq_send(struct bus_consumer *c, const struct bus_msg *msg, json_t *v)
{
    bool trimmed = false;
    for (int attempt = 1;; attempt++) {
        int rc = bus_send(c->dlq, BUS_TOPIC_DLQ, msg->key, msg->key_len, v, BUS_DLQ_TIMEOUT_MS);
        if (rc == 0)
            return 0;
        if (rc == -EMSGSIZE && !trimmed) {
            json_object_set_new(v, "value", json_null());
            json_object_del(v, "raw");
            json_object_set_new(v, "truncated", json_true());
            trimmed = true;
            continue;
        }
        log_fields(LOG_LVL_ERROR, bus_msg_fields(msg),
                   "cannot publish to " BUS_TOPIC_DLQ " (error %d), retrying", rc);
        if (bus_backoff(c, attempt) != 0)
            return -ECANCELED;
    }
}

static void bus_dead_letter(struct bus_consumer *c, rd_kafka_message_t *m,
                            const struct bus_msg *msg, const char *reason, int error, int attempts)
{
    if (strcmp(msg->topic, BUS_TOPIC_DLQ) == 0) {
        log_fields(LOG_LVL_ERROR, bus_msg_fields(msg), "dead letter failed again, dropped");
        bus_commit(c, m, msg);
        return;
    }
    json_t *v = bus_dlq_value(m, msg, reason, error, attempts);
    if (!v) {
        log_error("out of memory building a dead letter");
        bus_redeliver(c, m);
        return;
    }
    int rc = bus_dlq_send(c, msg, v);
    json_decref(v);
    if (rc != 0)
        return; /* stopping: not committed, the group sees it again */
    log_fields(LOG_LVL_ERROR,
               json_pack("{s:s,s:i,s:I,s:s,s:i,s:i}", "topic", msg->topic, "partition",
                         (int)msg->partition, "offset", (json_int_t)msg->offset, "reason", reason,
                         "error", error, "attempts", attempts),
               "message moved to " BUS_TOPIC_DLQ);
    bus_commit(c, m, msg);
}

static void bus_run_handler(struct bus_consumer *c, rd_kafka_message_t *m, struct bus_msg *msg)
{
    int rc = 0;
    for (int attempt = 1; attempt <= c->max_attempts; attempt++) {
        msg->attempt = attempt;
        rc = c->handler(c->ctx, msg);
        if (rc >= 0) {
            bus_commit(c, m, msg);
            return;
        }
        json_t *f = bus_msg_fields(msg);
        json_object_set_new(f, "attempt", json_integer(attempt));
        json_object_set_new(f, "error", json_integer(rc));
        log_fields(LOG_LVL_WARN, f, "handler failed (attempt %d of %d)", attempt, c->max_attempts);
        if (attempt < c->max_attempts && bus_backoff(c, attempt) != 0)
            return; /* stopping: not committed, the group sees it again */
    }
    bus_dead_letter(c, m, msg, "handler_failed", rc, c->max_attempts);
}

static void bus_consume_one(struct bus_consumer *c, rd_kafka_message_t *m)
{
    struct bus_msg msg;
    char rid[BUS_RID_MAX + 1];
    char *key = NULL;
    if (bus_msg_init(m, &msg, rid, sizeof(rid), &key) != 0) {
        log_error("out of memory reading a message");
        bus_redeliver(c, m);
        return;
    }
    log_set_request_id(rid);
    if (!msg.value)
        bus_dead_letter(c, m, &msg, "invalid_json", -EINVAL, 0);
    else
        bus_run_handler(c, m, &msg);
    log_set_request_id(NULL);
    json_decref(msg.value);
    free(key);
}

static void *bus_consumer_main(void *arg)
{
    struct bus_consumer *c = arg;
    while (!atomic_load(&c->stop)) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c->rk, c->poll_timeout_ms);
        if (!m)
            continue;
        if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR)
            bus_consume_one(c, m);
        else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
            log_fields(LOG_LVL_WARN, json_pack("{s:s}", "error", rd_kafka_err2name(m->err)),
                       "kafka consume error: %s", rd_kafka_message_errstr(m));
        rd_kafka_message_destroy(m);
    }
    return NULL;
}

/* ---- consumer: public API ------------------------------------------------------------ */

static int bus_opts_check(const struct bus_consumer_opts *o)
{
    if (!o || !o->brokers || !*o->brokers || !o->group_id || !*o->group_id || !o->topics ||
        o->topic_count == 0 || o->topic_count > 1024 || !o->handler || !o->dlq)
        return -EINVAL;
    if (o->max_attempts < 0 || o->poll_timeout_ms < 0 || o->retry_backoff_ms < 0)
        return -EINVAL;
    if (o->max_poll_interval_ms != 0 && o->max_poll_interval_ms < BUS_MIN_POLL_INTERVAL)
        return -EINVAL;
    for (size_t i = 0; i < o->topic_count; i++) {
        if (!o->topics[i] || !*o->topics[i])
            return -EINVAL;
    }
    return 0;
}

static int bus_subscribe(rd_kafka_t *rk, const char *const *topics, size_t n)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)n);
    for (size_t i = 0; i < n; i++)
        rd_kafka_topic_partition_list_add(l, topics[i], RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t err = rd_kafka_subscribe(rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        log_error("kafka subscribe failed: %s", rd_kafka_err2str(err));
        return -EIO;
    }
    return 0;
}

static int bus_consumer_handle(struct bus_consumer *c, const struct bus_consumer_opts *o)
{
    char poll_ms[16];
    snprintf(poll_ms, sizeof(poll_ms), "%d",
             o->max_poll_interval_ms ? o->max_poll_interval_ms : 300000);
    const char *const kv[][2] = {
        {"bootstrap.servers", o->brokers},
        {"group.id", o->group_id},
        {"client.id", o->group_id},
        {"enable.auto.commit", "false"},
        {"auto.offset.reset", "earliest"},
        {"session.timeout.ms", "6000"},
        {"heartbeat.interval.ms", "500"},
        {"max.poll.interval.ms", poll_ms},
        {"enable.partition.eof", "false"},
        /* a topic created after we subscribed is found within 10 s, not 5 min */
        {"topic.metadata.refresh.interval.ms", "10000"},
    };
    rd_kafka_conf_t *conf = NULL;
    int rc = bus_conf_new(&c->st, kv, sizeof(kv) / sizeof(kv[0]), &conf);
    if (rc)
        return rc;
    rc = bus_handle_new(RD_KAFKA_CONSUMER, conf, &c->rk);
    if (rc)
        return rc;
    rd_kafka_poll_set_consumer(c->rk);
    rc = bus_subscribe(c->rk, o->topics, o->topic_count);
    if (rc) {
        rd_kafka_consumer_close(c->rk);
        rd_kafka_destroy(c->rk);
    }
    return rc;
}

int bus_consumer_start(const struct bus_consumer_opts *opts, struct bus_consumer **out)
{
    int rc = bus_opts_check(opts);
    if (rc || !out)
        return rc ? rc : -EINVAL;
    struct bus_consumer *c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    c->handler = opts->handler;
    c->ctx = opts->ctx;
    c->dlq = opts->dlq;
    c->max_attempts = opts->max_attempts ? opts->max_attempts : BUS_DEFAULT_ATTEMPTS;
    c->poll_timeout_ms = opts->poll_timeout_ms ? opts->poll_timeout_ms : BUS_DEFAULT_POLL_MS;
    c->backoff_ms = opts->retry_backoff_ms ? opts->retry_backoff_ms : BUS_DEFAULT_BACKOFF_MS;
    rc = bus_consumer_handle(c, opts);
    if (rc)
        goto fail_free;
    if (pthread_create(&c->thread, NULL, bus_consumer_main, c) != 0) {
        rc = -EAGAIN;
        goto fail_close;
    }
    *out = c;
    return 0;

fail_close:
    rd_kafka_consumer_close(c->rk);
    rd_kafka_destroy(c->rk);
fail_free:
    free(c);
    return rc;
}

void bus_consumer_stop(struct bus_consumer *c)
{
    if (!c)
        return;
    atomic_store(&c->stop, true);
    pthread_join(c->thread, NULL);
    rd_kafka_resp_err_t err = rd_kafka_consumer_close(c->rk);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
        log_warn("kafka consumer close: %s", rd_kafka_err2str(err));
    rd_kafka_destroy(c->rk);
    free(c);
}
