/* The facts of a certificate that the tool reports and decides on. */
#ifndef SSYNC_CERTINFO_H
#define SSYNC_CERTINFO_H

#include "common/errors.h"

#include <jansson.h>
#include <openssl/x509.h>
#include <time.h>

#define SSYNC_OID_UPN "1.3.6.1.4.1.311.20.2.3"
#define SSYNC_OID_TEMPLATE_V2 "1.3.6.1.4.1.311.21.7"
#define SSYNC_OID_TEMPLATE_V1 "1.3.6.1.4.1.311.20.2"
#define SSYNC_OID_EMAIL_PROTECTION "1.3.6.1.5.5.7.3.4"

typedef struct ssync_certinfo {
    char thumbprint[41]; /* lowercase hex SHA-1 of the DER certificate */
    char *serial;        /* uppercase hex, as OpenSSL and certutil print it */
    char *subject;       /* RFC 2253 */
    char *issuer;        /* RFC 2253 */
    time_t not_before, not_after;
    char not_before_iso[21], not_after_iso[21]; /* YYYY-MM-DDTHH:MM:SSZ */
    int has_key_usage;
    unsigned key_usage; /* OpenSSL KU_* bits (KU_DIGITAL_SIGNATURE, KU_KEY_ENCIPHERMENT, ...) */
    char **eku;         /* dotted OIDs */
    size_t n_eku;
    char **emails; /* SAN rfc822Name, in order */
    size_t n_emails;
    char *upn; /* SAN otherName 1.3.6.1.4.1.311.20.2.3, or NULL */
    char *template_oid; /* v2 template extension 1.3.6.1.4.1.311.21.7, or NULL */
    long template_major, template_minor; /* -1 when absent */
    char *template_name; /* v1 template extension 1.3.6.1.4.1.311.20.2, or NULL */
    char *key_type;      /* "RSA", "EC", ... */
    int key_bits;
} ssync_certinfo;

ssync_code ssync_certinfo_get(X509 *cert, ssync_certinfo *info, ssync_error *err);
void ssync_certinfo_clear(ssync_certinfo *info);
/* The thumbprint Intune keys records on: lowercase hex SHA-1 of the DER certificate, into out.
 * 0, or -1 (out "") when it cannot be computed. */
int ssync_cert_thumbprint(X509 *cert, char out[41]);
/* The facts as a JSON object (keys: thumbprint, serialNumber, subject, issuer, notBefore, notAfter,
 * keyUsage[], extendedKeyUsage[], emails[], userPrincipalName, template{oid,major,minor,name},
 * keyType, keyBits). Returns a new reference or NULL on allocation failure. */
json_t *ssync_certinfo_to_json(const ssync_certinfo *info);
/* The user the certificate names: SAN UPN, else the first SAN e-mail; NULL when neither. */
const char *ssync_certinfo_user(const ssync_certinfo *info);
/* 1 when the certificate lists the EKU (dotted OID). */
int ssync_certinfo_has_eku(const ssync_certinfo *info, const char *oid);

#endif
