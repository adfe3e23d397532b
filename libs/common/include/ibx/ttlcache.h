/* ttlcache: a bounded, thread-safe map from string keys to small byte values with an
 * expiry time each (for caching verified tokens and minted internal tokens).
 *
 * Fixed capacity, chosen at creation: a key lives in one of 4 slots of its set, and a
 * new key replaces an expired entry or the one closest to expiry. Lookups compare the
 * whole key, so a hash collision can never return another key's value. Locking is
 * striped per set, so concurrent callers rarely wait on each other. */
#ifndef IBX_TTLCACHE_H
#define IBX_TTLCACHE_H

#include <stddef.h>
#include <stdint.h>

struct ttlcache;

/* capacity is rounded up to a multiple of 4 (at least 64). 0, -ENOMEM. */
int ttlcache_new(size_t capacity, struct ttlcache **out) __attribute__((warn_unused_result));
void ttlcache_free(struct ttlcache *c);

/* Copy the value of key (at most n bytes) into out when present and not expired at
 * now_ms. 0 and *len, or -ENOENT. */
int ttlcache_get(struct ttlcache *c, const char *key, int64_t now_ms, void *out, size_t n,
                 size_t *len) __attribute__((warn_unused_result));
/* Store a copy of key and value until expires_ms. 0, -ENOMEM. */
int ttlcache_put(struct ttlcache *c, const char *key, const void *val, size_t len,
                 int64_t expires_ms) __attribute__((warn_unused_result));

#endif
