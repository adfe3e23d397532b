/* svc: shared service start-up (config, db, migrations, bus, keys, http), the data-rights
 * plumbing (export route, erasure consumer) and shutdown. */
#include <ibx/svc.h>

#include <ibx/clock.h>
#include <ibx/httpc.h>
#include <ibx/ids.h>
#include <ibx/log.h>

#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static struct svc_config svc_cfg_storage;

const struct config_var svc_common_vars[] = {
    {"PORT", CONFIG_INT, NULL, 0, "TCP port to listen on (default: the service's own port)", 0,
     65535, NULL, &svc_cfg_storage.port},
    {"IBX_BIND", CONFIG_STR, "0.0.0.0", 0, "IPv4 address to listen on", 1, 0, NULL,
     &svc_cfg_storage.bind},
    {"IBX_DATABASE_URL", CONFIG_PGURL, NULL, 1, "PostgreSQL connection URL", 1, 0, NULL,
     &svc_cfg_storage.database_url},
    {"IBX_DB_POOL_SIZE", CONFIG_INT, "8", 0, "PostgreSQL connections in the pool", 1, 256, NULL,
     &svc_cfg_storage.db_pool_size},
    {"IBX_DB_WAIT_S", CONFIG_INT, "30", 0,
     "seconds to wait for PostgreSQL at start-up before giving up", 0, 3600, NULL,
     &svc_cfg_storage.db_wait_s},
    {"IBX_KAFKA_BROKERS", CONFIG_STR, NULL, 1, "Kafka bootstrap servers (host:port,...)", 1, 0,
     NULL, &svc_cfg_storage.kafka_brokers},
    {"IBX_JWT_SECRET", CONFIG_SECRET, NULL, 0,
     "HS256 secret (32+ bytes) for tokens; required unless RS256 keys are given", 1, 0, NULL,
     &svc_cfg_storage.jwt_secret},
    {"IBX_JWT_PUBLIC_KEY", CONFIG_STR, NULL, 0,
     "RS256 public key (PEM text or file path); switches tokens to RS256", 1, 0, NULL,
     &svc_cfg_storage.jwt_public_key},
    {"IBX_JWT_PRIVATE_KEY", CONFIG_SECRET, NULL, 0,
     "RS256 private key (PEM text or file path); only the gateway needs it", 1, 0, NULL,
     &svc_cfg_storage.jwt_private_key},
    {"IBX_LOG_LEVEL", CONFIG_ENUM, "info", 0, "log level", 1, 0, "debug|info|warn|error",
     &svc_cfg_storage.log_level},
    {"IBX_ACCESS_LOG", CONFIG_BOOL, "true", 0, "log one line per HTTP request", 1, 0, NULL,
     &svc_cfg_storage.access_log},
    {"IBX_CORS_ORIGINS", CONFIG_STR, "", 0, "comma-separated origins allowed by CORS", 1, 0, NULL,
     &svc_cfg_storage.cors_origins},
    {"IBX_TRUSTED_PROXIES", CONFIG_STR, "", 0,
     "comma-separated addresses of proxies (an ingress) whose X-Forwarded-For gives the client "
     "address",
     1, 0, NULL, &svc_cfg_storage.trusted_proxies},
    {"IBX_MIGRATIONS_DIR", CONFIG_STR, NULL, 0,
     "folder of this service's NNN_name.sql migrations (default: services/<name>/migrations)", 1, 0,
     NULL, &svc_cfg_storage.migrations_dir},
    {"IBX_SHUTDOWN_GRACE_MS", CONFIG_INT, "10000", 0,
     "how long in-flight requests may run after SIGTERM", 0, 600000, NULL,
     &svc_cfg_storage.shutdown_grace_ms},
};
const size_t svc_common_nvars = sizeof(svc_common_vars) / sizeof(svc_common_vars[0]);

const char *svc_bearer(const struct http_req *req)
{
    const char *h = http_req_header(req, "Authorization");
    if (!h || strncasecmp(h, "Bearer ", 7) != 0)
        return NULL;
    h += 7;
    while (*h == ' ')
        h++;
    return *h ? h : NULL;
}

int svc_is_admin(const struct http_req *req)
{
    return req->authenticated && strcmp(req->claims.role, "admin") == 0;
}

int svc_internal_token(struct svc *s, const char *user_id, const char *role, char **out)
{
    struct auth_claims c;
    memset(&c, 0, sizeof(c));
    snprintf(c.sub, sizeof(c.sub), "%s", user_id);
    snprintf(c.role, sizeof(c.role), "%s", role && role[0] ? role : "user");
    snprintf(c.typ, sizeof(c.typ), SVC_INTERNAL_TYP);
    snprintf(c.iss, sizeof(c.iss), SVC_INTERNAL_ISS);
    snprintf(c.aud, sizeof(c.aud), SVC_INTERNAL_AUD);
    snprintf(c.rid, sizeof(c.rid), "%s", log_request_id());
    return auth_issue(s->keys, &c, SVC_INTERNAL_TTL, out);
}

int svc_auth_internal(void *app, struct http_req *req, const char **why)
{
    struct svc *s = app;
    const char *tok = svc_bearer(req);
    if (!tok) {
        *why = "an internal token is required (call this service through the gateway)";
        return -EPERM;
    }
    int rc = auth_verify(s->keys, tok, SVC_INTERNAL_ISS, SVC_INTERNAL_AUD, SVC_INTERNAL_TYP, 30,
                         &req->claims, why);
    if (rc == 0 && !ids_is_uuid(req->claims.sub)) {
        *why = "the token has no valid subject";
        return -EPERM;
    }
    return rc;
}

int svc_user_deleted_id(const json_t *value, char out[37])
{
    const char *type = json_string_value(json_object_get(value, "type"));
    if (!json_is_object(value) || !type)
        return -EINVAL;
    if (strcmp(type, SVC_EVENT_USER_DELETED) != 0)
        return -ENOENT;
    const char *id = json_string_value(json_object_get(value, "user_id"));
    if (!id || !ids_is_uuid(id))
        return -EINVAL;
    for (size_t i = 0; i < IDS_UUID_LEN; i++)
        out[i] = (char)tolower((unsigned char)id[i]);
    out[IDS_UUID_LEN] = '\0';
    return 0;
}

/* ------------------------------------------------------------------ data rights */

/* GET /internal/users/{id}/export: the service's part of a user's data export. */
static void svc_h_export(struct http_req *req, struct http_resp *resp)
{
    struct svc *s = req->app;
    const char *id = http_req_param(req, "id");
    if (!id || !ids_is_uuid(id)) {
        http_resp_error(resp, 404, "not_found", "no such user", NULL);
        return;
    }
    if (strcasecmp(id, req->claims.sub) != 0 && !svc_is_admin(req)) {
        http_resp_error(resp, 403, "forbidden", "only the user or an admin may export this data",
                        NULL);
        return;
    }
    char uid[IDS_UUID_LEN + 1];
    for (size_t i = 0; i <= IDS_UUID_LEN; i++)
        uid[i] = (char)tolower((unsigned char)id[i]);
    json_t *doc = s->def->export_user ? s->def->export_user(s, uid) : json_object();
    if (!doc) {
        http_resp_error(resp, 503, "export_failed",
                        "this service could not read the user's data; retry shortly", NULL);
        return;
    }
    http_resp_json(resp, 200, doc);
}

static const struct http_route svc_builtin_routes[] = {
    {"GET", "/internal/users/{id}/export", svc_h_export, 0, 0,
     "everything this service holds about a user (internal token of that user or an admin)"},
};

/* user.deleted on ibx.user.events: erase the user's data (other events are not ours). */
static int svc_erasure_handle(void *ctx, const struct bus_msg *m)
{
    struct svc *s = ctx;
    char id[IDS_UUID_LEN + 1];
    int rc = svc_user_deleted_id(m->value, id);
    if (rc == -ENOENT)
        return 0;
    if (rc) {
        if (m->attempt == 1)
            log_warn("malformed %s event at %s[%d]@%lld (ibx.dlq after retries)",
                     SVC_EVENT_USER_DELETED, m->topic, (int)m->partition, (long long)m->offset);
        return rc;
    }
    rc = s->def->erase_user(s, id);
    if (rc)
        log_fields(LOG_LVL_ERROR, json_pack("{s:s, s:i}", "user_id", id, "attempt", m->attempt),
                   "erasing the user's data failed (%s)", strerror(-rc));
    else
        log_fields(LOG_LVL_INFO, json_pack("{s:s}", "user_id", id), "erased the user's data");
    return rc;
}

static int svc_start_erasure(struct svc *s)
{
    if (!s->def->erase_user)
        return 0;
    static const char *const topics[] = {BUS_TOPIC_USER_EVENTS};
    char group[128];
    snprintf(group, sizeof(group), "%s-erasure", s->def->name);
    struct bus_consumer_opts o = {
        .brokers = s->cfg.kafka_brokers,
        .group_id = group,
        .topics = topics,
        .topic_count = 1,
        .handler = svc_erasure_handle,
        .ctx = s,
        .dlq = s->bus,
    };
    int rc = bus_consumer_start(&o, &s->erasure);
    if (rc)
        log_error("cannot start the %s consumer (%s)", group, strerror(-rc));
    return rc;
}

/* Stop the erasure consumer: before fini and before the bus (its DLQ producer) is freed. */
static void svc_stop_erasure(struct svc *s)
{
    bus_consumer_stop(s->erasure);
    s->erasure = NULL;
}

/* The service's routes plus the built-ins (for services behind the gateway) into s->routes.
 * 0 and *n, or -ENOMEM. */
static int svc_build_routes(struct svc *s, size_t *n)
{
    const struct svc_def *def = s->def;
    size_t extra =
        def->authenticate ? 0 : sizeof(svc_builtin_routes) / sizeof(svc_builtin_routes[0]);
    struct http_route *all = calloc(def->nroutes + extra + 1, sizeof(*all));
    if (!all)
        return -ENOMEM;
    if (def->nroutes)
        memcpy(all, def->routes, def->nroutes * sizeof(*all));
    if (extra)
        memcpy(all + def->nroutes, svc_builtin_routes, extra * sizeof(*all));
    s->routes = all;
    *n = def->nroutes + extra;
    return 0;
}

/* Read PEM text given inline or as a file path. Caller frees. */
static char *svc_read_pem(const char *v)
{
    if (strncmp(v, "-----BEGIN", 10) == 0)
        return strdup(v);
    FILE *f = fopen(v, "r");
    if (!f)
        return NULL;
    struct buf b;
    buf_init(&b, 64 * 1024);
    char chunk[4096];
    size_t n;
    int rc = 0;
    while (rc == 0 && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        rc = buf_append(&b, chunk, n);
    fclose(f);
    if (rc) {
        buf_release(&b);
        return NULL;
    }
    return buf_steal(&b);
}

static int svc_keys(struct svc *s)
{
    const struct svc_config *c = &s->cfg;
    if (c->jwt_public_key) {
        char *pub = svc_read_pem(c->jwt_public_key);
        char *priv = c->jwt_private_key ? svc_read_pem(c->jwt_private_key) : NULL;
        int rc = -EINVAL;
        if (pub && (priv || !c->jwt_private_key))
            rc = auth_keys_new_rs256(priv, pub, &s->keys);
        free(pub);
        if (priv) {
            explicit_bzero(priv, strlen(priv));
            free(priv);
        }
        if (rc)
            log_error("IBX_JWT_PUBLIC_KEY/IBX_JWT_PRIVATE_KEY: cannot load the RS256 keys");
        return rc;
    }
    if (!c->jwt_secret) {
        log_error("IBX_JWT_SECRET is required (or IBX_JWT_PUBLIC_KEY for RS256)");
        return -EINVAL;
    }
    int rc = auth_keys_new_hs256(c->jwt_secret, &s->keys);
    if (rc)
        log_error("IBX_JWT_SECRET must be at least 32 bytes");
    return rc;
}

static int svc_load_config(struct svc *s, const struct svc_def *def)
{
    char err[512];
    if (config_load(svc_common_vars, svc_common_nvars, err, sizeof(err)) != 0 ||
        (def->nvars && config_load(def->vars, def->nvars, err, sizeof(err)) != 0)) {
        fprintf(stderr, "%s: configuration error: %s\n", def->name, err);
        return -EINVAL;
    }
    s->cfg = svc_cfg_storage;
    if (s->cfg.port == 0)
        s->cfg.port = def->default_port;
    if (!s->cfg.migrations_dir)
        s->cfg.migrations_dir = def->migrations_dir;
    enum log_level lvl = LOG_LVL_INFO;
    if (log_level_parse(s->cfg.log_level, &lvl) != 0)
        lvl = LOG_LVL_INFO;
    log_init(def->name, lvl);
    return 0;
}

/* PostgreSQL may still be starting: retry the migrations for up to db_wait_s. */
static int svc_migrate(struct svc *s)
{
    int64_t deadline = clock_mono_ms() + s->cfg.db_wait_s * 1000;
    for (;;) {
        int rc = db_migrate(s->db, s->def->schema, s->cfg.migrations_dir);
        if (rc == 0)
            return 0;
        if (rc != -EIO || clock_mono_ms() >= deadline) {
            log_error("migrations of schema %s from %s failed (%s)", s->def->schema,
                      s->cfg.migrations_dir, strerror(-rc));
            return rc;
        }
        log_warn("PostgreSQL is not reachable yet; retrying");
        sleep(1);
    }
}

static int svc_ready(void *app, const char **why)
{
    struct svc *s = app;
    if (db_ping(s->db) != 0) {
        *why = "PostgreSQL is not reachable";
        return -EIO;
    }
    if (bus_ping(s->bus, 1000) != 0) {
        *why = "Kafka is not reachable";
        return -EIO;
    }
    return 0;
}

static int svc_start_http(struct svc *s)
{
    const struct svc_def *def = s->def;
    size_t nroutes = 0;
    if (svc_build_routes(s, &nroutes) != 0)
        return -ENOMEM;
    struct http_server_opts o = {
        .service = def->name,
        .version = "0.1.0",
        .bind_addr = s->cfg.bind,
        .port = (uint16_t)s->cfg.port,
        .routes = s->routes,
        .nroutes = nroutes,
        .app = s,
        .authenticate = def->authenticate ? def->authenticate : svc_auth_internal,
        .ready = svc_ready,
        .fallback = def->fallback,
        .admit = def->admit,
        .cors_origins = s->cfg.cors_origins,
        .trusted_proxies = s->cfg.trusted_proxies,
        .access_log = s->cfg.access_log,
    };
    int rc = http_server_start(&o, &s->http);
    if (rc == 0)
        log_fields(LOG_LVL_INFO, json_pack("{s:i}", "port", (int)http_server_port(s->http)),
                   "listening on %s:%u", s->cfg.bind, (unsigned)http_server_port(s->http));
    return rc;
}

static void svc_release(struct svc *s)
{
    svc_stop_erasure(s);
    free(s->routes);
    s->routes = NULL;
    bus_free(s->bus);
    db_pool_free(s->db);
    auth_keys_free(s->keys);
}

/* Warn about IBX_* variables that neither table knows (typos). */
static void svc_warn_unknown(const struct svc_def *def)
{
    size_t n = svc_common_nvars + def->nvars;
    struct config_var *all = calloc(n, sizeof(*all));
    if (!all)
        return;
    memcpy(all, svc_common_vars, svc_common_nvars * sizeof(*all));
    if (def->nvars)
        memcpy(all + svc_common_nvars, def->vars, def->nvars * sizeof(*all));
    config_warn_unknown(all, n, "IBX_");
    free(all);
}

static int svc_wait_signal(const sigset_t *set)
{
    int sig = 0;
    while (sigwait(set, &sig) != 0)
        ;
    return sig;
}

static int svc_setup(struct svc *s)
{
    int rc = svc_keys(s);
    if (rc)
        return rc;
    rc = db_pool_new(s->cfg.database_url, (int)s->cfg.db_pool_size, &s->db);
    if (rc) {
        log_error("cannot create the PostgreSQL pool (%s)", strerror(-rc));
        return rc;
    }
    rc = svc_migrate(s);
    if (rc)
        return rc;
    rc = bus_new(s->cfg.kafka_brokers, s->def->name, &s->bus);
    if (rc) {
        log_error("cannot create the Kafka producer (%s)", strerror(-rc));
        return rc;
    }
    if (s->def->init && (rc = s->def->init(s)) != 0) {
        log_error("service initialisation failed (%s)", strerror(-rc));
        return rc;
    }
    return 0;
}

int svc_main(const struct svc_def *def, int argc, char **argv)
{
    struct svc s = {.def = def};
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        printf("%s: IBIS-X %s service. Configuration (environment):\n", argv[0], def->name);
        config_print_help(svc_common_vars, svc_common_nvars, stdout);
        if (def->nvars)
            config_print_help(def->vars, def->nvars, stdout);
        return 0;
    }
    if (svc_load_config(&s, def) != 0)
        return 2;
    svc_warn_unknown(def);
    /* Block the stop signals in every thread; only sigwait() below receives them. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (ids_init() != 0 || httpc_global_init() != 0 || svc_setup(&s) != 0 ||
        svc_start_erasure(&s) != 0 || svc_start_http(&s) != 0) {
        svc_stop_erasure(&s);
        if (def->fini && s.app)
            def->fini(&s);
        svc_release(&s);
        return 1;
    }
    int sig = svc_wait_signal(&set);
    log_info("received %s; draining", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    http_server_drain(s.http);
    http_server_stop(s.http, (int)s.cfg.shutdown_grace_ms);
    svc_stop_erasure(&s);
    if (def->fini)
        def->fini(&s);
    svc_release(&s);
    httpc_global_cleanup();
    log_info("stopped");
    return 0;
}
