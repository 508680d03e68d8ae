#include "common/errors.h"

#include <openssl/err.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define SSYNC_ERROR_MSG(name, msg) msg,
static const char *const messages[] = {SSYNC_FOREACH_ERROR(SSYNC_ERROR_MSG)};
#undef SSYNC_ERROR_MSG
#define SSYNC_ERROR_NAME(name, msg) #name,
static const char *const names[] = {SSYNC_FOREACH_ERROR(SSYNC_ERROR_NAME)};
#undef SSYNC_ERROR_NAME

const char *ssync_strerror(ssync_code code)
{
    if ((int)code < 0 || code >= SSYNC_ERR__COUNT)
        return "unknown error";
    return messages[code];
}

const char *ssync_code_name(ssync_code code)
{
    if ((int)code < 0 || code >= SSYNC_ERR__COUNT)
        return "SSYNC_ERR_UNKNOWN";
    return names[code];
}

static void vset(ssync_error *err, ssync_code code, const char *fmt, va_list ap)
{
    err->code = code;
    int n = snprintf(err->msg, sizeof err->msg, "%s", ssync_strerror(code));
    if (fmt && n > 0 && (size_t)n < sizeof err->msg - 2) {
        memcpy(err->msg + n, ": ", 3);
        vsnprintf(err->msg + n + 2, sizeof err->msg - (size_t)n - 2, fmt, ap);
    }
}

ssync_code ssync_fail(ssync_error *err, ssync_code code, const char *fmt, ...)
{
    if (!err)
        return code;
    va_list ap;
    va_start(ap, fmt);
    vset(err, code, fmt, ap);
    va_end(ap);
    return code;
}

ssync_code ssync_fail_ssl(ssync_error *err, ssync_code code, const char *fmt, ...)
{
    unsigned long e = ERR_peek_last_error();
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vset(err, code, fmt, ap);
        va_end(ap);
        if (e) {
            char reason[160];
            ERR_error_string_n(e, reason, sizeof reason);
            size_t n = strlen(err->msg);
            snprintf(err->msg + n, sizeof err->msg - n, " (%s)", reason);
        }
    }
    ERR_clear_error();
    return code;
}

ssync_code ssync_error_prefix(ssync_error *err, const char *fmt, ...)
{
    if (!err)
        return SSYNC_ERR_ARG;
    char prefix[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    size_t plen = strnlen(prefix, sizeof prefix);
    size_t olen = strnlen(err->msg, sizeof err->msg - 1);
    if (plen >= sizeof err->msg)
        plen = sizeof err->msg - 1;
    if (plen + olen >= sizeof err->msg)
        olen = sizeof err->msg - 1 - plen;
    memmove(err->msg + plen, err->msg, olen);
    memcpy(err->msg, prefix, plen);
    err->msg[plen + olen] = '\0';
    return err->code;
}

void ssync_error_clear(ssync_error *err)
{
    if (err) {
        err->code = SSYNC_OK;
        err->msg[0] = '\0';
    }
}
