/* ids: random identifiers: UUID v4, URL-safe random tokens. All randomness comes from
 * libsodium's CSPRNG; call ids_init() once before threads start (sodium_init). */
#ifndef IBX_IDS_H
#define IBX_IDS_H

#include <stddef.h>

#define IDS_UUID_LEN 36

/* sodium_init(); 0 or -EIO. Safe to call more than once. */
int ids_init(void) __attribute__((warn_unused_result));
/* Writes a lowercase UUID v4 and a NUL. */
void ids_uuid4(char out[IDS_UUID_LEN + 1]);
/* 1 when s is a canonical UUID (8-4-4-4-12 hex digits, any case). */
int ids_is_uuid(const char *s);
/* Writes nbytes random bytes as base64url without padding; out needs
 * ((nbytes * 4 + 2) / 3) + 1 bytes. */
void ids_random_token(char *out, size_t nbytes);

#endif
