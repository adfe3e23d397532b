/* tokcache: access-token verification and internal-token minting, both cached.
 *
 * Verifying an HS256/RS256 token and signing a new one cost tens of microseconds each,
 * more than the rest of a proxied request. A token that verified once is remembered,
 * keyed by its exact text, until its own exp; nothing about it can change meanwhile
 * (revocation and deactivation are checked separately, per request). An internal token
 * is minted once per identity (user, role, scopes, key) and reused while it has at
 * least half of its lifetime left; the request id travels in X-Request-Id instead. */
#include "gateway.h"

#include <ibx/clock.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOKENS_CACHE_SIZE 16384

static struct ttlcache *verified, *minted;

int tokcache_init(void)
{
    int rc = ttlcache_new(TOKENS_CACHE_SIZE, &verified);
    if (rc == 0)
        rc = ttlcache_new(TOKENS_CACHE_SIZE, &minted);
    return rc;
}

void tokcache_fini(void)
{
    ttlcache_free(verified);
    ttlcache_free(minted);
    verified = minted = NULL;
}

int tokcache_verify_access(struct svc *s, const char *tok, struct auth_claims *out,
                           const char **why)
{
    int64_t now = clock_wall_ms();
    size_t len = 0;
    if (verified && ttlcache_get(verified, tok, now, out, sizeof(*out), &len) == 0 &&
        len == sizeof(*out))
        return 0;
    int rc = auth_verify(s->keys, tok, GW_ISS, GW_AUD, "access", 30, out, why);
    if (rc == 0 && verified &&
        ttlcache_put(verified, tok, out, sizeof(*out), (int64_t)out->exp * 1000) != 0)
        return 0; /* not cached: still verified */
    return rc;
}

int tokcache_internal(struct svc *s, const struct auth_claims *who, char **out)
{
    char key[512];
    snprintf(key, sizeof(key), "%s\n%s\n%s\n%s\n%s", who->sub, who->role, who->scopes, who->key_id,
             who->aud_level);
    int64_t now = clock_wall_ms();
    char tok[4096];
    size_t len = 0;
    if (minted && ttlcache_get(minted, key, now, tok, sizeof(tok) - 1, &len) == 0) {
        tok[len] = '\0';
        *out = strdup(tok);
        return *out ? 0 : -ENOMEM;
    }
    struct auth_claims c = {0};
    snprintf(c.sub, sizeof(c.sub), "%s", who->sub);
    snprintf(c.role, sizeof(c.role), "%s", who->role);
    snprintf(c.scopes, sizeof(c.scopes), "%s", who->scopes);
    snprintf(c.key_id, sizeof(c.key_id), "%s", who->key_id);
    snprintf(c.aud_level, sizeof(c.aud_level), "%s", who->aud_level);
    snprintf(c.typ, sizeof(c.typ), SVC_INTERNAL_TYP);
    snprintf(c.iss, sizeof(c.iss), SVC_INTERNAL_ISS);
    snprintf(c.aud, sizeof(c.aud), SVC_INTERNAL_AUD);
    int rc = auth_issue(s->keys, &c, SVC_INTERNAL_TTL, out);
    if (rc == 0 && minted)
        (void)!ttlcache_put(minted, key, *out, strlen(*out), now + SVC_INTERNAL_TTL * 1000 / 2);
    return rc;
}
