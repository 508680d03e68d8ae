/* smimesync ca requests: placeholder until the view is written. */
#include "cli.h"

#include <stdio.h>

int cmd_ca(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "smimesync ca: not yet\n");
    return CLI_EXIT_USAGE;
}
