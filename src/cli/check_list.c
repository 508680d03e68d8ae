/* smimesync check: the list of check results (check_list.h). */
#include "check_list.h"

#include "cli_util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *cli_check_level_text(enum check_level level)
{
    static const char *const text[] = {"ok", "WARN", "FAIL", "SKIP", "N/C"};
    return text[level];
}

const char *cli_check_level_json(enum check_level level)
{
    static const char *const json[] = {"ok", "warning", "failed", "skipped", "not_checked"};
    return json[level];
}

void cli_check_add(struct check_list *l, enum check_level level, const char *name, const char *hint,
                   const char *fmt, ...)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        struct check_result *v = realloc(l->v, cap * sizeof *v);
        if (!v) {
            cli_err("check", "out of memory");
            return;
        }
        l->v = v;
        l->cap = cap;
    }
    struct check_result *r = &l->v[l->n++];
    memset(r, 0, sizeof *r);
    r->level = level;
    snprintf(r->name, sizeof r->name, "%s", name);
    snprintf(r->hint, sizeof r->hint, "%s", hint ? hint : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->message, sizeof r->message, fmt, ap);
    va_end(ap);
    if (!l->json) {
        printf("%-4s  %s: %s%s%s%s\n", cli_check_level_text(level), r->name, r->message,
               r->hint[0] ? " (hint: " : "", r->hint, r->hint[0] ? ")" : "");
        fflush(stdout);
    }
}

void cli_check_list_free(struct check_list *l)
{
    free(l->v);
    l->v = NULL;
    l->n = l->cap = 0;
}

void cli_check_date(const ASN1_TIME *t, char out[32])
{
    struct tm tm;
    if (!t || ASN1_TIME_to_tm(t, &tm) != 1 || strftime(out, 32, "%Y-%m-%d %H:%M UTC", &tm) == 0)
        snprintf(out, 32, "?");
}
