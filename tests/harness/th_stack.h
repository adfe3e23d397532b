/* th_stack: integration-test harness: a fresh database, a dev broker and real service
 * processes on free ports, driven over HTTP on 127.0.0.1. Everything started is stopped
 * by th_stack_stop(). Binaries come from $IBX_BIN_DIR. */
#ifndef TH_STACK_H
#define TH_STACK_H

#include <jansson.h>
#include <stddef.h>
#include <sys/types.h>

#define TH_MAX_SVCS 8

struct th_svc {
    const char *name; /* "gateway" */
    pid_t pid;
    int port;
    char url[64];  /* http://127.0.0.1:PORT */
    char log[512]; /* its stderr */
};

struct th_stack {
    char db_url[512];
    char brokers[256];
    char dir[256]; /* temp dir for this stack */
    pid_t broker_pid;
    char jwt_secret[64];
    struct th_svc svcs[TH_MAX_SVCS];
    size_t nsvcs;
};

/* Fresh database + dev broker. Returns 0 or -1 (with a message on stderr). */
int th_stack_start(struct th_stack *st);
/* Start service `name` (gateway, selection, ml-pipeline, ml-pipeline-worker (ibx-pipeline
 * --worker), xai-engine, xai-engine-worker (ibx-xai --worker), model-serving) with the
 * stack's settings plus extra "NAME=value" strings (NULL-terminated, may be NULL); wait
 * until /readyz answers 200 (up to 30 s). Returns the slot or NULL. */
struct th_svc *th_service_start(struct th_stack *st, const char *name, const char *const *extra);
/* SIGTERM and wait (up to 15 s, then SIGKILL). Returns the exit status, or -1 when killed. */
int th_service_stop(struct th_svc *svc);
/* Stop everything; returns how many services did not exit with status 0 (an unclean
 * stop, or a sanitizer report at exit). Their logs are kept under $IBX_TEST_OUTPUT. */
int th_stack_stop(struct th_stack *st);
/* Free TCP port on 127.0.0.1. */
int th_free_port(void);
/* Run a binary with env overrides and return its exit code; its stderr goes to errbuf. */
int th_run_capture(const char *bin, const char *const *env, char *errbuf, size_t errlen);

/* ---- HTTP ---- */
struct th_resp {
    long status;
    char *body; /* NUL-terminated, owned */
    size_t len;
    json_t *json; /* parsed body or NULL */
    char headers[4096];
};
/* headers: NULL-terminated "Name: value" lines. Returns 0 or -1 on transport failure. */
int th_http(const char *method, const char *url, const char *const *headers, const char *body,
            struct th_resp *out);
/* The same with a body of len bytes (may hold NUL bytes). */
int th_http_n(const char *method, const char *url, const char *const *headers, const void *body,
              size_t len, struct th_resp *out);
void th_resp_free(struct th_resp *r);
/* method base+path with a JSON body (may be NULL) and "Authorization: Bearer token" when
 * token is not NULL. Returns the status, or -1 on a transport failure. */
long th_call(const char *base, const char *method, const char *path, const char *token,
             const char *body, struct th_resp *out);
/* Value of a response header (case-insensitive) copied into out; 0 or -1. */
int th_resp_header(const struct th_resp *r, const char *name, char *out, size_t n);
/* Send raw bytes to 127.0.0.1:port, read the reply (up to n-1 bytes, bounded wait). */
int th_raw(int port, const char *data, size_t len, char *reply, size_t n);

#endif
