/* ibx-loadgen: open-loop HTTP load at a fixed rate; prints the latency distribution. */
#include "loadgen.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void loadgen_usage(FILE *f)
{
    fprintf(f, "usage: ibx-loadgen -r RATE [-d SECONDS] [-c CONNECTIONS] [-H 'Name: value']...\n"
               "                   [--timeout SECONDS] [--kv] URL\n"
               "  Sends GET URL at RATE requests a second for SECONDS (default 10) over\n"
               "  CONNECTIONS kept-alive connections (default 64), whatever the server does,\n"
               "  and prints the latency of each answer counted from its scheduled send time\n"
               "  (p50, p90, p99, p99.9, max). --kv prints one line of key=value instead.\n");
}

/* Parse a decimal number in [min, max] (a trailing "s" is allowed for durations). */
static int loadgen_number(const char *s, double min, double max, double *out)
{
    if (!s || !*s)
        return -EINVAL;
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (errno != 0 || end == s || (*end && strcmp(end, "s") != 0) || !(v >= min && v <= max))
        return -EINVAL;
    *out = v;
    return 0;
}

struct loadgen_args {
    struct lg_opts o;
    int kv;
    const char *url;
};

/* One option (and its value): the count of arguments used, or -EINVAL. */
static int loadgen_option(struct loadgen_args *a, const char *k, const char *v)
{
    double d = 0;
    if (strcmp(k, "--kv") == 0) {
        a->kv = 1;
        return 1;
    }
    if (strcmp(k, "-H") == 0 || strcmp(k, "--header") == 0) {
        if (!v || !strchr(v, ':') || strpbrk(v, "\r\n") || a->o.nheaders == LG_MAX_HEADERS)
            return -EINVAL;
        a->o.headers[a->o.nheaders++] = v;
        return 2;
    }
    if (strcmp(k, "-r") == 0 || strcmp(k, "--rate") == 0)
        return loadgen_number(v, 0.001, 10000000, &a->o.rate) ? -EINVAL : 2;
    if (strcmp(k, "-d") == 0 || strcmp(k, "--duration") == 0)
        return loadgen_number(v, 0.001, 86400, &a->o.duration_s) ? -EINVAL : 2;
    if (strcmp(k, "--timeout") == 0)
        return loadgen_number(v, 0.001, 3600, &a->o.timeout_s) ? -EINVAL : 2;
    if (strcmp(k, "-c") == 0 || strcmp(k, "--connections") == 0) {
        if (loadgen_number(v, 1, 10000, &d) != 0 || d != (double)(int)d)
            return -EINVAL;
        a->o.conns = (int)d;
        return 2;
    }
    return -EINVAL;
}

static int loadgen_parse(int argc, char **argv, struct loadgen_args *a)
{
    a->o.duration_s = 10;
    a->o.conns = 64;
    a->o.timeout_s = 10;
    for (int i = 1; i < argc;) {
        if (argv[i][0] != '-') {
            if (a->url)
                return -EINVAL;
            a->url = argv[i++];
            continue;
        }
        int used = loadgen_option(a, argv[i], i + 1 < argc ? argv[i + 1] : NULL);
        if (used < 0) {
            fprintf(stderr, "ibx-loadgen: bad option or value: %s\n", argv[i]);
            return -EINVAL;
        }
        i += used;
    }
    if (!a->url || a->o.rate <= 0 || lg_parse_url(a->url, &a->o) != 0)
        return -EINVAL;
    return 0;
}

static void loadgen_report(const struct loadgen_args *a, const struct lg_result *r)
{
    static const double qs[] = {0.5, 0.9, 0.99, 0.999, 1.0};
    static const char *const names[] = {"p50", "p90", "p99", "p99.9", "max"};
    double achieved = r->elapsed_s > 0 ? (double)(r->ok + r->non2xx) / r->elapsed_s : 0;
    if (a->kv) {
        printf("rate=%.0f achieved=%.0f scheduled=%llu ok=%llu non2xx=%llu errors=%llu "
               "timeouts=%llu unsent=%llu",
               a->o.rate, achieved, (unsigned long long)r->scheduled, (unsigned long long)r->ok,
               (unsigned long long)r->non2xx, (unsigned long long)r->errors,
               (unsigned long long)r->timeouts, (unsigned long long)r->unsent);
        for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++)
            printf(" %s_us=%.1f", names[i], (double)lg_quantile(r, qs[i]) / 1000.0);
        printf("\n");
        return;
    }
    unsigned long long answered = r->ok + r->non2xx;
    printf("ibx-loadgen: GET %s at %.0f req/s for %.1f s on %d connections\n", a->url, a->o.rate,
           a->o.duration_s, a->o.conns);
    printf("  answered %llu (2xx %llu, other %llu), errors %llu, timeouts %llu, unsent %llu; "
           "%.0f req/s\n",
           answered, (unsigned long long)r->ok, (unsigned long long)r->non2xx,
           (unsigned long long)r->errors, (unsigned long long)r->timeouts,
           (unsigned long long)r->unsent, achieved);
    printf("  latency from the scheduled send time:");
    for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++)
        printf(" %s %.3f ms", names[i], (double)lg_quantile(r, qs[i]) / 1e6);
    printf("\n");
}

int main(int argc, char **argv)
{
    struct loadgen_args a;
    memset(&a, 0, sizeof(a));
    if (argc > 1 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        loadgen_usage(stdout);
        return 0;
    }
    if (loadgen_parse(argc, argv, &a) != 0) {
        loadgen_usage(stderr);
        return 2;
    }
    struct lg_result r;
    int rc = lg_run(&a.o, &r);
    if (rc) {
        fprintf(stderr, "ibx-loadgen: %s\n",
                rc == -ECONNREFUSED ? "cannot connect to the server" : strerror(-rc));
        return 1;
    }
    loadgen_report(&a, &r);
    int failed = r.errors > 0 || r.timeouts > 0;
    lg_result_release(&r);
    return failed ? 1 : 0;
}
