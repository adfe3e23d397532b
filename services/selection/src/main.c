/* main: the selection service's start-up. */
#include "selection.h"

int main(int argc, char **argv)
{
    struct svc_def def = {
        .name = "selection",
        .schema = "selection",
        .migrations_dir = "services/selection/migrations",
        .default_port = 8081,
        .routes = sel_routes,
        .nroutes = sel_nroutes,
        .export_user = store_export_user,
        .erase_user = store_erase_user,
    };
    return svc_main(&def, argc, argv);
}
