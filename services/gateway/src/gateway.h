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

/* Configuration of API keys, rate limits and quotas (IBX_RATE_*, IBX_QUOTA_*, ...). */
struct gw_limits_config {
    long auth_per_min, auth_burst; /* per client address on public /api/v1/auth/ routes */
    long api_per_min, api_burst;   /* per user or API key (per address when public) */
    long lease_max;                /* most tokens a replica leases from a shared bucket */
    long lease_ms;                 /* unused leased tokens go back after this idle time */
    long key_cache_s;              /* API-key lookups are reused this long (revocation bound) */
    long runs_per_month;           /* pipeline runs a user may start per UTC month */
    long concurrent_experiments;   /* reported by /quota; enforced by ml-pipeline */
    long llm_tokens_per_day;       /* LLM tokens a user may use per UTC day */
    long quota_hold_s;             /* a reservation without its usage event expires after */
};

struct gw {
    struct gw_config cfg;
    char dummy_hash[160]; /* verified against when the email is unknown: equal timing */
    /* API keys, rate limits, quotas (keys.c, limits.c, quota.c, admit.c) */
    struct gw_limits_config lim;
    struct keys_cache *keys; /* NULL until admit_start */
    struct limits *limits;   /* NULL until admit_start */
    struct quota *quota;     /* NULL until admit_start */
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
/* The gateway's rows about user_id for the export (caller decrefs): {"sessions",
 * "api_keys", "quota_counters", "quota_reservations", "usage"}, each an array of rows,
 * never a token or key hash. */
int store_gateway_export_json(struct svc *s, const char *user_id, json_t **out)
    __attribute__((warn_unused_result));
/* is_active, role and ai_familiarity (0 when unset) of an account: 0, -ENOENT (no such
 * account), -EIO, -EAGAIN. */
int store_user_status(struct svc *s, const char *id, int *is_active, char role[16],
                      long *ai_familiarity) __attribute__((warn_unused_result));
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
 * except family keep_family (NULL: all), in one statement. -EACCES when the account no
 * longer has old_hash (changed in between, or gone). */
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
 * -ENOENT for a token that is not even well-formed or an account that is gone. */
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
/* 0 when c->sub is an active account, with c->role set to its current role and
 * c->aud_level to the audience level of its ai_familiarity (acct_audience_level; what the
 * internal token tells xai-engine); -EPERM and
 * *why (static) when it is deactivated or gone. When PostgreSQL fails, the last known state
 * decides, and without one the token is accepted (logged): an outage must not sign
 * everyone out, and everything behind the gateway needs PostgreSQL anyway.
 * Without may_block (on an event loop) it returns HTTP_NEEDS_WORKER instead of asking
 * PostgreSQL; while one such lookup of an expired entry is under way (at most a second),
 * the other requests of that account use the expired entry (with a TTL of 0, never). */
int ustate_check(struct svc *s, struct auth_claims *c, int may_block, const char **why)
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

/* ==== API keys, rate limits, quotas (keys.c, limits.c, quota.c, admit.c; SQL in store.c) ==== */
#include <ibx/gcra.h>

#include <stdint.h>

/* ---- keys.c: API keys (secret format, scopes, the lookup cache) ---- */
#define KEYS_SECRET_PREFIX "ibx_"
#define KEYS_SECRET_BYTES  32 /* random bytes after the prefix (base64url: 43 characters) */
#define KEYS_SECRET_LEN    (4 + 43)
#define KEYS_PREFIX_LEN    12 /* "ibx_" and 8 characters: shown, not secret */
#define KEYS_MAX_ACTIVE    100
#define KEYS_SCOPES        "llm predict read write" /* the fixed set */

struct gw_key {
    char id[37];
    char user_id[37];
    char role[16]; /* the owner's role now (lookups by secret only) */
    char name[101];
    char prefix[KEYS_PREFIX_LEN + 1];
    char scopes[32];          /* space-separated, in KEYS_SCOPES order */
    long requests_per_minute; /* 0 = the class limit */
    long long tokens_per_day; /* 0 = only the owner's quota */
    char created_at[40], last_used_at[40], expires_at[40]; /* "" for none */
    long long expires_ms;                                  /* 0 = never */
    int revoked;
};
struct keys_cache;

/* Start the lookup cache (positive lookups reused up to cache_s seconds; used keys get
 * last_used_at written at most once a minute by the cache's thread). 0, -ENOMEM, -EAGAIN. */
int keys_start(struct svc *s, long cache_s, struct keys_cache **out)
    __attribute__((warn_unused_result));
/* Stop the thread (flushing last_used_at) and free. Accepts NULL. */
void keys_stop(struct keys_cache *c);
/* 1 when a bearer credential is an API key (the ibx_ prefix), not a JWT. */
int keys_is_secret(const char *bearer);
/* A new secret (KEYS_SECRET_LEN characters), its display prefix and its SHA-256 hex. */
void keys_new_secret(char secret[KEYS_SECRET_LEN + 1], char prefix[KEYS_PREFIX_LEN + 1],
                     char hash[65]);
/* Canonical scopes string from a JSON array of scope names: NULL and out filled, else the
 * problem (static) naming what is wrong. */
const char *keys_scopes_problem(const json_t *scopes, char *out, size_t n);
/* The scope a request needs: "llm" (/v1/, /api/v1/llm/), "predict" (/v2/,
 * /api/v1/models/{id}/predict...), "read" (other GET/HEAD), "write" (other methods), or
 * NULL for routes an API key may never use (keys, accounts, sessions, admin). */
const char *keys_required_scope(const char *method, const char *path);
/* 1 when the space-separated list has scope. */
int keys_has_scope(const char *scopes, const char *scope);
/* The active key behind secret, from the cache or PostgreSQL. 0; -EPERM unknown, revoked,
 * expired or the owner deactivated (*why set); -EIO/-EAGAIN PostgreSQL failed. */
int keys_resolve(struct svc *s, const char *secret, struct gw_key *out, const char **why)
    __attribute__((warn_unused_result));
/* expires_at of a new key: NULL and *ms (0 for s NULL: never), else the problem (static). */
const char *keys_expiry_problem(const char *s, long long *ms);
/* Drop key_id from this replica's cache at once (after a revocation). */
void keys_forget(struct keys_cache *c, const char *key_id);
/* RFC 3339 time (2026-01-31T12:00:00Z, fractions, +hh:mm offsets) to epoch ms. 0, -EINVAL. */
int keys_parse_time(const char *s, long long *ms) __attribute__((warn_unused_result));

/* ---- limits.c: rate limits shared by replicas, sign-in slow-down ---- */
struct limits;
struct limits_verdict {
    int allowed;
    long limit;         /* requests a minute (RateLimit-Limit) */
    long burst;         /* at once */
    long remaining;     /* RateLimit-Remaining (an estimate across replicas) */
    long reset_s;       /* RateLimit-Reset: seconds until the budget is full */
    long retry_after_s; /* when refused */
};
/* Start the lease table and its thread (returns idle leases, sweeps old rows).
 * 0, -ENOMEM, -EAGAIN. */
int limits_start(struct svc *s, const struct gw_limits_config *cfg, struct limits **out)
    __attribute__((warn_unused_result));
/* Stop the thread, give every leased token back, free. Accepts NULL. */
void limits_stop(struct limits *l);
/* Take one token from bucket (a name that includes the limit) at per_min with burst.
 * Uses a leased slice when this replica holds one; otherwise leases up to
 * limits_slice(burst) tokens from PostgreSQL. When half a slice (of at least 2) is spent,
 * the lease thread tops it up to a whole slice in the background, so a busy bucket rarely
 * waits for PostgreSQL; a replica never holds more than one slice. Returns 0 with *out;
 * without PostgreSQL it falls back to a per-replica limit (logged). Without may_block (on
 * an event loop) it returns HTTP_NEEDS_WORKER, having taken nothing, when it would have to
 * wait (a lease, or the bucket busy with one). */
int limits_check(struct limits *l, const char *bucket, long per_min, long burst, int may_block,
                 struct limits_verdict *out) __attribute__((warn_unused_result));
/* Tokens one replica leases at once for burst: min(lease_max, max(1, burst / 10)). Across
 * R replicas the overshoot over one shared limit is at most R * limits_slice(burst). */
long limits_slice(const struct limits *l, long burst);
/* Sign-in slow-down, called by the login handler. limits_login_allowed: 0, or -EAGAIN
 * with *retry_after_s when the account (email) or the address had too many failures.
 * limits_login_failed counts a failure for both; limits_login_succeeded forgets the
 * account's failures. PostgreSQL failures are logged and never block a sign-in. */
int limits_login_allowed(struct svc *s, const char *email, const char *ip, long *retry_after_s)
    __attribute__((warn_unused_result));
void limits_login_failed(struct svc *s, const char *email, const char *ip);
void limits_login_succeeded(struct svc *s, const char *email);

/* ---- quota.c: quotas, usage settlement (consumer group gateway-usage on ibx.usage) ---- */
struct quota;
struct gw_quota_use {
    char scope_id[37]; /* whose (quota_check_llm: the user's or the key's id) */
    long long limit, used, reserved;
    char period_start[40], resets_at[40]; /* UTC, ISO-8601 */
};
/* Start the ibx.usage consumer. 0 or bus_consumer_start's error. */
int quota_start(struct svc *s, struct quota **out) __attribute__((warn_unused_result));
void quota_stop(struct quota *q); /* accepts NULL */
/* For the proxy, on POST /api/v1/experiments (the caller is req->claims.sub): reserve one
 * pipeline run of this month's quota, atomically across replicas (used + reserved never
 * passes the limit). 0: go on; reservation_id is set; if the upstream then refuses the
 * run (no answer, or a status >= 400) call quota_release(s, reservation_id); otherwise
 * the run's usage event (kind pipeline_run, same request id) settles it, or it expires
 * after IBX_QUOTA_HOLD_S. < 0: resp is set, answer it as it is: -EACCES 429
 * quota_exceeded with Retry-After and details {quota, limit, used, reserved, resets_at};
 * -ENOENT 401 (the account is gone); -EIO/-EAGAIN 503. */
int quota_reserve_run(struct svc *s, const struct http_req *req, struct http_resp *resp,
                      char reservation_id[37]) __attribute__((warn_unused_result));
/* Give a reservation back (the upstream refused). Idempotent; errors are logged. */
void quota_release(struct svc *s, const char *reservation_id);
/* LLM admission: 0 when the user (and the key, when key_tokens_per_day > 0) still has
 * tokens today; -EACCES with *over filled when not; -EIO/-EAGAIN PostgreSQL failed. */
int quota_check_llm(struct svc *s, const char *user_id, const char *key_id,
                    long long key_tokens_per_day, struct gw_quota_use *over)
    __attribute__((warn_unused_result));
/* GET /quota body for user_id (caller decrefs). 0, -EIO, -EAGAIN, -ENOMEM. */
int quota_status_json(struct svc *s, const char *user_id, json_t **out)
    __attribute__((warn_unused_result));
/* GET /usage body: user_id's ledger aggregated (caller decrefs). 0, -EIO, -EAGAIN, -ENOMEM. */
enum gw_usage_group { GW_USAGE_DAY, GW_USAGE_MODEL, GW_USAGE_KEY };
int quota_usage_json(struct svc *s, const char *user_id, long from_days, long to_days,
                     enum gw_usage_group g, json_t **out) __attribute__((warn_unused_result));
/* The /usage range from the from and to parameters (NULL: to = today UTC, from = to - 29
 * days): NULL and the days, else the problem (static). */
const char *quota_range_problem(const char *from, const char *to, long *from_days, long *to_days);
/* A calendar date YYYY-MM-DD: 0 and *days since 1970-01-01, or -EINVAL. */
int quota_parse_date(const char *s, long *days) __attribute__((warn_unused_result));

/* ---- admit.c: the authenticate helper and the admission hook (HTTP glue) ---- */
/* Authenticate an API key: fill claims (sub = owner, role = owner's role, scopes, key_id).
 * 0, or < 0 with *why. */
int admit_key_auth(struct svc *s, const char *secret, struct auth_claims *c, const char **why)
    __attribute__((warn_unused_result));
/* For the login handler: 0 when email and the client's address may try to sign in; else
 * < 0 with resp set (429 rate_limited, Retry-After). */
int admit_login_allowed(struct svc *s, const struct http_req *req, const char *email,
                        struct http_resp *resp) __attribute__((warn_unused_result));
/* The admit hook: rate limit (RateLimit-* on every answer), API-key scope, LLM quota. */
int admit_request(void *app, struct http_req *req, struct http_resp *resp);
/* Start/stop the key cache, the limits and the usage consumer (gateway init and fini). */
int admit_start(struct svc *s) __attribute__((warn_unused_result));
void admit_stop(struct svc *s);

/* -- store.c: API keys, rate buckets, sign-in failures, quotas and usage -- */
/* 0 and *out; -EMSGSIZE when the user has KEYS_MAX_ACTIVE active keys. expires_ms 0 = never. */
int store_key_create(struct svc *s, const char *user_id, const char *name, const char *prefix,
                     const char *hash, const char *scopes, long rpm, long long tokens_per_day,
                     long long expires_ms, struct gw_key *out) __attribute__((warn_unused_result));
/* user_id's keys, newest first (at most 500): *keys (caller frees) and *n. */
int store_key_list(struct svc *s, const char *user_id, struct gw_key **keys, size_t *n)
    __attribute__((warn_unused_result));
/* Revoke user_id's key id (again is fine). -ENOENT when it is not user_id's key. */
int store_key_revoke(struct svc *s, const char *user_id, const char *id)
    __attribute__((warn_unused_result));
/* The active, unexpired key with this hash whose owner is active (role filled). -ENOENT. */
int store_key_by_hash(struct svc *s, const char *hash, struct gw_key *out)
    __attribute__((warn_unused_result));
/* last_used_at = now() for the n key ids. */
int store_keys_touch(struct svc *s, const char *const *ids, size_t n)
    __attribute__((warn_unused_result));
/* Lease up to want tokens of bucket (locked row, database clock); give n back. */
int store_rate_lease(struct svc *s, const char *bucket, const struct gcra_limit *l, int64_t want,
                     struct gcra_result *out) __attribute__((warn_unused_result));
int store_rate_give(struct svc *s, const char *bucket, const struct gcra_limit *l, int64_t n)
    __attribute__((warn_unused_result));
/* Delete buckets idle for 10 minutes and full, and sign-in failures a day old. */
int store_rate_sweep(struct svc *s) __attribute__((warn_unused_result));
/* Seconds until both subjects may sign in again (0: now). */
int store_login_wait(struct svc *s, const char *subject_a, const char *subject_b, long *wait_s)
    __attribute__((warn_unused_result));
/* Count a failure (the count restarts after window_s without one): *failures. */
int store_login_failure(struct svc *s, const char *subject, long window_s, long *failures)
    __attribute__((warn_unused_result));
int store_login_block(struct svc *s, const char *subject, long delay_s)
    __attribute__((warn_unused_result));
int store_login_clear(struct svc *s, const char *subject) __attribute__((warn_unused_result));
/* kind: "pipeline_run" (UTC month) or "llm_tokens" (UTC day). scope_id: a user or key id. */
int store_quota_use(struct svc *s, const char *scope_id, const char *kind, struct gw_quota_use *out)
    __attribute__((warn_unused_result));
/* Reserve amount for user_id if used + reserved + amount <= limit: 0 and id_out, or
 * -EACCES with *use filled. Expired reservations of the user are released first. */
int store_quota_reserve(struct svc *s, const char *user_id, const char *kind, long long limit,
                        long long amount, long hold_s, const char *request_id, char id_out[37],
                        struct gw_quota_use *use) __attribute__((warn_unused_result));
int store_quota_release(struct svc *s, const char *reservation_id)
    __attribute__((warn_unused_result));
/* Release every expired reservation. */
int store_quota_sweep(struct svc *s) __attribute__((warn_unused_result));
struct gw_usage_event {
    char event_key[200];
    char request_id[80];
    char user_id[37];
    char key_id[37]; /* "" when none */
    char model[128]; /* "" when none */
    char kind[16];   /* "llm" or "pipeline_run" */
    long long prompt_tokens, completion_tokens;
    long long at_ms; /* 0 = now */
};
/* Record e once (by event_key) and settle it: 0 (also for a repeat, *applied 0), -ENOENT
 * the user does not exist (any more). */
int store_usage_settle(struct svc *s, const struct gw_usage_event *e, int *applied)
    __attribute__((warn_unused_result));
struct gw_usage_row {
    char group[128];
    long long events, prompt_tokens, completion_tokens, runs;
};
/* user_id's ledger from day from_days to to_days (days since 1970-01-01, inclusive, UTC)
 * grouped; at most 1000 rows: *rows (caller frees) and *n. */
int store_usage_aggregate(struct svc *s, const char *user_id, long from_days, long to_days,
                          enum gw_usage_group g, struct gw_usage_row **rows, size_t *n)
    __attribute__((warn_unused_result));

#endif
