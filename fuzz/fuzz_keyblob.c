/* Fuzz target: CryptoAPI PRIVATEKEYBLOB and CNG BCRYPT_RSAKEY_BLOB parsing. */
#include "recover/keyblob.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    EVP_PKEY *key = NULL;
    ssync_keyblob_kind kind;
    ssync_error err;
    if (ssync_keyblob_to_pkey(data, len, &key, &kind, &err) == SSYNC_OK)
        EVP_PKEY_free(key);
    return 0;
}
