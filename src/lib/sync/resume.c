/* Finishing interrupted runs (cli_resume.h): the journal's unsettled operations against Intune. */
/* Settling the operations that killed runs left unfinished (see resume.h). */
#include "sync/resume.h"

#include "common/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct logger {
    ssync_log_fn fn;
    void *ctx;
};

#define say(log, ...) ssync_logf((log)->fn, (log)->ctx, __VA_ARGS__)

struct op_list {
    ssync_op *v;
    size_t n, cap;
};

static int collect(void *ctx, const ssync_op *op)
{
    struct op_list *l = ctx;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        ssync_op *v = realloc(l->v, cap * sizeof *v);
        if (!v)
            return 0;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = *op;
    return 1;
}

/* 1 present, 0 absent, -1 unknown (logged). */
static int is_present(ssync_graph *g, const ssync_pfx_list *listing, const ssync_op *op,
                      const struct logger *log)
{
    if (listing)
        return ssync_pfx_list_find(listing, op->upn, op->thumbprint) != NULL;
    ssync_error e = {0};
    ssync_code rc = ssync_graph_find_pfx(g, op->upn, op->thumbprint, NULL, &e);
    if (rc == SSYNC_OK)
        return 1;
    if (rc == SSYNC_ERR_NOT_FOUND)
        return 0;
    say(log, SSYNC_LOG_WARN, "unfinished %s of %s for %s left for a later run: %s",
        ssync_op_action_name(op->action), op->thumbprint, op->upn, e.msg);
    return -1;
}

size_t ssync_resume(ssync_journal *j, ssync_graph *g, const ssync_pfx_list *listing,
                    ssync_log_fn log_fn, void *log_ctx)
{
    const struct logger logger = {log_fn, log_ctx}, *log = &logger;
    struct op_list l = {0};
    ssync_error e = {0};
    /* collected first: Graph is asked outside the journal's query */
    if (ssync_journal_unsettled(j, collect, &l, &e) != SSYNC_OK) {
        say(log, SSYNC_LOG_WARN, "journal: %s", e.msg);
        free(l.v);
        return 0;
    }
    size_t settled = 0, landed = 0;
    for (size_t i = 0; i < l.n; i++) {
        const ssync_op *op = &l.v[i];
        int present = is_present(g, listing, op, log);
        if (present < 0)
            continue;
        int upload = op->action == SSYNC_OP_UPLOAD;
        int done = upload ? present : !present;
        const char *note = done     ? "resumed: found done in Intune"
                           : upload ? "resumed: not in Intune, not applied"
                                    : "resumed: still in Intune, not applied";
        if (ssync_journal_settle(j, op->action, op->upn, op->thumbprint,
                                 done ? SSYNC_OUTCOME_DONE : SSYNC_OUTCOME_FAILED, note,
                                 &e) != SSYNC_OK) {
            say(log, SSYNC_LOG_WARN, "journal: %s", e.msg);
            continue;
        }
        settled++;
        landed += done;
    }
    if (settled)
        say(log, SSYNC_LOG_INFO,
            "resumed %zu unfinished operation%s of earlier runs: %zu had taken effect, "
            "%zu had not (planned again)",
            settled, settled == 1 ? "" : "s", landed, settled - landed);
    free(l.v);
    return settled;
}
