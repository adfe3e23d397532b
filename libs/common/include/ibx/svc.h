/* svc: the start-up and shutdown wiring every service shares.
 *
 * svc_main() reads the common configuration table and the service's own, sets up
 * logging, the database pool (applying the service's migrations under an advisory lock),
 * the Kafka producer, the JWT keys, and the HTTP server with the service's routes, then
 * waits for SIGTERM/SIGINT and shuts down in order: stop accepting, finish in-flight
 * requests, run the service's fini, flush Kafka, close the database.
 *
 * Every route without HTTP_PUBLIC needs an internal token (minted by the gateway) unless
 * the service gives its own authenticate hook (the gateway does). */
#ifndef IBX_SVC_H
#define IBX_SVC_H

#include <ibx/auth.h>
#include <ibx/bus.h>
#include <ibx/config.h>
#include <ibx/db.h>
#include <ibx/http.h>

#define SVC_INTERNAL_ISS "ibx-gateway"
#define SVC_INTERNAL_AUD "ibx-internal"
#define SVC_INTERNAL_TYP "internal"
#define SVC_INTERNAL_TTL 60

struct svc;

struct svc_def {
    const char *name;           /* "selection": logs, metrics, OpenAPI title */
    const char *schema;         /* PostgreSQL schema owned by the service */
    const char *migrations_dir; /* default for IBX_MIGRATIONS_DIR */
    long default_port;
    const struct http_route *routes;
    size_t nroutes;
    const struct config_var *vars; /* the service's own variables (may be NULL) */
    size_t nvars;
    http_auth_fn authenticate;   /* NULL: internal token (svc_auth_internal) */
    http_handler_fn fallback;    /* GET/HEAD no route matches (the gateway's web UI) */
    http_admit_fn admit;         /* rate limits / quotas before each handler (gateway) */
    int (*init)(struct svc *s);  /* after db/bus/keys are ready, before listening */
    void (*fini)(struct svc *s); /* after the server stopped, before bus/db close */
};

/* The common configuration, filled from the environment by svc_main(). */
struct svc_config {
    long port;
    const char *bind;
    const char *database_url;
    long db_pool_size;
    long db_wait_s;
    const char *kafka_brokers;
    const char *jwt_secret;
    const char *jwt_public_key;  /* PEM text or a path to a PEM file */
    const char *jwt_private_key; /* PEM text or a path to a PEM file */
    const char *log_level;
    const char *cors_origins;
    const char *migrations_dir;
    long shutdown_grace_ms;
    int access_log;
};

struct svc {
    const struct svc_def *def;
    struct svc_config cfg;
    struct db_pool *db;
    struct bus *bus;
    struct auth_keys *keys;
    struct http_server *http;
    void *app; /* the service's own state, set by init */
};

/* Run the service; returns the process exit code. */
int svc_main(const struct svc_def *def, int argc, char **argv);

/* Verify "Authorization: Bearer <internal token>" (aud ibx-internal, typ internal). */
int svc_auth_internal(void *svc, struct http_req *req, const char **why);

/* The bearer token of a request, or NULL. Borrowed. */
const char *svc_bearer(const struct http_req *req);

/* 1 when the caller is an admin. */
int svc_is_admin(const struct http_req *req);

/* The common variables (for --help, the README and manifest checks). */
extern const struct config_var svc_common_vars[];
extern const size_t svc_common_nvars;

#endif
