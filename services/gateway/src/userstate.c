/* userstate: is the account behind a token still active (short in-process cache). */
#include "gateway.h"

#include <ibx/clock.h>
#include <ibx/ids.h>
#include <ibx/log.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define USTATE_SLOTS 4096 /* direct-mapped: a collision only costs a database lookup */

enum ustate_kind { USTATE_EMPTY = 0, USTATE_ACTIVE, USTATE_INACTIVE, USTATE_GONE };

#define USTATE_REFRESH_MS 1000 /* an expired entry serves this long while one lookup runs */

struct ustate_entry {
    char id[IDS_UUID_LEN + 1];
    char role[16];
    char aud_level[16]; /* acct_audience_level of the account's ai_familiarity */
    enum ustate_kind kind;
    int64_t checked_ms;    /* monotonic */
    int64_t refreshing_ms; /* monotonic: a lookup of this expired entry began (0: none) */
};

static struct {
    pthread_mutex_t mu;
    struct ustate_entry slot[USTATE_SLOTS];
} ustate_cache = {.mu = PTHREAD_MUTEX_INITIALIZER};

static atomic_int ustate_degraded; /* 1 while PostgreSQL lookups fail (logged once) */

static size_t ustate_slot(const char *id)
{
    uint32_t h = 2166136261u; /* FNV-1a, case-insensitive like UUIDs */
    for (const unsigned char *p = (const unsigned char *)id; *p; p++)
        h = (h ^ (uint32_t)(*p | 0x20)) * 16777619u;
    return h % USTATE_SLOTS;
}

/* Copy the entry of id into *out: 1 when younger than ttl_ms, 0 when older, -1 when none.
 * With claim (an event loop that cannot wait), an expired entry whose lookup another
 * request began less than USTATE_REFRESH_MS ago counts as young (1); otherwise this
 * request claims the lookup (it goes to a worker to do it). */
static int ustate_lookup(const char *id, long ttl_ms, int claim, struct ustate_entry *out)
{
    int found = -1;
    int64_t now = clock_mono_ms();
    pthread_mutex_lock(&ustate_cache.mu);
    struct ustate_entry *e = &ustate_cache.slot[ustate_slot(id)];
    if (e->kind != USTATE_EMPTY && strcasecmp(e->id, id) == 0) {
        *out = *e;
        found = now - e->checked_ms < ttl_ms ? 1 : 0;
        if (found == 0 && claim && ttl_ms > 0) {
            if (e->refreshing_ms && now - e->refreshing_ms < USTATE_REFRESH_MS)
                found = 1;
            else
                e->refreshing_ms = now;
        }
    }
    pthread_mutex_unlock(&ustate_cache.mu);
    return found;
}

static void ustate_store(const struct ustate_entry *e)
{
    pthread_mutex_lock(&ustate_cache.mu);
    ustate_cache.slot[ustate_slot(e->id)] = *e;
    pthread_mutex_unlock(&ustate_cache.mu);
}

void ustate_forget(const char *user_id)
{
    pthread_mutex_lock(&ustate_cache.mu);
    struct ustate_entry *e = &ustate_cache.slot[ustate_slot(user_id)];
    if (strcasecmp(e->id, user_id) == 0)
        memset(e, 0, sizeof(*e));
    pthread_mutex_unlock(&ustate_cache.mu);
}

/* Ask PostgreSQL about c->sub into *e. 0, or the store's error (a failure, not an answer). */
static int ustate_fetch(struct svc *s, const char *id, struct ustate_entry *e)
{
    int active = 0;
    char role[16] = "";
    long familiarity = 0;
    int rc = store_user_status(s, id, &active, role, &familiarity);
    if (rc && rc != -ENOENT) {
        if (atomic_exchange(&ustate_degraded, 1) == 0)
            log_warn("cannot check accounts in PostgreSQL (%s); using the last known state",
                     strerror(-rc));
        return rc;
    }
    if (atomic_exchange(&ustate_degraded, 0) == 1)
        log_info("account checks reach PostgreSQL again");
    memset(e, 0, sizeof(*e));
    snprintf(e->id, sizeof(e->id), "%.36s", id);
    snprintf(e->role, sizeof(e->role), "%s", role);
    snprintf(e->aud_level, sizeof(e->aud_level), "%s", acct_audience_level(familiarity));
    e->kind = rc == -ENOENT ? USTATE_GONE : active ? USTATE_ACTIVE : USTATE_INACTIVE;
    e->checked_ms = clock_mono_ms();
    return 0;
}

int ustate_check(struct svc *s, struct auth_claims *c, int may_block, const char **why)
{
    const struct gw *g = s->app;
    struct ustate_entry e;
    int known = ustate_lookup(c->sub, g->cfg.account_check_ttl_ms, !may_block, &e);
    if (known != 1 && !may_block)
        return HTTP_NEEDS_WORKER;
    if (known != 1) {
        struct ustate_entry fresh;
        if (ustate_fetch(s, c->sub, &fresh) == 0) {
            ustate_store(&fresh);
            e = fresh;
        } else if (known < 0) {
            return 0; /* nothing known and nothing to ask: the token decides */
        }
    }
    if (e.kind == USTATE_GONE) {
        *why = "this account no longer exists";
        return -EPERM;
    }
    if (e.kind != USTATE_ACTIVE) {
        *why = "this account is deactivated";
        return -EPERM;
    }
    snprintf(c->role, sizeof(c->role), "%s", e.role);
    snprintf(c->aud_level, sizeof(c->aud_level), "%s", e.aud_level);
    return 0;
}
