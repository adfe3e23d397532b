/* smetrics: per-model Prometheus series (requests, rows predicted, latency, errors). */
#include "serving.h"

#include <ibx/clock.h>
#include <ibx/metrics.h>

#include <stdio.h>

void smetrics_observe(const struct sv_entry *e, const char *api, size_t rows, double t0, int status)
{
    char labels[256] = "", version[16];
    snprintf(version, sizeof(version), "%d", e->version);
    if (metrics_label_append(labels, sizeof(labels), "model", e->name) != 0 ||
        metrics_label_append(labels, sizeof(labels), "version", version) != 0 ||
        metrics_label_append(labels, sizeof(labels), "api", api) != 0)
        return;
    metrics_counter_add("ibx_serving_requests_total", "requests to a deployed model", labels, 1);
    if (status >= 200 && status < 300)
        metrics_counter_add("ibx_serving_rows_total", "rows predicted or explained by a model",
                            labels, (double)rows);
    else
        metrics_counter_add("ibx_serving_errors_total", "requests to a model that failed", labels,
                            1);
    metrics_histogram_observe("ibx_serving_request_seconds",
                              "time to answer a request to a model (seconds)", labels,
                              clock_mono_s() - t0);
}
