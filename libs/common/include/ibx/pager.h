/* pager: the paged "list the caller's rows" endpoint shared by services whose objects are
 * owned by a user (experiments, explanations, deployments). */
#ifndef IBX_PAGER_H
#define IBX_PAGER_H

#include <ibx/http.h>
#include <ibx/svc.h>

struct pager_spec {
    const char *table;     /* schema-qualified table, a constant from the service's code */
    const char *owner_col; /* column holding the owner's user id (uuid) */
    const char *order;     /* ORDER BY fragment, a constant */
    const char *items_key; /* JSON key of the list, e.g. "experiments" */
};

/* Answer GET with ?page (>=1) and ?page_size (1..100, default 20): the caller's rows (all
 * rows for an admin) as {<items_key>: [...], total_count, page, page_size, total_pages}.
 * Bad paging → 400 in the error format. */
void pager_list_owned(struct svc *s, const struct pager_spec *spec, struct http_req *req,
                      struct http_resp *resp);

/* What pager_list_filtered adds. */
struct pager_filter {
    int owner_only;            /* 1: admins too list only their own rows */
    const char *column;        /* a text column the list may be filtered on with
                                * ?<column>=value, e.g. "status" (a constant); NULL: none */
    const char *const *values; /* the values ?<column> accepts, NULL-terminated */
};

/* pager_list_owned with f (may be NULL): only the rows whose column equals ?<column> when
 * the query gives it (a value not in values → 400), and no other users' rows for an admin
 * when owner_only. */
void pager_list_filtered(struct svc *s, const struct pager_spec *spec, const struct pager_filter *f,
                         struct http_req *req, struct http_resp *resp);

#endif
