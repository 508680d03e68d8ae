/* The CLI's one logger (cli_log.h): text or JSON lines on stderr, the Graph client adapter and
 * the lines of Graph failures. */
#include "cli_log.h"
#include "cli_text.h"

#include "cli_progress.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

static const char *level_name(ssync_log_level level)
{
    static const char *const names[] = {"error", "warning", "info", "debug"};
    return names[(unsigned)level & 3];
}

int cli_log_level(int config_level, int verbose, int quiet)
{
    if (quiet)
        return SSYNC_LOG_ERROR;
    if (verbose)
        return SSYNC_LOG_DEBUG;
    if (config_level < SSYNC_LOG_ERROR)
        return SSYNC_LOG_ERROR;
    return config_level > SSYNC_LOG_DEBUG ? SSYNC_LOG_DEBUG : config_level;
}

/* msg through the output filter (cli_text.h), in text and in JSON alike: a control or a bidi
 * override never reaches a terminal that shows the log, and a message that is not UTF-8 keeps
 * its line (its bytes escaped) instead of being dropped by the JSON encoder. */
int cli_log_format(char *buf, size_t size, int json, const char *cmd, ssync_log_level level,
                   const char *msg, long long epoch_s, int ms)
{
    char *safe = NULL;
    if (!cli_text_is_safe(msg)) {
        if (!(safe = cli_text_safe_dup(msg)))
            return snprintf(buf, size, "smimesync %s: (out of memory)\n", cmd);
        int n = cli_log_format(buf, size, json, cmd, level, safe, epoch_s, ms);
        free(safe);
        return n;
    }
    if (!json) {
        if (level == SSYNC_LOG_ERROR) /* the documented error line */
            return snprintf(buf, size, "smimesync %s: %s\n", cmd, msg);
        return snprintf(buf, size, "smimesync %s: %s: %s\n", cmd, level_name(level), msg);
    }
    time_t t = (time_t)epoch_s;
    struct tm tm;
    char secs[32] = "", when[48] = "";
    if (gmtime_r(&t, &tm) && strftime(secs, sizeof secs, "%Y-%m-%dT%H:%M:%S", &tm))
        snprintf(when, sizeof when, "%s.%03dZ", secs, ms % 1000);
    json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "time", when, "level", level_name(level),
                          "command", cmd, "message", msg);
    char *text = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    /* a message that is not UTF-8 cannot be a JSON string: say so rather than drop the line */
    int n =
        snprintf(buf, size, "%s\n",
                 text ? text : "{\"level\":\"error\",\"message\":\"(log line not valid UTF-8)\"}");
    free(text);
    return n;
}

static void emit_event(const struct cli_log *log, ssync_log_level level, const char *msg,
                       const struct cli_event_fields *f)
{
    if (!log || (int)level > log->verbosity)
        return;
    /* no journal socket (a chroot, a container): the line goes to stderr instead */
    if (log->journal && cli_journal_send(log->cmd ? log->cmd : "?", level, msg, f) >= 0)
        return;
    FILE *out = log->out ? log->out : stderr;
    struct timeval tv;
    gettimeofday(&tv, NULL);
    char line[2048];
    int n = cli_log_format(line, sizeof line, log->json, log->cmd ? log->cmd : "?", level, msg,
                           (long long)tv.tv_sec, (int)(tv.tv_usec / 1000));
    if (n < 0)
        return;
    char *big = NULL;
    if ((size_t)n >= sizeof line && (big = malloc((size_t)n + 1)))
        cli_log_format(big, (size_t)n + 1, log->json, log->cmd ? log->cmd : "?", level, msg,
                       (long long)tv.tv_sec, (int)(tv.tv_usec / 1000));
    cli_progress_erase(log->progress);
    fputs(big ? big : line, out);
    fflush(out);
    free(big);
}

static void emit(const struct cli_log *log, ssync_log_level level, const char *msg)
{
    emit_event(log, level, msg, NULL);
}

int cli_log_use_journal(int opt_json, int cfg_journal)
{
    if (opt_json >= 0 || cfg_journal == 0)
        return 0;
    /* sd_journal_send drops entries silently when journald is not there: then stderr */
    return cli_journal_available() && (cfg_journal == 1 || cli_journal_stderr_is_journal());
}

void cli_log_event(const struct cli_log *log, ssync_log_level level,
                   const struct cli_event_fields *f, const char *fmt, ...)
{
    char msg[1536];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    emit_event(log, level, msg, f);
}

void cli_log_msg(const struct cli_log *log, ssync_log_level level, const char *fmt, ...)
{
    char msg[1536];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    emit(log, level, msg);
}

void cli_log_error(const struct cli_log *log, const char *item, const ssync_error *e)
{
    if (item)
        cli_log_msg(log, SSYNC_LOG_ERROR, "%s: %s", item, e->msg);
    else
        emit(log, SSYNC_LOG_ERROR, e->msg);
}

void cli_log_graph_fn(void *ctx, ssync_log_level level, const char *msg)
{
    emit(ctx, level, msg);
}

void cli_log_graph(const struct cli_log *log, const char *item, const ssync_error *e,
                   const ssync_graph_failure *f)
{
    char detail[1024] = "";
    if (f && (f->http_status || f->request_id[0] || f->code[0]))
        ssync_graph_failure_format(f, detail, sizeof detail);
    if (detail[0] && !strstr(e->msg, detail))
        cli_log_msg(log, SSYNC_LOG_ERROR, "%s%s%s [%s]", item ? item : "", item ? ": " : "", e->msg,
                    detail);
    else
        cli_log_error(log, item, e);
}

void cli_report_graph(const char *cmd, const char *item, const ssync_error *e,
                      const ssync_graph_failure *f)
{
    struct cli_log log = {.cmd = cmd, .verbosity = SSYNC_LOG_ERROR};
    cli_log_graph(&log, item, e, f);
}
