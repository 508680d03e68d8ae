/* sd_notify for watch (cli_notify.h). */
#include "cli_notify.h"

#include "common/clock.h"

#include <stdio.h>
#include <systemd/sd-daemon.h>

void cli_notify_init(struct cli_notify *n)
{
    uint64_t usec = 0;
    n->watchdog_usec = sd_watchdog_enabled(0, &usec) > 0 ? usec : 0;
    n->last_ping = ssync_mono();
}

void cli_notify_ready(const char *status)
{
    sd_notifyf(0, "READY=1\nSTATUS=%s", status);
}

void cli_notify_watchdog(struct cli_notify *n)
{
    if (!n->watchdog_usec)
        return;
    double now = ssync_mono();
    /* half the interval, as sd_watchdog_enabled(3) recommends */
    if (now - n->last_ping >= (double)n->watchdog_usec / 2e6) {
        sd_notify(0, "WATCHDOG=1");
        n->last_ping = now;
    }
}

void cli_notify_stopping(void)
{
    sd_notify(0, "STOPPING=1\nSTATUS=stopping");
}

void cli_notify_status(const char *status)
{
    sd_notifyf(0, "STATUS=%s", status);
}
