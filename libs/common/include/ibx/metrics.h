/* metrics: a process-wide, thread-safe registry of counters, gauges and histograms,
 * rendered in the Prometheus text exposition format 0.0.4.
 *
 * A series is a metric name plus a label string, preformatted as k="v",k2="v2" (values
 * escaped with metrics_escape_label() or built with metrics_label_append(); "" or NULL for
 * none). Names match [a-zA-Z_:][a-zA-Z0-9_:]* (at most 128 bytes); at most
 * METRICS_MAX_LABELS labels, names [a-zA-Z_][a-zA-Z0-9_]* not starting with "__", no name
 * twice, values valid UTF-8; the same labels in another order are another series.
 * The first call for a series validates and creates it (one allocation); later calls find
 * it without a lock or an allocation and update it atomically. The help text and type are
 * taken from the first call for a name; names and help texts are copied.
 *
 * Bounds: at most METRICS_MAX_SERIES series, METRICS_MAX_FAMILIES names, and labels of at
 * most METRICS_MAX_LABELS_LEN bytes, so hostile label values cannot grow memory without
 * limit. An update that would need a series past a bound, or that is invalid (bad name
 * or label syntax, a name reused with another type, a negative or NaN counter
 * increment, "le" in histogram labels), is dropped: it is counted in
 * ibx_metrics_dropped_total{reason="series_limit"|"invalid"} and the first drop of each
 * reason is logged as a warning. Existing series keep working. */
#ifndef IBX_METRICS_H
#define IBX_METRICS_H

#include <ibx/buf.h>

#include <stddef.h>

#define METRICS_MAX_SERIES     10000
#define METRICS_MAX_FAMILIES   1024
#define METRICS_MAX_LABELS_LEN 1024
#define METRICS_MAX_BUCKETS    32
#define METRICS_MAX_LABELS     16
#define METRICS_CONTENT_TYPE   "text/plain; version=0.0.4; charset=utf-8"

/* name, help and labels are borrowed for the duration of the call. */
void metrics_counter_add(const char *name, const char *help, const char *labels, double v);
void metrics_gauge_set(const char *name, const char *help, const char *labels, double v);
void metrics_gauge_add(const char *name, const char *help, const char *labels, double v);
/* Uses the family's buckets: the default latency buckets (0.0005 .. 10 seconds) unless
 * metrics_histogram_define() set others first. */
void metrics_histogram_observe(const char *name, const char *help, const char *labels, double v);

/* Declare a histogram family with its own upper bounds (strictly increasing, finite,
 * 1..METRICS_MAX_BUCKETS of them; +Inf is implied). bounds is copied. 0; -EEXIST when the
 * name already exists (with any buckets or type); -EINVAL (bad name or bounds);
 * -EMSGSIZE when METRICS_MAX_FAMILIES names exist; -ENOMEM. */
int metrics_histogram_define(const char *name, const char *help, const double *bounds, size_t n)
    __attribute__((warn_unused_result));

/* Append the whole registry to out: families sorted by name, series by labels, then
 * ibx_metrics_dropped_total. Families without series are left out.
 * 0, or -EMSGSIZE/-ENOMEM with out unchanged. */
int metrics_render(struct buf *out) __attribute__((warn_unused_result));

/* Tests only: forget every series and family. Must not run concurrently with any other
 * metrics call. */
void metrics_reset(void);

/* Escape a label value (backslash, double quote, newline) into out, NUL-terminated.
 * 0, or -EMSGSIZE (out holds "" when outsize > 0). */
int metrics_escape_label(const char *value, char *out, size_t outsize)
    __attribute__((warn_unused_result));

/* Append key="escaped value" to the NUL-terminated label string in out (with a comma
 * when out is not empty). 0; -EINVAL (key is not a label name); -EMSGSIZE. out is
 * unchanged on failure. */
int metrics_label_append(char *out, size_t outsize, const char *key, const char *value)
    __attribute__((warn_unused_result));

#endif
