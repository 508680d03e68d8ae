/* Ctrl-C and SIGTERM during a sync, without a signal handler or global state: the main thread
 * blocks SIGINT/SIGTERM before any other thread exists (threads inherit the mask), and one
 * small thread waits for them with sigwait. The first signal cancels the Graph client (writes
 * not started end cancelled, the run winds down and is recorded); a second one exits at once
 * (the journal's intents let the next run finish the work). */
#ifndef SSYNC_CLI_SIGNAL_H
#define SSYNC_CLI_SIGNAL_H

#include "graph/graph.h"

#include <pthread.h>
#include <signal.h>

struct cli_signal {
    pthread_t thread;
    pthread_mutex_t lock;
    int started;
    sigset_t old_mask;
    ssync_graph *graph;        /* under lock */
    volatile sig_atomic_t got; /* the signal received, 0 while none */
};

/* Blocks SIGINT and SIGTERM in the calling thread and starts the waiting thread. Returns 0, or
 * -1 when it cannot (then signals keep their default action). */
int cli_signal_start(struct cli_signal *s);
/* From now on a signal cancels g (at once if one already came). g may be NULL to detach. */
void cli_signal_attach(struct cli_signal *s, ssync_graph *g);
/* The signal received so far, 0 for none. */
int cli_signal_received(struct cli_signal *s);
/* Stops the thread and restores the signal mask. Call before freeing the attached client. */
void cli_signal_stop(struct cli_signal *s);

#endif
