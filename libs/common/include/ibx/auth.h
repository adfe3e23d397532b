/* auth: issue and verify our JWTs (access, refresh and internal tokens) on top of libjwt.
 *
 * libjwt 1.10 checks only the signature. This wrapper pins the algorithm to the key set's
 * (HS256 or RS256; "none", other algorithms and HS256 signed with an RSA public key are
 * refused before libjwt sees the token), always hands libjwt the key, bounds the token
 * size, and checks exp (required), nbf, iat, iss, aud and typ itself.
 *
 * Claims in the token: sub, role, scope (space-separated), key_id, rid, aud_level, jti, typ,
 * iss, aud (a string, or an array containing the wanted audience), iat, nbf, exp. Empty
 * strings are left out when issuing and read back as "".
 *
 * A key set is immutable after creation and may be shared by any number of threads.
 * Call ids_init() before issuing (jti generation). */
#ifndef IBX_AUTH_H
#define IBX_AUTH_H

#include <stddef.h>

#define AUTH_WUR __attribute__((warn_unused_result))

#define AUTH_MAX_TOKEN      8192           /* longer tokens are refused unread (-EMSGSIZE) */
#define AUTH_MIN_SECRET     32             /* bytes in an HS256 secret */
#define AUTH_DEFAULT_LEEWAY 30             /* seconds, used when leeway_seconds < 0 */
#define AUTH_MAX_LEEWAY     3600           /* larger leeways are clamped */
#define AUTH_MAX_KEY        65536          /* bytes of a secret or PEM text */
#define AUTH_MAX_TTL        (400L * 86400) /* seconds */

/* The why string of an expired token, for callers that answer "please refresh". */
#define AUTH_WHY_EXPIRED "token expired"

struct auth_keys; /* opaque */

struct auth_claims {
    char sub[64];       /* user id (UUID) */
    char role[16];      /* user | contributor | admin */
    char scopes[256];   /* space-separated, may be empty */
    char key_id[64];    /* API key id when the caller used a key, else "" */
    char rid[72];       /* request id (internal tokens) */
    char aud_level[16]; /* internal tokens minted by the gateway: the user's audience level
                         * from their profile's ai_familiarity (novice | intermediate |
                         * expert; "" when unknown), for explanations adapted to them */
    char jti[64];       /* token id; auth_issue generates a UUID when empty */
    char typ[16];       /* "access", "refresh", "internal" */
    char iss[64], aud[64];
    long iat, nbf, exp; /* seconds since the epoch */
};

/* HS256 key set. secret (NUL-terminated, at least AUTH_MIN_SECRET bytes) is copied.
 * 0, -EINVAL (NULL, shorter than AUTH_MIN_SECRET or longer than AUTH_MAX_KEY), -ENOMEM,
 * -EIO (libsodium failed to initialise). *out is the caller's: auth_keys_free(). */
int auth_keys_new_hs256(const char *secret, struct auth_keys **out) AUTH_WUR;

/* RS256 key set from PEM text (copied). private_pem may be NULL for a verifier-only set,
 * which cannot issue (auth_issue returns -EACCES). When both keys are given, a probe token
 * is signed and verified, so a mismatched pair or unreadable key is -EINVAL here rather
 * than at the first request. A bad public key alone is only detected by its PEM framing.
 * 0, -EINVAL, -ENOMEM, -EIO. */
int auth_keys_new_rs256(const char *private_pem_or_null, const char *public_pem,
                        struct auth_keys **out) AUTH_WUR;

/* Frees the key set and wipes the key material. Accepts NULL. */
void auth_keys_free(struct auth_keys *k);

/* Sign c as a token valid from now for ttl_seconds (1..AUTH_MAX_TTL): iat = nbf = now,
 * exp = now + ttl; c's own iat/nbf/exp are ignored, and a fresh UUID is used as jti when
 * c->jti is empty. sub and typ must not be empty; every string must be UTF-8 and
 * NUL-terminated inside its field. *token_out is the caller's: free(). 0, -EINVAL, -EACCES
 * (verifier-only key set), -ENOMEM, -EIO (libjwt failed). */
int auth_issue(const struct auth_keys *k, const struct auth_claims *c, long ttl_seconds,
               char **token_out) AUTH_WUR;

/* Verify token and fill *out (untouched on failure).
 * want_iss / want_aud / want_typ: required values of iss / aud / typ; NULL skips that check
 * (services should pass all three). leeway_seconds: allowed clock skew for exp, nbf and iat;
 * negative means AUTH_DEFAULT_LEEWAY.
 * Returns 0, or
 *   -EMSGSIZE  longer than AUTH_MAX_TOKEN ("token too large")
 *   -EINVAL    not a well-formed JWT, a claim of the wrong type or too long for its field,
 *              exp missing ("malformed token", "malformed header", "malformed claims",
 *              "missing exp", "claim too long")
 *   -EACCES    "algorithm not allowed", "bad signature", "token expired",
 *              "token not yet valid", "issued in the future", "wrong issuer",
 *              "wrong audience", "wrong token type"
 *   -ENOMEM
 * Expiry is -EACCES like every other refusal (it maps to 401 the same way); callers that
 * want to tell the client to refresh compare why with "token expired".
 * *why (when why is not NULL) gets a static string as listed, never token content; NULL on
 * success. */
int auth_verify(const struct auth_keys *k, const char *token, const char *want_iss,
                const char *want_aud, const char *want_typ, long leeway_seconds,
                struct auth_claims *out, const char **why) AUTH_WUR;

/* Tests: replace the clock (seconds since the epoch); NULL restores the wall clock.
 * Not thread-safe; never call it in a service. */
typedef long (*auth_clock_fn)(void);
void auth_set_clock(auth_clock_fn now);

#endif
