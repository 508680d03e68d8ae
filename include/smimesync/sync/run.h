/* The writes of a sync, crash-safe: "never create a record twice" is a property of the library
 * and the journal, so any front end (the CLI, a service, a test) keeps it without copying code.
 * For each write: its intent is durable in the journal before its request is sent, its outcome
 * after the answer (done, failed, or ambiguous: sent, then abandoned). Unsettled operations that
 * a killed run left are settled against Intune first (sync/resume.h). The records are built by
 * worker threads (source -> recover -> PKCS#12 -> connector -> record) ahead of the writes. The
 * library never prints: the front end lends hooks for log lines, progress and cancellation. */
#ifndef SSYNC_RUN_H
#define SSYNC_RUN_H

#include "audit/audit.h"
#include "common/errors.h"
#include "graph/graph.h"
#include "journal/journal.h"
#include "record/export.h"
#include "source/source.h"

#include <stddef.h>
#include <stdint.h>

/* What became of one plan item's write. */
typedef struct ssync_item_result {
    char *error;         /* NULL: done, or nothing to do (malloc'd) */
    ssync_code code;     /* why it failed (SSYNC_OK when done or nothing to do) */
    char request_id[64]; /* Graph's request-id of the deciding request; "" when none */
    int wrote;           /* its write was carried out */
    int cancelled;       /* its write was not carried out: the run was interrupted */
} ssync_item_result;

/* What the front end lends a run; every member may be NULL. */
typedef struct ssync_run_hooks {
    ssync_log_fn log; /* errors (failed items, journal), warnings and info lines */
    void *log_ctx;
    void (*progress_begin)(void *ctx, size_t total); /* before the first write */
    void (*progress)(void *ctx, size_t finished);    /* after each write that ended */
    void (*progress_end)(void *ctx);
    /* polled between chunks and after each write: 1 stops the run cleanly (writes not yet sent
     * are cancelled; to stop those in flight the front end calls ssync_graph_cancel too) */
    int (*cancelled)(void *ctx);
    void *ctx; /* for progress and cancelled */
} ssync_run_hooks;

typedef struct ssync_sync_params {
    ssync_graph *graph;
    ssync_journal *journal; /* required */
    ssync_source *source;   /* the source the plan was scanned from */
    /* a plan scanned from several sources: each item is exported by the source it names
     * (ssync_source_owns); n_sources == 0: every item by source */
    ssync_source *const *sources;
    size_t n_sources;
    const ssync_exporter *exporter; /* the record options; its connector key is loaded here */
    const char *connector_key;      /* [connector] public_key */
    const ssync_pfx_list *listing;  /* the run's full listing, or NULL in a targeted run */
    unsigned workers;               /* record builders; 0: one per CPU */
    size_t max_in_flight;           /* [intune] max_in_flight: the least journal batch */
    const ssync_run_hooks *hooks;   /* may be NULL */
    /* [audit] path, open (may be NULL: no trail): a line per write and per recovery, durable
     * after each chunk; a line that cannot be written stops the run */
    ssync_audit *audit;
} ssync_sync_params;

typedef struct ssync_sync_summary {
    int64_t run_id;  /* the journal's run; 0 when none could be started */
    size_t planned;  /* writes in the plan */
    size_t done;     /* writes carried out */
    size_t resumed;  /* unfinished operations of earlier runs settled */
    int interrupted; /* the cancelled hook said so */
} ssync_sync_summary;

/* Carries out the writes of p. results: one per plan item, zeroed by the caller (free with
 * ssync_item_results_free). Returns SSYNC_OK when the writes ran (each outcome is in results,
 * a fatal Graph error included: the writes it stopped carry why), else the error that stopped
 * the run (no journal, connector key, workers, a journal failure mid-run; logged); the writes not
 * carried out say so in results in every case. */
ssync_code ssync_sync_run(const ssync_sync_params *prm, ssync_plan *p, ssync_item_result *results,
                          ssync_sync_summary *out);

void ssync_item_results_free(ssync_item_result *results, size_t n);

#endif
