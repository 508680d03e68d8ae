/* smimesync plan: what a sync would do, item by item, without writing anything
 * (cli_plan.c builds and reports the plan). */
#include "cli.h"
#include "cli_plan.h"

#include "plan.h"

int cmd_plan(int argc, char **argv)
{
    struct cli_plan_run r = {.cmd = "plan"};
    int rc = cli_plan_prepare(&r, argc, argv);
    if (rc == -1) {
        rc = CLI_EXIT_OK;
    } else if (rc == CLI_EXIT_OK) {
        int failed = cli_plan_report(&r, NULL);
        rc = failed == 0                      ? CLI_EXIT_OK
             : (size_t)failed < r.plan->count ? CLI_EXIT_PARTIAL
                                              : CLI_EXIT_FAILURE;
    }
    cli_plan_release(&r);
    return rc;
}
