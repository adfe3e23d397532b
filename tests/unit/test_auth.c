/* test_auth: JWT issue/verify: round trips, time and claim checks, algorithm pinning, forgery. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ibx/auth.h>
#include <ibx/b64.h>
#include <ibx/ids.h>

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define T0     1700000000L
#define SECRET "0123456789abcdef0123456789abcdef" /* exactly AUTH_MIN_SECRET bytes */

static long fake_now = T0;
static char *priv_a, *pub_a, *priv_b, *pub_b; /* PEM text from openssl */
static struct auth_keys *hs, *rs, *rs_verifier;

static const struct auth_claims base_claims = {
    .sub = "6f1c2a7e-0b1d-4c55-9e43-1a2b3c4d5e6f",
    .role = "user",
    .scopes = "datasets:read models:write",
    .key_id = "",
    .rid = "req-123",
    .typ = "access",
    .iss = "ibx-gateway",
    .aud = "ibx",
};

static long fake_clock(void)
{
    return fake_now;
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *text = calloc(1, 16384);
    size_t n = text ? fread(text, 1, 16383, f) : 0;
    fclose(f);
    if (text && n == 0) {
        free(text);
        return NULL;
    }
    return text;
}

/* Generate an RSA key pair with the openssl CLI in dir; name.pem and name.pub. */
static int make_rsa_pair(const char *dir, const char *name, char **priv, char **pub)
{
    char cmd[2048], p1[512], p2[512];
    snprintf(p1, sizeof(p1), "%s/%s.pem", dir, name);
    snprintf(p2, sizeof(p2), "%s/%s.pub", dir, name);
    snprintf(cmd, sizeof(cmd),
             "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out '%s' "
             "2>/dev/null && openssl pkey -in '%s' -pubout -out '%s' 2>/dev/null",
             p1, p1, p2);
    int rc = system(cmd);
    *priv = read_file(p1);
    *pub = read_file(p2);
    unlink(p1);
    unlink(p2);
    return rc == 0 && *priv && *pub ? 0 : -1;
}

static int group_setup(void **state)
{
    (void)state;
    char dir[] = "/tmp/test_auth_XXXXXX";
    if (ids_init() != 0 || !mkdtemp(dir))
        return -1;
    int rc = make_rsa_pair(dir, "a", &priv_a, &pub_a);
    rc = rc ? rc : make_rsa_pair(dir, "b", &priv_b, &pub_b);
    rmdir(dir);
    if (rc)
        return -1;
    auth_set_clock(fake_clock);
    if (auth_keys_new_hs256(SECRET, &hs) != 0 || auth_keys_new_rs256(priv_a, pub_a, &rs) != 0 ||
        auth_keys_new_rs256(NULL, pub_a, &rs_verifier) != 0)
        return -1;
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    auth_keys_free(hs);
    auth_keys_free(rs);
    auth_keys_free(rs_verifier);
    free(priv_a);
    free(pub_a);
    free(priv_b);
    free(pub_b);
    auth_set_clock(NULL);
    return 0;
}

static int reset_clock(void **state)
{
    (void)state;
    fake_now = T0;
    return 0;
}

/* Issue base_claims (or c) at time `at`. (noinline: GCC's -Wdangling-pointer otherwise
 * mistakes the returned token for the address of the local it was written through.) */
__attribute__((noinline)) static char *issue_at(const struct auth_keys *k,
                                                const struct auth_claims *c, long at, long ttl)
{
    char *token = NULL;
    fake_now = at;
    assert_int_equal(auth_issue(k, c ? c : &base_claims, ttl, &token), 0);
    assert_non_null(token);
    return token;
}

static int verify_at(const struct auth_keys *k, const char *token, long at, long leeway,
                     struct auth_claims *out, const char **why)
{
    fake_now = at;
    return auth_verify(k, token, "ibx-gateway", "ibx", "access", leeway, out, why);
}

/* header.payload.signature from JSON text; signed with HMAC-SHA256(hmac_key) when hmac_key
 * is not NULL, else with the literal signature text sig. Caller frees. */
static char *hand_token(const char *hdr, const char *pay, const char *hmac_key, const char *sig)
{
    char *t = calloc(1, 8192);
    assert_non_null(t);
    assert_int_equal(b64_url_encode(hdr, strlen(hdr), t, 4000), 0);
    size_t n = strlen(t);
    t[n++] = '.';
    assert_int_equal(b64_url_encode(pay, strlen(pay), t + n, 4000), 0);
    n = strlen(t);
    if (!hmac_key) {
        snprintf(t + n, 8192 - n, ".%s", sig);
        return t;
    }
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, (const unsigned char *)hmac_key, strlen(hmac_key));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)t, n);
    crypto_auth_hmacsha256_final(&st, mac);
    t[n++] = '.';
    assert_int_equal(b64_url_encode(mac, sizeof(mac), t + n, 8192 - n), 0);
    return t;
}

static void assert_same_claims(const struct auth_claims *got, const struct auth_claims *want)
{
    assert_string_equal(got->sub, want->sub);
    assert_string_equal(got->role, want->role);
    assert_string_equal(got->scopes, want->scopes);
    assert_string_equal(got->key_id, want->key_id);
    assert_string_equal(got->rid, want->rid);
    assert_string_equal(got->typ, want->typ);
    assert_string_equal(got->iss, want->iss);
    assert_string_equal(got->aud, want->aud);
}

static void round_trip(const struct auth_keys *signer, const struct auth_keys *verifier)
{
    struct auth_claims c = base_claims, got;
    snprintf(c.key_id, sizeof(c.key_id), "key-42");
    snprintf(c.jti, sizeof(c.jti), "my-token-id");
    c.exp = 1; /* ignored by auth_issue */
    char *token = issue_at(signer, &c, T0, 900);
    assert_true(strlen(token) <= AUTH_MAX_TOKEN);
    const char *why = "unset";
    assert_int_equal(verify_at(verifier, token, T0 + 10, 0, &got, &why), 0);
    assert_null(why);
    assert_same_claims(&got, &c);
    assert_string_equal(got.jti, "my-token-id");
    assert_int_equal(got.iat, T0);
    assert_int_equal(got.nbf, T0);
    assert_int_equal(got.exp, T0 + 900);
    free(token);
}

static void test_round_trip_hs256(void **state)
{
    (void)state;
    round_trip(hs, hs);
}

static void test_round_trip_rs256(void **state)
{
    (void)state;
    round_trip(rs, rs);
    round_trip(rs, rs_verifier);
}

static void test_jti_generated(void **state)
{
    (void)state;
    struct auth_claims a, b;
    char *t1 = issue_at(hs, NULL, T0, 60), *t2 = issue_at(hs, NULL, T0, 60);
    assert_int_equal(verify_at(hs, t1, T0, 0, &a, NULL), 0);
    assert_int_equal(verify_at(hs, t2, T0, 0, &b, NULL), 0);
    assert_true(ids_is_uuid(a.jti));
    assert_true(ids_is_uuid(b.jti));
    assert_string_not_equal(a.jti, b.jti);
    free(t1);
    free(t2);
}

/* exp, nbf and leeway; every case runs with the HS256 and the RS256 key set. */
static const struct {
    long issue_at, ttl, verify_at, leeway;
    int rc;
    const char *why;
} time_cases[] = {
    {T0, 60, T0, 0, 0, NULL},
    {T0, 60, T0 + 59, 0, 0, NULL},
    {T0, 60, T0 + 60, 0, -EACCES, "token expired"},
    {T0, 60, T0 + 89, 30, 0, NULL}, /* expired, but within the leeway */
    {T0, 60, T0 + 90, 30, -EACCES, "token expired"},
    {T0, 60, T0 + 89, -1, 0, NULL}, /* default leeway is 30 s */
    {T0, 60, T0 + 90, -1, -EACCES, "token expired"},
    {T0, 60, T0 + 3659, 1000000, 0, NULL}, /* leeway clamped to AUTH_MAX_LEEWAY */
    {T0, 60, T0 + 3660, 1000000, -EACCES, "token expired"},
    {T0, 60, T0 + 1000000, 0, -EACCES, "token expired"},
    {T0 + 100, 60, T0, 30, -EACCES, "token not yet valid"},
    {T0 + 30, 60, T0, 30, 0, NULL}, /* not yet valid, but within the leeway */
    {T0 + 31, 60, T0, 30, -EACCES, "token not yet valid"},
    {T0 + 1, 60, T0, 0, -EACCES, "token not yet valid"},
};

static void test_times(void **state)
{
    (void)state;
    const struct auth_keys *sets[] = {hs, rs};
    for (size_t s = 0; s < 2; s++) {
        for (size_t i = 0; i < sizeof(time_cases) / sizeof(time_cases[0]); i++) {
            char *token = issue_at(sets[s], NULL, time_cases[i].issue_at, time_cases[i].ttl);
            struct auth_claims got;
            const char *why = "unset";
            int rc = verify_at(sets[s], token, time_cases[i].verify_at, time_cases[i].leeway, &got,
                               &why);
            if (rc != time_cases[i].rc)
                fail_msg("set %zu case %zu: rc %d (%s)", s, i, rc, why ? why : "ok");
            if (time_cases[i].why)
                assert_string_equal(why, time_cases[i].why);
            else
                assert_null(why);
            free(token);
        }
    }
}

static const struct {
    const char *iss, *aud, *typ;
    int rc;
    const char *why;
} want_cases[] = {
    {"ibx-gateway", "ibx", "access", 0, NULL},
    {NULL, NULL, NULL, 0, NULL},
    {"ibx-evil", "ibx", "access", -EACCES, "wrong issuer"},
    {"", "ibx", "access", -EACCES, "wrong issuer"},
    {"ibx-gateway", "ibx-other", "access", -EACCES, "wrong audience"},
    {"ibx-gateway", "ib", "access", -EACCES, "wrong audience"},
    {"ibx-gateway", "ibx", "refresh", -EACCES, "wrong token type"},
    {"ibx-gateway", "ibx", "internal", -EACCES, "wrong token type"},
};

static void test_wrong_iss_aud_typ(void **state)
{
    (void)state;
    char *token = issue_at(hs, NULL, T0, 60);
    for (size_t i = 0; i < sizeof(want_cases) / sizeof(want_cases[0]); i++) {
        struct auth_claims got;
        const char *why = "unset";
        int rc = auth_verify(hs, token, want_cases[i].iss, want_cases[i].aud, want_cases[i].typ, 0,
                             &got, &why);
        if (rc != want_cases[i].rc)
            fail_msg("case %zu: rc %d (%s)", i, rc, why ? why : "ok");
        if (want_cases[i].why)
            assert_string_equal(why, want_cases[i].why);
    }
    free(token);
}

#define HDR_OK  "{\"alg\":\"HS256\",\"typ\":\"JWT\"}"
#define PAY_OK  "{\"sub\":\"u1\",\"typ\":\"access\",\"aud\":\"ibx\",\"exp\":1700000600}"
#define LONG63  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define WRONG_K "0123456789abcdef0123456789abcdeX"

/* Tokens built by hand against the HS256 key set (want_aud "ibx", other wants off). */
static const struct {
    const char *name, *hdr, *pay, *key, *sig;
    int rc;
    const char *why;
} hand_cases[] = {
    {"baseline", HDR_OK, PAY_OK, SECRET, NULL, 0, NULL},
    {"alg none unsigned", "{\"alg\":\"none\"}", PAY_OK, NULL, "", -EACCES, "algorithm not allowed"},
    {"alg none signed", "{\"alg\":\"none\",\"typ\":\"JWT\"}", PAY_OK, SECRET, NULL, -EACCES,
     "algorithm not allowed"},
    {"alg None", "{\"alg\":\"None\"}", PAY_OK, NULL, "", -EACCES, "algorithm not allowed"},
    {"alg NONE", "{\"alg\":\"NONE\"}", PAY_OK, SECRET, NULL, -EACCES, "algorithm not allowed"},
    {"alg HS512", "{\"alg\":\"HS512\"}", PAY_OK, SECRET, NULL, -EACCES, "algorithm not allowed"},
    {"alg hs256", "{\"alg\":\"hs256\"}", PAY_OK, SECRET, NULL, -EACCES, "algorithm not allowed"},
    {"alg RS256", "{\"alg\":\"RS256\"}", PAY_OK, SECRET, NULL, -EACCES, "algorithm not allowed"},
    {"alg with space", "{\"alg\":\"HS256 \"}", PAY_OK, SECRET, NULL, -EACCES,
     "algorithm not allowed"},
    {"alg missing", "{\"typ\":\"JWT\"}", PAY_OK, SECRET, NULL, -EACCES, "algorithm not allowed"},
    {"alg number", "{\"alg\":256}", PAY_OK, SECRET, NULL, -EACCES, "algorithm not allowed"},
    {"alg null", "{\"alg\":null}", PAY_OK, SECRET, NULL, -EACCES, "algorithm not allowed"},
    {"alg twice", "{\"alg\":\"HS256\",\"alg\":\"none\"}", PAY_OK, SECRET, NULL, -EINVAL,
     "malformed header"},
    {"crit", "{\"alg\":\"HS256\",\"crit\":[\"exp\"]}", PAY_OK, SECRET, NULL, -EINVAL,
     "malformed header"},
    {"header not JSON", "not json at all", PAY_OK, SECRET, NULL, -EINVAL, "malformed header"},
    {"header array", "[\"HS256\"]", PAY_OK, SECRET, NULL, -EINVAL, "malformed header"},
    {"unsigned", HDR_OK, PAY_OK, NULL, "", -EACCES, "bad signature"},
    {"wrong secret", HDR_OK, PAY_OK, WRONG_K, NULL, -EACCES, "bad signature"},
    {"payload not JSON", HDR_OK, "{\"sub\":", SECRET, NULL, -EINVAL, "malformed claims"},
    {"payload array", HDR_OK, "[1]", SECRET, NULL, -EINVAL, "malformed claims"},
    {"payload dup key", HDR_OK,
     "{\"sub\":\"u1\",\"sub\":\"admin\",\"aud\":\"ibx\",\"exp\":1700000600}", SECRET, NULL, -EINVAL,
     "malformed claims"},
    {"exp missing", HDR_OK, "{\"sub\":\"u1\",\"aud\":\"ibx\"}", SECRET, NULL, -EINVAL,
     "missing exp"},
    {"exp string", HDR_OK, "{\"aud\":\"ibx\",\"exp\":\"1700000600\"}", SECRET, NULL, -EINVAL,
     "malformed claims"},
    {"exp real", HDR_OK, "{\"aud\":\"ibx\",\"exp\":1700000600.5}", SECRET, NULL, -EINVAL,
     "malformed claims"},
    {"exp bool", HDR_OK, "{\"aud\":\"ibx\",\"exp\":true}", SECRET, NULL, -EINVAL,
     "malformed claims"},
    {"nbf string", HDR_OK, "{\"aud\":\"ibx\",\"exp\":1700000600,\"nbf\":\"0\"}", SECRET, NULL,
     -EINVAL, "malformed claims"},
    {"iat in future", HDR_OK, "{\"aud\":\"ibx\",\"exp\":1700000600,\"iat\":1700000100}", SECRET,
     NULL, -EACCES, "issued in the future"},
    {"exp huge", HDR_OK, "{\"aud\":\"ibx\",\"exp\":9223372036854775807}", SECRET, NULL, 0, NULL},
    {"exp very negative", HDR_OK, "{\"aud\":\"ibx\",\"exp\":-9223372036854775807}", SECRET, NULL,
     -EACCES, "token expired"},
    {"nbf very large", HDR_OK, "{\"aud\":\"ibx\",\"exp\":1700000600,\"nbf\":9223372036854775807}",
     SECRET, NULL, -EACCES, "token not yet valid"},
    {"sub 63 bytes", HDR_OK, "{\"sub\":\"" LONG63 "\",\"aud\":\"ibx\",\"exp\":1700000600}", SECRET,
     NULL, 0, NULL},
    {"sub 64 bytes", HDR_OK, "{\"sub\":\"" LONG63 "b\",\"aud\":\"ibx\",\"exp\":1700000600}", SECRET,
     NULL, -EINVAL, "claim too long"},
    {"role too long", HDR_OK, "{\"role\":\"administrator-xyz\",\"aud\":\"ibx\",\"exp\":1700000600}",
     SECRET, NULL, -EINVAL, "claim too long"},
    {"role number", HDR_OK, "{\"role\":1,\"aud\":\"ibx\",\"exp\":1700000600}", SECRET, NULL,
     -EINVAL, "malformed claims"},
    {"sub with NUL", HDR_OK, "{\"sub\":\"a\\u0000b\",\"aud\":\"ibx\",\"exp\":1700000600}", SECRET,
     NULL, -EINVAL, "malformed claims"},
    {"aud array", HDR_OK, "{\"aud\":[\"other\",\"ibx\"],\"exp\":1700000600}", SECRET, NULL, 0,
     NULL},
    {"aud array without us", HDR_OK, "{\"aud\":[\"other\"],\"exp\":1700000600}", SECRET, NULL,
     -EACCES, "wrong audience"},
    {"aud array of numbers", HDR_OK, "{\"aud\":[1],\"exp\":1700000600}", SECRET, NULL, -EINVAL,
     "malformed claims"},
    {"aud missing", HDR_OK, "{\"exp\":1700000600}", SECRET, NULL, -EACCES, "wrong audience"},
    {"aud number", HDR_OK, "{\"aud\":7,\"exp\":1700000600}", SECRET, NULL, -EINVAL,
     "malformed claims"},
};

static void test_hand_made_tokens(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(hand_cases) / sizeof(hand_cases[0]); i++) {
        char *token =
            hand_token(hand_cases[i].hdr, hand_cases[i].pay, hand_cases[i].key, hand_cases[i].sig);
        struct auth_claims got;
        const char *why = "unset";
        fake_now = T0;
        int rc = auth_verify(hs, token, NULL, "ibx", NULL, 30, &got, &why);
        if (rc != hand_cases[i].rc)
            fail_msg("%s: rc %d, want %d (%s)", hand_cases[i].name, rc, hand_cases[i].rc,
                     why ? why : "ok");
        if (hand_cases[i].why)
            assert_string_equal(why, hand_cases[i].why);
        else
            assert_null(why);
        free(token);
    }
}

/* Structurally broken input; none of it may crash or pass. */
static const struct {
    const char *token;
    int rc;
} malformed_cases[] = {
    {"", -EINVAL},
    {"...", -EINVAL},
    {".", -EINVAL},
    {"..", -EINVAL},
    {"garbage", -EINVAL},
    {"a.b", -EINVAL},
    {"a.b.c.d", -EINVAL},
    {"eyJhbGciOiJIUzI1NiJ9..", -EINVAL},                  /* empty payload */
    {".eyJleHAiOjF9.c2ln", -EINVAL},                      /* empty header */
    {"e$J.eyJleHAiOjF9.c2ln", -EINVAL},                   /* not base64url */
    {"eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjF9.c2ln=", -EINVAL}, /* padded signature */
    {"eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjF9.c2lh", -EACCES},  /* well-formed, bad signature */
    {"eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjF9.c2k", -EACCES},   /* canonical, 2 bytes */
    {"eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjF9.c2l", -EINVAL},   /* non-canonical signature */
    {"eyJhbGciOiJIUzI1NiJ9 .eyJleHAiOjF9.c2lh", -EINVAL},
    {"\xff\xfe.\x01.\x02", -EINVAL},
};

static void test_malformed(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(malformed_cases) / sizeof(malformed_cases[0]); i++) {
        struct auth_claims got;
        const char *why = NULL;
        int rc = verify_at(hs, malformed_cases[i].token, T0, 30, &got, &why);
        if (rc != malformed_cases[i].rc)
            fail_msg("case %zu: rc %d (%s)", i, rc, why ? why : "ok");
        assert_non_null(why);
        assert_null(strchr(why, '.'));
    }
    assert_int_equal(auth_verify(hs, NULL, NULL, NULL, NULL, 0, &(struct auth_claims){0}, NULL),
                     -EINVAL);
}

static void test_oversized(void **state)
{
    (void)state;
    const size_t sizes[] = {AUTH_MAX_TOKEN + 1, 1024 * 1024};
    for (size_t i = 0; i < 2; i++) {
        char *big = malloc(sizes[i] + 1);
        assert_non_null(big);
        memset(big, 'a', sizes[i]);
        big[100] = '.';
        big[200] = '.';
        big[sizes[i]] = '\0';
        const char *why = NULL;
        struct auth_claims got;
        assert_int_equal(verify_at(hs, big, T0, 30, &got, &why), -EMSGSIZE);
        assert_string_equal(why, "token too large");
        /* at the limit it is read (and refused as malformed) */
        big[AUTH_MAX_TOKEN] = '\0';
        assert_int_equal(verify_at(hs, big, T0, 30, &got, &why), -EINVAL);
        free(big);
    }
}

/* Swap one character in the middle of segment seg (0, 1 or 2) of a copy of token. */
static char *tamper(const char *token, int seg)
{
    char *t = strdup(token);
    assert_non_null(t);
    char *start = t;
    for (int i = 0; i < seg; i++)
        start = strchr(start, '.') + 1;
    size_t len = strcspn(start, ".");
    char *c = start + len / 2;
    *c = *c == 'A' ? 'B' : 'A';
    return t;
}

/* A payload that says admin, glued to the original header and signature. */
static char *escalate(const char *token)
{
    const char *p = strchr(token, '.') + 1, *s = strchr(p, '.');
    char raw[2048], json[2048], *t = calloc(1, 8192);
    size_t n = 0;
    assert_non_null(t);
    assert_int_equal(b64_url_decode(p, (size_t)(s - p), raw, sizeof(raw) - 1, &n), 0);
    raw[n] = '\0';
    char *role = strstr(raw, "\"role\":\"user\"");
    assert_non_null(role);
    snprintf(json, sizeof(json), "%.*s\"role\":\"admin\"%s", (int)(role - raw), raw,
             role + strlen("\"role\":\"user\""));
    memcpy(t, token, (size_t)(p - token));
    assert_int_equal(b64_url_encode(json, strlen(json), t + (p - token), 4096), 0);
    size_t used = strlen(t);
    snprintf(t + used, 8192 - used, "%s", s);
    return t;
}

static void test_tampering(void **state)
{
    (void)state;
    const struct auth_keys *sets[] = {hs, rs};
    for (size_t s = 0; s < 2; s++) {
        char *token = issue_at(sets[s], NULL, T0, 600);
        char *bad[] = {escalate(token), tamper(token, 1), tamper(token, 2), tamper(token, 0)};
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
            struct auth_claims got;
            memset(&got, 0x5a, sizeof(got));
            const char *why = NULL;
            int rc = verify_at(sets[s], bad[i], T0, 30, &got, &why);
            /* a changed header or payload may no longer decode; it must never pass */
            assert_true(rc == -EACCES || rc == -EINVAL);
            if (i == 0 || i == 2) /* JSON intact: only the signature can catch it */
                assert_int_equal(rc, -EACCES);
            assert_int_equal(((unsigned char *)&got)[0], 0x5a); /* untouched */
            free(bad[i]);
        }
        free(token);
    }
}

/* An HS256 token whose HMAC key is the RSA public key must not pass an RS256 key set
 * (libjwt alone would accept it when handed the public key). */
static void test_hs256_with_rsa_public_key(void **state)
{
    (void)state;
    struct auth_keys *forger = NULL;
    assert_int_equal(auth_keys_new_hs256(pub_a, &forger), 0);
    char *token = issue_at(forger, NULL, T0, 600);
    const struct auth_keys *victims[] = {rs, rs_verifier};
    for (size_t i = 0; i < 2; i++) {
        struct auth_claims got;
        const char *why = NULL;
        assert_int_equal(verify_at(victims[i], token, T0, 30, &got, &why), -EACCES);
        assert_string_equal(why, "algorithm not allowed");
    }
    /* and an RS256 token is no good to an HS256 key set */
    char *rs_token = issue_at(rs, NULL, T0, 600);
    const char *why = NULL;
    assert_int_equal(verify_at(hs, rs_token, T0, 30, &(struct auth_claims){0}, &why), -EACCES);
    assert_string_equal(why, "algorithm not allowed");
    free(rs_token);
    free(token);
    auth_keys_free(forger);
}

static void test_other_rsa_key(void **state)
{
    (void)state;
    struct auth_keys *other = NULL;
    assert_int_equal(auth_keys_new_rs256(priv_b, pub_b, &other), 0);
    char *token = issue_at(other, NULL, T0, 600);
    const char *why = NULL;
    assert_int_equal(verify_at(rs, token, T0, 30, &(struct auth_claims){0}, &why), -EACCES);
    assert_string_equal(why, "bad signature");
    assert_int_equal(verify_at(other, token, T0, 30, &(struct auth_claims){0}, &why), 0);
    free(token);
    auth_keys_free(other);
}

static void test_key_sets(void **state)
{
    (void)state;
    struct auth_keys *k = (struct auth_keys *)&k; /* sentinel: must stay untouched */
    struct auth_keys *const sentinel = k;
    static const char fake_pem[] = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
    assert_int_equal(auth_keys_new_hs256(NULL, &k), -EINVAL);
    assert_int_equal(auth_keys_new_hs256("0123456789abcdef0123456789abcde", &k), -EINVAL);
    assert_int_equal(auth_keys_new_hs256("", &k), -EINVAL);
    assert_int_equal(auth_keys_new_rs256(priv_a, pub_b, &k), -EINVAL); /* mismatched pair */
    assert_int_equal(auth_keys_new_rs256(fake_pem, pub_a, &k), -EINVAL);
    assert_int_equal(auth_keys_new_rs256(priv_a, "not a pem", &k), -EINVAL);
    assert_int_equal(auth_keys_new_rs256(priv_a, NULL, &k), -EINVAL);
    assert_int_equal(auth_keys_new_rs256("secret", pub_a, &k), -EINVAL);
    assert_ptr_equal(k, sentinel);
    assert_int_equal(auth_keys_new_hs256(SECRET, &k), 0);
    assert_ptr_not_equal(k, sentinel);
    auth_keys_free(k);
    auth_keys_free(NULL);
}

static void test_issue_refusals(void **state)
{
    (void)state;
    char *const sentinel = (char *)"sentinel";
    char *token = sentinel;
    struct auth_claims c = base_claims;
    assert_int_equal(auth_issue(rs_verifier, &c, 60, &token), -EACCES);
    assert_int_equal(auth_issue(hs, &c, 0, &token), -EINVAL);
    assert_int_equal(auth_issue(hs, &c, -5, &token), -EINVAL);
    assert_int_equal(auth_issue(hs, &c, AUTH_MAX_TTL + 1, &token), -EINVAL);
    assert_int_equal(auth_issue(NULL, &c, 60, &token), -EINVAL);
    assert_int_equal(auth_issue(hs, NULL, 60, &token), -EINVAL);
    c.sub[0] = '\0';
    assert_int_equal(auth_issue(hs, &c, 60, &token), -EINVAL);
    c = base_claims;
    c.typ[0] = '\0';
    assert_int_equal(auth_issue(hs, &c, 60, &token), -EINVAL);
    c = base_claims;
    memset(c.role, 'r', sizeof(c.role)); /* not terminated */
    assert_int_equal(auth_issue(hs, &c, 60, &token), -EINVAL);
    c = base_claims;
    snprintf(c.scopes, sizeof(c.scopes), "read \xff");
    assert_int_equal(auth_issue(hs, &c, 60, &token), -EINVAL);
    assert_ptr_equal(token, sentinel);
}

/* Empty optional claims are left out and read back as "". */
static void test_minimal_claims(void **state)
{
    (void)state;
    struct auth_claims c = {.sub = "u", .typ = "internal"}, got;
    char *token = issue_at(hs, &c, T0, 30);
    assert_int_equal(auth_verify(hs, token, NULL, NULL, "internal", 0, &got, NULL), 0);
    assert_string_equal(got.sub, "u");
    assert_string_equal(got.role, "");
    assert_string_equal(got.scopes, "");
    assert_string_equal(got.iss, "");
    assert_string_equal(got.aud, "");
    /* a caller that wants an issuer or audience refuses it */
    const char *why = NULL;
    assert_int_equal(auth_verify(hs, token, "ibx-gateway", NULL, NULL, 0, &got, &why), -EACCES);
    assert_string_equal(why, "wrong issuer");
    assert_int_equal(auth_verify(hs, token, NULL, "ibx", NULL, 0, &got, &why), -EACCES);
    assert_string_equal(why, "wrong audience");
    free(token);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_round_trip_hs256, reset_clock),
        cmocka_unit_test_setup(test_round_trip_rs256, reset_clock),
        cmocka_unit_test_setup(test_jti_generated, reset_clock),
        cmocka_unit_test_setup(test_times, reset_clock),
        cmocka_unit_test_setup(test_wrong_iss_aud_typ, reset_clock),
        cmocka_unit_test_setup(test_hand_made_tokens, reset_clock),
        cmocka_unit_test_setup(test_malformed, reset_clock),
        cmocka_unit_test_setup(test_oversized, reset_clock),
        cmocka_unit_test_setup(test_tampering, reset_clock),
        cmocka_unit_test_setup(test_hs256_with_rsa_public_key, reset_clock),
        cmocka_unit_test_setup(test_other_rsa_key, reset_clock),
        cmocka_unit_test_setup(test_key_sets, reset_clock),
        cmocka_unit_test_setup(test_issue_refusals, reset_clock),
        cmocka_unit_test_setup(test_minimal_claims, reset_clock),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
