/* Random (version 4) GUIDs: client-request-id headers and JWT `jti` claims. */
#ifndef SSYNC_UUID_H
#define SSYNC_UUID_H

#include "common/errors.h"

#define SSYNC_UUID_LEN 36 /* "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx", lowercase */

/* Writes a fresh RFC 4122 version-4 GUID from OpenSSL's CSPRNG into out (37 bytes). */
ssync_code ssync_uuid4(char out[SSYNC_UUID_LEN + 1], ssync_error *err);

/* 1 when s is a GUID in 8-4-4-4-12 form (any hex case). */
int ssync_uuid_valid(const char *s);

/* Copies a GUID (with or without dashes) as 32 lowercase hex digits without dashes into out
 * (33 bytes): the user part of a userPfxCertificate id. Returns 0 when s is not a GUID. */
int ssync_uuid_nodash(const char *s, char out[33]);

#endif
