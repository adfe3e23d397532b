/* rowsse: Server-Sent Events following one row's state (polled). */
#include <ibx/rowsse.h>

#include <ibx/clock.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ROWSSE_POLL_MS      200
#define ROWSSE_KEEPALIVE_MS 15000

struct rowsse {
    rowsse_state_fn state;
    void *ctx;
    char id[64];
    char *last; /* the last state sent (JSON text), NULL before the first */
    long seq;
    int ended;
};

static void rowsse_free(void *ctx)
{
    struct rowsse *e = ctx;
    free(e->last);
    free(e);
}

static int rowsse_terminal(const char *status)
{
    return status && (strcmp(status, "completed") == 0 || strcmp(status, "failed") == 0 ||
                      strcmp(status, "cancelled") == 0);
}

static int rowsse_emit(struct rowsse *e, struct buf *out, const char *event, const char *data)
{
    char seq[24];
    snprintf(seq, sizeof(seq), "%ld", ++e->seq);
    return http_sse_format(out, event, seq, data) == 0 ? 1 : -1;
}

/* One look at the row: 1 with an event written, 0 when nothing changed, -1 at the end. */
static int rowsse_look(struct rowsse *e, struct buf *out)
{
    json_t *st = NULL;
    int rc = e->state(e->ctx, e->id, &st);
    if (rc == -ENOENT) {
        e->ended = 1;
        return rowsse_emit(e, out, "deleted", "{\"status\":\"deleted\"}");
    }
    if (rc)
        return 0; /* the database is away for a moment: try again */
    char *text = json_dumps(st, JSON_COMPACT | JSON_SORT_KEYS);
    const char *status = json_string_value(json_object_get(st, "status"));
    int terminal = rowsse_terminal(status);
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
    return rowsse_emit(e, out, ev, text);
}

static int rowsse_next(void *ctx, struct buf *out, int timeout_ms)
{
    struct rowsse *e = ctx;
    if (e->ended)
        return -1;
    int64_t deadline = clock_mono_ms() + timeout_ms;
    for (;;) {
        int rc = rowsse_look(e, out);
        if (rc != 0)
            return rc;
        if (clock_mono_ms() + ROWSSE_POLL_MS > deadline)
            return 0;
        struct timespec ts = {0, ROWSSE_POLL_MS * 1000000L};
        nanosleep(&ts, NULL);
    }
}

void rowsse_respond(struct http_resp *resp, rowsse_state_fn state, void *ctx, const char *id)
{
    struct rowsse *e = calloc(1, sizeof(*e));
    if (!e) {
        http_resp_errno(resp, -ENOMEM, NULL);
        return;
    }
    e->state = state;
    e->ctx = ctx;
    snprintf(e->id, sizeof(e->id), "%s", id);
    http_resp_sse(resp, rowsse_next, e, rowsse_free, ROWSSE_KEEPALIVE_MS);
}
