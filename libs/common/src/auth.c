/* auth: JWT issue/verify over libjwt with a pinned algorithm and our own claim checks. */
#include <ibx/auth.h>
#include <ibx/b64.h>
#include <ibx/clock.h>
#include <ibx/ids.h>

#include <errno.h>
#include <jansson.h>
#include <jwt.h>
#include <limits.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define AUTH_SEG_MAX (AUTH_MAX_TOKEN / 4 * 3 + 3) /* decoded bytes of one segment */

struct auth_keys {
    jwt_alg_t alg;
    const char *alg_name;    /* "HS256" or "RS256": the only header alg accepted */
    unsigned char *sign_key; /* HS: the secret; RS: private PEM; NULL: verify only */
    size_t sign_len;
    unsigned char *verify_key; /* HS: the same secret (own copy); RS: public PEM */
    size_t verify_len;
};

/* The parts of a compact JWS: header.payload.signature */
struct auth_parts {
    const char *hdr, *pay, *sig;
    size_t hdr_len, pay_len, sig_len;
};

static auth_clock_fn auth_clock;

void auth_set_clock(auth_clock_fn now)
{
    auth_clock = now;
}

static long auth_now(void)
{
    return auth_clock ? auth_clock() : (long)(clock_wall_ms() / 1000);
}

static unsigned char *auth_copy_key(const char *s, size_t len)
{
    unsigned char *p = malloc(len + 1);
    if (!p)
        return NULL;
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

static void auth_wipe_free(unsigned char *p, size_t len)
{
    if (!p)
        return;
    sodium_memzero(p, len);
    free(p);
}

void auth_keys_free(struct auth_keys *k)
{
    if (!k)
        return;
    auth_wipe_free(k->sign_key, k->sign_len);
    auth_wipe_free(k->verify_key, k->verify_len);
    free(k);
}

/* A key set with copies of both keys (sign may be NULL). */
static int auth_keys_alloc(jwt_alg_t alg, const char *sign, const char *verify,
                           struct auth_keys **out)
{
    struct auth_keys *k = calloc(1, sizeof(*k));
    if (!k)
        return -ENOMEM;
    k->alg = alg;
    k->alg_name = alg == JWT_ALG_HS256 ? "HS256" : "RS256";
    k->verify_len = strlen(verify);
    k->verify_key = auth_copy_key(verify, k->verify_len);
    if (!k->verify_key)
        goto fail;
    if (sign) {
        k->sign_len = strlen(sign);
        k->sign_key = auth_copy_key(sign, k->sign_len);
        if (!k->sign_key)
            goto fail;
    }
    *out = k;
    return 0;

fail:
    auth_keys_free(k);
    return -ENOMEM;
}

int auth_keys_new_hs256(const char *secret, struct auth_keys **out)
{
    if (!secret || !out)
        return -EINVAL;
    size_t len = strnlen(secret, AUTH_MAX_KEY + 1);
    if (len < AUTH_MIN_SECRET || len > AUTH_MAX_KEY)
        return -EINVAL;
    if (ids_init() != 0)
        return -EIO;
    return auth_keys_alloc(JWT_ALG_HS256, secret, secret, out);
}

/* 1 when s looks like one PEM block of text no longer than AUTH_MAX_KEY. */
static int auth_is_pem(const char *s)
{
    if (!s || strnlen(s, AUTH_MAX_KEY + 1) > AUTH_MAX_KEY)
        return 0;
    const char *begin = strstr(s, "-----BEGIN ");
    return begin && strstr(begin, "-----END ") != NULL;
}

/* Sign and verify one token so a bad or mismatched key pair fails at start-up. */
static int auth_probe(const struct auth_keys *k)
{
    struct auth_claims c = {.sub = "auth-probe", .typ = "probe", .jti = "probe"};
    struct auth_claims got;
    char *token = NULL;
    int rc = auth_issue(k, &c, 60, &token);
    if (rc)
        return rc == -ENOMEM ? rc : -EINVAL;
    rc = auth_verify(k, token, NULL, NULL, "probe", 0, &got, NULL);
    free(token);
    return rc == -ENOMEM ? rc : rc ? -EINVAL : 0;
}

int auth_keys_new_rs256(const char *private_pem_or_null, const char *public_pem,
                        struct auth_keys **out)
{
    if (!out || !auth_is_pem(public_pem))
        return -EINVAL;
    if (private_pem_or_null && !auth_is_pem(private_pem_or_null))
        return -EINVAL;
    if (ids_init() != 0)
        return -EIO;
    struct auth_keys *k = NULL;
    int rc = auth_keys_alloc(JWT_ALG_RS256, private_pem_or_null, public_pem, &k);
    if (rc)
        return rc;
    if (k->sign_key) {
        rc = auth_probe(k);
        if (rc) {
            auth_keys_free(k);
            return rc;
        }
    }
    *out = k;
    return 0;
}

/* 1 when every string field is NUL-terminated inside its array. */
static int auth_claims_terminated(const struct auth_claims *c)
{
    return strnlen(c->sub, sizeof(c->sub)) < sizeof(c->sub) &&
           strnlen(c->role, sizeof(c->role)) < sizeof(c->role) &&
           strnlen(c->scopes, sizeof(c->scopes)) < sizeof(c->scopes) &&
           strnlen(c->key_id, sizeof(c->key_id)) < sizeof(c->key_id) &&
           strnlen(c->rid, sizeof(c->rid)) < sizeof(c->rid) &&
           strnlen(c->aud_level, sizeof(c->aud_level)) < sizeof(c->aud_level) &&
           strnlen(c->jti, sizeof(c->jti)) < sizeof(c->jti) &&
           strnlen(c->typ, sizeof(c->typ)) < sizeof(c->typ) &&
           strnlen(c->iss, sizeof(c->iss)) < sizeof(c->iss) &&
           strnlen(c->aud, sizeof(c->aud)) < sizeof(c->aud);
}

static int auth_add_str(jwt_t *jwt, const char *name, const char *val)
{
    if (!*val)
        return 0;
    return jwt_add_grant(jwt, name, val);
}

static int auth_add_grants(jwt_t *jwt, const struct auth_claims *c, const char *jti, long now,
                           long ttl)
{
    int rc = auth_add_str(jwt, "sub", c->sub);
    rc = rc ? rc : auth_add_str(jwt, "role", c->role);
    rc = rc ? rc : auth_add_str(jwt, "scope", c->scopes);
    rc = rc ? rc : auth_add_str(jwt, "key_id", c->key_id);
    rc = rc ? rc : auth_add_str(jwt, "rid", c->rid);
    rc = rc ? rc : auth_add_str(jwt, "aud_level", c->aud_level);
    rc = rc ? rc : auth_add_str(jwt, "jti", jti);
    rc = rc ? rc : auth_add_str(jwt, "typ", c->typ);
    rc = rc ? rc : auth_add_str(jwt, "iss", c->iss);
    rc = rc ? rc : auth_add_str(jwt, "aud", c->aud);
    rc = rc ? rc : jwt_add_grant_int(jwt, "iat", now);
    rc = rc ? rc : jwt_add_grant_int(jwt, "nbf", now);
    rc = rc ? rc : jwt_add_grant_int(jwt, "exp", now + ttl);
    return rc;
}

int auth_issue(const struct auth_keys *k, const struct auth_claims *c, long ttl_seconds,
               char **token_out)
{
    if (!k || !c || !token_out || ttl_seconds <= 0 || ttl_seconds > AUTH_MAX_TTL)
        return -EINVAL;
    if (!k->sign_key)
        return -EACCES;
    if (!auth_claims_terminated(c) || !c->sub[0] || !c->typ[0])
        return -EINVAL;
    char fresh_jti[IDS_UUID_LEN + 1] = "";
    if (!c->jti[0])
        ids_uuid4(fresh_jti);

    jwt_t *jwt = NULL;
    if (jwt_new(&jwt) != 0)
        return -ENOMEM;
    int rc = auth_add_grants(jwt, c, c->jti[0] ? c->jti : fresh_jti, auth_now(), ttl_seconds);
    if (rc) {
        rc = rc == ENOMEM ? -ENOMEM : -EINVAL; /* EINVAL: a string is not UTF-8 */
        goto free_jwt;
    }
    rc = -EIO;
    if (jwt_set_alg(jwt, k->alg, k->sign_key, (int)k->sign_len) != 0)
        goto free_jwt;
    char *s = jwt_encode_str(jwt);
    if (!s)
        goto free_jwt;
    *token_out = s;
    rc = 0;

free_jwt:
    jwt_free(jwt);
    return rc;
}

/* Split a compact JWS into its three segments (header and payload not empty) and check
 * that the signature is canonical base64url, so one signature has one spelling. */
static int auth_split(const char *token, size_t len, struct auth_parts *p)
{
    unsigned char sig[AUTH_SEG_MAX];
    size_t sig_bytes = 0;
    const char *d1 = memchr(token, '.', len);
    if (!d1)
        return -EINVAL;
    const char *d2 = memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - token));
    if (!d2 || memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - token)))
        return -EINVAL;
    p->hdr = token;
    p->hdr_len = (size_t)(d1 - token);
    p->pay = d1 + 1;
    p->pay_len = (size_t)(d2 - p->pay);
    p->sig = d2 + 1;
    p->sig_len = len - (size_t)(p->sig - token);
    if (!p->hdr_len || !p->pay_len)
        return -EINVAL;
    return b64_url_decode(p->sig, p->sig_len, sig, sizeof(sig), &sig_bytes) ? -EINVAL : 0;
}

/* Decode one base64url segment holding a JSON object; *out is the caller's. */
static int auth_segment_json(const char *seg, size_t len, json_t **out)
{
    unsigned char raw[AUTH_SEG_MAX];
    size_t n = 0;
    if (b64_url_decode(seg, len, raw, sizeof(raw), &n) != 0)
        return -EINVAL;
    json_error_t jerr;
    json_t *j = json_loadb((const char *)raw, n, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(j)) {
        json_decref(j);
        return -EINVAL;
    }
    *out = j;
    return 0;
}

/* The header must name exactly our algorithm and must not ask for extensions (crit). */
static int auth_check_header(const struct auth_keys *k, const json_t *hdr, const char **why)
{
    const char *alg = json_string_value(json_object_get(hdr, "alg"));
    if (!alg || strcmp(alg, k->alg_name) != 0) {
        *why = "algorithm not allowed";
        return -EACCES;
    }
    if (json_object_get(hdr, "crit")) {
        *why = "malformed header";
        return -EINVAL;
    }
    return 0;
}

/* The signature, checked by libjwt with our key; the alg it saw must be ours too. */
static int auth_check_signature(const struct auth_keys *k, const char *token,
                                const struct auth_parts *p, const char **why)
{
    *why = "bad signature";
    if (p->sig_len == 0)
        return -EACCES;
    jwt_t *jwt = NULL;
    int rc = jwt_decode(&jwt, token, k->verify_key, (int)k->verify_len);
    if (rc == ENOMEM) {
        *why = "out of memory";
        return -ENOMEM;
    }
    if (rc != 0 || !jwt)
        return -EACCES;
    jwt_alg_t seen = jwt_get_alg(jwt);
    jwt_free(jwt);
    return seen == k->alg ? 0 : -EACCES;
}

/* Copy an optional string claim into dst[size]: absent gives "", a non-string or a string
 * that does not fit is -EINVAL. */
static int auth_get_str(const json_t *claims, const char *name, char *dst, size_t size,
                        const char **why)
{
    const json_t *v = json_object_get(claims, name);
    if (!v) {
        dst[0] = '\0';
        return 0;
    }
    if (!json_is_string(v)) {
        *why = "malformed claims";
        return -EINVAL;
    }
    size_t len = json_string_length(v);
    if (memchr(json_string_value(v), '\0', len)) {
        *why = "malformed claims";
        return -EINVAL;
    }
    if (len >= size) {
        *why = "claim too long";
        return -EINVAL;
    }
    memcpy(dst, json_string_value(v), len + 1);
    return 0;
}

/* An optional integer claim; *present tells whether it was there. */
static int auth_get_time(const json_t *claims, const char *name, long *dst, int *present,
                         const char **why)
{
    const json_t *v = json_object_get(claims, name);
    *present = v != NULL;
    *dst = 0;
    if (!v)
        return 0;
    json_int_t x = json_integer_value(v);
    if (!json_is_integer(v) || x < LONG_MIN || x > LONG_MAX) {
        *why = "malformed claims";
        return -EINVAL;
    }
    *dst = (long)x;
    return 0;
}

/* aud may be a string or an array of strings; out gets the wanted one (or the first). */
static int auth_get_aud(const json_t *claims, const char *want, char *dst, size_t size,
                        const char **why)
{
    const json_t *aud = json_object_get(claims, "aud");
    if (!json_is_array(aud))
        return auth_get_str(claims, "aud", dst, size, why);
    dst[0] = '\0';
    size_t i;
    const json_t *el;
    json_array_foreach(aud, i, el)
    {
        const char *s = json_string_value(el);
        if (!s) {
            *why = "malformed claims";
            return -EINVAL;
        }
        int take = want ? strcmp(s, want) == 0 : i == 0;
        if (take && json_string_length(el) >= size) {
            *why = "claim too long";
            return -EINVAL;
        }
        if (take)
            memcpy(dst, s, json_string_length(el) + 1);
    }
    return 0;
}

/* Read every claim we know into c; presence of nbf/iat reported through have[]. */
static int auth_read_claims(const json_t *j, const char *want_aud, struct auth_claims *c,
                            int have_time[3], const char **why)
{
    int rc = auth_get_str(j, "sub", c->sub, sizeof(c->sub), why);
    rc = rc ? rc : auth_get_str(j, "role", c->role, sizeof(c->role), why);
    rc = rc ? rc : auth_get_str(j, "scope", c->scopes, sizeof(c->scopes), why);
    rc = rc ? rc : auth_get_str(j, "key_id", c->key_id, sizeof(c->key_id), why);
    rc = rc ? rc : auth_get_str(j, "rid", c->rid, sizeof(c->rid), why);
    rc = rc ? rc : auth_get_str(j, "aud_level", c->aud_level, sizeof(c->aud_level), why);
    rc = rc ? rc : auth_get_str(j, "jti", c->jti, sizeof(c->jti), why);
    rc = rc ? rc : auth_get_str(j, "typ", c->typ, sizeof(c->typ), why);
    rc = rc ? rc : auth_get_str(j, "iss", c->iss, sizeof(c->iss), why);
    rc = rc ? rc : auth_get_aud(j, want_aud, c->aud, sizeof(c->aud), why);
    rc = rc ? rc : auth_get_time(j, "iat", &c->iat, &have_time[0], why);
    rc = rc ? rc : auth_get_time(j, "nbf", &c->nbf, &have_time[1], why);
    rc = rc ? rc : auth_get_time(j, "exp", &c->exp, &have_time[2], why);
    if (rc == 0 && !have_time[2]) {
        *why = "missing exp";
        rc = -EINVAL;
    }
    return rc;
}

/* exp, nbf and iat against now, each with leeway. */
static int auth_check_times(const struct auth_claims *c, const int have_time[3], long leeway,
                            const char **why)
{
    long now = auth_now();
    if (now - leeway >= c->exp)
        *why = AUTH_WHY_EXPIRED;
    else if (have_time[1] && now + leeway < c->nbf)
        *why = "token not yet valid";
    else if (have_time[0] && now + leeway < c->iat)
        *why = "issued in the future";
    else
        return 0;
    return -EACCES;
}

/* iss, aud and typ against what the caller wants (NULL: not checked). */
static int auth_check_wants(const struct auth_claims *c, const json_t *j, const char *want_iss,
                            const char *want_aud, const char *want_typ, const char **why)
{
    if (want_iss && strcmp(c->iss, want_iss) != 0)
        *why = "wrong issuer";
    else if (want_aud && (!json_object_get(j, "aud") || strcmp(c->aud, want_aud) != 0))
        *why = "wrong audience";
    else if (want_typ && strcmp(c->typ, want_typ) != 0)
        *why = "wrong token type";
    else
        return 0;
    return -EACCES;
}

/* Everything after the size check; *why is always set on failure. */
static int auth_verify_bounded(const struct auth_keys *k, const char *token, size_t len,
                               const char *want_iss, const char *want_aud, const char *want_typ,
                               long leeway, struct auth_claims *c, const char **why)
{
    struct auth_parts p;
    json_t *hdr = NULL, *pay = NULL;
    int have_time[3] = {0, 0, 0};
    *why = "malformed token";
    int rc = auth_split(token, len, &p);
    if (rc)
        return rc;
    *why = "malformed header";
    rc = auth_segment_json(p.hdr, p.hdr_len, &hdr);
    if (rc)
        return rc;
    rc = auth_check_header(k, hdr, why);
    if (rc)
        goto free_hdr;
    *why = "malformed claims";
    rc = auth_segment_json(p.pay, p.pay_len, &pay);
    if (rc)
        goto free_hdr;
    rc = auth_check_signature(k, token, &p, why);
    if (rc)
        goto free_pay;
    rc = auth_read_claims(pay, want_aud, c, have_time, why);
    rc = rc ? rc : auth_check_times(c, have_time, leeway, why);
    rc = rc ? rc : auth_check_wants(c, pay, want_iss, want_aud, want_typ, why);

free_pay:
    json_decref(pay);
free_hdr:
    json_decref(hdr);
    return rc;
}

int auth_verify(const struct auth_keys *k, const char *token, const char *want_iss,
                const char *want_aud, const char *want_typ, long leeway_seconds,
                struct auth_claims *out, const char **why)
{
    const char *reason = "malformed token";
    int rc = -EINVAL;
    if (!k || !token || !out)
        goto done;
    size_t len = strnlen(token, AUTH_MAX_TOKEN + 1);
    if (len > AUTH_MAX_TOKEN) {
        reason = "token too large";
        rc = -EMSGSIZE;
        goto done;
    }
    long leeway = leeway_seconds < 0 ? AUTH_DEFAULT_LEEWAY : leeway_seconds;
    if (leeway > AUTH_MAX_LEEWAY)
        leeway = AUTH_MAX_LEEWAY;
    struct auth_claims c;
    memset(&c, 0, sizeof(c));
    rc = auth_verify_bounded(k, token, len, want_iss, want_aud, want_typ, leeway, &c, &reason);
    if (rc == 0) {
        *out = c;
        reason = NULL;
    }
done:
    if (why)
        *why = reason;
    return rc;
}
