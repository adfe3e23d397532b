/* th_tokens: token helpers for tests. */
#include "th_tokens.h"

#include <time.h>

static long th_two_hours_ago(void)
{
    return (long)time(NULL) - 7200;
}

int th_issue(const struct auth_keys *k, const struct auth_claims *c, long ttl, char **tok)
{
    if (ttl >= 0)
        return auth_issue(k, c, ttl, tok);
    auth_set_clock(th_two_hours_ago);
    int rc = auth_issue(k, c, 3600, tok);
    auth_set_clock(NULL);
    return rc;
}
