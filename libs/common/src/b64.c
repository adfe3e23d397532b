/* b64: strict base64url (no padding) and standard base64 (padded) codecs. */
#include <ibx/b64.h>

#include <errno.h>
#include <stdint.h>
#include <string.h>

static const char b64_url_alpha[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
static const char b64_std_alpha[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t b64_url_encoded_len(size_t n)
{
    return (n / 3) * 4 + (n % 3 ? n % 3 + 1 : 0);
}

size_t b64_std_encoded_len(size_t n)
{
    return ((n + 2) / 3) * 4;
}

size_t b64_decoded_max(size_t srclen)
{
    return (srclen / 4) * 3 + (srclen % 4 ? srclen % 4 - 1 : 0);
}

static void b64_encode_core(const unsigned char *in, size_t n, const char *alpha, int pad,
                            char *out)
{
    size_t o = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = alpha[v >> 18 & 63];
        out[o++] = alpha[v >> 12 & 63];
        out[o++] = alpha[v >> 6 & 63];
        out[o++] = alpha[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        out[o++] = alpha[v >> 18 & 63];
        out[o++] = alpha[v >> 12 & 63];
        if (pad) {
            out[o++] = '=';
            out[o++] = '=';
        }
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        out[o++] = alpha[v >> 18 & 63];
        out[o++] = alpha[v >> 12 & 63];
        out[o++] = alpha[v >> 6 & 63];
        if (pad)
            out[o++] = '=';
    }
    out[o] = '\0';
}

int b64_url_encode(const void *src, size_t n, char *out, size_t outsize)
{
    if (n > (SIZE_MAX - 4) / 4 * 3 || b64_url_encoded_len(n) >= outsize)
        return -EMSGSIZE;
    b64_encode_core(src, n, b64_url_alpha, 0, out);
    return 0;
}

int b64_std_encode(const void *src, size_t n, char *out, size_t outsize)
{
    if (n > (SIZE_MAX - 4) / 4 * 3 || b64_std_encoded_len(n) >= outsize)
        return -EMSGSIZE;
    b64_encode_core(src, n, b64_std_alpha, 1, out);
    return 0;
}

/* The 6-bit value of c in the given variant, or -1. */
static int b64_value(unsigned char c, int url)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == (url ? '-' : '+'))
        return 62;
    if (c == (url ? '_' : '/'))
        return 63;
    return -1;
}

/* Check that src[0..len) is canonical unpadded base64: alphabet, length, and zero bits
 * after the last whole byte. */
static int b64_check(const char *src, size_t len, int url)
{
    if (len % 4 == 1)
        return -EINVAL;
    for (size_t i = 0; i < len; i++) {
        if (b64_value((unsigned char)src[i], url) < 0)
            return -EINVAL;
    }
    if (len % 4 == 0)
        return 0;
    int last = b64_value((unsigned char)src[len - 1], url);
    int mask = len % 4 == 2 ? 0x0f : 0x03;
    return (last & mask) ? -EINVAL : 0;
}

static void b64_decode_core(const char *src, size_t len, int url, unsigned char *out)
{
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        acc = (acc << 6 | (uint32_t)b64_value((unsigned char)src[i], url)) & 0xffffff;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits & 0xff);
        }
    }
}

static int b64_decode_checked(const char *src, size_t len, int url, void *out, size_t outsize,
                              size_t *outlen)
{
    int rc = b64_check(src, len, url);
    if (rc)
        return rc;
    size_t n = b64_decoded_max(len);
    if (n > outsize)
        return -EMSGSIZE;
    b64_decode_core(src, len, url, out);
    *outlen = n;
    return 0;
}

int b64_url_decode(const char *src, size_t srclen, void *out, size_t outsize, size_t *outlen)
{
    return b64_decode_checked(src, srclen, 1, out, outsize, outlen);
}

int b64_std_decode(const char *src, size_t srclen, void *out, size_t outsize, size_t *outlen)
{
    if (srclen % 4)
        return -EINVAL;
    size_t len = srclen;
    if (len && src[len - 1] == '=')
        len--;
    if (len && src[len - 1] == '=')
        len--;
    if (len % 4 == 1 || memchr(src, '=', len))
        return -EINVAL;
    return b64_decode_checked(src, len, 0, out, outsize, outlen);
}
