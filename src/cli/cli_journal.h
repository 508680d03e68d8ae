/* Structured log entries for the systemd journal (sd_journal_send(3), libsystemd's native
 * protocol): each event kind has a stable MESSAGE_ID (documented in smimesync(1), "JOURNAL"), and
 * entries carry SMIMESYNC_USER, SMIMESYNC_THUMBPRINT, SMIMESYNC_SOURCE,
 * SMIMESYNC_GRAPH_REQUEST_ID, PRIORITY. Never a secret: only what the reports show. */
#ifndef SSYNC_CLI_JOURNAL_H
#define SSYNC_CLI_JOURNAL_H

#include "common/log.h"

/* Event kinds; none: a plain line (no MESSAGE_ID). Do not reorder: the ids are a contract. */
enum cli_event {
    CLI_EV_NONE = 0,
    CLI_EV_RUN_STARTED,
    CLI_EV_RUN_FINISHED,
    CLI_EV_ITEM_UPLOADED,
    CLI_EV_ITEM_REMOVED,
    CLI_EV_ITEM_FAILED,
    CLI_EV_THROTTLED,
    CLI_EV_CAP_TRIPPED,
    CLI_EV_KRA_EXPIRING,
    CLI_EV_CREDENTIAL_EXPIRING,
    CLI_EV_COUNT
};

/* The fields of one entry besides the message; every member may be NULL. */
struct cli_event_fields {
    enum cli_event event;
    const char *user;       /* UPN */
    const char *thumbprint; /* lowercase hex SHA-1 */
    const char *source;     /* the blob file, or the CA */
    const char *request_id; /* Graph's request-id */
};

/* The 32-hex MESSAGE_ID of ev; NULL for CLI_EV_NONE. */
const char *cli_event_message_id(enum cli_event ev);
/* syslog priority of a level (error 3, warning 4, info 6, debug 7). */
int cli_journal_priority(ssync_log_level level);
/* 1 when stderr is the journal stream systemd set up ($JOURNAL_STREAM names its device and inode,
 * systemd.exec(5)). */
int cli_journal_stderr_is_journal(void);
/* 1 when journald's native socket is there (systemd-journald.service(8):
 * /run/systemd/journal/socket, the path libsystemd sends to). */
int cli_journal_available(void);
/* Sends one entry; 0 on success, else -errno (the caller then prints the line on stderr). */
int cli_journal_send(const char *cmd, ssync_log_level level, const char *msg,
                     const struct cli_event_fields *f);

#endif
