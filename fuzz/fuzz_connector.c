/* Fuzz target: the connector public key (PEM SubjectPublicKeyInfo, PEM/DER certificate, CNG
 * RSA1 blob). A key that parses is used once for an encryption, as export does. */
#include "connector/connector.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    EVP_PKEY *key = NULL;
    ssync_error err;
    if (ssync_connector_parse(data, len, &key, &err) != SSYNC_OK)
        return 0;
    ssync_buf ct = {0};
    static const unsigned char msg[] = "0123456789abcdef0123456789abcdef";
    if (ssync_connector_encrypt(key, SSYNC_PAD_DEFAULT, msg, sizeof(msg) - 1, &ct, &err) ==
        SSYNC_OK)
        ssync_buf_free(&ct);
    EVP_PKEY_free(key);
    return 0;
}
