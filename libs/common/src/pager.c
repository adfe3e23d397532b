/* pager: paged listing of a user's rows, answered as JSON. */
#include <ibx/pager.h>

#include <ibx/num.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int pager_long(const char *s, long def, long min, long max, long *out)
{
    if (!s) {
        *out = def;
        return 0;
    }
    return num_parse_long(s, min, max, out);
}

/* The ?<filter> value: 0 and *value (NULL when absent), -EINVAL when not accepted. */
static int pager_filter_value(const struct pager_filter *f, const struct http_req *req,
                              const char **value)
{
    *value = f && f->column ? http_req_query(req, f->column) : NULL;
    if (!*value)
        return 0;
    for (size_t i = 0; f->values && f->values[i]; i++)
        if (strcmp(f->values[i], *value) == 0)
            return 0;
    return -EINVAL;
}

static int pager_query(struct svc *s, const struct pager_spec *spec, const struct pager_filter *f,
                       const struct http_req *req, const char *filter_value, long page, long size,
                       json_t **rows, long *total)
{
    char sql[1400], where[256], limit[24], offset[24];
    snprintf(limit, sizeof(limit), "%ld", size);
    snprintf(offset, sizeof(offset), "%ld", (page - 1) * size);
    /* $5 (the filter's value) is NULL without a filter */
    if (f && f->column)
        snprintf(where, sizeof(where),
                 "(t.%s = $1::uuid OR $2::boolean) AND ($5::text IS NULL OR t.%s = $5)",
                 spec->owner_col, f->column);
    else
        snprintf(where, sizeof(where), "(t.%s = $1::uuid OR $2::boolean) AND $5::text IS NULL",
                 spec->owner_col);
    snprintf(sql, sizeof(sql),
             "SELECT (SELECT count(*) FROM %s t WHERE %s), coalesce((SELECT json_agg(x) FROM "
             "(SELECT t.* FROM %s t WHERE %s ORDER BY %s LIMIT $3::bigint OFFSET $4::bigint) "
             "x), '[]')",
             spec->table, where, spec->table, where, spec->order);
    int all = svc_is_admin(req) && !(f && f->owner_only);
    const char *p[] = {req->claims.sub, all ? "true" : "false", limit, offset, filter_value};
    PGresult *r = NULL;
    int rc = db_query(s->db, sql, 5, p, &r);
    if (rc)
        return rc;
    json_t *arr = json_loads(PQgetvalue(r, 0, 1), 0, NULL);
    *total = strtol(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    if (!json_is_array(arr)) {
        json_decref(arr);
        return -EIO;
    }
    *rows = arr;
    return 0;
}

void pager_list_owned(struct svc *s, const struct pager_spec *spec, struct http_req *req,
                      struct http_resp *resp)
{
    pager_list_filtered(s, spec, NULL, req, resp);
}

void pager_list_filtered(struct svc *s, const struct pager_spec *spec, const struct pager_filter *f,
                         struct http_req *req, struct http_resp *resp)
{
    long page = 1, size = 20, total = 0;
    if (pager_long(http_req_query(req, "page"), 1, 1, 1000000, &page) != 0 ||
        pager_long(http_req_query(req, "page_size"), 20, 1, 100, &size) != 0) {
        http_resp_error(resp, 400, "invalid_query",
                        "page must be an integer >= 1 and page_size an integer from 1 to 100",
                        NULL);
        return;
    }
    const char *filter_value = NULL;
    if (pager_filter_value(f, req, &filter_value) != 0) {
        char msg[200];
        snprintf(msg, sizeof(msg), "%s has a value this list does not know", f->column);
        http_resp_error(resp, 400, "invalid_query", msg, NULL);
        return;
    }
    json_t *rows = NULL;
    int rc = pager_query(s, spec, f, req, filter_value, page, size, &rows, &total);
    if (rc) {
        http_resp_errno(resp, rc, NULL);
        return;
    }
    json_t *body = json_object();
    json_object_set_new(body, spec->items_key, rows);
    json_object_set_new(body, "total_count", json_integer(total));
    json_object_set_new(body, "page", json_integer(page));
    json_object_set_new(body, "page_size", json_integer(size));
    json_object_set_new(body, "total_pages", json_integer((total + size - 1) / size));
    http_resp_json(resp, 200, body);
}
