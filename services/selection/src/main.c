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
    };
    return svc_main(&def, argc, argv);
}
