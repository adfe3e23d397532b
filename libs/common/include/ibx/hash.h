/* hash: SHA-256 (one-shot and streaming), hex output, constant-time comparison. */
#ifndef IBX_HASH_H
#define IBX_HASH_H

#include <sodium.h>
#include <stddef.h>

#define HASH_SHA256_HEX_LEN 64

struct hash_sha256 {
    crypto_hash_sha256_state st;
};

void hash_sha256_init(struct hash_sha256 *h);
void hash_sha256_update(struct hash_sha256 *h, const void *data, size_t len);
/* Writes 64 lowercase hex digits and a NUL into out. */
void hash_sha256_final_hex(struct hash_sha256 *h, char out[HASH_SHA256_HEX_LEN + 1]);
void hash_sha256_hex(const void *data, size_t len, char out[HASH_SHA256_HEX_LEN + 1]);
/* 1 when s is exactly 64 lowercase hex digits. */
int hash_is_sha256_hex(const char *s);
/* Constant-time equality of two NUL-terminated strings of equal length; 0 when lengths differ. */
int hash_equal(const char *a, const char *b);

#endif
