/* blob: the backend-independent half of the artifact store: checks, hashing, ids. */
#include <ibx/blob.h>
#include <ibx/log.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Read granularity of blob_get(): bounds its scratch memory. */
#define BLOB_GET_STEP (1u << 20)

/* NULL (the default) or printable ASCII with a '/', at most BLOB_MEDIA_TYPE_MAX bytes. */
static int blob_media_type_ok(const char *mt)
{
    if (!mt)
        return 1;
    size_t len = strlen(mt);
    if (len == 0 || len > BLOB_MEDIA_TYPE_MAX || mt[0] == ' ' || !strchr(mt, '/'))
        return 0;
    for (size_t i = 0; i < len; i++) {
        if (mt[i] < 0x20 || mt[i] > 0x7e)
            return 0;
    }
    return 1;
}

int blob_writer_open(struct blob_store *s, const char *media_type, struct blob_writer **out)
{
    if (!s || !out || !blob_media_type_ok(media_type))
        return -EINVAL;
    struct blob_writer *w = NULL;
    int rc = s->ops->writer_open(s, media_type ? media_type : BLOB_MEDIA_TYPE_DEFAULT, &w);
    if (rc)
        return rc;
    w->store = s;
    hash_sha256_init(&w->hash);
    w->size = 0;
    w->failed = 0;
    *out = w;
    return 0;
}

int blob_writer_write(struct blob_writer *w, const void *data, size_t len)
{
    if (!w || (!data && len))
        return -EINVAL;
    if (w->failed)
        return w->failed;
    if (len == 0)
        return 0;
    int rc = w->store->ops->writer_write(w, data, len);
    if (rc) {
        w->failed = rc;
        return rc;
    }
    hash_sha256_update(&w->hash, data, len);
    w->size += len;
    return 0;
}

int blob_writer_finish(struct blob_writer *w, char id[BLOB_ID_LEN + 1])
{
    if (!w)
        return -EINVAL;
    if (!id || w->failed) {
        int rc = w->failed ? w->failed : -EINVAL;
        w->store->ops->writer_abort(w);
        return rc;
    }
    char hex[BLOB_ID_LEN + 1];
    hash_sha256_final_hex(&w->hash, hex);
    int rc = w->store->ops->writer_finish(w, hex, w->size);
    if (rc == 0)
        memcpy(id, hex, sizeof(hex));
    return rc;
}

void blob_writer_abort(struct blob_writer *w)
{
    if (w)
        w->store->ops->writer_abort(w);
}

int blob_put(struct blob_store *s, const void *data, size_t len, const char *media_type,
             char id[BLOB_ID_LEN + 1])
{
    if (!s || (!data && len) || !id || !blob_media_type_ok(media_type))
        return -EINVAL;
    char hex[BLOB_ID_LEN + 1];
    hash_sha256_hex(data, len, hex);
    struct blob_info info;
    int rc = s->ops->stat(s, hex, &info);
    if (rc == 0) {
        memcpy(id, hex, sizeof(hex)); /* already stored */
        return 0;
    }
    if (rc != -ENOENT)
        return rc;
    struct blob_writer *w = NULL;
    rc = blob_writer_open(s, media_type, &w);
    if (rc)
        return rc;
    rc = blob_writer_write(w, data, len);
    if (rc) {
        blob_writer_abort(w);
        return rc;
    }
    return blob_writer_finish(w, id);
}

int blob_stat(struct blob_store *s, const char *id, struct blob_info *out)
{
    if (!s || !id || !out)
        return -EINVAL;
    if (!hash_is_sha256_hex(id))
        return -ENOENT;
    return s->ops->stat(s, id, out);
}

int blob_read(struct blob_store *s, const char *id, uint64_t offset, void *dst, size_t len,
              size_t *nread)
{
    if (!s || !id || (!dst && len) || !nread)
        return -EINVAL;
    if (!hash_is_sha256_hex(id))
        return -ENOENT;
    return s->ops->read(s, id, offset, dst, len, nread);
}

int blob_delete(struct blob_store *s, const char *id)
{
    if (!s || !id)
        return -EINVAL;
    if (!hash_is_sha256_hex(id))
        return -ENOENT;
    return s->ops->del(s, id);
}

int blob_exists(struct blob_store *s, const char *id, int *exists)
{
    if (!exists)
        return -EINVAL;
    struct blob_info info;
    int rc = blob_stat(s, id, &info);
    if (rc && rc != -ENOENT)
        return rc;
    *exists = rc == 0;
    return 0;
}

/* Read size bytes of id into out, hashing them; out grows, the caller restores it. */
static int blob_get_into(struct blob_store *s, const char *id, uint64_t size, struct buf *out)
{
    size_t step = size < BLOB_GET_STEP ? (size_t)size : BLOB_GET_STEP;
    char *scratch = malloc(step ? step : 1);
    if (!scratch)
        return -ENOMEM;
    struct hash_sha256 h;
    hash_sha256_init(&h);
    int rc = 0;
    for (uint64_t off = 0; rc == 0 && off < size;) {
        size_t got = 0;
        rc = s->ops->read(s, id, off, scratch, step, &got);
        if (rc == 0 && got == 0)
            rc = -EIO; /* shorter than its recorded size */
        if (rc == 0)
            rc = buf_append(out, scratch, got);
        hash_sha256_update(&h, scratch, rc == 0 ? got : 0);
        off += got;
    }
    free(scratch);
    char hex[BLOB_ID_LEN + 1];
    hash_sha256_final_hex(&h, hex);
    if (rc == 0 && strcmp(hex, id) != 0) {
        log_fields(LOG_LVL_ERROR, json_pack("{s:s}", "blob", id),
                   "blob content does not match its id");
        rc = -EIO;
    }
    return rc;
}

int blob_get(struct blob_store *s, const char *id, struct buf *out)
{
    struct blob_info info;
    if (!out)
        return -EINVAL;
    int rc = blob_stat(s, id, &info);
    if (rc)
        return rc;
    if (info.size > out->limit - out->len)
        return -EMSGSIZE;
    size_t before = out->len;
    rc = blob_get_into(s, id, info.size, out);
    if (rc && out->data) {
        out->len = before; /* all or nothing, like every buf append */
        out->data[before] = '\0';
    }
    return rc;
}

void blob_store_free(struct blob_store *s)
{
    if (s)
        s->ops->destroy(s);
}
