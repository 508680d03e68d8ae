/* Private key blobs found inside archived keys: CryptoAPI PRIVATEKEYBLOB (07 02 00 00, aiKeyAlg
 * CALG_RSA_KEYX/CALG_RSA_SIGN, "RSA2", little-endian integers) and CNG BCRYPT_RSAKEY_BLOB
 * ("RSA2"/"RSA3" magic, big-endian). CNG ECC blobs ("ECK*"/"ECS*") and anything else are rejected
 * with an error that names the magic. */
#ifndef SSYNC_KEYBLOB_H
#define SSYNC_KEYBLOB_H

#include "common/errors.h"

#include <openssl/evp.h>
#include <stddef.h>

typedef enum ssync_keyblob_kind {
    SSYNC_KEYBLOB_CAPI_RSA,
    SSYNC_KEYBLOB_CNG_RSA_PRIVATE,
    SSYNC_KEYBLOB_CNG_RSA_FULLPRIVATE,
} ssync_keyblob_kind;

ssync_code ssync_keyblob_to_pkey(const unsigned char *blob, size_t len, EVP_PKEY **out,
                                 ssync_keyblob_kind *kind, ssync_error *err);

#endif
