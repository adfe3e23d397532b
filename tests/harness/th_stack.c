/* th_stack: starting and stopping real processes and calling them over HTTP for tests. */
#include "th_stack.h"
#include "th_pg.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void th_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

int th_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    return ntohs(a.sin_port);
}

static const char *th_bin_dir(void)
{
    const char *d = getenv("IBX_BIN_DIR");
    return d ? d : "build/release/bin";
}

/* A service name: its binary, its folder under services/ and the argument that selects
 * its mode ("ml-pipeline-worker" is ibx-pipeline --worker, "xai-engine-worker" ibx-xai
 * --worker). */
struct th_kind {
    const char *name, *bin, *folder, *arg;
};

static const struct th_kind *th_kind_of(const char *svc)
{
    static const struct th_kind map[] = {
        {"gateway", "ibx-gateway", "gateway", NULL},
        {"selection", "ibx-selection", "selection", NULL},
        {"ml-pipeline", "ibx-pipeline", "ml-pipeline", NULL},
        {"ml-pipeline-worker", "ibx-pipeline", "ml-pipeline", "--worker"},
        {"xai-engine", "ibx-xai", "xai-engine", NULL},
        {"xai-engine-worker", "ibx-xai", "xai-engine", "--worker"},
        {"model-serving", "ibx-serving", "model-serving", NULL}};
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        if (strcmp(map[i].name, svc) == 0)
            return &map[i];
    }
    return NULL;
}

/* fork+exec bin with env additions; stderr/stdout to logpath. */
static pid_t th_spawn(const char *bin, char *const *argv, const char *const *env,
                      const char *logpath)
{
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    int fd = open(logpath, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
        close(fd);
    }
    for (size_t i = 0; env && env[i]; i++)
        putenv((char *)env[i]);
    execv(bin, argv);
    _exit(127);
}

int th_stack_start(struct th_stack *st)
{
    memset(st, 0, sizeof(*st));
    snprintf(st->dir, sizeof(st->dir), "/tmp/ibx-test-XXXXXX");
    if (!mkdtemp(st->dir) || th_db_create(st->db_url, sizeof(st->db_url)) != 0) {
        fprintf(stderr, "th_stack: cannot create a test database (IBX_TEST_DATABASE_URL?)\n");
        return -1;
    }
    snprintf(st->jwt_secret, sizeof(st->jwt_secret), "test-secret-0123456789-abcdefghijklmnop");
    char bin[512], boot[300], logp[300];
    snprintf(bin, sizeof(bin), "%s/ibx-devbroker", th_bin_dir());
    snprintf(boot, sizeof(boot), "%s/bootstrap", st->dir);
    snprintf(logp, sizeof(logp), "%s/devbroker.log", st->dir);
    char *argv[] = {bin, "--bootstrap-file", boot, NULL};
    st->broker_pid = th_spawn(bin, argv, NULL, logp);
    for (int i = 0; i < 300; i++) {
        FILE *f = fopen(boot, "r");
        if (f) {
            int ok = fgets(st->brokers, sizeof(st->brokers), f) != NULL;
            fclose(f);
            st->brokers[strcspn(st->brokers, "\r\n")] = '\0';
            if (ok && st->brokers[0])
                return 0;
        }
        th_sleep_ms(20);
    }
    fprintf(stderr, "th_stack: the dev broker did not start (see %s)\n", logp);
    return -1;
}

static int th_ready(const char *url)
{
    char u[128];
    snprintf(u, sizeof(u), "%s/readyz", url);
    struct th_resp r;
    int ok = th_http("GET", u, NULL, NULL, &r) == 0 && r.status == 200;
    if (r.body || r.json)
        th_resp_free(&r);
    return ok;
}

struct th_svc *th_service_start(struct th_stack *st, const char *name, const char *const *extra)
{
    const struct th_kind *k = th_kind_of(name);
    if (!k || st->nsvcs >= TH_MAX_SVCS)
        return NULL;
    struct th_svc *s = &st->svcs[st->nsvcs];
    memset(s, 0, sizeof(*s));
    s->name = name;
    s->port = th_free_port();
    snprintf(s->url, sizeof(s->url), "http://127.0.0.1:%d", s->port);
    snprintf(s->log, sizeof(s->log), "%s/%s-%d.log", st->dir, name, s->port);
    static char envs[TH_MAX_SVCS][8][640];
    char(*e)[640] = envs[st->nsvcs];
    snprintf(e[0], 640, "PORT=%d", s->port);
    snprintf(e[1], 640, "IBX_DATABASE_URL=%s", st->db_url);
    snprintf(e[2], 640, "IBX_KAFKA_BROKERS=%s", st->brokers);
    snprintf(e[3], 640, "IBX_JWT_SECRET=%s", st->jwt_secret);
    snprintf(e[4], 640, "IBX_BIND=127.0.0.1");
    snprintf(e[5], 640, "IBX_MIGRATIONS_DIR=services/%s/migrations", k->folder);
    snprintf(e[6], 640, "IBX_ARGON2_MEM_KIB=8192");
    snprintf(e[7], 640, "IBX_ARGON2_OPS=1");
    const char *env[32];
    size_t n = 0;
    for (; n < 8; n++)
        env[n] = e[n];
    /* Tests drive a gateway far faster than people do: generous rate limits unless the
     * test sets its own in extra (later entries win). */
    static const char *const gw_limits[] = {
        "IBX_RATE_AUTH_PER_MIN=1000000", "IBX_RATE_AUTH_BURST=1000000",
        "IBX_RATE_API_PER_MIN=1000000", "IBX_RATE_API_BURST=1000000", NULL};
    for (size_t i = 0; strcmp(name, "gateway") == 0 && gw_limits[i]; i++)
        env[n++] = gw_limits[i];
    for (size_t i = 0; extra && extra[i] && n < 31; i++)
        env[n++] = extra[i];
    env[n] = NULL;
    char bin[512];
    snprintf(bin, sizeof(bin), "%s/%s", th_bin_dir(), k->bin);
    char *argv[] = {bin, (char *)k->arg, NULL};
    s->pid = th_spawn(bin, argv, env, s->log);
    st->nsvcs++;
    for (int i = 0; i < 600; i++) {
        if (th_ready(s->url))
            return s;
        if (waitpid(s->pid, NULL, WNOHANG) == s->pid) {
            s->pid = 0;
            break;
        }
        th_sleep_ms(50);
    }
    fprintf(stderr, "th_stack: %s did not become ready (log: %s)\n", name, s->log);
    return NULL;
}

int th_service_stop(struct th_svc *svc)
{
    if (!svc || svc->pid <= 0)
        return -1;
    kill(svc->pid, SIGTERM);
    int status = 0;
    for (int i = 0; i < 300; i++) {
        if (waitpid(svc->pid, &status, WNOHANG) == svc->pid) {
            svc->pid = 0;
            return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        }
        th_sleep_ms(50);
    }
    kill(svc->pid, SIGKILL);
    waitpid(svc->pid, &status, 0);
    svc->pid = 0;
    return -1;
}

/* Keep a service's log under $IBX_TEST_OUTPUT for diagnosis. */
static void th_keep_log(const struct th_svc *s)
{
    const char *out = getenv("IBX_TEST_OUTPUT");
    if (!out)
        return;
    char cmd[1400];
    snprintf(cmd, sizeof(cmd), "cp '%s' '%s/svc-%s-%d.log' 2>/dev/null", s->log, out, s->name,
             s->port);
    if (system(cmd) != 0)
        fprintf(stderr, "th_stack: could not keep %s\n", s->log);
}

int th_stack_stop(struct th_stack *st)
{
    int unclean = 0;
    for (size_t i = 0; i < st->nsvcs; i++) {
        struct th_svc *s = &st->svcs[i];
        int was_running = s->pid > 0;
        int rc = th_service_stop(s);
        if (was_running && rc != 0) {
            fprintf(stderr, "th_stack: %s exited with %d (sanitizer report or unclean stop?)\n",
                    s->name, rc);
            unclean++;
        }
        th_keep_log(s);
    }
    if (st->broker_pid > 0) {
        kill(st->broker_pid, SIGTERM);
        for (int i = 0; i < 200 && waitpid(st->broker_pid, NULL, WNOHANG) != st->broker_pid; i++)
            th_sleep_ms(25);
        kill(st->broker_pid, SIGKILL);
        waitpid(st->broker_pid, NULL, WNOHANG);
    }
    if (st->db_url[0])
        th_db_drop(st->db_url);
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", st->dir);
    if (strncmp(st->dir, "/tmp/ibx-test-", 14) == 0 && system(cmd) != 0)
        fprintf(stderr, "th_stack: could not remove %s\n", st->dir);
    return unclean;
}

int th_run_capture(const char *bin, const char *const *env, char *errbuf, size_t errlen)
{
    char logp[] = "/tmp/ibx-run-XXXXXX";
    int fd = mkstemp(logp);
    if (fd < 0)
        return -1;
    close(fd);
    char *argv[] = {(char *)bin, NULL};
    pid_t pid = th_spawn(bin, argv, env, logp);
    int status = 0;
    waitpid(pid, &status, 0);
    FILE *f = fopen(logp, "r");
    size_t n = f ? fread(errbuf, 1, errlen - 1, f) : 0;
    errbuf[n] = '\0';
    if (f)
        fclose(f);
    unlink(logp);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* ------------------------------------------------------------------ HTTP */

struct th_acc {
    char *data;
    size_t len;
};

static size_t th_write(char *p, size_t sz, size_t n, void *ud)
{
    struct th_acc *a = ud;
    size_t add = sz * n;
    char *tmp = realloc(a->data, a->len + add + 1);
    if (!tmp)
        return 0;
    a->data = tmp;
    memcpy(a->data + a->len, p, add);
    a->len += add;
    a->data[a->len] = '\0';
    return add;
}

static size_t th_header(char *p, size_t sz, size_t n, void *ud)
{
    struct th_resp *r = ud;
    size_t used = strlen(r->headers), add = sz * n;
    if (used + add < sizeof(r->headers)) {
        memcpy(r->headers + used, p, add);
        r->headers[used + add] = '\0';
    }
    return add;
}

int th_http(const char *method, const char *url, const char *const *headers, const char *body,
            struct th_resp *out)
{
    return th_http_n(method, url, headers, body, body ? strlen(body) : 0, out);
}

int th_http_n(const char *method, const char *url, const char *const *headers, const void *body,
              size_t len, struct th_resp *out)
{
    memset(out, 0, sizeof(*out));
    CURL *c = curl_easy_init();
    if (!c)
        return -1;
    struct curl_slist *hl = NULL;
    for (size_t i = 0; headers && headers[i]; i++)
        hl = curl_slist_append(hl, headers[i]);
    struct th_acc acc = {0};
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, th_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &acc);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, th_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, out);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    }
    CURLcode rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
    curl_slist_free_all(hl);
    curl_easy_cleanup(c);
    out->body = acc.data ? acc.data : calloc(1, 1);
    out->len = acc.len;
    out->json = json_loads(out->body, 0, NULL);
    return rc == CURLE_OK ? 0 : -1;
}

long th_call(const char *base, const char *method, const char *path, const char *token,
             const char *body, struct th_resp *out)
{
    char url[1024], auth[9000];
    snprintf(url, sizeof(url), "%s%s", base, path);
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token ? token : "");
    const char *hdrs[3] = {"Content-Type: application/json", token ? auth : NULL, NULL};
    return th_http(method, url, hdrs, body, out) == 0 ? out->status : -1;
}

void th_resp_free(struct th_resp *r)
{
    free(r->body);
    json_decref(r->json);
    r->body = NULL;
    r->json = NULL;
}

int th_resp_header(const struct th_resp *r, const char *name, char *out, size_t n)
{
    size_t nl = strlen(name);
    for (const char *p = r->headers; *p;) {
        const char *eol = strstr(p, "\r\n");
        if (!eol)
            break;
        if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            const char *v = p + nl + 1;
            while (*v == ' ')
                v++;
            size_t vl = (size_t)(eol - v);
            snprintf(out, n, "%.*s", (int)vl, v);
            return 0;
        }
        p = eol + 2;
    }
    return -1;
}

int th_raw(int port, const char *data, size_t len, char *reply, size_t n)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    size_t off = 0;
    while (off < len) {
        ssize_t w = send(fd, data + off, len - off, MSG_NOSIGNAL);
        if (w <= 0)
            break; /* the server may close early (413): read what it said */
        off += (size_t)w;
    }
    size_t got = 0;
    struct pollfd p = {.fd = fd, .events = POLLIN};
    while (got < n - 1 && poll(&p, 1, 3000) > 0) {
        ssize_t r = recv(fd, reply + got, n - 1 - got, 0);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    reply[got] = '\0';
    close(fd);
    return (int)got;
}
