/* Log lines from the library to its front end: the library never prints, it hands each line to
 * the caller's ssync_log_fn (the CLI's logger, a test's collector). */
#ifndef SSYNC_LOG_H
#define SSYNC_LOG_H

typedef enum ssync_log_level {
    SSYNC_LOG_ERROR,
    SSYNC_LOG_WARN,
    SSYNC_LOG_INFO,
    SSYNC_LOG_DEBUG,
} ssync_log_level;

/* Never receives a secret (client secret, key, assertion or token). */
typedef void (*ssync_log_fn)(void *ctx, ssync_log_level level, const char *msg);

/* Formats one line (cut at SSYNC_LOG_LINE - 1 bytes) and hands it to fn; nothing when fn is
 * NULL. */
#define SSYNC_LOG_LINE 1536
void ssync_logf(ssync_log_fn fn, void *ctx, ssync_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
