/* The one-writer lock as the writing commands take it (sync, watch's syncs, remove, upload):
 * the wait of [state] lock_wait or --no-wait, the line saying that the run waits, and the exit
 * code when it cannot be had. */
#ifndef SSYNC_CLI_LOCK_H
#define SSYNC_CLI_LOCK_H

struct cli_log;
struct cli_signal;
struct ssync_config;
struct ssync_lock;

/* Takes the lock beside cfg's [state] path (none without one: *out stays NULL). sig (may be
 * NULL) ends a wait on Ctrl-C. Returns SSYNC_OK, SSYNC_ERR_BUSY (another run holds it),
 * SSYNC_ERR_CANCELLED or why the state directory cannot hold the lock; every failure is logged.
 * cli_lock_exit gives the exit code of a run that cannot go on without it. */
#include "common/errors.h"

ssync_code cli_lock_take(const struct cli_log *log, const struct ssync_config *cfg, int no_wait,
                         struct cli_signal *sig, struct ssync_lock **out);

int cli_lock_exit(ssync_code rc);

#endif
