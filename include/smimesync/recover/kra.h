/* Key Recovery Agent keys: the master keys to every archived user key. Loaded from PKCS#12 files
 * (including Windows exports with legacy 3DES/RC2 encryption, for which OpenSSL's legacy provider is
 * loaded on demand) or from PEM (key and certificate in one file, or the certificate separately). */
#ifndef SSYNC_KRA_H
#define SSYNC_KRA_H

#include "common/errors.h"

#include <openssl/evp.h>
#include <openssl/x509.h>

typedef struct ssync_kra_set ssync_kra_set;

ssync_code ssync_kra_set_new(ssync_kra_set **out, ssync_error *err);
/* Add one KRA. path: a PKCS#12 (password may be NULL for an empty password) or a PEM file holding
 * the private key (encrypted PEM uses password) and, unless cert_path is given, its certificate.
 * The certificate must match the key. */
ssync_code ssync_kra_set_add_file(ssync_kra_set *set, const char *path, const char *password,
                                  const char *cert_path, ssync_error *err);
/* Add a key + certificate already in memory (takes its own references). */
ssync_code ssync_kra_set_add(ssync_kra_set *set, EVP_PKEY *key, X509 *cert, ssync_error *err);
size_t ssync_kra_set_count(const ssync_kra_set *set);
/* The i-th KRA (borrowed pointers), or 0 when out of range. */
int ssync_kra_set_get(const ssync_kra_set *set, size_t i, EVP_PKEY **key, X509 **cert);
void ssync_kra_set_free(ssync_kra_set *set);

#endif
