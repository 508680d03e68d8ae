/* The service manager's notification protocol (sd_notify(3), through libsystemd): `watch` runs as
 * Type=notify with WatchdogSec=. Outside systemd (no $NOTIFY_SOCKET) every call does nothing. */
#ifndef SSYNC_CLI_NOTIFY_H
#define SSYNC_CLI_NOTIFY_H

#include <stdint.h>

struct cli_notify {
    uint64_t watchdog_usec; /* 0: no watchdog asked for */
    double last_ping;       /* monotonic seconds */
};

/* Reads the watchdog interval ($WATCHDOG_USEC for this process). */
void cli_notify_init(struct cli_notify *n);
/* READY=1 with a STATUS= line: the directory is watched. */
void cli_notify_ready(const char *status);
/* WATCHDOG=1 when half the interval has passed since the last ping (call it often). */
void cli_notify_watchdog(struct cli_notify *n);
/* STOPPING=1: a clean stop began. */
void cli_notify_stopping(void);
/* STATUS=... (what `systemctl status` shows). */
void cli_notify_status(const char *status);

#endif
