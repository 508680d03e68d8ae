#include "cli.h"

int cmd_recover(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "smimesync recover: not implemented yet\n");
    return CLI_EXIT_FAILURE;
}
