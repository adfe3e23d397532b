/* routes: the gateway's route table and its account handlers. */
#include "gateway.h"

#include <ibx/hash.h>
#include <ibx/ids.h>
#include <ibx/jsonv.h>
#include <ibx/log.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static struct svc *gw_svc(const struct http_req *req)
{
    return req->app;
}

static struct gw *gw_state(const struct http_req *req)
{
    return gw_svc(req)->app;
}

json_t *gw_user_json(const struct gw_user *u)
{
    json_t *o =
        json_pack("{s:s, s:s, s:s, s:s, s:b, s:s}", "id", u->id, "email", u->email, "display_name",
                  u->display_name, "role", u->role, "is_active", u->is_active, "locale", u->locale);
    json_object_set_new(o, "education_level",
                        u->education_level[0] ? json_string(u->education_level) : json_null());
    json_object_set_new(o, "age", u->age ? json_integer(u->age) : json_null());
    json_object_set_new(o, "ai_familiarity",
                        u->ai_familiarity ? json_integer(u->ai_familiarity) : json_null());
    json_object_set_new(o, "audience_level", json_string(acct_audience_level(u->ai_familiarity)));
    json_object_set_new(o, "created_at", json_string(u->created_at));
    return o;
}

/* Issue an access token and a refresh token (stored hashed) for u. */
static int gw_issue_tokens(struct svc *s, const struct gw_user *u, json_t **out)
{
    struct gw *g = s->app;
    struct auth_claims c = {0};
    snprintf(c.sub, sizeof(c.sub), "%s", u->id);
    snprintf(c.role, sizeof(c.role), "%s", u->role);
    snprintf(c.typ, sizeof(c.typ), "access");
    snprintf(c.iss, sizeof(c.iss), GW_ISS);
    snprintf(c.aud, sizeof(c.aud), GW_AUD);
    char *access = NULL;
    int rc = auth_issue(s->keys, &c, g->cfg.access_ttl_s, &access);
    if (rc)
        return rc;
    char refresh[64], refresh_hash[HASH_SHA256_HEX_LEN + 1], family[IDS_UUID_LEN + 1];
    ids_random_token(refresh, 32);
    hash_sha256_hex(refresh, strlen(refresh), refresh_hash);
    ids_uuid4(family);
    rc = store_session_create(s, u->id, family, refresh_hash, g->cfg.refresh_ttl_s);
    if (rc) {
        free(access);
        return rc;
    }
    *out = json_pack("{s:s, s:s, s:s, s:i, s:o}", "access_token", access, "refresh_token", refresh,
                     "token_type", "bearer", "expires_in", (int)g->cfg.access_ttl_s, "user",
                     gw_user_json(u));
    free(access);
    return 0;
}

static const struct jsonv_field register_fields[] = {
    {"email", JSONV_STRING, 1, 254, 1, 0, 0},
    {"password", JSONV_STRING, 1, 1024, 1, 0, 0},
    {"display_name", JSONV_STRING, 0, 100, 1, 0, 1},
};

static void gw_validation_error(struct http_resp *resp, const char *field, const char *problem)
{
    json_t *d = json_pack("{s:[{s:s, s:s}]}", "fields", "field", field, "problem", problem);
    char msg[256];
    snprintf(msg, sizeof(msg), "%s %s", field, problem);
    http_resp_error(resp, 422, "validation_failed", msg, d);
}

static void h_register(struct http_req *req, struct http_resp *resp)
{
    struct svc *s = gw_svc(req);
    json_t *body = NULL, *details = NULL;
    if (http_req_json(req, resp, &body) != 0)
        return;
    if (jsonv_check(body, register_fields, 3, 1, &details) != 0) {
        http_resp_error(resp, 422, "validation_failed", "the request has invalid fields", details);
        goto out;
    }
    const char *email = jsonv_str(body, "email"), *password = jsonv_str(body, "password");
    const char *name = jsonv_str(body, "display_name");
    const char *problem = acct_email_problem(email);
    if (problem) {
        gw_validation_error(resp, "email", problem);
        goto out;
    }
    if ((problem = acct_password_problem(password, email)) != NULL) {
        gw_validation_error(resp, "password", problem);
        goto out;
    }
    char hash[160];
    struct gw_user u;
    int rc = acct_hash_password(gw_state(req), password, hash, sizeof(hash));
    if (rc == 0)
        rc = store_user_create(s, email, hash, name ? name : "", "user", &u);
    if (rc == -EEXIST) {
        http_resp_error(resp, 409, "email_taken", "an account with this email already exists",
                        NULL);
        goto out;
    }
    json_t *tokens = NULL;
    if (rc == 0)
        rc = gw_issue_tokens(s, &u, &tokens);
    if (rc) {
        http_resp_errno(resp, rc, NULL);
        goto out;
    }
    log_fields(LOG_LVL_INFO, json_pack("{s:s}", "user_id", u.id), "account created");
    http_resp_json(resp, 201, tokens);
out:
    json_decref(body);
}

/* Credentials from JSON {email,password} or the OAuth2 password form (username, password).
 * On failure the response is set. Caller frees both strings. */
static int gw_login_credentials(struct http_req *req, struct http_resp *resp, char **email,
                                char **password)
{
    const char *ct = http_req_header(req, "Content-Type");
    if (ct && strncasecmp(ct, "application/x-www-form-urlencoded", 33) == 0) {
        if (http_form_field(req->body.data, req->body.len, "username", email) != 0 ||
            http_form_field(req->body.data, req->body.len, "password", password) != 0) {
            free(*email);
            *email = NULL;
            http_resp_error(resp, 422, "validation_failed",
                            "the form needs username and password fields", NULL);
            return -EINVAL;
        }
        return 0;
    }
    json_t *body = NULL;
    if (http_req_json(req, resp, &body) != 0)
        return -EINVAL;
    const char *e = jsonv_str(body, "email"), *p = jsonv_str(body, "password");
    if (!e || !p) {
        json_decref(body);
        http_resp_error(resp, 422, "validation_failed", "email and password are required", NULL);
        return -EINVAL;
    }
    *email = strdup(e);
    *password = strdup(p);
    json_decref(body);
    return (*email && *password) ? 0 : -ENOMEM;
}

static void h_login(struct http_req *req, struct http_resp *resp)
{
    struct svc *s = gw_svc(req);
    char *email = NULL, *password = NULL;
    if (gw_login_credentials(req, resp, &email, &password) != 0)
        goto out;
    struct gw_user u;
    int rc = store_user_by_email(s, email, &u);
    if (rc && rc != -ENOENT) {
        http_resp_errno(resp, rc, NULL);
        goto out;
    }
    /* Verify against a real hash even for unknown emails so timing reveals nothing. */
    int ok = acct_password_ok(rc == 0 ? u.password_hash : gw_state(req)->dummy_hash, password);
    if (rc != 0 || !ok || !u.is_active) {
        http_resp_error(resp, 401, "invalid_credentials", "the email or password is incorrect",
                        NULL);
        goto out;
    }
    json_t *tokens = NULL;
    rc = gw_issue_tokens(s, &u, &tokens);
    if (rc)
        http_resp_errno(resp, rc, NULL);
    else
        http_resp_json(resp, 200, tokens);
out:
    if (password)
        explicit_bzero(password, strlen(password));
    free(email);
    free(password);
}

static void h_me(struct http_req *req, struct http_resp *resp)
{
    struct gw_user u;
    int rc = store_user_by_id(gw_svc(req), req->claims.sub, &u);
    if (rc == -ENOENT)
        http_resp_error(resp, 401, "unauthorized", "this account no longer exists", NULL);
    else if (rc)
        http_resp_errno(resp, rc, NULL);
    else
        http_resp_json(resp, 200, gw_user_json(&u));
}

/* Proxied routes stream their bodies both ways (see proxy.c); 1 GiB per request. */
#define PROXY(m, p)                                                                                \
    {                                                                                              \
        m, p, proxy_handle, (size_t)1 << 30, HTTP_STREAM_BODY, "proxied to the owning service"     \
    }
#define PROXY_ALL(p)                                                                               \
    PROXY("GET", p), PROXY("POST", p), PROXY("PUT", p), PROXY("PATCH", p), PROXY("DELETE", p)

const struct http_route gw_routes[] = {
    {"POST", "/api/v1/auth/register", h_register, 0, HTTP_PUBLIC, "create an account and sign in"},
    {"POST", "/api/v1/auth/login", h_login, 0, HTTP_PUBLIC,
     "sign in with JSON {email,password} or the OAuth2 password form"},
    {"GET", "/api/v1/users/me", h_me, 0, 0, "the signed-in user"},
    PROXY_ALL("/api/v1/datasets/{rest*}"),
    PROXY_ALL("/api/v1/projects/{rest*}"),
    PROXY_ALL("/api/v1/experiments/{rest*}"),
    PROXY_ALL("/api/v1/pipelines/{rest*}"),
    PROXY_ALL("/api/v1/algorithms/{rest*}"),
    PROXY_ALL("/api/v1/advice/{rest*}"),
    PROXY_ALL("/api/v1/explanations/{rest*}"),
    PROXY_ALL("/api/v1/models/{rest*}"),
    PROXY_ALL("/api/v1/deployments/{rest*}"),
    PROXY_ALL("/api/v1/review/{rest*}"),
    PROXY_ALL("/api/v1/llm/{rest*}"),
    PROXY_ALL("/v1/{rest*}"),
    PROXY_ALL("/v2/{rest*}"),
};
const size_t gw_nroutes = sizeof(gw_routes) / sizeof(gw_routes[0]);
