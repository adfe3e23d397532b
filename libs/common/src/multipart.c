/* multipart: a streaming multipart/form-data parser with bounded memory. */
#include <ibx/multipart.h>

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum mp_state {
    MP_PREAMBLE, /* before the first boundary: discarded */
    MP_AFTER,    /* just after a delimiter: "--" closes, else LWSP then CRLF */
    MP_AFTER_LF, /* saw CR after a delimiter, expecting LF */
    MP_CLOSE,    /* saw the first '-' of "--" */
    MP_HEADERS,  /* collecting a part's header block */
    MP_BODY,     /* a part's content */
    MP_EPILOGUE, /* after the closing delimiter: discarded */
};

struct multipart {
    const struct multipart_cbs *cbs;
    void *ctx;
    char delim[MULTIPART_BOUNDARY_MAX + 5]; /* "\r\n--" boundary */
    size_t dlen;
    size_t match; /* delimiter bytes matched so far */
    enum mp_state state;
    char hdr[MULTIPART_HEADER_MAX];
    size_t hlen;
    size_t parts;
    int err;
    char msg[160];
};

static int mp_fail(struct multipart *m, int err, const char *msg)
{
    if (!m->err) {
        m->err = err;
        snprintf(m->msg, sizeof(m->msg), "%s", msg);
    }
    return m->err;
}

static int mp_bchar(int c)
{
    return isalnum(c) || strchr("'()+_,-./:=? ", c) != NULL;
}

int multipart_boundary(const char *ct, char out[MULTIPART_BOUNDARY_MAX + 1])
{
    if (!ct || strncasecmp(ct, "multipart/form-data", 19) != 0)
        return -EINVAL;
    const char *p = ct + 19;
    while ((p = strchr(p, ';')) != NULL) {
        p++;
        while (*p == ' ' || *p == '\t')
            p++;
        if (strncasecmp(p, "boundary=", 9) != 0)
            continue;
        p += 9;
        int quoted = *p == '"';
        p += quoted;
        size_t n = 0;
        while (p[n] && (quoted ? p[n] != '"' : (p[n] != ';' && p[n] != ' ')))
            n++;
        if (n == 0 || n > MULTIPART_BOUNDARY_MAX || (quoted && p[n] != '"'))
            return -EINVAL;
        for (size_t i = 0; i < n; i++)
            if (!mp_bchar((unsigned char)p[i]))
                return -EINVAL;
        memcpy(out, p, n);
        out[n] = '\0';
        return 0;
    }
    return -EINVAL;
}

int multipart_new(const char *boundary, const struct multipart_cbs *cbs, void *ctx,
                  struct multipart **out)
{
    size_t blen = boundary ? strlen(boundary) : 0;
    if (blen == 0 || blen > MULTIPART_BOUNDARY_MAX || !cbs)
        return -EINVAL;
    struct multipart *m = calloc(1, sizeof(*m));
    if (!m)
        return -ENOMEM;
    m->cbs = cbs;
    m->ctx = ctx;
    m->dlen = (size_t)snprintf(m->delim, sizeof(m->delim), "\r\n--%s", boundary);
    m->match = 2; /* the first delimiter may open the body without a CRLF before it */
    m->state = MP_PREAMBLE;
    *out = m;
    return 0;
}

void multipart_free(struct multipart *m)
{
    free(m);
}

const char *multipart_error(const struct multipart *m)
{
    return m->msg;
}

/* Copy the value of parameter key (name= / filename=) of a Content-Disposition value. */
static int mp_param(const char *v, const char *key, char *out, size_t n)
{
    size_t klen = strlen(key);
    for (const char *p = v; (p = strchr(p, ';')) != NULL;) {
        p++;
        while (*p == ' ' || *p == '\t')
            p++;
        if (strncasecmp(p, key, klen) != 0 || p[klen] != '=')
            continue;
        p += klen + 1;
        size_t o = 0;
        if (*p == '"') {
            for (p++; *p && *p != '"'; p++) {
                if (*p == '\\' && p[1])
                    p++;
                if (o + 1 < n)
                    out[o++] = *p;
            }
        } else {
            for (; *p && *p != ';' && *p != ' '; p++)
                if (o + 1 < n)
                    out[o++] = *p;
        }
        out[o] = '\0';
        return 1;
    }
    return 0;
}

/* Parse the header block of a part (hdr holds it, lines ending in CRLF) and open it. */
static int mp_open_part(struct multipart *m)
{
    struct multipart_part part;
    memset(&part, 0, sizeof(part));
    int has_disp = 0;
    m->hdr[m->hlen] = '\0';
    for (char *line = m->hdr; *line;) {
        char *eol = strstr(line, "\r\n");
        if (!eol)
            break;
        *eol = '\0';
        char *colon = strchr(line, ':');
        if (colon) {
            *colon = '\0';
            const char *v = colon + 1;
            while (*v == ' ' || *v == '\t')
                v++;
            if (strcasecmp(line, "Content-Disposition") == 0 &&
                strncasecmp(v, "form-data", 9) == 0) {
                has_disp = 1;
                mp_param(v, "name", part.name, sizeof(part.name));
                char fname[256];
                if (mp_param(v, "filename", fname, sizeof(fname))) {
                    part.is_file = 1;
                    const char *base = fname;
                    for (const char *q = fname; *q; q++)
                        if (*q == '/' || *q == '\\')
                            base = q + 1;
                    snprintf(part.filename, sizeof(part.filename), "%s", base);
                }
            } else if (strcasecmp(line, "Content-Type") == 0) {
                snprintf(part.content_type, sizeof(part.content_type), "%s", v);
            }
        }
        line = eol + 2;
    }
    if (!has_disp || !part.name[0])
        return mp_fail(m, -EINVAL, "a part has no Content-Disposition: form-data with a name");
    if (++m->parts > MULTIPART_PARTS_MAX)
        return mp_fail(m, -E2BIG, "too many parts in the form");
    int rc = m->cbs->part_begin ? m->cbs->part_begin(m->ctx, &part) : 0;
    return rc ? mp_fail(m, rc, "the part was refused") : 0;
}

static int mp_data(struct multipart *m, const char *data, size_t len)
{
    if (m->state != MP_BODY || len == 0 || !m->cbs->part_data)
        return 0;
    int rc = m->cbs->part_data(m->ctx, data, len);
    return rc ? mp_fail(m, rc, "the part's content was refused") : 0;
}

/* A full delimiter was matched. */
static int mp_delimiter(struct multipart *m)
{
    if (m->state == MP_BODY && m->cbs->part_end) {
        int rc = m->cbs->part_end(m->ctx);
        if (rc)
            return mp_fail(m, rc, "the part was refused");
    }
    m->state = MP_AFTER;
    m->match = 0;
    return 0;
}

/* Bytes of the preamble or a body: scan for the delimiter; returns bytes consumed. */
static size_t mp_scan(struct multipart *m, const char *d, size_t len)
{
    size_t i = 0;
    while (i < len) {
        if (m->match == 0) {
            const char *cr = memchr(d + i, '\r', len - i);
            size_t stop = cr ? (size_t)(cr - d) : len;
            if (mp_data(m, d + i, stop - i))
                return len;
            i = stop;
            if (!cr)
                break;
        }
        if (d[i] == m->delim[m->match]) {
            i++;
            if (++m->match == m->dlen) {
                mp_delimiter(m);
                return i;
            }
            continue;
        }
        /* mismatch: the matched prefix was content; the delimiter has CR only at 0 */
        int preamble_start = m->state == MP_PREAMBLE;
        size_t had = m->match;
        m->match = 0;
        if (!preamble_start && mp_data(m, m->delim, had))
            return len;
        if (d[i] != '\r') {
            if (mp_data(m, d + i, 1))
                return len;
            i++;
        }
    }
    return i;
}

/* One byte after a delimiter. */
static int mp_after(struct multipart *m, char c)
{
    switch (m->state) {
    case MP_AFTER:
        if (c == '-')
            m->state = MP_CLOSE;
        else if (c == '\r')
            m->state = MP_AFTER_LF;
        else if (c != ' ' && c != '\t')
            return mp_fail(m, -EINVAL, "malformed multipart body after a boundary");
        return 0;
    case MP_CLOSE:
        if (c != '-')
            return mp_fail(m, -EINVAL, "malformed multipart body after a boundary");
        m->state = MP_EPILOGUE;
        return 0;
    default: /* MP_AFTER_LF */
        if (c != '\n')
            return mp_fail(m, -EINVAL, "malformed multipart body after a boundary");
        m->state = MP_HEADERS;
        m->hlen = 0;
        return 0;
    }
}

/* Header bytes; returns bytes consumed or sets an error. */
static size_t mp_headers(struct multipart *m, const char *d, size_t len)
{
    size_t i = 0;
    while (i < len) {
        if (m->hlen >= sizeof(m->hdr) - 1) {
            mp_fail(m, -EMSGSIZE, "a part's headers are too large");
            return len;
        }
        m->hdr[m->hlen++] = d[i++];
        /* an empty header block is a bare CRLF; otherwise it ends with CRLF CRLF */
        int end = (m->hlen == 2 && memcmp(m->hdr, "\r\n", 2) == 0) ||
                  (m->hlen >= 4 && memcmp(m->hdr + m->hlen - 4, "\r\n\r\n", 4) == 0);
        if (end) {
            m->hlen -= 2; /* keep each header line's CRLF, drop the blank line */
            if (mp_open_part(m) == 0) {
                m->state = MP_BODY;
                m->match = 0;
            }
            return i;
        }
    }
    return i;
}

int multipart_push(struct multipart *m, const char *data, size_t len)
{
    size_t i = 0;
    while (i < len && !m->err) {
        switch (m->state) {
        case MP_PREAMBLE:
        case MP_BODY:
            i += mp_scan(m, data + i, len - i);
            break;
        case MP_HEADERS:
            i += mp_headers(m, data + i, len - i);
            break;
        case MP_EPILOGUE:
            return 0;
        default:
            mp_after(m, data[i++]);
            break;
        }
    }
    return m->err;
}

int multipart_finish(struct multipart *m)
{
    if (m->err)
        return m->err;
    if (m->state != MP_EPILOGUE)
        return mp_fail(m, -EINVAL, "the multipart body ended before its closing boundary");
    return 0;
}
