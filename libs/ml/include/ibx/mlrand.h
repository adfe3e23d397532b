/* mlrand: the small seeded PRNG every learner, split and benchmark in libs/ml shares.
 *
 * xoshiro256** (Blackman and Vigna) seeded through splitmix64, header-only so that hot
 * loops (bootstrap draws, feature sampling) inline it. A struct mlrand is plain state owned
 * by its caller: no allocation, nothing to free, not thread-safe (give each thread or each
 * tree its own stream with mlrand_seed_stream, which is deterministic for (seed, stream)
 * whatever the thread schedule). The sequences are fixed: changing them changes every
 * seeded result, so treat the algorithms below as part of the model format. */
#ifndef IBX_MLRAND_H
#define IBX_MLRAND_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

struct mlrand {
    uint64_t s[4];
};

/* splitmix64: one step; advances *state. Also a good 64-bit mixer on its own. */
static inline uint64_t mlrand_splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Seed from one 64-bit value (any value, 0 included). */
static inline void mlrand_seed(struct mlrand *r, uint64_t seed)
{
    uint64_t sm = seed;
    for (int i = 0; i < 4; i++)
        r->s[i] = mlrand_splitmix64(&sm);
}

/* Seed an independent stream number `stream` of `seed` (e.g. one per tree or per fold):
 * the same (seed, stream) always gives the same sequence. */
static inline void mlrand_seed_stream(struct mlrand *r, uint64_t seed, uint64_t stream)
{
    uint64_t sm = stream;
    uint64_t mixed = seed ^ mlrand_splitmix64(&sm);
    mlrand_seed(r, mixed);
}

static inline uint64_t mlrand_rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

/* The next 64 random bits (xoshiro256**). */
static inline uint64_t mlrand_next(struct mlrand *r)
{
    uint64_t *s = r->s;
    uint64_t result = mlrand_rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = mlrand_rotl(s[3], 45);
    return result;
}

/* Uniform double in [0, 1) with 53 random bits. */
static inline double mlrand_uniform(struct mlrand *r)
{
    return (double)(mlrand_next(r) >> 11) * 0x1.0p-53;
}

/* Uniform integer in [0, n) without modulo bias (Lemire's method); n == 0 returns 0. */
static inline uint64_t mlrand_below(struct mlrand *r, uint64_t n)
{
    if (n == 0)
        return 0;
    __uint128_t m = (__uint128_t)mlrand_next(r) * n;
    uint64_t low = (uint64_t)m;
    if (low < n) {
        /* n > 0 here (returned above); the analyzer loses that through the 128-bit product */
        uint64_t threshold = (0 - n) % n; // NOLINT(clang-analyzer-core.DivideZero)
        while (low < threshold) {
            m = (__uint128_t)mlrand_next(r) * n;
            low = (uint64_t)m;
        }
    }
    return (uint64_t)(m >> 64);
}

/* Standard normal draw (Box-Muller, one value per call; uses two uniforms). */
static inline double mlrand_normal(struct mlrand *r)
{
    double u1 = 1.0 - mlrand_uniform(r); /* (0, 1]: log is finite */
    double u2 = mlrand_uniform(r);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586476925 * u2);
}

/* Fisher-Yates shuffle of a[0..n) in place. */
static inline void mlrand_shuffle(struct mlrand *r, size_t *a, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)mlrand_below(r, i);
        size_t t = a[i - 1];
        a[i - 1] = a[j];
        a[j] = t;
    }
}

#endif
