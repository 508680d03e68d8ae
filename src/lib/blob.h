/* Recovery blobs as `certutil -getkey` / ICertAdmin2::GetArchivedKey return them: a PKCS#7
 * SignedData (signed or not) whose content is the RawArchivedKey (a CMS EnvelopedData), with
 * certificates. Encodings: DER, base64 (CR_OUT_BASE64), base64 framed by
 * "-----BEGIN CERTIFICATE-----" (CR_OUT_BASE64HEADER), LF or CRLF. A bare RawArchivedKey
 * (EnvelopedData, DER or base64) is accepted too; its certificate then comes from elsewhere. */
#ifndef SSYNC_BLOB_H
#define SSYNC_BLOB_H

#include "errors.h"

#include <openssl/cms.h>
#include <openssl/x509.h>

typedef enum ssync_blob_encoding {
    SSYNC_BLOB_DER,
    SSYNC_BLOB_BASE64,
    SSYNC_BLOB_BASE64_HEADER,
} ssync_blob_encoding;

typedef struct ssync_blob {
    CMS_ContentInfo *envelope; /* the RawArchivedKey: CMS EnvelopedData */
    STACK_OF(X509) *certs;     /* certificates the SignedData carries (empty for a bare envelope) */
    ssync_blob_encoding encoding;
    int bare_envelope; /* 1 when the input was the EnvelopedData itself, not a SignedData */
} ssync_blob;

ssync_code ssync_blob_decode(const unsigned char *data, size_t len, ssync_blob *blob,
                             ssync_error *err);
void ssync_blob_clear(ssync_blob *blob);
const char *ssync_blob_encoding_name(ssync_blob_encoding enc);

#endif
