/* gateway: internal declarations shared by the gateway's files. */
#ifndef IBX_GATEWAY_H
#define IBX_GATEWAY_H

#include <ibx/svc.h>
#include <ibx/ttlcache.h>

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
    long account_check_ttl_ms; /* userstate.c: how long a checked account state is reused */
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
/* Profile values: NULL when acceptable, else the reason (static). name has len bytes
 * (a JSON string may hold NUL bytes, which are refused). */
const char *acct_display_name_problem(const char *name, size_t len);
const char *acct_locale_problem(const char *locale);
const char *acct_education_problem(const char *education_level);
const char *acct_role_problem(const char *role);

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

/* -- accounts, sessions, admin and data rights (store.c) -- */
/* A refresh that rotated: whose it was and its family. */
struct gw_rotated {
    char user_id[37];
    char family_id[37];
};
/* In one transaction, with the row of old_hash locked: mark it rotated and store new_hash
 * in the same family for ttl_s. -ENOENT unknown, expired or revoked; -EACCES it was
 * rotated before (reuse: the whole family is revoked and that is committed); -EPERM the
 * account is deactivated; -EIO, -EAGAIN. */
int store_session_rotate(struct svc *s, const char *old_hash, const char *new_hash, long ttl_s,
                         struct gw_rotated *out) __attribute__((warn_unused_result));
/* Revoke user_id's sessions of family_id / of the family that token_hash belongs to; other
 * users' sessions are never touched. 0 also when nothing matched. */
int store_sessions_revoke_family(struct svc *s, const char *user_id, const char *family_id)
    __attribute__((warn_unused_result));
int store_sessions_revoke_token_family(struct svc *s, const char *user_id, const char *token_hash)
    __attribute__((warn_unused_result));
/* Delete user_id's sessions that expired (they no longer matter for reuse detection). */
int store_sessions_purge_expired(struct svc *s, const char *user_id)
    __attribute__((warn_unused_result));
/* user_id's sessions without token hashes, as a JSON array (caller decrefs). */
int store_sessions_json(struct svc *s, const char *user_id, json_t **out)
    __attribute__((warn_unused_result));
/* is_active and role of an account: 0, -ENOENT (no such account), -EIO, -EAGAIN. */
int store_user_status(struct svc *s, const char *id, int *is_active, char role[16])
    __attribute__((warn_unused_result));
/* A profile change: each set_* says whether the field changes; a NULL string or 0 number
 * with set_* clears the field. locale NULL keeps it. */
struct gw_profile_patch {
    int set_display_name, set_education_level, set_age, set_ai_familiarity;
    const char *display_name;
    const char *locale;
    const char *education_level;
    long age;
    long ai_familiarity;
};
int store_user_update_profile(struct svc *s, const char *id, const struct gw_profile_patch *p,
                              struct gw_user *out) __attribute__((warn_unused_result));
/* Replace the password hash if it is still old_hash and revoke every session of the user
 * except family keep_family (NULL: all), in one statement. -EACCES when the hash changed
 * in between, -ENOENT no such user. */
int store_user_set_password(struct svc *s, const char *id, const char *old_hash,
                            const char *new_hash, const char *keep_family)
    __attribute__((warn_unused_result));
/* Accounts ordered by creation, limit rows from offset: *users (caller frees) and *n, and
 * *total accounts. */
int store_user_list(struct svc *s, long offset, long limit, struct gw_user **users, size_t *n,
                    long *total) __attribute__((warn_unused_result));
/* As admin_id (checked, under lock, to still be an active admin: else -EACCES), set
 * target_id's role (NULL: keep) and is_active (-1: keep; 0 also revokes its sessions).
 * -ENOENT no such target. */
int store_admin_update_user(struct svc *s, const char *admin_id, const char *target_id,
                            const char *role, int is_active, struct gw_user *out)
    __attribute__((warn_unused_result));
/* Delete the account (its sessions and every row referencing it go with it, ON DELETE
 * CASCADE) in a transaction that commits only when before_commit returns 0; otherwise
 * its error is returned and nothing is deleted. -ENOENT no such account. */
typedef int (*store_gate_fn)(struct svc *s, const char *user_id);
int store_user_erase(struct svc *s, const char *id, store_gate_fn before_commit)
    __attribute__((warn_unused_result));

/* ---- routes.c ---- */
extern const struct http_route gw_routes[];
extern const size_t gw_nroutes;
json_t *gw_user_json(const struct gw_user *u);

/* ---- tokens.c: access tokens and rotating refresh tokens ----
 * An access token's jti is "<session family id>.<random>", so logout knows its session.
 * Refresh tokens are random (32 bytes, base64url), stored as SHA-256 in gateway.sessions. */
/* Sign u in with a new session family: *out = {access_token, refresh_token, token_type,
 * expires_in, user} (caller decrefs). */
int tokens_sign_in(struct svc *s, const struct gw_user *u, json_t **out)
    __attribute__((warn_unused_result));
/* Rotate refresh_token (borrowed): *out as above. Errors as store_session_rotate, and
 * -ENOENT for a token that is not even well-formed, -EPERM for an account that is gone. */
int tokens_refresh(struct svc *s, const char *refresh_token, json_t **out)
    __attribute__((warn_unused_result));
/* The session family in an access token's jti: 0, or -ENOENT (API keys, older tokens). */
int tokens_family(const struct auth_claims *c, char family[37]) __attribute__((warn_unused_result));
/* Revoke the caller's session family and, when refresh_token (may be NULL) is the caller's,
 * its family too. */
int tokens_sign_out(struct svc *s, const struct auth_claims *c, const char *refresh_token)
    __attribute__((warn_unused_result));

/* ---- userstate.c: is the account behind a token still active ----
 * Checked on every authenticated request, through an in-process cache whose entries live
 * cfg.account_check_ttl_ms (0: always ask PostgreSQL); changes made on this replica
 * forget the entry at once, other replicas see them within the TTL. */
/* 0 when c->sub is an active account, with c->role set to its current role; -EPERM and
 * *why (static) when it is deactivated or gone. When PostgreSQL fails, the last known state
 * decides, and without one the token is accepted (logged): an outage must not sign
 * everyone out, and everything behind the gateway needs PostgreSQL anyway. */
int ustate_check(struct svc *s, struct auth_claims *c, const char **why)
    __attribute__((warn_unused_result));
/* Forget the cached state of user_id (after changing the account). */
void ustate_forget(const char *user_id);

/* ---- rights.c: data rights ---- */
/* The caller's export: the gateway's data and every service's part (GET
 * /internal/users/{id}/export with an internal token). 0 and *out (caller decrefs), -ENOENT
 * no such account, or -EIO with *failed naming the service that did not answer. */
int rights_export(struct svc *s, const struct http_req *req, json_t **out, const char **failed)
    __attribute__((warn_unused_result));
/* Erase user_id: delete the gateway's rows and publish user.deleted, both or neither.
 * 0, -ENOENT, -EIO, -EAGAIN. */
int rights_erase(struct svc *s, const char *user_id) __attribute__((warn_unused_result));

/* ---- events.c: the gateway's Kafka messages ---- */
/* Publish {"type":"user.deleted","user_id","at"} on ibx.user.events (key user_id) and wait
 * for the broker's acknowledgement. 0 or bus_publish_sync's error. */
int events_user_deleted(struct svc *s, const char *user_id) __attribute__((warn_unused_result));

/* ---- web.c ---- */
void web_serve(struct http_req *req, struct http_resp *resp);

/* ---- tokcache.c: cached verification of access tokens and minting of internal ones ---- */
int tokcache_init(void) __attribute__((warn_unused_result));
void tokcache_fini(void);
int tokcache_verify_access(struct svc *s, const char *tok, struct auth_claims *out,
                           const char **why) __attribute__((warn_unused_result));
/* The internal token for this identity (caller frees). */
int tokcache_internal(struct svc *s, const struct auth_claims *who, char **out)
    __attribute__((warn_unused_result));

/* ---- proxy.c ---- */
/* Socket pools for the upstream services (from the configured URLs); at start-up. */
int proxy_init(const struct gw *g) __attribute__((warn_unused_result));
void proxy_fini(void);
void proxy_handle(struct http_req *req, struct http_resp *resp);
/* Mint the internal token for this request. Caller frees. */
int proxy_internal_token(struct svc *s, const struct http_req *req, char **out)
    __attribute__((warn_unused_result));

#endif
