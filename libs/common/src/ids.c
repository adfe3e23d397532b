/* ids: UUID v4 and random tokens from libsodium's CSPRNG. */
#include <ibx/ids.h>

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

int ids_init(void)
{
    return sodium_init() < 0 ? -EIO : 0;
}

/* CSPRNG bytes for UUIDs, fetched 4 KiB at a time per thread: one system call serves 256
 * ids instead of one each (request ids are made for every request). */
static _Thread_local struct {
    unsigned char b[4096];
    size_t off;
} ids_pool = {.off = sizeof(ids_pool.b)};

void ids_uuid4(char out[IDS_UUID_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    if (ids_pool.off + 16 > sizeof(ids_pool.b)) {
        randombytes_buf(ids_pool.b, sizeof(ids_pool.b));
        ids_pool.off = 0;
    }
    unsigned char b[16];
    memcpy(b, ids_pool.b + ids_pool.off, sizeof(b));
    sodium_memzero(ids_pool.b + ids_pool.off, sizeof(b)); /* each byte serves once */
    ids_pool.off += sizeof(b);
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    size_t o = 0;
    for (size_t i = 0; i < sizeof(b); i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[b[i] >> 4];
        out[o++] = hex[b[i] & 15];
    }
    out[o] = '\0';
}

int ids_is_uuid(const char *s)
{
    static const char shape[] = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";
    for (size_t i = 0; i < IDS_UUID_LEN; i++) {
        char c = s[i];
        if (shape[i] == '-') {
            if (c != '-')
                return 0;
        } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
            return 0;
        }
    }
    return s[IDS_UUID_LEN] == '\0';
}

void ids_random_token(char *out, size_t nbytes)
{
    unsigned char b[128];
    if (nbytes > sizeof(b))
        nbytes = sizeof(b);
    randombytes_buf(b, nbytes);
    sodium_bin2base64(out,
                      sodium_base64_ENCODED_LEN(nbytes, sodium_base64_VARIANT_URLSAFE_NO_PADDING),
                      b, nbytes, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}
