/* The [source] user_map file and the plain list files of [source] (users_allow, users_deny):
 * small text files an administrator edits by hand. The user map is a CSV of
 * "certificate identity,userPrincipalName" lines: the identity is an e-mail address or UPN
 * found in the certificate, the UPN is the Entra ID user to deliver it to (renamed users,
 * certificates issued before a domain change). */
#ifndef SSYNC_USERMAP_H
#define SSYNC_USERMAP_H

#include "common/errors.h"
#include "common/text.h"

#include <stddef.h>

typedef struct ssync_usermap_entry {
    char *identity; /* as written; compared case-insensitively */
    char *upn;
    size_t line;
} ssync_usermap_entry;

typedef struct ssync_usermap {
    ssync_usermap_entry *v; /* sorted by identity, case-insensitive */
    size_t n;
} ssync_usermap;

/* Reads the map. An optional first line naming the columns (no '@' in either field) is a
 * header. A bad line fails with "FILE:LINE: reason"; so does an identity mapped twice to
 * different users. */
ssync_code ssync_usermap_load(const char *path, ssync_usermap *out, ssync_error *err);
/* The same from memory (name is used in messages); text is not modified. */
ssync_code ssync_usermap_parse(const char *text, size_t len, const char *name, ssync_usermap *out,
                               ssync_error *err);
/* The UPN mapped to identity (case-insensitive), or NULL. */
const char *ssync_usermap_find(const ssync_usermap *m, const char *identity);
void ssync_usermap_free(ssync_usermap *m);

#endif
