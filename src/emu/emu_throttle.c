/* Intune's per-app limits (Graph docs: Microsoft Graph service-specific throttling limits,
 * "Intune service limits"): a sliding window per limit,
 * kept as a ring of the admission times of the last N admitted requests. A request is admitted
 * when fewer than N were admitted in the last window seconds. */
#include "emu.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

int emu_limit_parse(const char *text, emu_limit *out)
{
    out->n = 0;
    out->window = 0;
    if (strcasecmp(text, "off") == 0 || strcmp(text, "0") == 0)
        return 0;
    char *end;
    unsigned long n = strtoul(text, &end, 10);
    if (end == text || *end != '/' || n > 1000000)
        return -1;
    const char *w = end + 1;
    double secs = strtod(w, &end);
    if (end == w || *end || !(secs > 0) || secs > 86400)
        return -1;
    out->n = (unsigned)n;
    out->window = n ? secs : 0;
    return 0;
}

int emu_window_init(emu_window *w, emu_limit limit)
{
    memset(w, 0, sizeof(*w));
    w->limit = limit;
    if (limit.n == 0)
        return 0;
    w->stamps = calloc(limit.n, sizeof(*w->stamps));
    return w->stamps ? 0 : -1;
}

void emu_window_free(emu_window *w)
{
    free(w->stamps);
    w->stamps = NULL;
}

/* 0 when a slot is free now, else the seconds until the oldest admission leaves the window. */
static double window_wait(const emu_window *w, double now)
{
    if (w->limit.n == 0 || w->count < w->limit.n)
        return 0;
    double oldest = w->stamps[w->head];
    double wait = oldest + w->limit.window - now;
    return wait > 0 ? wait : 0;
}

static void window_add(emu_window *w, double now)
{
    if (w->limit.n == 0)
        return;
    if (w->count < w->limit.n) {
        w->stamps[(w->head + w->count) % w->limit.n] = now;
        w->count++;
    } else {
        w->stamps[w->head] = now;
        w->head = (w->head + 1) % w->limit.n;
    }
}

int emu_throttle_admit(emu_ctx *ctx, int is_write, long *retry_after)
{
    double now = ssync_mono();
    double wait = window_wait(&ctx->request_window, now);
    if (is_write) {
        double ww = window_wait(&ctx->write_window, now);
        if (ww > wait)
            wait = ww;
    }
    if (wait > 0) {
        long s = (long)wait; /* ceiling without libm */
        if ((double)s < wait)
            s++;
        *retry_after = s < 1 ? 1 : s;
        return 0;
    }
    window_add(&ctx->request_window, now);
    if (is_write)
        window_add(&ctx->write_window, now);
    return 1;
}
