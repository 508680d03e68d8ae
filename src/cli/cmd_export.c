#include "cli.h"

int cmd_export(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "smimesync export: not implemented yet\n");
    return CLI_EXIT_FAILURE;
}
