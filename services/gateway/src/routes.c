/* routes: the gateway's route table and its account handlers. */
#include "gateway.h"

#include <ibx/ids.h>
#include <ibx/jsonv.h>
#include <ibx/log.h>
#include <ibx/num.h>

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
        rc = tokens_sign_in(s, &u, &tokens);
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
    rc = tokens_sign_in(s, &u, &tokens);
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

/* ---- sessions, profile, admin and data rights ---- */

#define GW_SMALL_BODY ((size_t)16 * 1024) /* these routes take small JSON objects */

/* Check body strictly against fields; on failure the 422 is set and body is released. */
static int gw_check_fields(json_t *body, struct http_resp *resp, const struct jsonv_field *f,
                           size_t n)
{
    json_t *details = NULL;
    if (jsonv_check(body, f, n, 1, &details) == 0)
        return 0;
    json_decref(body);
    http_resp_error(resp, 422, "validation_failed", "the request has invalid fields", details);
    return -EINVAL;
}

/* Parse the body and check it strictly; on failure the response is set. Caller decrefs. */
static int gw_body(struct http_req *req, struct http_resp *resp, const struct jsonv_field *f,
                   size_t n, json_t **out)
{
    json_t *body = NULL;
    if (http_req_json(req, resp, &body) != 0 || gw_check_fields(body, resp, f, n) != 0)
        return -EINVAL;
    *out = body;
    return 0;
}

static int gw_require_admin(struct http_req *req, struct http_resp *resp)
{
    if (svc_is_admin(req))
        return 0;
    http_resp_error(resp, 403, "forbidden", "only admins may do this", NULL);
    return -EACCES;
}

static const struct jsonv_field refresh_fields[] = {
    {"refresh_token", JSONV_STRING, 1, 512, 1, 0, 0},
};

static void h_refresh(struct http_req *req, struct http_resp *resp)
{
    json_t *body = NULL, *tokens = NULL;
    if (gw_body(req, resp, refresh_fields, 1, &body) != 0)
        return;
    int rc = tokens_refresh(gw_svc(req), jsonv_str(body, "refresh_token"), &tokens);
    json_decref(body);
    if (rc == 0)
        http_resp_json(resp, 200, tokens);
    else if (rc == -EACCES)
        http_resp_error(resp, 401, "refresh_token_reused",
                        "this refresh token was already used, so every session that came from it "
                        "is now revoked; sign in again",
                        NULL);
    else if (rc == -ENOENT || rc == -EPERM)
        http_resp_error(resp, 401, "invalid_refresh_token",
                        "the refresh token is unknown, expired or revoked, or the account is "
                        "deactivated; sign in again",
                        NULL);
    else
        http_resp_errno(resp, rc, NULL);
}

static const struct jsonv_field logout_fields[] = {
    {"refresh_token", JSONV_STRING, 0, 512, 1, 0, 1},
};

/* Revokes the session family named in the access token's jti (and the given refresh
 * token's, when it is the caller's). The access token itself stays valid until it expires. */
static void h_logout(struct http_req *req, struct http_resp *resp)
{
    json_t *body = NULL;
    if (req->body.len > 0 && gw_body(req, resp, logout_fields, 1, &body) != 0)
        return;
    int rc = tokens_sign_out(gw_svc(req), &req->claims, jsonv_str(body, "refresh_token"));
    json_decref(body);
    if (rc)
        http_resp_errno(resp, rc, NULL);
    else
        resp->status = 204;
}

static const struct jsonv_field profile_fields[] = {
    {"display_name", JSONV_STRING, 0, 100, 1, 0, 1},   {"locale", JSONV_STRING, 0, 8, 1, 0, 0},
    {"education_level", JSONV_STRING, 0, 32, 1, 0, 1}, {"age", JSONV_INT, 0, 0, 13, 120, 1},
    {"ai_familiarity", JSONV_INT, 0, 0, 1, 5, 1},
};

/* The profile change in body (already type-checked); NULL, or the problem and *field. */
static const char *gw_profile_patch(const json_t *body, struct gw_profile_patch *p,
                                    const char **field)
{
    const json_t *v;
    const char *problem = NULL;
    memset(p, 0, sizeof(*p));
    if ((v = json_object_get(body, "display_name")) != NULL) {
        p->set_display_name = 1;
        p->display_name = json_string_value(v); /* NULL for null: cleared */
        if (p->display_name)
            problem = acct_display_name_problem(p->display_name, json_string_length(v));
        *field = "display_name";
    }
    if (!problem && (p->locale = jsonv_str(body, "locale")) != NULL) {
        problem = acct_locale_problem(p->locale);
        *field = "locale";
    }
    if (!problem && (v = json_object_get(body, "education_level")) != NULL) {
        p->set_education_level = 1;
        p->education_level = json_string_value(v);
        problem = p->education_level ? acct_education_problem(p->education_level) : NULL;
        *field = "education_level";
    }
    if ((v = json_object_get(body, "age")) != NULL) {
        p->set_age = 1;
        p->age = (long)json_integer_value(v); /* 0 for null: cleared */
    }
    if ((v = json_object_get(body, "ai_familiarity")) != NULL) {
        p->set_ai_familiarity = 1;
        p->ai_familiarity = (long)json_integer_value(v);
    }
    return problem;
}

static void h_me_patch(struct http_req *req, struct http_resp *resp)
{
    json_t *body = NULL;
    if (http_req_json(req, resp, &body) != 0)
        return;
    if (json_is_object(body) && json_object_get(body, "role")) {
        json_decref(body);
        gw_validation_error(resp, "role", "cannot be changed by the user; an admin changes roles");
        return;
    }
    if (gw_check_fields(body, resp, profile_fields,
                        sizeof(profile_fields) / sizeof(profile_fields[0])) != 0)
        return;
    struct gw_profile_patch p;
    const char *field = "", *problem = gw_profile_patch(body, &p, &field);
    struct gw_user u;
    int rc = problem ? -EINVAL : store_user_update_profile(gw_svc(req), req->claims.sub, &p, &u);
    if (problem)
        gw_validation_error(resp, field, problem);
    else if (rc == -ENOENT)
        http_resp_error(resp, 401, "unauthorized", "this account no longer exists", NULL);
    else if (rc)
        http_resp_errno(resp, rc, NULL);
    else
        http_resp_json(resp, 200, gw_user_json(&u));
    json_decref(body);
}

static const struct jsonv_field password_fields[] = {
    {"current_password", JSONV_STRING, 1, 1024, 1, 0, 0},
    {"new_password", JSONV_STRING, 1, 1024, 1, 0, 0},
};

/* Store the new password (hashed) and revoke every session but the caller's. */
static void gw_set_password(struct http_req *req, struct http_resp *resp, const struct gw_user *u,
                            const char *new_password)
{
    char hash[160], family[IDS_UUID_LEN + 1];
    int rc = acct_hash_password(gw_state(req), new_password, hash, sizeof(hash));
    if (rc == 0)
        rc = store_user_set_password(gw_svc(req), u->id, u->password_hash, hash,
                                     tokens_family(&req->claims, family) == 0 ? family : NULL);
    if (rc == -EACCES) {
        http_resp_error(resp, 403, "wrong_password", "the current password is not correct", NULL);
        return;
    }
    if (rc) {
        http_resp_errno(resp, rc, NULL);
        return;
    }
    log_fields(LOG_LVL_INFO, json_pack("{s:s}", "user_id", u->id),
               "password changed; the other sessions are revoked");
    resp->status = 204;
}

/* Check the current password and the new one, then change it. */
static void gw_change_password(struct http_req *req, struct http_resp *resp, const json_t *body)
{
    const char *current = jsonv_str(body, "current_password");
    const char *next = jsonv_str(body, "new_password");
    struct gw_user u;
    int rc = store_user_by_id(gw_svc(req), req->claims.sub, &u);
    const char *problem = rc ? NULL : acct_password_problem(next, u.email);
    if (rc == 0 && !problem && strcmp(next, current) == 0)
        problem = "must differ from the current password";
    if (rc)
        http_resp_errno(resp, rc == -ENOENT ? -EPERM : rc, NULL);
    else if (problem)
        gw_validation_error(resp, "new_password", problem);
    else if (!acct_password_ok(u.password_hash, current))
        http_resp_error(resp, 403, "wrong_password", "the current password is not correct", NULL);
    else
        gw_set_password(req, resp, &u, next);
}

/* A wrong current password is 403 wrong_password (a 401 would tell clients to sign in
 * again, and the session is fine). */
static void h_password(struct http_req *req, struct http_resp *resp)
{
    json_t *body = NULL;
    if (gw_body(req, resp, password_fields, 2, &body) == 0) {
        gw_change_password(req, resp, body);
        json_decref(body);
    }
    if (req->body.data)
        explicit_bzero(req->body.data, req->body.len);
}

static void h_export(struct http_req *req, struct http_resp *resp)
{
    json_t *doc = NULL;
    const char *failed = NULL;
    int rc = rights_export(gw_svc(req), req, &doc, &failed);
    if (rc == 0) {
        http_resp_json(resp, 200, doc);
        http_resp_header(resp, "Content-Disposition", "attachment; filename=\"ibisx-export.json\"");
    } else if (failed) {
        char msg[200];
        snprintf(msg, sizeof(msg),
                 "%s did not answer, so no export was produced (never a partial one); retry "
                 "shortly",
                 failed);
        http_resp_error(resp, 503, "export_unavailable", msg,
                        json_pack("{s:s}", "service", failed));
    } else if (rc == -ENOENT) {
        http_resp_error(resp, 401, "unauthorized", "this account no longer exists", NULL);
    } else {
        http_resp_errno(resp, rc, NULL);
    }
}

static const struct jsonv_field erase_fields[] = {
    {"email_confirmation", JSONV_STRING, 1, 254, 1, 0, 0},
};

/* Erase the caller's account everywhere. An admin cannot erase itself (another admin
 * changes its role first), so the suite always keeps an admin. */
static void h_me_delete(struct http_req *req, struct http_resp *resp)
{
    json_t *body = NULL;
    if (gw_body(req, resp, erase_fields, 1, &body) != 0)
        return;
    struct gw_user u;
    int rc = store_user_by_id(gw_svc(req), req->claims.sub, &u);
    if (rc)
        http_resp_errno(resp, rc == -ENOENT ? -EPERM : rc, NULL);
    else if (strcasecmp(jsonv_str(body, "email_confirmation"), u.email) != 0)
        gw_validation_error(resp, "email_confirmation", "must be this account's email address");
    else if (strcmp(u.role, "admin") == 0)
        http_resp_error(resp, 409, "admin_cannot_erase_self",
                        "an admin account cannot erase itself; another admin must change its "
                        "role first",
                        NULL);
    else if ((rc = rights_erase(gw_svc(req), u.id)) != 0)
        http_resp_errno(resp, rc, "the erasure did not complete; retry shortly");
    else
        resp->status = 204;
    json_decref(body);
}

static void h_admin_users(struct http_req *req, struct http_resp *resp)
{
    if (gw_require_admin(req, resp) != 0)
        return;
    long page = 1, size = 20, total = 0;
    const char *qp = http_req_query(req, "page"), *qs = http_req_query(req, "page_size");
    if ((qp && num_parse_long(qp, 1, 1000000, &page) != 0) ||
        (qs && num_parse_long(qs, 1, 100, &size) != 0)) {
        http_resp_error(resp, 400, "invalid_query",
                        "page must be an integer >= 1 and page_size an integer from 1 to 100",
                        NULL);
        return;
    }
    struct gw_user *users = NULL;
    size_t n = 0;
    int rc = store_user_list(gw_svc(req), (page - 1) * size, size, &users, &n, &total);
    if (rc) {
        http_resp_errno(resp, rc, NULL);
        return;
    }
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(list, gw_user_json(&users[i]));
    free(users);
    http_resp_json(resp, 200,
                   json_pack("{s:o, s:I, s:I, s:I, s:I}", "users", list, "total_count",
                             (json_int_t)total, "page", (json_int_t)page, "page_size",
                             (json_int_t)size, "total_pages",
                             (json_int_t)((total + size - 1) / size)));
}

static const struct jsonv_field admin_patch_fields[] = {
    {"role", JSONV_STRING, 0, 16, 1, 0, 0},
    {"is_active", JSONV_BOOL, 0, 0, 1, 0, 0},
};

/* Apply a checked admin change and answer it. */
static void gw_admin_apply(struct http_req *req, struct http_resp *resp, const char *id,
                           const char *role, int active)
{
    struct gw_user u;
    int rc = store_admin_update_user(gw_svc(req), req->claims.sub, id, role, active, &u);
    ustate_forget(id);
    if (rc == -EACCES) {
        http_resp_error(resp, 403, "forbidden", "only admins may do this", NULL);
    } else if (rc) {
        http_resp_errno(resp, rc, rc == -ENOENT ? "no such user" : NULL);
    } else {
        log_fields(LOG_LVL_INFO,
                   json_pack("{s:s, s:s, s:s, s:b}", "admin_id", req->claims.sub, "user_id", u.id,
                             "role", u.role, "is_active", u.is_active),
                   "account changed by an admin");
        http_resp_json(resp, 200, gw_user_json(&u));
    }
}

static void h_admin_user_patch(struct http_req *req, struct http_resp *resp)
{
    if (gw_require_admin(req, resp) != 0)
        return;
    const char *id = http_req_param(req, "id");
    json_t *body = NULL;
    if (!id || !ids_is_uuid(id)) {
        http_resp_error(resp, 404, "not_found", "no such user", NULL);
        return;
    }
    if (gw_body(req, resp, admin_patch_fields, 2, &body) != 0)
        return;
    const char *role = jsonv_str(body, "role");
    const json_t *act = json_object_get(body, "is_active");
    int active = act ? json_is_true(act) : -1;
    const char *problem = role ? acct_role_problem(role) : NULL;
    if (problem)
        gw_validation_error(resp, "role", problem);
    else if (strcasecmp(id, req->claims.sub) == 0 &&
             ((role && strcmp(role, "admin") != 0) || active == 0))
        http_resp_error(resp, 409, "self_lockout",
                        "admins cannot demote or deactivate themselves; ask another admin", NULL);
    else
        gw_admin_apply(req, resp, id, role, active);
    json_decref(body);
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
    {"POST", "/api/v1/auth/refresh", h_refresh, GW_SMALL_BODY, HTTP_PUBLIC,
     "rotate a refresh token: new access and refresh tokens"},
    {"POST", "/api/v1/auth/logout", h_logout, GW_SMALL_BODY, 0,
     "revoke this session's refresh tokens (the access token lives until it expires)"},
    {"PATCH", "/api/v1/users/me", h_me_patch, GW_SMALL_BODY, 0,
     "change display_name, locale, education_level, age, ai_familiarity"},
    {"DELETE", "/api/v1/users/me", h_me_delete, GW_SMALL_BODY, 0,
     "erase the account and its data in every service ({email_confirmation})"},
    {"PUT", "/api/v1/users/me/password", h_password, GW_SMALL_BODY, 0,
     "change the password; revokes the other sessions"},
    {"GET", "/api/v1/users/me/export", h_export, 0, 0,
     "everything the suite holds about the signed-in user, as one JSON document"},
    {"GET", "/api/v1/admin/users", h_admin_users, 0, 0, "accounts, paged (admin)"},
    {"PATCH", "/api/v1/admin/users/{id}", h_admin_user_patch, GW_SMALL_BODY, 0,
     "change an account's role or is_active (admin)"},
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
