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

void ids_uuid4(char out[IDS_UUID_LEN + 1])
{
    unsigned char b[16];
    randombytes_buf(b, sizeof(b));
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, IDS_UUID_LEN + 1,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
             b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
             b[15]);
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
