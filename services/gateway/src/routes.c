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
    if (gw_login_credentials(req, resp, &email, &password) != 0 ||
        admit_login_allowed(s, req, email, resp) != 0)
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
        limits_login_failed(s, email, req->client_ip);
        http_resp_error(resp, 401, "invalid_credentials", "the email or password is incorrect",
                        NULL);
        goto out;
    }
    limits_login_succeeded(s, email);
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
    if (!problem && p.set_ai_familiarity)
        ustate_forget(req->claims.sub); /* the internal token's aud_level follows at once */
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

/* ---- API keys, quota and usage (keys.c, quota.c; admission in admit.c) ---- */

static json_t *gw_key_json(const struct gw_key *k)
{
    json_t *scopes = json_array();
    char buf[sizeof(k->scopes)];
    snprintf(buf, sizeof(buf), "%s", k->scopes);
    for (char *p = buf, *sp; p && *p; p = sp ? sp + 1 : NULL) {
        sp = strchr(p, ' ');
        if (sp)
            *sp = '\0';
        json_array_append_new(scopes, json_string(p));
    }
    json_t *limits = json_pack(
        "{s:o, s:o}", "requests_per_minute",
        k->requests_per_minute ? json_integer(k->requests_per_minute) : json_null(),
        "tokens_per_day", k->tokens_per_day ? json_integer(k->tokens_per_day) : json_null());
    return json_pack(
        "{s:s, s:s, s:s, s:o, s:o, s:s, s:o, s:o, s:b}", "id", k->id, "prefix", k->prefix, "name",
        k->name, "scopes", scopes, "limits", limits, "created_at", k->created_at, "last_used_at",
        k->last_used_at[0] ? json_string(k->last_used_at) : json_null(), "expires_at",
        k->expires_at[0] ? json_string(k->expires_at) : json_null(), "revoked", k->revoked);
}

static const struct jsonv_field key_fields[] = {
    {"name", JSONV_STRING, 1, 100, 1, 0, 0},
    {"scopes", JSONV_ARRAY, 1, 8, 1, 0, 0},
    {"expires_at", JSONV_STRING, 0, 40, 1, 0, 1},
    {"limits", JSONV_OBJECT, 0, 0, 1, 0, 1},
};

static const struct jsonv_field key_limit_fields[] = {
    {"requests_per_minute", JSONV_INT, 0, 0, 1, 1000000, 1},
    {"tokens_per_day", JSONV_INT, 0, 0, 1, 1e12, 1},
};

struct gw_key_req {
    const char *name;
    char scopes[32];
    long rpm;
    long long tokens_per_day;
    long long expires_ms;
};

/* The fields of POST /api-keys; on failure the response is set (422). */
static int gw_key_parse(const json_t *body, struct http_resp *resp, struct gw_key_req *k)
{
    json_t *details = NULL;
    const json_t *lim = json_object_get(body, "limits");
    if (jsonv_check(body, key_fields, 4, 1, &details) != 0 ||
        (json_is_object(lim) && jsonv_check(lim, key_limit_fields, 2, 1, &details) != 0)) {
        http_resp_error(resp, 422, "validation_failed", "the request has invalid fields", details);
        return -EINVAL;
    }
    const char *problem = NULL, *field = "name";
    k->name = jsonv_str(body, "name");
    if (!k->name[0])
        problem = "must not be empty";
    else if ((problem = keys_scopes_problem(json_object_get(body, "scopes"), k->scopes,
                                            sizeof(k->scopes))) != NULL)
        field = "scopes";
    else if ((problem = keys_expiry_problem(jsonv_str(body, "expires_at"), &k->expires_ms)))
        field = "expires_at";
    if (problem) {
        gw_validation_error(resp, field, problem);
        return -EINVAL;
    }
    k->rpm = (long)json_integer_value(json_object_get(lim, "requests_per_minute"));
    k->tokens_per_day = (long long)json_integer_value(json_object_get(lim, "tokens_per_day"));
    return 0;
}

static void h_key_create(struct http_req *req, struct http_resp *resp)
{
    json_t *body = NULL;
    struct gw_key_req k = {0};
    if (http_req_json(req, resp, &body) != 0 || gw_key_parse(body, resp, &k) != 0)
        goto out;
    char secret[KEYS_SECRET_LEN + 1], prefix[KEYS_PREFIX_LEN + 1], hash[65];
    keys_new_secret(secret, prefix, hash);
    struct gw_key key;
    int rc = store_key_create(gw_svc(req), req->claims.sub, k.name, prefix, hash, k.scopes, k.rpm,
                              k.tokens_per_day, k.expires_ms, &key);
    if (rc == -EMSGSIZE) {
        http_resp_error(resp, 409, "too_many_keys",
                        "you have the maximum number of active API keys; revoke one first",
                        json_pack("{s:i}", "max_active", KEYS_MAX_ACTIVE));
    } else if (rc) {
        http_resp_errno(resp, rc, NULL);
    } else {
        json_t *o = gw_key_json(&key);
        json_object_set_new(o, "key", json_string(secret));
        http_resp_json(resp, 201, o);
        http_resp_header(resp, "Cache-Control", "no-store");
    }
    explicit_bzero(secret, sizeof(secret));
out:
    json_decref(body);
}

static void h_key_list(struct http_req *req, struct http_resp *resp)
{
    struct gw_key *keys = NULL;
    size_t n = 0;
    int rc = store_key_list(gw_svc(req), req->claims.sub, &keys, &n);
    if (rc) {
        http_resp_errno(resp, rc, NULL);
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, gw_key_json(&keys[i]));
    free(keys);
    http_resp_json(resp, 200, json_pack("{s:o}", "api_keys", arr));
}

static void h_key_revoke(struct http_req *req, struct http_resp *resp)
{
    const char *id = http_req_param(req, "id");
    int rc = store_key_revoke(gw_svc(req), req->claims.sub, id);
    if (rc == -ENOENT) {
        http_resp_error(resp, 404, "not_found", "you have no API key with this id", NULL);
        return;
    }
    if (rc) {
        http_resp_errno(resp, rc, NULL);
        return;
    }
    keys_forget(gw_state(req)->keys, id);
    resp->status = 204;
}

static void h_quota(struct http_req *req, struct http_resp *resp)
{
    json_t *o = NULL;
    int rc = quota_status_json(gw_svc(req), req->claims.sub, &o);
    if (rc)
        http_resp_errno(resp, rc, NULL);
    else
        http_resp_json(resp, 200, o);
}

static void h_usage(struct http_req *req, struct http_resp *resp)
{
    static const char *const groups[] = {"day", "model", "key"};
    const char *g = http_req_query(req, "group_by");
    size_t gi = 0;
    while (g && gi < 3 && strcmp(g, groups[gi]) != 0)
        gi++;
    long from = 0, to = 0;
    const char *param = "group_by", *problem = gi < 3 ? NULL : "must be day, model or key";
    if (!problem) {
        param = "from/to";
        problem =
            quota_range_problem(http_req_query(req, "from"), http_req_query(req, "to"), &from, &to);
    }
    if (problem) {
        char msg[160];
        snprintf(msg, sizeof(msg), "%s %s", param, problem);
        http_resp_error(resp, 400, "invalid_query", msg, json_pack("{s:s}", "parameter", param));
        return;
    }
    json_t *o = NULL;
    int rc = quota_usage_json(gw_svc(req), req->claims.sub, from, to, (enum gw_usage_group)gi, &o);
    if (rc)
        http_resp_errno(resp, rc, NULL);
    else
        http_resp_json(resp, 200, o);
}

/* Proxied routes stream their bodies both ways (see proxy.c); 1 GiB per request. The
 * handler starts on the event loop: bodiless requests are proxied there without blocking. */
#define PROXY(m, p)                                                                                \
    {                                                                                              \
        m, p, proxy_handle, (size_t)1 << 30, HTTP_STREAM_BODY | HTTP_INLINE,                       \
            "proxied to the owning service"                                                        \
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
    /* API keys, quota and usage */
    {"POST", "/api/v1/api-keys", h_key_create, GW_SMALL_BODY, 0,
     "create an API key {name, scopes, expires_at?, limits?}: its secret is shown only here"},
    {"GET", "/api/v1/api-keys", h_key_list, 0, 0, "the caller's API keys (never their secrets)"},
    {"DELETE", "/api/v1/api-keys/{id}", h_key_revoke, 0, 0, "revoke an API key at once"},
    {"GET", "/api/v1/quota", h_quota, 0, 0, "the caller's quotas: limits, use and reset times"},
    {"GET", "/api/v1/usage", h_usage, 0, 0,
     "the caller's usage ?from&to (YYYY-MM-DD) &group_by=day|model|key"},
    PROXY_ALL("/api/v1/datasets/{rest*}"),
    PROXY_ALL("/api/v1/projects/{rest*}"),
    PROXY_ALL("/api/v1/admin/ethical-templates/{rest*}"),
    PROXY_ALL("/api/v1/experiments/{rest*}"),
    PROXY_ALL("/api/v1/pipelines/{rest*}"),
    PROXY_ALL("/api/v1/algorithms/{rest*}"),
    PROXY_ALL("/api/v1/advice/{rest*}"),
    PROXY_ALL("/api/v1/explanations/{rest*}"),
    PROXY_ALL("/api/v1/chat/{rest*}"),
    PROXY_ALL("/api/v1/models/{rest*}"),
    PROXY_ALL("/api/v1/deployments/{rest*}"),
    PROXY_ALL("/api/v1/review/{rest*}"),
    PROXY_ALL("/api/v1/llm/{rest*}"),
    PROXY_ALL("/v1/{rest*}"),
    PROXY_ALL("/v2/{rest*}"),
};
const size_t gw_nroutes = sizeof(gw_routes) / sizeof(gw_routes[0]);
