/* mlenc: the checksummed little-endian envelope that libs/ml models are saved into. */
#include <ibx/mlenc.h>

#include <errno.h>
#include <math.h>
#include <string.h>

#define HEADER_LEN (MLENC_MAGIC_LEN + 4 + 8)
#define LEN_OFFSET (MLENC_MAGIC_LEN + 4)

static uint64_t fnv1a64(const unsigned char *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

static void store_le(unsigned char *out, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++)
        out[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t load_le(const unsigned char *in, int bytes)
{
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++)
        v |= (uint64_t)in[i] << (8 * i);
    return v;
}

static void put_raw(struct mlenc_writer *w, const void *p, size_t n)
{
    if (w->err)
        return;
    w->err = buf_append(w->b, p, n);
}

void mlenc_begin(struct mlenc_writer *w, struct buf *b, const char *magic, uint32_t version)
{
    w->b = b;
    w->start = b->len;
    w->err = 0;
    put_raw(w, magic, MLENC_MAGIC_LEN);
    mlenc_put_u32(w, version);
    mlenc_put_u64(w, 0); /* the payload length, filled in by mlenc_end */
}

void mlenc_put_u32(struct mlenc_writer *w, uint32_t v)
{
    unsigned char tmp[4];
    store_le(tmp, v, 4);
    put_raw(w, tmp, sizeof tmp);
}

void mlenc_put_u64(struct mlenc_writer *w, uint64_t v)
{
    unsigned char tmp[8];
    store_le(tmp, v, 8);
    put_raw(w, tmp, sizeof tmp);
}

void mlenc_put_f64(struct mlenc_writer *w, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    mlenc_put_u64(w, bits);
}

void mlenc_put_f64s(struct mlenc_writer *w, const double *v, size_t n)
{
    for (size_t i = 0; i < n && !w->err; i++)
        mlenc_put_f64(w, v[i]);
}

int mlenc_end(struct mlenc_writer *w)
{
    if (!w->err) {
        unsigned char *base = (unsigned char *)w->b->data + w->start;
        size_t total = w->b->len - w->start;
        store_le(base + LEN_OFFSET, total - HEADER_LEN, 8);
        mlenc_put_u64(w, fnv1a64(base, total));
    }
    if (w->err) {
        w->b->len = w->start;
        if (w->b->data)
            w->b->data[w->start] = '\0';
    }
    return w->err;
}

int mlenc_open(struct mlenc_reader *r, const void *data, size_t len, const char *magic,
               uint32_t *version, size_t *used)
{
    const unsigned char *p = data;
    if (!p || len < HEADER_LEN + 8 || memcmp(p, magic, MLENC_MAGIC_LEN) != 0)
        return -EINVAL;
    uint64_t payload = load_le(p + LEN_OFFSET, 8);
    if (payload > len - HEADER_LEN - 8)
        return -EINVAL;
    size_t body = HEADER_LEN + (size_t)payload;
    if (fnv1a64(p, body) != load_le(p + body, 8))
        return -EINVAL;
    r->p = p + HEADER_LEN;
    r->len = (size_t)payload;
    r->pos = 0;
    r->err = 0;
    *version = (uint32_t)load_le(p + MLENC_MAGIC_LEN, 4);
    if (used)
        *used = body + 8;
    return 0;
}

static const unsigned char *take(struct mlenc_reader *r, size_t n)
{
    if (r->err || n > r->len - r->pos) {
        r->err = -EINVAL;
        return NULL;
    }
    const unsigned char *at = r->p + r->pos;
    r->pos += n;
    return at;
}

uint32_t mlenc_get_u32(struct mlenc_reader *r)
{
    const unsigned char *at = take(r, 4);
    return at ? (uint32_t)load_le(at, 4) : 0;
}

uint64_t mlenc_get_u64(struct mlenc_reader *r)
{
    const unsigned char *at = take(r, 8);
    return at ? load_le(at, 8) : 0;
}

double mlenc_get_f64(struct mlenc_reader *r)
{
    uint64_t bits = mlenc_get_u64(r);
    double v;
    memcpy(&v, &bits, sizeof v);
    return v;
}

double mlenc_get_finite(struct mlenc_reader *r)
{
    double v = mlenc_get_f64(r);
    if (!isfinite(v)) {
        r->err = -EINVAL;
        return 0.0;
    }
    return v;
}

void mlenc_get_f64s(struct mlenc_reader *r, double *out, size_t n)
{
    for (size_t i = 0; i < n && !r->err; i++)
        out[i] = mlenc_get_f64(r);
}

size_t mlenc_get_count(struct mlenc_reader *r, size_t min, size_t max, size_t elem_size)
{
    uint64_t v = mlenc_get_u64(r);
    if (r->err)
        return 0;
    size_t left = r->len - r->pos;
    if (v < min || v > max || (elem_size && v > left / elem_size)) {
        r->err = -EINVAL;
        return 0;
    }
    return (size_t)v;
}

void mlenc_fail(struct mlenc_reader *r)
{
    r->err = -EINVAL;
}

int mlenc_close(const struct mlenc_reader *r)
{
    if (r->err || r->pos != r->len)
        return -EINVAL;
    return 0;
}
