/* Fuzz target: recovery blobs (DER, base64, base64 with header; SignedData or bare
 * EnvelopedData) through the whole recovery: decoding (the SignedData templates that keep the
 * certificates as DER, and the CMS and PKCS#7 decoders behind them), decryption with the test
 * KRA, key-blob parsing and matching the user certificate; with and without the chain, and the
 * plan's peek twice over one memo of CA certificates; the CA's signature on the blob (the
 * check against the anchors without the carried certificates, and the full one). The corpus
 * holds test_forgery's forged blobs (forge.py: self-signed, another CA's, re-signed, KRA twin,
 * injected SAN, a genuine blob re-signed). */
#include "common/fileio.h"
#include "pki/trust.h"
#include "recover/blob.h"
#include "recover/recover.h"

#include <stdint.h>
#include <stdlib.h>

static ssync_kra_set *kras;
static ssync_trust *trust; /* the test CA: the blob signature check (both of its paths) */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    ssync_error err;
    ssync_buf pass = {0};
    if (ssync_kra_set_new(&kras, &err) != SSYNC_OK ||
        ssync_read_secret_file(SSYNC_FUZZ_DATA "/adcs-basic/kra.pass", &pass, &err) != SSYNC_OK ||
        ssync_kra_set_add_file(kras, SSYNC_FUZZ_DATA "/adcs-basic/kra.p12", (const char *)pass.data,
                               NULL, &err) != SSYNC_OK)
        abort(); /* the harness itself is broken: no point fuzzing without a KRA */
    char *ca = SSYNC_FUZZ_DATA "/adcs-basic/ca.pem";
    if (ssync_trust_load(&ca, 1, &trust, &err) != SSYNC_OK)
        abort();
    ssync_buf_free_secret(&pass);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    ssync_error err;
    ssync_recovered r = {0};
    if (ssync_recover_blob(kras, data, len, NULL, &r, &err) == SSYNC_OK)
        ssync_recovered_clear(&r);
    if (ssync_recover_blob_ex(kras, data, len, NULL, SSYNC_RECOVER_NO_CHAIN, &r, &err) == SSYNC_OK)
        ssync_recovered_clear(&r);
    ssync_cert_memo memo = {0};
    for (int i = 0; i < 2; i++) {
        X509 *cert = NULL;
        if (ssync_recover_peek_memo(kras, data, len, &memo, &cert, &err) == SSYNC_OK)
            X509_free(cert);
    }
    ssync_cert_memo_clear(&memo);
    ssync_blob blob;
    if (ssync_blob_decode(data, len, &blob, &err) == SSYNC_OK)
        ssync_blob_clear(&blob);
    (void)ssync_blob_verify_signature(data, len, trust, &err);
    return 0;
}
