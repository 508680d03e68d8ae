/* A one-line progress bar on stderr while a sync recovers keys and writes to Intune: items
 * done/total, rate, ETA. Drawn only on a terminal, at most 5 times a second, erased at the end
 * (and before any log line, which the logger asks for). */
#ifndef SSYNC_CLI_PROGRESS_H
#define SSYNC_CLI_PROGRESS_H

#include <stddef.h>
#include <stdio.h>

#define CLI_PROGRESS_INTERVAL 0.2 /* seconds between redraws */

struct cli_progress {
    int enabled;
    FILE *out;
    const char *label;
    size_t done, total;
    double start, last_draw;
    int shown; /* a line is on the screen */
};

/* Whether to draw: flag is -1 (auto), 0 (--no-progress) or 1 (--progress). Never when stderr
 * is not a terminal; in auto mode not with --quiet or JSON logs either. */
int cli_progress_wanted(int flag, int quiet, int json_logs, int is_tty);

void cli_progress_init(struct cli_progress *p, int enabled, FILE *out);
void cli_progress_begin(struct cli_progress *p, const char *label, size_t total);
void cli_progress_update(struct cli_progress *p, size_t done);
/* Removes the line from the screen (the next update draws it again). NULL is fine. */
void cli_progress_erase(struct cli_progress *p);
void cli_progress_end(struct cli_progress *p);

/* "label [#####.....] 12/40 3.5/s ETA 0:08" into buf (no newline), as snprintf. Pure. */
int cli_progress_format(char *buf, size_t size, const char *label, size_t done, size_t total,
                        double elapsed_s);
/* "m:ss", or "h:mm:ss" from an hour on, "--:--" when unknown (negative). Pure. */
void cli_progress_duration(char *buf, size_t size, double seconds);

#endif
