/* expevents: GET /experiments/{id}/events, the progress of one run as Server-Sent Events.
 *
 * The stream follows the experiments row (polled every 200 ms) rather than
 * ibx.pipeline.events: the row is the truth and is the same for every API replica, a
 * client that connects late still gets the current state first, and no consumer group per
 * connection (or fan-out from one consumer) is needed. Events: "progress" with the state
 * ({"id","status","progress","stage","error","updated_at"}) at once and at every change,
 * then one event named after the terminal status (completed, failed, cancelled; "deleted"
 * when the row goes away) and the end of the stream. */
#include "pipeline.h"

#include <ibx/clock.h>
#include <ibx/ids.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define EXPEV_POLL_MS      200
#define EXPEV_KEEPALIVE_MS 15000

struct expev {
    struct svc *svc;
    char id[37];
    char *last; /* the last state sent (JSON text), NULL before the first */
    long seq;
    int ended;
};

static void expev_free(void *ctx)
{
    struct expev *e = ctx;
    free(e->last);
    free(e);
}

static int expev_terminal(const char *status)
{
    return status && (strcmp(status, "completed") == 0 || strcmp(status, "failed") == 0 ||
                      strcmp(status, "cancelled") == 0);
}

static int expev_emit(struct expev *e, struct buf *out, const char *event, const char *data)
{
    char seq[24];
    snprintf(seq, sizeof(seq), "%ld", ++e->seq);
    return http_sse_format(out, event, seq, data) == 0 ? 1 : -1;
}

/* One look at the row: 1 with an event written, 0 when nothing changed, -1 at the end. */
static int expev_look(struct expev *e, struct buf *out)
{
    json_t *st = NULL;
    int rc = store_run_state(e->svc, e->id, &st);
    if (rc == -ENOENT) {
        e->ended = 1;
        return expev_emit(e, out, "deleted", "{\"status\":\"deleted\"}");
    }
    if (rc)
        return 0; /* the database is away for a moment: try again */
    char *text = json_dumps(st, JSON_COMPACT | JSON_SORT_KEYS);
    const char *status = json_string_value(json_object_get(st, "status"));
    int terminal = expev_terminal(status);
    char ev[16];
    snprintf(ev, sizeof(ev), "%s", terminal ? status : "progress");
    json_decref(st);
    if (!text)
        return -1;
    if (e->last && strcmp(e->last, text) == 0) {
        free(text);
        return 0;
    }
    free(e->last);
    e->last = text;
    e->ended = terminal;
    return expev_emit(e, out, ev, text);
}

static void expev_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int expev_next(void *ctx, struct buf *out, int timeout_ms)
{
    struct expev *e = ctx;
    if (e->ended)
        return -1;
    int64_t deadline = clock_mono_ms() + timeout_ms;
    for (;;) {
        int rc = expev_look(e, out);
        if (rc != 0)
            return rc;
        if (clock_mono_ms() + EXPEV_POLL_MS > deadline)
            return 0;
        expev_sleep_ms(EXPEV_POLL_MS);
    }
}

void exp_events(struct http_req *req, struct http_resp *resp)
{
    const char *id = http_req_param(req, "id");
    json_t *run = NULL;
    int rc = id && ids_is_uuid(id)
                 ? store_run_get(req->app, id, req->claims.sub, svc_is_admin(req), &run)
                 : -ENOENT;
    json_decref(run);
    if (rc) {
        if (rc == -ENOENT)
            http_resp_error(resp, 404, "not_found", "no such experiment", NULL);
        else
            http_resp_errno(resp, rc, NULL);
        return;
    }
    struct expev *e = calloc(1, sizeof(*e));
    if (!e) {
        http_resp_errno(resp, -ENOMEM, NULL);
        return;
    }
    e->svc = req->app;
    snprintf(e->id, sizeof(e->id), "%s", id);
    http_resp_sse(resp, expev_next, e, expev_free, EXPEV_KEEPALIVE_MS);
}
