/* gateway: internal declarations shared by the gateway's files. */
#ifndef IBX_GATEWAY_H
#define IBX_GATEWAY_H

#include <ibx/svc.h>

#include <jansson.h>

#define GW_ISS "ibx-gateway"
#define GW_AUD "ibx-api"

struct gw_config {
    const char *selection_url;
    const char *pipeline_url;
    const char *xai_url;
    const char *serving_url;
    long access_ttl_s;
    long refresh_ttl_s;
    long argon2_ops;
    long argon2_mem_kib;
    const char *admin_email;
    const char *admin_password;
    long upstream_timeout_ms;
    const char *web_dir;
};

struct gw {
    struct gw_config cfg;
    char dummy_hash[160]; /* verified against when the email is unknown: equal timing */
};

/* ---- accounts.c: rules, no HTTP or SQL ---- */
/* NULL when acceptable, else the reason (static). */
const char *acct_email_problem(const char *email);
const char *acct_password_problem(const char *password, const char *email);
/* Argon2id. 0, -ENOMEM (memory limit), -EINVAL. out needs 128 bytes. */
int acct_hash_password(const struct gw *g, const char *password, char *out, size_t n)
    __attribute__((warn_unused_result));
/* 1 when password matches the stored hash. */
int acct_password_ok(const char *hash, const char *password);
/* novice / intermediate / expert from ai_familiarity (0 = unknown → novice). */
const char *acct_audience_level(long ai_familiarity);

/* ---- store.c: the only file that speaks SQL ---- */
struct gw_user {
    char id[37];
    char email[256];
    char password_hash[160];
    char display_name[128];
    char role[16];
    int is_active;
    char locale[8];
    char education_level[16];
    long age;            /* 0 = unset */
    long ai_familiarity; /* 0 = unset */
    char created_at[40];
};
int store_user_create(struct svc *s, const char *email, const char *hash, const char *display_name,
                      const char *role, struct gw_user *out) __attribute__((warn_unused_result));
int store_user_by_email(struct svc *s, const char *email, struct gw_user *out)
    __attribute__((warn_unused_result));
int store_user_by_id(struct svc *s, const char *id, struct gw_user *out)
    __attribute__((warn_unused_result));
int store_user_set_role(struct svc *s, const char *id, const char *role)
    __attribute__((warn_unused_result));
int store_session_create(struct svc *s, const char *user_id, const char *family_id,
                         const char *token_hash, long ttl_s) __attribute__((warn_unused_result));

/* ---- routes.c ---- */
extern const struct http_route gw_routes[];
extern const size_t gw_nroutes;
json_t *gw_user_json(const struct gw_user *u);

/* ---- web.c ---- */
void web_serve(struct http_req *req, struct http_resp *resp);

/* ---- proxy.c ---- */
void proxy_handle(struct http_req *req, struct http_resp *resp);
/* Mint the internal token for this request. Caller frees. */
int proxy_internal_token(struct svc *s, const struct http_req *req, char **out)
    __attribute__((warn_unused_result));

#endif
