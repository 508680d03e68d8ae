/* Certificate revocation lists: loading one, and the one revocation test (a CRL of the
 * certificate's issuer lists its serial number). */
#ifndef SSYNC_CRL_H
#define SSYNC_CRL_H

#include "common/errors.h"

#include <openssl/x509.h>
#include <stddef.h>

/* Loads one CRL file, DER or PEM. */
ssync_code ssync_crl_load(const char *path, X509_CRL **out, ssync_error *err);
/* Loads the n CRL files of paths into crls[0..n): all or none (on error none is kept). */
ssync_code ssync_crl_load_all(char *const *paths, size_t n, X509_CRL **crls, ssync_error *err);
void ssync_crl_free_all(X509_CRL **crls, size_t n);
/* 1 when one of the n CRLs is issued by issuer and lists serial: the one revocation test. */
int ssync_crl_revoked(X509_CRL *const *crls, size_t n, const X509_NAME *issuer,
                      const ASN1_INTEGER *serial);
/* 1 when one of the n CRLs is issued by cert's issuer and lists cert's serial number. */
int ssync_crl_revoked_cert(X509 *cert, X509_CRL *const *crls, size_t n);

#endif
