/* test_metrics: registry rendering, escaping, histogram buckets, bounds and concurrency. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ibx/buf.h>
#include <ibx/log.h>
#include <ibx/metrics.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DROPPED_HDR                                                                                \
    "# HELP ibx_metrics_dropped_total Metric updates dropped by the registry\n"                    \
    "# TYPE ibx_metrics_dropped_total counter\n"
#define NO_DROPS                                                                                   \
    DROPPED_HDR "ibx_metrics_dropped_total{reason=\"series_limit\"} 0\n"                           \
                "ibx_metrics_dropped_total{reason=\"invalid\"} 0\n"

static int reset(void **state)
{
    (void)state;
    metrics_reset();
    return 0;
}

static char *render(void)
{
    struct buf b;
    buf_init(&b, 64 * 1024 * 1024);
    assert_int_equal(metrics_render(&b), 0);
    char *s = buf_steal(&b);
    assert_non_null(s);
    return s;
}

/* The value on the line that starts with prefix (prefix ends before the value). */
static const char *line_value(const char *text, const char *prefix, char *out, size_t n)
{
    size_t plen = strlen(prefix);
    for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        if (strncmp(p, prefix, plen) == 0 && p[plen] == ' ') {
            snprintf(out, n, "%.*s", (int)strcspn(p + plen + 1, "\n"), p + plen + 1);
            return out;
        }
    }
    return NULL;
}

static void test_render_small_registry(void **state)
{
    (void)state;
    static const double bounds[] = {100, 1000};
    assert_int_equal(metrics_histogram_define("body_bytes", "Body sizes", bounds, 2), 0);
    for (int i = 0; i < 3; i++)
        metrics_counter_add("http_requests_total", "HTTP requests handled",
                            "method=\"GET\",status=\"200\"", 1);
    metrics_counter_add("http_requests_total", "other help is ignored",
                        "method=\"POST\",status=\"201\"", 1);
    metrics_gauge_set("ibx_inflight", "Requests in flight", "", 3);
    metrics_gauge_add("ibx_inflight", "Requests in flight", NULL, -1);
    metrics_gauge_set("a_ratio", "A ratio", "x=\"1\"", 0.1);
    metrics_histogram_observe("body_bytes", "ignored", "", 50);
    metrics_histogram_observe("body_bytes", "ignored", "", 100); /* le is inclusive */
    metrics_histogram_observe("body_bytes", "ignored", "", 500);
    metrics_histogram_observe("body_bytes", "ignored", "", 5000);
    char *text = render();
    assert_string_equal(text, "# HELP a_ratio A ratio\n"
                              "# TYPE a_ratio gauge\n"
                              "a_ratio{x=\"1\"} 0.1\n"
                              "# HELP body_bytes Body sizes\n"
                              "# TYPE body_bytes histogram\n"
                              "body_bytes_bucket{le=\"100\"} 2\n"
                              "body_bytes_bucket{le=\"1000\"} 3\n"
                              "body_bytes_bucket{le=\"+Inf\"} 4\n"
                              "body_bytes_sum 5650\n"
                              "body_bytes_count 4\n"
                              "# HELP http_requests_total HTTP requests handled\n"
                              "# TYPE http_requests_total counter\n"
                              "http_requests_total{method=\"GET\",status=\"200\"} 3\n"
                              "http_requests_total{method=\"POST\",status=\"201\"} 1\n"
                              "# HELP ibx_inflight Requests in flight\n"
                              "# TYPE ibx_inflight gauge\n"
                              "ibx_inflight 2\n" NO_DROPS);
    free(text);
}

static void test_empty_registry(void **state)
{
    (void)state;
    char *text = render();
    assert_string_equal(text, NO_DROPS);
    free(text);
}

static void test_default_buckets(void **state)
{
    (void)state;
    metrics_histogram_observe("lat_seconds", "Latency", "route=\"/x\"", 0.003);
    metrics_histogram_observe("lat_seconds", "Latency", "route=\"/x\"", 0.0005);
    metrics_histogram_observe("lat_seconds", "Latency", "route=\"/x\"", 11);
    char *text = render();
    const char *want = "# HELP lat_seconds Latency\n"
                       "# TYPE lat_seconds histogram\n"
                       "lat_seconds_bucket{route=\"/x\",le=\"0.0005\"} 1\n"
                       "lat_seconds_bucket{route=\"/x\",le=\"0.001\"} 1\n"
                       "lat_seconds_bucket{route=\"/x\",le=\"0.0025\"} 1\n"
                       "lat_seconds_bucket{route=\"/x\",le=\"0.005\"} 2\n"
                       "lat_seconds_bucket{route=\"/x\",le=\"0.01\"} 2\n"
                       "lat_seconds_bucket{route=\"/x\",le=\"0.025\"} 2\n"
                       "lat_seconds_bucket{route=\"/x\",le=\"0.05\"} 2\n"
                       "lat_seconds_bucket{route=\"/x\",le=\"0.1\"} 2\n"
                       "lat_seconds_bucket{route=\"/x\",le=\"0.25\"} 2\n"
                       "lat_seconds_bucket{route=\"/x\",le=\"0.5\"} 2\n"
                       "lat_seconds_bucket{route=\"/x\",le=\"1\"} 2\n"
                       "lat_seconds_bucket{route=\"/x\",le=\"2.5\"} 2\n"
                       "lat_seconds_bucket{route=\"/x\",le=\"5\"} 2\n"
                       "lat_seconds_bucket{route=\"/x\",le=\"10\"} 2\n"
                       "lat_seconds_bucket{route=\"/x\",le=\"+Inf\"} 3\n"
                       "lat_seconds_sum 11.0035\n"
                       "lat_seconds_count 3\n";
    /* _sum and _count carry the series labels too */
    assert_null(strstr(text, "lat_seconds_sum 11"));
    assert_non_null(strstr(text, "lat_seconds_sum{route=\"/x\"} 11.0035\n"));
    assert_non_null(strstr(text, "lat_seconds_count{route=\"/x\"} 3\n"));
    assert_memory_equal(text, want, strstr(want, "lat_seconds_sum") - want);
    free(text);
}

/* Bucket counts are cumulative, end at _count, and match a direct count per bound. */
static void test_bucket_cumulativity(void **state)
{
    (void)state;
    static const double bounds[] = {1, 2, 4, 8};
    static const double values[] = {0, 0.5, 1, 1.5, 2, 3, 4, 4.01, 7, 8, 9, 100, -3, INFINITY};
    assert_int_equal(metrics_histogram_define("h", "h", bounds, 4), 0);
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++)
        metrics_histogram_observe("h", "h", "k=\"v\"", values[i]);
    char *text = render();
    char prefix[64], val[64];
    unsigned long prev = 0;
    for (size_t b = 0; b <= 4; b++) {
        if (b < 4)
            snprintf(prefix, sizeof(prefix), "h_bucket{k=\"v\",le=\"%g\"}", bounds[b]);
        else
            snprintf(prefix, sizeof(prefix), "h_bucket{k=\"v\",le=\"+Inf\"}");
        assert_non_null(line_value(text, prefix, val, sizeof(val)));
        unsigned long got = strtoul(val, NULL, 10), want = 0;
        for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++)
            want += b == 4 || values[i] <= bounds[b];
        assert_int_equal(got, want);
        assert_true(got >= prev);
        prev = got;
    }
    assert_non_null(line_value(text, "h_count{k=\"v\"}", val, sizeof(val)));
    assert_int_equal(strtoul(val, NULL, 10), prev);
    assert_non_null(line_value(text, "h_sum{k=\"v\"}", val, sizeof(val)));
    assert_string_equal(val, "+Inf");
    free(text);
}

static const struct {
    const char *in, *out;
} escape_cases[] = {
    {"plain", "plain"},
    {"", ""},
    {"a\"b", "a\\\"b"},
    {"a\\b", "a\\\\b"},
    {"a\nb", "a\\nb"},
    {"\\\"\n", "\\\\\\\"\\n"},
    {"tab\tstays", "tab\tstays"},
    {"ünïcödé", "ünïcödé"},
};

static void test_escape_label(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(escape_cases) / sizeof(escape_cases[0]); i++) {
        char out[64];
        assert_int_equal(metrics_escape_label(escape_cases[i].in, out, sizeof(out)), 0);
        assert_string_equal(out, escape_cases[i].out);
        /* exactly enough room, and one byte less */
        size_t need = strlen(escape_cases[i].out) + 1;
        assert_int_equal(metrics_escape_label(escape_cases[i].in, out, need), 0);
        assert_int_equal(metrics_escape_label(escape_cases[i].in, out, need - 1), -EMSGSIZE);
        if (need > 1)
            assert_string_equal(out, "");
    }
}

static void test_label_append_and_render(void **state)
{
    (void)state;
    char labels[64] = "";
    assert_int_equal(metrics_label_append(labels, sizeof(labels), "route", "/x\"y\\z\n"), 0);
    assert_int_equal(metrics_label_append(labels, sizeof(labels), "method", "GET"), 0);
    assert_string_equal(labels, "route=\"/x\\\"y\\\\z\\n\",method=\"GET\"");
    assert_int_equal(metrics_label_append(labels, sizeof(labels), "bad-key", "v"), -EINVAL);
    char small[16] = "a=\"1\"";
    /* a="1" + ,b="12345" + NUL is exactly 16 bytes */
    assert_int_equal(metrics_label_append(small, sizeof(small), "b", "123456"), -EMSGSIZE);
    assert_string_equal(small, "a=\"1\"");
    assert_int_equal(metrics_label_append(small, sizeof(small), "b", "1234\""), -EMSGSIZE);
    assert_string_equal(small, "a=\"1\"");
    assert_int_equal(metrics_label_append(small, sizeof(small), "b", "12345"), 0);
    assert_string_equal(small, "a=\"1\",b=\"12345\"");
    metrics_counter_add("req_total", "Requests\nper route \\ method", labels, 2);
    char *text = render();
    assert_non_null(strstr(text, "# HELP req_total Requests\\nper route \\\\ method\n"));
    assert_non_null(strstr(text, "req_total{route=\"/x\\\"y\\\\z\\n\",method=\"GET\"} 2\n"));
    free(text);
}

static const struct {
    const char *name, *labels;
} invalid_cases[] = {
    {"1abc", ""},
    {"a-b", ""},
    {"", ""},
    {NULL, ""},
    {"ok_name", "k=v"},
    {"ok_name", "k=\"v"},
    {"ok_name", "k=\"a\"b\""},
    {"ok_name", "k=\"a\nb\""},
    {"ok_name", "k=\"a\\tb\""},
    {"ok_name", "k=\"v\","},
    {"ok_name", "k=\"v\",,j=\"w\""},
    {"ok_name", "k=\"v\"j=\"w\""},
    {"ok_name", "k=\"v\",k=\"w\""},
    {"ok_name", "__k=\"v\""},
    {"ok_name", "1k=\"v\""},
    {"ok_name", "=\"v\""},
    {"ok_name", "k=\"\xff\""},
    {"ok_name", "k=\"\xc0\xaf\""},     /* overlong */
    {"ok_name", "k=\"\xed\xa0\x80\""}, /* surrogate */
    {"ok_name", "a=\"1\",b=\"1\",c=\"1\",d=\"1\",e=\"1\",f=\"1\",g=\"1\",h=\"1\",i=\"1\","
                "j=\"1\",k=\"1\",l=\"1\",m=\"1\",n=\"1\",o=\"1\",p=\"1\",q=\"1\""},
};

static void test_invalid_updates_dropped(void **state)
{
    (void)state;
    char path[] = "/tmp/test_metrics_log_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    log_init("test", LOG_LVL_DEBUG);
    log_set_fd(fd);
    metrics_counter_add("ok_name", "h", "", 1); /* valid: ok_name is a counter */
    size_t n = sizeof(invalid_cases) / sizeof(invalid_cases[0]);
    for (size_t i = 0; i < n; i++)
        metrics_counter_add(invalid_cases[i].name, "h", invalid_cases[i].labels, 1);
    char long_labels[METRICS_MAX_LABELS_LEN + 8];
    snprintf(long_labels, sizeof(long_labels), "k=\"%0*d\"", METRICS_MAX_LABELS_LEN, 0);
    metrics_gauge_set("ok_name", "h", long_labels, 1);
    metrics_counter_add("ok_name", "h", "", -1); /* counters only go up */
    metrics_counter_add("ok_name", "h", "", NAN);
    metrics_histogram_observe("hist", "h", "", NAN);
    metrics_histogram_observe("hist", "h", "le=\"1\"", 1); /* le is reserved */
    metrics_gauge_set("ok_name", "h", "", 1);              /* ok_name is a counter */
    metrics_histogram_observe("ok_name", "h", "", 1);
    size_t dropped = n + 7;
    log_set_fd(2);

    char *text = render();
    char val[32];
    assert_non_null(
        line_value(text, "ibx_metrics_dropped_total{reason=\"invalid\"}", val, sizeof(val)));
    assert_int_equal(strtoul(val, NULL, 10), dropped);
    assert_non_null(strstr(text, "# TYPE ok_name counter\nok_name 1\n"));
    assert_null(strstr(text, "hist"));
    free(text);

    char logs[4096];
    assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
    ssize_t got = read(fd, logs, sizeof(logs) - 1);
    close(fd);
    assert_true(got > 0);
    logs[got] = '\0';
    assert_non_null(strstr(logs, "invalid update"));
    assert_ptr_equal(strchr(logs, '\n'), logs + got - 1); /* warned once */
}

static void test_series_bound(void **state)
{
    (void)state;
    char labels[32];
    int devnull = open("/dev/null", O_WRONLY);
    assert_true(devnull >= 0);
    log_set_fd(devnull); /* the limit is logged once */
    for (int i = 0; i < METRICS_MAX_SERIES; i++) {
        snprintf(labels, sizeof(labels), "i=\"%d\"", i);
        metrics_counter_add("many_total", "many", labels, 1);
    }
    for (int i = 0; i < 5; i++) {
        snprintf(labels, sizeof(labels), "i=\"extra%d\"", i);
        metrics_counter_add("many_total", "many", labels, 1);
    }
    metrics_gauge_set("new_family", "new", "", 1);           /* a new family needs a series too */
    metrics_counter_add("many_total", "many", "i=\"7\"", 1); /* existing series still count */
    log_set_fd(2);
    close(devnull);
    char *text = render();
    char val[32];
    assert_non_null(line_value(text, "many_total{i=\"7\"}", val, sizeof(val)));
    assert_string_equal(val, "2");
    assert_non_null(line_value(text, "many_total{i=\"9999\"}", val, sizeof(val)));
    assert_null(strstr(text, "extra"));
    assert_null(strstr(text, "new_family "));
    assert_non_null(
        line_value(text, "ibx_metrics_dropped_total{reason=\"series_limit\"}", val, sizeof(val)));
    assert_string_equal(val, "6");
    size_t lines = 0;
    for (const char *p = strstr(text, "many_total{"); p; p = strstr(p + 1, "\nmany_total{"))
        lines++;
    assert_int_equal(lines, METRICS_MAX_SERIES);
    free(text);
}

#define THREADS 8
#define ITERS   20000

static void *hammer(void *arg)
{
    long t = (long)(intptr_t)arg;
    char own[32], shared[32];
    snprintf(own, sizeof(own), "thread=\"%ld\"", t);
    for (int i = 0; i < ITERS; i++) {
        snprintf(shared, sizeof(shared), "k=\"%d\"", i % 50); /* created concurrently */
        metrics_counter_add("hits_total", "hits", "", 1);
        metrics_counter_add("shared_total", "shared", shared, 0.5);
        metrics_gauge_add("level", "level", own, 1);
        metrics_histogram_observe("obs", "obs", "", (double)(i % 4));
    }
    return NULL;
}

static void test_concurrency(void **state)
{
    (void)state;
    pthread_t th[THREADS];
    for (long t = 0; t < THREADS; t++)
        assert_int_equal(pthread_create(&th[t], NULL, hammer, (void *)(intptr_t)t), 0);
    for (int t = 0; t < THREADS; t++)
        assert_int_equal(pthread_join(th[t], NULL), 0);
    char *text = render();
    char val[64], prefix[64];
    assert_non_null(line_value(text, "hits_total", val, sizeof(val)));
    assert_int_equal(strtol(val, NULL, 10), THREADS * ITERS);
    for (int k = 0; k < 50; k++) {
        snprintf(prefix, sizeof(prefix), "shared_total{k=\"%d\"}", k);
        assert_non_null(line_value(text, prefix, val, sizeof(val)));
        assert_int_equal(strtol(val, NULL, 10), THREADS * ITERS / 50 / 2);
    }
    for (int t = 0; t < THREADS; t++) {
        snprintf(prefix, sizeof(prefix), "level{thread=\"%d\"}", t);
        assert_non_null(line_value(text, prefix, val, sizeof(val)));
        assert_int_equal(strtol(val, NULL, 10), ITERS);
    }
    assert_non_null(line_value(text, "obs_count", val, sizeof(val)));
    assert_int_equal(strtol(val, NULL, 10), THREADS * ITERS);
    assert_non_null(line_value(text, "obs_sum", val, sizeof(val)));
    assert_int_equal(strtol(val, NULL, 10), THREADS * (ITERS / 4) * (0 + 1 + 2 + 3));
    assert_non_null(line_value(text, "obs_bucket{le=\"1\"}", val, sizeof(val)));
    assert_int_equal(strtol(val, NULL, 10), THREADS * ITERS / 2);
    free(text);
}

static const struct {
    double v;
    const char *text;
} value_cases[] = {
    {0, "0"},
    {-0.0, "-0"},
    {42, "42"},
    {0.1, "0.1"},
    {0.1 + 0.2, "0.30000000000000004"},
    {1e-7, "1e-07"},
    {1e21, "1e+21"},
    {123456789012, "123456789012"},
    {-2.5, "-2.5"},
    {INFINITY, "+Inf"},
    {-INFINITY, "-Inf"},
    {NAN, "NaN"},
};

static void test_value_format(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(value_cases) / sizeof(value_cases[0]); i++) {
        metrics_gauge_set("g", "g", "", value_cases[i].v);
        char *text = render();
        char val[64];
        assert_non_null(line_value(text, "g", val, sizeof(val)));
        assert_string_equal(val, value_cases[i].text);
        free(text);
    }
}

static void test_render_limits(void **state)
{
    (void)state;
    metrics_counter_add("c_total", "c", "", 1);
    struct buf b;
    buf_init(&b, 40);
    assert_int_equal(buf_append_str(&b, "prefix\n"), 0);
    assert_int_equal(metrics_render(&b), -EMSGSIZE);
    assert_string_equal(buf_str(&b), "prefix\n"); /* unchanged */
    buf_release(&b);
    buf_init(&b, 1 << 20);
    assert_int_equal(buf_append_str(&b, "prefix\n"), 0);
    assert_int_equal(metrics_render(&b), 0);
    assert_true(strncmp(buf_str(&b), "prefix\n# HELP c_total c\n", 24) == 0);
    buf_release(&b);
}

static void test_histogram_define(void **state)
{
    (void)state;
    static const double ok[] = {1, 2, 3};
    static const double flat[] = {1, 1};
    static const double down[] = {2, 1};
    static const double inf[] = {1, INFINITY};
    static const double nan[] = {NAN};
    double many[METRICS_MAX_BUCKETS + 1];
    for (size_t i = 0; i < sizeof(many) / sizeof(many[0]); i++)
        many[i] = (double)i;
    assert_int_equal(metrics_histogram_define("d", "d", ok, 3), 0);
    assert_int_equal(metrics_histogram_define("d", "d", ok, 3), -EEXIST);
    metrics_counter_add("c_total", "c", "", 1);
    assert_int_equal(metrics_histogram_define("c_total", "c", ok, 3), -EEXIST);
    assert_int_equal(metrics_histogram_define("e", "e", flat, 2), -EINVAL);
    assert_int_equal(metrics_histogram_define("e", "e", down, 2), -EINVAL);
    assert_int_equal(metrics_histogram_define("e", "e", inf, 2), -EINVAL);
    assert_int_equal(metrics_histogram_define("e", "e", nan, 1), -EINVAL);
    assert_int_equal(metrics_histogram_define("e", "e", ok, 0), -EINVAL);
    assert_int_equal(metrics_histogram_define("e", "e", many, METRICS_MAX_BUCKETS + 1), -EINVAL);
    assert_int_equal(metrics_histogram_define("e", "e", many, METRICS_MAX_BUCKETS), 0);
    assert_int_equal(metrics_histogram_define("bad name", "e", ok, 3), -EINVAL);
    /* a defined family without observations is not rendered */
    char *text = render();
    assert_null(strstr(text, "# TYPE d "));
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_render_small_registry, reset),
        cmocka_unit_test_setup(test_empty_registry, reset),
        cmocka_unit_test_setup(test_default_buckets, reset),
        cmocka_unit_test_setup(test_bucket_cumulativity, reset),
        cmocka_unit_test_setup(test_escape_label, reset),
        cmocka_unit_test_setup(test_label_append_and_render, reset),
        cmocka_unit_test_setup(test_invalid_updates_dropped, reset),
        cmocka_unit_test_setup(test_series_bound, reset),
        cmocka_unit_test_setup(test_concurrency, reset),
        cmocka_unit_test_setup(test_value_format, reset),
        cmocka_unit_test_setup(test_render_limits, reset),
        cmocka_unit_test_setup(test_histogram_define, reset),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    metrics_reset();
    return rc;
}
