/* main: the selection service's start-up. */
#include "selection.h"

#include <errno.h>
#include <stdlib.h>

static int sel_init(struct svc *s)
{
    struct sel_app *app = calloc(1, sizeof(*app));
    if (!app)
        return -ENOMEM;
    int rc = blob_pg_new(s->db, "selection", &app->blobs);
    if (rc) {
        free(app);
        return rc;
    }
    s->app = app;
    return 0;
}

static void sel_fini(struct svc *s)
{
    struct sel_app *app = s->app;
    if (!app)
        return;
    blob_store_free(app->blobs);
    free(app);
    s->app = NULL;
}

int main(int argc, char **argv)
{
    struct svc_def def = {
        .name = "selection",
        .schema = "selection",
        .migrations_dir = "services/selection/migrations",
        .default_port = 8081,
        .routes = sel_routes,
        .nroutes = sel_nroutes,
        .init = sel_init,
        .fini = sel_fini,
        .export_user = store_export_user,
        .erase_user = store_erase_user,
    };
    return svc_main(&def, argc, argv);
}
