/* Finishing interrupted runs: the journal's unsettled operations (pending or ambiguous, left by
 * a run that was killed) are settled against what Intune holds before a sync plans its writes.
 * An upload found present is done; one absent is not done (this run's plan uploads it again,
 * since its listing shows it missing). A remove found absent is done; present, not done. */
#ifndef SSYNC_RESUME_H
#define SSYNC_RESUME_H

#include "graph/graph.h"
#include "journal/journal.h"

#include <stddef.h>

/* listing: the run's full listing (sorted), or NULL in a targeted run, which then asks Graph per
 * operation. Returns how many operations were settled; one that cannot be checked stays
 * unsettled (logged as a warning through log, which may be NULL). */
size_t ssync_resume(ssync_journal *j, ssync_graph *g, const ssync_pfx_list *listing,
                    ssync_log_fn log, void *log_ctx);

#endif
