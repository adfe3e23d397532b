/* blob_pg: the PostgreSQL backend of the artifact store: 1 MiB bytea chunks in a schema. */
#include <ibx/blob.h>
#include <ibx/clock.h>
#include <ibx/db.h>
#include <ibx/ids.h>
#include <ibx/log.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BLOB_PG_CHUNK       (1 << 20)
#define BLOB_PG_TMP_MAX_AGE ((int64_t)24 * 3600 * 1000) /* ms before a dead writer's chunks go */
#define BLOB_PG_SQL_MAX     384

/* Statements; "@." stands for the quoted schema. sha256 holds an id, or "tmp-<ms>-<uuid>"
 * (ms zero-padded, so ids sort by age) for the chunks of a writer not yet finished. */
enum blob_pg_q {
    Q_TABLE_BLOBS,
    Q_TABLE_CHUNKS,
    Q_INSERT_CHUNK,
    Q_DELETE_CHUNKS,
    Q_PUBLISH,
    Q_RENAME_CHUNKS,
    Q_STAT,
    Q_READ,
    Q_DELETE_BLOB,
    Q_SWEEP,
    Q_COUNT
};

static const char *const blob_pg_tmpl[Q_COUNT] = {
    [Q_TABLE_BLOBS] = "CREATE TABLE IF NOT EXISTS @.blobs (sha256 text COLLATE \"C\" PRIMARY KEY, "
                      "size bigint NOT NULL CHECK (size >= 0), media_type text NOT NULL, "
                      "created_at timestamptz NOT NULL DEFAULT now())",
    [Q_TABLE_CHUNKS] = "CREATE TABLE IF NOT EXISTS @.blob_chunks (sha256 text COLLATE \"C\" NOT "
                       "NULL, seq integer NOT NULL CHECK (seq >= 0), data bytea NOT NULL, "
                       "PRIMARY KEY (sha256, seq))",
    [Q_INSERT_CHUNK] = "INSERT INTO @.blob_chunks (sha256, seq, data) VALUES ($1, $2, $3)",
    [Q_DELETE_CHUNKS] = "DELETE FROM @.blob_chunks WHERE sha256 = $1",
    [Q_PUBLISH] = "INSERT INTO @.blobs (sha256, size, media_type) VALUES ($1, $2, $3) "
                  "ON CONFLICT (sha256) DO NOTHING",
    [Q_RENAME_CHUNKS] = "UPDATE @.blob_chunks SET sha256 = $1 WHERE sha256 = $2",
    [Q_STAT] = "SELECT size, media_type, (extract(epoch FROM created_at) * 1000)::bigint "
               "FROM @.blobs WHERE sha256 = $1",
    [Q_READ] = "SELECT substring(data FROM $3::integer FOR $4::integer) FROM @.blob_chunks "
               "WHERE sha256 = $1 AND seq = $2",
    [Q_DELETE_BLOB] = "DELETE FROM @.blobs WHERE sha256 = $1",
    [Q_SWEEP] = "DELETE FROM @.blob_chunks WHERE sha256 LIKE 'tmp-%' AND sha256 < $1",
};

struct blob_pg {
    struct blob_store base;
    struct db_pool *pool; /* borrowed */
    char sql[Q_COUNT][BLOB_PG_SQL_MAX];
};

struct blob_pg_writer {
    struct blob_writer base;
    struct blob_pg *pg; /* the store, as its backend type */
    char tmp_id[64];
    char media_type[BLOB_MEDIA_TYPE_MAX + 1];
    unsigned char *chunk; /* BLOB_PG_CHUNK bytes being filled */
    size_t fill;
    int32_t seq; /* chunks stored so far */
};

/* tmpl with every "@." replaced by "schema". (schema is a checked identifier). */
static int blob_pg_expand(const char *tmpl, const char *schema, char *out, size_t n)
{
    size_t o = 0, slen = strlen(schema);
    for (const char *p = tmpl; *p; p++) {
        int is_schema = p[0] == '@' && p[1] == '.';
        size_t need = is_schema ? slen + 2 : 1;
        if (o + need >= n)
            return -EINVAL;
        if (is_schema) {
            out[o] = '"';
            memcpy(out + o + 1, schema, slen);
            out[o + 1 + slen] = '"';
        } else {
            out[o] = *p;
        }
        o += need;
    }
    out[o] = '\0';
    return 0;
}

/* ---- writing ---------------------------------------------------------------------- */

static int blob_pg_insert_chunk(struct blob_pg_writer *w, const void *data, size_t len)
{
    char seq[16];
    snprintf(seq, sizeof(seq), "%" PRId32, w->seq);
    const char *p[] = {w->tmp_id, seq, data};
    const int lens[] = {0, 0, (int)len}, fmts[] = {0, 0, 1};
    int rc = db_query_bin(w->pg->pool, w->pg->sql[Q_INSERT_CHUNK], 3, p, lens, fmts, 0, NULL);
    if (rc == 0)
        w->seq++;
    return rc;
}

static int blob_pg_writer_open(struct blob_store *s, const char *media_type,
                               struct blob_writer **out)
{
    struct blob_pg_writer *w = calloc(1, sizeof(*w));
    if (!w)
        return -ENOMEM;
    w->chunk = malloc(BLOB_PG_CHUNK);
    if (!w->chunk) {
        free(w);
        return -ENOMEM;
    }
    char uuid[IDS_UUID_LEN + 1];
    ids_uuid4(uuid);
    snprintf(w->tmp_id, sizeof(w->tmp_id), "tmp-%015" PRId64 "-%s", clock_wall_ms(), uuid);
    snprintf(w->media_type, sizeof(w->media_type), "%s", media_type);
    w->pg = (struct blob_pg *)s;
    *out = &w->base;
    return 0;
}

static int blob_pg_writer_write(struct blob_writer *bw, const void *data, size_t len)
{
    struct blob_pg_writer *w = (struct blob_pg_writer *)bw;
    const unsigned char *p = data;
    while (len > 0) {
        int rc = 0;
        if (w->fill == 0 && len >= BLOB_PG_CHUNK) { /* a whole chunk: no copy */
            rc = blob_pg_insert_chunk(w, p, BLOB_PG_CHUNK);
            p += BLOB_PG_CHUNK;
            len -= BLOB_PG_CHUNK;
        } else {
            size_t take = BLOB_PG_CHUNK - w->fill < len ? BLOB_PG_CHUNK - w->fill : len;
            memcpy(w->chunk + w->fill, p, take);
            w->fill += take;
            p += take;
            len -= take;
            if (w->fill == BLOB_PG_CHUNK)
                rc = blob_pg_insert_chunk(w, w->chunk, BLOB_PG_CHUNK);
            if (rc == 0 && w->fill == BLOB_PG_CHUNK)
                w->fill = 0;
        }
        if (rc)
            return rc;
    }
    return 0;
}

static void blob_pg_writer_free(struct blob_pg_writer *w)
{
    free(w->chunk);
    free(w);
}

static void blob_pg_writer_abort(struct blob_writer *bw)
{
    struct blob_pg_writer *w = (struct blob_pg_writer *)bw;
    const char *p[] = {w->tmp_id};
    /* Best effort: chunks left behind are swept by a later blob_pg_new(). */
    if (w->seq > 0 && db_query(w->pg->pool, w->pg->sql[Q_DELETE_CHUNKS], 1, p, NULL) != 0)
        log_fields(LOG_LVL_WARN, json_pack("{s:s}", "blob", w->tmp_id),
                   "could not discard the chunks of an aborted blob writer");
    blob_pg_writer_free(w);
}

/* In one transaction: record the blob and rename its chunks, or, when the content is
 * already there, drop the duplicate chunks. */
static int blob_pg_publish(struct blob_pg_writer *w, struct db_conn *c, const char *id,
                           uint64_t size)
{
    char size_s[24];
    snprintf(size_s, sizeof(size_s), "%" PRIu64, size);
    const char *pub[] = {id, size_s, w->media_type}, *ren[] = {id, w->tmp_id};
    PGresult *r = NULL;
    int rc = db_conn_query(c, w->pg->sql[Q_PUBLISH], 3, pub, &r);
    if (rc)
        return rc;
    int fresh = db_affected(r) == 1;
    PQclear(r);
    r = NULL;
    if (!fresh)
        return db_conn_query(c, w->pg->sql[Q_DELETE_CHUNKS], 1, ren + 1, NULL);
    rc = db_conn_query(c, w->pg->sql[Q_RENAME_CHUNKS], 2, ren, &r);
    if (rc)
        return rc;
    if (db_affected(r) != w->seq) { /* chunks lost (swept?) */
        log_fields(LOG_LVL_ERROR, json_pack("{s:s}", "blob", w->tmp_id),
                   "blob writer chunks missing at publish");
        rc = -EIO;
    }
    PQclear(r);
    return rc;
}

static int blob_pg_writer_finish(struct blob_writer *bw, const char *id, uint64_t size)
{
    struct blob_pg_writer *w = (struct blob_pg_writer *)bw;
    struct db_conn *c = NULL;
    int rc = 0;
    if (w->fill > 0)
        rc = blob_pg_insert_chunk(w, w->chunk, w->fill);
    if (rc == 0)
        rc = db_acquire(w->pg->pool, DB_ACQUIRE_TIMEOUT_MS, &c);
    if (rc)
        goto fail_writer;
    rc = db_begin(c);
    if (rc == 0)
        rc = blob_pg_publish(w, c, id, size);
    if (rc == 0)
        rc = db_commit(c);
    else
        db_rollback(c);
    db_release(c);
    if (rc)
        goto fail_writer;
    blob_pg_writer_free(w);
    return 0;
fail_writer:
    blob_pg_writer_abort(bw);
    return rc;
}

/* ---- reading ---------------------------------------------------------------------- */

static int blob_pg_stat(struct blob_store *s, const char *id, struct blob_info *out)
{
    struct blob_pg *st = (struct blob_pg *)s;
    const char *p[] = {id};
    PGresult *r = NULL;
    int rc = db_query(st->pool, st->sql[Q_STAT], 1, p, &r);
    if (rc)
        return rc;
    int64_t size = 0, created = 0;
    const char *mt = db_val(r, 0, 1);
    if (PQntuples(r) != 1)
        rc = -ENOENT;
    else if (db_val_i64(r, 0, 0, &size) || db_val_i64(r, 0, 2, &created) || size < 0 || !mt)
        rc = -EIO;
    if (rc == 0) {
        out->size = (uint64_t)size;
        snprintf(out->media_type, sizeof(out->media_type), "%s", mt);
        out->created_ms = created;
    }
    PQclear(r);
    return rc;
}

/* Copy n bytes from chunk seq at byte in of it into dst. */
static int blob_pg_read_piece(struct blob_pg *st, struct db_conn *c, const char *id, uint64_t seq,
                              size_t in, size_t n, void *dst)
{
    char seq_s[24], from[24], count[24];
    snprintf(seq_s, sizeof(seq_s), "%" PRIu64, seq);
    snprintf(from, sizeof(from), "%zu", in + 1);
    snprintf(count, sizeof(count), "%zu", n);
    const char *p[] = {id, seq_s, from, count};
    PGresult *r = NULL;
    int rc = db_conn_query_bin(c, st->sql[Q_READ], 4, p, NULL, NULL, 1, &r);
    if (rc)
        return rc;
    if (PQntuples(r) != 1)
        rc = -ENOENT; /* deleted while we read */
    else if ((size_t)PQgetlength(r, 0, 0) != n)
        rc = -EIO;
    else
        memcpy(dst, PQgetvalue(r, 0, 0), n);
    PQclear(r);
    return rc;
}

static int blob_pg_read(struct blob_store *s, const char *id, uint64_t offset, void *dst,
                        size_t len, size_t *nread)
{
    struct blob_pg *st = (struct blob_pg *)s;
    struct blob_info info;
    int rc = blob_pg_stat(s, id, &info);
    if (rc)
        return rc;
    uint64_t end = offset < info.size && len < info.size - offset ? offset + len : info.size;
    if (offset >= end) {
        *nread = 0;
        return 0;
    }
    struct db_conn *c = NULL;
    rc = db_acquire(st->pool, DB_ACQUIRE_TIMEOUT_MS, &c);
    for (uint64_t pos = offset; rc == 0 && pos < end;) {
        size_t in = (size_t)(pos % BLOB_PG_CHUNK);
        size_t n = BLOB_PG_CHUNK - in < end - pos ? BLOB_PG_CHUNK - in : (size_t)(end - pos);
        rc = blob_pg_read_piece(st, c, id, pos / BLOB_PG_CHUNK, in, n,
                                (unsigned char *)dst + (pos - offset));
        pos += n;
    }
    db_release(c);
    if (rc == 0)
        *nread = (size_t)(end - offset);
    return rc;
}

/* ---- deleting, the store ------------------------------------------------------------ */

static int blob_pg_del(struct blob_store *s, const char *id)
{
    struct blob_pg *st = (struct blob_pg *)s;
    const char *p[] = {id};
    struct db_conn *c = NULL;
    PGresult *r = NULL;
    int rc = db_acquire(st->pool, DB_ACQUIRE_TIMEOUT_MS, &c);
    if (rc)
        return rc;
    rc = db_begin(c);
    if (rc == 0)
        rc = db_conn_query(c, st->sql[Q_DELETE_BLOB], 1, p, &r);
    if (rc == 0 && db_affected(r) != 1)
        rc = -ENOENT;
    if (rc == 0)
        rc = db_conn_query(c, st->sql[Q_DELETE_CHUNKS], 1, p, NULL);
    if (rc == 0)
        rc = db_commit(c);
    else
        db_rollback(c);
    PQclear(r);
    db_release(c);
    return rc;
}

static void blob_pg_destroy(struct blob_store *s)
{
    free(s);
}

static const struct blob_ops blob_pg_ops = {
    .writer_open = blob_pg_writer_open,
    .writer_write = blob_pg_writer_write,
    .writer_finish = blob_pg_writer_finish,
    .writer_abort = blob_pg_writer_abort,
    .stat = blob_pg_stat,
    .read = blob_pg_read,
    .del = blob_pg_del,
    .destroy = blob_pg_destroy,
};

/* Create the tables (serialised with migrations and other replicas), then sweep the
 * chunks of writers that died more than a day ago. */
static int blob_pg_prepare(struct blob_pg *st, const char *schema)
{
    struct db_conn *c = NULL;
    int rc = db_acquire(st->pool, DB_ACQUIRE_TIMEOUT_MS, &c);
    if (rc)
        return rc;
    rc = db_begin(c);
    if (rc == 0)
        rc = db_schema_lock(c, schema);
    if (rc == 0)
        rc = db_conn_query(c, st->sql[Q_TABLE_BLOBS], 0, NULL, NULL);
    if (rc == 0)
        rc = db_conn_query(c, st->sql[Q_TABLE_CHUNKS], 0, NULL, NULL);
    if (rc == 0)
        rc = db_commit(c);
    else
        db_rollback(c);
    char cutoff[32];
    snprintf(cutoff, sizeof(cutoff), "tmp-%015" PRId64, clock_wall_ms() - BLOB_PG_TMP_MAX_AGE);
    const char *p[] = {cutoff};
    if (rc == 0)
        rc = db_conn_query(c, st->sql[Q_SWEEP], 1, p, NULL);
    db_release(c);
    return rc;
}

int blob_pg_new(struct db_pool *pool, const char *schema, struct blob_store **out)
{
    if (!pool || !schema || !out || !db_is_ident(schema))
        return -EINVAL;
    if (ids_init() != 0)
        return -EIO;
    struct blob_pg *st = calloc(1, sizeof(*st));
    if (!st)
        return -ENOMEM;
    st->base.ops = &blob_pg_ops;
    st->pool = pool;
    int rc = 0;
    for (int q = 0; rc == 0 && q < Q_COUNT; q++)
        rc = blob_pg_expand(blob_pg_tmpl[q], schema, st->sql[q], sizeof(st->sql[q]));
    if (rc == 0)
        rc = blob_pg_prepare(st, schema);
    if (rc) {
        free(st);
        return rc;
    }
    *out = &st->base;
    return 0;
}
