/* smimesync plan: what a sync would do, item by item, without writing anything
 * (cli_plan.c builds and reports the plan). */
#include "cli.h"
#include "cli_options.h"
#include "cli_plan.h"
#include "cli_log.h"
#include "cli_report.h"

#include "sync/caps.h"

int cmd_plan(int argc, char **argv)
{
    struct cli_opts o;
    int rc = cli_options_parse(&cli_plan_spec, argc, argv, &o, NULL);
    if (rc != CLI_EXIT_OK)
        return rc == -1 ? CLI_EXIT_OK : rc;
    struct cli_plan_run r = {0};
    rc = cli_plan_prepare(&r, &o);
    if (rc == CLI_EXIT_OK) {
        cli_run_report *doc = cli_plan_report(&r, NULL, 0, 0, 0);
        size_t failed = doc ? cli_report_failed(doc) : r.plan->count;
        ssync_error e = {0};
        if (ssync_caps_check(r.plan, &r.cfg->policy.max_removals, &r.cfg->policy.max_uploads, NULL,
                             NULL, &e) != SSYNC_OK)
            cli_log_msg(r.log, SSYNC_LOG_WARN,
                        "%s: a sync would write nothing (exit status 6) unless run with "
                        "--allow-large-change",
                        e.msg);
        cli_report_free(doc);
        /* a CRL ignored or a source left out: the plan is partial */
        int partial = r.crl_failed || r.sources_failed;
        rc = !doc                      ? CLI_EXIT_FAILURE
             : failed == 0 && !partial ? CLI_EXIT_OK
             : failed == 0             ? CLI_EXIT_PARTIAL
             : failed < r.plan->count  ? CLI_EXIT_PARTIAL
                                       : CLI_EXIT_FAILURE;
    }
    cli_plan_release(&r);
    return rc;
}
