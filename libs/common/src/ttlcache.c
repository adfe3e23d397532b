/* ttlcache: bounded 4-way set-associative cache with expiry and striped locks. */
#include <ibx/ttlcache.h>

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define TTL_WAYS    4
#define TTL_STRIPES 64

struct ttl_entry {
    uint64_t hash;
    int64_t expires_ms;
    char *key; /* NULL: empty slot */
    void *val;
    size_t len;
};

struct ttlcache {
    size_t nsets;
    struct ttl_entry *slots; /* nsets * TTL_WAYS */
    pthread_mutex_t locks[TTL_STRIPES];
};

/* FNV-1a, 64 bit: fast and good enough to spread keys over sets. */
static uint64_t ttl_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

int ttlcache_new(size_t capacity, struct ttlcache **out)
{
    struct ttlcache *c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    c->nsets = capacity < 64 ? 16 : (capacity + TTL_WAYS - 1) / TTL_WAYS;
    c->slots = calloc(c->nsets * TTL_WAYS, sizeof(*c->slots));
    if (!c->slots) {
        free(c);
        return -ENOMEM;
    }
    for (size_t i = 0; i < TTL_STRIPES; i++)
        pthread_mutex_init(&c->locks[i], NULL);
    *out = c;
    return 0;
}

void ttlcache_free(struct ttlcache *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->nsets * TTL_WAYS; i++) {
        free(c->slots[i].key);
        free(c->slots[i].val);
    }
    for (size_t i = 0; i < TTL_STRIPES; i++)
        pthread_mutex_destroy(&c->locks[i]);
    free(c->slots);
    free(c);
}

int ttlcache_get(struct ttlcache *c, const char *key, int64_t now_ms, void *out, size_t n,
                 size_t *len)
{
    uint64_t h = ttl_hash(key);
    size_t set = h % c->nsets;
    struct ttl_entry *e = &c->slots[set * TTL_WAYS];
    int rc = -ENOENT;
    pthread_mutex_lock(&c->locks[set % TTL_STRIPES]);
    for (size_t i = 0; i < TTL_WAYS; i++) {
        if (e[i].key && e[i].hash == h && e[i].expires_ms > now_ms && strcmp(e[i].key, key) == 0 &&
            e[i].len <= n) {
            memcpy(out, e[i].val, e[i].len);
            *len = e[i].len;
            rc = 0;
            break;
        }
    }
    pthread_mutex_unlock(&c->locks[set % TTL_STRIPES]);
    return rc;
}

int ttlcache_put(struct ttlcache *c, const char *key, const void *val, size_t len,
                 int64_t expires_ms)
{
    char *k = strdup(key);
    void *v = malloc(len ? len : 1);
    if (!k || !v) {
        free(k);
        free(v);
        return -ENOMEM;
    }
    memcpy(v, val, len);
    uint64_t h = ttl_hash(key);
    size_t set = h % c->nsets;
    struct ttl_entry *e = &c->slots[set * TTL_WAYS];
    pthread_mutex_lock(&c->locks[set % TTL_STRIPES]);
    size_t victim = 0;
    for (size_t i = 0; i < TTL_WAYS; i++) {
        if (e[i].key && e[i].hash == h && strcmp(e[i].key, key) == 0) {
            victim = i; /* same key: replace it */
            break;
        }
        if (!e[i].key || e[i].expires_ms < e[victim].expires_ms)
            victim = i;
        if (!e[i].key)
            break;
    }
    char *old_k = e[victim].key;
    void *old_v = e[victim].val;
    e[victim] = (struct ttl_entry){h, expires_ms, k, v, len};
    pthread_mutex_unlock(&c->locks[set % TTL_STRIPES]);
    free(old_k);
    free(old_v);
    return 0;
}
