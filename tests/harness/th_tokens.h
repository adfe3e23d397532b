/* th_tokens: issuing tokens for tests, including ones that expired long ago. */
#ifndef TH_TOKENS_H
#define TH_TOKENS_H

#include <ibx/auth.h>

/* auth_issue with ttl seconds; a negative ttl gives a token issued two hours ago that
 * expired an hour ago. 0 or the auth_issue error. */
int th_issue(const struct auth_keys *k, const struct auth_claims *c, long ttl, char **tok);

#endif
