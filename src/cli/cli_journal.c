/* Native journal entries (cli_journal.h). */
#include "cli_journal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <systemd/sd-journal.h>
#include <unistd.h>

/* Generated once (random 128-bit, as journalctl --new-id128 does); never change one. */
static const char *const message_ids[CLI_EV_COUNT] = {
    [CLI_EV_RUN_STARTED] = "33e8a7b812b64fb1ad26f3b801a2bb40",
    [CLI_EV_RUN_FINISHED] = "a897571700cd46fe8a429de7cebfede8",
    [CLI_EV_ITEM_UPLOADED] = "8ad7b6bf46ca4d7ba216bdb618d62f11",
    [CLI_EV_ITEM_REMOVED] = "550e563b8ce240baad2e19586f675dc4",
    [CLI_EV_ITEM_FAILED] = "d279ef6235b64497ab03e87345b792ff",
    [CLI_EV_THROTTLED] = "0f6148a40abc489fa9750bca8dcefd82",
    [CLI_EV_CAP_TRIPPED] = "d437ec63b2c04c7ba71d0b12fc4c700a",
    [CLI_EV_KRA_EXPIRING] = "e2368d03788a4bec8333858c14d05e1e",
    [CLI_EV_CREDENTIAL_EXPIRING] = "69ed9c54ddb1498b975ddc37a82bbddf",
};

const char *cli_event_message_id(enum cli_event ev)
{
    return ev > CLI_EV_NONE && ev < CLI_EV_COUNT ? message_ids[ev] : NULL;
}

int cli_journal_priority(ssync_log_level level)
{
    switch (level) {
    case SSYNC_LOG_ERROR:
        return 3;
    case SSYNC_LOG_WARN:
        return 4;
    case SSYNC_LOG_INFO:
        return 6;
    default:
        return 7;
    }
}

int cli_journal_stderr_is_journal(void)
{
    const char *e = getenv("JOURNAL_STREAM");
    unsigned long long dev, ino;
    struct stat st;
    if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2 || fstat(STDERR_FILENO, &st) != 0)
        return 0;
    return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

int cli_journal_available(void)
{
    struct stat st;
    return stat("/run/systemd/journal/socket", &st) == 0 && S_ISSOCK(st.st_mode);
}

/* "KEY=value" into the next iovec (value NULL or empty: skipped). */
static void field(struct iovec *iov, int *n, char *buf, size_t size, const char *key,
                  const char *value)
{
    if (!value || !*value)
        return;
    int len = snprintf(buf, size, "%s=%s", key, value);
    if (len < 0)
        return;
    iov[*n].iov_base = buf;
    iov[*n].iov_len = (size_t)len < size ? (size_t)len : size - 1;
    (*n)++;
}

int cli_journal_send(const char *cmd, ssync_log_level level, const char *msg,
                     const struct cli_event_fields *f)
{
    /* sd_journal_sendv: values may hold any byte (the library frames them) */
    char b[10][2100]; /* a log line is at most 1536 bytes (cli_log.c) */
    char prio[4];
    snprintf(prio, sizeof prio, "%d", cli_journal_priority(level));
    struct iovec iov[10];
    int n = 0;
    field(iov, &n, b[0], sizeof b[0], "MESSAGE", msg);
    field(iov, &n, b[1], sizeof b[1], "PRIORITY", prio);
    field(iov, &n, b[2], sizeof b[2], "SYSLOG_IDENTIFIER", "smimesync");
    field(iov, &n, b[3], sizeof b[3], "SMIMESYNC_COMMAND", cmd);
    if (f) {
        field(iov, &n, b[4], sizeof b[4], "MESSAGE_ID", cli_event_message_id(f->event));
        field(iov, &n, b[5], sizeof b[5], "SMIMESYNC_USER", f->user);
        field(iov, &n, b[6], sizeof b[6], "SMIMESYNC_THUMBPRINT", f->thumbprint);
        field(iov, &n, b[7], sizeof b[7], "SMIMESYNC_SOURCE", f->source);
        field(iov, &n, b[8], sizeof b[8], "SMIMESYNC_GRAPH_REQUEST_ID", f->request_id);
    }
    return sd_journal_sendv(iov, n);
}
