#include "cli_progress.h"

#include "common/clock.h"

#include <math.h>
#include <string.h>
#include <time.h>

#define BAR_WIDTH 24

int cli_progress_wanted(int flag, int quiet, int json_logs, int is_tty)
{
    if (!is_tty || flag == 0)
        return 0; /* pipes, log files, the journal: never a carriage-return line */
    if (flag == 1)
        return 1;
    return !quiet && !json_logs;
}

void cli_progress_duration(char *buf, size_t size, double seconds)
{
    if (seconds < 0 || !isfinite(seconds) || seconds > 99 * 3600.0) {
        snprintf(buf, size, "--:--");
        return;
    }
    long s = (long)(seconds + 0.5);
    if (s >= 3600)
        snprintf(buf, size, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
    else
        snprintf(buf, size, "%ld:%02ld", s / 60, s % 60);
}

int cli_progress_format(char *buf, size_t size, const char *label, size_t done, size_t total,
                        double elapsed_s)
{
    if (done > total)
        done = total;
    char bar[BAR_WIDTH + 1];
    size_t fill = total ? done * BAR_WIDTH / total : BAR_WIDTH;
    memset(bar, '#', fill);
    memset(bar + fill, '.', BAR_WIDTH - fill);
    bar[BAR_WIDTH] = '\0';
    double rate = elapsed_s > 0 ? (double)done / elapsed_s : 0;
    char eta[24];
    cli_progress_duration(eta, sizeof eta,
                          done >= total ? 0
                          : rate > 0    ? (double)(total - done) / rate
                                        : -1);
    char rtxt[32];
    if (rate < 10)
        snprintf(rtxt, sizeof rtxt, "%.1f/s", rate);
    else
        snprintf(rtxt, sizeof rtxt, "%.0f/s", rate);
    return snprintf(buf, size, "%s [%s] %zu/%zu %s ETA %s", label, bar, done, total, rtxt, eta);
}

void cli_progress_init(struct cli_progress *p, int enabled, FILE *out)
{
    memset(p, 0, sizeof *p);
    p->enabled = enabled;
    p->out = out ? out : stderr;
}

static void draw(struct cli_progress *p, double now)
{
    char line[160];
    cli_progress_format(line, sizeof line, p->label, p->done, p->total, now - p->start);
    /* \r and erase-to-end-of-line: the line is rewritten in place */
    fprintf(p->out, "\r%s\033[K", line);
    fflush(p->out);
    p->shown = 1;
    p->last_draw = now;
}

void cli_progress_begin(struct cli_progress *p, const char *label, size_t total)
{
    if (!p->enabled)
        return;
    p->label = label;
    p->total = total;
    p->done = 0;
    p->start = ssync_mono();
    draw(p, p->start);
}

void cli_progress_update(struct cli_progress *p, size_t done)
{
    if (!p || !p->enabled || !p->label)
        return;
    p->done = done;
    double now = ssync_mono();
    if (!p->shown || now - p->last_draw >= CLI_PROGRESS_INTERVAL)
        draw(p, now);
}

void cli_progress_erase(struct cli_progress *p)
{
    if (!p || !p->enabled || !p->shown)
        return;
    fputs("\r\033[K", p->out);
    fflush(p->out);
    p->shown = 0;
}

void cli_progress_end(struct cli_progress *p)
{
    cli_progress_erase(p);
    if (p)
        p->label = NULL;
}
