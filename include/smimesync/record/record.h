/* The Graph userPfxCertificate POST body (beta/deviceManagement/userPfxCertificates). */
#ifndef SSYNC_RECORD_H
#define SSYNC_RECORD_H

#include "pki/certinfo.h"
#include "connector/connector.h"
#include "common/errors.h"
#include "common/fileio.h"

#include <jansson.h>

typedef enum ssync_purpose {
    SSYNC_PURPOSE_UNASSIGNED,
    SSYNC_PURPOSE_SMIME_ENCRYPTION,
    SSYNC_PURPOSE_SMIME_SIGNING,
} ssync_purpose;

#define SSYNC_DEFAULT_PROVIDER "Microsoft Software Key Storage Provider"
#define SSYNC_DEFAULT_KEY_NAME "PFXEncryptionKey"

/* Graph's camelCase names: "unassigned", "smimeEncryption", "smimeSigning". */
const char *ssync_purpose_name(ssync_purpose p);
ssync_code ssync_purpose_parse(const char *name, ssync_purpose *out, ssync_error *err);
/* keyEncipherment without digitalSignature -> smimeEncryption; digitalSignature without
 * keyEncipherment -> smimeSigning; both -> `both`; neither (or no keyUsage) -> unassigned. */
ssync_purpose ssync_purpose_from_cert(const ssync_certinfo *info, ssync_purpose both);

typedef struct ssync_record_opts {
    const char *provider_name; /* NULL: SSYNC_DEFAULT_PROVIDER */
    const char *key_name;      /* NULL: SSYNC_DEFAULT_KEY_NAME */
    ssync_padding padding;
} ssync_record_opts;

/* The exact POST body: thumbprint, intendedPurpose, userPrincipalName, startDateTime,
 * expirationDateTime, providerName, keyName, paddingScheme, encryptedPfxBlob (standard base64 of
 * the PKCS#12), encryptedPfxPassword (standard base64 of the OAEP ciphertext). */
ssync_code ssync_record_build(const ssync_certinfo *info, const char *upn, ssync_purpose purpose,
                              const ssync_buf *pfx, const ssync_buf *enc_password,
                              const ssync_record_opts *opts, json_t **out, ssync_error *err);

/* 1 when s is exactly 40 lowercase hex digits. */
int ssync_thumbprint_valid(const char *s);

#endif
