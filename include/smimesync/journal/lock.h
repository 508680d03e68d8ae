/* One writer at a time: the runs that write to Intune (sync, remove, upload, watch's syncs) hold
 * an exclusive flock(2) on "<state path>.lock" for their whole run, so the hourly timer and
 * `watch` never plan and send the same writes twice. The lock dies with its process: a killed
 * run leaves no stale lock. The file holds the holder's pid, for the message of the one waiting. */
#ifndef SSYNC_LOCK_H
#define SSYNC_LOCK_H

#include "common/errors.h"

#include <sys/types.h>

typedef struct ssync_lock ssync_lock;

typedef struct ssync_lock_wait {
    double seconds; /* < 0: until the lock is free; 0: not at all (SSYNC_ERR_BUSY at once) */
    /* called once when another run holds the lock (holder: its pid, 0 when unknown) */
    void (*waiting)(void *ctx, pid_t holder);
    int (*cancelled)(void *ctx); /* polled while waiting: 1 gives up with SSYNC_ERR_CANCELLED */
    void *ctx;
} ssync_lock_wait;

/* Takes the lock beside state_path (created 0600, never through a symlink). SSYNC_ERR_BUSY when
 * another run still holds it after the wait (the message names its pid). */
ssync_code ssync_lock_take(const char *state_path, const ssync_lock_wait *w, ssync_lock **out,
                           ssync_error *err);
void ssync_lock_release(ssync_lock *l);

#endif
