/* test_bus: the Kafka layer against librdkafka's mock cluster, and the ibx-devbroker binary. */
#include <ibx/bus.h>
#include <ibx/log.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

extern char **environ;

#define WAIT_MS     20000 /* generous: librdkafka is slow under ASan */
#define PRODUCE_API 0     /* Kafka protocol ApiKey of Produce */
#define MAX_SEEN    32

/* ---- fixture: one mock cluster and one producer for the whole file ------------------ */

/* Each test uses its own topic and group ids, so tests do not see each other's messages. */
#define T_ROUNDTRIP   "test.roundtrip"
#define T_RETRY       "test.retry"
#define T_UNCOMMITTED "test.uncommitted"
#define T_RESUME      "test.resume"
#define T_POISON      "test.poison"
#define T_DELIVERY    "test.delivery"

struct fixture {
    rd_kafka_t *host;
    rd_kafka_mock_cluster_t *mc;
    const char *brokers; /* owned by mc */
    struct bus *bus;
};

static void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void fixture_free(struct fixture *f)
{
    bus_free(f->bus);
    if (f->mc)
        rd_kafka_mock_cluster_destroy(f->mc);
    if (f->host)
        rd_kafka_destroy(f->host);
    free(f);
}

struct topic_job {
    rd_kafka_mock_cluster_t *mc;
    const char *name;
    pthread_t thread;
    rd_kafka_resp_err_t err;
};

static void *topic_job_main(void *arg)
{
    struct topic_job *j = arg;
    j->err = rd_kafka_mock_topic_create(j->mc, j->name, 2, 1);
    return NULL;
}

/* Create the topics concurrently: the 2.0.2 mock cluster sometimes serves a control request
 * only at its next 1 s poll timeout, and requests issued together are served together. */
static int create_topics(rd_kafka_mock_cluster_t *mc)
{
    static const char *const names[] = {T_ROUNDTRIP, T_RETRY,    T_UNCOMMITTED, T_RESUME,
                                        T_POISON,    T_DELIVERY, BUS_TOPIC_DLQ};
    enum { N = sizeof(names) / sizeof(names[0]) };
    struct topic_job jobs[N];
    int threaded[N], bad = 0;
    for (size_t i = 0; i < N; i++) {
        jobs[i] = (struct topic_job){.mc = mc, .name = names[i]};
        threaded[i] = pthread_create(&jobs[i].thread, NULL, topic_job_main, &jobs[i]) == 0;
        if (!threaded[i])
            topic_job_main(&jobs[i]);
    }
    for (size_t i = 0; i < N; i++) {
        if (threaded[i])
            pthread_join(jobs[i].thread, NULL);
        bad |= jobs[i].err != RD_KAFKA_RESP_ERR_NO_ERROR;
    }
    return bad ? -1 : 0;
}

/* A throwaway client hosts the mock cluster; topics are created up front. */
static int fixture_start(struct fixture *f)
{
    char err[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "log_level", "3", err, sizeof(err)) != RD_KAFKA_CONF_OK) {
        rd_kafka_conf_destroy(conf);
        return -1;
    }
    f->host = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (!f->host) {
        rd_kafka_conf_destroy(conf);
        return -1;
    }
    f->mc = rd_kafka_mock_cluster_new(f->host, 1);
    if (!f->mc || create_topics(f->mc) != 0)
        return -1;
    f->brokers = rd_kafka_mock_cluster_bootstraps(f->mc);
    return bus_new(f->brokers, "test-bus", &f->bus) != 0 ? -1 : 0;
}

static int group_setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    if (fixture_start(f) != 0) {
        fixture_free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int group_teardown(void **state)
{
    fixture_free(*state);
    return 0;
}

/* ---- recorder: a handler that keeps what it saw ----------------------------------------- */

struct seen {
    char topic[64];
    char key[64];
    int has_key;
    char rid_header[80];
    char rid_thread[80];
    json_t *value; /* owned */
    int32_t partition;
    int64_t offset;
    int attempt;
};

struct recorder {
    pthread_mutex_t lock;
    struct seen items[MAX_SEEN];
    int n;           /* messages handled successfully */
    int calls;       /* handler calls, failed ones included */
    int fail_first;  /* fail each message's first attempt */
    int always_fail; /* fail every attempt */
};

static void recorder_init(struct recorder *r)
{
    memset(r, 0, sizeof(*r));
    pthread_mutex_init(&r->lock, NULL);
}

static void recorder_release(struct recorder *r)
{
    for (int i = 0; i < r->n; i++)
        json_decref(r->items[i].value);
    pthread_mutex_destroy(&r->lock);
}

static int record_handler(void *ctx, const struct bus_msg *m)
{
    struct recorder *r = ctx;
    pthread_mutex_lock(&r->lock);
    r->calls++;
    if (r->always_fail || (r->fail_first && m->attempt == 1) || r->n >= MAX_SEEN) {
        pthread_mutex_unlock(&r->lock);
        return -EIO;
    }
    struct seen *s = &r->items[r->n++];
    snprintf(s->topic, sizeof(s->topic), "%s", m->topic);
    s->has_key = m->key != NULL;
    snprintf(s->key, sizeof(s->key), "%s", m->key ? m->key : "");
    snprintf(s->rid_header, sizeof(s->rid_header), "%s", m->request_id);
    snprintf(s->rid_thread, sizeof(s->rid_thread), "%s", log_request_id());
    s->value = json_incref(m->value);
    s->partition = m->partition;
    s->offset = m->offset;
    s->attempt = m->attempt;
    pthread_mutex_unlock(&r->lock);
    return 0;
}

static int recorder_get(struct recorder *r, int calls)
{
    pthread_mutex_lock(&r->lock);
    int v = calls ? r->calls : r->n;
    pthread_mutex_unlock(&r->lock);
    return v;
}

/* Wait (bounded) until the recorder handled at least n messages (or made n calls). */
static int recorder_wait(struct recorder *r, int n, int calls)
{
    for (int waited = 0; waited < WAIT_MS && recorder_get(r, calls) < n; waited += 20)
        sleep_ms(20);
    return recorder_get(r, calls);
}

static const struct seen *recorder_find(struct recorder *r, const char *key)
{
    for (int i = 0; i < r->n; i++) {
        if (strcmp(r->items[i].key, key) == 0)
            return &r->items[i];
    }
    return NULL;
}

static int value_n(const struct seen *s)
{
    return (int)json_integer_value(json_object_get(s->value, "n"));
}

static struct bus_consumer *start_consumer(struct fixture *f, const char *group, const char *topic,
                                           struct recorder *r, int max_attempts)
{
    const char *topics[] = {topic};
    struct bus_consumer_opts o = {
        .brokers = f->brokers,
        .group_id = group,
        .topics = topics,
        .topic_count = 1,
        .handler = record_handler,
        .ctx = r,
        .dlq = f->bus,
        .max_attempts = max_attempts,
        .poll_timeout_ms = 100,
        .retry_backoff_ms = 10,
    };
    struct bus_consumer *c = NULL;
    assert_int_equal(bus_consumer_start(&o, &c), 0);
    assert_non_null(c);
    return c;
}

static void publish_key(struct fixture *f, const char *topic, const char *key, int n)
{
    json_t *v = json_pack("{s:s,s:i}", "key", key, "n", n);
    assert_int_equal(bus_publish_sync(f->bus, topic, key, v, WAIT_MS), 0);
    json_decref(v);
}

/* Produce raw bytes (bus_publish only sends JSON). */
static void produce_raw(struct fixture *f, const char *topic, const char *key, const char *bytes)
{
    char err[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    assert_int_equal(rd_kafka_conf_set(conf, "bootstrap.servers", f->brokers, err, sizeof(err)),
                     RD_KAFKA_CONF_OK);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    assert_non_null(rk);
    assert_int_equal(rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic),
                                       RD_KAFKA_V_KEY(key, strlen(key)),
                                       RD_KAFKA_V_VALUE((void *)(uintptr_t)bytes, strlen(bytes)),
                                       RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
                     0);
    assert_int_equal(rd_kafka_flush(rk, WAIT_MS), 0);
    rd_kafka_destroy(rk);
}

/* ---- tests ------------------------------------------------------------------------------ */

static void test_topics_list(void **state)
{
    (void)state;
    assert_string_equal(bus_topics[0], "ibx.dataset.events");
    assert_string_equal(bus_topics[BUS_TOPIC_COUNT - 1], BUS_TOPIC_DLQ);
    for (size_t i = 0; i < BUS_TOPIC_COUNT; i++)
        assert_memory_equal(bus_topics[i], "ibx.", 4);
}

static void test_invalid_arguments(void **state)
{
    struct fixture *f = *state;
    struct bus *b = NULL;
    json_t *v = json_object();
    assert_int_equal(bus_new(NULL, "x", &b), -EINVAL);
    assert_int_equal(bus_new("", "x", &b), -EINVAL);
    assert_null(b);
    assert_int_equal(bus_publish(f->bus, NULL, "k", v), -EINVAL);
    assert_int_equal(bus_publish(f->bus, T_DELIVERY, "k", NULL), -EINVAL);
    assert_int_equal(bus_publish(NULL, T_DELIVERY, "k", v), -EINVAL);
    assert_int_equal(bus_publish_sync(f->bus, T_DELIVERY, "k", v, -1), -EINVAL);
    assert_int_equal(bus_flush(NULL, 10), -EINVAL);
    assert_int_equal(bus_ping(NULL, 10), -EINVAL);
    json_decref(v);
    bus_free(NULL);
    bus_consumer_stop(NULL);

    struct recorder r;
    const char *topics[] = {T_DELIVERY};
    const char *bad_topics[] = {""};
    const struct bus_consumer_opts good = {.brokers = f->brokers,
                                           .group_id = "g",
                                           .topics = topics,
                                           .topic_count = 1,
                                           .handler = record_handler,
                                           .ctx = &r,
                                           .dlq = f->bus};
    struct bus_consumer_opts cases[8];
    for (size_t i = 0; i < 8; i++)
        cases[i] = good;
    cases[0].brokers = NULL;
    cases[1].group_id = "";
    cases[2].topics = NULL;
    cases[3].topic_count = 0;
    cases[4].handler = NULL;
    cases[5].dlq = NULL;
    cases[6].topics = bad_topics;
    cases[7].max_poll_interval_ms = 1000; /* below the session timeout */
    for (size_t i = 0; i < 8; i++) {
        struct bus_consumer *c = NULL;
        assert_int_equal(bus_consumer_start(&cases[i], &c), -EINVAL);
        assert_null(c);
    }
    assert_int_equal(bus_consumer_start(NULL, NULL), -EINVAL);
}

static void test_ping(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(bus_ping(f->bus, WAIT_MS), 0);

    struct bus *dead = NULL;
    assert_int_equal(bus_new("127.0.0.1:1", "test-dead", &dead), 0);
    assert_int_equal(bus_ping(dead, 300), -EIO);
    bus_free(dead);
}

static void test_round_trip(void **state)
{
    struct fixture *f = *state;
    struct recorder r;
    recorder_init(&r);
    struct bus_consumer *c = start_consumer(f, "g-roundtrip", T_ROUNDTRIP, &r, 0);

    log_set_request_id("rid-roundtrip");
    json_t *v = json_pack("{s:s,s:[i,i],s:{s:b}}", "run", "r1", "xs", 1, 2, "o", "ok", 1);
    assert_int_equal(bus_publish_sync(f->bus, T_ROUNDTRIP, "k1", v, WAIT_MS), 0);
    log_set_request_id(NULL);
    assert_int_equal(bus_publish(f->bus, T_ROUNDTRIP, NULL, v), 0);
    assert_int_equal(bus_flush(f->bus, WAIT_MS), 0);
    assert_int_equal(bus_delivery_failures(f->bus), 0);

    assert_int_equal(recorder_wait(&r, 2, 0), 2);
    const struct seen *s = recorder_find(&r, "k1");
    assert_non_null(s);
    assert_true(s->has_key);
    assert_string_equal(s->topic, T_ROUNDTRIP);
    assert_true(json_equal(s->value, v));
    assert_string_equal(s->rid_header, "rid-roundtrip");
    assert_string_equal(s->rid_thread, "rid-roundtrip");
    assert_true(s->offset >= 0);
    assert_int_equal(s->attempt, 1);
    const struct seen *nokey = recorder_find(&r, "");
    assert_non_null(nokey);
    assert_false(nokey->has_key);
    assert_string_equal(nokey->rid_header, "");
    assert_true(json_equal(nokey->value, v));

    bus_consumer_stop(c);
    json_decref(v);
    recorder_release(&r);
}

static void test_retry_then_success(void **state)
{
    struct fixture *f = *state;
    struct recorder r;
    recorder_init(&r);
    r.fail_first = 1;
    struct bus_consumer *c = start_consumer(f, "g-retry", T_RETRY, &r, 5);
    const char *keys[] = {"k0", "k1", "k2"};
    for (int i = 0; i < 3; i++)
        publish_key(f, T_RETRY, keys[i], i);

    assert_int_equal(recorder_wait(&r, 3, 0), 3);
    bus_consumer_stop(c);
    assert_int_equal(r.n, 3); /* each message handled once successfully, none lost */
    assert_int_equal(r.calls, 6);
    for (int i = 0; i < 3; i++) {
        const struct seen *s = recorder_find(&r, keys[i]);
        assert_non_null(s);
        assert_int_equal(s->attempt, 2);
        assert_int_equal(value_n(s), i);
    }
    recorder_release(&r);
}

/* Offsets are committed only after the handler succeeded, and a group restarts after its
 * committed offset. The two groups run side by side to keep the test short: a group that
 * its last member just left waits out the mock broker's rebalance delay (about 5 s). */
static void test_commit_after_success(void **state)
{
    struct fixture *f = *state;
    struct recorder failing, retaker, first, second;
    recorder_init(&failing);
    recorder_init(&retaker);
    recorder_init(&first);
    recorder_init(&second);
    failing.always_fail = 1;
    struct bus_consumer *a = start_consumer(f, "g-uncommitted", T_UNCOMMITTED, &failing, 1000);
    struct bus_consumer *b = start_consumer(f, "g-resume", T_RESUME, &first, 0);
    publish_key(f, T_UNCOMMITTED, "x", 1);
    publish_key(f, T_RESUME, "e", 1);
    assert_true(recorder_wait(&failing, 2, 1) >= 2); /* failing, not yet given up */
    assert_int_equal(recorder_wait(&first, 1, 0), 1);
    bus_consumer_stop(a); /* stops in the middle of the retries */
    bus_consumer_stop(b);
    assert_int_equal(failing.n, 0);

    publish_key(f, T_RESUME, "e", 2); /* same key: same partition, after the first */
    a = start_consumer(f, "g-uncommitted", T_UNCOMMITTED, &retaker, 0);
    b = start_consumer(f, "g-resume", T_RESUME, &second, 0);
    assert_int_equal(recorder_wait(&retaker, 1, 0), 1);
    assert_int_equal(recorder_wait(&second, 1, 0), 1);
    bus_consumer_stop(a);
    bus_consumer_stop(b);
    /* the message whose handler never succeeded was not committed: handled again */
    assert_string_equal(retaker.items[0].key, "x");
    assert_int_equal(retaker.items[0].attempt, 1);
    /* the handled one was committed: the new member starts right after it */
    assert_int_equal(value_n(&first.items[0]), 1);
    assert_int_equal(value_n(&second.items[0]), 2);
    assert_int_equal(second.items[0].offset, first.items[0].offset + 1);
    recorder_release(&failing);
    recorder_release(&retaker);
    recorder_release(&first);
    recorder_release(&second);
}

static const json_t *dead_letter(struct recorder *r, const char *key)
{
    const struct seen *s = recorder_find(r, key);
    assert_non_null(s);
    assert_string_equal(s->topic, BUS_TOPIC_DLQ);
    return s->value;
}

/* A message that keeps failing, and one that is not JSON, end up in ibx.dlq. */
static void test_dead_letters(void **state)
{
    struct fixture *f = *state;
    struct recorder work, dlq;
    recorder_init(&work);
    recorder_init(&dlq);
    work.always_fail = 1;
    struct bus_consumer *dc = start_consumer(f, "g-dlq-reader", BUS_TOPIC_DLQ, &dlq, 0);
    struct bus_consumer *c = start_consumer(f, "g-poison", T_POISON, &work, 3);
    log_set_request_id("rid-poison");
    publish_key(f, T_POISON, "poison", 7);
    log_set_request_id(NULL);
    produce_raw(f, T_POISON, "raw-key", "not json{");

    assert_int_equal(recorder_wait(&dlq, 2, 0), 2);
    bus_consumer_stop(c);
    bus_consumer_stop(dc);
    assert_int_equal(work.calls, 3); /* max_attempts, and never for the invalid one */

    const json_t *p = dead_letter(&dlq, "poison");
    assert_string_equal(json_string_value(json_object_get(p, "topic")), T_POISON);
    assert_string_equal(json_string_value(json_object_get(p, "key")), "poison");
    assert_string_equal(json_string_value(json_object_get(p, "reason")), "handler_failed");
    assert_int_equal(json_integer_value(json_object_get(p, "error")), -EIO);
    assert_int_equal(json_integer_value(json_object_get(p, "attempts")), 3);
    assert_true(json_integer_value(json_object_get(p, "offset")) >= 0);
    assert_true(json_is_integer(json_object_get(p, "partition")));
    assert_int_equal(json_integer_value(json_object_get(json_object_get(p, "value"), "n")), 7);
    assert_string_equal(json_string_value(json_object_get(p, "request_id")), "rid-poison");
    assert_string_equal(recorder_find(&dlq, "poison")->rid_header, "rid-poison");

    const json_t *q = dead_letter(&dlq, "raw-key");
    assert_string_equal(json_string_value(json_object_get(q, "reason")), "invalid_json");
    assert_string_equal(json_string_value(json_object_get(q, "raw")), "not json{");
    assert_true(json_is_null(json_object_get(q, "value")));
    assert_int_equal(json_integer_value(json_object_get(q, "attempts")), 0);
    recorder_release(&work);
    recorder_release(&dlq);
}

/* A delivery the broker refuses reaches a waiting caller as an errno, and is counted. */
static void test_delivery_failure(void **state)
{
    static const struct {
        rd_kafka_resp_err_t broker_error;
        int expect;
    } cases[] = {
        {RD_KAFKA_RESP_ERR_INVALID_RECORD, -EIO},
        {RD_KAFKA_RESP_ERR_POLICY_VIOLATION, -EIO},
        {RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE, -EMSGSIZE},
    };
    struct fixture *f = *state;
    json_t *v = json_pack("{s:i}", "n", 1);
    uint64_t failures = bus_delivery_failures(f->bus);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        rd_kafka_mock_push_request_errors(f->mc, PRODUCE_API, 1, cases[i].broker_error);
        assert_int_equal(bus_publish_sync(f->bus, T_DELIVERY, "k", v, WAIT_MS), cases[i].expect);
        assert_int_equal(bus_delivery_failures(f->bus), failures + i + 1);
        /* the producer is still usable */
        assert_int_equal(bus_publish_sync(f->bus, T_DELIVERY, "k", v, WAIT_MS), 0);
    }
    /* without a waiter: counted (and logged once) by the delivery-report thread */
    failures = bus_delivery_failures(f->bus);
    rd_kafka_mock_push_request_errors(f->mc, PRODUCE_API, 1, RD_KAFKA_RESP_ERR_INVALID_RECORD);
    assert_int_equal(bus_publish(f->bus, T_DELIVERY, "k", v), 0);
    assert_int_equal(bus_flush(f->bus, WAIT_MS), 0);
    assert_int_equal(bus_delivery_failures(f->bus), failures + 1);
    json_decref(v);
}

/* ---- the ibx-devbroker binary ----------------------------------------------------------- */

/* 0 when the path fits in out. */
static int devbroker_path(char *out, size_t n)
{
    const char *dir = getenv("IBX_BIN_DIR");
    int len;
    if (dir && *dir) {
        len = snprintf(out, n, "%s/ibx-devbroker", dir);
        return len > 0 && (size_t)len < n ? 0 : -ENAMETOOLONG;
    }
    /* <build>/tests/integration/test_bus -> <build>/bin/ibx-devbroker */
    char self[PATH_MAX];
    ssize_t got = readlink("/proc/self/exe", self, sizeof(self) - 1);
    assert_true(got > 0);
    self[got] = '\0';
    for (int i = 0; i < 3; i++) {
        char *slash = strrchr(self, '/');
        assert_non_null(slash);
        *slash = '\0';
    }
    len = snprintf(out, n, "%s/bin/ibx-devbroker", self);
    return len > 0 && (size_t)len < n ? 0 : -ENAMETOOLONG;
}

/* Read the bootstrap file once it exists (bounded); 0 when found. */
static int read_bootstrap(const char *path, pid_t pid, char *out, size_t n)
{
    for (int waited = 0; waited < WAIT_MS; waited += 20) {
        FILE *fp = fopen(path, "r");
        if (fp) {
            char *got = fgets(out, (int)n, fp);
            fclose(fp);
            if (got) {
                out[strcspn(out, "\n")] = '\0';
                return 0;
            }
        }
        if (waitpid(pid, NULL, WNOHANG) == pid)
            return -ECHILD;
        sleep_ms(20);
    }
    return -ETIMEDOUT;
}

/* Wait (bounded) for pid to exit; its exit status, or -1 after killing it. */
static int reap(pid_t pid)
{
    int status = 0;
    for (int waited = 0; waited < WAIT_MS; waited += 20) {
        if (waitpid(pid, &status, WNOHANG) == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        sleep_ms(20);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return -1;
}

static void test_devbroker_binary(void **state)
{
    (void)state;
    char bin[PATH_MAX], dir[] = "/tmp/ibx-devbroker-test-XXXXXX", file[PATH_MAX + 32];
    char addr[256];
    assert_int_equal(devbroker_path(bin, sizeof(bin)), 0);
    if (access(bin, X_OK) != 0)
        fail_msg("%s not found: build it or set IBX_BIN_DIR", bin);
    assert_non_null(mkdtemp(dir));
    snprintf(file, sizeof(file), "%s/bootstrap", dir);

    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    char *argv[] = {bin, "--partitions", "2", "--bootstrap-file", file, NULL};
    pid_t pid = 0;
    assert_int_equal(posix_spawn(&pid, bin, &fa, NULL, argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);

    int rc = read_bootstrap(file, pid, addr, sizeof(addr));
    struct bus *b = NULL;
    int pub = -1, ping = -1;
    if (rc == 0 && bus_new(addr, "test-devbroker", &b) == 0) {
        json_t *v = json_pack("{s:s}", "event", "devbroker-test");
        pub = bus_publish_sync(b, BUS_TOPIC_USAGE, "k", v, WAIT_MS);
        ping = bus_ping(b, WAIT_MS);
        json_decref(v);
        bus_free(b);
    }
    kill(pid, SIGTERM);
    int status = reap(pid);
    int file_left = access(file, F_OK) == 0;
    unlink(file);
    rmdir(dir);

    assert_int_equal(rc, 0);
    assert_memory_equal(addr, "127.0.0.1:", 10);
    assert_int_equal(pub, 0);
    assert_int_equal(ping, 0);
    assert_int_equal(status, 0);
    assert_false(file_left);
}

int main(void)
{
    log_init("test-bus", LOG_LVL_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_topics_list),
        cmocka_unit_test(test_invalid_arguments),
        cmocka_unit_test(test_ping),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_retry_then_success),
        cmocka_unit_test(test_commit_after_success),
        cmocka_unit_test(test_dead_letters),
        cmocka_unit_test(test_delivery_failure),
        cmocka_unit_test(test_devbroker_binary),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
