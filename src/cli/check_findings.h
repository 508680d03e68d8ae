/* smimesync check: the expiry and coverage findings a PKI team alerts on, the same as the
 * Prometheus metrics carry (cli_metrics.h), for cron mail or any monitoring without Prometheus:
 * each KRA certificate's notAfter, the Graph client certificate's notAfter, the archived keys
 * that no held KRA key opens, and the users whose newest encryption certificate expires within
 * 30 days with no successor. They never change check's exit status (see docs/user-guide.md). */
#ifndef SSYNC_CHECK_FINDINGS_H
#define SSYNC_CHECK_FINDINGS_H

#include "pki/trust.h"
#include "recover/kra.h"
#include "sync/config.h"

#include <jansson.h>
#include <stdio.h>

/* The "findings" object of check --json (a new reference, NULL on memory). text: when not NULL,
 * one "finding: ..." line per finding that needs action is printed there too. */
json_t *check_findings(const ssync_config *cfg, const ssync_kra_set *kras, const ssync_trust *trust,
                       FILE *text);

#endif
