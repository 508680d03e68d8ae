/* The counts of answers by method and status (graph.h, ssync_graph_stats), for metrics. */
#include "graph/graph.h"

#include <stdio.h>
#include <string.h>

void ssync_graph_stats_count_answer(ssync_graph_stats *st, const char *method, long status)
{
    if (!st || !method)
        return;
    for (size_t i = 0; i < st->n_by_status; i++) {
        struct ssync_graph_status_count *c = &st->by_status[i];
        if (c->status == status && strcmp(c->method, method) == 0) {
            c->count++;
            return;
        }
    }
    if (st->n_by_status == SSYNC_GRAPH_STATUS_SLOTS) {
        st->other_answers++;
        return;
    }
    struct ssync_graph_status_count *c = &st->by_status[st->n_by_status++];
    snprintf(c->method, sizeof c->method, "%s", method);
    c->status = status;
    c->count = 1;
}
