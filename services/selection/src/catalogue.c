/* catalogue: validation of catalogue queries (paging and sorting). */
#include "selection.h"

#include <ibx/num.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Sort keys accepted by GET /datasets and the SQL they stand for. */
static const struct {
    const char *key;
    const char *asc;
    const char *desc;
} sort_keys[] = {
    {"name", "name ASC, id", "name DESC, id"},
    {"year", "year ASC NULLS LAST, name", "year DESC NULLS LAST, name"},
    {"instances_number", "instances_number ASC NULLS LAST, name",
     "instances_number DESC NULLS LAST, name"},
    {"features_number", "features_number ASC NULLS LAST, name",
     "features_number DESC NULLS LAST, name"},
    {"num_citations", "num_citations ASC NULLS LAST, name", "num_citations DESC NULLS LAST, name"},
    {"created_at", "created_at ASC, id", "created_at DESC, id"},
    {"updated_at", "updated_at ASC, id", "updated_at DESC, id"},
};

const char *catalogue_parse_list(const char *page, const char *page_size, const char *sort_by,
                                 const char *sort_order, struct sel_list_query *q, char *err,
                                 size_t errlen)
{
    q->page = 1;
    q->page_size = 12;
    if (page && num_parse_long(page, 1, 1000000, &q->page) != 0) {
        snprintf(err, errlen, "page must be an integer of at least 1");
        return err;
    }
    if (page_size && num_parse_long(page_size, 1, 100, &q->page_size) != 0) {
        snprintf(err, errlen, "page_size must be an integer from 1 to 100");
        return err;
    }
    int desc = 0;
    if (sort_order && strcmp(sort_order, "desc") == 0) {
        desc = 1;
    } else if (sort_order && strcmp(sort_order, "asc") != 0) {
        snprintf(err, errlen, "sort_order must be asc or desc");
        return err;
    }
    const char *key = sort_by ? sort_by : "name";
    for (size_t i = 0; i < sizeof(sort_keys) / sizeof(sort_keys[0]); i++) {
        if (strcmp(key, sort_keys[i].key) == 0) {
            q->order = desc ? sort_keys[i].desc : sort_keys[i].asc;
            return NULL;
        }
    }
    snprintf(err, errlen,
             "sort_by must be one of name, year, instances_number, features_number, "
             "num_citations, created_at, updated_at");
    return err;
}
