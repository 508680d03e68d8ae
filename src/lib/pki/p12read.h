/* Opening PKCS#12 files that other software wrote: KRA exports from Windows and centrally
 * generated user keys (the pfx source). Windows and old tools use RC2-40 / 3DES PBEs that
 * OpenSSL 3 only offers in its "legacy" provider: the reader loads it on demand (together with
 * "default", which loading any provider explicitly would otherwise disable) and keeps the
 * handles until ssync_p12_reader_free. */
#ifndef SSYNC_P12READ_H
#define SSYNC_P12READ_H

#include "common/errors.h"

#include <openssl/pkcs12.h>
#include <openssl/provider.h>
#include <openssl/x509.h>

typedef struct ssync_p12_reader {
    OSSL_PROVIDER *deflt, *legacy; /* loaded on demand; NULL until needed */
} ssync_p12_reader;

/* Verifies the MAC and decrypts p12 with password (NULL or "" = empty password, tried in both
 * encodings). Fills key, cert (the certificate matching the key, or NULL) and others (the other
 * certificates; may be NULL on output). A MAC that does not verify, or a MAC-less file that does
 * not decrypt, fails with wrong_password; every other failure with unreadable. */
ssync_code ssync_p12_parse(ssync_p12_reader *r, PKCS12 *p12, const char *password,
                           ssync_code wrong_password, ssync_code unreadable, EVP_PKEY **key,
                           X509 **cert, STACK_OF(X509) * *others, ssync_error *err);
/* Unloads the providers the reader loaded; free the keys and certificates it returned first. */
void ssync_p12_reader_free(ssync_p12_reader *r);

#endif
