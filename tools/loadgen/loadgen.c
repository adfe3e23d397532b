/* loadgen: open-loop HTTP/1.1 load at a fixed rate with latency from the scheduled time. */
#include "loadgen.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define LG_BUF      (64 * 1024)
#define LG_TIMER_ID UINT64_MAX

struct lg_conn {
    int fd;
    int busy;        /* a request in flight */
    uint64_t due_ns; /* its scheduled time */
    size_t wrote;    /* request bytes written so far */
    char *buf;       /* answer bytes */
    size_t len;
};

struct lg {
    const struct lg_opts *o;
    struct lg_result *res;
    int ep, tfd;
    char req[4096];
    size_t req_len;
    struct lg_conn *conns;
    int *free_ids; /* stack of idle connection indexes */
    int nfree;
    int inflight;
    uint64_t start_ns, next, total, last_ns;
    size_t lat_cap;
};

static uint64_t lg_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t lg_due(const struct lg *g, uint64_t i)
{
    return g->start_ns + (uint64_t)((double)i * 1e9 / g->o->rate);
}

int lg_parse_url(const char *url, struct lg_opts *o)
{
    if (strncasecmp(url, "http://", 7) != 0)
        return -EINVAL;
    const char *h = url + 7;
    size_t hl = strcspn(h, ":/");
    if (hl == 0 || hl >= sizeof(o->host))
        return -EINVAL;
    memcpy(o->host, h, hl);
    o->host[hl] = '\0';
    const char *p = h + hl;
    size_t pl = 0;
    if (*p == ':') {
        pl = strspn(p + 1, "0123456789");
        if (pl == 0 || pl >= sizeof(o->port) || (p[1 + pl] != '/' && p[1 + pl] != '\0'))
            return -EINVAL;
        memcpy(o->port, p + 1, pl);
        o->port[pl] = '\0';
        p += 1 + pl;
    } else {
        memcpy(o->port, "80", 3);
    }
    const char *path = *p ? p : "/";
    if (strlen(path) >= sizeof(o->path) || strpbrk(path, " \r\n"))
        return -EINVAL;
    memcpy(o->path, path, strlen(path) + 1);
    return 0;
}

/* The request bytes, built once. */
static int lg_build_request(struct lg *g)
{
    const struct lg_opts *o = g->o;
    int n = snprintf(g->req, sizeof(g->req), "GET %s HTTP/1.1\r\nHost: %s:%s\r\n", o->path, o->host,
                     o->port);
    for (size_t i = 0; n > 0 && (size_t)n < sizeof(g->req) && i < o->nheaders; i++)
        n += snprintf(g->req + n, sizeof(g->req) - (size_t)n, "%s\r\n", o->headers[i]);
    if (n > 0 && (size_t)n < sizeof(g->req))
        n += snprintf(g->req + n, sizeof(g->req) - (size_t)n, "\r\n");
    if (n <= 0 || (size_t)n >= sizeof(g->req))
        return -EINVAL;
    g->req_len = (size_t)n;
    return 0;
}

/* A connected non-blocking socket added to the loop as connection id, or -1. */
static int lg_connect(struct lg *g, int id)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    if (getaddrinfo(g->o->host, g->o->port, &hints, &res) != 0)
        return -1;
    int fd = -1;
    for (const struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = (uint64_t)id};
    if (epoll_ctl(g->ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static void lg_record(struct lg *g, uint64_t lat)
{
    struct lg_result *r = g->res;
    if (r->nlat == g->lat_cap) {
        size_t cap = g->lat_cap ? g->lat_cap * 2 : 4096;
        uint64_t *tmp = realloc(r->lat_ns, cap * sizeof(*tmp));
        if (!tmp)
            return; /* the sample is lost, the counts are not */
        r->lat_ns = tmp;
        g->lat_cap = cap;
    }
    r->lat_ns[r->nlat++] = lat;
}

/* Write (the rest of) the request. 0, or -1 when the connection failed. */
static int lg_write(struct lg *g, struct lg_conn *c, int id)
{
    while (c->wrote < g->req_len) {
        ssize_t w = send(c->fd, g->req + c->wrote, g->req_len - c->wrote, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && errno == EAGAIN)
            break;
        if (w <= 0)
            return -1;
        c->wrote += (size_t)w;
    }
    struct epoll_event ev = {.events = EPOLLIN | (c->wrote < g->req_len ? EPOLLOUT : 0),
                             .data.u64 = (uint64_t)id};
    if (c->wrote < g->req_len)
        epoll_ctl(g->ep, EPOLL_CTL_MOD, c->fd, &ev);
    return 0;
}

/* Drop connection id (its request, if any, counts as an error) and open it again. */
static void lg_reconnect(struct lg *g, int id, int timed_out)
{
    struct lg_conn *c = &g->conns[id];
    if (c->busy) {
        if (timed_out)
            g->res->timeouts++;
        else
            g->res->errors++;
        c->busy = 0;
        g->inflight--;
    } else { /* idle: it is on the free stack */
        for (int i = 0; i < g->nfree; i++) {
            if (g->free_ids[i] == id) {
                g->free_ids[i] = g->free_ids[--g->nfree];
                break;
            }
        }
    }
    if (c->fd >= 0)
        close(c->fd);
    c->len = 0;
    c->fd = lg_connect(g, id);
    if (c->fd >= 0)
        g->free_ids[g->nfree++] = id;
}

/* Send every request whose time has come while a connection is free. */
static void lg_dispatch(struct lg *g, uint64_t now)
{
    while (g->next < g->total && lg_due(g, g->next) <= now && g->nfree > 0) {
        int id = g->free_ids[--g->nfree];
        struct lg_conn *c = &g->conns[id];
        c->busy = 1;
        c->wrote = 0;
        c->due_ns = lg_due(g, g->next++);
        g->res->scheduled++;
        g->inflight++;
        if (lg_write(g, c, id) != 0)
            lg_reconnect(g, id, 0);
    }
    if (g->next < g->total && g->nfree > 0) {
        uint64_t t = lg_due(g, g->next);
        struct itimerspec its = {.it_value = {(time_t)(t / 1000000000u), (long)(t % 1000000000u)}};
        timerfd_settime(g->tfd, TFD_TIMER_ABSTIME, &its, NULL);
    }
}

static const char *lg_find(const char *p, const char *end, const char *s)
{
    size_t n = strlen(s);
    for (; p + n <= end; p++) {
        if (memcmp(p, s, n) == 0)
            return p;
    }
    return NULL;
}

/* The value of header name in head[0..n), or NULL; *vl its length. */
static const char *lg_header(const char *head, size_t n, const char *name, size_t *vl)
{
    size_t nl = strlen(name);
    const char *end = head + n;
    for (const char *p = lg_find(head, end, "\r\n"); p && p + 2 < end;
         p = lg_find(p + 2, end, "\r\n")) {
        const char *line = p + 2;
        if ((size_t)(end - line) > nl && strncasecmp(line, name, nl) == 0 && line[nl] == ':') {
            const char *v = line + nl + 1;
            while (v < end && *v == ' ')
                v++;
            const char *e = lg_find(v, end, "\r\n");
            *vl = e ? (size_t)(e - v) : 0;
            return v;
        }
    }
    return NULL;
}

/* Chunked body at b[0..n): its length when complete, 0 when more is needed, -1 bad. */
static long lg_chunked(const char *b, size_t n)
{
    size_t off = 0;
    for (;;) {
        const char *eol = lg_find(b + off, b + n, "\r\n");
        if (!eol)
            return 0;
        char *e = NULL;
        unsigned long sz = strtoul(b + off, &e, 16);
        if (e == b + off)
            return -1;
        off = (size_t)(eol - b) + 2;
        if (sz == 0) {
            const char *fin = lg_find(b + off, b + n, "\r\n");
            while (fin && fin != b + off) { /* trailer lines */
                off = (size_t)(fin - b) + 2;
                fin = lg_find(b + off, b + n, "\r\n");
            }
            return fin ? (long)(off + 2) : 0;
        }
        if (off + sz + 2 > n)
            return 0;
        off += sz + 2;
    }
}

/* A whole answer in c->buf: its length, 0 when more is needed, -1 malformed; *status. */
static long lg_answer(const struct lg_conn *c, int *status)
{
    const char *b = c->buf;
    const char *he = lg_find(b, b + c->len, "\r\n\r\n");
    if (!he)
        return c->len >= LG_BUF ? -1 : 0;
    if (c->len < 12 || strncmp(b, "HTTP/1.", 7) != 0)
        return -1;
    *status = (int)strtol(b + 9, NULL, 10);
    size_t head = (size_t)(he - b) + 4, vl = 0;
    const char *te = lg_header(b, head, "Transfer-Encoding", &vl);
    if (te && vl >= 7 && strncasecmp(te + vl - 7, "chunked", 7) == 0) {
        long body = lg_chunked(b + head, c->len - head);
        return body <= 0 ? body : (long)head + body;
    }
    const char *cl = lg_header(b, head, "Content-Length", &vl);
    long len = cl ? strtol(cl, NULL, 10) : 0;
    if (len < 0 || head + (size_t)len > LG_BUF)
        return -1;
    return c->len >= head + (size_t)len ? (long)(head + (size_t)len) : 0;
}

static void lg_readable(struct lg *g, int id, uint64_t now)
{
    struct lg_conn *c = &g->conns[id];
    ssize_t r = recv(c->fd, c->buf + c->len, LG_BUF - c->len, 0);
    if (r < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (r <= 0 || !c->busy) {
        lg_reconnect(g, id, 0);
        return;
    }
    c->len += (size_t)r;
    int status = 0;
    long n = lg_answer(c, &status);
    if (n == 0)
        return;
    if (n < 0 || (size_t)n != c->len) { /* malformed, or bytes nobody asked for */
        lg_reconnect(g, id, 0);
        return;
    }
    lg_record(g, now - c->due_ns);
    if (status >= 200 && status < 300)
        g->res->ok++;
    else
        g->res->non2xx++;
    g->last_ns = now;
    size_t vl = 0;
    const char *conn = lg_header(c->buf, c->len, "Connection", &vl);
    int closing = conn && vl == 5 && strncasecmp(conn, "close", 5) == 0;
    c->busy = 0;
    c->len = 0;
    g->inflight--;
    g->free_ids[g->nfree++] = id;
    if (closing) /* the server ends this connection (e.g. nginx after 1000 requests) */
        lg_reconnect(g, id, 0);
}

static void lg_check_timeouts(struct lg *g, uint64_t now)
{
    uint64_t limit = (uint64_t)(g->o->timeout_s * 1e9);
    for (int i = 0; i < g->o->conns; i++) {
        if (g->conns[i].busy && now - g->conns[i].due_ns > limit)
            lg_reconnect(g, i, 1);
    }
}

static int lg_setup(struct lg *g)
{
    g->ep = epoll_create1(EPOLL_CLOEXEC);
    g->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    g->conns = calloc((size_t)g->o->conns, sizeof(*g->conns));
    g->free_ids = calloc((size_t)g->o->conns, sizeof(*g->free_ids));
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = LG_TIMER_ID};
    if (g->ep < 0 || g->tfd < 0 || !g->conns || !g->free_ids ||
        epoll_ctl(g->ep, EPOLL_CTL_ADD, g->tfd, &ev) != 0)
        return -ENOMEM;
    for (int i = 0; i < g->o->conns; i++) {
        g->conns[i].buf = malloc(LG_BUF);
        if (!g->conns[i].buf)
            return -ENOMEM;
        g->conns[i].fd = lg_connect(g, i);
        if (g->conns[i].fd < 0)
            return -ECONNREFUSED;
        g->free_ids[g->nfree++] = i;
    }
    return 0;
}

static void lg_teardown(struct lg *g)
{
    for (int i = 0; g->conns && i < g->o->conns; i++) {
        if (g->conns[i].fd >= 0)
            close(g->conns[i].fd);
        free(g->conns[i].buf);
    }
    free(g->conns);
    free(g->free_ids);
    if (g->tfd >= 0)
        close(g->tfd);
    if (g->ep >= 0)
        close(g->ep);
}

static int lg_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The event loop: until every scheduled request is answered or timed out. */
static void lg_loop(struct lg *g)
{
    uint64_t stop_ns = lg_due(g, g->total) + (uint64_t)(g->o->timeout_s * 1e9);
    uint64_t last_check = g->start_ns;
    struct epoll_event evs[64];
    for (;;) {
        uint64_t now = lg_now();
        if ((g->next >= g->total && g->inflight == 0) || now > stop_ns)
            break;
        lg_dispatch(g, now);
        int n = epoll_wait(g->ep, evs, 64, 100);
        now = lg_now();
        for (int i = 0; i < n; i++) {
            uint64_t id = evs[i].data.u64;
            if (id == LG_TIMER_ID) {
                uint64_t ticks;
                ssize_t rd = read(g->tfd, &ticks, sizeof(ticks));
                (void)rd;
            } else if (evs[i].events & EPOLLOUT) {
                if (lg_write(g, &g->conns[id], (int)id) != 0)
                    lg_reconnect(g, (int)id, 0);
            } else {
                lg_readable(g, (int)id, now);
            }
        }
        if (now - last_check > 100000000u) {
            lg_check_timeouts(g, now);
            last_check = now;
        }
    }
}

int lg_run(const struct lg_opts *o, struct lg_result *out)
{
    struct lg g = {.o = o, .res = out, .ep = -1, .tfd = -1};
    memset(out, 0, sizeof(*out));
    if (o->rate <= 0 || o->duration_s <= 0 || o->conns < 1 || lg_build_request(&g) != 0)
        return -EINVAL;
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0); /* wake at the scheduled times, not 50 us late */
    int rc = lg_setup(&g);
    if (rc) {
        lg_teardown(&g);
        return rc;
    }
    g.total = (uint64_t)(o->rate * o->duration_s);
    g.start_ns = lg_now() + 10000000u; /* 10 ms to settle */
    lg_loop(&g);
    out->unsent = g.total - g.next;
    out->timeouts += (uint64_t)g.inflight; /* still unanswered at the end */
    out->elapsed_s = (double)((g.last_ns > g.start_ns ? g.last_ns : lg_now()) - g.start_ns) / 1e9;
    lg_teardown(&g);
    qsort(out->lat_ns, out->nlat, sizeof(*out->lat_ns), lg_cmp);
    return 0;
}

void lg_result_release(struct lg_result *r)
{
    free(r->lat_ns);
    r->lat_ns = NULL;
    r->nlat = 0;
}

uint64_t lg_quantile(const struct lg_result *r, double q)
{
    if (r->nlat == 0)
        return 0;
    size_t i = (size_t)(q * (double)(r->nlat - 1) + 0.5);
    return r->lat_ns[i < r->nlat ? i : r->nlat - 1];
}
