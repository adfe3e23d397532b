/* th_pg: throwaway databases for integration tests, on the cluster whose admin URL
 * (database `postgres`) is in $IBX_TEST_DATABASE_URL (tools/run-tests.sh exports it;
 * by hand: see tools/pg.sh). Tests run in parallel: every database gets a unique name
 * starting with TH_DB_PREFIX. */
#ifndef TH_PG_H
#define TH_PG_H

#include <stddef.h>

#define TH_DB_PREFIX "ibx_test_"

/* The admin URL, or NULL when $IBX_TEST_DATABASE_URL is unset or empty. Borrowed. */
const char *th_pg_admin_url(void);

/* Create a fresh, empty database and write a libpq URL for it into url_out (n bytes).
 * 0, -ENOENT when $IBX_TEST_DATABASE_URL is unset, -EMSGSIZE when url_out is too small,
 * -EIO when the server refuses (the reason goes to stderr). */
int th_db_create(char *url_out, size_t n);

/* Terminate every connection to the database named by url and drop it. Only drops
 * databases whose name starts with TH_DB_PREFIX; errors go to stderr. Accepts NULL. */
void th_db_drop(const char *url);

#endif
