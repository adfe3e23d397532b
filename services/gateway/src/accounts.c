/* accounts: account rules (email, passwords, Argon2id, audience level, profile values, roles). */
#include "gateway.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>
#include <strings.h>

const char *acct_email_problem(const char *email)
{
    size_t n = strlen(email);
    if (n < 3 || n > 254)
        return "must be between 3 and 254 characters";
    const char *at = strchr(email, '@');
    if (!at || at == email || strchr(at + 1, '@'))
        return "must contain exactly one @ with a name before it";
    const char *dot = strrchr(at + 1, '.');
    if (!dot || dot == at + 1 || dot[1] == '\0')
        return "must have a domain such as example.org after the @";
    for (const unsigned char *p = (const unsigned char *)email; *p; p++) {
        if (*p <= ' ' || *p == 0x7f || *p == '"' || *p == '<' || *p == '>' || *p == ',')
            return "must not contain spaces, quotes, commas or angle brackets";
    }
    return NULL;
}

const char *acct_password_problem(const char *password, const char *email)
{
    size_t n = strlen(password);
    if (n < 8)
        return "must be at least 8 characters";
    if (n > 1024)
        return "must be at most 1024 characters";
    if (email && strcasecmp(password, email) == 0)
        return "must not be your email address";
    return NULL;
}

int acct_hash_password(const struct gw *g, const char *password, char *out, size_t n)
{
    char tmp[crypto_pwhash_STRBYTES];
    if (n < sizeof(tmp))
        return -EINVAL;
    if (crypto_pwhash_str_alg(
            tmp, password, strlen(password), (unsigned long long)g->cfg.argon2_ops,
            (size_t)g->cfg.argon2_mem_kib * 1024u, crypto_pwhash_ALG_ARGON2ID13) != 0)
        return -ENOMEM;
    memcpy(out, tmp, sizeof(tmp));
    return 0;
}

int acct_password_ok(const char *hash, const char *password)
{
    return crypto_pwhash_str_verify(hash, password, strlen(password)) == 0;
}

const char *acct_audience_level(long ai_familiarity)
{
    if (ai_familiarity >= 4)
        return "expert";
    if (ai_familiarity == 3)
        return "intermediate";
    return "novice";
}

const char *acct_display_name_problem(const char *name, size_t len)
{
    if (strlen(name) != len)
        return "must not contain NUL characters";
    if (len > 100)
        return "must be at most 100 characters";
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        if (*p < ' ' || *p == 0x7f)
            return "must not contain control characters";
    }
    return NULL;
}

/* NULL when v is one of the NULL-terminated names, else problem. */
static const char *acct_one_of(const char *v, const char *const *names, const char *problem)
{
    for (size_t i = 0; names[i]; i++) {
        if (strcmp(v, names[i]) == 0)
            return NULL;
    }
    return problem;
}

const char *acct_locale_problem(const char *locale)
{
    static const char *const names[] = {"en", "fr", NULL};
    return acct_one_of(locale, names, "must be en or fr");
}

const char *acct_education_problem(const char *education_level)
{
    static const char *const names[] = {"no_formal", "high_school", "bachelor", "master",
                                        "phd",       "engineer",    "other",    NULL};
    return acct_one_of(education_level, names,
                       "must be one of no_formal, high_school, bachelor, master, phd, engineer, "
                       "other");
}

const char *acct_role_problem(const char *role)
{
    static const char *const names[] = {"user", "contributor", "admin", NULL};
    return acct_one_of(role, names, "must be user, contributor or admin");
}
