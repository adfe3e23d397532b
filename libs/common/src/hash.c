/* hash: SHA-256 helpers over libsodium. */
#include <ibx/hash.h>

#include <string.h>

void hash_sha256_init(struct hash_sha256 *h)
{
    crypto_hash_sha256_init(&h->st);
}

void hash_sha256_update(struct hash_sha256 *h, const void *data, size_t len)
{
    crypto_hash_sha256_update(&h->st, data, len);
}

void hash_sha256_final_hex(struct hash_sha256 *h, char out[HASH_SHA256_HEX_LEN + 1])
{
    unsigned char d[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_final(&h->st, d);
    sodium_bin2hex(out, HASH_SHA256_HEX_LEN + 1, d, sizeof(d));
}

void hash_sha256_hex(const void *data, size_t len, char out[HASH_SHA256_HEX_LEN + 1])
{
    struct hash_sha256 h;
    hash_sha256_init(&h);
    hash_sha256_update(&h, data, len);
    hash_sha256_final_hex(&h, out);
}

int hash_is_sha256_hex(const char *s)
{
    size_t i = 0;
    for (; s[i]; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return 0;
        if (i >= HASH_SHA256_HEX_LEN)
            return 0;
    }
    return i == HASH_SHA256_HEX_LEN;
}

int hash_equal(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la != lb)
        return 0;
    return sodium_memcmp(a, b, la) == 0;
}
