/* profile: one-pass, bounded-memory column statistics (types, moments, distinct, quantiles,
 * histograms, top values, PII hints, correlations) over rows of text cells. */
#include <ibx/profile.h>

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define C_NUM  1u
#define C_INT  2u
#define C_DATE 4u
#define C_BOOL 8u

#define NUM_TEXT_MAX  255
#define MAP_MIN_SLOTS 64

#define PROFILE_ASYNC_CELLS 4096 /* smaller batches are profiled on the caller's thread */
#define PROFILE_TASKS_MAX   256  /* a batch's columns are cut into at most this many tasks */

enum ptype { T_INT, T_FLOAT, T_BOOL, T_TEMPORAL, T_CAT, T_TEXT };
static const char *const type_names[] = {"numerical_integer", "numerical_float", "boolean",
                                         "temporal",          "categorical",     "text"};

/* ---- hashing ---------------------------------------------------------------------------- */

static inline uint64_t mix64(uint64_t a, uint64_t b)
{
    __uint128_t r = (__uint128_t)a * b;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
}

/* Bytes s[0..r), 0 < r < 8, as a number (byte k at bits 8k..8k+7), the rest zero. */
static inline uint64_t load_small(const char *s, size_t r)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (r >= 4) { /* two overlapping loads: the shared bytes are the same */
        uint32_t lo, hi;
        memcpy(&lo, s, 4);
        memcpy(&hi, s + r - 4, 4);
        return lo | (uint64_t)hi << (8 * (r - 4));
    }
    return (uint64_t)(unsigned char)s[0] | (uint64_t)(unsigned char)s[r / 2] << (8 * (r / 2)) |
           (uint64_t)(unsigned char)s[r - 1] << (8 * (r - 1));
#else
    uint64_t a = 0;
    for (size_t k = 0; k < r; k++)
        a |= (uint64_t)(unsigned char)s[k] << (8 * k);
    return a;
#endif
}

static uint64_t hash_bytes(const char *s, size_t n)
{
    const uint64_t k0 = 0xa0761d6478bd642full, k1 = 0xe7037ed1a0b428dbull;
    const uint64_t k2 = 0x8ebc6af09c88c6e3ull;
    uint64_t h = k0 ^ mix64(n ^ k2, k1);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        uint64_t a, b;
        memcpy(&a, s + i, 8);
        memcpy(&b, s + i + 8, 8);
        h = mix64(a ^ k1, b ^ h);
    }
    uint64_t a = 0, b = 0;
    size_t r = n - i;
    if (r >= 8) {
        memcpy(&a, s + i, 8);
        memcpy(&b, s + n - 8, 8);
    } else if (r > 0) {
        a = load_small(s + i, r);
    }
    h = mix64(a ^ k1, b ^ h);
    h = mix64(h ^ k2, (uint64_t)n ^ k0);
    return h ? h : 1;
}

/* ---- sorting doubles -------------------------------------------------------------------- */

static void insertion_sort(double *a, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        double v = a[i];
        size_t j = i;
        while (j > 0 && a[j - 1] > v) {
            a[j] = a[j - 1];
            j--;
        }
        a[j] = v;
    }
}

static void sort_doubles(double *a, size_t n)
{
    while (n > 24) {
        double x = a[0], y = a[n / 2], z = a[n - 1];
        double piv = x < y ? (y < z ? y : (x < z ? z : x)) : (x < z ? x : (y < z ? z : y));
        size_t i = 0, j = n - 1;
        for (;;) {
            while (a[i] < piv)
                i++;
            while (a[j] > piv)
                j--;
            if (i >= j)
                break;
            double t = a[i];
            a[i++] = a[j];
            a[j--] = t;
        }
        size_t left = j + 1;
        if (left < n - left) { /* recurse on the smaller part */
            sort_doubles(a, left);
            a += left;
            n -= left;
        } else {
            sort_doubles(a + left, n - left);
            n = left;
        }
    }
    insertion_sort(a, n);
}

/* Doubles as order-preserving unsigned keys, and an LSD radix sort over them (8-bit digits;
 * digits equal in every key are skipped). */
static inline uint64_t d2key(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof(u));
    return (u >> 63) ? ~u : u | 0x8000000000000000ull;
}

static inline double key2d(uint64_t k)
{
    uint64_t u = (k >> 63) ? k & ~0x8000000000000000ull : ~k;
    double d;
    memcpy(&d, &u, sizeof(d));
    return d;
}

#define RADIX_BITS 11 /* bits per digit */

/* Sort a[0..n) using b[0..n) as scratch; the result is in a. LSD radix over only the bits
 * that differ among the keys, in digits of at most RADIX_BITS bits (a digit with one value
 * in every key is skipped); nothing to do when the keys are already in order. */
static void radix_u64(uint64_t *a, uint64_t *b, size_t n)
{
    static _Thread_local uint32_t cnt[(64 + RADIX_BITS - 1) / RADIX_BITS][1u << RADIX_BITS];
    if (n < 2)
        return;
    uint64_t any = a[0], all = a[0];
    size_t sorted = 1;
    for (size_t i = 1; i < n; i++) {
        any |= a[i];
        all &= a[i];
        sorted += a[i - 1] <= a[i];
    }
    if (sorted == n)
        return;
    uint64_t diff = any ^ all; /* not 0: the keys are not all equal */
    int lo = __builtin_ctzll(diff), bits = 64 - __builtin_clzll(diff) - lo;
    int nd = (bits + RADIX_BITS - 1) / RADIX_BITS, w = (bits + nd - 1) / nd;
    size_t nb = (size_t)1 << w;
    uint64_t mask = nb - 1;
    for (int d = 0; d < nd; d++)
        memset(cnt[d], 0, nb * sizeof(cnt[d][0]));
    for (size_t i = 0; i < n; i++) {
        uint64_t v = a[i] >> lo;
        for (int d = 0; d < nd; d++)
            cnt[d][(v >> (w * d)) & mask]++;
    }
    uint64_t *src = a, *dst = b;
    for (int d = 0; d < nd; d++) {
        int sh = lo + w * d;
        uint32_t *c = cnt[d];
        if (c[(src[0] >> sh) & mask] == n)
            continue;
        uint32_t sum = 0;
        for (size_t k = 0; k < nb; k++) {
            uint32_t x = c[k];
            c[k] = sum;
            sum += x;
        }
        for (size_t i = 0; i < n; i++)
            dst[c[(src[i] >> sh) & mask]++] = src[i];
        uint64_t *t = src;
        src = dst;
        dst = t;
    }
    if (src != a)
        memcpy(a, src, n * sizeof(*a));
}

#define MSD_BITS     12 /* first pass: the top bits of the keys' range */
#define SMALL_BUCKET 32 /* buckets up to this size are insertion-sorted */

static void insertion_u64(uint64_t *a, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        uint64_t v = a[i];
        size_t j = i;
        while (j > 0 && a[j - 1] > v) {
            a[j] = a[j - 1];
            j--;
        }
        a[j] = v;
    }
}

/* Sort a[0..n) using b[0..n) as scratch; the result is in a. One pass on the top MSD_BITS
 * bits of the keys' range spreads them over up to 2^MSD_BITS buckets (for values from a
 * continuous distribution, a few keys each), then small buckets are insertion-sorted and
 * larger ones radix-sorted (which ends at once on equal keys). */
static void sort_keys(uint64_t *a, uint64_t *b, size_t n)
{
    static _Thread_local uint32_t cnt[1u << MSD_BITS];
    if (n < 2)
        return;
    uint64_t lo = a[0], hi = a[0];
    size_t sorted = 1;
    for (size_t i = 1; i < n; i++) {
        lo = a[i] < lo ? a[i] : lo;
        hi = a[i] > hi ? a[i] : hi;
        sorted += a[i - 1] <= a[i];
    }
    if (sorted == n)
        return;
    if (n <= SMALL_BUCKET) {
        insertion_u64(a, n);
        return;
    }
    int bits = 64 - __builtin_clzll(hi - lo);
    int sh = bits > MSD_BITS ? bits - MSD_BITS : 0;
    size_t nb = (size_t)((hi - lo) >> sh) + 1;
    memset(cnt, 0, nb * sizeof(cnt[0]));
    for (size_t i = 0; i < n; i++)
        cnt[(a[i] - lo) >> sh]++;
    uint32_t sum = 0;
    for (size_t k = 0; k < nb; k++) {
        uint32_t x = cnt[k];
        cnt[k] = sum;
        sum += x;
    }
    for (size_t i = 0; i < n; i++)
        b[cnt[(a[i] - lo) >> sh]++] = a[i];
    memcpy(a, b, n * sizeof(*a));
    size_t start = 0; /* cnt[k] is now where bucket k ends */
    for (size_t k = 0; k < nb; k++) {
        size_t m = cnt[k] - start;
        if (m > SMALL_BUCKET)
            radix_u64(a + start, b + start, m);
        else if (m > 1)
            insertion_u64(a + start, m);
        start = cnt[k];
    }
}

/* Sort n doubles (radix through temporary keys; quicksort when memory is short). */
static void sort_values(double *v, size_t n)
{
    uint64_t *k = malloc(2 * (n ? n : 1) * sizeof(*k));
    if (!k) {
        sort_doubles(v, n);
        return;
    }
    for (size_t i = 0; i < n; i++)
        k[i] = d2key(v[i]);
    sort_keys(k, k + n, n);
    for (size_t i = 0; i < n; i++)
        v[i] = key2d(k[i]);
    free(k);
}

/* ---- number and time parsing --------------------------------------------------------------- */

static const double pow10_tab[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                     1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                     1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

static int slow_number(const char *s, size_t len, double *out)
{
    char tmp[NUM_TEXT_MAX + 1];
    if (len > NUM_TEXT_MAX)
        return -EINVAL;
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    char *end = NULL;
    double v = strtod(tmp, &end);
    if (end != tmp + len || !isfinite(v))
        return -EINVAL;
    *out = v;
    return 0;
}

struct numscan {
    uint64_t mant;
    int sig;     /* significant digits kept in mant */
    int dropped; /* significant digits beyond 19 */
    int exp10;
    int digits;
};

static size_t scan_digits(const char *s, size_t i, size_t n, struct numscan *ns, int frac)
{
    for (; i < n && (unsigned)(s[i] - '0') < 10; i++) {
        ns->digits++;
        unsigned d = (unsigned)(s[i] - '0');
        if (ns->sig == 0 && d == 0) {
            ns->exp10 -= frac;
            continue;
        }
        if (ns->sig < 19) {
            ns->mant = ns->mant * 10 + d;
            ns->sig++;
            ns->exp10 -= frac;
        } else {
            ns->dropped++;
            ns->exp10 += !frac;
        }
    }
    return i;
}

/* Plain decimals, [+-]digits[.digits] with 1 to 18 digits and no spaces or exponent: the
 * mantissa and exponent the general scan would find (every digit kept, leading zeros add
 * nothing), turned into a double the same way. 0, or -1 for anything else (the general
 * scan decides). */
static inline int plain_number(const char *s, size_t n, double *out, int *is_int)
{
    size_t i = 0;
    int neg = n > 0 && s[0] == '-';
    i += n > 0 && (s[0] == '-' || s[0] == '+');
    uint64_t mant = 0;
    size_t st = i;
    for (unsigned d; i < n && (d = (unsigned)(s[i] - '0')) < 10; i++)
        mant = mant * 10 + d;
    size_t digits = i - st;
    int integer = 1;
    if (i < n && s[i] == '.') {
        integer = 0;
        size_t fs = ++i;
        for (unsigned d; i < n && (d = (unsigned)(s[i] - '0')) < 10; i++)
            mant = mant * 10 + d;
        digits += i - fs;
        st = fs; /* the fraction's digits: the exponent is minus their count */
    }
    if (i != n || digits == 0 || digits > 18 || mant > (1ull << 53))
        return -1;
    double v = (double)mant;
    v = integer ? v * pow10_tab[0] : v / pow10_tab[i - st];
    *out = neg ? -v : v;
    if (is_int)
        *is_int = integer;
    return 0;
}

int profile_parse_number(const char *s, size_t len, double *out, int *is_int)
{
    if (plain_number(s, len, out, is_int) == 0)
        return 0;
    size_t i = 0, n = len;
    while (i < n && (s[i] == ' ' || s[i] == '\t'))
        i++;
    while (n > i && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    struct numscan ns = {0, 0, 0, 0, 0};
    size_t start = i;
    int neg = i < n && s[i] == '-';
    i += i < n && (s[i] == '-' || s[i] == '+');
    i = scan_digits(s, i, n, &ns, 0);
    int integer = 1;
    if (i < n && s[i] == '.') {
        integer = 0;
        i = scan_digits(s, i + 1, n, &ns, 1);
    }
    if (ns.digits == 0)
        return -EINVAL;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        integer = 0;
        size_t k = i + 1;
        int eneg = k < n && s[k] == '-';
        k += k < n && (s[k] == '-' || s[k] == '+');
        int e = 0, ed = 0;
        for (; k < n && (unsigned)(s[k] - '0') < 10; k++, ed++)
            e = e < 100000 ? e * 10 + (s[k] - '0') : e;
        if (ed == 0)
            return -EINVAL;
        ns.exp10 += eneg ? -e : e;
        i = k;
    }
    if (i != n)
        return -EINVAL;
    double v;
    if (ns.dropped == 0 && ns.mant <= (1ull << 53) && ns.exp10 >= -22 && ns.exp10 <= 22) {
        v = (double)ns.mant;
        v = ns.exp10 < 0 ? v / pow10_tab[-ns.exp10] : v * pow10_tab[ns.exp10];
        v = neg ? -v : v;
    } else if (slow_number(s + start, n - start, &v) != 0) {
        return -EINVAL;
    }
    if (integer && (ns.dropped > 0 || ns.sig + ns.exp10 > 18))
        integer = fabs(v) < 9.2e18;
    *out = v;
    if (is_int)
        *is_int = integer;
    return 0;
}

static inline int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = (unsigned)(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

/* Read 1..max digits at *i; -1 when none. */
static int read_int(const char *s, size_t n, size_t *i, int min_d, int max_d)
{
    int v = 0, k = 0;
    while (*i < n && k < max_d && (unsigned)(s[*i] - '0') < 10) {
        v = v * 10 + (s[*i] - '0');
        (*i)++;
        k++;
    }
    return k >= min_d ? v : -1;
}

static inline int valid_date(int y, int m, int d)
{
    static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1 || m < 1 || m > 12 || d < 1)
        return 0;
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return d <= mdays[m - 1] + (m == 2 && leap);
}

/* The date part; sets y/m/d and advances *i. */
static int parse_date_part(const char *s, size_t n, size_t *i, int *y, int *m, int *d)
{
    size_t k = *i;
    int a = read_int(s, n, &k, 1, 4);
    size_t alen = k - *i;
    if (a < 0 || k >= n)
        return -1;
    char sep = s[k];
    if (sep != '-' && sep != '/' && (sep != '.' || alen == 4))
        return -1;
    k++;
    int b = read_int(s, n, &k, 1, 2);
    if (b < 0 || k >= n || s[k] != sep)
        return -1;
    k++;
    size_t cst = k;
    int c = read_int(s, n, &k, 1, 4);
    if (c < 0)
        return -1;
    if (alen == 4 && k - cst <= 2) {
        *y = a, *m = b, *d = c;
    } else if (alen <= 2 && k - cst == 4) {
        *y = c, *m = b, *d = a;
    } else {
        return -1;
    }
    *i = k;
    return valid_date(*y, *m, *d) ? 0 : -1;
}

/* [ T]HH:MM[:SS[.fff]] then Z or +-HH[:]MM; adds seconds to *t. */
static int parse_time_part(const char *s, size_t n, size_t *i, double *t)
{
    size_t k = *i + 1;
    int hh = read_int(s, n, &k, 1, 2), mm = -1, ss = 0;
    if (hh < 0 || hh > 23 || k >= n || s[k] != ':')
        return -1;
    k++;
    mm = read_int(s, n, &k, 2, 2);
    if (mm < 0 || mm > 59)
        return -1;
    double frac = 0;
    if (k < n && s[k] == ':') {
        k++;
        ss = read_int(s, n, &k, 2, 2);
        if (ss < 0 || ss > 60)
            return -1;
        if (k < n && (s[k] == '.' || s[k] == ',')) {
            double scale = 0.1;
            size_t st = ++k;
            for (; k < n && (unsigned)(s[k] - '0') < 10; k++, scale /= 10)
                frac += (s[k] - '0') * scale;
            if (k == st)
                return -1;
        }
    }
    double off = 0;
    if (k < n && s[k] == 'Z') {
        k++;
    } else if (k < n && (s[k] == '+' || s[k] == '-')) {
        int sign = s[k] == '-' ? -1 : 1;
        k++;
        int oh = read_int(s, n, &k, 2, 2);
        k += k < n && s[k] == ':';
        int om = read_int(s, n, &k, 2, 2);
        if (oh < 0 || oh > 14 || om < 0 || om > 59)
            return -1;
        off = sign * (oh * 3600.0 + om * 60.0);
    }
    *t += hh * 3600.0 + mm * 60.0 + ss + frac - off;
    *i = k;
    return 0;
}

/* Two digits at s as a number, or -1. */
static inline int two_digits(const char *s)
{
    unsigned a = (unsigned)(s[0] - '0'), b = (unsigned)(s[1] - '0');
    return a < 10 && b < 10 ? (int)(a * 10 + b) : -1;
}

/* The two common shapes, YYYY-MM-DD and YYYY-MM-DD[ T]HH:MM:SS ('/' also separating the date),
 * with the checks and arithmetic of the general parser. 0, or -1 for anything else (the
 * general parser decides). */
static inline int plain_time(const char *s, size_t n, double *out)
{
    if ((n != 10 && n != 19) || (s[4] != '-' && s[4] != '/') || s[7] != s[4])
        return -1;
    int y1 = two_digits(s), y2 = two_digits(s + 2), m = two_digits(s + 5), d = two_digits(s + 8);
    if (y1 < 0 || y2 < 0 || m < 0 || d < 0 || !valid_date(y1 * 100 + y2, m, d))
        return -1;
    double t = (double)days_from_civil(y1 * 100 + y2, (unsigned)m, (unsigned)d) * 86400.0;
    if (n == 19) {
        if ((s[10] != ' ' && s[10] != 'T') || s[13] != ':' || s[16] != ':')
            return -1;
        int hh = two_digits(s + 11), mm = two_digits(s + 14), ss = two_digits(s + 17);
        if (hh < 0 || hh > 23 || mm < 0 || mm > 59 || ss < 0 || ss > 60)
            return -1;
        double frac = 0, off = 0;
        t += hh * 3600.0 + mm * 60.0 + ss + frac - off;
    }
    *out = t;
    return 0;
}

int profile_parse_time(const char *s, size_t len, double *out)
{
    if (plain_time(s, len, out) == 0)
        return 0;
    size_t i = 0, n = len;
    while (n > 0 && s[n - 1] == ' ')
        n--;
    if (n < 8 || n > 40 || (unsigned)(s[0] - '0') >= 10)
        return -EINVAL;
    int y, m, d;
    if (parse_date_part(s, n, &i, &y, &m, &d) != 0)
        return -EINVAL;
    double t = (double)days_from_civil(y, (unsigned)m, (unsigned)d) * 86400.0;
    if (i < n && (s[i] == 'T' || s[i] == ' ') && parse_time_part(s, n, &i, &t) != 0)
        return -EINVAL;
    if (i != n)
        return -EINVAL;
    *out = t;
    return 0;
}

void profile_format_time(double t, char *out, size_t n)
{
    double days = floor(t / 86400.0);
    double secs = t - days * 86400.0;
    int64_t y;
    unsigned m, d;
    civil_from_days((int64_t)days, &y, &m, &d);
    if (secs == 0) {
        snprintf(out, n, "%04lld-%02u-%02u", (long long)y, m, d);
        return;
    }
    long ms = lround(secs * 1000.0);
    if (ms >= 86400000L)
        ms = 86399999L;
    long hh = ms / 3600000, mi = (ms / 60000) % 60, ss = (ms / 1000) % 60, frac = ms % 1000;
    if (frac)
        snprintf(out, n, "%04lld-%02u-%02uT%02ld:%02ld:%02ld.%03ldZ", (long long)y, m, d, hh, mi,
                 ss, frac);
    else
        snprintf(out, n, "%04lld-%02u-%02uT%02ld:%02ld:%02ldZ", (long long)y, m, d, hh, mi, ss);
}

/* ---- HyperLogLog (Ertl's improved raw estimator, no bias tables) ---------------------------- */

struct hll {
    int p;
    uint8_t *reg;
};

static int hll_init(struct hll *h, int p)
{
    h->p = p;
    h->reg = calloc((size_t)1 << p, 1);
    return h->reg ? 0 : -ENOMEM;
}

static inline void hll_add(struct hll *h, uint64_t x)
{
    size_t idx = (size_t)(x >> (64 - h->p));
    uint64_t w = x << h->p;
    int q = 64 - h->p;
    uint8_t rho = (uint8_t)(w ? __builtin_clzll(w) + 1 : q + 1);
    if (rho > q + 1)
        rho = (uint8_t)(q + 1);
    if (rho > h->reg[idx])
        h->reg[idx] = rho;
}

static double hll_sigma(double x)
{
    if (x == 1.0)
        return INFINITY;
    double y = 1, z = x, zo;
    do {
        x *= x;
        zo = z;
        z += x * y;
        y += y;
    } while (z != zo);
    return z;
}

static double hll_tau(double x)
{
    if (x == 0.0 || x == 1.0)
        return 0;
    double y = 1, z = 1 - x, zo;
    do {
        x = sqrt(x);
        zo = z;
        y *= 0.5;
        z -= (1 - x) * (1 - x) * y;
    } while (z != zo);
    return z / 3;
}

static double hll_estimate(const struct hll *h)
{
    size_t m = (size_t)1 << h->p;
    int q = 64 - h->p;
    double c[66] = {0};
    for (size_t i = 0; i < m; i++)
        c[h->reg[i]]++;
    double md = (double)m;
    double z = md * hll_tau(1 - c[q + 1] / md);
    for (int k = q; k >= 1; k--)
        z = 0.5 * (z + c[k]);
    z += md * hll_sigma(c[0] / md);
    return (0.5 / log(2.0)) * md * md / z;
}

/* ---- exact value map: 64-bit hash -> count, first bytes ------------------------------------ */

struct mslot {
    uint64_t h; /* 0: empty */
    uint32_t count;
    uint32_t ent; /* first-seen index into str */
};

struct vmap {
    struct mslot *t;
    size_t mask, n;
    uint32_t *str; /* 2 per entry: offset in arena, length */
    size_t scap;
    char *arena;
    size_t alen, acap;
};

/* ---- frequent values (Misra-Gries with median purges, as DataSketches' frequent items) ---- */

struct fient {
    uint64_t h, count;
    uint32_t order, slen;
    uint32_t sidx; /* its bytes: text[sidx], once settled */
    uint32_t pad_;
    const char *src; /* not settled yet: its bytes are still the caller's, here */
};

struct freq {
    struct fient *e;
    size_t n, cap;
    uint32_t *idx; /* open addressing: entry + 1, 0 empty */
    size_t imask;
    uint64_t offset; /* subtracted from every counter so far: the error bound */
    uint64_t *scratch;
    char (*text)[PROFILE_VALUE_BYTES];
    uint32_t *free_text;  /* text slots given back */
    size_t nfree, nslots; /* and slots handed out so far */
};

/* ---- t-digest (merging, k1 scale) ------------------------------------------------------------ */

struct tdigest {
    double delta;
    double *mean, *w;
    size_t n, cap;
    uint64_t *buf, *kscratch; /* buffered values as d2key keys, radix scratch */
    size_t nbuf, bufcap;
    double *om, *ow; /* merge scratch */
    size_t ocap;
    double total;
};

/* ---- columns ----------------------------------------------------------------------------------
 */

struct pcol {
    unsigned cand;
    int corr_slot;
    uint64_t count;
    /* numbers or seconds */
    uint64_t nnum;
    double mean, m2, min, max;
    double *vals;
    size_t nvals, qcap;
    struct tdigest *td;
    /* distinct and top values */
    struct vmap map;
    struct hll hll;
    struct freq *ss;
    uint32_t order;
    /* booleans: the spellings seen */
    uint64_t bool_h[2];
    int bool_n, bool_word;
    char bool_s[2][8]; /* the spellings (tokens are at most 5 bytes) */
    size_t bool_len[2];
    /* lengths */
    uint64_t len_min, len_max;
    double len_sum;
    /* examples */
    char *ex[PROFILE_EXAMPLES];
    uint32_t ex_len[PROFILE_EXAMPLES];
    int nex;
    /* PII value checks */
    uint32_t pii_seen, pii_email, pii_phone, pii_iban, pii_card;
    /* caps */
    size_t budget;
    size_t emax, amax;
    char *name;
    int type;
};

struct corr {
    size_t k;
    int chosen;
    size_t col[PROFILE_CORR_COLS];
    double shift[PROFILE_CORR_COLS];
    double x[PROFILE_CORR_COLS];
    uint64_t nfull;
    double sum[PROFILE_CORR_COLS];
    double *q;                   /* k*k: complete rows */
    double *np, *sx, *sxx, *sxy; /* k*k: incomplete rows, pairwise */
    double *scan;                /* PROFILE_CORR_SCAN_ROWS x scan_w */
    size_t scan_w;
};

/* A batch of rows being profiled: cells[r * n + i]; bx[slot * rows + r] the correlation
 * columns' shifted values (NAN: none). */
struct pbatch {
    const struct colf_cell *cells;
    size_t rows, n;
    uint64_t row0;
    double *bx;
};

/* Helper threads: a batch's columns are cut into tasks handed out under mu; the caller takes
 * tasks too, then waits for the ones still running. Each column is one task's, and batches
 * follow each other, so every column sees its values in row order whatever the threads. */
struct ppool {
    pthread_mutex_t mu;
    pthread_cond_t wake; /* workers: a task to take, or quit */
    pthread_cond_t idle; /* caller: the last running task finished */
    pthread_t *tid;
    size_t nworkers;
    int started, quit;
    int active;                   /* a batch is in progress */
    size_t next, ntasks, running; /* tasks handed out, in the batch, and not yet finished */
    size_t ncoltasks; /* tasks 0..ncoltasks-1 are column ranges; task ncoltasks (when handed
                       * out) adds the previous batch's correlation sums */
    uint32_t order[PROFILE_TASKS_MAX + 1]; /* the order tasks are handed out in */
    double cost[PROFILE_TASKS_MAX + 1];    /* seconds each task took last time (scheduling) */
    int timed;                             /* tasks are single columns: order by cost */
    int err;                               /* the batch's first error */
};

struct profile {
    struct pcol *cols;
    size_t ncols, cap, hint, max_cols;
    uint64_t rows;
    int finished;
    struct corr c;
    size_t threads; /* 1: everything on the caller's thread */
    struct ppool pool;
    struct pbatch job; /* the batch in progress (pool.active) */
    double *bxbuf[2];  /* batches alternate between two bx buffers */
    size_t bxcap[2];
    int bxnext;
    struct pbatch pend;  /* a batch whose correlation sums are still to add (pend.bx) */
    unsigned char *full; /* corr_rows scratch: full_cap bytes and indexes */
    uint32_t *part;
    size_t full_cap;
    int err; /* sticky */
};

static size_t clampz(size_t v, size_t lo, size_t hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

static size_t col_budget(const struct profile *p, size_t i)
{
    size_t b;
    if (p->hint)
        b = PROFILE_BUDGET_BYTES / (p->hint > i ? p->hint : i + 1);
    else if (i < PROFILE_EARLY_COLS)
        b = PROFILE_BUDGET_BYTES / 2 / PROFILE_EARLY_COLS;
    else
        b = PROFILE_BUDGET_BYTES / 2 / p->max_cols;
    return clampz(b, PROFILE_COL_MIN_BYTES, PROFILE_COL_MAX_BYTES);
}

static int hll_bits(size_t b)
{
    int p = 0;
    while (((size_t)1 << (p + 1)) <= b / 16)
        p++;
    return p < 8 ? 8 : p > 14 ? 14 : p;
}

/* ---- t-digest implementation ---------------------------------------------------------------- */

static int td_new(double delta, struct tdigest **out)
{
    struct tdigest *t = calloc(1, sizeof(*t));
    if (!t)
        return -ENOMEM;
    t->delta = delta;
    t->bufcap = (size_t)(20 * delta);
    t->cap = (size_t)(2 * delta) + 8;
    t->ocap = t->cap + t->bufcap;
    t->buf = malloc(t->bufcap * sizeof(uint64_t));
    t->kscratch = malloc(t->bufcap * sizeof(uint64_t));
    t->mean = malloc(t->ocap * sizeof(double));
    t->w = malloc(t->ocap * sizeof(double));
    t->om = malloc(t->ocap * sizeof(double));
    t->ow = malloc(t->ocap * sizeof(double));
    if (!t->buf || !t->kscratch || !t->mean || !t->w || !t->om || !t->ow) {
        free(t->buf), free(t->kscratch), free(t->mean), free(t->w), free(t->om), free(t->ow);
        free(t);
        return -ENOMEM;
    }
    *out = t;
    return 0;
}

static void td_free(struct tdigest *t)
{
    if (!t)
        return;
    free(t->buf), free(t->kscratch), free(t->mean), free(t->w), free(t->om), free(t->ow);
    free(t);
}

static double td_kinv(double k, double delta)
{
    double q = (sin(k * 2 * M_PI / delta) + 1) / 2;
    return q > 1 ? 1 : q;
}

static double td_k(double q, double delta)
{
    return delta / (2 * M_PI) * asin(2 * q - 1);
}

static void td_flush(struct tdigest *t)
{
    if (t->nbuf == 0)
        return;
    sort_keys(t->buf, t->kscratch, t->nbuf);
    double total = t->total + (double)t->nbuf;
    size_t i = 0, j = 0, no = 0;
    double cm = 0, cw = 0, q0 = 0, qlim = 0;
    while (i < t->n || j < t->nbuf) {
        double m, w;
        if (j >= t->nbuf || (i < t->n && t->mean[i] <= key2d(t->buf[j])))
            m = t->mean[i], w = t->w[i++];
        else
            m = key2d(t->buf[j++]), w = 1;
        if (cw == 0) {
            cm = m, cw = w;
            qlim = td_kinv(td_k(q0, t->delta) + 1, t->delta);
        } else if (q0 + (cw + w) / total <= qlim) {
            cw += w;
            cm += (m - cm) * w / cw;
        } else {
            t->om[no] = cm, t->ow[no++] = cw;
            q0 += cw / total;
            qlim = td_kinv(td_k(q0, t->delta) + 1, t->delta);
            cm = m, cw = w;
        }
    }
    t->om[no] = cm, t->ow[no++] = cw;
    double *tm = t->mean, *tw = t->w;
    t->mean = t->om, t->w = t->ow;
    t->om = tm, t->ow = tw;
    t->n = no;
    t->total = total;
    t->nbuf = 0;
}

static inline void td_add(struct tdigest *t, double x)
{
    if (t->nbuf == t->bufcap)
        td_flush(t);
    t->buf[t->nbuf++] = d2key(x);
}

static double td_quantile(const struct tdigest *t, double q, double min, double max)
{
    if (t->n == 0)
        return NAN;
    double target = q * t->total;
    if (t->n == 1 || target <= 0)
        return t->n == 1 ? t->mean[0] : min;
    if (target < t->w[0] / 2)
        return min + (t->mean[0] - min) * target / (t->w[0] / 2);
    double cum = t->w[0] / 2;
    for (size_t i = 0; i + 1 < t->n; i++) {
        double dw = (t->w[i] + t->w[i + 1]) / 2;
        if (cum + dw > target)
            return t->mean[i] + (t->mean[i + 1] - t->mean[i]) * (target - cum) / dw;
        cum += dw;
    }
    double lw = t->w[t->n - 1] / 2;
    double f = lw > 0 ? (target - cum) / lw : 1;
    return t->mean[t->n - 1] + (max - t->mean[t->n - 1]) * (f > 1 ? 1 : f);
}

static double td_cdf(const struct tdigest *t, double x, double min, double max)
{
    if (x <= min)
        return 0;
    if (x >= max)
        return 1;
    double cum = 0;
    double pm = min, pw = 0; /* previous point and the weight up to it */
    for (size_t i = 0; i < t->n; i++) {
        double m = t->mean[i], half = t->w[i] / 2;
        if (x < m) {
            double span = m - pm;
            double f = span > 0 ? (x - pm) / span : 1;
            return (cum + (pw + half) * f) / t->total;
        }
        cum += pw + half;
        pm = m;
        pw = half;
    }
    double span = max - pm;
    return (cum + pw * (span > 0 ? (x - pm) / span : 1)) / t->total;
}

/* ---- frequent values ----------------------------------------------------------------------- */

static void fi_free(struct freq *f)
{
    if (!f)
        return;
    free(f->e), free(f->idx), free(f->scratch), free(f->text), free(f->free_text), free(f);
}

static int fi_new(size_t cap, struct freq **out)
{
    struct freq *f = calloc(1, sizeof(*f));
    if (!f)
        return -ENOMEM;
    size_t slots = 16;
    while (slots < 2 * cap)
        slots *= 2;
    f->cap = cap;
    f->imask = slots - 1;
    f->nfree = 0;
    f->e = malloc(cap * sizeof(*f->e));
    f->idx = calloc(slots, sizeof(uint32_t));
    f->scratch = malloc(cap * sizeof(uint64_t));
    f->text = malloc(cap * sizeof(*f->text));
    f->free_text = malloc(cap * sizeof(uint32_t));
    if (!f->e || !f->idx || !f->scratch || !f->text || !f->free_text) {
        fi_free(f);
        return -ENOMEM;
    }
    *out = f;
    return 0;
}

static uint64_t select_u64(uint64_t *a, size_t n, size_t k)
{
    size_t lo = 0, hi = n - 1;
    while (lo < hi) {
        uint64_t piv = a[lo + (hi - lo) / 2];
        size_t i = lo, j = hi;
        while (i <= j) {
            while (a[i] < piv)
                i++;
            while (a[j] > piv)
                j--;
            if (i <= j) {
                uint64_t t = a[i];
                a[i++] = a[j];
                a[j] = t;
                if (j == 0)
                    break;
                j--;
            }
        }
        if (k <= j)
            hi = j;
        else if (k >= i)
            lo = i;
        else
            return a[k];
    }
    return a[k];
}

static void fi_index(struct freq *f)
{
    memset(f->idx, 0, (f->imask + 1) * sizeof(uint32_t));
    for (size_t k = 0; k < f->n; k++) {
        size_t i = f->e[k].h & f->imask;
        while (f->idx[i])
            i = (i + 1) & f->imask;
        f->idx[i] = (uint32_t)k + 1;
    }
}

/* Subtract the median counter from every counter and drop those that reach 0. */
static void fi_purge(struct freq *f)
{
    uint64_t lo = f->e[0].count, hi = lo;
    for (size_t k = 0; k < f->n; k++) {
        uint64_t c = f->e[k].count;
        f->scratch[k] = c;
        lo = c < lo ? c : lo;
        hi = c > hi ? c : hi;
    }
    /* all equal (a stream of distinct values): that is the median */
    uint64_t med = lo == hi ? lo : select_u64(f->scratch, f->n, f->n / 2);
    size_t kept = 0;
    for (size_t k = 0; k < f->n; k++) {
        if (f->e[k].count <= med) {
            if (!f->e[k].src)
                f->free_text[f->nfree++] = f->e[k].sidx;
            continue;
        }
        f->e[kept] = f->e[k];
        f->e[kept++].count -= med;
    }
    f->n = kept;
    f->offset += med;
    fi_index(f);
}

static void fi_add(struct freq *f, uint64_t h, const char *str, size_t len, uint64_t w,
                   uint32_t order)
{
    size_t i = h & f->imask;
    for (; f->idx[i]; i = (i + 1) & f->imask) {
        struct fient *e = &f->e[f->idx[i] - 1];
        if (e->h == h) {
            e->count += w;
            return;
        }
    }
    if (f->n == f->cap) {
        fi_purge(f);
        for (i = h & f->imask; f->idx[i]; i = (i + 1) & f->imask)
            ;
    }
    struct fient *e = &f->e[f->n];
    e->h = h;
    e->count = w;
    e->order = order;
    e->slen = (uint32_t)(len < PROFILE_VALUE_BYTES ? len : PROFILE_VALUE_BYTES);
    e->src = str; /* copied by fi_settle if the entry is still there then */
    f->idx[i] = (uint32_t)++f->n;
}

/* Copy the bytes of the entries added since the last call (their text was borrowed): most
 * entries of a stream of distinct values are purged before this. */
static void fi_settle(struct freq *f)
{
    for (size_t k = 0; k < f->n; k++) {
        struct fient *e = &f->e[k];
        if (!e->src)
            continue;
        e->sidx = f->nfree ? f->free_text[--f->nfree] : (uint32_t)f->nslots++;
        memcpy(f->text[e->sidx], e->src, e->slen);
        e->src = NULL;
    }
}

/* ---- exact map
 * ------------------------------------------------------------------------------------ */

static int map_grow(struct vmap *m)
{
    size_t slots = m->t ? (m->mask + 1) * 2 : MAP_MIN_SLOTS;
    struct mslot *t = calloc(slots, sizeof(*t));
    if (!t)
        return -ENOMEM;
    for (size_t i = 0; m->t && i <= m->mask; i++) {
        if (!m->t[i].h)
            continue;
        size_t k = m->t[i].h & (slots - 1);
        while (t[k].h)
            k = (k + 1) & (slots - 1);
        t[k] = m->t[i];
    }
    free(m->t);
    m->t = t;
    m->mask = slots - 1;
    return 0;
}

static void map_release(struct vmap *m)
{
    free(m->t);
    free(m->str);
    free(m->arena);
    memset(m, 0, sizeof(*m));
}

/* a before b in top-value order: higher count, then seen first. */
static int slot_before(const struct mslot *a, const struct mslot *b)
{
    return a->count != b->count ? a->count > b->count : a->ent < b->ent;
}

/* ---- one column
 * ------------------------------------------------------------------------------------ */

/* Switch distinct/top counting from the exact map to HLL + frequent values (the m most
 * frequent values so far seed it). */
static int col_go_approx(struct pcol *c)
{
    const struct vmap *mp = &c->map;
    size_t m = clampz(c->budget / 512, 16, 512);
    if (hll_init(&c->hll, hll_bits(c->budget)) != 0 || fi_new(m, &c->ss) != 0)
        return -ENOMEM;
    uint64_t *counts = malloc((mp->n ? mp->n : 1) * sizeof(*counts));
    if (!counts)
        return -ENOMEM;
    size_t n = 0;
    for (size_t i = 0; mp->t && i <= mp->mask; i++) {
        if (mp->t[i].h) {
            hll_add(&c->hll, mp->t[i].h);
            counts[n++] = mp->t[i].count;
        }
    }
    uint64_t thr = n > m ? select_u64(counts, n, n - m) : 0;
    free(counts);
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; mp->t && i <= mp->mask && c->ss->n < m; i++) {
            const struct mslot *e = &mp->t[i];
            if (!e->h || (pass == 0 ? e->count <= thr : e->count != thr))
                continue;
            fi_add(c->ss, e->h, mp->arena + mp->str[2 * e->ent], mp->str[2 * e->ent + 1], e->count,
                   e->ent);
        }
    }
    fi_settle(c->ss); /* the seeds' bytes are in the map's arena */
    map_release(&c->map);
    return 0;
}

static int map_insert(struct pcol *c, uint64_t h, const char *s, size_t len, size_t at)
{
    struct vmap *m = &c->map;
    size_t keep = len < PROFILE_VALUE_BYTES ? len : PROFILE_VALUE_BYTES;
    if (m->n + 1 > c->emax || m->alen + keep > c->amax)
        return 1;
    if (m->alen + keep > m->acap) {
        size_t cap = m->acap ? m->acap * 2 : 1024;
        while (cap < m->alen + keep)
            cap *= 2;
        char *tmp = realloc(m->arena, cap);
        if (!tmp)
            return -ENOMEM;
        m->arena = tmp;
        m->acap = cap;
    }
    if (m->n + 1 > m->scap) {
        size_t cap = m->scap ? m->scap * 2 : 32;
        uint32_t *tmp = realloc(m->str, 2 * cap * sizeof(*tmp));
        if (!tmp)
            return -ENOMEM;
        m->str = tmp;
        m->scap = cap;
    }
    memcpy(m->arena + m->alen, s, keep);
    m->str[2 * m->n] = (uint32_t)m->alen;
    m->str[2 * m->n + 1] = (uint32_t)keep;
    m->t[at] = (struct mslot){h, 1, (uint32_t)m->n};
    m->alen += keep;
    m->n++;
    return 0;
}

static int col_distinct(struct pcol *c, uint64_t h, const char *s, size_t len)
{
    c->order++;
    if (c->ss) {
        hll_add(&c->hll, h);
        fi_add(c->ss, h, s, len, 1, c->order);
        return 0;
    }
    struct vmap *m = &c->map;
    /* the first value always allocates the table (emax >= 32) */
    if ((!m->t || (2 * (m->n + 1) > m->mask + 1 && m->n + 1 <= c->emax)) && map_grow(m) != 0)
        return -ENOMEM;
    size_t i = h & m->mask;
    for (; m->t[i].h; i = (i + 1) & m->mask) {
        if (m->t[i].h == h) {
            m->t[i].count++;
            return 0;
        }
    }
    int rc = map_insert(c, h, s, len, i);
    if (rc <= 0)
        return rc;
    if (col_go_approx(c) != 0)
        return -ENOMEM;
    hll_add(&c->hll, h);
    fi_add(c->ss, h, s, len, 1, c->order);
    return 0;
}

static void col_drop_numbers(struct pcol *c)
{
    free(c->vals);
    c->vals = NULL;
    c->nvals = 0;
    td_free(c->td);
    c->td = NULL;
}

static int col_number(struct pcol *c, double v)
{
    c->nnum++;
    double d = v - c->mean;
    c->mean += d / (double)c->nnum;
    c->m2 += d * (v - c->mean);
    if (c->nnum == 1 || v < c->min)
        c->min = v;
    if (c->nnum == 1 || v > c->max)
        c->max = v;
    if (c->td) {
        td_add(c->td, v);
        return 0;
    }
    if (c->nvals < c->qcap) {
        if (!c->vals && !(c->vals = malloc(c->qcap * sizeof(double))))
            return -ENOMEM;
        c->vals[c->nvals++] = v;
        return 0;
    }
    double delta = (double)clampz(c->budget / 1024, 20, 200);
    if (td_new(delta, &c->td) != 0)
        return -ENOMEM;
    for (size_t i = 0; i < c->nvals; i++)
        td_add(c->td, c->vals[i]);
    td_add(c->td, v);
    free(c->vals);
    c->vals = NULL;
    c->nvals = 0;
    return 0;
}

static int is_bool_token(const char *s, size_t len, int *word)
{
    static const char *const words[] = {"true", "false", "yes", "no", "t", "f", "y", "n"};
    if (len == 1 && (s[0] == '0' || s[0] == '1')) {
        *word = 0;
        return 1;
    }
    if (len > 5)
        return 0;
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        if (strlen(words[i]) == len && strncasecmp(words[i], s, len) == 0) {
            *word = 1;
            return 1;
        }
    }
    return 0;
}

static void col_bool(struct pcol *c, uint64_t h, const char *s, size_t len)
{
    for (int i = 0; i < c->bool_n; i++) /* a spelling already seen: nothing changes */
        if (len == c->bool_len[i] && memcmp(s, c->bool_s[i], len) == 0)
            return;
    int word = 0;
    if (!is_bool_token(s, len, &word)) {
        c->cand &= ~C_BOOL;
        return;
    }
    c->bool_word |= word;
    for (int i = 0; i < c->bool_n; i++)
        if (c->bool_h[i] == h)
            return;
    if (c->bool_n == 2) {
        c->cand &= ~C_BOOL;
        return;
    }
    memcpy(c->bool_s[c->bool_n], s, len); /* len <= 5: a token */
    c->bool_len[c->bool_n] = len;
    c->bool_h[c->bool_n++] = h;
}

/* Continuation bytes (10xxxxxx) among the eight bytes of w. */
static inline size_t utf8_cont(uint64_t w)
{
    uint64_t m = (w & ~(w << 1) & 0x8080808080808080ull) >> 7;
    return (size_t)((m * 0x0101010101010101ull) >> 56);
}

static size_t utf8_chars(const char *s, size_t n)
{
    size_t cont = 0, i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        if (w & 0x8080808080808080ull)
            cont += utf8_cont(w);
    }
    if (i < n) {
        uint64_t w = load_small(s + i, n - i); /* zero bytes are not continuations */
        if (w & 0x8080808080808080ull)
            cont += utf8_cont(w);
    }
    return n - cont;
}

static void col_example(struct pcol *c, const char *s, size_t len)
{
    size_t keep = len < PROFILE_VALUE_BYTES ? len : PROFILE_VALUE_BYTES;
    while (keep < len && keep > 0 && ((unsigned char)s[keep] & 0xC0) == 0x80)
        keep--; /* cut on a character boundary */
    for (int i = 0; i < c->nex; i++)
        if (c->ex_len[i] == keep && memcmp(c->ex[i], s, keep) == 0)
            return;
    char *e = malloc(keep + 1);
    if (!e)
        return; /* examples are best effort */
    memcpy(e, s, keep);
    e[keep] = '\0';
    c->ex[c->nex] = e;
    c->ex_len[c->nex++] = (uint32_t)keep;
}

/* ---- PII value patterns -----------------------------------------------------------------------
 */

static int is_alnum_c(unsigned char ch)
{
    return (ch >= '0' && ch <= '9') || ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'z');
}

static int looks_email(const char *s, size_t n)
{
    const char *at = memchr(s, '@', n);
    if (!at || at == s || at == s + n - 1 || n > 254)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch <= ' ' || (ch == '@' && s + i != at))
            return 0;
    }
    const char *dom = at + 1;
    size_t dn = (size_t)(s + n - dom);
    const char *dot = memrchr(dom, '.', dn);
    if (!dot || dot == dom || (size_t)(s + n - dot - 1) < 2)
        return 0;
    for (const char *q = dot + 1; q < s + n; q++)
        if (!((*q | 0x20) >= 'a' && (*q | 0x20) <= 'z'))
            return 0;
    return 1;
}

static int looks_phone(const char *s, size_t n)
{
    size_t digits = 0, seps = 0;
    if (n < 8 || n > 24)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch >= '0' && ch <= '9')
            digits++;
        else if (ch == ' ' || ch == '-' || ch == '.' || ch == '(' || ch == ')')
            seps++;
        else if (!(ch == '+' && i == 0))
            return 0;
    }
    if (digits < 8 || digits > 15)
        return 0;
    return s[0] == '+' || seps > 0 || (s[0] == '0' && digits == 10);
}

static int luhn_ok(const char *s, size_t n)
{
    size_t digits = 0;
    int sum = 0, dbl = 0;
    for (size_t i = n; i-- > 0;) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == ' ' || ch == '-')
            continue;
        if (ch < '0' || ch > '9')
            return 0;
        int d = ch - '0';
        if (dbl && (d *= 2) > 9)
            d -= 9;
        sum += d;
        dbl = !dbl;
        digits++;
    }
    return digits >= 13 && digits <= 19 && sum % 10 == 0;
}

static int iban_ok(const char *s, size_t n)
{
    char b[40];
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == ' ')
            continue;
        if (k >= sizeof(b) || !is_alnum_c((unsigned char)s[i]))
            return 0;
        b[k++] = s[i];
    }
    if (k < 15 || k > 34 || !((b[0] | 0x20) >= 'a' && (b[0] | 0x20) <= 'z') ||
        !((b[1] | 0x20) >= 'a' && (b[1] | 0x20) <= 'z') || b[2] < '0' || b[2] > '9' || b[3] < '0' ||
        b[3] > '9')
        return 0;
    unsigned rem = 0;
    for (size_t i = 0; i < k; i++) {
        char ch = b[(i + 4) % k];
        unsigned v =
            ch >= '0' && ch <= '9' ? (unsigned)(ch - '0') : (unsigned)((ch | 0x20) - 'a' + 10);
        rem = v >= 10 ? (rem * 100 + v) % 97 : (rem * 10 + v) % 97;
    }
    return rem == 1;
}

static void col_pii(struct pcol *c, const char *s, size_t len)
{
    c->pii_seen++;
    if (memchr(s, '@', len)) {
        c->pii_email += looks_email(s, len);
        return;
    }
    if (len >= 15 && iban_ok(s, len)) {
        c->pii_iban++;
        return;
    }
    if (len >= 13 && luhn_ok(s, len)) {
        c->pii_card++;
        return;
    }
    c->pii_phone += looks_phone(s, len);
}

/* ---- correlations
 * -------------------------------------------------------------------------------- */

static void corr_update(struct corr *c)
{
    size_t k = c->k;
    int complete = 1;
    for (size_t a = 0; a < k; a++)
        complete &= !isnan(c->x[a]);
    if (complete) {
        c->nfull++;
        for (size_t a = 0; a < k; a++) {
            double xa = c->x[a];
            c->sum[a] += xa;
            for (size_t b = a; b < k; b++)
                c->q[a * k + b] += xa * c->x[b];
        }
        return;
    }
    for (size_t a = 0; a < k; a++) {
        double xa = c->x[a];
        if (isnan(xa))
            continue;
        for (size_t b = a + 1; b < k; b++) {
            double xb = c->x[b];
            if (isnan(xb))
                continue;
            c->np[a * k + b] += 1;
            c->sx[a * k + b] += xa, c->sx[b * k + a] += xb;
            c->sxx[a * k + b] += xa * xa, c->sxx[b * k + a] += xb * xb;
            c->sxy[a * k + b] += xa * xb;
        }
    }
}

/* q[a][b..b+3] += xa * xb over the complete rows, for four columns b at once (four
 * independent sums; each still gets its terms in row order). */
static void corr_q4(struct corr *c, const double *x, size_t rows, const unsigned char *full,
                    size_t a, size_t b)
{
    size_t k = c->k;
    const double *xa = x + a * rows, *x0 = x + b * rows, *x1 = x0 + rows, *x2 = x1 + rows,
                 *x3 = x2 + rows;
    double *q = c->q + a * k + b;
    double q0 = q[0], q1 = q[1], q2 = q[2], q3 = q[3];
    for (size_t r = 0; r < rows; r++) {
        if (!full[r])
            continue;
        double v = xa[r];
        q0 += v * x0[r];
        q1 += v * x1[r];
        q2 += v * x2[r];
        q3 += v * x3[r];
    }
    q[0] = q0, q[1] = q1, q[2] = q2, q[3] = q3;
}

/* Pairwise sums of columns a < b over the incomplete rows (part[0..np)) where both are
 * present. */
static void corr_pair(struct corr *c, const double *x, size_t rows, const uint32_t *part,
                      size_t npart, size_t a, size_t b)
{
    size_t k = c->k;
    const double *xa = x + a * rows, *xb = x + b * rows;
    double np = c->np[a * k + b], sa = c->sx[a * k + b], sb = c->sx[b * k + a];
    double saa = c->sxx[a * k + b], sbb = c->sxx[b * k + a], sab = c->sxy[a * k + b];
    for (size_t i = 0; i < npart; i++) {
        double va = xa[part[i]], vb = xb[part[i]];
        if (isnan(va) || isnan(vb))
            continue;
        np += 1;
        sa += va, sb += vb;
        saa += va * va, sbb += vb * vb;
        sab += va * vb;
    }
    c->np[a * k + b] = np, c->sx[a * k + b] = sa, c->sx[b * k + a] = sb;
    c->sxx[a * k + b] = saa, c->sxx[b * k + a] = sbb, c->sxy[a * k + b] = sab;
}

/* corr_update for every row of a batch (x[a * rows + r]: column a's value in row r, NAN when
 * missing), sum by sum: each sum gets the same terms in the same row order, so the same
 * result. full: rows bytes of scratch, part: rows indexes of scratch. */
static void corr_rows(struct corr *c, const double *x, size_t rows, unsigned char *full,
                      uint32_t *part)
{
    size_t k = c->k, nfull = 0, npart = 0;
    memset(full, 1, rows);
    for (size_t a = 0; a < k; a++)
        for (size_t r = 0; r < rows; r++)
            full[r] &= !isnan(x[a * rows + r]);
    for (size_t r = 0; r < rows; r++) {
        nfull += full[r];
        if (!full[r])
            part[npart++] = (uint32_t)r;
    }
    c->nfull += nfull;
    for (size_t a = 0; a < k; a++) {
        const double *xa = x + a * rows;
        double sum = c->sum[a];
        for (size_t r = 0; r < rows; r++)
            if (full[r])
                sum += xa[r];
        c->sum[a] = sum;
        size_t b = a;
        for (; b + 4 <= k; b += 4)
            corr_q4(c, x, rows, full, a, b);
        for (; b < k; b++) {
            const double *xb = x + b * rows;
            double q = c->q[a * k + b];
            for (size_t r = 0; r < rows; r++)
                if (full[r])
                    q += xa[r] * xb[r];
            c->q[a * k + b] = q;
        }
    }
    for (size_t a = 0; npart > 0 && a < k; a++)
        for (size_t b = a + 1; b < k; b++)
            corr_pair(c, x, rows, part, npart, a, b);
}

static int corr_alloc(struct corr *c)
{
    size_t kk = c->k ? c->k * c->k : 1;
    c->q = calloc(kk, sizeof(double));
    c->np = calloc(kk, sizeof(double));
    c->sx = calloc(kk, sizeof(double));
    c->sxx = calloc(kk, sizeof(double));
    c->sxy = calloc(kk, sizeof(double));
    return c->q && c->np && c->sx && c->sxx && c->sxy ? 0 : -ENOMEM;
}

/* Pick the correlation columns from what the first rows showed and replay them. */
static int corr_choose(struct profile *p)
{
    struct corr *c = &p->c;
    size_t nscan = p->rows < PROFILE_CORR_SCAN_ROWS ? (size_t)p->rows : PROFILE_CORR_SCAN_ROWS;
    c->chosen = 1;
    for (size_t i = 0; i < c->scan_w && i < p->ncols && c->k < PROFILE_CORR_COLS; i++) {
        const struct pcol *pc = &p->cols[i];
        if (!(pc->cand & C_NUM) || pc->nnum == 0)
            continue;
        c->col[c->k] = i;
        c->shift[c->k] = NAN;
        for (size_t r = 0; r < nscan && isnan(c->shift[c->k]); r++)
            c->shift[c->k] = c->scan[r * c->scan_w + i];
        p->cols[i].corr_slot = (int)c->k;
        c->k++;
    }
    if (corr_alloc(c) != 0)
        return -ENOMEM;
    for (size_t r = 0; r < nscan; r++) {
        for (size_t a = 0; a < c->k; a++)
            c->x[a] = c->scan[r * c->scan_w + c->col[a]] - c->shift[a];
        corr_update(c);
    }
    free(c->scan);
    c->scan = NULL;
    return 0;
}

static void corr_release(struct corr *c)
{
    free(c->q), free(c->np), free(c->sx), free(c->sxx), free(c->sxy), free(c->scan);
}

/* ---- rows
 * ---------------------------------------------------------------------------------------- */

/* The numeric view of a value (a number or seconds) or NAN; narrows the candidates. */
static double col_kinds(struct pcol *c, const char *s, size_t len)
{
    double v = NAN;
    if (c->cand & C_NUM) {
        int is_int = 0;
        if (plain_number(s, len, &v, &is_int) == 0 ||
            profile_parse_number(s, len, &v, &is_int) == 0) {
            if (!is_int)
                c->cand &= ~C_INT;
            c->cand &= ~C_DATE;
            return v;
        }
        c->cand &= ~(C_NUM | C_INT);
    }
    if (c->cand & C_DATE) {
        if (plain_time(s, len, &v) == 0 || profile_parse_time(s, len, &v) == 0)
            return v;
        c->cand &= ~C_DATE;
    }
    return NAN;
}

/* One non-missing value of column c; *num is its numeric view (a number or seconds) or NAN. */
static int col_value(struct pcol *c, const char *s, size_t len, double *num)
{
    *num = NAN;
    c->count++;
    uint64_t h = hash_bytes(s, len);
    if (col_distinct(c, h, s, len) != 0)
        return -ENOMEM;
    size_t chars = utf8_chars(s, len);
    if (c->count == 1 || chars < c->len_min)
        c->len_min = chars;
    if (chars > c->len_max)
        c->len_max = chars;
    c->len_sum += (double)chars;
    if (c->nex < PROFILE_EXAMPLES)
        col_example(c, s, len);
    if (c->pii_seen < PROFILE_PII_SAMPLE)
        col_pii(c, s, len);
    if (c->cand & C_BOOL)
        col_bool(c, h, s, len);
    if (!(c->cand & (C_NUM | C_DATE)))
        return 0;
    double v = col_kinds(c, s, len);
    if (isnan(v)) {
        col_drop_numbers(c);
        return 0;
    }
    if (col_number(c, v) != 0)
        return -ENOMEM;
    *num = v;
    return 0;
}

/* Column i over the rows of batch b: its own state, its scan column or its bx slot. */
static int col_batch(struct profile *p, size_t i, const struct pbatch *b)
{
    struct pcol *c = &p->cols[i];
    const struct corr *k = &p->c;
    double *scan =
        !k->chosen && i < k->scan_w && k->scan ? k->scan + b->row0 * k->scan_w + i : NULL;
    double *x = k->chosen && c->corr_slot >= 0 ? b->bx + (size_t)c->corr_slot * b->rows : NULL;
    double shift = x ? k->shift[c->corr_slot] : 0;
    for (size_t r = 0; r < b->rows; r++) {
        const struct colf_cell *cell = &b->cells[r * b->n + i];
        double v;
        if (!cell->s)
            continue;
        if (col_value(c, cell->s, cell->len, &v) != 0)
            return -ENOMEM;
        if (isnan(v))
            continue;
        if (scan)
            scan[r * k->scan_w] = v;
        else if (x)
            x[r] = v - shift;
    }
    if (c->ss)
        fi_settle(c->ss); /* before the batch's bytes go */
    return 0;
}

/* Before the columns of a batch: NAN rows in the correlation scan or in bx. */
static int batch_pre(struct profile *p, struct pbatch *b)
{
    struct corr *c = &p->c;
    b->bx = NULL;
    if (!c->chosen) {
        if (!c->scan) {
            c->scan_w = p->ncols < PROFILE_CORR_SCAN_COLS ? p->ncols : PROFILE_CORR_SCAN_COLS;
            if (p->hint == 0)
                c->scan_w = PROFILE_CORR_SCAN_COLS;
            c->scan = malloc(sizeof(double) * PROFILE_CORR_SCAN_ROWS * (c->scan_w ? c->scan_w : 1));
            if (!c->scan)
                return -ENOMEM;
        }
        double *row = c->scan + (size_t)b->row0 * c->scan_w;
        for (size_t i = 0; i < b->rows * c->scan_w; i++)
            row[i] = NAN;
        return 0;
    }
    size_t need = c->k * b->rows, w = (size_t)p->bxnext;
    if (need > p->bxcap[w]) {
        double *tmp = realloc(p->bxbuf[w], need * sizeof(double));
        if (!tmp)
            return -ENOMEM;
        p->bxbuf[w] = tmp;
        p->bxcap[w] = need;
    }
    for (size_t i = 0; i < need; i++)
        p->bxbuf[w][i] = NAN;
    b->bx = p->bxbuf[w];
    p->bxnext ^= 1; /* the next batch fills the other one while these sums may be pending */
    return 0;
}

/* Add the pending batch's correlation sums, if any. */
static int corr_flush(struct profile *p)
{
    struct pbatch *b = &p->pend;
    if (!b->bx)
        return 0;
    if (b->rows > p->full_cap) {
        unsigned char *tmp = realloc(p->full, b->rows);
        if (!tmp)
            return -ENOMEM;
        p->full = tmp;
        uint32_t *t2 = realloc(p->part, b->rows * sizeof(*t2));
        if (!t2)
            return -ENOMEM;
        p->part = t2;
        p->full_cap = b->rows;
    }
    corr_rows(&p->c, b->bx, b->rows, p->full, p->part);
    b->bx = NULL;
    return 0;
}

/* After the columns of a batch: its correlation sums become pending (added as a task of the
 * next batch, or by corr_flush; always after the previous batch's), the row count, and the
 * choice of correlation columns once PROFILE_CORR_SCAN_ROWS rows are in. */
static int batch_post(struct profile *p, const struct pbatch *b)
{
    struct corr *c = &p->c;
    if (c->chosen && c->k) {
        if (corr_flush(p) != 0)
            return -ENOMEM;
        p->pend = *b;
    }
    p->rows += b->rows;
    if (!c->chosen && p->rows == PROFILE_CORR_SCAN_ROWS)
        return corr_choose(p);
    return 0;
}

/* Task t of the batch in progress: its share of the columns, or the pending correlation
 * sums. */
static int run_task(struct profile *p, size_t t)
{
    const struct pbatch *b = &p->job;
    size_t nt = p->pool.ncoltasks;
    if (t == nt)
        return corr_flush(p);
    size_t lo = t * b->n / nt, hi = (t + 1) * b->n / nt;
    for (size_t i = lo; i < hi; i++)
        if (col_batch(p, i, b) != 0)
            return -ENOMEM;
    return 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Take tasks of the batch in progress until none is left (mu held on entry and exit). */
static void take_tasks(struct profile *p)
{
    struct ppool *pl = &p->pool;
    while (pl->active && !pl->quit && pl->next < pl->ntasks) {
        size_t t = pl->order[pl->next++];
        int timed = pl->timed;
        pl->running++;
        pthread_mutex_unlock(&pl->mu);
        double t0 = timed ? now_s() : 0;
        int rc = run_task(p, t);
        double took = timed ? now_s() - t0 : 0;
        pthread_mutex_lock(&pl->mu);
        pl->cost[t] = took;
        if (rc != 0 && pl->err == 0)
            pl->err = rc;
        if (--pl->running == 0 && pl->next >= pl->ntasks)
            pthread_cond_broadcast(&pl->idle);
    }
}

static void *pool_worker(void *arg)
{
    struct profile *p = arg;
    struct ppool *pl = &p->pool;
    pthread_mutex_lock(&pl->mu);
    for (;;) {
        while (!pl->quit && !(pl->active && pl->next < pl->ntasks))
            pthread_cond_wait(&pl->wake, &pl->mu);
        if (pl->quit)
            break;
        take_tasks(p);
    }
    pthread_mutex_unlock(&pl->mu);
    return NULL;
}

/* Start the helper threads: threads - 1 of them, at most one per other column of the first
 * batch (n); fewer, or none, when they cannot start. */
static void pool_start(struct profile *p, size_t n)
{
    struct ppool *pl = &p->pool;
    if (pl->started)
        return;
    pl->started = 1;
    if (pthread_mutex_init(&pl->mu, NULL) != 0)
        goto none;
    if (pthread_cond_init(&pl->wake, NULL) != 0)
        goto no_wake;
    if (pthread_cond_init(&pl->idle, NULL) != 0)
        goto no_idle;
    if (p->threads > n)
        p->threads = n;
    pl->tid = calloc(p->threads - 1, sizeof(*pl->tid));
    for (size_t i = 0; pl->tid && i + 1 < p->threads; i++) {
        if (pthread_create(&pl->tid[i], NULL, pool_worker, p) != 0)
            break;
        pl->nworkers++;
    }
    if (pl->nworkers > 0)
        return;
    free(pl->tid);
    pl->tid = NULL;
    pthread_cond_destroy(&pl->idle);
no_idle:
    pthread_cond_destroy(&pl->wake);
no_wake:
    pthread_mutex_destroy(&pl->mu);
none:
    p->threads = 1;
}

static void pool_stop(struct profile *p)
{
    struct ppool *pl = &p->pool;
    if (pl->nworkers == 0)
        return;
    pthread_mutex_lock(&pl->mu);
    pl->quit = 1;
    pthread_cond_broadcast(&pl->wake);
    pthread_mutex_unlock(&pl->mu);
    for (size_t i = 0; i < pl->nworkers; i++)
        pthread_join(pl->tid[i], NULL);
    free(pl->tid);
    pl->tid = NULL;
    pl->nworkers = 0;
    pthread_cond_destroy(&pl->idle);
    pthread_cond_destroy(&pl->wake);
    pthread_mutex_destroy(&pl->mu);
}

/* Finish the batch in progress, if any: take its remaining tasks, wait for the running ones,
 * then its serial part. 0 or the sticky error. */
static int batch_complete(struct profile *p)
{
    struct ppool *pl = &p->pool;
    if (p->err || !pl->active || pl->nworkers == 0)
        return p->err;
    pthread_mutex_lock(&pl->mu);
    take_tasks(p);
    while (pl->running > 0)
        pthread_cond_wait(&pl->idle, &pl->mu);
    pl->active = 0;
    int rc = pl->err;
    pthread_mutex_unlock(&pl->mu);
    if (rc == 0)
        rc = batch_post(p, &p->job);
    p->err = rc;
    return rc;
}

/* Hand p->job to the helpers: one task per column (or column range), then the pending
 * correlation sums; single-column tasks go out costliest first (by their last run), so a
 * batch ends on short ones. */
static void batch_start(struct profile *p)
{
    struct ppool *pl = &p->pool;
    size_t n = p->job.n, nt = n < PROFILE_TASKS_MAX ? n : PROFILE_TASKS_MAX;
    pthread_mutex_lock(&pl->mu);
    if (nt != pl->ncoltasks) {
        for (size_t t = 0; t <= nt; t++)
            pl->cost[t] = 0;
        pl->ncoltasks = nt;
    }
    pl->timed = nt == n;
    pl->ntasks = nt + (p->pend.bx != NULL);
    for (size_t t = 0; t < pl->ntasks; t++)
        pl->order[t] = (uint32_t)t;
    for (size_t t = 1; pl->timed && t < pl->ntasks; t++) { /* insertion sort, costliest first */
        uint32_t v = pl->order[t];
        size_t j = t;
        while (j > 0 && pl->cost[pl->order[j - 1]] < pl->cost[v]) {
            pl->order[j] = pl->order[j - 1];
            j--;
        }
        pl->order[j] = v;
    }
    pl->next = 0;
    pl->running = 0;
    pl->err = 0;
    pl->active = 1;
    pthread_cond_broadcast(&pl->wake);
    pthread_mutex_unlock(&pl->mu);
}

/* Profile rows [0, rows) of cells (n per row), in the background when async and there are
 * helpers (completed by the next batch_complete), otherwise now. */
static int batch_run(struct profile *p, const struct colf_cell *cells, size_t rows, size_t n,
                     int async)
{
    struct pbatch b = {cells, rows, n, p->rows, NULL};
    int rc = batch_pre(p, &b);
    if (rc != 0)
        return p->err = rc;
    if (async && p->threads > 1 && n > 1 && rows * n >= PROFILE_ASYNC_CELLS) {
        pool_start(p, n);
        if (p->pool.nworkers > 0) {
            p->job = b;
            batch_start(p);
            return 0;
        }
    }
    if (corr_flush(p) != 0)
        return p->err = -ENOMEM;
    for (size_t i = 0; i < n; i++)
        if (col_batch(p, i, &b) != 0)
            return p->err = -ENOMEM;
    return p->err = batch_post(p, &b);
}

static int batch_check(const struct profile *p, const struct colf_cell *cells, size_t rows,
                       size_t n)
{
    if (!p || (!cells && rows && n) || n > p->ncols || p->finished)
        return -EINVAL;
    return 0;
}

int profile_batch(struct profile *p, const struct colf_cell *cells, size_t rows, size_t n)
{
    if (batch_check(p, cells, rows, n) != 0)
        return -EINVAL;
    if (batch_complete(p) != 0)
        return p->err;
    if (rows == 0)
        return 0;
    if (!p->c.chosen && p->rows + rows > PROFILE_CORR_SCAN_ROWS) {
        size_t first = (size_t)(PROFILE_CORR_SCAN_ROWS - p->rows);
        if (batch_run(p, cells, first, n, 0) != 0)
            return p->err;
        cells += first * n;
        rows -= first;
    }
    return batch_run(p, cells, rows, n, 1);
}

int profile_row(struct profile *p, const struct colf_cell *cells, size_t n)
{
    if (batch_check(p, cells, 1, n) != 0)
        return -EINVAL;
    if (batch_complete(p) != 0)
        return p->err;
    return batch_run(p, cells, 1, n, 0);
}

int profile_wait(struct profile *p)
{
    if (!p)
        return -EINVAL;
    if (batch_complete(p) != 0)
        return p->err;
    return p->err = corr_flush(p);
}

int profile_set_threads(struct profile *p, size_t threads)
{
    if (!p || p->rows > 0 || p->pool.started)
        return -EINVAL;
    if (threads == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        threads = n > 0 ? (size_t)n : 1;
    }
    p->threads = threads < PROFILE_THREADS_MAX ? threads : PROFILE_THREADS_MAX;
    return 0;
}

/* ---- lifecycle
 * ------------------------------------------------------------------------------------ */

int profile_new(size_t ncols_hint, size_t max_cols, struct profile **out)
{
    if (!out)
        return -EINVAL;
    struct profile *p = calloc(1, sizeof(*p));
    if (!p)
        return -ENOMEM;
    p->hint = ncols_hint;
    p->max_cols = max_cols ? max_cols : 20000;
    p->threads = 1;
    *out = p;
    return 0;
}

int profile_add_columns(struct profile *p, const char *const *names, size_t n)
{
    if (!p || (!names && n) || p->finished)
        return -EINVAL;
    if (batch_complete(p) != 0) /* the columns may move */
        return p->err;
    if (p->ncols + n > p->max_cols)
        return -E2BIG;
    if (p->ncols + n > p->cap) {
        size_t cap = p->cap ? p->cap : 16;
        while (cap < p->ncols + n)
            cap *= 2;
        struct pcol *tmp = realloc(p->cols, cap * sizeof(*tmp));
        if (!tmp)
            return -ENOMEM;
        p->cols = tmp;
        p->cap = cap;
    }
    for (size_t k = 0; k < n; k++) {
        struct pcol *c = &p->cols[p->ncols];
        memset(c, 0, sizeof(*c));
        c->name = strdup(names[k] ? names[k] : "");
        if (!c->name)
            return -ENOMEM;
        c->cand = C_NUM | C_INT | C_DATE | C_BOOL;
        c->corr_slot = -1;
        c->budget = col_budget(p, p->ncols);
        c->qcap = clampz(c->budget / 32, 64, 65536);
        c->emax = clampz(c->budget / 256, 32, 65536);
        c->amax = c->budget / 4;
        p->ncols++;
    }
    return 0;
}

static int decide_type(const struct pcol *c)
{
    if (c->count == 0)
        return T_TEXT;
    if ((c->cand & C_BOOL) && (c->bool_word || c->bool_n == 2))
        return T_BOOL;
    if (c->cand & C_INT)
        return T_INT;
    if (c->cand & C_NUM)
        return T_FLOAT;
    if (c->cand & C_DATE)
        return T_TEMPORAL;
    double distinct = c->ss ? hll_estimate(&c->hll) : (double)c->map.n;
    if (distinct < PROFILE_CAT_MAX_DISTINCT && distinct < PROFILE_CAT_MAX_RATIO * (double)c->count)
        return T_CAT;
    return T_TEXT;
}

int profile_finish(struct profile *p)
{
    if (!p)
        return -EINVAL;
    if (p->finished)
        return 0;
    int rc = batch_complete(p);
    pool_stop(p);
    if (rc == 0)
        rc = p->err = corr_flush(p);
    if (rc != 0)
        return rc;
    if (!p->c.chosen && corr_choose(p) != 0)
        return -ENOMEM;
    for (size_t i = 0; i < p->ncols; i++) {
        struct pcol *c = &p->cols[i];
        c->type = decide_type(c);
        if (c->td)
            td_flush(c->td);
        else if (c->vals)
            sort_values(c->vals, c->nvals);
    }
    p->finished = 1;
    return 0;
}

void profile_free(struct profile *p)
{
    if (!p)
        return;
    pool_stop(p); /* running tasks finish first */
    free(p->bxbuf[0]);
    free(p->bxbuf[1]);
    free(p->full);
    free(p->part);
    for (size_t i = 0; i < p->ncols; i++) {
        struct pcol *c = &p->cols[i];
        free(c->name);
        col_drop_numbers(c);
        map_release(&c->map);
        free(c->hll.reg);
        fi_free(c->ss);
        for (int k = 0; k < c->nex; k++)
            free(c->ex[k]);
    }
    free(p->cols);
    corr_release(&p->c);
    free(p);
}

uint64_t profile_rows(const struct profile *p)
{
    return p ? p->rows : 0;
}

size_t profile_columns(const struct profile *p)
{
    return p ? p->ncols : 0;
}

const char *profile_name(const struct profile *p, size_t i)
{
    return p && i < p->ncols ? p->cols[i].name : NULL;
}

const char *profile_type(const struct profile *p, size_t i)
{
    return p && p->finished && i < p->ncols ? type_names[p->cols[i].type] : NULL;
}

uint64_t profile_missing(const struct profile *p, size_t i)
{
    return p && i < p->ncols ? p->rows - p->cols[i].count : 0;
}

uint64_t profile_distinct(const struct profile *p, size_t i)
{
    if (!p || i >= p->ncols)
        return 0;
    const struct pcol *c = &p->cols[i];
    return c->ss ? (uint64_t)llround(hll_estimate(&c->hll)) : c->map.n;
}

/* ---- JSON
 * ---------------------------------------------------------------------------------------- */

static int jset(json_t *o, const char *k, json_t *v)
{
    return v ? json_object_set_new(o, k, v) : -1;
}

static json_t *jreal(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static json_t *jtime(double t)
{
    char b[48];
    if (!isfinite(t))
        return json_null();
    profile_format_time(t, b, sizeof(b));
    return json_string(b);
}

static json_t *jnum(const struct pcol *c, double v)
{
    if (c->type == T_TEMPORAL)
        return jtime(v);
    if (c->type == T_INT && v == floor(v) && fabs(v) < 9e15)
        return json_integer((json_int_t)v);
    return jreal(v);
}

static double col_quantile(const struct pcol *c, double q)
{
    if (c->td)
        return td_quantile(c->td, q, c->min, c->max);
    if (c->nvals == 0)
        return NAN;
    double pos = q * (double)(c->nvals - 1);
    size_t lo = (size_t)pos;
    if (lo + 1 >= c->nvals)
        return c->vals[c->nvals - 1];
    return c->vals[lo] + (c->vals[lo + 1] - c->vals[lo]) * (pos - (double)lo);
}

static json_t *quantiles_json(const struct pcol *c)
{
    static const struct {
        const char *k;
        double q;
    } qs[] = {{"p1", .01},  {"p5", .05},  {"p25", .25}, {"p50", .5},
              {"p75", .75}, {"p95", .95}, {"p99", .99}};
    json_t *o = json_object();
    for (size_t i = 0; o && i < sizeof(qs) / sizeof(qs[0]); i++) {
        if (jset(o, qs[i].k,
                 c->type == T_TEMPORAL ? jtime(col_quantile(c, qs[i].q))
                                       : jreal(col_quantile(c, qs[i].q))) != 0) {
            json_decref(o);
            return NULL;
        }
    }
    return o;
}

/* numpy.histogram's equal bins: edges lo + k * step (the last one hi), and a value's bin
 * corrected against those edges (the last bin includes hi). */
static void hist_edges(double lo, double hi, size_t nb, double *e)
{
    double step = (hi - lo) / (double)nb;
    for (size_t k = 0; k < nb; k++)
        e[k] = (double)k * step + lo;
    e[nb] = hi;
}

static size_t hist_bin(double v, const double *e, size_t nb)
{
    double span = e[nb] - e[0];
    if (span <= 0)
        return 0;
    double f = (v - e[0]) * ((double)nb / span);
    size_t b = f <= 0 ? 0 : f >= (double)nb ? nb - 1 : (size_t)f;
    if (b > 0 && v < e[b])
        b--;
    if (b + 1 < nb && v >= e[b + 1])
        b++;
    return b;
}

static json_t *histogram_json(const struct pcol *c)
{
    size_t nb = c->max > c->min ? PROFILE_HIST_BINS : 1;
    uint64_t counts[PROFILE_HIST_BINS] = {0};
    double e[PROFILE_HIST_BINS + 1];
    hist_edges(c->min, c->max, nb, e);
    if (c->td) {
        double prev = 0;
        for (size_t k = 0; k < nb; k++) {
            double cum = k + 1 == nb
                             ? c->td->total
                             : round(c->td->total * td_cdf(c->td, e[k + 1], c->min, c->max));
            counts[k] = cum > prev ? (uint64_t)(cum - prev) : 0;
            prev = cum > prev ? cum : prev;
        }
    } else {
        for (size_t i = 0; i < c->nvals; i++)
            counts[hist_bin(c->vals[i], e, nb)]++;
    }
    json_t *edges = json_array(), *cnt = json_array(), *o = json_object();
    int rc = !edges || !cnt || !o;
    for (size_t k = 0; !rc && k <= nb; k++)
        rc |= json_array_append_new(edges, jreal(e[k]));
    for (size_t k = 0; !rc && k < nb; k++)
        rc |= json_array_append_new(cnt, json_integer((json_int_t)counts[k]));
    if (!rc) {
        rc = jset(o, "edges", edges) | jset(o, "counts", cnt) |
             jset(o, "exact", json_boolean(c->td == NULL));
        edges = cnt = NULL;
    }
    json_decref(edges);
    json_decref(cnt);
    if (rc) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static int numeric_stats(const struct pcol *c, json_t *st)
{
    int temporal = c->type == T_TEMPORAL;
    double sd = c->nnum > 1 ? sqrt(c->m2 / (double)(c->nnum - 1)) : NAN;
    int rc = jset(st, "min", jnum(c, c->min)) | jset(st, "max", jnum(c, c->max)) |
             jset(st, "mean", temporal ? jtime(c->mean) : jreal(c->mean)) |
             jset(st, temporal ? "std_seconds" : "std", jreal(sd)) |
             jset(st, "quantiles", quantiles_json(c)) |
             jset(st, "quantiles_exact", json_boolean(c->td == NULL));
    if (!temporal)
        rc |= jset(st, "histogram", histogram_json(c));
    return rc;
}

/* len without a character cut short at the end: stored values keep their first
 * PROFILE_VALUE_BYTES bytes, which may end inside a multi-byte character. */
static size_t utf8_whole(const char *s, size_t len)
{
    size_t i = len;
    while (i > 0 && len - i < 4 && ((unsigned char)s[i - 1] & 0xC0) == 0x80)
        i--;
    if (i == 0 || ((unsigned char)s[i - 1] & 0x80) == 0)
        return len; /* ASCII last, or no lead byte in reach */
    unsigned lead = (unsigned char)s[i - 1];
    size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;
    return len - (i - 1) >= need ? len : i - 1;
}

static json_t *top_entry(const char *s, size_t len, uint64_t count, const uint64_t *err)
{
    len = utf8_whole(s, len);
    json_t *o = json_object();
    if (!o || jset(o, "value", json_stringn(s, len)) != 0 ||
        jset(o, "count", json_integer((json_int_t)count)) != 0 ||
        (err && jset(o, "error", json_integer((json_int_t)*err)) != 0)) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static int cmp_fient_desc(const void *a, const void *b)
{
    const struct fient *x = a, *y = b;
    if (x->count != y->count)
        return x->count < y->count ? 1 : -1;
    return x->order < y->order ? -1 : x->order > y->order;
}

/* Values whose guaranteed count (a lower bound) is at least the error bound. */
static json_t *top_approx(const struct pcol *c)
{
    const struct freq *f = c->ss;
    struct fient *all = malloc((f->n ? f->n : 1) * sizeof(*all));
    json_t *arr = json_array();
    if (!all || !arr)
        goto fail;
    memcpy(all, f->e, f->n * sizeof(*all));
    qsort(all, f->n, sizeof(*all), cmp_fient_desc);
    for (size_t i = 0; i < f->n && json_array_size(arr) < PROFILE_TOP_K; i++) {
        if (all[i].count < f->offset || all[i].count == 0)
            break;
        if (json_array_append_new(
                arr, top_entry(f->text[all[i].sidx], all[i].slen, all[i].count, &f->offset)) != 0)
            goto fail;
    }
    free(all);
    return arr;
fail:
    free(all);
    json_decref(arr);
    return NULL;
}

static json_t *top_exact(const struct pcol *c)
{
    const struct vmap *mp = &c->map;
    struct mslot best[PROFILE_TOP_K];
    size_t nb = 0;
    for (size_t i = 0; mp->t && i <= mp->mask; i++) {
        const struct mslot *e = &mp->t[i];
        if (!e->h || (nb == PROFILE_TOP_K && !slot_before(e, &best[nb - 1])))
            continue;
        size_t k = nb < PROFILE_TOP_K ? nb++ : nb - 1;
        while (k > 0 && slot_before(e, &best[k - 1])) {
            best[k] = best[k - 1];
            k--;
        }
        best[k] = *e;
    }
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < nb; i++) {
        const uint32_t *st = &mp->str[2 * best[i].ent];
        if (json_array_append_new(arr, top_entry(mp->arena + st[0], st[1], best[i].count, NULL)) !=
            0) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

static int value_stats(const struct pcol *c, json_t *st)
{
    int exact = c->ss == NULL;
    int rc = jset(st, "distinct",
                  json_integer(
                      (json_int_t)(exact ? c->map.n : (uint64_t)llround(hll_estimate(&c->hll))))) |
             jset(st, "distinct_exact", json_boolean(exact));
    if (!exact)
        rc |= jset(st, "distinct_error", json_real(1.04 / sqrt((double)((size_t)1 << c->hll.p))));
    rc |= jset(st, "top_values", exact ? top_exact(c) : top_approx(c)) |
          jset(st, "top_values_exact", json_boolean(exact));
    if (!exact)
        rc |= jset(st, "top_values_max_error", json_integer((json_int_t)c->ss->offset));
    if (c->count > 0) {
        json_t *len = json_object();
        rc |= jset(st, "length", len);
        if (len)
            rc |= jset(len, "min", json_integer((json_int_t)c->len_min)) |
                  jset(len, "max", json_integer((json_int_t)c->len_max)) |
                  jset(len, "mean", json_real(c->len_sum / (double)c->count));
    }
    return rc;
}

static json_t *stats_json(const struct profile *p, const struct pcol *c)
{
    json_t *st = json_object();
    if (!st)
        return NULL;
    uint64_t miss = p->rows - c->count;
    int rc = jset(st, "count", json_integer((json_int_t)c->count)) |
             jset(st, "nulls", json_integer((json_int_t)miss)) |
             jset(st, "missing_percentage",
                  json_real(p->rows ? 100.0 * (double)miss / (double)p->rows : 0));
    rc |= value_stats(c, st);
    if ((c->type == T_INT || c->type == T_FLOAT || c->type == T_TEMPORAL) && c->nnum > 0)
        rc |= numeric_stats(c, st);
    if (rc != 0) {
        json_decref(st);
        return NULL;
    }
    return st;
}

/* ---- PII by name
 * ----------------------------------------------------------------------------------- */

/* Split a column name into lower-case ASCII tokens (non-alphanumerics and camelCase split). */
static size_t name_tokens(const char *name, char tok[][24], size_t max)
{
    size_t nt = 0, len = 0;
    unsigned char prev = 0;
    for (const unsigned char *q = (const unsigned char *)name;; q++) {
        unsigned char ch = *q;
        int alnum = ch && is_alnum_c(ch);
        int camel = alnum && ch >= 'A' && ch <= 'Z' && prev >= 'a' && prev <= 'z';
        if ((!alnum || camel) && len > 0) {
            tok[nt][len] = '\0';
            if (++nt == max)
                return nt;
            len = 0;
        }
        if (!ch)
            return nt;
        if (alnum && len < 23)
            tok[nt][len++] = (char)(ch | (ch >= 'A' && ch <= 'Z' ? 0x20 : 0));
        prev = ch;
    }
}

/* The entry of list equal to t (static), or NULL. */
static const char *tok_in(const char *t, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(t, *list) == 0)
            return *list;
    return NULL;
}

/* The keyword that marks the name as personal data, or NULL. */
static const char *pii_name(const char *name)
{
    static const char *const direct[] = {
        "email",    "mail",      "phone",      "telephone", "tel",      "mobile",
        "ssn",      "iban",      "passport",   "address",   "street",   "birth",
        "birthday", "birthdate", "dob",        "firstname", "lastname", "fullname",
        "surname",  "username",  "creditcard", NULL};
    static const char *const name_q[] = {"first",    "last",    "full",   "user",     "person",
                                         "customer", "patient", "client", "employee", "contact",
                                         "given",    "middle",  "maiden", NULL};
    char tok[8][24];
    size_t nt = name_tokens(name, tok, 8);
    for (size_t i = 0; i < nt; i++) {
        const char *kw = tok_in(tok[i], direct);
        if (kw)
            return strcmp(kw, "creditcard") == 0 ? "credit_card" : kw;
        if (strcmp(tok[i], "e") == 0 && i + 1 < nt && strcmp(tok[i + 1], "mail") == 0)
            return "email";
        if (strcmp(tok[i], "credit") == 0 && i + 1 < nt && strcmp(tok[i + 1], "card") == 0)
            return "credit_card";
        if (strcmp(tok[i], "name") == 0 && (nt == 1 || (i > 0 && tok_in(tok[i - 1], name_q))))
            return "name";
    }
    return NULL;
}

static json_t *pii_reason(const struct pcol *c)
{
    char b[160];
    const char *kw = pii_name(c->name);
    if (kw) {
        snprintf(b, sizeof(b), "the column name suggests personal data (%s)", kw);
        return json_string(b);
    }
    static const char *const what[4] = {"e-mail addresses", "phone numbers", "IBANs",
                                        "payment card numbers (Luhn-valid)"};
    uint32_t hits[4] = {c->pii_email, c->pii_phone, c->pii_iban, c->pii_card};
    int best = 0;
    for (int k = 1; k < 4; k++)
        if (hits[k] > hits[best])
            best = k;
    if (c->pii_seen == 0 || (double)hits[best] < PROFILE_PII_MIN_SHARE * c->pii_seen)
        return NULL;
    snprintf(b, sizeof(b), "%.0f%% of the first %u values look like %s",
             100.0 * hits[best] / c->pii_seen, c->pii_seen, what[best]);
    return json_string(b);
}

static json_t *examples_json(const struct pcol *c)
{
    json_t *a = json_array();
    for (int k = 0; a && k < c->nex; k++) {
        if (json_array_append_new(a, json_stringn(c->ex[k], c->ex_len[k])) != 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

json_t *profile_column_json(const struct profile *p, size_t i)
{
    if (!p || !p->finished || i >= p->ncols)
        return NULL;
    const struct pcol *c = &p->cols[i];
    uint64_t miss = p->rows - c->count;
    json_t *o = json_object(), *reason = pii_reason(c);
    int rc = !o;
    if (o)
        rc = jset(o, "name", json_string(c->name)) |
             jset(o, "position", json_integer((json_int_t)i)) |
             jset(o, "type", json_string(type_names[c->type])) |
             jset(o, "nullable", json_boolean(miss > 0)) |
             jset(o, "missing", json_integer((json_int_t)miss)) |
             jset(o, "missing_percentage",
                  json_real(p->rows ? 100.0 * (double)miss / (double)p->rows : 0)) |
             jset(o, "pii", json_boolean(reason != NULL)) |
             jset(o, "pii_reason", reason ? json_incref(reason) : json_null()) |
             jset(o, "examples", examples_json(c)) | jset(o, "stats", stats_json(p, c));
    json_decref(reason);
    if (rc != 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static double pearson(const struct corr *c, size_t a, size_t b)
{
    size_t k = c->k, lo = a < b ? a : b, hi = a < b ? b : a;
    double n = (double)c->nfull + c->np[lo * k + hi];
    double sa = c->sum[a] + c->sx[a * k + b], sb = c->sum[b] + c->sx[b * k + a];
    double saa = c->q[a * k + a] + c->sxx[a * k + b], sbb = c->q[b * k + b] + c->sxx[b * k + a];
    double sab = c->q[lo * k + hi] + c->sxy[lo * k + hi];
    if (n < 2)
        return NAN;
    double va = n * saa - sa * sa, vb = n * sbb - sb * sb;
    if (va <= 0 || vb <= 0)
        return NAN;
    double r = (n * sab - sa * sb) / sqrt(va * vb);
    return r > 1 ? 1 : r < -1 ? -1 : r;
}

json_t *profile_correlations_json(const struct profile *p)
{
    if (!p || !p->finished)
        return NULL;
    const struct corr *c = &p->c;
    size_t use[PROFILE_CORR_COLS], nu = 0;
    for (size_t a = 0; a < c->k; a++) {
        int t = p->cols[c->col[a]].type;
        if (t == T_INT || t == T_FLOAT)
            use[nu++] = a;
    }
    json_t *o = json_object(), *names = json_array(), *mat = json_array();
    int rc = !o || !names || !mat;
    for (size_t a = 0; !rc && a < nu; a++) {
        json_t *row = json_array();
        rc |= json_array_append_new(names, json_string(p->cols[c->col[use[a]]].name));
        for (size_t b = 0; row && b < nu; b++)
            rc |= json_array_append_new(row, a == b ? json_real(1.0)
                                                    : jreal(pearson(c, use[a], use[b])));
        rc |= json_array_append_new(mat, row);
    }
    if (rc || jset(o, "columns", names) != 0 || jset(o, "matrix", mat) != 0) {
        if (rc)
            json_decref(names), json_decref(mat);
        json_decref(o);
        return NULL;
    }
    return o;
}

json_t *profile_cell_json(const struct profile *p, size_t i, const char *s, size_t len)
{
    if (!s)
        return json_null();
    int t = p && p->finished && i < p->ncols ? p->cols[i].type : T_TEXT;
    double v;
    int is_int = 0, word = 0;
    if ((t == T_INT || t == T_FLOAT) && profile_parse_number(s, len, &v, &is_int) == 0) {
        if (t == T_INT && is_int && fabs(v) < 9e15)
            return json_integer((json_int_t)v);
        return jreal(v);
    }
    if (t == T_BOOL && is_bool_token(s, len, &word)) {
        char ch = (char)(s[0] | 0x20);
        return json_boolean(ch == '1' || ch == 't' || ch == 'y');
    }
    return json_stringn(s, len);
}
