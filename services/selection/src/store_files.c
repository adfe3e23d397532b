/* store_files: the SQL of uploads: a dataset with its files and profiled columns, the
 * file and column reads behind stats/preview/download, and blob reference counting. */
#include "selection.h"

#include <ibx/hash.h>
#include <ibx/ids.h>
#include <ibx/log.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Facts derived from the files (IBIS-X §2.5): instances = the largest file's rows,
 * features = the columns of all files, the global missing percentage over every cell. */
static void sf_derive(json_t *row, const json_t *files)
{
    json_int_t rows = 0, feats = 0;
    double cells = 0, missing = 0;
    struct hash_sha256 h;
    hash_sha256_init(&h);
    const json_t *f;
    size_t i;
    json_array_foreach(files, i, f)
    {
        const json_t *p = json_object_get(f, "profile");
        json_int_t r = json_integer_value(json_object_get(p, "row_count"));
        json_int_t c = json_integer_value(json_object_get(p, "column_count"));
        rows = r > rows ? r : rows;
        feats += c;
        cells += (double)r * (double)c;
        missing += (double)json_integer_value(json_object_get(p, "missing_cells"));
        const char *id = json_string_value(json_object_get(f, "blob_id"));
        hash_sha256_update(&h, id, strlen(id));
        hash_sha256_update(&h, "\n", 1);
    }
    double gmp = cells > 0 ? round(missing / cells * 10000.0) / 100.0 : 0.0;
    char version[HASH_SHA256_HEX_LEN + 1];
    hash_sha256_final_hex(&h, version);
    json_object_set_new(row, "instances_number", json_integer(rows));
    json_object_set_new(row, "features_number", json_integer(feats));
    json_object_set_new(row, "global_missing_percentage", json_real(gmp));
    json_object_set_new(row, "has_missing_values", json_boolean(missing > 0));
    json_object_set_new(row, "version", json_string(version));
}

static int sf_exec(struct db_conn *c, const char *sql, int n, const char *const *p)
{
    PGresult *r = NULL;
    int rc = db_conn_query(c, sql, n, p, &r);
    PQclear(r);
    return rc;
}

/* One file row and its columns. */
static int sf_insert_file(struct db_conn *c, const char *dataset_id, size_t pos, const json_t *f)
{
    char file_id[IDS_UUID_LEN + 1], position[24], size[24], rows[24], cols[24];
    ids_uuid4(file_id);
    const json_t *prof = json_object_get(f, "profile");
    snprintf(position, sizeof(position), "%zu", pos);
    snprintf(size, sizeof(size), "%" JSON_INTEGER_FORMAT,
             json_integer_value(json_object_get(f, "size_bytes")));
    snprintf(rows, sizeof(rows), "%" JSON_INTEGER_FORMAT,
             json_integer_value(json_object_get(prof, "row_count")));
    snprintf(cols, sizeof(cols), "%" JSON_INTEGER_FORMAT,
             json_integer_value(json_object_get(prof, "column_count")));
    const char *format = json_string_value(json_object_get(prof, "format"));
    static const char *const media[][2] = {{"csv", "text/csv"},
                                           {"tsv", "text/tab-separated-values"},
                                           {"json", "application/json"},
                                           {"jsonl", "application/x-ndjson"}};
    const char *mt = "application/octet-stream";
    for (size_t i = 0; format && i < 4; i++)
        if (strcmp(format, media[i][0]) == 0)
            mt = media[i][1];
    /* the file keeps its file-level profile; the columns go to their own rows */
    json_t *fprof = json_deep_copy(prof);
    json_object_del(fprof, "columns");
    char *fprof_s = json_dumps(fprof, JSON_COMPACT);
    char *cols_s = json_dumps(json_object_get(prof, "columns"), JSON_COMPACT);
    json_decref(fprof);
    int rc = -ENOMEM;
    if (fprof_s && cols_s) {
        const char *p[] = {file_id,
                           dataset_id,
                           position,
                           json_string_value(json_object_get(f, "filename")),
                           format,
                           mt,
                           size,
                           rows,
                           cols,
                           json_string_value(json_object_get(f, "blob_id")),
                           json_string_value(json_object_get(f, "columnar_blob_id")),
                           fprof_s};
        rc = sf_exec(c,
                     "INSERT INTO selection.dataset_files (id, dataset_id, position, "
                     "original_filename, format, media_type, size_bytes, row_count, "
                     "column_count, blob_id, columnar_blob_id, profile) VALUES ($1, $2, $3, "
                     "$4, $5, $6, $7, $8, $9, $10, $11, $12::jsonb)",
                     12, p);
        const char *q[] = {file_id, cols_s};
        if (rc == 0)
            rc = sf_exec(c,
                         "INSERT INTO selection.file_columns (id, file_id, position, name, "
                         "data_type_interpreted, is_nullable, is_pii, example_values, stats) "
                         "SELECT gen_random_uuid(), $1::uuid, (c->>'position')::int, c->>'name', "
                         "c->>'type', coalesce((c->>'nullable')::boolean, true), "
                         "coalesce((c->>'pii')::boolean, false), "
                         "ARRAY(SELECT jsonb_array_elements_text(coalesce(c->'examples', '[]'))), "
                         "coalesce(c->'stats', '{}') || jsonb_strip_nulls(jsonb_build_object("
                         "'missing', c->'missing', 'missing_percentage', c->'missing_percentage', "
                         "'pii_reason', c->'pii_reason')) "
                         "FROM jsonb_array_elements($2::jsonb) c",
                         2, q);
    }
    free(fprof_s);
    free(cols_s);
    return rc;
}

int store_create_dataset(struct svc *s, const char *owner, const json_t *meta, const json_t *files,
                         json_t **out)
{
    char id[IDS_UUID_LEN + 1];
    ids_uuid4(id);
    json_t *row = json_deep_copy(meta);
    if (!row)
        return -ENOMEM;
    json_object_set_new(row, "id", json_string(id));
    json_object_set_new(row, "owner_id", json_string(owner));
    if (!json_is_array(json_object_get(row, "domain")))
        json_object_set_new(row, "domain", json_array());
    if (!json_is_array(json_object_get(row, "task")))
        json_object_set_new(row, "task", json_array());
    sf_derive(row, files);
    char *row_s = json_dumps(row, JSON_COMPACT);
    json_decref(row);
    if (!row_s)
        return -ENOMEM;
    struct db_conn *c = NULL;
    int rc = db_acquire(s->db, 5000, &c);
    if (rc == 0)
        rc = db_begin(c);
    const char *p[] = {row_s};
    if (rc == 0)
        rc = sf_exec(c,
                     "INSERT INTO selection.datasets SELECT (r).* FROM (SELECT "
                     "jsonb_populate_record(NULL::selection.datasets, $1::jsonb || "
                     "jsonb_build_object('created_at', now(), 'updated_at', now())) r) x",
                     1, p);
    free(row_s);
    const json_t *f;
    size_t i;
    json_array_foreach(files, i, f)
    {
        if (rc == 0)
            rc = sf_insert_file(c, id, i, f);
    }
    if (rc == 0)
        rc = db_commit(c);
    else if (c)
        db_rollback(c);
    db_release(c);
    if (rc)
        return rc;
    return store_dataset_json(s, id, out);
}

int store_dataset_json(struct svc *s, const char *id, json_t **out)
{
    const char *p[] = {id};
    json_t *v = NULL;
    int rc = db_query_json(
        s->db,
        "SELECT coalesce((SELECT to_jsonb(d) || jsonb_build_object('files', coalesce((SELECT "
        "jsonb_agg("
        "jsonb_build_object('id', f.id, 'position', f.position, 'original_filename', "
        "f.original_filename, 'format', f.format, 'media_type', f.media_type, "
        "'logical_role', f.logical_role, 'size_bytes', f.size_bytes, 'row_count', "
        "f.row_count, 'column_count', f.column_count, 'sha256', f.blob_id, "
        "'description', f.description, 'columns', coalesce((SELECT jsonb_agg("
        "jsonb_build_object('name', c.name, 'position', c.position, "
        "'data_type_interpreted', c.data_type_interpreted, 'is_nullable', c.is_nullable, "
        "'is_pii', c.is_pii, 'is_primary_key_component', c.is_primary_key_component, "
        "'description', c.description, 'example_values', to_jsonb(c.example_values)) "
        "ORDER BY c.position) FROM selection.file_columns c WHERE c.file_id = f.id), "
        "'[]'::jsonb)) ORDER BY f.position) FROM selection.dataset_files f "
        "WHERE f.dataset_id = d.id), '[]'::jsonb)) "
        "FROM selection.datasets d WHERE d.id = $1::uuid), 'null'::jsonb)",
        1, p, &v);
    if (rc == 0 && !json_is_object(v)) {
        json_decref(v);
        return -ENOENT;
    }
    if (rc == 0)
        *out = v;
    return rc;
}

void store_blob_release(struct svc *s, const char *blob_id)
{
    if (!blob_id || !blob_id[0])
        return;
    const char *p[] = {blob_id};
    PGresult *r = NULL;
    if (db_query(s->db,
                 "SELECT 1 FROM selection.dataset_files WHERE blob_id = $1 OR "
                 "columnar_blob_id = $1 LIMIT 1",
                 1, p, &r) != 0) {
        log_warn("blob %s kept: cannot check its references", blob_id);
        return;
    }
    int used = PQntuples(r) > 0;
    PQclear(r);
    if (!used && blob_delete(sel_blobs(s), blob_id) != 0)
        log_warn("blob %s could not be deleted", blob_id);
}

/* Visible to the caller: not private, or owned, or an admin ($1 user, $2 admin). */
#define SF_VISIBLE "(d.access IS DISTINCT FROM 'private' OR d.owner_id = $1::uuid OR $2::boolean)"

static void sf_copy(char *dst, size_t n, const char *src)
{
    snprintf(dst, n, "%s", src ? src : "");
}

int store_visible_file(struct svc *s, const char *ref, const char *file_id, long pos,
                       const char *user, int admin, struct sel_file *out)
{
    char position[24];
    snprintf(position, sizeof(position), "%ld", pos);
    const char *p[] = {user, admin ? "true" : "false", ref, file_id, position};
    PGresult *r = NULL;
    int rc =
        db_query(s->db,
                 "SELECT d.id, d.version, f.id, f.original_filename, f.media_type, "
                 "f.blob_id, f.columnar_blob_id, f.row_count, coalesce(d.target_column, '') "
                 "FROM selection.datasets d JOIN selection.dataset_files f "
                 "ON f.dataset_id = d.id WHERE (d.id::text = $3 OR d.version = $3) AND " SF_VISIBLE
                 " AND CASE WHEN $4::uuid IS NULL THEN f.position = $5::int "
                 "ELSE f.id = $4::uuid END ORDER BY d.created_at LIMIT 1",
                 5, p, &r);
    if (rc)
        return rc;
    if (PQntuples(r) != 1) {
        PQclear(r);
        return -ENOENT;
    }
    struct sel_file f;
    memset(&f, 0, sizeof(f));
    sf_copy(f.dataset_id, sizeof(f.dataset_id), db_val(r, 0, 0));
    sf_copy(f.version, sizeof(f.version), db_val(r, 0, 1));
    sf_copy(f.file_id, sizeof(f.file_id), db_val(r, 0, 2));
    sf_copy(f.filename, sizeof(f.filename), db_val(r, 0, 3));
    sf_copy(f.media_type, sizeof(f.media_type), db_val(r, 0, 4));
    sf_copy(f.blob_id, sizeof(f.blob_id), db_val(r, 0, 5));
    sf_copy(f.columnar_blob_id, sizeof(f.columnar_blob_id), db_val(r, 0, 6));
    sf_copy(f.target_column, sizeof(f.target_column), db_val(r, 0, 8));
    int64_t rows = 0;
    rc = db_val_i64(r, 0, 7, &rows);
    PQclear(r);
    if (rc)
        return -EIO;
    f.row_count = rows;
    *out = f;
    return 0;
}

int store_dataset_stats(struct svc *s, const char *id, const char *user, int admin, json_t **out)
{
    const char *p[] = {user, admin ? "true" : "false", id};
    json_t *v = NULL;
    int rc = db_query_json(
        s->db,
        "SELECT coalesce((SELECT jsonb_build_object('dataset_id', d.id, 'version', d.version, "
        "'instances_number', d.instances_number, 'features_number', d.features_number, "
        "'global_missing_percentage', d.global_missing_percentage, 'files', "
        "coalesce((SELECT jsonb_agg(jsonb_build_object('id', f.id, 'filename', "
        "f.original_filename, 'format', f.format, 'row_count', f.row_count, 'column_count', "
        "f.column_count, 'missing_percentage', f.profile->'missing_percentage', "
        "'correlations', f.profile->'correlations', 'columns', coalesce((SELECT "
        "jsonb_agg(jsonb_build_object('name', c.name, 'position', c.position, 'type', "
        "c.data_type_interpreted, 'is_nullable', c.is_nullable, 'is_pii', c.is_pii, "
        "'examples', to_jsonb(c.example_values)) || c.stats ORDER BY c.position) "
        "FROM selection.file_columns c WHERE c.file_id = f.id), '[]'::jsonb)) "
        "ORDER BY f.position) FROM selection.dataset_files f WHERE f.dataset_id = d.id), "
        "'[]'::jsonb)) FROM selection.datasets d WHERE d.id = $3::uuid AND " SF_VISIBLE
        "), 'null'::jsonb)",
        3, p, &v);
    if (rc == 0 && !json_is_object(v)) {
        json_decref(v);
        return -ENOENT;
    }
    if (rc == 0)
        *out = v;
    return rc;
}

int store_quality_get(struct svc *s, const char *key, json_t **out)
{
    const char *p[] = {key};
    json_t *v = NULL;
    int rc = db_query_json(s->db,
                           "SELECT coalesce((SELECT report FROM selection.quality_reports "
                           "WHERE version = $1), 'null'::jsonb)",
                           1, p, &v);
    if (rc == 0 && !json_is_object(v)) {
        json_decref(v);
        return -ENOENT;
    }
    if (rc == 0)
        *out = v;
    return rc;
}

int store_quality_put(struct svc *s, const char *key, const json_t *report)
{
    char *text = json_dumps(report, JSON_COMPACT);
    if (!text)
        return -ENOMEM;
    const char *p[] = {key, text};
    PGresult *r = NULL;
    int rc = db_query(s->db,
                      "INSERT INTO selection.quality_reports (version, report) VALUES ($1, "
                      "$2::jsonb) ON CONFLICT (version) DO NOTHING",
                      2, p, &r);
    PQclear(r);
    free(text);
    return rc;
}
