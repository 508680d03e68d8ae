/* The trust anchors ([source] ca): the issuing CA certificates, with their chain to the root.
 * Only what they vouch for takes part in a decision: a user certificate must chain to them
 * (RFC 5280 section 6, OpenSSL's X509_verify_cert), a CRL must be signed by the anchor that
 * issued it (RFC 5280 section 6.3.3), a recovery blob's signer must chain to them. */
#ifndef SSYNC_TRUST_H
#define SSYNC_TRUST_H

#include "common/errors.h"

#include <openssl/x509.h>
#include <stddef.h>

typedef struct ssync_trust ssync_trust;

/* Loads the n files of paths (each PEM with one or more certificates, or one DER certificate);
 * every certificate becomes a trust anchor. At least one certificate is needed. */
ssync_code ssync_trust_load(char *const *paths, size_t n, ssync_trust **out, ssync_error *err);
/* A trust of the given certificates (up-referenced; for tests and callers holding them). */
ssync_code ssync_trust_from_certs(X509 *const *certs, size_t n, ssync_trust **out,
                                  ssync_error *err);
void ssync_trust_free(ssync_trust *t);
/* How many anchors t holds (0 for NULL). */
size_t ssync_trust_count(const ssync_trust *t);
/* The anchors themselves (owned by t; NULL for NULL). */
STACK_OF(X509) * ssync_trust_anchors(const ssync_trust *t);
/* Lowercase hex SHA-1 thumbprints of the anchors, sorted and joined by ','; what a cache of
 * verified facts is keyed on (malloc'd; NULL on memory failure). */
char *ssync_trust_id(const ssync_trust *t);

/* A user certificate: the chain to an anchor (the anchors alone: a certificate the blob carries
 * is no anchor), OpenSSL's S/MIME encryption purpose (X509_PURPOSE_SMIME_ENCRYPT: the EKU
 * emailProtection and keyEncipherment when those extensions are present), verified at the
 * certificate's own notBefore (X509_VERIFY_PARAM_set_time) so that an expired certificate of a
 * user's history still passes; revocation is the CRLs' (ssync_crl_revoked). A certificate that
 * is itself an anchor is no user certificate. SSYNC_ERR_CERT_UNTRUSTED with OpenSSL's reason. */
ssync_code ssync_trust_verify_cert(const ssync_trust *t, X509 *cert, ssync_error *err);
/* The signer of a CA-signed structure (the SignedData of a recovery blob): an anchor, or a
 * certificate that chains to one (any purpose), at its own notBefore. */
ssync_code ssync_trust_verify_signer(const ssync_trust *t, X509 *signer, ssync_error *err);
/* A CRL: an anchor whose subject is the CRL's issuer (and, when the CRL carries an authority
 * key identifier, whose subject key identifier matches it; RFC 5280 5.2.1) and whose key usage,
 * when present, allows cRLSign signed it (X509_CRL_verify). SSYNC_ERR_CRL_SIGNATURE says which
 * part failed. */
ssync_code ssync_trust_verify_crl(const ssync_trust *t, X509_CRL *crl, ssync_error *err);

#endif
