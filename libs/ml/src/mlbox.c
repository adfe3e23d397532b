/* mlbox: the sectioned, SHA-256-checked container of model files and prepared data. */
#include "mlbox.h"

#include "mlstr.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>

#define SHA_LEN 32

static void put_le(unsigned char *p, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_le(const unsigned char *p, int bytes)
{
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

int mlbox_begin(struct buf *out, const char *magic, uint32_t version, size_t *start)
{
    unsigned char head[MLBOX_HEADER_LEN] = {0};
    memcpy(head, magic, 8);
    put_le(head + 8, version, 4);
    *start = out->len;
    return buf_append(out, head, sizeof head);
}

int mlbox_section(struct buf *out, int (*fn)(const void *obj, struct buf *b), const void *obj)
{
    unsigned char zero[8] = {0};
    size_t at = out->len;
    int rc = buf_append(out, zero, 8);
    if (!rc)
        rc = fn(obj, out);
    if (!rc)
        put_le((unsigned char *)out->data + at, out->len - at - 8, 8);
    return rc;
}

void mlbox_end(struct buf *out, size_t start)
{
    unsigned char *h = (unsigned char *)out->data + start;
    size_t plen = out->len - start - MLBOX_HEADER_LEN;
    put_le(h + 16, plen, 8);
    crypto_hash_sha256(h + 24, h + MLBOX_HEADER_LEN, plen);
}

void mlbox_abort(struct buf *out, size_t start)
{
    out->len = start;
    if (out->data)
        out->data[start] = '\0';
}

static int check_header(const unsigned char *d, size_t len, const char *magic, uint32_t version,
                        const char *what, char *err, size_t errlen)
{
    if (len < MLBOX_HEADER_LEN) {
        mlstr_err(err, errlen, "not a %s: %zu bytes is shorter than the header", what, len);
        return -EINVAL;
    }
    if (memcmp(d, magic, 8) != 0) {
        mlstr_err(err, errlen, "not a %s (wrong magic bytes)", what);
        return -EINVAL;
    }
    uint32_t v = (uint32_t)get_le(d + 8, 4), flags = (uint32_t)get_le(d + 12, 4);
    if (v != version || flags != 0) {
        mlstr_err(err, errlen,
                  "unsupported %s format version %u (flags %u); this build reads "
                  "version %u",
                  what, v, flags, version);
        return -EINVAL;
    }
    uint64_t plen = get_le(d + 16, 8);
    if (plen != len - MLBOX_HEADER_LEN) {
        mlstr_err(err, errlen, "%s %s: the header announces %llu payload bytes, there are %zu",
                  plen > len - MLBOX_HEADER_LEN ? "truncated" : "trailing bytes after the", what,
                  (unsigned long long)plen, len - MLBOX_HEADER_LEN);
        return -EINVAL;
    }
    unsigned char sha[SHA_LEN];
    crypto_hash_sha256(sha, d + MLBOX_HEADER_LEN, (unsigned long long)plen);
    if (sodium_memcmp(sha, d + 24, SHA_LEN) != 0) {
        mlstr_err(err, errlen, "%s checksum mismatch: the data is damaged or was modified", what);
        return -EINVAL;
    }
    return 0;
}

int mlbox_open(const void *data, size_t len, const char *magic, uint32_t version,
               struct mlbox_section *sec, size_t nsec, const char *what, char *err, size_t errlen)
{
    const unsigned char *d = data;
    int rc = check_header(d, len, magic, version, what, err, errlen);
    if (rc)
        return rc;
    size_t pos = MLBOX_HEADER_LEN;
    for (size_t i = 0; i < nsec; i++) {
        uint64_t n = len - pos >= 8 ? get_le(d + pos, 8) : UINT64_MAX;
        pos += len - pos >= 8 ? 8 : 0;
        if (n > len - pos) {
            mlstr_err(err, errlen, "%s section %zu is cut short", what, i + 1);
            return -EINVAL;
        }
        sec[i].p = d + pos;
        sec[i].len = (size_t)n;
        pos += (size_t)n;
    }
    if (pos != len) {
        mlstr_err(err, errlen, "%s has %zu unexpected bytes at its end", what, len - pos);
        return -EINVAL;
    }
    return 0;
}
