#include "cli.h"

void cli_print_exit_codes(FILE *out)
{
    fprintf(out, "Exit status:\n"
                 "  0  every item succeeded\n"
                 "  1  no item succeeded, or a fatal error (unreadable KRA or connector key, ...)\n"
                 "  2  bad command line\n"
                 "  3  some items succeeded and some failed (each failure is one line on stderr)\n"
                 "  4  status: differences found (Intune is not in step with the CA)\n");
}
