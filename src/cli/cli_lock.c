/* The one-writer lock as the writing commands take it (see cli_lock.h). */
#include "cli_lock.h"

#include "cli.h"
#include "cli_log.h"
#include "cli_signal.h"

#include "journal/lock.h"
#include "sync/config.h"

struct lock_ctx {
    const struct cli_log *log;
    const struct ssync_config *cfg;
    struct cli_signal *sig;
};

static void lock_waiting(void *ctx, pid_t holder)
{
    const struct lock_ctx *c = ctx;
    cli_log_msg(c->log, SSYNC_LOG_WARN,
                "another run (pid %ld) holds the state lock: waiting for it to end%s", (long)holder,
                c->cfg->state.lock_wait > 0 ? " ([state] lock_wait)" : "");
}

static int lock_cancelled(void *ctx)
{
    const struct lock_ctx *c = ctx;
    return c->sig && cli_signal_received(c->sig);
}

ssync_code cli_lock_take(const struct cli_log *log, const struct ssync_config *cfg, int no_wait,
                         struct cli_signal *sig, struct ssync_lock **out)
{
    *out = NULL;
    if (!cfg->state.path)
        return SSYNC_OK;
    struct lock_ctx c = {log, cfg, sig};
    ssync_error e = {0};
    ssync_lock_wait w = {.seconds = no_wait ? 0 : cfg->state.lock_wait,
                         .waiting = lock_waiting,
                         .cancelled = lock_cancelled,
                         .ctx = &c};
    ssync_code rc = ssync_lock_take(cfg->state.path, &w, out, &e);
    if (rc == SSYNC_ERR_BUSY)
        cli_log_error(log, NULL, &e);
    else if (rc != SSYNC_OK)
        cli_log_msg(log, SSYNC_LOG_ERROR, "[state] path: %s", e.msg);
    return rc;
}

int cli_lock_exit(ssync_code rc)
{
    return rc == SSYNC_OK ? CLI_EXIT_OK : rc == SSYNC_ERR_BUSY ? CLI_EXIT_BUSY : CLI_EXIT_FAILURE;
}
