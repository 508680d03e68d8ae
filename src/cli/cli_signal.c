#include "cli_signal.h"

#include <string.h>
#include <unistd.h>

static void wanted(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGTERM);
}

static void *waiter(void *arg)
{
    struct cli_signal *s = arg;
    sigset_t set;
    wanted(&set);
    for (;;) {
        int sig = 0;
        if (sigwait(&set, &sig) != 0)
            continue;
        pthread_mutex_lock(&s->lock);
        int second = s->got != 0;
        s->got = sig;
        if (s->graph)
            ssync_graph_cancel(s->graph);
        pthread_mutex_unlock(&s->lock);
        if (second) {
            static const char msg[] = "smimesync: interrupted twice: exiting now\n";
            ssize_t w = write(STDERR_FILENO, msg, sizeof msg - 1);
            (void)w;
            _exit(128 + sig);
        }
    }
    return NULL;
}

int cli_signal_start(struct cli_signal *s)
{
    memset(s, 0, sizeof *s);
    sigset_t set;
    wanted(&set);
    if (pthread_mutex_init(&s->lock, NULL) != 0)
        return -1;
    if (pthread_sigmask(SIG_BLOCK, &set, &s->old_mask) != 0) {
        pthread_mutex_destroy(&s->lock);
        return -1;
    }
    if (pthread_create(&s->thread, NULL, waiter, s) != 0) {
        pthread_sigmask(SIG_SETMASK, &s->old_mask, NULL);
        pthread_mutex_destroy(&s->lock);
        return -1;
    }
    s->started = 1;
    return 0;
}

void cli_signal_attach(struct cli_signal *s, ssync_graph *g)
{
    if (!s->started)
        return;
    pthread_mutex_lock(&s->lock);
    s->graph = g;
    if (g && s->got)
        ssync_graph_cancel(g);
    pthread_mutex_unlock(&s->lock);
}

int cli_signal_received(struct cli_signal *s)
{
    if (!s->started)
        return 0;
    pthread_mutex_lock(&s->lock);
    int got = s->got;
    pthread_mutex_unlock(&s->lock);
    return got;
}

void cli_signal_stop(struct cli_signal *s)
{
    if (!s->started)
        return;
    /* sigwait is a cancellation point */
    pthread_cancel(s->thread);
    pthread_join(s->thread, NULL);
    pthread_mutex_destroy(&s->lock);
    s->started = 0;
    /* drop a signal that came after the thread stopped: unblocking it would kill the process
     * after the run was already recorded */
    sigset_t pending, set;
    wanted(&set);
    struct timespec zero = {0, 0};
    while (sigpending(&pending) == 0 &&
           (sigismember(&pending, SIGINT) || sigismember(&pending, SIGTERM)))
        if (sigtimedwait(&set, NULL, &zero) < 0)
            break;
    pthread_sigmask(SIG_SETMASK, &s->old_mask, NULL);
}
