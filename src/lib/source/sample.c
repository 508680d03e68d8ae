/* The words of check's sample recovery, shared by every source (see source_int.h). Apart from
 * source.c, which holds the table: the sources call these, and source.c calls the sources. */
#include "source/source_int.h"

#include "pki/certinfo.h"

#include <stdio.h>

void ssync_source_sample_ok(ssync_source_check_result *out, const char *name, const char *verb,
                            X509 *cert, const char *user)
{
    ssync_certinfo info = {0};
    ssync_error e = {0};
    if (ssync_certinfo_get(cert, &info, &e) != SSYNC_OK) {
        ssync_source_sample_fail(out, name, &e);
        return;
    }
    if (!user)
        user = ssync_certinfo_user(&info);
    out->sample = SSYNC_SAMPLE_OK;
    out->sample_code = SSYNC_OK;
    snprintf(out->sample_text, sizeof out->sample_text, "%s: %s the key of %s (%s)", name, verb,
             info.subject, user ? user : "no user named");
    ssync_certinfo_clear(&info);
}

void ssync_source_sample_fail(ssync_source_check_result *out, const char *name,
                              const ssync_error *e)
{
    out->sample = SSYNC_SAMPLE_FAILED;
    out->sample_code = e->code;
    snprintf(out->sample_text, sizeof out->sample_text, "%s: %s", name, e->msg);
}
