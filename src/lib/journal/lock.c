/* The one-writer lock (see lock.h). */
#include "journal/lock.h"

#include "common/clock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

struct ssync_lock {
    int fd;
};

static pid_t holder_of(int fd)
{
    char buf[32] = "";
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    long pid = strtol(buf, NULL, 10);
    return pid > 0 ? (pid_t)pid : 0;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

ssync_code ssync_lock_take(const char *state_path, const ssync_lock_wait *w, ssync_lock **out,
                           ssync_error *err)
{
    *out = NULL;
    if (!state_path)
        return ssync_fail(err, SSYNC_ERR_ARG, "state lock: no [state] path");
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s.lock", state_path) >= sizeof path)
        return ssync_fail(err, SSYNC_ERR_ARG, "state lock: path too long");
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return ssync_fail(err, SSYNC_ERR_STATE, "state lock %s: %s", path, strerror(errno));
    double wait = w ? w->seconds : -1;
    double deadline = ssync_mono() + wait;
    int told = 0;
    for (;;) {
        if (flock(fd, LOCK_EX | LOCK_NB) == 0)
            break;
        if (errno != EWOULDBLOCK && errno != EINTR) {
            int e = errno;
            close(fd);
            return ssync_fail(err, SSYNC_ERR_STATE, "state lock %s: %s", path, strerror(e));
        }
        pid_t holder = holder_of(fd);
        if (wait == 0 || (wait > 0 && ssync_mono() >= deadline)) {
            close(fd);
            return ssync_fail(err, SSYNC_ERR_BUSY, "pid %ld (%s): nothing done", (long)holder,
                              path);
        }
        if (!told && w && w->waiting)
            w->waiting(w->ctx, holder);
        told = 1;
        if (w && w->cancelled && w->cancelled(w->ctx)) {
            close(fd);
            return ssync_fail(err, SSYNC_ERR_CANCELLED, "state lock %s: not taken (interrupted)",
                              path);
        }
        sleep_ms(100);
    }
    char pid[32];
    int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)n, 0) != n) {
        /* the pid only serves the waiting run's message: the lock itself holds */
    }
    ssync_lock *l = malloc(sizeof *l);
    if (!l) {
        close(fd);
        return ssync_fail(err, SSYNC_ERR_NOMEM, "state lock");
    }
    l->fd = fd;
    *out = l;
    return SSYNC_OK;
}

void ssync_lock_release(ssync_lock *l)
{
    if (!l)
        return;
    if (ftruncate(l->fd, 0) != 0) {
        /* a stale pid in an unlocked file misleads nobody: the lock is what counts */
    }
    close(l->fd); /* releases the flock */
    free(l);
}
