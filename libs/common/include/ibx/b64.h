/* b64: base64 encoding and decoding, URL-safe alphabet without padding (RFC 4648 §5,
 * as used by JWT) and the standard alphabet with padding (RFC 4648 §4).
 *
 * The caller owns every buffer; nothing here allocates. Decoding is strict: characters
 * outside the alphabet, impossible lengths, wrong padding and non-zero trailing bits are
 * -EINVAL, so every byte string has exactly one accepted encoding. */
#ifndef IBX_B64_H
#define IBX_B64_H

#include <stddef.h>

#define B64_WUR __attribute__((warn_unused_result))

/* Characters in the encoding of n bytes, excluding the NUL. */
size_t b64_url_encoded_len(size_t n);
size_t b64_std_encoded_len(size_t n);
/* Upper bound on the bytes decoded from srclen characters. */
size_t b64_decoded_max(size_t srclen);

/* Encode n bytes of src into out and NUL-terminate it. out needs encoded_len(n) + 1 bytes;
 * 0, or -EMSGSIZE (out untouched) when outsize is smaller. */
int b64_url_encode(const void *src, size_t n, char *out, size_t outsize) B64_WUR;
int b64_std_encode(const void *src, size_t n, char *out, size_t outsize) B64_WUR;

/* Decode srclen characters of src (no NUL needed) into out; *outlen gets the byte count.
 * 0, -EINVAL for input that is not canonical base64 of this variant, -EMSGSIZE when the
 * result does not fit in outsize. out and *outlen are untouched on failure. The result is
 * not NUL-terminated. */
int b64_url_decode(const char *src, size_t srclen, void *out, size_t outsize,
                   size_t *outlen) B64_WUR;
int b64_std_decode(const char *src, size_t srclen, void *out, size_t outsize,
                   size_t *outlen) B64_WUR;

#endif
