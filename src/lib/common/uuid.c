#include "common/uuid.h"

#include <ctype.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>

ssync_code ssync_uuid4(char out[SSYNC_UUID_LEN + 1], ssync_error *err)
{
    unsigned char b[16];
    if (!out)
        return ssync_fail(err, SSYNC_ERR_ARG, "uuid: no output buffer");
    if (RAND_bytes(b, sizeof b) != 1)
        return ssync_fail_ssl(err, SSYNC_ERR_RANDOM, "cannot generate a GUID");
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    snprintf(out, SSYNC_UUID_LEN + 1,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
             b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
             b[15]);
    return SSYNC_OK;
}

int ssync_uuid_valid(const char *s)
{
    if (!s || strlen(s) != SSYNC_UUID_LEN)
        return 0;
    for (int i = 0; i < SSYNC_UUID_LEN; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return 0;
        } else if (!isxdigit((unsigned char)s[i])) {
            return 0;
        }
    }
    return 1;
}

int ssync_uuid_nodash(const char *s, char out[33])
{
    size_t n = 0;
    if (!s)
        return 0;
    size_t len = strlen(s);
    if (len == SSYNC_UUID_LEN) {
        if (!ssync_uuid_valid(s))
            return 0;
    } else if (len != 32) {
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '-')
            continue;
        if (!isxdigit((unsigned char)s[i]))
            return 0;
        out[n++] = (char)tolower((unsigned char)s[i]);
    }
    out[n] = '\0';
    return n == 32;
}
