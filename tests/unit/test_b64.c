/* test_b64: base64url and standard base64 encoding, strict decoding. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ibx/b64.h>

#include <errno.h>
#include <string.h>

/* RFC 4648 §10 vectors, in both alphabets. */
static const struct {
    const char *raw, *url, *std;
} vectors[] = {
    {"", "", ""},
    {"f", "Zg", "Zg=="},
    {"fo", "Zm8", "Zm8="},
    {"foo", "Zm9v", "Zm9v"},
    {"foob", "Zm9vYg", "Zm9vYg=="},
    {"fooba", "Zm9vYmE", "Zm9vYmE="},
    {"foobar", "Zm9vYmFy", "Zm9vYmFy"},
    {"\xfb\xff\xbf", "-_-_", "+/+/"},
    {"\xfb\xef", "--8", "++8="},
};

static void test_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
        char enc[32];
        unsigned char dec[32];
        size_t n = 99, rawlen = strlen(vectors[i].raw);
        assert_int_equal(b64_url_encoded_len(rawlen), strlen(vectors[i].url));
        assert_int_equal(b64_std_encoded_len(rawlen), strlen(vectors[i].std));
        assert_int_equal(b64_url_encode(vectors[i].raw, rawlen, enc, sizeof(enc)), 0);
        assert_string_equal(enc, vectors[i].url);
        assert_int_equal(b64_std_encode(vectors[i].raw, rawlen, enc, sizeof(enc)), 0);
        assert_string_equal(enc, vectors[i].std);
        assert_int_equal(
            b64_url_decode(vectors[i].url, strlen(vectors[i].url), dec, sizeof(dec), &n), 0);
        assert_int_equal(n, rawlen);
        assert_memory_equal(dec, vectors[i].raw, rawlen);
        n = 99;
        assert_int_equal(
            b64_std_decode(vectors[i].std, strlen(vectors[i].std), dec, sizeof(dec), &n), 0);
        assert_int_equal(n, rawlen);
        assert_memory_equal(dec, vectors[i].raw, rawlen);
    }
}

static void test_round_trip_all_bytes(void **state)
{
    (void)state;
    unsigned char raw[256], dec[256];
    char enc[400];
    for (size_t i = 0; i < sizeof(raw); i++)
        raw[i] = (unsigned char)(255 - i);
    for (size_t len = 0; len <= sizeof(raw); len += 37) {
        size_t n = 0;
        assert_int_equal(b64_url_encode(raw, len, enc, sizeof(enc)), 0);
        assert_int_equal(b64_url_decode(enc, strlen(enc), dec, sizeof(dec), &n), 0);
        assert_int_equal(n, len);
        assert_memory_equal(dec, raw, len);
        assert_int_equal(b64_std_encode(raw, len, enc, sizeof(enc)), 0);
        assert_int_equal(b64_std_decode(enc, strlen(enc), dec, sizeof(dec), &n), 0);
        assert_int_equal(n, len);
        assert_memory_equal(dec, raw, len);
    }
}

static void test_bad_url_input(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "Z",     /* impossible length */
        "Zg==",  /* padding is not base64url */
        "Zm9v+", /* standard alphabet */
        "Zm/v",  /* standard alphabet */
        "Zh",    /* non-zero trailing bits */
        "Zm9",   /* non-zero trailing bits */
        "Zm 9",  /* space */
        "Zm9v\n", "Zm.v",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        unsigned char dec[16] = {0x5a};
        size_t n = 77;
        assert_int_equal(b64_url_decode(bad[i], strlen(bad[i]), dec, sizeof(dec), &n), -EINVAL);
        assert_int_equal(n, 77); /* untouched */
        assert_int_equal(dec[0], 0x5a);
    }
}

static void test_bad_std_input(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "Zg", "Zg=", "Z===", "Zg=A", "=Zg=", "Zm-v", "Zh==", "Zm9=", "Zm9v===="};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        unsigned char dec[16];
        size_t n = 77;
        assert_int_equal(b64_std_decode(bad[i], strlen(bad[i]), dec, sizeof(dec), &n), -EINVAL);
        assert_int_equal(n, 77);
    }
}

static void test_sizes(void **state)
{
    (void)state;
    char enc[8];
    unsigned char dec[2];
    size_t n = 5;
    /* "foob" encodes to 6 characters: needs 7 bytes with the NUL */
    assert_int_equal(b64_url_encode("foob", 4, enc, 6), -EMSGSIZE);
    assert_int_equal(b64_url_encode("foob", 4, enc, 7), 0);
    assert_string_equal(enc, "Zm9vYg");
    assert_int_equal(b64_std_encode("foob", 4, enc, 8), -EMSGSIZE);
    assert_int_equal(b64_url_decode("Zm9v", 4, dec, sizeof(dec), &n), -EMSGSIZE);
    assert_int_equal(n, 5);
    assert_int_equal(b64_url_decode("Zm8", 3, dec, sizeof(dec), &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(b64_decoded_max(4), 3);
    assert_int_equal(b64_decoded_max(6), 4);
    assert_int_equal(b64_decoded_max(7), 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors),       cmocka_unit_test(test_round_trip_all_bytes),
        cmocka_unit_test(test_bad_url_input), cmocka_unit_test(test_bad_std_input),
        cmocka_unit_test(test_sizes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
