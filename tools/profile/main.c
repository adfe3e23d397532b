/* ibx-profile: stream a table file through ingest (no columnar copy) and print its profile. */
#include <ibx/ingest.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define READ_BYTES (1u << 20)

static void usage(void)
{
    fprintf(stderr,
            "usage: ibx-profile [--quiet] [--threads N] FILE\n"
            "  streams FILE (CSV, TSV, JSON array of objects, JSON Lines) through the\n"
            "  upload profiler in 1 MiB reads and prints the profile as JSON;\n"
            "  --quiet prints a one-line summary instead; --threads N profiles on N\n"
            "  threads (0, the default: one per CPU; the profile is the same for any N).\n");
}

/* A thread count: digits only, at most 1024. */
static int parse_threads(const char *s, size_t *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || !end || end == s || *end || s[0] == '-' || v > 1024)
        return -EINVAL;
    *out = v;
    return 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Push the whole file; 0 or the ingest error. */
static int feed(struct ingest *g, FILE *f)
{
    char *buf = malloc(READ_BYTES);
    if (!buf)
        return -ENOMEM;
    int rc = 0;
    size_t n;
    while (rc == 0 && (n = fread(buf, 1, READ_BYTES, f)) > 0)
        rc = ingest_push(g, buf, n);
    if (rc == 0 && ferror(f))
        rc = -EIO;
    free(buf);
    return rc;
}

static void summary(const json_t *d, double secs)
{
    printf("format=%s rows=%lld columns=%lld missing_cells=%lld missing_percentage=%.3f "
           "seconds=%.3f\n",
           json_string_value(json_object_get(d, "format")),
           (long long)json_integer_value(json_object_get(d, "row_count")),
           (long long)json_integer_value(json_object_get(d, "column_count")),
           (long long)json_integer_value(json_object_get(d, "missing_cells")),
           json_real_value(json_object_get(d, "missing_percentage")), secs);
}

int main(int argc, char **argv)
{
    int quiet = 0;
    size_t threads = 0;
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quiet") == 0) {
            quiet = 1;
        } else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
            if (parse_threads(argv[++i], &threads) != 0) {
                usage();
                return 2;
            }
        } else if (argv[i][0] == '-' || path) {
            usage();
            return 2;
        } else {
            path = argv[i];
        }
    }
    if (!path) {
        usage();
        return 2;
    }
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "ibx-profile: %s: %s\n", path, strerror(errno));
        return 1;
    }
    double t0 = now_s();
    struct ingest_opts o = {.filename = path, .threads = threads};
    struct ingest *g = NULL;
    json_t *doc = NULL;
    int rc = ingest_new(&o, &g);
    if (rc == 0)
        rc = feed(g, f);
    if (rc == 0)
        rc = ingest_finish(g, &doc);
    fclose(f);
    if (rc != 0) {
        fprintf(stderr, "ibx-profile: %s: %s (%s)\n", path, g ? ingest_error(g) : "",
                strerror(-rc));
        ingest_free(g);
        return 1;
    }
    if (quiet)
        summary(doc, now_s() - t0);
    else if (json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(10)) == 0)
        putchar('\n');
    json_decref(doc);
    ingest_free(g);
    return 0;
}
