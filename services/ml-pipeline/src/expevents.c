/* expevents: GET /experiments/{id}/events, the progress of one run as Server-Sent Events.
 *
 * The stream follows the experiments row (libs/common rowsse, polled every 200 ms) rather
 * than ibx.pipeline.events: the row is the truth and is the same for every API replica, a
 * client that connects late still gets the current state first, and no consumer group per
 * connection (or fan-out from one consumer) is needed. Events: "progress" with the state
 * ({"id","status","progress","stage","error","updated_at"}) at once and at every change,
 * then one event named after the terminal status (completed, failed, cancelled; "deleted"
 * when the row goes away) and the end of the stream. */
#include "pipeline.h"

#include <ibx/ids.h>
#include <ibx/rowsse.h>

#include <errno.h>

static int expev_state(void *ctx, const char *id, json_t **out)
{
    return store_run_state(ctx, id, out);
}

void exp_events(struct http_req *req, struct http_resp *resp)
{
    const char *id = http_req_param(req, "id");
    json_t *run = NULL;
    int rc = id && ids_is_uuid(id)
                 ? store_run_get(req->app, id, req->claims.sub, svc_is_admin(req), &run)
                 : -ENOENT;
    json_decref(run);
    if (rc == -ENOENT)
        http_resp_error(resp, 404, "not_found", "no such experiment", NULL);
    else if (rc)
        http_resp_errno(resp, rc, NULL);
    else
        rowsse_respond(resp, expev_state, req->app, id);
}
