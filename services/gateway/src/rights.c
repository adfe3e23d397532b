/* rights: the data-rights operations: the whole-suite export and the account erasure. */
#include "gateway.h"

#include <ibx/clock.h>
#include <ibx/httpc.h>
#include <ibx/log.h>

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The services that hold per-user data, by the name their part has in the export. */
static const struct {
    const char *name;
    size_t url_off; /* offset of the base URL in struct gw_config */
} rights_services[] = {
    {"selection", offsetof(struct gw_config, selection_url)},
    {"ml-pipeline", offsetof(struct gw_config, pipeline_url)},
    {"xai-engine", offsetof(struct gw_config, xai_url)},
    {"model-serving", offsetof(struct gw_config, serving_url)},
};

static const char *rights_base(const struct gw *g, size_t i)
{
    const char *cfg = (const char *)&g->cfg;
    return *(const char *const *)(const void *)(cfg + rights_services[i].url_off);
}

/* One service's part: GET <base>/internal/users/<id>/export. 0 and *out, or -EIO. */
static int rights_fetch(const struct gw *g, size_t i, const char *user_id, const char *token,
                        json_t **out)
{
    char url[1024], path[128], auth[AUTH_MAX_TOKEN + 32];
    snprintf(path, sizeof(path), SVC_EXPORT_PATH_FMT, user_id);
    snprintf(url, sizeof(url), "%s%s", rights_base(g, i), path);
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
    const char *hdrs[] = {auth, NULL};
    long status = 0;
    json_t *part = NULL;
    int rc = httpc_json("GET", url, hdrs, NULL, g->cfg.upstream_timeout_ms, &status, &part);
    explicit_bzero(auth, sizeof(auth));
    if (rc == 0 && status == 200 && json_is_object(part)) {
        *out = part;
        return 0;
    }
    json_decref(part);
    log_warn("the export part of %s failed (%s, status %ld)", rights_services[i].name,
             rc ? strerror(-rc) : "answered", status);
    return -EIO;
}

/* The gateway's own part: the account, its sessions, API keys, quotas and usage (never a
 * password, token or key hash). */
static int rights_gateway_part(struct svc *s, const char *user_id, json_t *doc)
{
    struct gw_user u;
    json_t *rows = NULL;
    int rc = store_user_by_id(s, user_id, &u);
    if (rc == 0)
        rc = store_gateway_export_json(s, user_id, &rows);
    if (rc)
        return rc;
    char at[40];
    clock_iso8601(clock_wall_ms(), at, sizeof(at));
    json_object_set_new(doc, "exported_at", json_string(at));
    json_object_set_new(doc, "user", gw_user_json(&u));
    json_object_set_new(doc, "gateway", rows);
    return 0;
}

int rights_export(struct svc *s, const struct http_req *req, json_t **out, const char **failed)
{
    const struct gw *g = s->app;
    json_t *doc = json_object();
    char *token = NULL;
    int rc = doc ? rights_gateway_part(s, req->claims.sub, doc) : -ENOMEM;
    if (rc == 0)
        rc = proxy_internal_token(s, req, &token);
    for (size_t i = 0; rc == 0 && i < sizeof(rights_services) / sizeof(rights_services[0]); i++) {
        json_t *part = NULL;
        rc = rights_fetch(g, i, req->claims.sub, token, &part);
        if (rc)
            *failed = rights_services[i].name;
        else
            json_object_set_new(doc, rights_services[i].name, part);
    }
    if (token) {
        explicit_bzero(token, strlen(token));
        free(token);
    }
    if (rc) {
        json_decref(doc);
        return rc;
    }
    *out = doc;
    return 0;
}

int rights_erase(struct svc *s, const char *user_id)
{
    int rc = store_user_erase(s, user_id, events_user_deleted);
    ustate_forget(user_id);
    if (rc == 0)
        log_fields(LOG_LVL_INFO, json_pack("{s:s}", "user_id", user_id),
                   "account erased; %s published", SVC_EVENT_USER_DELETED);
    return rc;
}
