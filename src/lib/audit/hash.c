/* The hash of the audit trail's chain: SHA-256 of a line's bytes, lowercase hex. */
#include "audit_int.h"

#include <openssl/evp.h>
#include <string.h>

void ssync_audit_hash(const char *line, size_t len, char out[SSYNC_AUDIT_HASH_HEX + 1])
{
    unsigned char md[32];
    unsigned int n = 0;
    static const char hex[] = "0123456789abcdef";
    if (EVP_Digest(line, len, md, &n, EVP_sha256(), NULL) != 1 || n != 32)
        memset(md, 0, sizeof md); /* cannot happen with the default provider; never matches */
    for (size_t i = 0; i < 32; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[SSYNC_AUDIT_HASH_HEX] = '\0';
}

int ssync_audit_hash_valid(const char *s)
{
    if (!s || strlen(s) != SSYNC_AUDIT_HASH_HEX)
        return 0;
    return strspn(s, "0123456789abcdef") == SSYNC_AUDIT_HASH_HEX;
}
