/* main: the gateway's configuration, start-up (admin bootstrap) and authentication hook. */
#include "gateway.h"

#include <ibx/ids.h>
#include <ibx/log.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static struct gw gw_state_storage;

static const struct config_var gw_vars[] = {
    {"IBX_SELECTION_URL", CONFIG_URL, "http://127.0.0.1:8081", 0, "selection service base URL", 1,
     0, NULL, &gw_state_storage.cfg.selection_url},
    {"IBX_PIPELINE_URL", CONFIG_URL, "http://127.0.0.1:8082", 0, "ml-pipeline service base URL", 1,
     0, NULL, &gw_state_storage.cfg.pipeline_url},
    {"IBX_XAI_URL", CONFIG_URL, "http://127.0.0.1:8083", 0, "xai-engine service base URL", 1, 0,
     NULL, &gw_state_storage.cfg.xai_url},
    {"IBX_SERVING_URL", CONFIG_URL, "http://127.0.0.1:8084", 0, "model-serving service base URL", 1,
     0, NULL, &gw_state_storage.cfg.serving_url},
    {"IBX_ACCESS_TTL_S", CONFIG_INT, "900", 0, "access-token lifetime in seconds", 60, 86400, NULL,
     &gw_state_storage.cfg.access_ttl_s},
    {"IBX_REFRESH_TTL_S", CONFIG_INT, "2592000", 0, "refresh-token lifetime in seconds", 300,
     31536000, NULL, &gw_state_storage.cfg.refresh_ttl_s},
    {"IBX_ARGON2_OPS", CONFIG_INT, "2", 0, "Argon2id passes (opslimit)", 1, 10, NULL,
     &gw_state_storage.cfg.argon2_ops},
    {"IBX_ARGON2_MEM_KIB", CONFIG_INT, "65536", 0, "Argon2id memory per hash in KiB", 8192, 1048576,
     NULL, &gw_state_storage.cfg.argon2_mem_kib},
    {"IBX_ADMIN_EMAIL", CONFIG_STR, NULL, 0, "email of the first admin, created at start-up", 1, 0,
     NULL, &gw_state_storage.cfg.admin_email},
    {"IBX_ADMIN_PASSWORD", CONFIG_SECRET, NULL, 0, "password of the first admin", 1, 0, NULL,
     &gw_state_storage.cfg.admin_password},
    {"IBX_UPSTREAM_TIMEOUT_MS", CONFIG_INT, "30000", 0, "timeout of a proxied request", 100,
     3600000, NULL, &gw_state_storage.cfg.upstream_timeout_ms},
    {"IBX_WEB_DIR", CONFIG_STR, "services/web/dist", 0, "folder of the web UI's static files", 1, 0,
     NULL, &gw_state_storage.cfg.web_dir},
    {"IBX_ACCOUNT_CHECK_TTL_MS", CONFIG_INT, "5000", 0,
     "how long a replica reuses an account's checked active flag and role (0: every request)", 0,
     60000, NULL, &gw_state_storage.cfg.account_check_ttl_ms},
    /* API keys, rate limits and quotas (keys.c, limits.c, quota.c) */
    {"IBX_RATE_AUTH_PER_MIN", CONFIG_INT, "20", 0,
     "requests a minute per client address on the public /api/v1/auth/ routes", 1, 1000000, NULL,
     &gw_state_storage.lim.auth_per_min},
    {"IBX_RATE_AUTH_BURST", CONFIG_INT, "10", 0, "of which at once", 1, 1000000, NULL,
     &gw_state_storage.lim.auth_burst},
    {"IBX_RATE_API_PER_MIN", CONFIG_INT, "600", 0,
     "requests a minute per user or API key (per address on other public routes)", 1, 1000000, NULL,
     &gw_state_storage.lim.api_per_min},
    {"IBX_RATE_API_BURST", CONFIG_INT, "100", 0, "of which at once", 1, 1000000, NULL,
     &gw_state_storage.lim.api_burst},
    {"IBX_RATE_LEASE_MAX", CONFIG_INT, "10", 0,
     "most tokens a replica leases at once (overshoot <= replicas x slice)", 1, 10000, NULL,
     &gw_state_storage.lim.lease_max},
    {"IBX_RATE_LEASE_MS", CONFIG_INT, "2000", 0,
     "unused leased tokens go back to the shared budget after this idle time", 100, 600000, NULL,
     &gw_state_storage.lim.lease_ms},
    {"IBX_API_KEY_CACHE_S", CONFIG_INT, "5", 0,
     "seconds a replica reuses an API-key lookup: a revoked key stops within this", 1, 300, NULL,
     &gw_state_storage.lim.key_cache_s},
    {"IBX_QUOTA_RUNS_PER_MONTH", CONFIG_INT, "500", 0, "pipeline runs per user and UTC month", 0,
     100000000, NULL, &gw_state_storage.lim.runs_per_month},
    {"IBX_QUOTA_CONCURRENT_EXPERIMENTS", CONFIG_INT, "5", 0,
     "experiments a user may run at once (enforced by ml-pipeline)", 0, 100000, NULL,
     &gw_state_storage.lim.concurrent_experiments},
    {"IBX_QUOTA_LLM_TOKENS_PER_DAY", CONFIG_INT, "200000", 0,
     "LLM tokens (prompt + completion) per user and UTC day", 0, 1000000000000L, NULL,
     &gw_state_storage.lim.llm_tokens_per_day},
    {"IBX_QUOTA_HOLD_S", CONFIG_INT, "900", 0,
     "a quota reservation without its usage event expires after this", 10, 604800, NULL,
     &gw_state_storage.lim.quota_hold_s},
};

/* Bearer access tokens (aud ibx-api, typ access) or API keys (ibx_...: admit.c) for every
 * non-public route, of accounts that are still active (their current role replaces the
 * token's: userstate.c). */
static int gw_authenticate(void *app, struct http_req *req, const char **why)
{
    struct svc *s = app;
    const char *tok = svc_bearer(req);
    if (!tok) {
        *why = "sign in first: send Authorization: Bearer <access token>";
        return -EPERM;
    }
    if (keys_is_secret(tok) && !req->may_block)
        return HTTP_NEEDS_WORKER; /* API keys are looked up in PostgreSQL when not cached */
    int rc = keys_is_secret(tok) ? admit_key_auth(s, tok, &req->claims, why)
                                 : tokcache_verify_access(s, tok, &req->claims, why);
    return rc ? rc : ustate_check(s, &req->claims, req->may_block, why);
}

/* Create the configured admin, or make the existing account an admin. */
static int gw_bootstrap_admin(struct svc *s, struct gw *g)
{
    const char *email = g->cfg.admin_email, *password = g->cfg.admin_password;
    if (!email && !password)
        return 0;
    if (!email || !password || acct_email_problem(email) ||
        acct_password_problem(password, email)) {
        log_error("IBX_ADMIN_EMAIL and IBX_ADMIN_PASSWORD must both be set, with a valid email "
                  "and a password of at least 8 characters");
        return -EINVAL;
    }
    struct gw_user u;
    int rc = store_user_by_email(s, email, &u);
    if (rc == 0)
        return strcmp(u.role, "admin") == 0 ? 0 : store_user_set_role(s, u.id, "admin");
    if (rc != -ENOENT)
        return rc;
    char hash[160];
    rc = acct_hash_password(g, password, hash, sizeof(hash));
    if (rc == 0)
        rc = store_user_create(s, email, hash, "Administrator", "admin", &u);
    if (rc == 0)
        log_info("created the admin account %s", email);
    return rc == -EEXIST ? 0 : rc; /* another replica created it first */
}

static int gw_init(struct svc *s)
{
    struct gw *g = &gw_state_storage;
    s->app = g;
    char random_pw[48];
    ids_random_token(random_pw, 24);
    int rc = acct_hash_password(g, random_pw, g->dummy_hash, sizeof(g->dummy_hash));
    if (rc == 0)
        rc = tokcache_init();
    if (rc == 0)
        rc = proxy_init(g);
    if (rc == 0)
        rc = gw_bootstrap_admin(s, g);
    return rc ? rc : admit_start(s);
}

static void gw_fini(struct svc *s)
{
    admit_stop(s);
    proxy_fini();
    tokcache_fini();
}

static const struct svc_def gw_def = {
    .name = "gateway",
    .schema = "gateway",
    .migrations_dir = "services/gateway/migrations",
    .default_port = 8080,
    .routes = gw_routes,
    .vars = gw_vars,
    .nvars = sizeof(gw_vars) / sizeof(gw_vars[0]),
    .authenticate = gw_authenticate,
    .admit = admit_request,
    .fallback = web_serve,
    .init = gw_init,
    .fini = gw_fini,
};

int main(int argc, char **argv)
{
    struct svc_def def = gw_def;
    def.nroutes = gw_nroutes;
    return svc_main(&def, argc, argv);
}
