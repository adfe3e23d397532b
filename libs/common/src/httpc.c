/* httpc: libcurl client with pooled keep-alive handles, buffered and streamed responses. */
#include <ibx/httpc.h>
#include <ibx/log.h>

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define POOL_MAX        32 /* idle easy handles kept; extra ones are cleaned up */
#define METHOD_MAX      32 /* longest method token accepted */
#define STATUS_LINE_MAX 64

#ifdef CURL_WRITEFUNC_ERROR
#define WRITE_ABORT CURL_WRITEFUNC_ERROR
#else
#define WRITE_ABORT 0
#endif

static int ready;
static CURLSH *share;
static pthread_mutex_t share_mu[CURL_LOCK_DATA_LAST];

static pthread_mutex_t pool_mu = PTHREAD_MUTEX_INITIALIZER;
static CURL *pool[POOL_MAX];
static size_t pool_n;

/* One transfer in flight: what the curl callbacks see. */
struct xfer {
    const struct httpc_req *req;
    const struct httpc_stream_cb *cb; /* NULL when buffering */
    struct buf *body;                 /* buffered mode only */
    struct httpc_headers hdrs;        /* of the response being read */
    long status;                      /* of the response being read */
    int done;                         /* headers of the final response complete */
    int err;                          /* first error raised in a callback */
    int pull;                         /* pull mode: no size cap on the body buffer */
};

/* ---- global state -------------------------------------------------------- */

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *ctx)
{
    (void)h;
    (void)access;
    (void)ctx;
    pthread_mutex_lock(&share_mu[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *ctx)
{
    (void)h;
    (void)ctx;
    pthread_mutex_unlock(&share_mu[data]);
}

static int share_create(void)
{
    share = curl_share_init();
    if (!share)
        return -ENOMEM;
    CURLSHcode c = curl_share_setopt(share, CURLSHOPT_LOCKFUNC, share_lock);
    if (!c)
        c = curl_share_setopt(share, CURLSHOPT_UNLOCKFUNC, share_unlock);
    if (!c)
        c = curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    if (!c)
        c = curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    if (c) {
        curl_share_cleanup(share);
        share = NULL;
        return c == CURLSHE_NOMEM ? -ENOMEM : -EIO;
    }
    return 0;
}

int httpc_global_init(void)
{
    if (ready)
        return 0;
    if (curl_global_init(CURL_GLOBAL_ALL) != CURLE_OK)
        return -EIO;
    for (size_t i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_init(&share_mu[i], NULL);
    int rc = share_create();
    if (rc)
        goto undo_global;
    ready = 1;
    return 0;
undo_global:
    for (size_t i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_destroy(&share_mu[i]);
    curl_global_cleanup();
    return rc;
}

static void pull_pool_drain(void);

void httpc_global_cleanup(void)
{
    pull_pool_drain();
    if (!ready)
        return;
    ready = 0;
    pthread_mutex_lock(&pool_mu);
    for (size_t i = 0; i < pool_n; i++)
        curl_easy_cleanup(pool[i]);
    pool_n = 0;
    pthread_mutex_unlock(&pool_mu);
    /* CURLSHE_IN_USE means a handle is still out on another thread: leak the share
     * rather than free memory that thread uses. */
    if (curl_share_cleanup(share) == CURLSHE_OK) {
        for (size_t i = 0; i < CURL_LOCK_DATA_LAST; i++)
            pthread_mutex_destroy(&share_mu[i]);
    }
    share = NULL;
    curl_global_cleanup();
}

/* Most recently returned handle first, so one thread's sequential calls reuse one
 * handle and its kept-alive connection. */
static CURL *pool_take(void)
{
    CURL *h = NULL;
    pthread_mutex_lock(&pool_mu);
    if (pool_n > 0)
        h = pool[--pool_n];
    pthread_mutex_unlock(&pool_mu);
    return h ? h : curl_easy_init();
}

/* Reset drops every option (and with them the pointers into the caller's memory) but
 * keeps the handle's live connections. */
static void pool_give(CURL *h)
{
    curl_easy_reset(h);
    pthread_mutex_lock(&pool_mu);
    if (pool_n < POOL_MAX) {
        pool[pool_n++] = h;
        h = NULL;
    }
    pthread_mutex_unlock(&pool_mu);
    if (h)
        curl_easy_cleanup(h);
}

/* ---- request description --------------------------------------------------- */

void httpc_req_init(struct httpc_req *r, const char *method, const char *url)
{
    memset(r, 0, sizeof(*r));
    r->method = method;
    r->url = url;
    r->body_size = -1;
    r->connect_timeout_ms = HTTPC_CONNECT_TIMEOUT_MS;
    r->timeout_ms = HTTPC_TIMEOUT_MS;
    r->max_response = HTTPC_MAX_RESPONSE;
}

static int is_tchar(char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return 1;
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static int valid_method(const char *m)
{
    size_t n = 0;
    for (; m[n]; n++) {
        if (!is_tchar(m[n]))
            return 0;
    }
    return n > 0 && n <= METHOD_MAX;
}

/* "Name: value" (or curl's "Name;" for an empty value) with no CR or LF anywhere. */
static int valid_header_line(const char *line)
{
    size_t n = 0;
    while (is_tchar(line[n]))
        n++;
    if (n == 0 || (line[n] != ':' && line[n] != ';'))
        return 0;
    return strpbrk(line, "\r\n") == NULL;
}

static int has_header(const char *const *lines, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; lines && lines[i]; i++) {
        if (strncasecmp(lines[i], name, n) == 0 && (lines[i][n] == ':' || lines[i][n] == ';'))
            return 1;
    }
    return 0;
}

/* An empty in-memory body on GET or HEAD is no body at all (a proxy passes whatever
 * the client sent); on other methods it is sent as Content-Length: 0. */
static int has_body(const struct httpc_req *r)
{
    if (r->body_reader)
        return 1;
    if (!r->body)
        return 0;
    return r->body_len > 0 || (strcmp(r->method, "GET") != 0 && strcmp(r->method, "HEAD") != 0);
}

/* Whether curl will send the request as a POST (see set_method). */
static int sends_post(const struct httpc_req *r)
{
    return has_body(r) || strcmp(r->method, "POST") == 0;
}

static int valid_scheme(const char *url)
{
    return strncasecmp(url, "http://", 7) == 0 || strncasecmp(url, "https://", 8) == 0;
}

static int check_req(const struct httpc_req *r)
{
    if (!r->method || !r->url || !valid_method(r->method) || !valid_scheme(r->url))
        return -EINVAL;
    if (r->body && r->body_reader)
        return -EINVAL;
    if ((!r->body && r->body_len > 0) || r->body_size < -1)
        return -EINVAL;
    if (r->connect_timeout_ms < 0 || r->timeout_ms < 0)
        return -EINVAL;
    if (has_body(r) && strcmp(r->method, "HEAD") == 0)
        return -EINVAL;
    for (size_t i = 0; r->headers && r->headers[i]; i++) {
        if (!valid_header_line(r->headers[i]))
            return -EINVAL;
    }
    return 0;
}

static int printable(const char *s)
{
    for (; *s; s++) {
        if (*s < 0x21 || *s > 0x7e)
            return 0;
    }
    return 1;
}

static int slist_add(struct curl_slist **list, const char *line)
{
    struct curl_slist *tmp = curl_slist_append(*list, line);
    if (!tmp)
        return -ENOMEM;
    *list = tmp;
    return 0;
}

/* The caller's lines, the request id, and blanks that stop curl adding its own
 * Content-Type (form-urlencoded) and Expect (100-continue, a round trip of delay). */
static int build_headers(const struct httpc_req *r, struct curl_slist **out)
{
    struct curl_slist *list = NULL;
    int rc = 0;
    for (size_t i = 0; !rc && r->headers && r->headers[i]; i++)
        rc = slist_add(&list, r->headers[i]);
    const char *rid = log_request_id();
    if (!rc && rid[0] && printable(rid) && !has_header(r->headers, "X-Request-Id")) {
        char line[128];
        snprintf(line, sizeof(line), "X-Request-Id: %s", rid);
        rc = slist_add(&list, line);
    }
    if (!rc && sends_post(r) && !has_header(r->headers, "Content-Type"))
        rc = slist_add(&list, "Content-Type:");
    if (!rc && sends_post(r) && !has_header(r->headers, "Expect"))
        rc = slist_add(&list, "Expect:");
    if (rc) {
        curl_slist_free_all(list);
        return rc;
    }
    *out = list;
    return 0;
}

/* ---- response headers ---------------------------------------------------- */

const char *httpc_header_next(const struct httpc_headers *h, size_t *pos, const char **value)
{
    if (!h->raw.data || *pos >= h->raw.len)
        return NULL;
    const char *name = h->raw.data + *pos;
    const char *v = name + strlen(name) + 1;
    *pos = (size_t)(v - h->raw.data) + strlen(v) + 1;
    *value = v;
    return name;
}

const char *httpc_header_get(const struct httpc_headers *h, const char *name)
{
    size_t pos = 0;
    const char *value;
    const char *n;
    while ((n = httpc_header_next(h, &pos, &value)) != NULL) {
        if (strcasecmp(n, name) == 0)
            return value;
    }
    return NULL;
}

static int is_ws(char c)
{
    return c == ' ' || c == '\t';
}

/* Trim spaces and tabs on both sides of p[0..*len). */
static const char *trim(const char *p, size_t *len)
{
    size_t n = *len;
    while (n > 0 && is_ws(*p)) {
        p++;
        n--;
    }
    while (n > 0 && is_ws(p[n - 1]))
        n--;
    *len = n;
    return p;
}

static int hdr_add(struct httpc_headers *h, const char *line, size_t len)
{
    const char *colon = memchr(line, ':', len);
    if (!colon || colon == line)
        return 0; /* not a header line: ignore */
    size_t vlen = len - (size_t)(colon + 1 - line);
    const char *v = trim(colon + 1, &vlen);
    int rc = buf_append(&h->raw, line, (size_t)(colon - line));
    if (!rc)
        rc = buf_append(&h->raw, "", 1);
    if (!rc)
        rc = buf_append(&h->raw, v, vlen);
    if (!rc)
        rc = buf_append(&h->raw, "", 1);
    return rc;
}

/* obs-fold: a line starting with whitespace continues the previous value (RFC 9112
 * 5.2 says to replace the fold with one space). The last value ends the buffer, so
 * dropping its NUL and appending extends it in place. */
static int hdr_fold(struct httpc_headers *h, const char *line, size_t len)
{
    if (h->raw.len == 0)
        return 0;
    const char *v = trim(line, &len);
    h->raw.len--;
    int rc = buf_append(&h->raw, " ", 1);
    if (!rc)
        rc = buf_append(&h->raw, v, len);
    if (!rc)
        rc = buf_append(&h->raw, "", 1);
    return rc;
}

/* ---- curl callbacks ------------------------------------------------------ */

static void xfer_fail(struct xfer *x, int err)
{
    if (!x->err)
        x->err = err;
}

/* "HTTP/1.1 200 OK" or "HTTP/2 200": a new response starts (1xx ones come first). */
static void start_response(struct xfer *x, const char *line, size_t len)
{
    char tmp[STATUS_LINE_MAX];
    snprintf(tmp, sizeof(tmp), "%.*s", (int)(len < sizeof(tmp) ? len : sizeof(tmp) - 1), line);
    buf_reset(&x->hdrs.raw);
    x->status = 0;
    const char *sp = strchr(tmp, ' ');
    if (!sp)
        return;
    char *end;
    errno = 0;
    long st = strtol(sp + 1, &end, 10);
    if (errno == 0 && end == sp + 4 && (*end == ' ' || *end == '\0') && st >= 100 && st <= 999)
        x->status = st;
}

static int end_headers(struct xfer *x)
{
    if (x->status < 200)
        return 0; /* interim response, or no status line yet */
    x->done = 1;
    if (!x->cb || !x->cb->on_headers)
        return 0;
    int rc = x->cb->on_headers(x->cb->ctx, x->status, &x->hdrs);
    return rc > 0 ? -ECANCELED : rc;
}

static size_t header_cb(char *p, size_t size, size_t n, void *ud)
{
    struct xfer *x = ud;
    size_t len = size * n;
    size_t l = len;
    if (x->done)
        return len; /* trailers are not reported */
    while (l > 0 && (p[l - 1] == '\n' || p[l - 1] == '\r'))
        l--;
    int rc = 0;
    if (l >= 5 && memcmp(p, "HTTP/", 5) == 0)
        start_response(x, p, l);
    else if (l == 0)
        rc = end_headers(x);
    else if (memchr(p, '\0', l))
        rc = 0; /* a NUL would break the name/value pairs: drop the line */
    else if (is_ws(p[0]))
        rc = hdr_fold(&x->hdrs, p, l);
    else
        rc = hdr_add(&x->hdrs, p, l);
    if (rc) {
        xfer_fail(x, rc);
        return WRITE_ABORT;
    }
    return len;
}

static size_t write_cb(char *p, size_t size, size_t n, void *ud)
{
    struct xfer *x = ud;
    size_t len = size * n;
    int rc = 0;
    if (!x->cb)
        rc = buf_append(x->body, p, len);
    else if (x->cb->on_data && len > 0)
        rc = x->cb->on_data(x->cb->ctx, p, len);
    if (rc) {
        xfer_fail(x, rc > 0 ? -ECANCELED : rc);
        return WRITE_ABORT;
    }
    return len;
}

static size_t read_cb(char *dst, size_t size, size_t n, void *ud)
{
    struct xfer *x = ud;
    size_t cap = size * n;
    ssize_t got = x->req->body_reader(x->req->body_ctx, dst, cap);
    if (got < 0 || (size_t)got > cap) {
        xfer_fail(x, got < 0 && got >= -4095 ? (int)got : -EIO);
        return CURL_READFUNC_ABORT;
    }
    return (size_t)got;
}

/* ---- one transfer -------------------------------------------------------- */

static CURLcode set_transport(CURL *h, const struct httpc_req *r)
{
    long connect_ms = r->connect_timeout_ms ? r->connect_timeout_ms : HTTPC_CONNECT_TIMEOUT_MS;
    CURLcode c = curl_easy_setopt(h, CURLOPT_SHARE, share);
    if (!c)
        c = curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500
    if (!c)
        c = curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    if (!c)
        c = curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
    if (!c)
        c = curl_easy_setopt(h, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
    if (!c)
        c = curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    if (!c)
        c = curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    if (!c)
        c = curl_easy_setopt(h, CURLOPT_PROXY, "");
    if (!c)
        c = curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    if (!c)
        c = curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
    if (!c)
        c = curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, r->timeout_ms);
    if (!c)
        c = curl_easy_setopt(h, CURLOPT_URL, r->url);
    return c;
}

static CURLcode set_io(CURL *h, struct xfer *x, struct curl_slist *headers)
{
    CURLcode c = curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    if (!c)
        c = curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, header_cb);
    if (!c)
        c = curl_easy_setopt(h, CURLOPT_HEADERDATA, x);
    if (!c)
        c = curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write_cb);
    if (!c)
        c = curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
    /* refuses up front a response whose Content-Length is over the limit */
    if (!c && x->body && !x->pull && (uint64_t)x->body->limit <= (uint64_t)INT64_MAX)
        c = curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)x->body->limit);
    return c;
}

static CURLcode set_reader(CURL *h, const struct httpc_req *r, struct xfer *x)
{
    CURLcode c = curl_easy_setopt(h, CURLOPT_READFUNCTION, read_cb);
    if (!c)
        c = curl_easy_setopt(h, CURLOPT_READDATA, x);
    if (!c)
        c = curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_size);
    return c;
}

static CURLcode set_fields(CURL *h, const struct httpc_req *r)
{
    CURLcode c = curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
    if (!c)
        c = curl_easy_setopt(h, CURLOPT_POSTFIELDS, r->body ? r->body : "");
    return c;
}

/* GET and HEAD without a body use curl's own modes; any method with a body is sent as
 * a POST whose request line carries the real method (curl then sends Content-Length,
 * or chunked encoding for a reader of unknown size). */
static CURLcode set_method(CURL *h, const struct httpc_req *r, struct xfer *x)
{
    int post = strcmp(r->method, "POST") == 0;
    if (!has_body(r) && strcmp(r->method, "GET") == 0)
        return curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    if (!has_body(r) && strcmp(r->method, "HEAD") == 0)
        return curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    if (!has_body(r) && !post)
        return curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, r->method);
    CURLcode c = curl_easy_setopt(h, CURLOPT_POST, 1L);
    if (!c && !post)
        c = curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, r->method);
    if (!c)
        c = r->body_reader ? set_reader(h, r, x) : set_fields(h, r);
    return c;
}

static int map_result(CURLcode c)
{
    switch (c) {
    case CURLE_OK:
        return 0;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
        return -ECONNREFUSED;
    case CURLE_OPERATION_TIMEDOUT:
        return -ETIMEDOUT;
    case CURLE_FILESIZE_EXCEEDED:
        return -EMSGSIZE;
    case CURLE_OUT_OF_MEMORY:
        return -ENOMEM;
    case CURLE_URL_MALFORMAT:
        return -EINVAL;
    default:
        return -EIO;
    }
}

static void xfer_init(struct xfer *x, const struct httpc_req *r, const struct httpc_stream_cb *cb,
                      struct buf *body)
{
    memset(x, 0, sizeof(*x));
    x->req = r;
    x->cb = cb;
    x->body = body;
    buf_init(&x->hdrs.raw, HTTPC_MAX_HEADERS);
}

static int perform(const struct httpc_req *r, struct xfer *x)
{
    if (!ready)
        return -EINVAL;
    int rc = check_req(r);
    if (rc)
        return rc;
    struct curl_slist *headers = NULL;
    rc = build_headers(r, &headers);
    if (rc)
        return rc;
    CURL *h = pool_take();
    if (!h) {
        rc = -ENOMEM;
        goto free_headers;
    }
    CURLcode c = set_transport(h, r);
    if (!c)
        c = set_io(h, x, headers);
    if (!c)
        c = set_method(h, r, x);
    if (!c)
        c = curl_easy_perform(h);
    rc = x->err ? x->err : map_result(c);
    if (!rc && !x->done)
        rc = -EIO; /* the transfer ended without a complete final response */
    pool_give(h);
free_headers:
    curl_slist_free_all(headers);
    return rc;
}

int httpc_do(const struct httpc_req *r, struct httpc_resp *out)
{
    if (!r || !out)
        return -EINVAL;
    struct buf body;
    buf_init(&body, r->max_response ? r->max_response : HTTPC_MAX_RESPONSE);
    struct xfer x;
    xfer_init(&x, r, NULL, &body);
    int rc = perform(r, &x);
    if (rc) {
        buf_release(&x.hdrs.raw);
        buf_release(&body);
        return rc;
    }
    out->status = x.status;
    out->headers = x.hdrs;
    out->body = body;
    out->content_type = httpc_header_get(&out->headers, "Content-Type");
    return 0;
}

int httpc_stream(const struct httpc_req *r, const struct httpc_stream_cb *cb, long *status)
{
    if (!r || !cb)
        return -EINVAL;
    struct xfer x;
    xfer_init(&x, r, cb, NULL);
    int rc = perform(r, &x);
    if (!rc && status)
        *status = x.status;
    buf_release(&x.hdrs.raw);
    return rc;
}

void httpc_resp_release(struct httpc_resp *r)
{
    if (!r)
        return;
    buf_release(&r->headers.raw);
    buf_release(&r->body);
    r->content_type = NULL;
}

/* ---- JSON convenience ---------------------------------------------------- */

/* A new NULL-terminated array: the caller's lines plus Content-Type and Accept when
 * missing. The strings are borrowed; the caller frees the array. */
static int json_headers(const char *const *headers, int with_body, const char ***out)
{
    size_t n = 0;
    while (headers && headers[n])
        n++;
    const char **lines = calloc(n + 3, sizeof(*lines));
    if (!lines)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++)
        lines[i] = headers[i];
    if (with_body && !has_header(headers, "Content-Type"))
        lines[n++] = "Content-Type: application/json";
    if (!has_header(headers, "Accept"))
        lines[n++] = "Accept: application/json";
    *out = lines;
    return 0;
}

static json_t *parse_body(const struct buf *body)
{
    if (body->len == 0)
        return NULL;
    json_error_t err;
    return json_loadb(body->data, body->len, JSON_REJECT_DUPLICATES, &err);
}

int httpc_json(const char *method, const char *url, const char *const *headers, json_t *body,
               long timeout_ms, long *status, json_t **out)
{
    if (!status || timeout_ms < 0)
        return -EINVAL;
    char *text = NULL;
    if (body) {
        text = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
        if (!text)
            return -ENOMEM;
    }
    const char **lines = NULL;
    int rc = json_headers(headers, body != NULL, &lines);
    if (rc)
        goto free_text;
    struct httpc_req r;
    httpc_req_init(&r, method, url);
    r.headers = lines;
    r.body = text;
    r.body_len = text ? strlen(text) : 0;
    r.timeout_ms = timeout_ms ? timeout_ms : HTTPC_TIMEOUT_MS;
    struct httpc_resp resp;
    rc = httpc_do(&r, &resp);
    if (rc)
        goto free_lines;
    *status = resp.status;
    if (out)
        *out = parse_body(&resp.body);
    httpc_resp_release(&resp);
free_lines:
    free(lines);
free_text:
    free(text);
    return rc;
}

/* ---- pull-style transfers ------------------------------------------------ */

#define PULL_POOL_MAX 64
#define PULL_STALL_S  120L

struct pull_pair {
    CURLM *m;
    CURL *h;
};

static pthread_mutex_t pull_mu = PTHREAD_MUTEX_INITIALIZER;
static struct pull_pair pull_pool[PULL_POOL_MAX];
static size_t pull_n;

struct httpc_pull {
    struct pull_pair pair;
    struct xfer x;
    struct curl_slist *headers;
    struct buf in; /* response body received and not yet read */
    size_t in_off;
    const char *out; /* request body bytes being pushed */
    size_t out_len, out_off;
    int out_end, paused, added, finished, result;
};

static void pull_pool_drain(void)
{
    pthread_mutex_lock(&pull_mu);
    while (pull_n > 0) {
        struct pull_pair *pp = &pull_pool[--pull_n];
        curl_easy_cleanup(pp->h);
        curl_multi_cleanup(pp->m);
    }
    pthread_mutex_unlock(&pull_mu);
}

static int pull_pair_take(struct pull_pair *out)
{
    pthread_mutex_lock(&pull_mu);
    if (pull_n > 0) {
        *out = pull_pool[--pull_n];
        pthread_mutex_unlock(&pull_mu);
        return 0;
    }
    pthread_mutex_unlock(&pull_mu);
    out->m = curl_multi_init();
    out->h = curl_easy_init();
    if (out->m && out->h)
        return 0;
    curl_multi_cleanup(out->m);
    curl_easy_cleanup(out->h);
    return -ENOMEM;
}

/* A pair goes back only after a clean, finished transfer: its connection is reusable. */
static void pull_pair_give(struct pull_pair *pp, int reusable)
{
    curl_easy_reset(pp->h);
    pthread_mutex_lock(&pull_mu);
    if (reusable && pull_n < PULL_POOL_MAX) {
        pull_pool[pull_n++] = *pp;
        pp->m = NULL;
        pp->h = NULL;
    }
    pthread_mutex_unlock(&pull_mu);
    curl_easy_cleanup(pp->h);
    curl_multi_cleanup(pp->m);
}

static size_t pull_read_cb(char *dst, size_t size, size_t n, void *ud)
{
    struct httpc_pull *p = ud;
    size_t avail = p->out_len - p->out_off, cap = size * n;
    if (avail == 0) {
        if (p->out_end)
            return 0;
        p->paused = 1;
        return CURL_READFUNC_PAUSE;
    }
    size_t k = avail < cap ? avail : cap;
    memcpy(dst, p->out + p->out_off, k);
    p->out_off += k;
    return k;
}

static CURLcode pull_set_stream_body(CURL *h, const struct httpc_req *r, struct httpc_pull *p)
{
    CURLcode c = curl_easy_setopt(h, CURLOPT_POST, 1L);
    if (!c && strcmp(r->method, "POST") != 0)
        c = curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, r->method);
    if (!c)
        c = curl_easy_setopt(h, CURLOPT_READFUNCTION, pull_read_cb);
    if (!c)
        c = curl_easy_setopt(h, CURLOPT_READDATA, p);
    if (!c)
        c = curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_size);
    return c;
}

static CURLcode pull_setup(struct httpc_pull *p, const struct httpc_req *r, int streamed)
{
    CURL *h = p->pair.h;
    CURLcode c = set_transport(h, r);
    if (!c) /* the header wait is ours (httpc_pull_headers); curl watches for stalls */
        c = curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 0L);
    if (!c)
        c = curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    if (!c)
        c = curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, PULL_STALL_S);
    if (!c)
        c = set_io(h, &p->x, p->headers);
    if (!c)
        c = streamed ? pull_set_stream_body(h, r, p) : set_method(h, r, &p->x);
    return c;
}

int httpc_pull_start(const struct httpc_req *r, int streamed_body, struct httpc_pull **out)
{
    if (!ready || !r || !out || (streamed_body && (r->body || r->body_reader)))
        return -EINVAL;
    int rc = check_req(r);
    if (rc)
        return rc;
    struct httpc_pull *p = calloc(1, sizeof(*p));
    if (!p)
        return -ENOMEM;
    buf_init(&p->in, (size_t)1 << 40);
    xfer_init(&p->x, r, NULL, &p->in);
    p->x.pull = 1;
    rc = build_headers(r, &p->headers);
    if (rc == 0)
        rc = pull_pair_take(&p->pair);
    if (rc == 0 && pull_setup(p, r, streamed_body) != CURLE_OK)
        rc = -EINVAL;
    if (rc == 0 && curl_multi_add_handle(p->pair.m, p->pair.h) != CURLM_OK)
        rc = -EIO;
    if (rc) {
        httpc_pull_free(p);
        return rc;
    }
    p->added = 1;
    *out = p;
    return 0;
}

/* One round: let curl work, note completion, then wait for activity (bounded). */
static int pull_step(struct httpc_pull *p, int wait_ms)
{
    int running = 0;
    if (curl_multi_perform(p->pair.m, &running) != CURLM_OK)
        return -EIO;
    int left = 0;
    CURLMsg *msg;
    while ((msg = curl_multi_info_read(p->pair.m, &left)) != NULL) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        p->finished = 1;
        p->result = p->x.err ? p->x.err : map_result(msg->data.result);
        if (p->result == 0 && !p->x.done)
            p->result = -EIO;
    }
    if (!p->finished && wait_ms > 0 &&
        curl_multi_poll(p->pair.m, NULL, 0, wait_ms, NULL) != CURLM_OK)
        return -EIO;
    return 0;
}

int httpc_pull_write(struct httpc_pull *p, const void *data, size_t len)
{
    p->out = data;
    p->out_len = len;
    p->out_off = 0;
    while (!p->finished && p->out_off < p->out_len) {
        if (p->paused) {
            p->paused = 0;
            curl_easy_pause(p->pair.h, CURLPAUSE_CONT);
        }
        int rc = pull_step(p, p->out_off < p->out_len ? 100 : 0);
        if (rc)
            return rc;
    }
    p->out = NULL;
    p->out_len = p->out_off = 0;
    return p->finished && p->result ? p->result : 0;
}

int httpc_pull_write_end(struct httpc_pull *p)
{
    p->out_end = 1;
    if (p->paused) {
        p->paused = 0;
        curl_easy_pause(p->pair.h, CURLPAUSE_CONT);
    }
    return p->finished && p->result ? p->result : 0;
}

int httpc_pull_headers(struct httpc_pull *p, long *status, const struct httpc_headers **h)
{
    long limit = p->x.req->timeout_ms;
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (!p->x.done && !p->finished) {
        int rc = pull_step(p, 100);
        if (rc)
            return rc;
        clock_gettime(CLOCK_MONOTONIC, &now);
        long ms = (now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000;
        if (limit > 0 && ms > limit && !p->x.done)
            return -ETIMEDOUT;
    }
    if (!p->x.done)
        return p->result ? p->result : -EIO;
    *status = p->x.status;
    *h = &p->x.hdrs;
    return 0;
}

int httpc_pull_buffer(struct httpc_pull *p, size_t max, const struct buf **body)
{
    while (!p->finished && p->in.len - p->in_off <= max) {
        int rc = pull_step(p, 100);
        if (rc)
            return rc;
    }
    if (p->finished && p->result)
        return p->result;
    *body = &p->in;
    return p->finished;
}

ssize_t httpc_pull_read(struct httpc_pull *p, char *dst, size_t max)
{
    while (p->in.len == p->in_off && !p->finished) {
        int rc = pull_step(p, 100);
        if (rc)
            return rc;
    }
    size_t avail = p->in.len - p->in_off;
    if (avail == 0)
        return p->result ? p->result : 0;
    size_t k = avail < max ? avail : max;
    memcpy(dst, p->in.data + p->in_off, k);
    p->in_off += k;
    if (p->in_off == p->in.len) {
        buf_reset(&p->in);
        p->in_off = 0;
    }
    return (ssize_t)k;
}

void httpc_pull_free(struct httpc_pull *p)
{
    if (!p)
        return;
    if (p->added)
        curl_multi_remove_handle(p->pair.m, p->pair.h);
    if (p->pair.h || p->pair.m)
        pull_pair_give(&p->pair, p->finished && p->result == 0);
    curl_slist_free_all(p->headers);
    buf_release(&p->in);
    buf_release(&p->x.hdrs.raw);
    free(p);
}
