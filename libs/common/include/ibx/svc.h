/* svc: the start-up and shutdown wiring every service shares.
 *
 * svc_main() reads the common configuration table and the service's own, sets up
 * logging, the database pool (applying the service's migrations under an advisory lock),
 * the Kafka producer, the JWT keys, and the HTTP server with the service's routes, then
 * waits for SIGTERM/SIGINT and shuts down in order: stop accepting, finish in-flight
 * requests, stop the erasure consumer, run the service's fini, flush Kafka, close the
 * database.
 *
 * Every route without HTTP_PUBLIC needs an internal token (minted by the gateway) unless
 * the service gives its own authenticate hook (the gateway does).
 *
 * Data rights. Services behind the gateway (those without their own authenticate hook)
 * get a built-in route GET /internal/users/{id}/export: it needs an internal token whose
 * sub is {id} or whose role is admin (403 otherwise) and answers the service's
 * export_user(id) object, or {} when the service has no export_user. A service with an
 * erase_user callback runs a consumer (group "<name>-erasure") on ibx.user.events that
 * calls it for every {"type":"user.deleted","user_id":...} message; it starts after init
 * and stops before fini, so the callback may use s->db, s->bus and s->app. */
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

/* Data rights: the built-in export route (printf format, one %s: the user id) and the
 * event type published on ibx.user.events when an account is erased. */
#define SVC_EXPORT_PATH_FMT    "/internal/users/%s/export"
#define SVC_EVENT_USER_DELETED "user.deleted"

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
    /* Everything the service holds about user_id as a JSON object (a new reference the
     * caller decrefs), or NULL when it cannot be read (the export answers 503). NULL
     * callback: the service holds nothing per user and answers {}. */
    json_t *(*export_user)(struct svc *s, const char *user_id);
    /* Delete everything the service holds about user_id (a canonical UUID): 0, also when
     * there was nothing to delete, or a negative errno to have the message retried (and,
     * after the bus consumer's attempts, sent to ibx.dlq). Must be idempotent. */
    int (*erase_user)(struct svc *s, const char *user_id);
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
    const char *trusted_proxies;
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
    void *app;                    /* the service's own state, set by init */
    struct http_route *routes;    /* def->routes plus the built-ins; owned */
    struct bus_consumer *erasure; /* the ibx.user.events consumer when erase_user is set */
};

/* Run the service; returns the process exit code. */
int svc_main(const struct svc_def *def, int argc, char **argv);

/* Verify "Authorization: Bearer <internal token>" (aud ibx-internal, typ internal). */
int svc_auth_internal(void *svc, struct http_req *req, const char **why);

/* The bearer token of a request, or NULL. Borrowed. */
const char *svc_bearer(const struct http_req *req);

/* 1 when the caller is an admin. */
int svc_is_admin(const struct http_req *req);

/* An internal token for user_id with role ("" or NULL: user), as the gateway mints them
 * (iss, aud, typ, SVC_INTERNAL_TTL; rid: this thread's log request id), for the calls a
 * worker makes to another service on a user's behalf. *out is the caller's (free).
 * 0, -EACCES (the key set cannot issue: RS256 without the private key), -EINVAL, -ENOMEM. */
int svc_internal_token(struct svc *s, const char *user_id, const char *role, char **out)
    __attribute__((warn_unused_result));

/* The user id of an ibx.user.events value when it is a user.deleted event: 0 and out
 * (a lowercase copy of the id), -ENOENT for any other event type (nothing to do), -EINVAL
 * for a user.deleted event without a canonical UUID user_id, or a value that is not an
 * object with a string "type". */
int svc_user_deleted_id(const json_t *value, char out[37]) __attribute__((warn_unused_result));

/* The common variables (for --help, the README and manifest checks). */
extern const struct config_var svc_common_vars[];
extern const size_t svc_common_nvars;

#endif
