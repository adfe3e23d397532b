/* uplink: lean HTTP/1.1 upstream client with a pool of kept-alive sockets. */
#include <ibx/uplink.h>

#include <ibx/clock.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define UPLINK_IDLE_MAX 256
#define UPLINK_HEAD_MAX (64 * 1024)
#define UPLINK_RBUF     (64 * 1024 + 512)
#define UPLINK_LINE_MAX 4096

struct uplink_nest;
struct uplink_sock;

struct uplink_pool {
    char host[256];
    char port[8];
    char authority[272]; /* Host header value */
    unsigned long id;    /* unique per pool ever made */
    pthread_mutex_t mu;
    int idle[UPLINK_IDLE_MAX];
    size_t nidle;
    struct uplink_nest *nests; /* per event loop, see uplink_start_async */
};

static atomic_ulong uplink_pool_ids;

static void nests_free(struct uplink_pool *p);

enum body_mode { BODY_NONE, BODY_LENGTH, BODY_CHUNKED, BODY_CLOSE };
enum chunk_state { CH_SIZE, CH_DATA, CH_DATA_CRLF, CH_TRAILER };

struct uplink {
    struct uplink_pool *pool;
    const struct uplink_req *req;
    int fd;
    int reused;        /* the socket came from the pool */
    long long sent;    /* body bytes sent */
    int req_done;      /* the whole request is sent */
    int broken;        /* never reuse this socket */
    long rcvtimeo_ms;  /* SO_RCVTIMEO as last set on fd (0: unknown) */
    char *rbuf;        /* raw bytes read from the socket */
    size_t roff, rlen; /* unread raw bytes are rbuf[roff..rlen) */
    struct httpc_headers hdrs;
    long status;
    int head_done;
    enum body_mode mode;
    long long left; /* LENGTH: body bytes left; CHUNKED: bytes left in this chunk */
    enum chunk_state cst;
    int body_done;
    int conn_close;
    struct buf held; /* decoded body bytes gathered by uplink_buffer */
    size_t held_off;
    /* asynchronous exchanges */
    struct uplink_sock *sock; /* its socket while it belongs to a loop's nest */
    int awaiting;             /* the answer is awaited on the loop */
    int rbuf_lent;            /* rbuf is the socket's (kept with it between exchanges) */
    uplink_done_fn done;
    void *done_ctx;
    size_t buffer_max;
};

/* ------------------------------------------------------------------ pool */

int uplink_pool_new(const char *base_url, struct uplink_pool **out)
{
    if (!base_url || strncasecmp(base_url, "http://", 7) != 0)
        return -EINVAL;
    const char *h = base_url + 7;
    size_t hl = strcspn(h, ":/");
    if (hl == 0 || hl >= sizeof(((struct uplink_pool *)0)->host))
        return -EINVAL;
    const char *port = "80";
    size_t pl = 2;
    if (h[hl] == ':') {
        port = h + hl + 1;
        pl = strcspn(port, "/");
        long v = 0;
        for (size_t i = 0; i < pl && i < 6; i++)
            v = (port[i] >= '0' && port[i] <= '9') ? v * 10 + (port[i] - '0') : -1;
        if (pl == 0 || pl > 5 || v < 1 || v > 65535)
            return -EINVAL;
    }
    struct uplink_pool *p = calloc(1, sizeof(*p));
    if (!p)
        return -ENOMEM;
    snprintf(p->host, sizeof(p->host), "%.*s", (int)hl, h);
    snprintf(p->port, sizeof(p->port), "%.*s", (int)pl, port);
    snprintf(p->authority, sizeof(p->authority), "%s:%s", p->host, p->port);
    p->id = atomic_fetch_add(&uplink_pool_ids, 1) + 1;
    pthread_mutex_init(&p->mu, NULL);
    *out = p;
    return 0;
}

void uplink_pool_free(struct uplink_pool *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->nidle; i++)
        close(p->idle[i]);
    nests_free(p);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

/* An idle socket, or -1. With check, only one the upstream has not closed: a request
 * with a body must not start on a dead socket (it could not be sent again); a bodiless
 * one skips the check and is resent if the socket turns out dead (see uplink_headers). */
static int pool_take(struct uplink_pool *p, int check)
{
    for (;;) {
        int fd = -1;
        pthread_mutex_lock(&p->mu);
        if (p->nidle > 0)
            fd = p->idle[--p->nidle];
        pthread_mutex_unlock(&p->mu);
        if (fd < 0 || !check)
            return fd;
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        if (poll(&pf, 1, 0) == 0)
            return fd; /* nothing to read: not closed, no stray bytes */
        close(fd);
    }
}

static void pool_give(struct uplink_pool *p, int fd)
{
    pthread_mutex_lock(&p->mu);
    if (p->nidle < UPLINK_IDLE_MAX) {
        p->idle[p->nidle++] = fd;
        fd = -1;
    }
    pthread_mutex_unlock(&p->mu);
    if (fd >= 0)
        close(fd);
}

/* ------------------------------------------------------------------ sockets */

static long timeout_or(long v, long def)
{
    return v > 0 ? v : def;
}

static int connect_one(const struct addrinfo *ai, long timeout_ms)
{
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -EIO;
    int rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
        struct pollfd pf = {.fd = fd, .events = POLLOUT};
        int err = 0;
        socklen_t len = sizeof(err);
        rc = poll(&pf, 1, (int)timeout_ms);
        if (rc == 0) {
            close(fd);
            return -ETIMEDOUT;
        }
        rc = (rc < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err) ? -1 : 0;
    }
    if (rc != 0) {
        close(fd);
        return -ECONNREFUSED;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    return fd;
}

static int connect_upstream(const struct uplink_pool *p, long timeout_ms)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    if (getaddrinfo(p->host, p->port, &hints, &res) != 0)
        return -ECONNREFUSED;
    int fd = -ECONNREFUSED;
    for (const struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = connect_one(ai, timeout_ms);
        if (fd >= 0 || fd == -ETIMEDOUT)
            break;
    }
    freeaddrinfo(res);
    return fd;
}

static int send_iov(int fd, struct iovec *iov, int n)
{
    while (n > 0) {
        struct msghdr m = {.msg_iov = iov, .msg_iovlen = (size_t)n};
        ssize_t w = sendmsg(fd, &m, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -EIO;
        size_t left = (size_t)w;
        while (n > 0 && left >= iov->iov_len) {
            left -= iov->iov_len;
            iov++;
            n--;
        }
        if (n > 0) {
            iov->iov_base = (char *)iov->iov_base + left;
            iov->iov_len -= left;
        }
    }
    return 0;
}

/* Make room at the end of rbuf. 0, or -EMSGSIZE when it is full of unread bytes. */
static int rbuf_room(struct uplink *u)
{
    if (u->roff > 0 && u->roff == u->rlen) {
        u->roff = u->rlen = 0;
    } else if (u->roff > 0 && u->rlen == UPLINK_RBUF) {
        memmove(u->rbuf, u->rbuf + u->roff, u->rlen - u->roff);
        u->rlen -= u->roff;
        u->roff = 0;
    }
    return u->rlen == UPLINK_RBUF ? -EMSGSIZE : 0;
}

/* Read more raw bytes within timeout_ms: > 0 bytes, 0 at EOF, < 0 error. */
static ssize_t read_more(struct uplink *u, long timeout_ms)
{
    int rc = rbuf_room(u);
    if (rc)
        return rc;
    /* one blocking recv bounded by SO_RCVTIMEO (set only when the bound changes) */
    if (u->rcvtimeo_ms != timeout_ms) {
        struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
        setsockopt(u->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        u->rcvtimeo_ms = timeout_ms;
    }
    ssize_t r;
    do {
        r = recv(u->fd, u->rbuf + u->rlen, UPLINK_RBUF - u->rlen, 0);
    } while (r < 0 && errno == EINTR);
    if (r < 0)
        return (errno == EAGAIN || errno == EWOULDBLOCK) ? -ETIMEDOUT : -EIO;
    u->rlen += (size_t)r;
    return r;
}

/* The same without waiting: > 0 bytes, 0 at EOF, -EAGAIN when nothing is there yet. */
static ssize_t read_now(struct uplink *u)
{
    int rc = rbuf_room(u);
    if (rc)
        return rc;
    ssize_t r;
    do {
        r = recv(u->fd, u->rbuf + u->rlen, UPLINK_RBUF - u->rlen, MSG_DONTWAIT);
    } while (r < 0 && errno == EINTR);
    if (r < 0)
        return (errno == EAGAIN || errno == EWOULDBLOCK) ? -EAGAIN : -EIO;
    u->rlen += (size_t)r;
    return r;
}

/* ------------------------------------------------------------------ request */

/* The request head into head (initialised by the caller). */
static int build_head(const struct uplink *u, struct buf *head)
{
    const struct uplink_req *r = u->req;
    const char *parts[] = {
        r->method, " ", r->target, " HTTP/1.1\r\nHost: ", u->pool->authority, "\r\n"};
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < sizeof(parts) / sizeof(parts[0]); i++)
        rc = buf_append_str(head, parts[i]);
    for (size_t i = 0; rc == 0 && r->headers && r->headers[i]; i++) {
        rc = buf_append_str(head, r->headers[i]);
        if (rc == 0)
            rc = buf_append(head, "\r\n", 2);
    }
    if (rc == 0 && r->body_size >= 0)
        rc = buf_printf(head, "Content-Length: %lld\r\n", r->body_size);
    if (rc == 0 && r->body_size == -2)
        rc = buf_append_str(head, "Transfer-Encoding: chunked\r\n");
    if (rc == 0)
        rc = buf_append_str(head, "\r\n");
    return rc;
}

static int send_head(struct uplink *u)
{
    struct buf head;
    buf_init(&head, UPLINK_HEAD_MAX);
    int rc = build_head(u, &head);
    if (rc == 0) {
        struct iovec iov = {.iov_base = head.data, .iov_len = head.len};
        rc = send_iov(u->fd, &iov, 1);
    }
    buf_release(&head);
    return rc;
}

/* Take a pooled socket (or connect) and send the head; a pooled socket that fails on
 * the first write is replaced once. */
static int open_and_send(struct uplink *u, int allow_pooled)
{
    int fd = allow_pooled ? pool_take(u->pool, u->req->body_size != -1) : -1;
    u->reused = fd >= 0;
    if (fd < 0)
        fd = connect_upstream(u->pool, timeout_or(u->req->connect_timeout_ms, 2000));
    if (fd < 0)
        return fd;
    u->fd = fd;
    u->rcvtimeo_ms = 0; /* a pooled socket keeps the last exchange's value: set it again */
    int rc = send_head(u);
    if (rc && u->reused) {
        close(u->fd);
        u->fd = -1;
        return open_and_send(u, 0);
    }
    return rc;
}

int uplink_start(struct uplink_pool *p, const struct uplink_req *r, struct uplink **out)
{
    if (!p || !r || !r->method || !r->target || r->target[0] != '/' || r->body_size < -2)
        return -EINVAL;
    struct uplink *u = calloc(1, sizeof(*u));
    char *rbuf = malloc(UPLINK_RBUF);
    if (!u || !rbuf) {
        free(u);
        free(rbuf);
        return -ENOMEM;
    }
    u->pool = p;
    u->req = r;
    u->fd = -1;
    u->rbuf = rbuf;
    u->req_done = r->body_size == -1 || r->body_size == 0;
    buf_init(&u->hdrs.raw, HTTPC_MAX_HEADERS);
    buf_init(&u->held, (size_t)1 << 30);
    int rc = open_and_send(u, 1);
    if (rc) {
        u->broken = 1;
        uplink_free(u);
        return rc;
    }
    *out = u;
    return 0;
}

int uplink_write(struct uplink *u, const void *data, size_t len)
{
    if (u->broken)
        return -EIO;
    if (len == 0)
        return 0;
    const struct uplink_req *r = u->req;
    if (r->body_size >= 0 && u->sent + (long long)len > r->body_size)
        return -EINVAL;
    char size_line[24];
    struct iovec iov[3];
    int n = 0;
    if (r->body_size == -2) {
        int k = snprintf(size_line, sizeof(size_line), "%zx\r\n", len);
        iov[n++] = (struct iovec){size_line, (size_t)k};
    }
    iov[n++] = (struct iovec){(void *)data, len};
    if (r->body_size == -2)
        iov[n++] = (struct iovec){"\r\n", 2};
    if (send_iov(u->fd, iov, n) != 0) {
        u->broken = 1;
        return -EIO;
    }
    u->sent += (long long)len;
    return 0;
}

int uplink_write_end(struct uplink *u)
{
    if (u->req_done)
        return 0;
    if (u->broken)
        return -EIO;
    if (u->req->body_size == -2) {
        struct iovec iov = {"0\r\n\r\n", 5};
        if (send_iov(u->fd, &iov, 1) != 0) {
            u->broken = 1;
            return -EIO;
        }
    } else if (u->sent != u->req->body_size) {
        u->broken = 1;
        return -EIO;
    }
    u->req_done = 1;
    return 0;
}

/* ------------------------------------------------------------------ response head */

static const char *find_crlf(const char *p, const char *end)
{
    for (; p + 1 < end; p++) {
        if (p[0] == '\r' && p[1] == '\n')
            return p;
    }
    return NULL;
}

static int parse_status(struct uplink *u, const char *line, size_t len)
{
    if (len < 12 || strncmp(line, "HTTP/1.", 7) != 0 || line[8] != ' ')
        return -EIO;
    int st = 0;
    for (int i = 9; i < 12; i++) {
        if (line[i] < '0' || line[i] > '9')
            return -EIO;
        st = st * 10 + (line[i] - '0');
    }
    if (st < 100 || (len > 12 && line[12] != ' '))
        return -EIO;
    u->status = st;
    u->conn_close = line[7] == '0';
    return 0;
}

static int add_header(struct uplink *u, const char *line, size_t len)
{
    const char *colon = memchr(line, ':', len);
    if (!colon || colon == line || memchr(line, '\0', len))
        return -EIO;
    const char *v = colon + 1, *end = line + len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    size_t nl = (size_t)(colon - line), vl = (size_t)(end - v);
    if (buf_append(&u->hdrs.raw, line, nl) || buf_append(&u->hdrs.raw, "", 1) ||
        buf_append(&u->hdrs.raw, v, vl) || buf_append(&u->hdrs.raw, "", 1))
        return -EMSGSIZE;
    if (nl == 14 && strncasecmp(line, "Content-Length", 14) == 0) {
        char *e = NULL;
        long long n = strtoll(v, &e, 10);
        if (e == v || e != end || n < 0)
            return -EIO;
        u->left = n;
        if (u->mode != BODY_CHUNKED)
            u->mode = BODY_LENGTH;
    } else if (nl == 17 && strncasecmp(line, "Transfer-Encoding", 17) == 0) {
        if (vl >= 7 && strncasecmp(end - 7, "chunked", 7) == 0)
            u->mode = BODY_CHUNKED;
    } else if (nl == 10 && strncasecmp(line, "Connection", 10) == 0) {
        if (vl == 5 && strncasecmp(v, "close", 5) == 0)
            u->conn_close = 1;
    }
    return 0;
}

/* Parse one complete head in rbuf[roff..roff+n). */
static int parse_head(struct uplink *u, size_t n)
{
    const char *p = u->rbuf + u->roff, *end = p + n;
    buf_reset(&u->hdrs.raw);
    u->mode = BODY_CLOSE;
    u->left = 0;
    const char *eol = find_crlf(p, end);
    int rc = parse_status(u, p, (size_t)(eol - p));
    for (p = eol + 2; rc == 0 && p < end - 2; p = eol + 2) {
        eol = find_crlf(p, end);
        rc = add_header(u, p, (size_t)(eol - p));
    }
    u->roff += n;
    if (rc)
        return rc;
    int bodiless = u->status < 200 || u->status == 204 || u->status == 304 ||
                   strcmp(u->req->method, "HEAD") == 0;
    if (bodiless || (u->mode == BODY_LENGTH && u->left == 0)) {
        u->mode = BODY_NONE;
        u->body_done = u->status >= 200;
    }
    if (u->mode == BODY_CHUNKED)
        u->cst = CH_SIZE;
    if (u->mode == BODY_CLOSE)
        u->conn_close = 1;
    return 0;
}

/* The head's length when complete in the buffer, else 0. */
static size_t head_len(const struct uplink *u)
{
    const char *p = u->rbuf + u->roff;
    size_t n = u->rlen - u->roff;
    for (size_t i = 3; i < n; i++) {
        if (p[i] == '\n' && p[i - 1] == '\r' && p[i - 2] == '\n' && p[i - 3] == '\r')
            return i + 1;
    }
    return 0;
}

static int read_head(struct uplink *u, long timeout_ms)
{
    size_t n;
    while ((n = head_len(u)) == 0) {
        if (u->rlen - u->roff >= UPLINK_HEAD_MAX)
            return -EMSGSIZE;
        ssize_t r = read_more(u, timeout_ms);
        if (r <= 0)
            return r == 0 ? -EIO : (int)r;
    }
    return parse_head(u, n);
}

int uplink_headers(struct uplink *u, long *status, const struct httpc_headers **h)
{
    long timeout = timeout_or(u->req->header_timeout_ms, 30000);
    while (!u->head_done) {
        int rc = read_head(u, timeout);
        /* a pooled socket closed under us, before any byte: send again on a fresh one */
        if (rc == -EIO && u->reused && u->rlen == 0 && u->sent == 0 && u->req_done) {
            close(u->fd);
            u->fd = -1;
            rc = open_and_send(u, 0);
            if (rc == 0)
                continue;
        }
        if (rc) {
            u->broken = 1;
            return rc;
        }
        u->head_done = u->status >= 200; /* 1xx heads are skipped */
    }
    *status = u->status;
    *h = &u->hdrs;
    return 0;
}

/* ------------------------------------------------------------------ response body */

/* One line of chunked framing at roff, without its CRLF; NULL when incomplete. */
static const char *chunk_line(struct uplink *u, size_t *len)
{
    const char *p = u->rbuf + u->roff, *eol = find_crlf(p, u->rbuf + u->rlen);
    if (!eol)
        return NULL;
    *len = (size_t)(eol - p);
    u->roff += *len + 2;
    return p;
}

static int chunk_size(const char *line, size_t len, long long *out)
{
    long long v = 0;
    size_t i = 0;
    for (; i < len && line[i] != ';'; i++) {
        char c = line[i];
        int d = (c >= '0' && c <= '9')   ? c - '0'
                : (c >= 'a' && c <= 'f') ? c - 'a' + 10
                : (c >= 'A' && c <= 'F') ? c - 'A' + 10
                                         : -1;
        if (d < 0 || v > (INT64_MAX >> 4))
            return -EIO;
        v = v * 16 + d;
    }
    if (i == 0)
        return -EIO;
    *out = v;
    return 0;
}

/* Chunked framing: 0 when more raw bytes are needed, > 0 bytes decoded, < 0 error. */
static ssize_t decode_chunked(struct uplink *u, char *dst, size_t max)
{
    for (;;) {
        size_t avail = u->rlen - u->roff, len = 0;
        const char *line;
        switch (u->cst) {
        case CH_SIZE:
            if (!(line = chunk_line(u, &len)))
                return avail > UPLINK_LINE_MAX ? -EIO : 0;
            if (chunk_size(line, len, &u->left) != 0)
                return -EIO;
            u->cst = u->left ? CH_DATA : CH_TRAILER;
            break;
        case CH_DATA: {
            size_t n = avail < max ? avail : max;
            if ((long long)n > u->left)
                n = (size_t)u->left;
            memcpy(dst, u->rbuf + u->roff, n);
            u->roff += n;
            u->left -= (long long)n;
            if (u->left == 0)
                u->cst = CH_DATA_CRLF;
            return (ssize_t)n;
        }
        case CH_DATA_CRLF:
            if (avail < 2)
                return 0;
            if (u->rbuf[u->roff] != '\r' || u->rbuf[u->roff + 1] != '\n')
                return -EIO;
            u->roff += 2;
            u->cst = CH_SIZE;
            break;
        case CH_TRAILER:
            if (!chunk_line(u, &len))
                return avail > UPLINK_LINE_MAX ? -EIO : 0;
            if (len == 0) {
                u->body_done = 1;
                return 0;
            }
            break;
        }
    }
}

/* Decode buffered raw bytes: > 0 bytes, 0 when more are needed or the body is done. */
static ssize_t decode(struct uplink *u, char *dst, size_t max)
{
    size_t avail = u->rlen - u->roff;
    if (u->body_done || max == 0)
        return 0;
    if (u->mode == BODY_CHUNKED)
        return decode_chunked(u, dst, max);
    size_t n = avail < max ? avail : max;
    if (u->mode == BODY_LENGTH && (long long)n > u->left)
        n = (size_t)u->left;
    memcpy(dst, u->rbuf + u->roff, n);
    u->roff += n;
    if (u->mode == BODY_LENGTH && (u->left -= (long long)n) == 0)
        u->body_done = 1;
    return (ssize_t)n;
}

/* Decode into dst, reading the socket when needed: > 0, 0 at the end, < 0 error. */
static ssize_t body_next(struct uplink *u, char *dst, size_t max)
{
    long stall = timeout_or(u->req->stall_timeout_ms, 120000);
    for (;;) {
        ssize_t n = decode(u, dst, max);
        if (n != 0 || u->body_done)
            return n;
        ssize_t r = read_more(u, stall);
        if (r == 0 && u->mode == BODY_CLOSE) {
            u->body_done = 1;
            return 0;
        }
        if (r <= 0) {
            u->broken = 1;
            return r == 0 ? -EIO : r;
        }
    }
}

int uplink_buffer(struct uplink *u, size_t max, const struct buf **body)
{
    char chunk[16384];
    while (!u->body_done && u->held.len - u->held_off <= max) {
        ssize_t n = body_next(u, chunk, sizeof(chunk));
        if (n < 0)
            return (int)n;
        if (n > 0 && buf_append(&u->held, chunk, (size_t)n) != 0)
            return -ENOMEM;
    }
    *body = &u->held;
    return u->body_done;
}

ssize_t uplink_read(struct uplink *u, char *dst, size_t max)
{
    size_t held = u->held.len - u->held_off;
    if (held > 0) {
        size_t n = held < max ? held : max;
        memcpy(dst, u->held.data + u->held_off, n);
        u->held_off += n;
        return (ssize_t)n;
    }
    return body_next(u, dst, max);
}

static void sock_release(struct uplink *u, int reusable);

void uplink_free(struct uplink *u)
{
    if (!u)
        return;
    if (u->awaiting) /* cancelled while the answer was awaited */
        u->broken = 1;
    int reusable = !u->broken && u->head_done && u->body_done && u->req_done && !u->conn_close &&
                   u->roff == u->rlen;
    if (u->sock)
        sock_release(u, reusable);
    if (u->fd >= 0) {
        if (reusable)
            pool_give(u->pool, u->fd);
        else
            close(u->fd);
    }
    buf_release(&u->hdrs.raw);
    buf_release(&u->held);
    if (!u->rbuf_lent)
        free(u->rbuf);
    free(u);
}

/* ------------------------------------------------------------------ asynchronous */

/* Sockets of asynchronous exchanges stay in their event loop's epoll set between
 * exchanges (edge-triggered), in a nest of idle sockets per (pool, loop) used only on that
 * loop's thread: an exchange costs no epoll_ctl, and a socket the upstream closes while
 * idle is noticed (and dropped) at once. */
#define UPLINK_NEST_MAX 256

struct uplink_sock {
    struct evl_watch w;
    struct uplink_nest *nest;
    struct uplink *u; /* the exchange using it; NULL while idle */
    int dead;         /* something happened while held after its answer: not reusable */
    char *rbuf;       /* lent to each exchange: no allocation per request */
    struct uplink_sock *next;
};

struct uplink_nest {
    struct uplink_pool *pool;
    struct evl *loop;
    struct uplink_sock *idle;
    size_t nidle;
    struct uplink_nest *next; /* in the pool's list (under its mu) */
};

/* This thread's nests, found by pool id (a pool freed and another allocated at the same
 * address never match). */
static _Thread_local struct {
    unsigned long pool_id;
    struct uplink_nest *nest;
} uplink_tl[8];

static struct uplink_nest *nest_of(struct uplink_pool *p, struct evl *loop)
{
    size_t i = 0;
    for (; i < sizeof(uplink_tl) / sizeof(uplink_tl[0]) && uplink_tl[i].pool_id; i++) {
        if (uplink_tl[i].pool_id == p->id && uplink_tl[i].nest->loop == loop)
            return uplink_tl[i].nest;
    }
    struct uplink_nest *n = calloc(1, sizeof(*n));
    if (!n)
        return NULL;
    n->pool = p;
    n->loop = loop;
    pthread_mutex_lock(&p->mu);
    n->next = p->nests;
    p->nests = n;
    pthread_mutex_unlock(&p->mu);
    if (i == sizeof(uplink_tl) / sizeof(uplink_tl[0]))
        i = 0; /* more pools than slots: forget the first (its nest lives on, unused) */
    uplink_tl[i].pool_id = p->id;
    uplink_tl[i].nest = n;
    return n;
}

/* At pool free (the loops that used it are gone): close the nests' idle sockets. */
static void nests_free(struct uplink_pool *p)
{
    while (p->nests) {
        struct uplink_nest *n = p->nests;
        p->nests = n->next;
        while (n->idle) {
            struct uplink_sock *k = n->idle;
            n->idle = k->next;
            close(k->w.fd);
            free(k->rbuf);
            free(k);
        }
        free(n);
    }
}

/* Loop thread: stop watching k and close it. */
static void sock_drop(struct uplink_sock *k)
{
    evl_del(&k->w);
    close(k->w.fd);
    free(k->rbuf);
    free(k);
}

/* Loop thread: an idle socket back to its nest (or closed when the nest is full). */
static void sock_rest(struct uplink_sock *k)
{
    struct uplink_nest *n = k->nest;
    k->u = NULL;
    k->w.deadline_ms = 0;
    if (k->dead || n->nidle >= UPLINK_NEST_MAX) {
        sock_drop(k);
        return;
    }
    k->next = n->idle;
    n->idle = k;
    n->nidle++;
}

static void async_ready(struct uplink *u, unsigned events);

static void sock_event(struct evl_watch *w, unsigned events)
{
    struct uplink_sock *k = w->ctx;
    if (k->u && k->u->awaiting) {
        async_ready(k->u, events);
        return;
    }
    if (k->u) { /* its exchange has its answer: the upstream closed it, or stray bytes */
        k->dead = 1;
        return;
    }
    /* idle, yet something happened: the upstream closed it (or sent stray bytes) */
    struct uplink_nest *n = k->nest;
    for (struct uplink_sock **pp = &n->idle; *pp; pp = &(*pp)->next) {
        if (*pp == k) {
            *pp = k->next;
            n->nidle--;
            break;
        }
    }
    sock_drop(k);
}

/* An idle socket for an exchange on loop: the nest's, else one of the pool's shared ones
 * (which then joins the loop). NULL when there is none. */
static struct uplink_sock *sock_take(struct uplink_nest *n)
{
    struct uplink_sock *k = n->idle;
    if (k) {
        n->idle = k->next;
        n->nidle--;
        return k;
    }
    for (;;) {
        int fd = pool_take(n->pool, 0);
        if (fd < 0)
            return NULL;
        k = calloc(1, sizeof(*k));
        char *rbuf = malloc(UPLINK_RBUF);
        if (!k || !rbuf) {
            free(k);
            free(rbuf);
            pool_give(n->pool, fd);
            return NULL;
        }
        k->rbuf = rbuf;
        k->w = (struct evl_watch){.fd = fd, .cb = sock_event, .ctx = k};
        k->nest = n;
        if (evl_add(n->loop, &k->w, EVL_IN | EVL_ET) == 0)
            return k;
        free(k->rbuf);
        free(k);
        close(fd);
    }
}

struct sock_return {
    struct uplink_sock *k;
    int reusable;
};

static void sock_return_task(void *arg)
{
    struct sock_return *r = arg;
    if (r->reusable)
        sock_rest(r->k);
    else
        sock_drop(r->k);
    free(r);
}

/* uplink_free of an exchange whose socket belongs to a nest: back to it or closed, on the
 * nest's loop thread (posted there from any other thread). */
static void sock_release(struct uplink *u, int reusable)
{
    struct uplink_sock *k = u->sock;
    u->sock = NULL;
    u->fd = -1;
    k->u = NULL;
    k->w.deadline_ms = 0;
    if (evl_current() == k->nest->loop) {
        if (reusable)
            sock_rest(k);
        else
            sock_drop(k);
        return;
    }
    struct sock_return *r = malloc(sizeof(*r));
    if (r) {
        r->k = k;
        r->reusable = reusable;
        if (evl_post(k->nest->loop, sock_return_task, r) == 0)
            return;
        free(r);
    }
    shutdown(k->w.fd, SHUT_RDWR); /* out of memory: the loop drops it at its next event */
}

/* The response is in as far as the caller wants it. A response still streaming (or an
 * error) leaves the loop: the socket becomes an ordinary one the caller may block on. */
static void async_finish(struct uplink *u, int rc)
{
    struct uplink_sock *k = u->sock;
    k->w.deadline_ms = 0;
    u->awaiting = 0;
    if (rc)
        u->broken = 1;
    if (rc || !u->body_done) {
        evl_del(&k->w);
        u->sock = NULL; /* u->fd stays, and the buffer with what it holds */
        u->rbuf_lent = 0;
        k->rbuf = NULL;
        free(k);
    }
    u->done(u->done_ctx, rc);
}

/* Parse what was read: 1 when the caller can have it, 0 when more is needed, < 0 error. */
static int async_progress(struct uplink *u)
{
    while (!u->head_done) {
        size_t n = head_len(u);
        if (n == 0)
            return u->rlen - u->roff >= UPLINK_HEAD_MAX ? -EMSGSIZE : 0;
        int rc = parse_head(u, n);
        if (rc)
            return rc;
        u->head_done = u->status >= 200; /* 1xx heads are skipped */
    }
    const char *st = u->req->stream_type;
    const char *ct = httpc_header_get(&u->hdrs, "Content-Type");
    if (st && ct && strncasecmp(ct, st, strlen(st)) == 0)
        return 1;
    char chunk[16384];
    while (!u->body_done && u->held.len - u->held_off <= u->buffer_max) {
        ssize_t n = decode(u, chunk, sizeof(chunk));
        if (n < 0)
            return (int)n;
        if (n == 0)
            return u->body_done;
        if (buf_append(&u->held, chunk, (size_t)n) != 0)
            return -ENOMEM;
    }
    return 1;
}

static void async_ready(struct uplink *u, unsigned events)
{
    if (events == 0) {
        async_finish(u, -ETIMEDOUT);
        return;
    }
    for (;;) {
        ssize_t r = read_now(u);
        if (r == -EAGAIN)
            return; /* more later */
        if (r <= 0 && u->reused && !u->head_done && u->rlen == 0) {
            async_finish(u, -ECONNRESET); /* a pooled socket closed under us */
            return;
        }
        if (r == 0 && u->head_done && u->mode == BODY_CLOSE) {
            u->body_done = 1;
        } else if (r <= 0) {
            async_finish(u, r == 0 ? -EIO : (int)r);
            return;
        }
        int rc = async_progress(u);
        if (rc != 0 || u->body_done) {
            async_finish(u, rc < 0 ? rc : 0);
            return;
        }
        if (u->head_done) /* a body arriving: the stall bound as for uplink_read */
            u->sock->w.deadline_ms = clock_mono_ms() + timeout_or(u->req->stall_timeout_ms, 120000);
    }
}

/* Send the whole head on fd at once without waiting. 0, or -EIO (dead or full socket). */
static int async_send_head(int fd, const struct buf *head)
{
    ssize_t w;
    do {
        w = send(fd, head->data, head->len, MSG_DONTWAIT | MSG_NOSIGNAL);
    } while (w < 0 && errno == EINTR);
    return w == (ssize_t)head->len ? 0 : -EIO;
}

int uplink_start_async(struct uplink_pool *p, const struct uplink_req *r, struct evl *loop,
                       size_t buffer_max, uplink_done_fn done, void *ctx, struct uplink **out)
{
    if (!p || !r || !loop || !done || !r->method || !r->target || r->target[0] != '/' ||
        r->body_size != -1)
        return -EINVAL;
    struct uplink_nest *n = nest_of(p, loop);
    struct uplink *u = calloc(1, sizeof(*u));
    if (!n || !u) {
        free(u);
        return -ENOMEM;
    }
    *u = (struct uplink){.pool = p,
                         .req = r,
                         .fd = -1,
                         .req_done = 1,
                         .reused = 1,
                         .done = done,
                         .done_ctx = ctx,
                         .buffer_max = buffer_max};
    buf_init(&u->hdrs.raw, HTTPC_MAX_HEADERS);
    buf_init(&u->held, (size_t)1 << 30);
    struct buf head;
    buf_init(&head, UPLINK_HEAD_MAX);
    int rc = build_head(u, &head);
    struct uplink_sock *k = NULL;
    while (rc == 0 && (k = sock_take(n)) != NULL) {
        if (async_send_head(k->w.fd, &head) == 0)
            break;
        sock_drop(k); /* closed by the upstream, or partly sent: never reusable */
        k = NULL;
    }
    buf_release(&head);
    if (rc == 0 && !k)
        rc = -ENOTCONN;
    if (rc) {
        u->broken = 1;
        uplink_free(u);
        return rc;
    }
    k->u = u;
    k->dead = 0;
    u->awaiting = 1;
    u->rbuf = k->rbuf;
    u->rbuf_lent = 1;
    k->w.deadline_ms = clock_mono_ms() + timeout_or(r->header_timeout_ms, 30000);
    u->sock = k;
    u->fd = k->w.fd;
    *out = u;
    return 0;
}
