/* test_outage: PostgreSQL stops under running services: /readyz says 503, requests get 503
 * in the error format, nothing crashes, and everything recovers by itself when the
 * database returns. Uses its own PostgreSQL cluster so parallel tests are not disturbed. */
#include "th_stack.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

static struct th_stack st;
static struct th_svc *gw, *sel;
static char pgdir[64];
static int pgport;

static int pg(const char *verb)
{
    char cmd[256];
    if (strcmp(verb, "start") == 0)
        snprintf(cmd, sizeof(cmd), "tools/pg.sh start %s %d", pgdir, pgport);
    else
        snprintf(cmd, sizeof(cmd), "tools/pg.sh stop %s", pgdir);
    return system(cmd);
}

static int setup(void **state)
{
    snprintf(pgdir, sizeof(pgdir), "/tmp/ibx-outage-%d", (int)getpid());
    pgport = th_free_port();
    if (pg("start") != 0)
        return -1;
    char url[128];
    snprintf(url, sizeof(url), "postgresql://postgres@127.0.0.1:%d/postgres", pgport);
    setenv("IBX_TEST_DATABASE_URL", url, 1);
    if (th_stack_start(&st) != 0)
        return -1;
    sel = th_service_start(&st, "selection", NULL);
    if (!sel)
        return -1;
    static char env[128];
    snprintf(env, sizeof(env), "IBX_SELECTION_URL=%s", sel->url);
    const char *extra[] = {env, NULL};
    gw = th_service_start(&st, "gateway", extra);
    return gw ? 0 : -1;
}

static int teardown(void **state)
{
    int unclean = th_stack_stop(&st);
    pg("stop");
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", pgdir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", pgdir);
    return unclean == 0 ? 0 : -1;
}

static long req(const char *method, const char *base, const char *path, const char *token,
                const char *body, struct th_resp *r)
{
    char url[256], auth[4096];
    snprintf(url, sizeof(url), "%s%s", base, path);
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token ? token : "");
    const char *hdrs[] = {"Content-Type: application/json", token ? auth : NULL, NULL};
    assert_int_equal(th_http(method, url, hdrs, body, r), 0);
    return r->status;
}

static int alive(const struct th_svc *s)
{
    return s->pid > 0 && waitpid(s->pid, NULL, WNOHANG) == 0;
}

static void test_database_outage_and_recovery(void **state)
{
    struct th_resp r;
    assert_int_equal(req("POST", gw->url, "/api/v1/auth/register", NULL,
                         "{\"email\":\"olga@example.org\",\"password\":\"olga-password\"}", &r),
                     201);
    char *tok = strdup(json_string_value(json_object_get(r.json, "access_token")));
    th_resp_free(&r);
    assert_int_equal(req("GET", gw->url, "/api/v1/datasets", tok, NULL, &r), 200);
    th_resp_free(&r);

    assert_int_equal(pg("stop"), 0);
    assert_int_equal(req("GET", sel->url, "/readyz", NULL, NULL, &r), 503);
    assert_string_equal(json_string_value(json_object_get(r.json, "error")), "not_ready");
    char retry[16];
    assert_int_equal(th_resp_header(&r, "Retry-After", retry, sizeof(retry)), 0);
    th_resp_free(&r);
    assert_int_equal(req("GET", gw->url, "/readyz", NULL, NULL, &r), 503);
    th_resp_free(&r);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(req("GET", gw->url, "/api/v1/datasets", tok, NULL, &r), 503);
        assert_non_null(json_string_value(json_object_get(r.json, "request_id")));
        th_resp_free(&r);
        assert_int_equal(req("POST", gw->url, "/api/v1/auth/login", NULL,
                             "{\"email\":\"olga@example.org\",\"password\":\"olga-password\"}", &r),
                         503);
        th_resp_free(&r);
    }
    assert_int_equal(req("GET", sel->url, "/healthz", NULL, NULL, &r), 200);
    th_resp_free(&r);
    assert_true(alive(sel));
    assert_true(alive(gw));

    assert_int_equal(pg("start"), 0);
    long status = 0;
    for (int i = 0; i < 100 && status != 200; i++) {
        status = req("GET", gw->url, "/api/v1/datasets", tok, NULL, &r);
        th_resp_free(&r);
        if (status != 200)
            usleep(200 * 1000);
    }
    assert_int_equal(status, 200);
    assert_int_equal(req("GET", sel->url, "/readyz", NULL, NULL, &r), 200);
    th_resp_free(&r);
    assert_int_equal(req("POST", gw->url, "/api/v1/auth/login", NULL,
                         "{\"email\":\"olga@example.org\",\"password\":\"olga-password\"}", &r),
                     200);
    th_resp_free(&r);
    free(tok);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_database_outage_and_recovery),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
