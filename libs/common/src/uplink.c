/* uplink: lean HTTP/1.1 upstream client with a pool of kept-alive sockets. */
#include <ibx/uplink.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
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

struct uplink_pool {
    char host[256];
    char port[8];
    char authority[272]; /* Host header value */
    pthread_mutex_t mu;
    int idle[UPLINK_IDLE_MAX];
    size_t nidle;
};

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

/* Read more raw bytes within timeout_ms: > 0 bytes, 0 at EOF, < 0 error. */
static ssize_t read_more(struct uplink *u, long timeout_ms)
{
    if (u->roff > 0 && u->roff == u->rlen) {
        u->roff = u->rlen = 0;
    } else if (u->roff > 0 && u->rlen == UPLINK_RBUF) {
        memmove(u->rbuf, u->rbuf + u->roff, u->rlen - u->roff);
        u->rlen -= u->roff;
        u->roff = 0;
    }
    if (u->rlen == UPLINK_RBUF)
        return -EMSGSIZE;
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

/* ------------------------------------------------------------------ request */

static int send_head(struct uplink *u)
{
    const struct uplink_req *r = u->req;
    struct buf head;
    buf_init(&head, UPLINK_HEAD_MAX);
    int rc = buf_printf(&head, "%s %s HTTP/1.1\r\nHost: %s\r\n", r->method, r->target,
                        u->pool->authority);
    for (size_t i = 0; rc == 0 && r->headers && r->headers[i]; i++)
        rc = buf_printf(&head, "%s\r\n", r->headers[i]);
    if (rc == 0 && r->body_size >= 0)
        rc = buf_printf(&head, "Content-Length: %lld\r\n", r->body_size);
    if (rc == 0 && r->body_size == -2)
        rc = buf_append_str(&head, "Transfer-Encoding: chunked\r\n");
    if (rc == 0)
        rc = buf_append_str(&head, "\r\n");
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

void uplink_free(struct uplink *u)
{
    if (!u)
        return;
    int reusable = !u->broken && u->head_done && u->body_done && u->req_done && !u->conn_close &&
                   u->roff == u->rlen;
    if (u->fd >= 0) {
        if (reusable)
            pool_give(u->pool, u->fd);
        else
            close(u->fd);
    }
    buf_release(&u->hdrs.raw);
    buf_release(&u->held);
    free(u->rbuf);
    free(u);
}
