/* ibx-devbroker: a local Kafka-protocol broker (librdkafka's mock cluster) for runs and tests. */
#include <ibx/bus.h>
#include <ibx/log.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct devbroker_opts {
    int brokers;
    int partitions;
    const char *bootstrap_file; /* NULL: stdout only */
};

static void devbroker_usage(FILE *f)
{
    fprintf(f, "usage: ibx-devbroker [--brokers N] [--partitions N] [--bootstrap-file PATH]\n"
               "  Starts an in-memory Kafka cluster on 127.0.0.1 with the suite's topics,\n"
               "  prints its bootstrap address and runs until SIGTERM or SIGINT.\n");
}

/* Parse a decimal int in [min, max]. */
static int devbroker_parse_int(const char *s, int min, int max, int *out)
{
    if (!s || !*s)
        return -EINVAL;
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max)
        return -EINVAL;
    *out = (int)v;
    return 0;
}

static int devbroker_parse_args(int argc, char **argv, struct devbroker_opts *o)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int rc = -EINVAL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            devbroker_usage(stdout);
            exit(0);
        } else if (strcmp(a, "--brokers") == 0) {
            rc = devbroker_parse_int(v, 1, 16, &o->brokers);
        } else if (strcmp(a, "--partitions") == 0) {
            rc = devbroker_parse_int(v, 1, 256, &o->partitions);
        } else if (strcmp(a, "--bootstrap-file") == 0 && v && *v) {
            o->bootstrap_file = v;
            rc = 0;
        }
        if (rc != 0) {
            fprintf(stderr, "ibx-devbroker: bad argument %s%s%s\n", a, v ? " " : "", v ? v : "");
            devbroker_usage(stderr);
            return -EINVAL;
        }
        i++;
    }
    return 0;
}

/* Write text to path atomically: a temporary file in the same directory, then rename. */
static int devbroker_write_file(const char *path, const char *text)
{
    char tmp[PATH_MAX];
    int n = snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
    if (n < 0 || (size_t)n >= sizeof(tmp))
        return -EINVAL;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    size_t len = strlen(text), off = 0;
    int rc = 0;
    while (off < len && rc == 0) {
        ssize_t w = write(fd, text + off, len - off);
        if (w < 0 && errno != EINTR)
            rc = -errno;
        else if (w > 0)
            off += (size_t)w;
    }
    if (rc == 0 && fsync(fd) != 0)
        rc = -errno;
    if (close(fd) != 0 && rc == 0)
        rc = -errno;
    if (rc == 0 && rename(tmp, path) != 0)
        rc = -errno;
    if (rc != 0)
        unlink(tmp);
    return rc;
}

struct devbroker_topic {
    rd_kafka_mock_cluster_t *mc;
    const char *name;
    int partitions;
    int replication;
    rd_kafka_resp_err_t err;
    pthread_t thread;
    int threaded;
};

static void *devbroker_topic_main(void *arg)
{
    struct devbroker_topic *t = arg;
    t->err = rd_kafka_mock_topic_create(t->mc, t->name, t->partitions, t->replication);
    return NULL;
}

/* Create the suite's topics, one thread each: librdkafka 2.0.2's mock cluster now and then
 * misses the wake-up for a control request and serves it only at its next 1 s poll
 * timeout. Requests issued together are served together, so start-up stays near 1 s at
 * worst instead of 1 s per topic. */
static int devbroker_create_topics(rd_kafka_mock_cluster_t *mc, const struct devbroker_opts *o)
{
    struct devbroker_topic t[BUS_TOPIC_COUNT];
    for (size_t i = 0; i < BUS_TOPIC_COUNT; i++) {
        t[i] = (struct devbroker_topic){.mc = mc,
                                        .name = bus_topics[i],
                                        .partitions = o->partitions,
                                        .replication = o->brokers < 3 ? o->brokers : 3};
        t[i].threaded = pthread_create(&t[i].thread, NULL, devbroker_topic_main, &t[i]) == 0;
        if (!t[i].threaded)
            devbroker_topic_main(&t[i]);
    }
    int rc = 0;
    for (size_t i = 0; i < BUS_TOPIC_COUNT; i++) {
        if (t[i].threaded)
            pthread_join(t[i].thread, NULL);
        if (t[i].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            log_error("cannot create topic %s: %s", t[i].name, rd_kafka_err2str(t[i].err));
            rc = -EIO;
        }
    }
    return rc;
}

static void devbroker_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    enum log_level lvl = level <= 3 ? LOG_LVL_ERROR : LOG_LVL_WARN;
    log_fields(lvl, json_pack("{s:s}", "facility", fac), "%s", buf);
}

/* A client handle that only hosts the mock cluster's threads. Its own log level is
 * "warning": it never connects anywhere, so the notice that it has no bootstrap.servers
 * would only mislead. */
static int devbroker_host_new(rd_kafka_t **out)
{
    static const char *const kv[][2] = {{"client.id", "ibx-devbroker"}, {"log_level", "4"}};
    char err[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    for (size_t i = 0; i < sizeof(kv) / sizeof(kv[0]); i++) {
        if (rd_kafka_conf_set(conf, kv[i][0], kv[i][1], err, sizeof(err)) != RD_KAFKA_CONF_OK) {
            rd_kafka_conf_destroy(conf);
            log_error("devbroker config: %s", err);
            return -EINVAL;
        }
    }
    rd_kafka_conf_set_log_cb(conf, devbroker_log_cb);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        log_error("cannot create the broker host handle: %s", err);
        return -EIO;
    }
    *out = rk;
    return 0;
}

/* Publish the address: on stdout, and in the bootstrap file when asked. */
static int devbroker_announce(const char *bootstraps, const struct devbroker_opts *o)
{
    char line[1024];
    int n = snprintf(line, sizeof(line), "%s\n", bootstraps);
    if (n < 0 || (size_t)n >= sizeof(line))
        return -EMSGSIZE;
    if (o->bootstrap_file) {
        int rc = devbroker_write_file(o->bootstrap_file, line);
        if (rc != 0) {
            log_error("cannot write %s: %s", o->bootstrap_file, strerror(-rc));
            return rc;
        }
    }
    fputs(line, stdout);
    fflush(stdout);
    return 0;
}

static int devbroker_wait_signal(const sigset_t *set)
{
    int sig = 0;
    while (sigwait(set, &sig) != 0)
        ;
    return sig;
}

static int devbroker_run(const struct devbroker_opts *o, const sigset_t *set)
{
    rd_kafka_t *host = NULL;
    int rc = devbroker_host_new(&host);
    if (rc != 0)
        return rc;
    rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(host, o->brokers);
    if (!mc) {
        log_error("cannot start the mock cluster");
        rc = -EIO;
        goto out_host;
    }
    rc = devbroker_create_topics(mc, o);
    if (rc != 0)
        goto out_cluster;
    const char *bootstraps = rd_kafka_mock_cluster_bootstraps(mc);
    rc = devbroker_announce(bootstraps, o);
    if (rc != 0)
        goto out_cluster;
    log_fields(LOG_LVL_INFO,
               json_pack("{s:s,s:i,s:i}", "bootstrap", bootstraps, "brokers", o->brokers,
                         "partitions", o->partitions),
               "devbroker ready");
    int sig = devbroker_wait_signal(set);
    log_info("devbroker stopping on signal %d", sig);
    if (o->bootstrap_file && unlink(o->bootstrap_file) != 0 && errno != ENOENT)
        log_warn("cannot remove %s: %s", o->bootstrap_file, strerror(errno));
out_cluster:
    rd_kafka_mock_cluster_destroy(mc);
out_host:
    rd_kafka_destroy(host);
    return rc;
}

int main(int argc, char **argv)
{
    struct devbroker_opts o = {.brokers = 1, .partitions = 4, .bootstrap_file = NULL};
    enum log_level lvl = LOG_LVL_INFO;
    const char *env = getenv("IBX_LOG_LEVEL");
    if (env && log_level_parse(env, &lvl) != 0) {
        fprintf(stderr, "ibx-devbroker: IBX_LOG_LEVEL must be debug, info, warn or error\n");
        return 2;
    }
    log_init("devbroker", lvl);
    if (devbroker_parse_args(argc, argv, &o) != 0)
        return 2;
    /* Block the stop signals before librdkafka starts threads so only sigwait sees them. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0) {
        log_error("cannot block signals");
        return 1;
    }
    return devbroker_run(&o, &set) == 0 ? 0 : 1;
}
