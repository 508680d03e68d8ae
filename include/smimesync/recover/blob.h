/* Recovery blobs as `certutil -getkey` / ICertAdmin2::GetArchivedKey return them: a PKCS#7
 * SignedData (signed or not) whose content is the RawArchivedKey (a CMS EnvelopedData), with
 * certificates. Encodings: DER, base64 (CR_OUT_BASE64), base64 framed by
 * "-----BEGIN CERTIFICATE-----" (CR_OUT_BASE64HEADER), LF or CRLF. A bare RawArchivedKey
 * (EnvelopedData, DER or base64) is accepted too; its certificate then comes from elsewhere. */
#ifndef SSYNC_BLOB_H
#define SSYNC_BLOB_H

#include "common/errors.h"
#include "common/fileio.h"
#include "pki/trust.h"

#include <openssl/cms.h>
#include <openssl/x509.h>

typedef enum ssync_blob_encoding {
    SSYNC_BLOB_DER,
    SSYNC_BLOB_BASE64,
    SSYNC_BLOB_BASE64_HEADER,
} ssync_blob_encoding;

typedef struct ssync_blob_certs ssync_blob_certs;

typedef struct ssync_blob {
    CMS_ContentInfo *envelope; /* the RawArchivedKey: CMS EnvelopedData */
    /* all certificates the SignedData carries, decoded (empty for a bare envelope); set by
     * ssync_blob_decode, NULL after ssync_blob_open (read them with ssync_blob_cert) */
    STACK_OF(X509) * certs;
    ssync_blob_encoding encoding;
    int bare_envelope;      /* 1 when the input was the EnvelopedData itself, not a SignedData */
    int n_certs;            /* how many certificates the SignedData carries */
    ssync_blob_certs *held; /* the certificates as DER, each decoded on first use */
} ssync_blob;

/* Decodes the blob and every certificate it carries (blob->certs). */
ssync_code ssync_blob_decode(const unsigned char *data, size_t len, ssync_blob *blob,
                             ssync_error *err);

/* Decodes the blob but keeps its certificates as DER until one is asked for: in OpenSSL 3.0
 * every decoded certificate builds a public-key decoder, and a recovery needs only the user's. */
ssync_code ssync_blob_open(const unsigned char *data, size_t len, ssync_blob *blob,
                           ssync_error *err);

/* Certificate i (0 <= i < n_certs), decoded on first use and owned by the blob; NULL when it
 * does not decode. */
X509 *ssync_blob_cert(ssync_blob *blob, int i);

/* Certificate i's encoding as the blob carries it, without decoding it: 1 and *der, *len; 0 when
 * only the decoded certificate is at hand. */
int ssync_blob_cert_der(const ssync_blob *blob, int i, const unsigned char **der, size_t *len);
void ssync_blob_clear(ssync_blob *blob);

/* The blob's DER, whatever its encoding (DER, base64, base64 with a header). */
ssync_code ssync_blob_to_der(const unsigned char *data, size_t len, ssync_buf *der,
                             ssync_error *err);

/* The CA's signature on a recovery blob ([MS-CSRA] 3.1.4.2.9: GetArchivedKey returns a
 * SignedData signed by the CA; RFC 5652 5.6): when the SignedData carries signer infos, each
 * signature must verify (CMS_verify, the signer certificates the blob carries) and each signer
 * must chain to trust (ssync_trust_verify_signer); SSYNC_ERR_BLOB_SIGNATURE otherwise. A
 * SignedData without signer infos and a bare EnvelopedData carry no signature: SSYNC_OK (their
 * user certificate is still verified on its own). */
ssync_code ssync_blob_verify_signature(const unsigned char *data, size_t len,
                                       const ssync_trust *trust, ssync_error *err);
/* The DER SignedData der (a ContentInfo) re-encoded without its certificates field (RFC 5652
 * 5.1), through the same templates as the lazy reader; *out is OPENSSL_free'd by the caller.
 * 0 when der is not that shape. What a signature check against already-decoded anchors reads:
 * OpenSSL 3.0's CMS decoder builds a public-key decoder for every certificate it decodes. */
int ssync_blob_der_without_certs(const unsigned char *der, size_t len, unsigned char **out,
                                 size_t *out_len);
const char *ssync_blob_encoding_name(ssync_blob_encoding enc);

#endif
