/* The PKCS#12 that Intune hands unchanged to devices, and its password. Profiles (see
 * docs/formats.md): compat (default) = both bags pbeWithSHAAnd3-KeyTripleDES-CBC, HMAC-SHA1 MAC,
 * 2048 iterations, 8-byte salts — what Windows/certutil write and every Intune platform imports;
 * modern = PBES2/PBKDF2-HMAC-SHA256/AES-256-CBC, HMAC-SHA256 MAC. */
#ifndef SSYNC_PFX_H
#define SSYNC_PFX_H

#include "common/errors.h"
#include "common/fileio.h"

#include <openssl/evp.h>
#include <openssl/x509.h>

typedef enum ssync_pfx_profile { SSYNC_PFX_COMPAT, SSYNC_PFX_MODERN } ssync_pfx_profile;

#define SSYNC_PFX_ITER 2048
/* Length of generated passwords: printable ASCII (the connector decodes the password as ASCII). */
#define SSYNC_PASSWORD_LEN 32

ssync_code ssync_pfx_profile_parse(const char *name, ssync_pfx_profile *out, ssync_error *err);
const char *ssync_pfx_profile_name(ssync_pfx_profile p);

/* A fresh password from the CSPRNG: len printable ASCII characters (0x21..0x7e, unbiased), out must
 * hold len + 1 bytes. len must be at least 24. */
ssync_code ssync_password_generate(char *out, size_t len, ssync_error *err);

typedef struct ssync_pfx_opts {
    ssync_pfx_profile profile;
    const char *friendly_name; /* NULL: none */
    STACK_OF(X509) *chain;     /* CA certificates to include; NULL: leaf only (the default) */
} ssync_pfx_opts;

/* DER PKCS#12 of key + cert under password. The key must match the certificate. */
ssync_code ssync_pfx_build(EVP_PKEY *key, X509 *cert, const ssync_pfx_opts *opts,
                           const char *password, ssync_buf *der, ssync_error *err);

#endif
