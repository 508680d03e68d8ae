/* The Intune Certificate Connector's public key and the encryption of PKCS#12 passwords to it:
 * RSA-OAEP, OAEP hash = MGF1 hash = SHA-256/384/512 (default SHA-512), empty label — what
 * RSACng.Encrypt(OaepSHA512) does in Microsoft's PFXImport module. */
#ifndef SSYNC_CONNECTOR_H
#define SSYNC_CONNECTOR_H

#include "common/errors.h"
#include "common/fileio.h"

#include <openssl/evp.h>

typedef enum ssync_padding {
    SSYNC_PAD_OAEP_SHA256,
    SSYNC_PAD_OAEP_SHA384,
    SSYNC_PAD_OAEP_SHA512,
} ssync_padding;

#define SSYNC_PAD_DEFAULT SSYNC_PAD_OAEP_SHA512

/* "oaepSha256" | "oaepSha384" | "oaepSha512" (Graph's userPfxPaddingScheme names). */
ssync_code ssync_padding_parse(const char *name, ssync_padding *out, ssync_error *err);
const char *ssync_padding_name(ssync_padding p);
/* The digest name for OpenSSL ("SHA256", ...). */
const char *ssync_padding_digest(ssync_padding p);

/* The connector public key from bytes: PEM SubjectPublicKeyInfo, PEM/DER X.509 certificate, or the
 * CNG BCRYPT_RSAPUBLIC_BLOB ("RSA1") that Export-IntunePublicKey writes by default. Refuses
 * non-RSA keys and keys under 2048 bits. */
ssync_code ssync_connector_parse(const unsigned char *data, size_t len, EVP_PKEY **out,
                                 ssync_error *err);
ssync_code ssync_connector_load(const char *path, EVP_PKEY **out, ssync_error *err);

/* RSA-OAEP encryption of msg to the connector key. */
ssync_code ssync_connector_encrypt(EVP_PKEY *pub, ssync_padding pad, const unsigned char *msg,
                                   size_t len, ssync_buf *ct, ssync_error *err);

#endif
