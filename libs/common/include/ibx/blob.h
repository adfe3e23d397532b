/* blob: a content-addressed artifact store (uploaded files, parsed datasets, trained
 * models). The id of a blob is the SHA-256 of its content as 64 lowercase hex digits, so
 * putting content that is already stored is a no-op returning the same id. Content is
 * immutable; the media type given by the first put is kept.
 *
 * A store is a struct of function pointers (struct blob_ops) so another backend (S3, a
 * filesystem) can stand in; blob_pg_new() makes the PostgreSQL one. Stores are safe to
 * use from several threads; a writer belongs to one thread.
 *
 * Errors: 0, or -EINVAL (bad argument or media type), -ENOENT (no such blob; also for an
 * id that is not 64 lowercase hex digits), -EMSGSIZE (does not fit the caller's buffer),
 * -EIO (backend failure or content that no longer matches its id), -EAGAIN, -ENOMEM.
 * Ids are written into char[BLOB_ID_LEN + 1]; out-parameters are untouched on failure.
 *
 * Deleting is by id: content shared by two owners (same bytes) is one blob, so callers
 * that share content must count references themselves. */
#ifndef IBX_BLOB_H
#define IBX_BLOB_H

#include <ibx/buf.h>
#include <ibx/hash.h>

#include <stddef.h>
#include <stdint.h>

#define BLOB_WUR                __attribute__((warn_unused_result))
#define BLOB_ID_LEN             HASH_SHA256_HEX_LEN
#define BLOB_MEDIA_TYPE_MAX     127
#define BLOB_MEDIA_TYPE_DEFAULT "application/octet-stream"

struct blob_info {
    uint64_t size;
    char media_type[BLOB_MEDIA_TYPE_MAX + 1];
    int64_t created_ms; /* wall-clock milliseconds since the epoch */
};

struct blob_store;
struct blob_writer;

/* Store content from memory (data borrowed) and write its id. media_type NULL means
 * BLOB_MEDIA_TYPE_DEFAULT; otherwise printable ASCII with a '/', at most 127 bytes. */
int blob_put(struct blob_store *s, const void *data, size_t len, const char *media_type,
             char id[BLOB_ID_LEN + 1]) BLOB_WUR;

/* Streaming put: open a writer, write chunks of any size, then finish (publishes the
 * blob and writes its id) or abort (discards everything). Memory stays bounded whatever
 * the total size, and nothing becomes visible before finish succeeds. After a failed
 * write the writer only reports that error: finish or abort it. finish and abort always
 * free the writer; abort accepts NULL. */
int blob_writer_open(struct blob_store *s, const char *media_type,
                     struct blob_writer **out) BLOB_WUR;
int blob_writer_write(struct blob_writer *w, const void *data, size_t len) BLOB_WUR;
int blob_writer_finish(struct blob_writer *w, char id[BLOB_ID_LEN + 1]) BLOB_WUR;
void blob_writer_abort(struct blob_writer *w);

/* Append the whole content to out (which keeps its limit: -EMSGSIZE before reading when
 * it cannot fit) after checking it against its id. On failure out is as it was. */
int blob_get(struct blob_store *s, const char *id, struct buf *out) BLOB_WUR;
int blob_stat(struct blob_store *s, const char *id, struct blob_info *out) BLOB_WUR;
/* Copy up to len bytes starting at offset into dst and set *nread (0 at or past the end).
 * For streaming a blob out piece by piece. dst's contents are unspecified on failure. */
int blob_read(struct blob_store *s, const char *id, uint64_t offset, void *dst, size_t len,
              size_t *nread) BLOB_WUR;
int blob_delete(struct blob_store *s, const char *id) BLOB_WUR;
/* *exists = 1 or 0. */
int blob_exists(struct blob_store *s, const char *id, int *exists) BLOB_WUR;
/* Accepts NULL. Writers must be finished or aborted first. */
void blob_store_free(struct blob_store *s);

/* The PostgreSQL backend: tables blobs (sha256, size, media_type, created_at) and
 * blob_chunks (sha256, seq, data bytea; 1 MiB chunks) in schema (a lowercase
 * identifier), created if missing. pool is borrowed and must outlive the store. A
 * streaming put writes its chunks under a temporary id and renames them in the
 * transaction that publishes the blob; chunks of writers that died are swept here after
 * a day. -EINVAL bad schema, -EIO when PostgreSQL is unreachable. */
struct db_pool;
int blob_pg_new(struct db_pool *pool, const char *schema, struct blob_store **out) BLOB_WUR;

/* ---- for backends ------------------------------------------------------------------
 * A backend embeds struct blob_store (and struct blob_writer) as the first member of its
 * own structs. blob.c validates arguments, hashes what is written and computes ids, so a
 * backend only moves bytes: it never sees an invalid id or media type. */
struct blob_ops {
    /* Allocate a writer for content of media_type. blob.c fills in the base fields. */
    int (*writer_open)(struct blob_store *s, const char *media_type, struct blob_writer **out);
    int (*writer_write)(struct blob_writer *w, const void *data, size_t len);
    /* Publish what was written as id (size bytes); a no-op when id exists. Frees w. */
    int (*writer_finish)(struct blob_writer *w, const char *id, uint64_t size);
    /* Discard what was written. Frees w. */
    void (*writer_abort)(struct blob_writer *w);
    int (*stat)(struct blob_store *s, const char *id, struct blob_info *out);
    int (*read)(struct blob_store *s, const char *id, uint64_t offset, void *dst, size_t len,
                size_t *nread);
    int (*del)(struct blob_store *s, const char *id);
    void (*destroy)(struct blob_store *s);
};

struct blob_store {
    const struct blob_ops *ops;
};

struct blob_writer {
    struct blob_store *store;
    struct hash_sha256 hash;
    uint64_t size;
    int failed; /* the first write error, returned from then on */
};

#endif
