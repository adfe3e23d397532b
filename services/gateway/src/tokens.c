/* tokens: access tokens and rotating refresh tokens (sign-in, refresh, sign-out). */
#include "gateway.h"

#include <ibx/hash.h>
#include <ibx/ids.h>
#include <ibx/log.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOKENS_REFRESH_BYTES 32 /* random bytes in a refresh token */
#define TOKENS_REFRESH_MIN   16 /* shorter or longer presented tokens are refused unread */
#define TOKENS_REFRESH_MAX   256
#define TOKENS_JTI_RANDOM    12 /* random bytes after the family id in a jti */

/* An access token for u in session family; the caller frees *out. */
static int tokens_access(struct svc *s, const struct gw_user *u, const char *family, char **out)
{
    const struct gw *g = s->app;
    struct auth_claims c = {0};
    char rnd[(TOKENS_JTI_RANDOM * 4 + 2) / 3 + 1];
    ids_random_token(rnd, TOKENS_JTI_RANDOM);
    snprintf(c.sub, sizeof(c.sub), "%s", u->id);
    snprintf(c.role, sizeof(c.role), "%s", u->role);
    snprintf(c.typ, sizeof(c.typ), "access");
    snprintf(c.iss, sizeof(c.iss), GW_ISS);
    snprintf(c.aud, sizeof(c.aud), GW_AUD);
    snprintf(c.jti, sizeof(c.jti), "%.36s.%s", family, rnd);
    return auth_issue(s->keys, &c, g->cfg.access_ttl_s, out);
}

/* A fresh refresh token and its SHA-256. */
static void tokens_new_refresh(char *token, char hash[HASH_SHA256_HEX_LEN + 1])
{
    ids_random_token(token, TOKENS_REFRESH_BYTES);
    hash_sha256_hex(token, strlen(token), hash);
}

/* 1 when t could be one of our refresh tokens (length and base64url alphabet). */
static int tokens_refresh_shape_ok(const char *t)
{
    size_t n = strlen(t);
    if (n < TOKENS_REFRESH_MIN || n > TOKENS_REFRESH_MAX)
        return 0;
    return strspn(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == n;
}

/* The response of a sign-in or a refresh; the strings are copied. */
static int tokens_pair_json(struct svc *s, const struct gw_user *u, const char *family,
                            const char *refresh, json_t **out)
{
    const struct gw *g = s->app;
    char *access = NULL;
    int rc = tokens_access(s, u, family, &access);
    if (rc)
        return rc;
    json_t *o = json_pack("{s:s, s:s, s:s, s:I, s:o}", "access_token", access, "refresh_token",
                          refresh, "token_type", "bearer", "expires_in",
                          (json_int_t)g->cfg.access_ttl_s, "user", gw_user_json(u));
    explicit_bzero(access, strlen(access));
    free(access);
    if (!o)
        return -ENOMEM;
    *out = o;
    return 0;
}

int tokens_sign_in(struct svc *s, const struct gw_user *u, json_t **out)
{
    const struct gw *g = s->app;
    char refresh[(TOKENS_REFRESH_BYTES * 4 + 2) / 3 + 1], hash[HASH_SHA256_HEX_LEN + 1];
    char family[IDS_UUID_LEN + 1];
    tokens_new_refresh(refresh, hash);
    ids_uuid4(family);
    if (store_sessions_purge_expired(s, u->id) != 0)
        log_warn("could not purge the expired sessions of a user; going on");
    int rc = store_session_create(s, u->id, family, hash, g->cfg.refresh_ttl_s);
    if (rc == 0)
        rc = tokens_pair_json(s, u, family, refresh, out);
    explicit_bzero(refresh, sizeof(refresh));
    return rc;
}

int tokens_refresh(struct svc *s, const char *refresh_token, json_t **out)
{
    const struct gw *g = s->app;
    if (!tokens_refresh_shape_ok(refresh_token))
        return -ENOENT;
    char old_hash[HASH_SHA256_HEX_LEN + 1], hash[HASH_SHA256_HEX_LEN + 1];
    char refresh[(TOKENS_REFRESH_BYTES * 4 + 2) / 3 + 1];
    hash_sha256_hex(refresh_token, strlen(refresh_token), old_hash);
    tokens_new_refresh(refresh, hash);
    struct gw_rotated rot;
    struct gw_user u;
    int rc = store_session_rotate(s, old_hash, hash, g->cfg.refresh_ttl_s, &rot);
    if (rc == 0)
        rc = store_user_by_id(s, rot.user_id, &u);
    if (rc == 0 && !u.is_active)
        rc = -EPERM;
    if (rc == 0)
        rc = tokens_pair_json(s, &u, rot.family_id, refresh, out);
    if (rc == 0 && store_sessions_purge_expired(s, u.id) != 0)
        log_warn("could not purge the expired sessions of a user; going on");
    explicit_bzero(refresh, sizeof(refresh));
    return rc;
}

int tokens_family(const struct auth_claims *c, char family[37])
{
    char f[IDS_UUID_LEN + 1];
    if (strlen(c->jti) <= IDS_UUID_LEN || c->jti[IDS_UUID_LEN] != '.')
        return -ENOENT;
    memcpy(f, c->jti, IDS_UUID_LEN);
    f[IDS_UUID_LEN] = '\0';
    if (!ids_is_uuid(f))
        return -ENOENT;
    memcpy(family, f, sizeof(f));
    return 0;
}

int tokens_sign_out(struct svc *s, const struct auth_claims *c, const char *refresh_token)
{
    char family[IDS_UUID_LEN + 1];
    int rc = 0;
    if (tokens_family(c, family) == 0)
        rc = store_sessions_revoke_family(s, c->sub, family);
    if (rc == 0 && refresh_token && tokens_refresh_shape_ok(refresh_token)) {
        char hash[HASH_SHA256_HEX_LEN + 1];
        hash_sha256_hex(refresh_token, strlen(refresh_token), hash);
        rc = store_sessions_revoke_token_family(s, c->sub, hash);
    }
    return rc;
}
