/* test_config: environment table loading, error lines, help text and unknown-name warnings. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ibx/config.h>
#include <ibx/log.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define VAR          "IBX_TEST_VAR"
#define UNSET        NULL
#define SENTINEL_STR "untouched"
#define SENTINEL_NUM 4242

struct load_case { // NOLINT(clang-analyzer-optin.performance.Padding): a test table
    enum config_type type;
    const char *env; /* UNSET: not in the environment */
    const char *def;
    int required;
    long min, max;
    const char *choices;
    int rc;
    const char *want; /* rc 0: the stored string, or the number as text; else the error */
};

static const struct load_case load_cases[] = {
    /* strings and secrets */
    {CONFIG_STR, "hello", NULL, 1, 0, -1, NULL, 0, "hello"},
    {CONFIG_STR, UNSET, "dflt", 1, 0, -1, NULL, 0, "dflt"},
    {CONFIG_STR, "", "dflt", 1, 0, -1, NULL, 0, "dflt"},
    {CONFIG_STR, UNSET, NULL, 1, 0, -1, NULL, -EINVAL, VAR " is required"},
    {CONFIG_STR, "", NULL, 1, 0, -1, NULL, -EINVAL, VAR " is required"},
    {CONFIG_STR, UNSET, NULL, 0, 0, -1, NULL, 0, SENTINEL_STR},
    {CONFIG_SECRET, "s3cr3t-value", NULL, 1, 0, -1, NULL, 0, "s3cr3t-value"},
    {CONFIG_SECRET, UNSET, NULL, 1, 0, -1, NULL, -EINVAL, VAR " is required"},
    /* integers */
    {CONFIG_INT, "8080", NULL, 1, 1, 65535, NULL, 0, "8080"},
    {CONFIG_INT, "80a", NULL, 1, 1, 65535, NULL, -EINVAL, VAR ": \"80a\" is not an integer"},
    {CONFIG_INT, "70000", NULL, 1, 1, 65535, NULL, -EINVAL, VAR ": 70000 is outside 1..65535"},
    {CONFIG_INT, "0", NULL, 1, 1, 65535, NULL, -EINVAL, VAR ": 0 is outside 1..65535"},
    {CONFIG_INT, "65535", NULL, 1, 1, 65535, NULL, 0, "65535"},
    {CONFIG_INT, "-5", NULL, 1, 0, -1, NULL, 0, "-5"},
    {CONFIG_INT, "+7", NULL, 1, 0, -1, NULL, 0, "7"},
    {CONFIG_INT, " 80", NULL, 1, 0, -1, NULL, -EINVAL, VAR ": \" 80\" is not an integer"},
    {CONFIG_INT, "80 ", NULL, 1, 0, -1, NULL, -EINVAL, VAR ": \"80 \" is not an integer"},
    {CONFIG_INT, "0x10", NULL, 1, 0, -1, NULL, -EINVAL, VAR ": \"0x10\" is not an integer"},
    {CONFIG_INT, "-", NULL, 1, 0, -1, NULL, -EINVAL, VAR ": \"-\" is not an integer"},
    {CONFIG_INT, "8\n0", NULL, 1, 0, -1, NULL, -EINVAL, VAR ": \"8?0\" is not an integer"},
    {CONFIG_INT, "99999999999999999999", NULL, 1, 1, 65535, NULL, -EINVAL,
     VAR ": \"99999999999999999999\" is outside 1..65535"},
    {CONFIG_INT, "-99999999999999999999", NULL, 1, 0, -1, NULL, -EINVAL,
     VAR ": \"-99999999999999999999\" is out of range"},
    {CONFIG_INT, UNSET, "30", 1, 1, 65535, NULL, 0, "30"},
    {CONFIG_INT, UNSET, "abc", 0, 0, -1, NULL, -EINVAL, VAR ": default \"abc\" is not an integer"},
    {CONFIG_INT, UNSET, NULL, 0, 0, -1, NULL, 0, "4242"},
    /* booleans */
    {CONFIG_BOOL, "true", NULL, 1, 0, -1, NULL, 0, "1"},
    {CONFIG_BOOL, "YES", NULL, 1, 0, -1, NULL, 0, "1"},
    {CONFIG_BOOL, "1", NULL, 1, 0, -1, NULL, 0, "1"},
    {CONFIG_BOOL, "False", NULL, 1, 0, -1, NULL, 0, "0"},
    {CONFIG_BOOL, "no", NULL, 1, 0, -1, NULL, 0, "0"},
    {CONFIG_BOOL, "0", NULL, 1, 0, -1, NULL, 0, "0"},
    {CONFIG_BOOL, UNSET, "yes", 1, 0, -1, NULL, 0, "1"},
    {CONFIG_BOOL, "maybe", NULL, 1, 0, -1, NULL, -EINVAL,
     VAR ": \"maybe\" is not one of true|false|1|0|yes|no"},
    {CONFIG_BOOL, "2", NULL, 1, 0, -1, NULL, -EINVAL,
     VAR ": \"2\" is not one of true|false|1|0|yes|no"},
    /* enums */
    {CONFIG_ENUM, "info", NULL, 1, 0, -1, "debug|info|warn|error", 0, "info"},
    {CONFIG_ENUM, "WARN", NULL, 1, 0, -1, "debug|info|warn|error", 0, "warn"},
    {CONFIG_ENUM, "error", NULL, 1, 0, -1, "debug|info|warn|error", 0, "error"},
    {CONFIG_ENUM, "debug", NULL, 1, 0, -1, "debug|info|warn|error", 0, "debug"},
    {CONFIG_ENUM, UNSET, "info", 1, 0, -1, "debug|info|warn|error", 0, "info"},
    {CONFIG_ENUM, "verbose", NULL, 1, 0, -1, "debug|info|warn|error", -EINVAL,
     VAR ": \"verbose\" is not one of debug|info|warn|error"},
    {CONFIG_ENUM, "inf", NULL, 1, 0, -1, "debug|info|warn|error", -EINVAL,
     VAR ": \"inf\" is not one of debug|info|warn|error"},
    {CONFIG_ENUM, "info|warn", NULL, 1, 0, -1, "debug|info|warn|error", -EINVAL,
     VAR ": \"info|warn\" is not one of debug|info|warn|error"},
    {CONFIG_ENUM, UNSET, "loud", 1, 0, -1, "debug|info", -EINVAL,
     VAR ": default \"loud\" is not one of debug|info"},
    /* URLs */
    {CONFIG_URL, "http://selection:8081", NULL, 1, 0, -1, NULL, 0, "http://selection:8081"},
    {CONFIG_URL, "https://a.example/v1", NULL, 1, 0, -1, NULL, 0, "https://a.example/v1"},
    {CONFIG_URL, "ftp://x", NULL, 1, 0, -1, NULL, -EINVAL,
     VAR ": \"ftp://x\" is not an http:// or https:// URL"},
    {CONFIG_URL, "http://", NULL, 1, 0, -1, NULL, -EINVAL,
     VAR ": \"http://\" is not an http:// or https:// URL"},
    {CONFIG_URL, "http:///x", NULL, 1, 0, -1, NULL, -EINVAL,
     VAR ": \"http:///x\" is not an http:// or https:// URL"},
    {CONFIG_URL, "http://a b", NULL, 1, 0, -1, NULL, -EINVAL,
     VAR ": \"http://a b\" is not an http:// or https:// URL"},
    {CONFIG_URL, "selection:8081", NULL, 1, 0, -1, NULL, -EINVAL,
     VAR ": \"selection:8081\" is not an http:// or https:// URL"},
    {CONFIG_URL, "ftp://user:hunter2@x", NULL, 1, 0, -1, NULL, -EINVAL,
     VAR ": value is not an http:// or https:// URL"},
    {CONFIG_PGURL, "postgresql://u:p@db:5432/ibx", NULL, 1, 0, -1, NULL, 0,
     "postgresql://u:p@db:5432/ibx"},
    {CONFIG_PGURL, "postgres:///ibx?host=/tmp", NULL, 1, 0, -1, NULL, 0,
     "postgres:///ibx?host=/tmp"},
    {CONFIG_PGURL, "mysql://u:hunter2@db/ibx", NULL, 1, 0, -1, NULL, -EINVAL,
     VAR ": value is not a postgresql:// URL"},
    {CONFIG_PGURL, UNSET, NULL, 1, 0, -1, NULL, -EINVAL, VAR " is required"},
};

static void run_load_case(const struct load_case *tc, size_t i)
{
    const char *str = SENTINEL_STR;
    long num = SENTINEL_NUM;
    int flag = SENTINEL_NUM;
    void *dst = tc->type == CONFIG_INT    ? (void *)&num
                : tc->type == CONFIG_BOOL ? (void *)&flag
                                          : (void *)&str;
    struct config_var v = {VAR,     tc->type, tc->def,     tc->required, "a test variable",
                           tc->min, tc->max,  tc->choices, dst};
    char err[256] = "garbage";
    if (tc->env)
        assert_int_equal(setenv(VAR, tc->env, 1), 0);
    else
        assert_int_equal(unsetenv(VAR), 0);
    int rc = config_load(&v, 1, err, sizeof(err));
    if (rc != tc->rc)
        fail_msg("case %zu: rc %d, want %d (%s)", i, rc, tc->rc, err);
    if (rc != 0) {
        assert_string_equal(err, tc->want);
        assert_string_equal(str, SENTINEL_STR); /* untouched on failure */
        assert_int_equal(num, SENTINEL_NUM);
        assert_int_equal(flag, SENTINEL_NUM);
        return;
    }
    assert_string_equal(err, "");
    char got[128];
    if (tc->type == CONFIG_INT)
        snprintf(got, sizeof(got), "%ld", num);
    else if (tc->type == CONFIG_BOOL)
        snprintf(got, sizeof(got), "%d", flag);
    else
        snprintf(got, sizeof(got), "%s", str);
    if (strcmp(got, tc->want) != 0)
        fail_msg("case %zu: got \"%s\", want \"%s\"", i, got, tc->want);
}

static void test_load_cases(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(load_cases) / sizeof(load_cases[0]); i++)
        run_load_case(&load_cases[i], i);
    unsetenv(VAR);
}

/* Errors never show the value of a secret, a database URL or a URL with credentials. */
static void test_error_never_shows_secrets(void **state)
{
    (void)state;
    const char *s = NULL;
    struct config_var v[] = {
        {"IBX_TEST_PG", CONFIG_PGURL, NULL, 1, "db", 0, -1, NULL, &s},
        {"IBX_TEST_URL", CONFIG_URL, NULL, 1, "url", 0, -1, NULL, &s},
    };
    char err[256];
    setenv("IBX_TEST_PG", "postgresq://admin:hunter2@db/x", 1);
    setenv("IBX_TEST_URL", "gopher://admin:hunter2@x", 1);
    assert_int_equal(config_load(&v[0], 1, err, sizeof(err)), -EINVAL);
    assert_null(strstr(err, "hunter2"));
    assert_non_null(strstr(err, "IBX_TEST_PG"));
    assert_int_equal(config_load(&v[1], 1, err, sizeof(err)), -EINVAL);
    assert_null(strstr(err, "hunter2"));
    assert_null(s);
    unsetenv("IBX_TEST_PG");
    unsetenv("IBX_TEST_URL");
}

static void test_long_value_is_cut(void **state)
{
    (void)state;
    char big[300];
    memset(big, '9', sizeof(big) - 2);
    big[sizeof(big) - 2] = 'x';
    big[sizeof(big) - 1] = '\0';
    long port = 1;
    struct config_var v = {VAR, CONFIG_INT, NULL, 1, "p", 1, 65535, NULL, &port};
    char err[512];
    setenv(VAR, big, 1);
    assert_int_equal(config_load(&v, 1, err, sizeof(err)), -EINVAL);
    assert_true(strlen(err) < 120);
    assert_non_null(strstr(err, "...\" is not an integer"));
    /* a short err buffer is still terminated */
    char tiny[8];
    assert_int_equal(config_load(&v, 1, tiny, sizeof(tiny)), -EINVAL);
    assert_int_equal(strlen(tiny), 7);
    assert_int_equal(config_load(&v, 1, NULL, 0), -EINVAL);
    unsetenv(VAR);
}

/* One bad variable: nothing is written, and the error names the bad one. */
static void test_all_or_nothing(void **state)
{
    (void)state;
    const char *url = "old", *level = "old";
    long port = 1;
    struct config_var vars[] = {
        {"IBX_TEST_URL", CONFIG_URL, NULL, 1, "u", 0, -1, NULL, &url},
        {"IBX_TEST_PORT", CONFIG_INT, "8080", 0, "p", 1, 65535, NULL, &port},
        {"IBX_TEST_LEVEL", CONFIG_ENUM, "info", 0, "l", 0, -1, "debug|info", &level},
    };
    char err[256];
    setenv("IBX_TEST_URL", "http://x", 1);
    setenv("IBX_TEST_LEVEL", "loud", 1);
    assert_int_equal(config_load(vars, 3, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "IBX_TEST_LEVEL: \"loud\" is not one of debug|info");
    assert_string_equal(url, "old");
    assert_string_equal(level, "old");
    assert_int_equal(port, 1);

    unsetenv("IBX_TEST_LEVEL");
    assert_int_equal(config_load(vars, 3, err, sizeof(err)), 0);
    assert_string_equal(url, "http://x");
    assert_string_equal(level, "info");
    assert_int_equal(port, 8080);
    unsetenv("IBX_TEST_URL");
}

/* Stored strings are copies: changing the environment afterwards does not change them. */
static void test_values_are_copies(void **state)
{
    (void)state;
    const char *s = NULL;
    struct config_var v = {VAR, CONFIG_STR, NULL, 1, "s", 0, -1, NULL, &s};
    char err[128];
    setenv(VAR, "first", 1);
    assert_int_equal(config_load(&v, 1, err, sizeof(err)), 0);
    setenv(VAR, "second-and-longer", 1);
    unsetenv(VAR);
    assert_string_equal(s, "first");
    assert_ptr_not_equal(s, v.def);
}

static void test_bad_table(void **state)
{
    (void)state;
    const char *s = NULL;
    char err[256];
    struct config_var no_dst = {VAR, CONFIG_STR, "x", 0, "h", 0, -1, NULL, NULL};
    struct config_var no_choices = {VAR, CONFIG_ENUM, "x", 0, "h", 0, -1, NULL, &s};
    struct config_var no_name = {NULL, CONFIG_STR, "x", 0, "h", 0, -1, NULL, &s};
    struct config_var bad_type = {VAR, (enum config_type)99, "x", 0, "h", 0, -1, NULL, &s};
    assert_int_equal(config_load(&no_dst, 1, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "config table entry 0 (" VAR ") has no dst");
    assert_int_equal(config_load(&no_choices, 1, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "without choices"));
    assert_int_equal(config_load(&no_name, 1, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "has no name"));
    assert_int_equal(config_load(&bad_type, 1, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "unknown type"));
    assert_int_equal(config_load(NULL, 1, err, sizeof(err)), -EINVAL);
    assert_int_equal(config_load(NULL, 0, err, sizeof(err)), 0);
    assert_null(s);
}

static void test_print_help(void **state)
{
    (void)state;
    const char *s = NULL;
    long n = 0;
    int b = 0;
    struct config_var vars[] = {
        {"PORT", CONFIG_INT, "8080", 0, "TCP port to listen on", 1, 65535, NULL, &n},
        {"IBX_DATABASE_URL", CONFIG_PGURL, NULL, 1, "PostgreSQL connection", 0, -1, NULL, &s},
        {"IBX_JWT_SECRET", CONFIG_SECRET, "do-not-print-me", 0, "HS256 secret", 0, -1, NULL, &s},
        {"IBX_LOG_LEVEL", CONFIG_ENUM, "info", 0, "Minimum level", 0, -1, "debug|info", &s},
        {"IBX_ACCESS_LOG", CONFIG_BOOL, "false", 0, "Log every request", 0, -1, NULL, &b},
    };
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    config_print_help(vars, 5, f);
    assert_int_equal(fclose(f), 0);
    assert_non_null(strstr(text, "  PORT "));
    assert_non_null(strstr(text, "integer 1..65535, default 8080. TCP port to listen on\n"));
    assert_non_null(strstr(text, "postgresql URL, required. PostgreSQL connection\n"));
    assert_non_null(strstr(text, "secret, default set. HS256 secret\n"));
    assert_null(strstr(text, "do-not-print-me"));
    assert_non_null(strstr(text, "one of debug|info, default info. Minimum level\n"));
    assert_non_null(strstr(text, "boolean, default false. Log every request\n"));
    size_t lines = 0;
    for (const char *p = text; *p; p++)
        lines += *p == '\n';
    assert_int_equal(lines, 5);
    free(text);
}

/* Reads everything written to fd since offset 0. */
static char *slurp_fd(int fd)
{
    static char text[8192];
    assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
    ssize_t n = read(fd, text, sizeof(text) - 1);
    assert_true(n >= 0);
    text[n] = '\0';
    return text;
}

static void test_warn_unknown(void **state)
{
    (void)state;
    const char *s = NULL;
    struct config_var vars[] = {
        {"IBX_DATABASE_URL", CONFIG_PGURL, NULL, 0, "db", 0, -1, NULL, &s},
        {"IBX_LOG_LEVEL", CONFIG_ENUM, "info", 0, "l", 0, -1, "debug|info", &s},
    };
    char path[] = "/tmp/test_config_log_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    setenv("IBX_DATABSE_URL", "postgresql://u:hunter2@db/x", 1); /* typo */
    setenv("IBX_SELECTION_URL", "http://selection:8081", 1);     /* another service's */
    setenv("IBX_LOG_LEVEL", "info", 1);                          /* known */
    setenv("OTHER_THING", "1", 1);                               /* other prefix */
    log_init("test", LOG_LVL_DEBUG);
    log_set_fd(fd);
    config_warn_unknown(vars, 2, "IBX_");
    config_warn_unknown(vars, 2, ""); /* no prefix: nothing */
    log_set_fd(2);
    const char *text = slurp_fd(fd);
    close(fd);
    assert_non_null(strstr(text, "unknown environment variable IBX_DATABSE_URL ignored (did you "
                                 "mean IBX_DATABASE_URL?)"));
    assert_non_null(strstr(text, "\"suggestion\":\"IBX_DATABASE_URL\""));
    assert_non_null(strstr(text, "unknown environment variable IBX_SELECTION_URL ignored\""));
    assert_null(strstr(text, "hunter2"));
    assert_null(strstr(text, "selection:8081"));
    assert_null(strstr(text, "variable IBX_LOG_LEVEL"));
    assert_null(strstr(text, "OTHER_THING"));
    size_t lines = 0;
    for (const char *p = text; *p; p++)
        lines += *p == '\n';
    assert_int_equal(lines, 2);
    unsetenv("IBX_DATABSE_URL");
    unsetenv("IBX_SELECTION_URL");
    unsetenv("IBX_LOG_LEVEL");
    unsetenv("OTHER_THING");
}

int main(void)
{
    /* variables from the caller's environment must not disturb the counts below */
    for (int again = 1; again;) {
        extern char **environ;
        again = 0;
        for (char **e = environ; *e; e++) {
            if (strncmp(*e, "IBX_", 4) == 0) {
                char name[256];
                snprintf(name, sizeof(name), "%.*s", (int)strcspn(*e, "="), *e);
                unsetenv(name);
                again = 1;
                break;
            }
        }
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_cases),        cmocka_unit_test(test_error_never_shows_secrets),
        cmocka_unit_test(test_long_value_is_cut), cmocka_unit_test(test_all_or_nothing),
        cmocka_unit_test(test_values_are_copies), cmocka_unit_test(test_bad_table),
        cmocka_unit_test(test_print_help),        cmocka_unit_test(test_warn_unknown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
