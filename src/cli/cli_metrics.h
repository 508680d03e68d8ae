/* Prometheus metrics of a run, written for node exporter's textfile collector (the convention
 * for jobs that a timer starts): [metrics] textfile = PATH, rewritten atomically (temporary file
 * + rename, 0644) at the end of each sync and by watch after each of its syncs. Counters
 * (`_total`) carry on from the file the previous run wrote; gauges describe the last run.
 * Names, units and the alerts on them: docs/user-guide.md ("Monitoring") and
 * dist/prometheus/smimesync.rules.yml. */
#ifndef SSYNC_CLI_METRICS_H
#define SSYNC_CLI_METRICS_H

#include "common/errors.h"
#include "graph/graph.h"
#include "recover/kra.h"
#include "sync/config.h"
#include "sync/run.h"

#include <stddef.h>
#include <time.h>

/* Certificates delivered, failed and pending on one platform (from `status --devices`). */
struct cli_metrics_platform {
    const char *platform; /* "android", "ios", "windows", ... */
    size_t delivered, failed, pending;
};

/* One Intune Certificate Connector (from the Intune checks). */
struct cli_metrics_connector {
    const char *name;
    time_t last_checkin; /* 0: unknown */
    int supported;       /* 1: a supported version, 0: out of support, -1: unknown */
};

/* What a run knows; every pointer may be NULL (the metric is then left out). */
struct cli_metrics {
    double started, ended; /* UNIX time, seconds */
    int success;           /* the run's exit code was 0 */
    const ssync_plan *plan;
    const ssync_item_result *results; /* one per plan item; NULL: nothing was written */
    const ssync_graph_stats *graph;
    const ssync_kra_set *kras;
    time_t credential_not_after; /* the Graph client certificate's; 0: unknown or a secret */
    time_t ca_copy_modified;     /* the CA database copy's mtime ([source] type = edb); 0: none */
    int ca_copy_clean;           /* 1 clean shutdown, 0 dirty, -1 unknown */
    size_t users_expiring;       /* newest certificate expires within 30 days, no successor */
    int users_expiring_known;    /* the plan was scanned */
    const struct cli_metrics_platform *platforms;
    size_t n_platforms;
    const struct cli_metrics_connector *connectors;
    size_t n_connectors;
};

/* The exposition text (malloc'd, NUL-terminated) of m; previous: the text the last run wrote
 * (NULL: none), whose counters this run's add to. NULL on memory. */
char *cli_metrics_render(const struct cli_metrics *m, const char *previous);
/* Renders m over the file at path and replaces it atomically (0644). */
ssync_code cli_metrics_write(const struct cli_metrics *m, const char *path, ssync_error *err);

/* The connector and per-platform delivery metrics of m alone, written atomically (0644) beside
 * path as "<path without .prom>-<part>.prom": `check` ("check") and `status --devices`
 * ("devices") write theirs apart from the run's file, so neither erases the other (node
 * exporter's textfile collector reads every *.prom of the directory). */
ssync_code cli_metrics_write_part(const struct cli_metrics *m, const char *path, const char *part,
                                  ssync_error *err);

#endif
