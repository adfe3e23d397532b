/* test_uplink: the proxy's HTTP/1.1 client against a raw-socket upstream in this test
 * that answers with canned bytes: every body framing, interim responses, pooled sockets
 * closed by the upstream, garbage, timeouts, and request bodies both ways. */
#include <ibx/hash.h>
#include <ibx/uplink.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

static int lfd, port;
static pthread_t acceptor;
static volatile int accepted; /* connections accepted so far */

/* Canned replies by request target. */
static const struct {
    const char *target;
    const char *reply;
    int close_after; /* close the connection after replying */
} canned[] = {
    {"/len", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello", 0},
    {"/chunked",
     "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n7\r\n, world\r\n"
     "0\r\nX-Trailer: t\r\n\r\n",
     0},
    {"/close", "HTTP/1.0 200 OK\r\n\r\nuntil the end", 1},
    {"/continue",
     "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok", 0},
    {"/nocontent", "HTTP/1.1 204 No Content\r\n\r\n", 0},
    {"/garbage", "SSH-2.0-OpenSSH\r\n\r\n", 1},
    {"/truncated", "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort", 1},
    {"/badchunk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nxx\r\n", 1},
    {"/bye", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nbye", 1},
};

/* A buffered reader over the upstream side of a test connection. */
struct rd {
    int fd;
    char buf[65536];
    size_t off, len;
};

static int rd_fill(struct rd *r)
{
    if (r->off == r->len)
        r->off = r->len = 0;
    ssize_t n = recv(r->fd, r->buf + r->len, sizeof(r->buf) - r->len, 0);
    if (n <= 0)
        return -1;
    r->len += (size_t)n;
    return 0;
}

/* One CRLF-terminated line (without the CRLF) into out. */
static int rd_line(struct rd *r, char *out, size_t n)
{
    char *eol;
    while (!(eol = memmem(r->buf + r->off, r->len - r->off, "\r\n", 2))) {
        if (r->off > 0) {
            memmove(r->buf, r->buf + r->off, r->len - r->off);
            r->len -= r->off;
            r->off = 0;
        }
        if (rd_fill(r))
            return -1;
    }
    size_t l = (size_t)(eol - (r->buf + r->off));
    snprintf(out, n, "%.*s", (int)l, r->buf + r->off);
    r->off += l + 2;
    return 0;
}

static int rd_bytes(struct rd *r, long long n, struct hash_sha256 *h)
{
    while (n > 0) {
        if (r->off == r->len && rd_fill(r))
            return -1;
        size_t k = r->len - r->off;
        if ((long long)k > n)
            k = (size_t)n;
        hash_sha256_update(h, r->buf + r->off, k);
        r->off += k;
        n -= (long long)k;
    }
    return 0;
}

/* Read one request (head and body as declared); fills target. -1 at EOF. */
static int read_request(struct rd *r, char *target, size_t tn, struct hash_sha256 *h,
                        long long *got)
{
    char line[8192];
    long long want = 0;
    int chunked = 0;
    if (rd_line(r, line, sizeof(line)))
        return -1;
    char *sp = strchr(line, ' ');
    snprintf(target, tn, "%.*s", sp ? (int)strcspn(sp + 1, " ") : 0, sp ? sp + 1 : "");
    while (rd_line(r, line, sizeof(line)) == 0 && line[0]) {
        if (strncasecmp(line, "Content-Length: ", 16) == 0)
            want = strtoll(line + 16, NULL, 10);
        if (strcasecmp(line, "Transfer-Encoding: chunked") == 0)
            chunked = 1;
    }
    *got = 0;
    if (!chunked) {
        *got = want;
        return rd_bytes(r, want, h);
    }
    for (;;) {
        if (rd_line(r, line, sizeof(line)))
            return -1;
        long long n = strtoll(line, NULL, 16);
        if (n == 0)
            return rd_line(r, line, sizeof(line)); /* the empty line after the last chunk */
        if (rd_bytes(r, n, h) || rd_line(r, line, sizeof(line)))
            return -1;
        *got += n;
    }
}

static void *serve_conn(void *arg)
{
    int fd = (int)(intptr_t)arg;
    struct rd *rd = calloc(1, sizeof(*rd));
    rd->fd = fd;
    for (;;) {
        char target[256] = "";
        struct hash_sha256 h;
        hash_sha256_init(&h);
        long long got = 0;
        if (read_request(rd, target, sizeof(target), &h, &got) != 0)
            break;
        if (strcmp(target, "/echo") == 0) {
            char hex[65], reply[256];
            hash_sha256_final_hex(&h, hex);
            int n = snprintf(reply, sizeof(reply),
                             "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n%lld %s",
                             strlen(hex) + 1 + (size_t)snprintf(NULL, 0, "%lld", got), got, hex);
            send(fd, reply, (size_t)n, MSG_NOSIGNAL);
            continue;
        }
        if (strcmp(target, "/slow") == 0) {
            sleep(2);
            break;
        }
        if (strcmp(target, "/idle-close") == 0) { /* answer, then close while pooled */
            const char *r = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
            send(fd, r, strlen(r), MSG_NOSIGNAL);
            usleep(100 * 1000);
            break;
        }
        size_t i = 0;
        while (i < sizeof(canned) / sizeof(canned[0]) && strcmp(canned[i].target, target) != 0)
            i++;
        if (i == sizeof(canned) / sizeof(canned[0]))
            break;
        send(fd, canned[i].reply, strlen(canned[i].reply), MSG_NOSIGNAL);
        if (canned[i].close_after)
            break;
    }
    free(rd);
    close(fd);
    return NULL;
}

static void *accept_loop(void *arg)
{
    for (;;) {
        int fd = accept(lfd, NULL, NULL);
        if (fd < 0)
            return NULL;
        accepted++;
        pthread_t t;
        pthread_create(&t, NULL, serve_conn, (void *)(intptr_t)fd);
        pthread_detach(t);
    }
}

static int setup(void **state)
{
    lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    if (bind(lfd, (struct sockaddr *)&a, sizeof(a)) || listen(lfd, 64) ||
        getsockname(lfd, (struct sockaddr *)&a, &len))
        return -1;
    port = ntohs(a.sin_port);
    return pthread_create(&acceptor, NULL, accept_loop, NULL);
}

static int teardown(void **state)
{
    shutdown(lfd, SHUT_RDWR);
    close(lfd);
    pthread_join(acceptor, NULL);
    return 0;
}

static struct uplink_pool *pool_for(int p)
{
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", p);
    struct uplink_pool *pool = NULL;
    assert_int_equal(uplink_pool_new(url, &pool), 0);
    return pool;
}

/* GET target; the whole body read with uplink_read into out. Returns the status or < 0. */
static long fetch(struct uplink_pool *pool, const char *target, char *out, size_t n)
{
    struct uplink_req r = {
        .method = "GET", .target = target, .body_size = -1, .header_timeout_ms = 500};
    struct uplink *u = NULL;
    int rc = uplink_start(pool, &r, &u);
    if (rc)
        return rc;
    long status = 0;
    const struct httpc_headers *h;
    rc = uplink_headers(u, &status, &h);
    size_t len = 0;
    ssize_t k = 0;
    while (rc == 0 && (k = uplink_read(u, out + len, n - 1 - len)) > 0)
        len += (size_t)k;
    out[len] = '\0';
    uplink_free(u);
    return rc ? rc : (k < 0 ? k : status);
}

static const struct {
    const char *target;
    long status;
    const char *body;
} fetch_cases[] = {
    {"/len", 200, "hello"},           {"/chunked", 200, "hello, world"},
    {"/close", 200, "until the end"}, {"/continue", 201, "ok"},
    {"/nocontent", 204, ""},          {"/bye", 200, "bye"},
    {"/garbage", -EIO, NULL},         {"/truncated", -EIO, NULL},
    {"/badchunk", -EIO, NULL},        {"/slow", -ETIMEDOUT, NULL},
};

static void test_framing_table(void **state)
{
    struct uplink_pool *pool = pool_for(port);
    for (size_t i = 0; i < sizeof(fetch_cases) / sizeof(fetch_cases[0]); i++) {
        char body[256];
        long st = fetch(pool, fetch_cases[i].target, body, sizeof(body));
        if (st != fetch_cases[i].status)
            fail_msg("%s: got %ld, want %ld", fetch_cases[i].target, st, fetch_cases[i].status);
        if (fetch_cases[i].body)
            assert_string_equal(body, fetch_cases[i].body);
    }
    uplink_pool_free(pool);
}

static void test_keep_alive_reuse(void **state)
{
    struct uplink_pool *pool = pool_for(port);
    int before = accepted;
    for (int i = 0; i < 20; i++) {
        char body[64];
        assert_int_equal(fetch(pool, i % 2 ? "/len" : "/chunked", body, sizeof(body)), 200);
    }
    assert_int_equal(accepted - before, 1); /* one connection served all twenty */
    uplink_pool_free(pool);
}

static void test_stale_pooled_socket_is_replaced(void **state)
{
    struct uplink_pool *pool = pool_for(port);
    char body[64];
    assert_int_equal(fetch(pool, "/idle-close", body, sizeof(body)), 200);
    usleep(300 * 1000); /* the upstream has closed the pooled socket by now */
    assert_int_equal(fetch(pool, "/len", body, sizeof(body)), 200);
    assert_string_equal(body, "hello");
    uplink_pool_free(pool);
}

static void test_refused_and_bad_urls(void **state)
{
    int closed = 1; /* nothing listens on port 1 */
    struct uplink_pool *pool = pool_for(closed);
    char body[16];
    assert_int_equal(fetch(pool, "/len", body, sizeof(body)), -ECONNREFUSED);
    uplink_pool_free(pool);
    static const char *const bad[] = {"https://x:1",    "ftp://x",     "http://",
                                      "http://h:99999", "http://h:1a", NULL};
    for (size_t i = 0; bad[i]; i++) {
        struct uplink_pool *p = NULL;
        assert_int_equal(uplink_pool_new(bad[i], &p), -EINVAL);
    }
}

/* Push size bytes (chunked when size < 0) and check what the upstream received. */
static void push_body(struct uplink_pool *pool, long long size)
{
    const long long total = 3 * 1024 * 1024 + 17;
    struct uplink_req r = {.method = "POST", .target = "/echo", .body_size = size < 0 ? -2 : total};
    struct uplink *u = NULL;
    assert_int_equal(uplink_start(pool, &r, &u), 0);
    struct hash_sha256 h;
    hash_sha256_init(&h);
    char chunk[10000];
    for (long long sent = 0; sent < total;) {
        size_t n = total - sent < (long long)sizeof(chunk) ? (size_t)(total - sent) : sizeof(chunk);
        for (size_t i = 0; i < n; i++)
            chunk[i] = (char)((sent + (long long)i) % 253);
        hash_sha256_update(&h, chunk, n);
        assert_int_equal(uplink_write(u, chunk, n), 0);
        sent += (long long)n;
    }
    assert_int_equal(uplink_write_end(u), 0);
    long status;
    const struct httpc_headers *hd;
    assert_int_equal(uplink_headers(u, &status, &hd), 0);
    assert_int_equal(status, 200);
    const struct buf *b;
    assert_int_equal(uplink_buffer(u, 4096, &b), 1);
    char hex[65], want[128];
    hash_sha256_final_hex(&h, hex);
    snprintf(want, sizeof(want), "%lld %s", total, hex);
    assert_int_equal(b->len, strlen(want));
    assert_memory_equal(b->data, want, b->len);
    uplink_free(u);
}

static void test_request_bodies(void **state)
{
    struct uplink_pool *pool = pool_for(port);
    push_body(pool, 1);  /* Content-Length */
    push_body(pool, -1); /* chunked */
    /* declaring 10 bytes and sending 11 is refused before anything is sent */
    struct uplink_req r = {.method = "PUT", .target = "/echo", .body_size = 10};
    struct uplink *u = NULL;
    assert_int_equal(uplink_start(pool, &r, &u), 0);
    assert_int_equal(uplink_write(u, "12345678901", 11), -EINVAL);
    assert_int_equal(uplink_write_end(u), -EIO); /* fewer bytes than declared */
    uplink_free(u);
    uplink_pool_free(pool);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_framing_table),
        cmocka_unit_test(test_keep_alive_reuse),
        cmocka_unit_test(test_stale_pooled_socket_is_replaced),
        cmocka_unit_test(test_refused_and_bad_urls),
        cmocka_unit_test(test_request_bodies),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
