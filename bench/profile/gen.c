/* gen: a deterministic mixed-type CSV for bench/profile: ints, floats with missing values,
 * categories, booleans, dates, date-times and free text with quotes and commas.
 * usage: gen BYTES > file.csv (stops at the first row that reaches BYTES) */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t state = 0x243F6A8885A308D3ull;

static uint64_t next(void)
{
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static const char *const regions[] = {"north",  "south",   "east",     "west",
                                      "centre", "islands", "overseas", "unknown"};
static const char *const words[] = {
    "data",   "model",  "the",       "a",       "value",    "good",     "bad",       "quite",
    "really", "not",    "very",      "price",   "service",  "delivery", "late",      "early",
    "on",     "time",   "product",   "broken",  "works",    "fine",     "excellent", "poor",
    "would",  "buy",    "again",     "never",   "customer", "support",  "helpful",   "slow",
    "fast",   "cheap",  "expensive", "quality", "size",     "colour",   "fits",      "small",
    "large",  "return", "refund",    "box",     "damaged",  "perfect",  "okay"};

struct out {
    char *p;
};

static void put_s(struct out *o, const char *s)
{
    size_t n = strlen(s);
    memcpy(o->p, s, n);
    o->p += n;
}

static void put_c(struct out *o, char c)
{
    *o->p++ = c;
}

/* v with at least width digits (zero-padded). */
static void put_u(struct out *o, uint64_t v, int width)
{
    char b[24];
    int n = 0;
    do {
        b[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v || n < width);
    while (n)
        *o->p++ = b[--n];
}

/* v / 10^dec with exactly dec decimals. */
static void put_fixed(struct out *o, uint64_t v, int dec)
{
    uint64_t scale = 1;
    for (int i = 0; i < dec; i++)
        scale *= 10;
    put_u(o, v / scale, 1);
    put_c(o, '.');
    put_u(o, v % scale, dec);
}

static void put_text(struct out *o)
{
    char b[512];
    struct out t = {b};
    int n = 3 + (int)(next() % 12), quoted = 0;
    for (int i = 0; i < n; i++) {
        const char *w = words[next() % (sizeof(words) / sizeof(words[0]))];
        uint64_t r = next() % 20;
        if (i)
            put_s(&t, r == 0 ? ", " : " ");
        if (r == 1) {
            put_s(&t, "\"\"");
            put_s(&t, w);
            put_s(&t, "\"\"");
        } else {
            put_s(&t, w);
        }
        quoted |= r <= 1;
    }
    *t.p = '\0';
    if (quoted)
        put_c(o, '"');
    put_s(o, b);
    if (quoted)
        put_c(o, '"');
}

static void put_row(struct out *o, uint64_t id)
{
    put_u(o, id, 1);
    put_c(o, ',');
    if (next() % 50)
        put_u(o, 18 + next() % 70, 1); /* age, 2% missing */
    put_c(o, ',');
    if (next() % 20)
        put_fixed(o, 1500000 + next() % 9000000, 2); /* income, 5% NA */
    else
        put_s(o, "NA");
    put_c(o, ',');
    put_fixed(o, next() % 1000000, 4); /* score */
    put_c(o, ',');
    put_s(o, regions[next() % 8]);
    put_s(o, next() % 3 ? ",true," : ",false,");
    put_s(o, "20"); /* signup_date */
    put_u(o, next() % 24, 2);
    put_c(o, '-');
    put_u(o, 1 + next() % 12, 2);
    put_c(o, '-');
    put_u(o, 1 + next() % 28, 2);
    put_s(o, ",2024-"); /* last_seen */
    put_u(o, 1 + next() % 12, 2);
    put_c(o, '-');
    put_u(o, 1 + next() % 28, 2);
    put_c(o, ' ');
    put_u(o, next() % 24, 2);
    put_c(o, ':');
    put_u(o, next() % 60, 2);
    put_c(o, ':');
    put_u(o, next() % 60, 2);
    put_c(o, ',');
    put_u(o, 1 + next() % 5, 1); /* rating */
    put_c(o, ',');
    put_u(o, next() % 1000, 1); /* visits */
    put_c(o, ',');
    put_fixed(o, next() % 1000000, 6); /* ratio */
    put_c(o, ',');
    put_text(o);
    put_c(o, '\n');
}

int main(int argc, char **argv)
{
    char *end = NULL;
    unsigned long long target = argc > 1 ? strtoull(argv[1], &end, 10) : 200000000ull;
    if (argc > 2 || (argc > 1 && (!end || *end))) {
        fprintf(stderr, "usage: gen [BYTES]\n");
        return 2;
    }
    static char buf[1 << 20];
    struct out o = {buf};
    put_s(&o, "id,age,income,score,region,member,signup_date,last_seen,rating,visits,ratio,"
              "comment\n");
    unsigned long long written = 0;
    for (uint64_t id = 1; written + (size_t)(o.p - buf) < target; id++) {
        put_row(&o, id);
        if ((size_t)(o.p - buf) > sizeof(buf) - 1024) {
            fwrite(buf, 1, (size_t)(o.p - buf), stdout);
            written += (size_t)(o.p - buf);
            o.p = buf;
        }
    }
    fwrite(buf, 1, (size_t)(o.p - buf), stdout);
    return ferror(stdout) ? 1 : 0;
}
