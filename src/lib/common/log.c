/* ssync_logf (see log.h). */
#include "common/log.h"

#include <stdarg.h>
#include <stdio.h>

void ssync_logf(ssync_log_fn fn, void *ctx, ssync_log_level level, const char *fmt, ...)
{
    if (!fn)
        return;
    char msg[SSYNC_LOG_LINE];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fn(ctx, level, msg);
}
